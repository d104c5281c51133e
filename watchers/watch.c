/* watch: a runner's watch subscription (see watch.h).
 *
 * DESIGN
 *
 * One `struct wroot` per configured path: its inotify subscription, its
 * ignore set (anchored at the enclosing git work tree when there is one, so
 * that the repository's .gitignore files apply to a watch of a subfolder)
 * and, for a watched file, the one name kept from its folder.
 *
 * A burst collects distinct paths (a strmap from path to its index, an
 * array for the order, every path kept: their number is bounded by the
 * watched tree, whose files the inotify service records anyway), each with
 * the flags of burst_path_fold(), and the times of its first and last
 * change. Every accepted change, repeated or not, moves the last change:
 * the debounce waits for quiet, not for a new name. With debounce 0 it
 * fires at the end of the inotify callback that brought the change.
 * Otherwise one timer is armed at the first change; when it expires,
 * burst_debounce_wait() says whether to fire or how much longer to wait, so
 * a burst costs one timer start per wait, not one per change. At the fire,
 * temporary paths (created and removed within the burst) are left out.
 *
 * .gitignore files are read lazily: the root's chain when the watch starts,
 * every other folder's when the service asks whether to watch it, and again
 * when a change reports the .gitignore itself (then the tree is rescanned,
 * since the set of watched folders may change).
 *
 * Loop guard: small rings of the runner's recent starts and own exits
 * (the anchors), and a ring of the last loop_max_restarts + 1 linked
 * bursts in a row, each with (at most WATCH_PATHS_MAX of) its paths. */
#include "watchers/watch.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "src/log.h"
#include "src/strmap.h"
#include "src/xalloc.h"
#include "watchers/burst.h"
#include "watchers/glob.h"
#include "watchers/ignore.h"

#define NOTICES_MAX 8
/* The loop guard keeps this many restarts at most (a larger max_restarts
 * is clamped: it would only cost memory). */
#define LOOP_MAX_CAP 10000
/* Starts and exits remembered for the loop guard. */
#define ANCHORS 8

struct wroot {
  struct watch *w;
  struct inotify_sub *sub;
  char *root; /* the subscription's resolved folder */
  char *only; /* watched file: its full path; else NULL */
  struct ignore *ign;
  char *ign_prefix;          /* root relative to the ignore root ("" if same) */
  struct strmap *ign_loaded; /* folders whose .gitignore was read */
};

struct path_list {
  char **paths;
  size_t n;
};

struct restart {
  int64_t ts;
  struct path_list paths;
};

/* One path of the burst being collected. */
struct bpath {
  char *path;
  unsigned flags; /* BURST_PATH_* */
};

/* The last few times of one kind of anchor, newest overwriting oldest. */
struct anchors {
  int64_t ts[ANCHORS];
  size_t n, head;
};

struct notice {
  enum inotify_kind kind;
  char *message;
  int64_t ts;
};

struct watch {
  uv_loop_t *loop;
  uv_timer_t timer;
  struct watch_callbacks cbs;
  int closing;
  void (*close_cb)(void *);
  void *close_arg;

  /* configuration (copied) */
  char **include, **exclude;
  size_t n_include, n_exclude;
  int64_t debounce_ms, max_wait_ms;
  int loop_max;
  int64_t loop_period_ms, loop_follow_ms;

  struct wroot *roots;
  size_t n_roots;

  /* the burst being collected */
  struct strmap *seen; /* path -> index + 1 in burst */
  struct bpath *burst;
  size_t n_burst, cap_burst;
  int64_t first_ms, last_ms;
  int timer_armed;

  /* loop guard */
  struct anchors starts, exits;
  struct restart *ring; /* loop_max + 1 slots: the linked bursts in a row */
  int64_t *ring_times;  /* scratch for burst_loop_tripped() */
  size_t ring_n, ring_head;
  struct path_list last_fired;
  int64_t last_fire_ts;
  size_t last_fire_total;
  size_t fires;
  int paused;
  int64_t paused_ts;
  char *paused_reason;
  struct path_list looping;

  struct notice notices[NOTICES_MAX];
  size_t n_notices;
};

/* ------------------------------------------------------------- helpers */

/* Returns the wall clock in unix ms (for status timestamps). */
static int64_t
wall_ms(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Copies an array of strings. */
static char **
strv_copy(char *const *v, size_t n)
{
  char **out = xcalloc(n + 1, sizeof *out);

  for (size_t i = 0; i < n; i++)
    out[i] = xstrdup(v[i]);
  return out;
}

/* Frees an array of n strings. */
static void
strv_free(char **v, size_t n)
{
  if (v == NULL)
    return;
  for (size_t i = 0; i < n; i++)
    free(v[i]);
  free(v);
}

/* Empties a path list. */
static void
path_list_clear(struct path_list *l)
{
  strv_free(l->paths, l->n);
  l->paths = NULL;
  l->n = 0;
}

/* Returns path relative to dir ("" when equal), or NULL when outside. */
static const char *
rel_to(const char *path, const char *dir)
{
  size_t n = strlen(dir);

  if (strcmp(dir, "/") == 0)
    return path + 1;
  if (strncmp(path, dir, n) != 0)
    return NULL;
  if (path[n] == '\0')
    return path + n;
  if (path[n] != '/')
    return NULL;
  return path + n + 1;
}

/* Returns rel (relative to wr's root) relative to the ignore root (new). */
static char *
ign_rel(const struct wroot *wr, const char *rel)
{
  if (wr->ign_prefix[0] == '\0')
    return xstrdup(rel);
  if (rel[0] == '\0')
    return xstrdup(wr->ign_prefix);
  return xasprintf("%s/%s", wr->ign_prefix, rel);
}

/* Returns 1 when a change at path (absolute) passes wr's filters. */
static int
accept_path(struct wroot *wr, const char *path, int is_dir)
{
  const struct watch *w = wr->w;
  const char *rel;
  char *irel;
  int ignored;

  if (wr->only != NULL)
    return strcmp(path, wr->only) == 0;
  rel = rel_to(path, wr->root);
  if (rel == NULL || rel[0] == '\0')
    return 0; /* the watched folder itself (deleted, chmod) */
  irel = ign_rel(wr, rel);
  ignored = ignore_match_below(wr->ign, irel, is_dir, strlen(wr->ign_prefix));
  free(irel);
  if (ignored)
    return 0;
  return burst_path_selected(rel, w->include, w->n_include, w->exclude,
                             w->n_exclude);
}

/* Reads the .gitignore of the folder irel (ignore-relative) once. */
static void
load_gitignore_once(struct wroot *wr, const char *irel)
{
  if (strmap_get(wr->ign_loaded, irel) != NULL)
    return;
  strmap_set(wr->ign_loaded, irel, wr);
  ignore_load_dir(wr->ign, irel);
}

/* The service asks whether to watch a folder: not when it is ignored or
 * excluded (then nothing below it can be reported either). */
static int
want_dir(void *ctx, const char *path)
{
  struct wroot *wr = ctx;
  const char *rel = rel_to(path, wr->root);
  char *irel;
  int ignored;

  if (wr->only != NULL || rel == NULL)
    return 0;
  if (rel[0] == '\0')
    return 1;
  if (burst_path_matches(rel, wr->w->exclude, wr->w->n_exclude))
    return 0;
  irel = ign_rel(wr, rel);
  ignored = ignore_match_below(wr->ign, irel, 1, strlen(wr->ign_prefix));
  if (!ignored)
    load_gitignore_once(wr, irel);
  free(irel);
  return !ignored;
}

/* --------------------------------------------------------------- bursts */

/* Adds one accepted change of path to the burst. */
static void
take_change(struct watch *w, const char *path, enum inotify_kind kind,
            int moved_away)
{
  uintptr_t idx = (uintptr_t)strmap_get(w->seen, path);
  struct bpath *bp;

  if (idx == 0) {
    if (w->n_burst == w->cap_burst) {
      w->cap_burst = w->cap_burst ? w->cap_burst * 2 : 16;
      w->burst = xrealloc(w->burst, w->cap_burst * sizeof *w->burst);
    }
    w->burst[w->n_burst] = (struct bpath){xstrdup(path), 0};
    idx = ++w->n_burst;
    strmap_set(w->seen, path, (void *)idx);
  }
  bp = &w->burst[idx - 1];
  bp->flags = burst_path_fold(bp->flags, kind, moved_away);
}

/* Drops the burst being collected. */
static void
drop_burst(struct watch *w)
{
  for (size_t i = 0; i < w->n_burst; i++)
    free(w->burst[i].path);
  w->n_burst = 0;
  strmap_free(w->seen);
  w->seen = strmap_new();
  if (w->timer_armed) {
    uv_timer_stop(&w->timer);
    w->timer_armed = 0;
  }
}

static int guard_check(struct watch *w, const char *const *paths, size_t n,
                       int64_t now);

/* Fires the burst: hands its paths, temporary files left out, to the
 * callback (unless the loop guard trips) and starts afresh. */
static void
fire_burst(struct watch *w)
{
  size_t n = 0;
  char **paths;
  int64_t now = (int64_t)uv_now(w->loop);

  if (w->n_burst == 0 || w->closing || w->paused) {
    drop_burst(w);
    return;
  }
  /* The paths now belong to this call. */
  paths = xcalloc(w->n_burst + 1, sizeof *paths);
  for (size_t i = 0; i < w->n_burst; i++) {
    if (burst_path_transient(w->burst[i].flags))
      free(w->burst[i].path);
    else
      paths[n++] = w->burst[i].path;
  }
  w->n_burst = 0;
  drop_burst(w);
  if (n > 0 && !guard_check(w, (const char *const *)paths, n, now)) {
    size_t keep = n < WATCH_PATHS_MAX ? n : WATCH_PATHS_MAX;
    path_list_clear(&w->last_fired);
    w->last_fired.paths = strv_copy(paths, keep);
    w->last_fired.n = keep;
    w->last_fire_ts = wall_ms();
    w->last_fire_total = n;
    w->fires++;
    w->cbs.fire(w->cbs.ctx, (const char *const *)paths, n);
  }
  strv_free(paths, n);
}

/* Debounce timer: fire, or wait for the rest of the window. */
static void
on_timer(uv_timer_t *timer)
{
  struct watch *w = timer->data;
  int64_t wait =
      burst_debounce_wait(w->first_ms, w->last_ms, (int64_t)uv_now(w->loop),
                          w->debounce_ms, w->max_wait_ms);

  w->timer_armed = 0;
  if (wait > 0) {
    uv_timer_start(&w->timer, on_timer, (uint64_t)wait, 0);
    w->timer_armed = 1;
    return;
  }
  fire_burst(w);
}

/* Records an overflow or limit notice and passes it on. */
static void
note_notice(struct watch *w, const struct inotify_change *ch)
{
  struct notice *slot;

  if (w->n_notices == NOTICES_MAX) {
    free(w->notices[0].message);
    memmove(&w->notices[0], &w->notices[1],
            (NOTICES_MAX - 1) * sizeof w->notices[0]);
    w->n_notices--;
  }
  slot = &w->notices[w->n_notices++];
  slot->kind = ch->kind;
  slot->message = xstrdup(ch->message != NULL ? ch->message : "");
  slot->ts = wall_ms();
  log_warn("%s", slot->message);
  if (w->cbs.notice != NULL)
    w->cbs.notice(w->cbs.ctx, ch->kind, slot->message);
}

/* Returns 1 when path names a .gitignore file. */
static int
is_gitignore(const char *path)
{
  const char *base = strrchr(path, '/');

  return base != NULL && strcmp(base + 1, ".gitignore") == 0;
}

/* Re-reads the .gitignore at path (absolute) if it belongs to wr's tree;
 * returns 1 when it did. */
static int
reload_gitignore(struct wroot *wr, const char *path)
{
  const char *rel = rel_to(path, wr->root);
  char *dir, *irel, *slash;

  if (rel == NULL || rel[0] == '\0' || wr->only != NULL)
    return 0;
  dir = xstrdup(rel);
  slash = strrchr(dir, '/');
  if (slash != NULL)
    *slash = '\0';
  else
    dir[0] = '\0';
  irel = ign_rel(wr, dir);
  strmap_set(wr->ign_loaded, irel, wr);
  ignore_load_dir(wr->ign, irel);
  free(irel);
  free(dir);
  return 1;
}

/* Receives one drain's changes under one root. */
static void
on_changes(void *ctx, const struct inotify_change *chs, size_t n)
{
  struct wroot *wr = ctx;
  struct watch *w = wr->w;
  size_t before = w->n_burst, accepted = 0;
  int rescan = 0;

  if (w->closing)
    return;
  /* .gitignore edits first, so the rest of the batch sees the new rules. */
  for (size_t i = 0; i < n; i++) {
    if (chs[i].kind == INOTIFY_OVERFLOW || chs[i].kind == INOTIFY_LIMIT)
      note_notice(w, &chs[i]);
    else if (!chs[i].is_dir &&
             ((is_gitignore(chs[i].path) &&
               reload_gitignore(wr, chs[i].path)) ||
              (chs[i].from != NULL && is_gitignore(chs[i].from) &&
               reload_gitignore(wr, chs[i].from))))
      rescan = 1;
  }
  if (w->paused)
    return;
  for (size_t i = 0; i < n; i++) {
    const struct inotify_change *ch = &chs[i];
    if (ch->kind == INOTIFY_OVERFLOW || ch->kind == INOTIFY_LIMIT)
      continue;
    if (accept_path(wr, ch->path, ch->is_dir)) {
      take_change(w, ch->path, ch->kind, 0);
      accepted++;
    }
    if (ch->from != NULL && accept_path(wr, ch->from, ch->is_dir)) {
      take_change(w, ch->from, ch->kind, 1);
      accepted++;
    }
  }
  if (rescan)
    inotify_rescan(wr->sub); /* its changes come back through here */
  if (accepted == 0 || w->closing)
    return;
  w->last_ms = (int64_t)uv_now(w->loop);
  if (before == 0)
    w->first_ms = w->last_ms;
  if (w->debounce_ms <= 0) {
    fire_burst(w); /* same loop iteration, no timer hop */
    return;
  }
  if (!w->timer_armed) {
    int64_t wait = burst_debounce_wait(w->first_ms, w->last_ms, w->last_ms,
                                       w->debounce_ms, w->max_wait_ms);
    uv_timer_start(&w->timer, on_timer, (uint64_t)(wait > 0 ? wait : 0), 0);
    w->timer_armed = 1;
  }
}

/* ------------------------------------------------------------ lifecycle */

/* Frees a root's resources (its subscription must be gone). */
static void
wroot_free(struct wroot *wr)
{
  free(wr->root);
  free(wr->only);
  ignore_free(wr->ign);
  free(wr->ign_prefix);
  strmap_free(wr->ign_loaded);
}

/* Sets up one root for path: a folder (recursive) or a file (its folder,
 * non-recursive). Returns 0 or -errno with *cause. */
static int
wroot_open(struct watch *w, struct wroot *wr, struct inotify_service *svc,
           const char *path, const char *state_dir, int gitignore, char **cause)
{
  struct stat st;
  char *real = realpath(path, NULL);
  char *folder, *worktree = NULL;

  wr->w = w;
  if (real == NULL || stat(real, &st) != 0) {
    int err = errno;
    if (cause != NULL)
      *cause = xasprintf("watch %s: %s", path, strerror(err));
    free(real);
    return -err;
  }
  if (S_ISDIR(st.st_mode))
    folder = xstrdup(real);
  else {
    char *slash = strrchr(real, '/');
    folder =
        slash == real ? xstrdup("/") : xstrndup(real, (size_t)(slash - real));
    wr->only = xstrdup(real);
  }
  free(real);
  if (gitignore)
    worktree = ignore_find_worktree(folder);
  if (worktree != NULL && rel_to(folder, worktree) != NULL) {
    wr->ign = ignore_new(worktree, state_dir, 1);
    wr->ign_prefix = xstrdup(rel_to(folder, worktree));
  } else {
    wr->ign = ignore_new(folder, state_dir, gitignore);
    wr->ign_prefix = xstrdup("");
  }
  free(worktree);
  wr->ign_loaded = strmap_new();
  if (wr->only == NULL) {
    ignore_load_path(wr->ign, wr->ign_prefix);
    strmap_set(wr->ign_loaded, wr->ign_prefix, wr);
  }
  /* folder is resolved already, so it is the root the service reports
   * under; want_dir needs it during the first scan. */
  wr->root = folder;
  wr->sub = inotify_watch(svc, folder, wr->only == NULL, on_changes, want_dir,
                          wr, cause);
  if (wr->sub == NULL)
    return -EINVAL;
  return 0;
}

/* Checks every glob of the configuration. */
static int
check_globs(const struct config_watch *cfg, char **cause)
{
  for (size_t i = 0; i < cfg->n_include; i++)
    if (glob_check(cfg->include[i], cause) < 0)
      return -EINVAL;
  for (size_t i = 0; i < cfg->n_exclude; i++)
    if (glob_check(cfg->exclude[i], cause) < 0)
      return -EINVAL;
  return 0;
}

static void free_watch(struct watch *w);

/* Creates a watch; see watch.h. */
struct watch *
watch_new(uv_loop_t *loop, struct inotify_service *svc,
          const struct config_watch *cfg, const char *state_dir,
          const struct watch_callbacks *cbs, char **cause)
{
  struct watch *w;
  char *state_real = NULL;

  if (check_globs(cfg, cause) < 0)
    return NULL;
  w = xcalloc(1, sizeof *w);
  w->loop = loop;
  w->cbs = *cbs;
  w->include = strv_copy(cfg->include, cfg->n_include);
  w->n_include = cfg->n_include;
  w->exclude = strv_copy(cfg->exclude, cfg->n_exclude);
  w->n_exclude = cfg->n_exclude;
  w->debounce_ms = cfg->debounce_ms;
  w->max_wait_ms = cfg->max_wait_ms;
  w->loop_max = cfg->loop_max_restarts > 0 ? cfg->loop_max_restarts : 0;
  if (w->loop_max > LOOP_MAX_CAP)
    w->loop_max = LOOP_MAX_CAP;
  w->loop_period_ms = cfg->loop_period_ms;
  w->loop_follow_ms = cfg->loop_follow_ms;
  w->seen = strmap_new();
  if (w->loop_max > 0) {
    w->ring = xcalloc((size_t)w->loop_max + 1, sizeof *w->ring);
    w->ring_times = xcalloc((size_t)w->loop_max + 1, sizeof *w->ring_times);
  }
  uv_timer_init(loop, &w->timer);
  w->timer.data = w;
  /* Compare resolved paths: the subscriptions report resolved ones. */
  if (state_dir != NULL) {
    state_real = realpath(state_dir, NULL);
    if (state_real == NULL)
      state_real = xstrdup(state_dir);
  }
  w->roots = xcalloc(cfg->n_paths + 1, sizeof *w->roots);
  for (size_t i = 0; i < cfg->n_paths; i++) {
    if (wroot_open(w, &w->roots[i], svc, cfg->paths[i], state_real,
                   cfg->gitignore, cause) < 0) {
      wroot_free(&w->roots[i]);
      free(state_real);
      watch_close(w, NULL, NULL);
      return NULL;
    }
    w->n_roots++;
  }
  free(state_real);
  return w;
}

/* Frees the watch after its timer closed. */
static void
on_timer_closed(uv_handle_t *handle)
{
  struct watch *w = handle->data;
  void (*cb)(void *) = w->close_cb;
  void *arg = w->close_arg;

  free_watch(w);
  if (cb != NULL)
    cb(arg);
}

/* Releases everything the watch holds (its subscriptions are gone). */
static void
free_watch(struct watch *w)
{
  for (size_t i = 0; i < w->n_roots; i++)
    wroot_free(&w->roots[i]);
  free(w->roots);
  strv_free(w->include, w->n_include);
  strv_free(w->exclude, w->n_exclude);
  for (size_t i = 0; i < w->n_burst; i++)
    free(w->burst[i].path);
  free(w->burst);
  strmap_free(w->seen);
  if (w->ring != NULL)
    for (size_t i = 0; i < (size_t)w->loop_max + 1; i++)
      path_list_clear(&w->ring[i].paths);
  free(w->ring);
  free(w->ring_times);
  path_list_clear(&w->last_fired);
  path_list_clear(&w->looping);
  free(w->paused_reason);
  for (size_t i = 0; i < w->n_notices; i++)
    free(w->notices[i].message);
  free(w);
}

/* Closes the watch; see watch.h. */
void
watch_close(struct watch *w, void (*cb)(void *), void *arg)
{
  if (w == NULL || w->closing)
    return;
  w->closing = 1;
  w->close_cb = cb;
  w->close_arg = arg;
  for (size_t i = 0; i < w->n_roots; i++) {
    inotify_unwatch(w->roots[i].sub);
    w->roots[i].sub = NULL;
  }
  uv_close((uv_handle_t *)&w->timer, on_timer_closed);
}

/* ------------------------------------------------------------ loop guard */

/* Appends an anchor time, overwriting the oldest. */
static void
anchors_add(struct anchors *a, int64_t ts)
{
  a->ts[a->head] = ts;
  a->head = (a->head + 1) % ANCHORS;
  if (a->n < ANCHORS)
    a->n++;
}

/* Records a start of a run; see watch.h. */
void
watch_note_start(struct watch *w, int64_t now_ms)
{
  anchors_add(&w->starts, now_ms);
}

/* Records a run that ended on its own; see watch.h. */
void
watch_note_exit(struct watch *w, int64_t now_ms)
{
  anchors_add(&w->exits, now_ms);
}

/* Forgets the linked bursts in a row. */
static void
streak_clear(struct watch *w)
{
  if (w->ring != NULL)
    for (size_t i = 0; i < (size_t)w->loop_max + 1; i++) {
      path_list_clear(&w->ring[i].paths);
      w->ring[i].ts = 0;
    }
  w->ring_n = 0;
  w->ring_head = 0;
}

/* The loop guard's verdict on a burst about to fire at now: returns 1 when
 * it trips (the watch is then paused and the paused callback has run). */
static int
guard_check(struct watch *w, const char *const *paths, size_t n, int64_t now)
{
  size_t cap = (size_t)w->loop_max + 1, keep;
  struct strmap *seen;
  struct restart *slot;

  if (w->loop_max <= 0)
    return 0;
  if (!burst_linked(w->first_ms, now, w->starts.ts, w->starts.n, w->exits.ts,
                    w->exits.n, w->loop_follow_ms)) {
    streak_clear(w); /* a change the runner did not cause ends the streak */
    return 0;
  }
  /* Overwrite the oldest slot with this burst and its paths. */
  slot = &w->ring[w->ring_head];
  path_list_clear(&slot->paths);
  keep = n < WATCH_PATHS_MAX ? n : WATCH_PATHS_MAX;
  slot->ts = now;
  slot->paths.paths = strv_copy((char *const *)paths, keep);
  slot->paths.n = keep;
  w->ring_head = (w->ring_head + 1) % cap;
  if (w->ring_n < cap)
    w->ring_n++;
  for (size_t i = 0; i < w->ring_n; i++)
    w->ring_times[i] = w->ring[i].ts;
  if (!burst_loop_tripped(w->ring_times, w->ring_n, now, w->loop_max,
                          w->loop_period_ms))
    return 0;

  w->paused = 1;
  w->paused_ts = wall_ms();
  free(w->paused_reason);
  w->paused_reason = xasprintf(
      "restart loop: %zu changes in a row came within %lld ms after the "
      "runner started, or as its run ended (a command writing into its own "
      "watched tree?)",
      w->ring_n, (long long)w->loop_follow_ms);
  /* The paths that kept firing: the union over the bursts in the ring. */
  path_list_clear(&w->looping);
  w->looping.paths = xcalloc(WATCH_PATHS_MAX + 1, sizeof *w->looping.paths);
  seen = strmap_new();
  for (size_t i = 0; i < w->ring_n; i++)
    for (size_t j = 0; j < w->ring[i].paths.n; j++) {
      const char *p = w->ring[i].paths.paths[j];
      if (w->looping.n == WATCH_PATHS_MAX || strmap_get(seen, p) != NULL)
        continue;
      strmap_set(seen, p, w);
      w->looping.paths[w->looping.n++] = xstrdup(p);
    }
  strmap_free(seen);
  log_warn("watch paused: %s", w->paused_reason);
  if (w->cbs.paused != NULL)
    w->cbs.paused(w->cbs.ctx, (const char *const *)w->looping.paths,
                  w->looping.n, w->paused_reason);
  return 1;
}

/* Unpauses the watch. */
void
watch_resume(struct watch *w)
{
  streak_clear(w);
  w->starts.n = w->starts.head = 0;
  w->exits.n = w->exits.head = 0;
  w->paused = 0;
  w->paused_ts = 0;
  free(w->paused_reason);
  w->paused_reason = NULL;
  path_list_clear(&w->looping);
}

/* Returns 1 while paused. */
int
watch_is_paused(const struct watch *w)
{
  return w->paused;
}

/* Returns a JSON array of the strings (new reference). */
static json_t *
strv_json(char *const *v, size_t n)
{
  json_t *a = json_array();

  for (size_t i = 0; i < n; i++)
    json_array_append_new(a, json_string(v[i]));
  return a;
}

/* Returns the watch's status; see watch.h. */
json_t *
watch_status_json(const struct watch *w)
{
  json_t *roots = json_array(), *notices = json_array(), *last = json_null();

  for (size_t i = 0; i < w->n_roots; i++)
    json_array_append_new(roots, json_string(w->roots[i].only != NULL
                                                 ? w->roots[i].only
                                                 : w->roots[i].root));
  for (size_t i = 0; i < w->n_notices; i++)
    json_array_append_new(notices,
                          json_pack("{s:s, s:s, s:I}", "kind",
                                    inotify_kind_name(w->notices[i].kind),
                                    "message", w->notices[i].message, "ts",
                                    (json_int_t)w->notices[i].ts));
  if (w->fires > 0) {
    json_decref(last);
    last = json_pack("{s:I, s:o, s:I}", "ts", (json_int_t)w->last_fire_ts,
                     "paths", strv_json(w->last_fired.paths, w->last_fired.n),
                     "total", (json_int_t)w->last_fire_total);
  }
  return json_pack(
      "{s:b, s:o, s:o, s:o, s:o, s:I, s:o, s:o}", "paused", w->paused, "paths",
      strv_json(w->looping.paths, w->looping.n), "reason",
      w->paused_reason != NULL ? json_string(w->paused_reason) : json_null(),
      "paused_since",
      w->paused ? json_integer((json_int_t)w->paused_ts) : json_null(), "roots",
      roots, "fires", (json_int_t)w->fires, "last_fire", last, "notices",
      notices);
}
