/* reload: config file and include folder change detection (see reload.h).
 *
 * Design: two non-recursive inotify subscriptions (the config file's folder
 * and the include folder) feed one debounce timer; the timing decision is
 * burst_debounce_wait(), shared with the watch subscriptions. When the
 * burst ends, reload_fingerprint() hashes the bytes the loader would read
 * (FNV-1a, 64 bits: a collision between two saves of a config file is not a
 * practical concern) and the callback runs only when the hash moved. The
 * files are small and read synchronously. */
#include "watchers/reload.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "src/log.h"
#include "src/xalloc.h"
#include "watchers/burst.h"

#define FNV_OFFSET 1469598103934665603ULL
#define FNV_PRIME 1099511628211ULL

struct reload {
  uv_loop_t *loop;
  uv_timer_t timer;
  reload_cb cb;
  void *ctx;
  int closing;
  void (*close_cb)(void *);
  void *close_arg;

  char *file;    /* resolved folder + file name */
  char *dir;     /* the config file's folder (resolved) */
  char *include; /* resolved include folder, or NULL */
  struct inotify_service *svc;
  struct inotify_sub *dir_sub, *inc_sub;

  uint64_t fingerprint;
  int64_t first_ms, last_ms;
  int pending; /* a burst is being collected */
};

/* Folds n bytes into the hash h. */
static uint64_t
fnv(uint64_t h, const void *data, size_t n)
{
  const unsigned char *p = data;

  for (size_t i = 0; i < n; i++)
    h = (h ^ p[i]) * FNV_PRIME;
  return h;
}

/* Folds the content of the file at path into h (or a marker when it
 * cannot be read). */
static uint64_t
fnv_file(uint64_t h, const char *path)
{
  char buf[8192];
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  ssize_t n;

  if (fd < 0)
    return fnv(h, "\xff<missing>", 10);
  h = fnv(h, "\xfe", 1);
  while ((n = read(fd, buf, sizeof buf)) != 0) {
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      h = fnv(h, "\xff<error>", 8);
      break;
    }
    h = fnv(h, buf, (size_t)n);
  }
  close(fd);
  return h;
}

/* Returns 1 when name is a file name the include loader reads. */
int
reload_include_name(const char *name)
{
  size_t len = strlen(name);

  return name[0] != '.' && len > 5 && strcmp(name + len - 5, ".json") == 0;
}

/* Orders strings for qsort. */
static int
str_cmp(const void *a, const void *b)
{
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Hashes what the loader would read; see reload.h. */
uint64_t
reload_fingerprint(const char *config_file, const char *include_dir)
{
  uint64_t h = fnv_file(FNV_OFFSET, config_file);
  DIR *d;
  struct dirent *e;
  char **names = NULL;
  size_t n = 0;

  if (include_dir == NULL)
    return h;
  d = opendir(include_dir);
  if (d == NULL)
    return fnv(h, "\xff<no include>", 13);
  while ((e = readdir(d)) != NULL) {
    struct stat st;
    char *full;
    if (!reload_include_name(e->d_name))
      continue;
    full = xasprintf("%s/%s", include_dir, e->d_name);
    if (stat(full, &st) == 0 && S_ISREG(st.st_mode)) {
      names = xrealloc(names, (n + 1) * sizeof *names);
      names[n++] = xstrdup(e->d_name);
    }
    free(full);
  }
  closedir(d);
  if (n > 1)
    qsort(names, n, sizeof *names, str_cmp);
  for (size_t i = 0; i < n; i++) {
    char *full = xasprintf("%s/%s", include_dir, names[i]);
    h = fnv(h, names[i], strlen(names[i]) + 1);
    h = fnv_file(h, full);
    free(full);
    free(names[i]);
  }
  free(names);
  return h;
}

/* Timer: the burst is over (or waited long enough); fire if the content
 * moved. */
static void
on_timer(uv_timer_t *timer)
{
  struct reload *r = timer->data;
  int64_t wait =
      burst_debounce_wait(r->first_ms, r->last_ms, (int64_t)uv_now(r->loop),
                          RELOAD_DEBOUNCE_MS, RELOAD_MAX_WAIT_MS);
  uint64_t fp;

  if (wait > 0) {
    uv_timer_start(&r->timer, on_timer, (uint64_t)wait, 0);
    return;
  }
  r->pending = 0;
  fp = reload_fingerprint(r->file, r->include);
  if (fp == r->fingerprint)
    return;
  r->fingerprint = fp;
  r->cb(r->ctx);
}

/* Notes one relevant change: starts or extends the burst. */
static void
note_change(struct reload *r)
{
  r->last_ms = (int64_t)uv_now(r->loop);
  if (!r->pending) {
    r->pending = 1;
    r->first_ms = r->last_ms;
    uv_timer_start(&r->timer, on_timer, RELOAD_DEBOUNCE_MS, 0);
  }
}

/* Changes in the config file's folder: only the file itself counts. */
static void
on_dir_changes(void *ctx, const struct inotify_change *chs, size_t n)
{
  struct reload *r = ctx;

  if (r->closing)
    return;
  for (size_t i = 0; i < n; i++) {
    const struct inotify_change *ch = &chs[i];
    if (ch->kind == INOTIFY_OVERFLOW || strcmp(ch->path, r->file) == 0 ||
        (ch->from != NULL && strcmp(ch->from, r->file) == 0)) {
      note_change(r);
      return;
    }
  }
}

/* Returns 1 when path is a loadable file name directly in dir. */
static int
in_include(const char *path, const char *dir)
{
  size_t n = strlen(dir);

  return path != NULL && strncmp(path, dir, n) == 0 && path[n] == '/' &&
         strchr(path + n + 1, '/') == NULL && reload_include_name(path + n + 1);
}

/* Changes in the include folder: its *.json files count. */
static void
on_inc_changes(void *ctx, const struct inotify_change *chs, size_t n)
{
  struct reload *r = ctx;

  if (r->closing || r->include == NULL)
    return;
  for (size_t i = 0; i < n; i++) {
    const struct inotify_change *ch = &chs[i];
    if (ch->kind == INOTIFY_OVERFLOW || in_include(ch->path, r->include) ||
        in_include(ch->from, r->include)) {
      note_change(r);
      return;
    }
  }
}

/* Creates the watcher; see reload.h. */
struct reload *
reload_new(uv_loop_t *loop, struct inotify_service *svc,
           const char *config_file, const char *include_dir, reload_cb cb,
           void *ctx, char **cause)
{
  struct reload *r;
  const char *slash = strrchr(config_file, '/');
  char *folder, *real;

  if (slash == NULL) {
    if (cause != NULL)
      *cause = xasprintf("config file %s: path is not absolute", config_file);
    return NULL;
  }
  folder = slash == config_file
               ? xstrdup("/")
               : xstrndup(config_file, (size_t)(slash - config_file));
  real = realpath(folder, NULL);
  if (real == NULL) {
    if (cause != NULL)
      *cause = xasprintf("config folder %s: %s", folder, strerror(errno));
    free(folder);
    return NULL;
  }
  free(folder);
  r = xcalloc(1, sizeof *r);
  r->loop = loop;
  r->svc = svc;
  r->cb = cb;
  r->ctx = ctx;
  r->dir = real;
  r->file = strcmp(real, "/") == 0 ? xasprintf("/%s", slash + 1)
                                   : xasprintf("%s/%s", real, slash + 1);
  uv_timer_init(loop, &r->timer);
  r->timer.data = r;
  r->dir_sub = inotify_watch(svc, r->dir, 0, on_dir_changes, NULL, r, cause);
  if (r->dir_sub == NULL ||
      (include_dir != NULL &&
       reload_set_include_dir(r, include_dir, cause) < 0)) {
    reload_close(r, NULL, NULL);
    return NULL;
  }
  r->fingerprint = reload_fingerprint(r->file, r->include);
  return r;
}

/* Switches the include folder; see reload.h. */
int
reload_set_include_dir(struct reload *r, const char *include_dir, char **cause)
{
  struct inotify_sub *sub = NULL;

  if (include_dir != NULL) {
    sub = inotify_watch(r->svc, include_dir, 0, on_inc_changes, NULL, r, cause);
    if (sub == NULL)
      return -ENOENT;
  }
  inotify_unwatch(r->inc_sub);
  free(r->include);
  r->inc_sub = sub;
  r->include = sub != NULL ? xstrdup(inotify_sub_root(sub)) : NULL;
  r->fingerprint = reload_fingerprint(r->file, r->include);
  return 0;
}

/* Takes the content now as the baseline. */
void
reload_refresh(struct reload *r)
{
  r->fingerprint = reload_fingerprint(r->file, r->include);
}

/* Returns 1 while a burst is being collected. */
int
reload_busy(const struct reload *r)
{
  return r->pending;
}

/* Frees the watcher after its timer closed. */
static void
on_closed(uv_handle_t *handle)
{
  struct reload *r = handle->data;
  void (*cb)(void *) = r->close_cb;
  void *arg = r->close_arg;

  free(r->file);
  free(r->dir);
  free(r->include);
  free(r);
  if (cb != NULL)
    cb(arg);
}

/* Closes the watcher; see reload.h. */
void
reload_close(struct reload *r, void (*cb)(void *), void *arg)
{
  if (r == NULL || r->closing)
    return;
  r->closing = 1;
  r->close_cb = cb;
  r->close_arg = arg;
  inotify_unwatch(r->dir_sub);
  inotify_unwatch(r->inc_sub);
  r->dir_sub = r->inc_sub = NULL;
  uv_close((uv_handle_t *)&r->timer, on_closed);
}
