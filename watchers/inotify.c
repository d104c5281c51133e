/* inotify: one raw inotify(7) instance on the libuv loop (see inotify.h).
 *
 * DESIGN
 *
 * Table. Every watched folder is a `struct wdir` {wd, absolute path, a
 * snapshot of its entries (name, type, inode, size, mtime, ctime), the
 * generation of the last scan that visited it}, indexed by wd and by path.
 * The kernel's wd is the identity of a folder's inode: inotify_add_watch()
 * on an inode already watched returns the same wd, which is how a rescan
 * notices that a known folder now lives under another path.
 *
 * Scans. scan_dir() adds (or re-adds) the watch of one folder, reads its
 * entries, reports the differences with its previous snapshot (everything is
 * new for a folder never seen), stores the new snapshot and recurses into
 * the subfolders some subscriber wants. reconcile() scans a subtree in a new
 * generation and then drops the folders under it that the scan did not
 * visit (gone, or no longer wanted). New folders, folders moved in or
 * renamed, overflow recovery, polling after the watch limit and a
 * subscriber's first watch all go through it, so a rescan is always "compare
 * the tree with what was recorded", never "assume".
 *
 * Events. A read drains the queue into a 64 KiB buffer until EAGAIN. Renames
 * are paired by cookie: MOVED_FROM is parked, and the matching MOVED_TO
 * rewrites the path prefix of every folder below the old name (then a
 * reconcile of the new name checks the result). A MOVED_FROM still unpaired
 * when the queue is empty left our trees: its folders' watches are removed.
 * IN_IGNORED drops the wd entry. IN_MODIFY is not reported per write: a path
 * is parked as dirty and reported at its IN_CLOSE_WRITE, or after a second if
 * the writer keeps the file open (a log, an mmap, truncate(1)), so one
 * `echo > f` is one change. IN_Q_OVERFLOW and ENOSPC become OVERFLOW/LIMIT
 * notices to the subscribers concerned, then a rescan (overflow) or polling
 * of the unwatched folders every second (limit).
 *
 * Delivery. Changes are routed into per-subscriber batches as they are found
 * and delivered by flush() at the end of each drain or timer tick. Delivery
 * is the only place user code runs; unwatch and close requested from a
 * callback are deferred until the delivery loop is done. */
#include "watchers/inotify.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "src/log.h"
#include "src/strmap.h"
#include "src/xalloc.h"

/* IN_MODIFY is in the mask only to catch writers that never close; see
 * the dirty list. IN_ATTRIB catches touch(1) on an existing file. */
#define WATCH_MASK                                                             \
  (IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_CLOSE_WRITE |     \
   IN_MODIFY | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR |       \
   IN_EXCL_UNLINK)

#define TICK_MS 500       /* timer period while there is timed work */
#define DIRTY_MAX_MS 1000 /* an open file's writes are reported after this */
#define POLL_MS 1000      /* folders left unwatched are rescanned this often */
#define MAX_DEPTH 256     /* bind-mount loops end here */
#define READS_PER_CB 256  /* reads per poll callback before yielding */

struct entry {
  char *name;
  uint64_t ino;
  int64_t size;
  int64_t mtime_ns;
  int64_t ctime_ns;
  unsigned mode; /* S_IFMT bits only */
};

struct wdir {
  int wd;            /* -1: not watched (watch limit), polled */
  char *path;        /* absolute, no trailing '/' */
  struct entry *ents; /* sorted by name */
  size_t n_ents;
  unsigned gen;      /* generation of the last scan that visited it */
  size_t idx;        /* position in svc->dirs */
};

struct pending_move {
  uint32_t cookie;
  char *from;
  int is_dir;
};

struct dirty {
  char *path;
  uint64_t since;
};

struct sub_batch {
  struct inotify_change *chs;
  size_t n, cap;
};

struct inotify_sub {
  struct inotify_service *svc;
  char *root;
  int recursive;
  inotify_event_cb cb;
  inotify_want_dir_cb want_dir;
  void *ctx;
  int dead;         /* unwatched during a delivery: freed after it */
  int root_missing; /* root deleted or moved away: polled for its return */
  struct sub_batch batch;
};

struct inotify_service {
  uv_loop_t *loop;
  int fd;
  uv_poll_t poll;
  uv_timer_t timer;
  int timer_on;
  int closing;
  int handles_open;
  void (*close_cb)(void *);
  void *close_arg;

  struct wdir **dirs;
  size_t n_dirs, cap_dirs;
  struct strmap *by_wd;   /* "%d" -> wdir */
  struct strmap *by_path; /* path -> wdir */
  size_t n_polled;
  unsigned gen;

  struct inotify_sub **subs;
  size_t n_subs, cap_subs;
  int delivering;

  struct pending_move *moves;
  size_t n_moves, cap_moves;
  struct dirty *dirty;
  size_t n_dirty, cap_dirty;
  uint64_t last_poll;
  int overflowed;
  long max_queued; /* the queue size fixed when the instance was made */
  size_t overflows, limit_hits;

  char buf[65536] __attribute__((aligned(__alignof__(struct inotify_event))));
};

static const char *const kind_names[] = {
#define X(N, S) S,
    INOTIFY_KIND_MAP(X)
#undef X
};

/* Returns the name of a change kind. */
const char *
inotify_kind_name(enum inotify_kind kind)
{
  if ((size_t)kind >= sizeof kind_names / sizeof kind_names[0])
    return "?";
  return kind_names[kind];
}

/* ---------------------------------------------------------------- paths */

/* Returns 1 when path is dir or lies below it (both absolute). */
static int
path_under(const char *path, const char *dir)
{
  size_t n = strlen(dir);

  if (n == 1 && dir[0] == '/')
    return path[0] == '/';
  return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* Returns 1 when path's parent folder is dir. */
static int
path_child_of(const char *path, const char *dir)
{
  const char *slash = strrchr(path, '/');
  size_t n;

  if (slash == NULL)
    return 0;
  n = (size_t)(slash - path);
  if (n == 0)
    return strcmp(dir, "/") == 0 && path[1] != '\0';
  return strlen(dir) == n && strncmp(path, dir, n) == 0;
}

/* Returns dir + "/" + name (new). */
static char *
path_join(const char *dir, const char *name)
{
  if (strcmp(dir, "/") == 0)
    return xasprintf("/%s", name);
  return xasprintf("%s/%s", dir, name);
}

/* Reads one integer from a /proc file; -1 when unreadable. */
static long
read_proc_long(const char *file)
{
  FILE *f = fopen(file, "re");
  long v = -1;

  if (f == NULL)
    return -1;
  if (fscanf(f, "%ld", &v) != 1)
    v = -1;
  fclose(f);
  return v;
}

/* ---------------------------------------------------------- the wd table */

/* Returns the wdir watched as wd, or NULL. */
static struct wdir *
dir_by_wd(const struct inotify_service *svc, int wd)
{
  char key[16];

  snprintf(key, sizeof key, "%d", wd);
  return strmap_get(svc->by_wd, key);
}

/* Returns the wdir at path, or NULL. */
static struct wdir *
dir_by_path(const struct inotify_service *svc, const char *path)
{
  return strmap_get(svc->by_path, path);
}

/* Sets d's wd, keeping the index and the polled count right. */
static void
dir_set_wd(struct inotify_service *svc, struct wdir *d, int wd)
{
  char key[16];

  if (d->wd >= 0) {
    snprintf(key, sizeof key, "%d", d->wd);
    if (strmap_get(svc->by_wd, key) == d)
      strmap_del(svc->by_wd, key);
  } else
    svc->n_polled--;
  d->wd = wd;
  if (wd >= 0) {
    snprintf(key, sizeof key, "%d", wd);
    strmap_set(svc->by_wd, key, d);
  } else
    svc->n_polled++;
}

/* Returns a new wdir for path (not yet watched: wd -1, counted polled). */
static struct wdir *
dir_new(struct inotify_service *svc, const char *path)
{
  struct wdir *d = xcalloc(1, sizeof *d);

  d->wd = -1;
  svc->n_polled++;
  d->path = xstrdup(path);
  if (svc->n_dirs == svc->cap_dirs) {
    svc->cap_dirs = svc->cap_dirs == 0 ? 64 : svc->cap_dirs * 2;
    svc->dirs = xrealloc(svc->dirs, svc->cap_dirs * sizeof *svc->dirs);
  }
  d->idx = svc->n_dirs;
  svc->dirs[svc->n_dirs++] = d;
  strmap_set(svc->by_path, path, d);
  return d;
}

/* Frees a snapshot. */
static void
entries_free(struct entry *ents, size_t n)
{
  for (size_t i = 0; i < n; i++)
    free(ents[i].name);
  free(ents);
}

/* Removes d from the table and frees it; with rm, also removes its kernel
 * watch (not needed when the folder is gone: IN_IGNORED follows). */
static void
dir_drop(struct inotify_service *svc, struct wdir *d, int rm)
{
  if (d->wd >= 0 && rm)
    inotify_rm_watch(svc->fd, d->wd);
  dir_set_wd(svc, d, -1);
  svc->n_polled--;
  if (strmap_get(svc->by_path, d->path) == d)
    strmap_del(svc->by_path, d->path);
  svc->dirs[d->idx] = svc->dirs[--svc->n_dirs];
  svc->dirs[d->idx]->idx = d->idx;
  entries_free(d->ents, d->n_ents);
  free(d->path);
  free(d);
}

/* Moves d to path; a different wdir already there is dropped. */
static void
dir_set_path(struct inotify_service *svc, struct wdir *d, const char *path)
{
  struct wdir *other = dir_by_path(svc, path);

  if (other != NULL && other != d)
    dir_drop(svc, other, 1);
  if (strmap_get(svc->by_path, d->path) == d)
    strmap_del(svc->by_path, d->path);
  free(d->path);
  d->path = xstrdup(path);
  strmap_set(svc->by_path, d->path, d);
}

/* Collects the wdirs at or below path (new array, *n entries). */
static struct wdir **
dirs_under(struct inotify_service *svc, const char *path, size_t *n)
{
  struct wdir **out = xmalloc((svc->n_dirs + 1) * sizeof *out);

  *n = 0;
  for (size_t i = 0; i < svc->n_dirs; i++)
    if (path_under(svc->dirs[i]->path, path))
      out[(*n)++] = svc->dirs[i];
  return out;
}

/* Drops every wdir at or below path. */
static void
drop_subtree(struct inotify_service *svc, const char *path, int rm)
{
  size_t n;
  struct wdir **list = dirs_under(svc, path, &n);

  for (size_t i = 0; i < n; i++)
    dir_drop(svc, list[i], rm);
  free(list);
}

/* Renames the wdirs at or below from to the same places below to. */
static void
rewrite_prefix(struct inotify_service *svc, const char *from, const char *to)
{
  size_t n, flen = strlen(from);
  struct wdir **list = dirs_under(svc, from, &n);

  /* Unindex them all first so that renames inside the set never collide
   * with each other. */
  for (size_t i = 0; i < n; i++)
    if (strmap_get(svc->by_path, list[i]->path) == list[i])
      strmap_del(svc->by_path, list[i]->path);
  for (size_t i = 0; i < n; i++) {
    char *p = xasprintf("%s%s", to, list[i]->path + flen);
    free(list[i]->path);
    list[i]->path = p;
  }
  for (size_t i = 0; i < n; i++) {
    struct wdir *other = dir_by_path(svc, list[i]->path);
    if (other != NULL && other != list[i]) {
      /* A stale entry at the destination (the old folder there is gone). */
      int in_list = 0;
      for (size_t j = 0; j < n; j++)
        in_list |= list[j] == other;
      if (!in_list)
        dir_drop(svc, other, 1);
    }
    strmap_set(svc->by_path, list[i]->path, list[i]);
  }
  free(list);
}

/* --------------------------------------------------------------- routing */

/* Returns 1 when sub should hear about path. */
static int
sub_covers(const struct inotify_sub *sub, const char *path)
{
  if (sub->dead || path == NULL)
    return 0;
  if (sub->recursive)
    return path_under(path, sub->root);
  return strcmp(path, sub->root) == 0 || path_child_of(path, sub->root);
}

/* Appends one change to sub's batch (copies the strings), merging the
 * duplicates a single drain produces (CREATE then CLOSE_WRITE, ...). */
static void
batch_add(struct inotify_sub *sub, enum inotify_kind kind, const char *path,
          const char *from, int is_dir, int synthetic, const char *message)
{
  struct sub_batch *b = &sub->batch;

  for (size_t i = b->n, seen = 0; i > 0 && seen < 8; i--, seen++) {
    const struct inotify_change *c = &b->chs[i - 1];
    if (c->kind == INOTIFY_LIMIT && kind == INOTIFY_LIMIT)
      return; /* one notice per batch is enough */
    if (strcmp(c->path, path) != 0)
      continue;
    if (kind == INOTIFY_MODIFIED &&
        (c->kind == INOTIFY_CREATED || c->kind == INOTIFY_MODIFIED ||
         c->kind == INOTIFY_MOVED))
      return;
    if (kind == c->kind && kind != INOTIFY_MOVED)
      return;
    break;
  }
  if (b->n == b->cap) {
    b->cap = b->cap == 0 ? 16 : b->cap * 2;
    b->chs = xrealloc(b->chs, b->cap * sizeof *b->chs);
  }
  b->chs[b->n++] = (struct inotify_change){
      .kind = kind,
      .path = xstrdup(path),
      .from = from != NULL ? xstrdup(from) : NULL,
      .is_dir = is_dir,
      .synthetic = synthetic,
      .message = message != NULL ? xstrdup(message) : NULL,
  };
}

/* Frees the strings of a batch and empties it. */
static void
batch_clear(struct sub_batch *b)
{
  for (size_t i = 0; i < b->n; i++) {
    free((char *)b->chs[i].path);
    free((char *)b->chs[i].from);
    free((char *)b->chs[i].message);
  }
  b->n = 0;
}

/* Routes a file-level change to every subscriber covering it. A move is
 * seen as a move by subscribers covering both ends and as a create or a
 * delete by those covering one. */
static void
route(struct inotify_service *svc, enum inotify_kind kind, const char *path,
      const char *from, int is_dir, int synthetic)
{
  for (size_t i = 0; i < svc->n_subs; i++) {
    struct inotify_sub *sub = svc->subs[i];
    int to_in = sub_covers(sub, path), from_in = sub_covers(sub, from);

    if (kind == INOTIFY_MOVED) {
      if (to_in && from_in)
        batch_add(sub, INOTIFY_MOVED, path, from, is_dir, synthetic, NULL);
      else if (to_in)
        batch_add(sub, INOTIFY_CREATED, path, NULL, is_dir, synthetic, NULL);
      else if (from_in)
        batch_add(sub, INOTIFY_DELETED, from, NULL, is_dir, synthetic, NULL);
    } else if (to_in)
      batch_add(sub, kind, path, NULL, is_dir, synthetic, NULL);
  }
}

/* Tells the subscribers covering dir that the watch limit left it
 * unwatched. */
static void
route_limit(struct inotify_service *svc, const char *dir)
{
  long max = read_proc_long("/proc/sys/fs/inotify/max_user_watches");
  char *msg = xasprintf(
      "inotify watch limit reached (fs.inotify.max_user_watches = %ld): "
      "%s is polled every %d ms instead of watched; raise the limit, e.g. "
      "sysctl -w fs.inotify.max_user_watches=524288",
      max, dir, POLL_MS);

  for (size_t i = 0; i < svc->n_subs; i++)
    if (sub_covers(svc->subs[i], dir) ||
        path_under(svc->subs[i]->root, dir))
      batch_add(svc->subs[i], INOTIFY_LIMIT, dir, NULL, 1, 1, msg);
  free(msg);
}

/* Returns 1 when some subscriber needs the folder at path watched. */
static int
dir_wanted(struct inotify_service *svc, const char *path)
{
  for (size_t i = 0; i < svc->n_subs; i++) {
    struct inotify_sub *sub = svc->subs[i];
    if (sub->dead)
      continue;
    if (strcmp(path, sub->root) == 0)
      return 1;
    if (sub->recursive && path_under(path, sub->root) &&
        (sub->want_dir == NULL || sub->want_dir(sub->ctx, path)))
      return 1;
  }
  return 0;
}

/* Frees a dead subscriber. */
static void
sub_free(struct inotify_sub *sub)
{
  batch_clear(&sub->batch);
  free(sub->batch.chs);
  free(sub->root);
  free(sub);
}

/* Removes the dead subscribers and the watches only they needed. */
static void
purge_dead(struct inotify_service *svc)
{
  size_t kept = 0, removed = 0;

  for (size_t i = 0; i < svc->n_subs; i++) {
    if (svc->subs[i]->dead) {
      sub_free(svc->subs[i]);
      removed++;
    } else
      svc->subs[kept++] = svc->subs[i];
  }
  svc->n_subs = kept;
  if (removed == 0)
    return;
  for (size_t i = 0; i < svc->n_dirs;) {
    struct wdir *d = svc->dirs[i];
    if (!dir_wanted(svc, d->path))
      dir_drop(svc, d, 1); /* the last one moves to i: look again */
    else
      i++;
  }
}

static void timer_update(struct inotify_service *svc);

/* Delivers every pending batch. Callbacks may add subscribers, unwatch,
 * rescan (which queues more changes: delivered by the next round) or close
 * the service. */
static void
flush(struct inotify_service *svc)
{
  if (svc->delivering)
    return; /* the outer flush picks the new changes up */
  svc->delivering = 1;
  for (int round = 0; round < 16 && !svc->closing; round++) {
    int any = 0;
    for (size_t i = 0; i < svc->n_subs && !svc->closing; i++) {
      struct inotify_sub *sub = svc->subs[i];
      struct sub_batch b = sub->batch;
      if (sub->dead || b.n == 0)
        continue;
      /* Take the batch out so that changes queued by the callback go into
       * a fresh one. */
      sub->batch = (struct sub_batch){0};
      any = 1;
      sub->cb(sub->ctx, b.chs, b.n);
      batch_clear(&b);
      free(b.chs);
    }
    if (!any)
      break;
  }
  svc->delivering = 0;
  if (svc->closing)
    return;
  purge_dead(svc);
  timer_update(svc);
}

/* -------------------------------------------------------------- snapshots */

/* Orders entries by name. */
static int
entry_cmp(const void *a, const void *b)
{
  return strcmp(((const struct entry *)a)->name,
                ((const struct entry *)b)->name);
}

/* Fills e from st (e->name untouched). */
static void
entry_from_stat(struct entry *e, const struct stat *st)
{
  e->ino = st->st_ino;
  e->size = st->st_size;
  e->mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
  e->ctime_ns = (int64_t)st->st_ctim.tv_sec * 1000000000 + st->st_ctim.tv_nsec;
  e->mode = st->st_mode & S_IFMT;
}

/* Returns the index of name in d's snapshot, or -(insertion point) - 1. */
static long
entry_find(const struct wdir *d, const char *name)
{
  size_t lo = 0, hi = d->n_ents;

  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = strcmp(d->ents[mid].name, name);
    if (c == 0)
      return (long)mid;
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return -(long)lo - 1;
}

/* Removes name from d's snapshot. */
static void
snap_remove(struct wdir *d, const char *name)
{
  long i = entry_find(d, name);

  if (i < 0)
    return;
  free(d->ents[i].name);
  memmove(&d->ents[i], &d->ents[i + 1],
          (d->n_ents - (size_t)i - 1) * sizeof *d->ents);
  d->n_ents--;
}

/* Re-reads name's metadata into d's snapshot after an event, so that a
 * later rescan reports only what happened after it. */
static void
snap_update(struct wdir *d, const char *name)
{
  struct stat st;
  char *path = path_join(d->path, name);
  int ok = lstat(path, &st) == 0;
  long i;

  free(path);
  if (!ok) {
    snap_remove(d, name);
    return;
  }
  i = entry_find(d, name);
  if (i < 0) {
    size_t at = (size_t)(-i - 1);
    d->ents = xrealloc(d->ents, (d->n_ents + 1) * sizeof *d->ents);
    memmove(&d->ents[at + 1], &d->ents[at],
            (d->n_ents - at) * sizeof *d->ents);
    d->n_ents++;
    d->ents[at].name = xstrdup(name);
    i = (long)at;
  }
  entry_from_stat(&d->ents[i], &st);
}

/* Returns 1 when d's snapshot already holds name as the very inode that
 * is at path now. */
static int
snap_knows(const struct wdir *d, const char *name, const char *path)
{
  long i = entry_find(d, name);
  struct stat st;

  if (i < 0 || lstat(path, &st) != 0)
    return 0;
  return d->ents[i].ino == st.st_ino &&
         d->ents[i].mode == (st.st_mode & S_IFMT);
}

/* Reads the entries of the open folder dfd into a new sorted array. */
static struct entry *
read_entries(int dfd, size_t *n)
{
  DIR *dir = fdopendir(dfd);
  struct entry *ents = NULL;
  size_t cap = 0;
  struct dirent *de;

  *n = 0;
  if (dir == NULL) {
    close(dfd);
    return NULL;
  }
  while ((de = readdir(dir)) != NULL) {
    struct stat st;
    if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
      continue;
    if (fstatat(dirfd(dir), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
      continue; /* deleted meanwhile */
    if (*n == cap) {
      cap = cap == 0 ? 32 : cap * 2;
      ents = xrealloc(ents, cap * sizeof *ents);
    }
    ents[*n].name = xstrdup(de->d_name);
    entry_from_stat(&ents[*n], &st);
    (*n)++;
  }
  closedir(dir);
  if (*n > 1)
    qsort(ents, *n, sizeof *ents, entry_cmp);
  return ents;
}

/* Reports the differences between two sorted snapshots of folder path. */
static void
report_diff(struct inotify_service *svc, const char *path,
            const struct entry *old, size_t n_old, const struct entry *cur,
            size_t n_cur)
{
  size_t i = 0, j = 0;

  while (i < n_old || j < n_cur) {
    int c = i == n_old ? 1 : j == n_cur ? -1 : strcmp(old[i].name,
                                                         cur[j].name);
    char *p = path_join(path, c <= 0 ? old[i].name : cur[j].name);
    if (c < 0) {
      route(svc, INOTIFY_DELETED, p, NULL, old[i].mode == S_IFDIR, 1);
      i++;
    } else if (c > 0) {
      route(svc, INOTIFY_CREATED, p, NULL, cur[j].mode == S_IFDIR, 1);
      j++;
    } else {
      if (old[i].mode != cur[j].mode) {
        route(svc, INOTIFY_DELETED, p, NULL, old[i].mode == S_IFDIR, 1);
        route(svc, INOTIFY_CREATED, p, NULL, cur[j].mode == S_IFDIR, 1);
      } else if (cur[j].mode != S_IFDIR &&
                 (old[i].ino != cur[j].ino || old[i].size != cur[j].size ||
                  old[i].mtime_ns != cur[j].mtime_ns ||
                  old[i].ctime_ns != cur[j].ctime_ns))
        route(svc, INOTIFY_MODIFIED, p, NULL, 0, 1);
      i++;
      j++;
    }
    free(p);
  }
}

/* ------------------------------------------------------------------ scans */

/* Watches, reads and compares the folder at path, then recurses into the
 * wanted subfolders (see the DESIGN block). With report 0 the differences
 * are recorded silently (a subscriber's first scan). */
static void
scan_dir(struct inotify_service *svc, const char *path, int report, int depth)
{
  uint32_t mask = WATCH_MASK | (depth > 0 ? IN_DONT_FOLLOW : 0);
  int wd, err;
  struct wdir *d = dir_by_path(svc, path), *same;
  struct entry *ents;
  size_t n_ents;
  char **subdirs = NULL;
  size_t n_sub = 0;
  int dfd;

  if (depth > MAX_DEPTH)
    return;
  wd = inotify_add_watch(svc->fd, path, mask);
  err = wd < 0 ? errno : 0;
  if (wd < 0 && err != ENOSPC) {
    /* Gone, not a folder, or not readable: forget what we had there. */
    if (err != ENOENT && err != ENOTDIR)
      log_debug("inotify_add_watch %s: %s", path, strerror(err));
    if (d != NULL)
      drop_subtree(svc, path, 1);
    return;
  }
  if (wd >= 0) {
    same = dir_by_wd(svc, wd);
    if (same != NULL && same != d) {
      /* A folder we know under another name now sits here: it moved. */
      if (d != NULL)
        dir_drop(svc, d, 1);
      dir_set_path(svc, same, path);
      d = same;
    } else if (d == NULL)
      d = dir_new(svc, path);
    if (d->wd != wd) {
      /* Another inode was recorded here; keep its snapshot, since changes
       * are reported by path. */
      if (d->wd >= 0)
        inotify_rm_watch(svc->fd, d->wd);
      dir_set_wd(svc, d, wd);
    }
  } else {
    svc->limit_hits++;
    if (d == NULL)
      d = dir_new(svc, path);
    route_limit(svc, path);
  }
  if (d->gen == svc->gen)
    return; /* visited in this pass already (a bind-mount loop) */
  d->gen = svc->gen;

  dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC |
                       (depth > 0 ? O_NOFOLLOW : 0));
  if (dfd < 0) {
    drop_subtree(svc, path, 1);
    return;
  }
  ents = read_entries(dfd, &n_ents);
  if (report)
    report_diff(svc, path, d->ents, d->n_ents, ents, n_ents);
  for (size_t i = 0; i < n_ents; i++) {
    if (ents[i].mode != S_IFDIR)
      continue;
    char *child = path_join(path, ents[i].name);
    if (dir_wanted(svc, child)) {
      subdirs = xrealloc(subdirs, (n_sub + 1) * sizeof *subdirs);
      subdirs[n_sub++] = child;
    } else
      free(child);
  }
  entries_free(d->ents, d->n_ents);
  d->ents = ents;
  d->n_ents = n_ents;
  /* d is not used past this point: a recursion may drop entries. */
  for (size_t i = 0; i < n_sub; i++) {
    scan_dir(svc, subdirs[i], report, depth + 1);
    free(subdirs[i]);
  }
  free(subdirs);
}

/* Drops the folders at or below path (all of them when path is NULL) that
 * the current pass did not visit. */
static void
sweep(struct inotify_service *svc, const char *path)
{
  for (size_t i = 0; i < svc->n_dirs;) {
    struct wdir *d = svc->dirs[i];
    if (d->gen != svc->gen && (path == NULL || path_under(d->path, path)))
      dir_drop(svc, d, 1);
    else
      i++;
  }
}

/* Scans the subtree at path in a new pass (plus the roots of subscribers
 * nested in it, which the walk may not reach) and drops what it did not
 * visit. */
static void
reconcile(struct inotify_service *svc, const char *path, int report)
{
  svc->gen++;
  if (dir_wanted(svc, path))
    scan_dir(svc, path, report, 0);
  for (size_t i = 0; i < svc->n_subs; i++) {
    struct inotify_sub *sub = svc->subs[i];
    struct wdir *d;
    if (sub->dead || sub->root_missing || !path_under(sub->root, path))
      continue;
    d = dir_by_path(svc, sub->root);
    if (d == NULL || d->gen != svc->gen)
      scan_dir(svc, sub->root, report, 0);
  }
  sweep(svc, path);
}

/* Rescans every subscriber's tree in one pass (after an overflow). */
static void
reconcile_all(struct inotify_service *svc)
{
  svc->gen++;
  for (size_t i = 0; i < svc->n_subs; i++) {
    struct inotify_sub *sub = svc->subs[i];
    struct wdir *d;
    if (sub->dead || sub->root_missing)
      continue;
    d = dir_by_path(svc, sub->root);
    if (d == NULL || d->gen != svc->gen)
      scan_dir(svc, sub->root, 1, 0);
  }
  sweep(svc, NULL);
}

/* Marks the subscribers rooted at path as missing their root, reporting
 * it deleted; the timer polls for its return. */
static void
root_lost(struct inotify_service *svc, const char *path)
{
  for (size_t i = 0; i < svc->n_subs; i++) {
    struct inotify_sub *sub = svc->subs[i];
    if (sub->dead || sub->root_missing || strcmp(sub->root, path) != 0)
      continue;
    sub->root_missing = 1;
    batch_add(sub, INOTIFY_DELETED, path, NULL, 1, 0, NULL);
  }
}

/* ------------------------------------------------------------ dirty list */

/* Returns the index of path in the dirty list, or -1. */
static long
dirty_find(const struct inotify_service *svc, const char *path)
{
  for (size_t i = 0; i < svc->n_dirty; i++)
    if (strcmp(svc->dirty[i].path, path) == 0)
      return (long)i;
  return -1;
}

/* Removes path from the dirty list; returns 1 when it was there. */
static int
dirty_clear(struct inotify_service *svc, const char *path)
{
  long i = dirty_find(svc, path);

  if (i < 0)
    return 0;
  free(svc->dirty[i].path);
  svc->dirty[i] = svc->dirty[--svc->n_dirty];
  return 1;
}

/* Parks path as written to but not yet closed. */
static void
dirty_add(struct inotify_service *svc, const char *path)
{
  if (dirty_find(svc, path) >= 0)
    return;
  if (svc->n_dirty == svc->cap_dirty) {
    svc->cap_dirty = svc->cap_dirty == 0 ? 8 : svc->cap_dirty * 2;
    svc->dirty = xrealloc(svc->dirty, svc->cap_dirty * sizeof *svc->dirty);
  }
  svc->dirty[svc->n_dirty++] =
      (struct dirty){.path = xstrdup(path), .since = uv_now(svc->loop)};
}

/* ----------------------------------------------------------------- events */

/* Parks a MOVED_FROM until its MOVED_TO (or the end of the drain). */
static void
move_park(struct inotify_service *svc, uint32_t cookie, const char *from,
          int is_dir)
{
  if (svc->n_moves == svc->cap_moves) {
    svc->cap_moves = svc->cap_moves == 0 ? 8 : svc->cap_moves * 2;
    svc->moves = xrealloc(svc->moves, svc->cap_moves * sizeof *svc->moves);
  }
  svc->moves[svc->n_moves++] = (struct pending_move){
      .cookie = cookie, .from = xstrdup(from), .is_dir = is_dir};
}

/* Takes the parked move with cookie out (caller frees ->from); returns 0
 * when there is none. */
static int
move_take(struct inotify_service *svc, uint32_t cookie,
          struct pending_move *out)
{
  for (size_t i = 0; i < svc->n_moves; i++) {
    if (svc->moves[i].cookie != cookie)
      continue;
    *out = svc->moves[i];
    memmove(&svc->moves[i], &svc->moves[i + 1],
            (svc->n_moves - i - 1) * sizeof *svc->moves);
    svc->n_moves--;
    return 1;
  }
  return 0;
}

/* Resolves the moves left unpaired: those folders left our trees. */
static void
moves_settle(struct inotify_service *svc)
{
  for (size_t i = 0; i < svc->n_moves; i++) {
    struct pending_move *m = &svc->moves[i];
    if (m->is_dir)
      drop_subtree(svc, m->from, 1);
    route(svc, INOTIFY_DELETED, m->from, NULL, m->is_dir, 0);
    free(m->from);
  }
  svc->n_moves = 0;
}

/* Handles a folder that appeared at path (created or moved in). */
static void
dir_appeared(struct inotify_service *svc, const char *path)
{
  if (dir_wanted(svc, path))
    reconcile(svc, path, 1);
}

/* Handles one event from the kernel. */
static void
handle_event(struct inotify_service *svc, const struct inotify_event *e)
{
  struct wdir *d;
  char *child;
  int is_dir = (e->mask & IN_ISDIR) != 0;
  struct pending_move m;

  if (e->mask & IN_Q_OVERFLOW) {
    svc->overflowed = 1;
    return;
  }
  d = dir_by_wd(svc, e->wd);
  if (d == NULL)
    return; /* a watch already removed */
  if (e->mask & IN_IGNORED) {
    dir_set_wd(svc, d, -1); /* the kernel dropped it; do not rm again */
    dir_drop(svc, d, 0);
    return;
  }
  if (e->mask & (IN_DELETE_SELF | IN_MOVE_SELF)) {
    /* The parent's event handles folders inside a tree; only a root that
     * went away needs care here. */
    for (size_t i = 0; i < svc->n_subs; i++)
      if (!svc->subs[i]->dead && strcmp(svc->subs[i]->root, d->path) == 0) {
        char *root = xstrdup(d->path);
        root_lost(svc, root);
        if (e->mask & IN_MOVE_SELF)
          drop_subtree(svc, root, 1);
        free(root);
        break;
      }
    return;
  }
  if (e->len == 0) {
    if (e->mask & IN_ATTRIB)
      route(svc, INOTIFY_MODIFIED, d->path, NULL, 1, 0);
    return;
  }
  child = path_join(d->path, e->name);
  if (e->mask & IN_CREATE) {
    /* A rescan of a new folder may have reported this entry already (it
     * was created between the watch and the readdir). */
    if (snap_knows(d, e->name, child))
      ;
    else {
      snap_update(d, e->name);
      route(svc, INOTIFY_CREATED, child, NULL, is_dir, 0);
      if (is_dir)
        dir_appeared(svc, child); /* d may be gone past this point */
    }
  } else if (e->mask & IN_CLOSE_WRITE) {
    dirty_clear(svc, child);
    snap_update(d, e->name);
    route(svc, INOTIFY_MODIFIED, child, NULL, 0, 0);
  } else if (e->mask & IN_MODIFY) {
    dirty_add(svc, child);
  } else if (e->mask & IN_ATTRIB) {
    snap_update(d, e->name);
    route(svc, INOTIFY_MODIFIED, child, NULL, is_dir, 0);
  } else if (e->mask & IN_DELETE) {
    snap_remove(d, e->name);
    dirty_clear(svc, child);
    if (is_dir)
      drop_subtree(svc, child, 0);
    route(svc, INOTIFY_DELETED, child, NULL, is_dir, 0);
  } else if (e->mask & IN_MOVED_FROM) {
    snap_remove(d, e->name);
    dirty_clear(svc, child);
    move_park(svc, e->cookie, child, is_dir);
  } else if (e->mask & IN_MOVED_TO) {
    snap_update(d, e->name);
    if (move_take(svc, e->cookie, &m)) {
      if (is_dir)
        rewrite_prefix(svc, m.from, child);
      route(svc, INOTIFY_MOVED, child, m.from, is_dir, 0);
      free(m.from);
    } else
      route(svc, INOTIFY_CREATED, child, NULL, is_dir, 0);
    if (is_dir) {
      /* Check the rewritten paths (or scan a folder moved in from outside);
       * a folder moved somewhere nobody wants loses its watches. */
      if (dir_wanted(svc, child))
        reconcile(svc, child, 1);
      else
        drop_subtree(svc, child, 1);
    }
  }
  free(child);
}

/* Routes the overflow notice and rescans everything. */
static void
recover_overflow(struct inotify_service *svc)
{
  long max = svc->max_queued;

  svc->overflowed = 0;
  svc->overflows++;
  /* Renames in flight cannot be paired any more: the rescan settles them. */
  for (size_t i = 0; i < svc->n_moves; i++)
    free(svc->moves[i].from);
  svc->n_moves = 0;
  for (size_t i = 0; i < svc->n_subs; i++) {
    struct inotify_sub *sub = svc->subs[i];
    char *msg;
    if (sub->dead)
      continue;
    msg = xasprintf("inotify event queue overflowed "
                    "(fs.inotify.max_queued_events = %ld): changes were "
                    "lost, %s is rescanned; raise the limit, e.g. sysctl -w "
                    "fs.inotify.max_queued_events=65536",
                    max, sub->root);
    batch_add(sub, INOTIFY_OVERFLOW, sub->root, NULL, 1, 1, msg);
    free(msg);
  }
  reconcile_all(svc);
}

/* Drains the inotify queue (uv_poll callback). */
static void
on_readable(uv_poll_t *handle, int status, int events)
{
  struct inotify_service *svc = handle->data;
  int drained = 0;

  (void)events;
  if (status < 0) {
    log_error("inotify poll: %s", uv_strerror(status));
    return;
  }
  for (int reads = 0; reads < READS_PER_CB; reads++) {
    ssize_t n = read(svc->fd, svc->buf, sizeof svc->buf);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      drained = 1;
      break;
    }
    if (n <= 0) {
      log_error("inotify read: %s", n < 0 ? strerror(errno) : "EOF");
      drained = 1;
      break;
    }
    for (char *p = svc->buf; p < svc->buf + n;) {
      const struct inotify_event *e = (const struct inotify_event *)p;
      handle_event(svc, e);
      p += sizeof *e + e->len;
    }
  }
  /* A MOVED_TO always follows its MOVED_FROM in the queue, so a move still
   * parked once the queue is empty went out of our trees. */
  if (drained)
    moves_settle(svc);
  if (svc->overflowed)
    recover_overflow(svc);
  flush(svc);
}

/* --------------------------------------------------------------- the timer */

/* Returns 1 when some subscriber's root is missing. */
static int
any_root_missing(const struct inotify_service *svc)
{
  for (size_t i = 0; i < svc->n_subs; i++)
    if (!svc->subs[i]->dead && svc->subs[i]->root_missing)
      return 1;
  return 0;
}

/* Returns 1 when some subscriber has undelivered changes. */
static int
any_batch(const struct inotify_service *svc)
{
  for (size_t i = 0; i < svc->n_subs; i++)
    if (!svc->subs[i]->dead && svc->subs[i]->batch.n > 0)
      return 1;
  return 0;
}

static void on_tick(uv_timer_t *timer);

/* Runs the timer while there is timed work, stops it otherwise. */
static void
timer_update(struct inotify_service *svc)
{
  int need = svc->n_polled > 0 || svc->n_dirty > 0 || any_root_missing(svc);

  if (svc->closing)
    return;
  if (any_batch(svc)) {
    /* Changes found outside a drain (a first scan's LIMIT notice): deliver
     * them on the next loop iteration. */
    uv_timer_start(&svc->timer, on_tick, 0, TICK_MS);
    svc->timer_on = 1;
  } else if (need && !svc->timer_on) {
    uv_timer_start(&svc->timer, on_tick, TICK_MS, TICK_MS);
    svc->timer_on = 1;
  } else if (!need && svc->timer_on) {
    uv_timer_stop(&svc->timer);
    svc->timer_on = 0;
  }
}

/* Timed work: dirty files kept open, polling of unwatched folders and of
 * missing roots. */
static void
on_tick(uv_timer_t *timer)
{
  struct inotify_service *svc = timer->data;
  uint64_t now = uv_now(svc->loop);

  svc->timer_on = uv_is_active((uv_handle_t *)timer);
  for (size_t i = 0; i < svc->n_dirty;) {
    if (now - svc->dirty[i].since >= DIRTY_MAX_MS) {
      char *path = svc->dirty[i].path;
      svc->dirty[i] = svc->dirty[--svc->n_dirty];
      route(svc, INOTIFY_MODIFIED, path, NULL, 0, 0);
      free(path);
    } else
      i++;
  }
  if (now - svc->last_poll >= POLL_MS) {
    svc->last_poll = now;
    if (svc->n_polled > 0) {
      size_t n = 0;
      char **paths = xmalloc((svc->n_dirs + 1) * sizeof *paths);
      for (size_t i = 0; i < svc->n_dirs; i++)
        if (svc->dirs[i]->wd < 0)
          paths[n++] = xstrdup(svc->dirs[i]->path);
      svc->gen++;
      for (size_t i = 0; i < n; i++) {
        struct wdir *d = dir_by_path(svc, paths[i]);
        /* Polled folders below another polled one are scanned with it. */
        if (d != NULL && d->wd < 0 && d->gen != svc->gen)
          scan_dir(svc, paths[i], 1, 1);
        free(paths[i]);
      }
      free(paths);
    }
    for (size_t i = 0; i < svc->n_subs; i++) {
      struct inotify_sub *sub = svc->subs[i];
      struct stat st;
      if (sub->dead || !sub->root_missing)
        continue;
      if (stat(sub->root, &st) != 0 || !S_ISDIR(st.st_mode))
        continue;
      sub->root_missing = 0;
      batch_add(sub, INOTIFY_CREATED, sub->root, NULL, 1, 1, NULL);
      reconcile(svc, sub->root, 1);
    }
  }
  flush(svc);
}

/* -------------------------------------------------------------- lifecycle */

/* Creates the service. */
struct inotify_service *
inotify_service_new(uv_loop_t *loop, char **cause)
{
  struct inotify_service *svc;
  int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  int rc;

  if (fd < 0) {
    int err = errno;
    if (cause != NULL)
      *cause = xasprintf(
          "inotify_init1: %s%s", strerror(err),
          err == EMFILE ? " (raise fs.inotify.max_user_instances)" : "");
    return NULL;
  }
  svc = xcalloc(1, sizeof *svc);
  svc->loop = loop;
  svc->fd = fd;
  svc->max_queued = read_proc_long("/proc/sys/fs/inotify/max_queued_events");
  svc->by_wd = strmap_new();
  svc->by_path = strmap_new();
  rc = uv_poll_init(loop, &svc->poll, fd);
  if (rc < 0) {
    if (cause != NULL)
      *cause = xasprintf("uv_poll_init: %s", uv_strerror(rc));
    strmap_free(svc->by_wd);
    strmap_free(svc->by_path);
    close(fd);
    free(svc);
    return NULL;
  }
  svc->poll.data = svc;
  uv_timer_init(loop, &svc->timer);
  svc->timer.data = svc;
  svc->handles_open = 2;
  uv_poll_start(&svc->poll, UV_READABLE, on_readable);
  return svc;
}

/* Frees the service after its last handle closed. */
static void
on_handle_closed(uv_handle_t *handle)
{
  struct inotify_service *svc = handle->data;
  void (*cb)(void *) = svc->close_cb;
  void *arg = svc->close_arg;

  if (--svc->handles_open > 0)
    return;
  close(svc->fd);
  for (size_t i = 0; i < svc->n_subs; i++)
    sub_free(svc->subs[i]);
  free(svc->subs);
  while (svc->n_dirs > 0)
    dir_drop(svc, svc->dirs[svc->n_dirs - 1], 0);
  free(svc->dirs);
  strmap_free(svc->by_wd);
  strmap_free(svc->by_path);
  for (size_t i = 0; i < svc->n_moves; i++)
    free(svc->moves[i].from);
  free(svc->moves);
  for (size_t i = 0; i < svc->n_dirty; i++)
    free(svc->dirty[i].path);
  free(svc->dirty);
  free(svc);
  if (cb != NULL)
    cb(arg);
}

/* Closes the service (see inotify.h). */
void
inotify_service_close(struct inotify_service *svc, void (*cb)(void *),
                      void *arg)
{
  if (svc == NULL || svc->closing)
    return;
  svc->closing = 1;
  svc->close_cb = cb;
  svc->close_arg = arg;
  for (size_t i = 0; i < svc->n_subs; i++)
    svc->subs[i]->dead = 1;
  uv_close((uv_handle_t *)&svc->poll, on_handle_closed);
  uv_close((uv_handle_t *)&svc->timer, on_handle_closed);
}

/* Fills the counters. */
void
inotify_service_stats(const struct inotify_service *svc,
                      struct inotify_stats *out)
{
  size_t live = 0;

  for (size_t i = 0; i < svc->n_subs; i++)
    live += !svc->subs[i]->dead;
  *out = (struct inotify_stats){
      .watches = svc->n_dirs - svc->n_polled,
      .polled = svc->n_polled,
      .subs = live,
      .overflows = svc->overflows,
      .limit_hits = svc->limit_hits,
  };
}

/* Subscribes to the tree at root. */
struct inotify_sub *
inotify_watch(struct inotify_service *svc, const char *root, int recursive,
              inotify_event_cb cb, inotify_want_dir_cb want_dir, void *ctx,
              char **cause)
{
  char *real;
  struct stat st;
  struct inotify_sub *sub;
  struct wdir *d;

  if (svc->closing || root[0] != '/') {
    if (cause != NULL)
      *cause = xasprintf("watch %s: %s", root,
                         svc->closing ? "service closing"
                                      : "path is not absolute");
    return NULL;
  }
  real = realpath(root, NULL);
  if (real == NULL || stat(real, &st) != 0 || !S_ISDIR(st.st_mode)) {
    int err = real == NULL ? errno : ENOTDIR;
    if (cause != NULL)
      *cause = xasprintf("watch %s: %s", root, strerror(err));
    free(real);
    return NULL;
  }
  sub = xcalloc(1, sizeof *sub);
  sub->svc = svc;
  sub->root = real;
  sub->recursive = recursive;
  sub->cb = cb;
  sub->want_dir = want_dir;
  sub->ctx = ctx;
  if (svc->n_subs == svc->cap_subs) {
    svc->cap_subs = svc->cap_subs == 0 ? 8 : svc->cap_subs * 2;
    svc->subs = xrealloc(svc->subs, svc->cap_subs * sizeof *svc->subs);
  }
  svc->subs[svc->n_subs++] = sub;
  /* The first scan records the tree without reporting it; folders other
   * subscribers already watch keep their snapshots. */
  svc->gen++;
  scan_dir(svc, real, 0, 0);
  d = dir_by_path(svc, real);
  if (d == NULL) {
    if (cause != NULL)
      *cause = xasprintf("watch %s: cannot watch the folder", root);
    sub->dead = 1;
    if (!svc->delivering)
      purge_dead(svc);
    return NULL;
  }
  timer_update(svc);
  return sub;
}

/* Ends a subscription. */
void
inotify_unwatch(struct inotify_sub *sub)
{
  struct inotify_service *svc;

  if (sub == NULL || sub->dead)
    return;
  svc = sub->svc;
  sub->dead = 1;
  if (!svc->delivering) {
    purge_dead(svc);
    timer_update(svc);
  }
}

/* Rescans a subscriber's tree now. */
void
inotify_rescan(struct inotify_sub *sub)
{
  struct inotify_service *svc = sub->svc;

  if (sub->dead || sub->root_missing)
    return;
  reconcile(svc, sub->root, 1);
  flush(svc);
}

/* Returns the resolved root. */
const char *
inotify_sub_root(const struct inotify_sub *sub)
{
  return sub->root;
}
