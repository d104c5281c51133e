/* inotify: one raw inotify(7) instance on the libuv loop (see inotify.h).
 *
 * DESIGN
 *
 * Table. The watched folders, their snapshots and the wd and path indexes
 * are the wdtable's (wdtable.c, whose DESIGN block says why a wd identifies
 * a folder's inode); this file decides when they change.
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

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "src/log.h"
#include "src/xalloc.h"
#include "watchers/batch.h"
#include "watchers/parked.h"
#include "watchers/wdtable.h"

/* IN_MODIFY is in the mask only to catch writers that never close; see
 * the dirty list. IN_ATTRIB catches touch(1) on an existing file. */
#define WATCH_MASK                                                             \
  (IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_CLOSE_WRITE |      \
   IN_MODIFY | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR |        \
   IN_EXCL_UNLINK)

#define TICK_MS 500       /* timer period while there is timed work */
#define DIRTY_MAX_MS 1000 /* an open file's writes are reported after this */
#define POLL_MS 1000      /* folders left unwatched are rescanned this often */
#define MAX_DEPTH 256     /* bind-mount loops end here */
#define READS_PER_CB 256  /* reads per poll callback before yielding */

struct inotify_sub {
  struct inotify_service *svc;
  char *root;
  int recursive;
  inotify_event_cb cb;
  inotify_want_dir_cb want_dir;
  void *ctx;
  int dead;         /* unwatched during a delivery: freed after it */
  int root_missing; /* root deleted or moved away: polled for its return */
  struct batch batch;
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

  struct wdtable tab; /* the watched folders */
  unsigned gen;

  struct inotify_sub **subs;
  size_t n_subs, cap_subs;
  int delivering;

  struct parked parked; /* MOVED_FROMs and writes in progress */
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

/* --------------------------------------------------------------- routing */

/* Returns 1 when sub should hear about path. */
static int
sub_covers(const struct inotify_sub *sub, const char *path)
{
  if (sub->dead || path == NULL)
    return 0;
  if (sub->recursive)
    return wdtable_path_under(path, sub->root);
  return strcmp(path, sub->root) == 0 || wdtable_path_child_of(path, sub->root);
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
    struct batch *b = &sub->batch;
    int to_in = sub_covers(sub, path), from_in = sub_covers(sub, from);

    if (kind == INOTIFY_MOVED) {
      if (to_in && from_in)
        batch_add(b, INOTIFY_MOVED, path, from, is_dir, synthetic, NULL);
      else if (to_in)
        batch_add(b, INOTIFY_CREATED, path, NULL, is_dir, synthetic, NULL);
      else if (from_in)
        batch_add(b, INOTIFY_DELETED, from, NULL, is_dir, synthetic, NULL);
    } else if (to_in)
      batch_add(b, kind, path, NULL, is_dir, synthetic, NULL);
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
        wdtable_path_under(svc->subs[i]->root, dir))
      batch_add(&svc->subs[i]->batch, INOTIFY_LIMIT, dir, NULL, 1, 1, msg);
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
    if (sub->recursive && wdtable_path_under(path, sub->root) &&
        (sub->want_dir == NULL || sub->want_dir(sub->ctx, path)))
      return 1;
  }
  return 0;
}

/* Frees a dead subscriber. */
static void
sub_free(struct inotify_sub *sub)
{
  batch_fini(&sub->batch);
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
  for (size_t i = 0; i < svc->tab.n_dirs;) {
    struct wdtable_dir *d = svc->tab.dirs[i];
    if (!dir_wanted(svc, d->path))
      wdtable_drop(&svc->tab, d, 1); /* the last one moves to i: look again */
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
      struct batch b = sub->batch;
      if (sub->dead || b.n == 0)
        continue;
      /* Take the batch out so that changes queued by the callback go into
       * a fresh one. */
      sub->batch = (struct batch){0};
      any = 1;
      sub->cb(sub->ctx, b.chs, b.n);
      batch_fini(&b);
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

/* Routes one difference a rescan found (a wdtable_diff() callback). */
static void
on_diff(void *ctx, enum inotify_kind kind, const char *path, int is_dir)
{
  route(ctx, kind, path, NULL, is_dir, 1);
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
  struct wdtable_dir *d = wdtable_by_path(&svc->tab, path), *same;
  struct wdtable_entry *ents;
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
      wdtable_drop_subtree(&svc->tab, path, 1);
    return;
  }
  if (wd >= 0) {
    same = wdtable_by_wd(&svc->tab, wd);
    if (same != NULL && same != d) {
      /* A folder we know under another name now sits here: it moved. */
      if (d != NULL)
        wdtable_drop(&svc->tab, d, 1);
      wdtable_set_path(&svc->tab, same, path);
      d = same;
    } else if (d == NULL)
      d = wdtable_add(&svc->tab, path);
    if (d->wd != wd) {
      /* Another inode was recorded here; keep its snapshot, since changes
       * are reported by path. */
      if (d->wd >= 0)
        inotify_rm_watch(svc->fd, d->wd);
      wdtable_set_wd(&svc->tab, d, wd);
    }
  } else {
    svc->limit_hits++;
    if (d == NULL)
      d = wdtable_add(&svc->tab, path);
    route_limit(svc, path);
  }
  if (d->gen == svc->gen)
    return; /* visited in this pass already (a bind-mount loop) */
  d->gen = svc->gen;

  dfd = open(path,
             O_RDONLY | O_DIRECTORY | O_CLOEXEC | (depth > 0 ? O_NOFOLLOW : 0));
  if (dfd < 0) {
    wdtable_drop_subtree(&svc->tab, path, 1);
    return;
  }
  ents = wdtable_read_entries(dfd, &n_ents);
  if (report)
    wdtable_diff(path, d->ents, d->n_ents, ents, n_ents, on_diff, svc);
  for (size_t i = 0; i < n_ents; i++) {
    if (ents[i].mode != S_IFDIR)
      continue;
    char *child = wdtable_path_join(path, ents[i].name);
    if (dir_wanted(svc, child)) {
      subdirs = xrealloc(subdirs, (n_sub + 1) * sizeof *subdirs);
      subdirs[n_sub++] = child;
    } else
      free(child);
  }
  wdtable_entries_free(d->ents, d->n_ents);
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
  for (size_t i = 0; i < svc->tab.n_dirs;) {
    struct wdtable_dir *d = svc->tab.dirs[i];
    if (d->gen != svc->gen &&
        (path == NULL || wdtable_path_under(d->path, path)))
      wdtable_drop(&svc->tab, d, 1);
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
    struct wdtable_dir *d;
    if (sub->dead || sub->root_missing || !wdtable_path_under(sub->root, path))
      continue;
    d = wdtable_by_path(&svc->tab, sub->root);
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
    struct wdtable_dir *d;
    if (sub->dead || sub->root_missing)
      continue;
    d = wdtable_by_path(&svc->tab, sub->root);
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
    batch_add(&sub->batch, INOTIFY_DELETED, path, NULL, 1, 0, NULL);
  }
}

/* ----------------------------------------------------------------- events */

/* Resolves the moves left unpaired: those folders left our trees. */
static void
moves_settle(struct inotify_service *svc)
{
  for (size_t i = 0; i < svc->parked.n_moves; i++) {
    const struct parked_move *m = &svc->parked.moves[i];
    if (m->is_dir)
      wdtable_drop_subtree(&svc->tab, m->from, 1);
    route(svc, INOTIFY_DELETED, m->from, NULL, m->is_dir, 0);
  }
  parked_moves_clear(&svc->parked);
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
  struct wdtable_dir *d;
  char *child;
  int is_dir = (e->mask & IN_ISDIR) != 0;
  struct parked_move m;

  if (e->mask & IN_Q_OVERFLOW) {
    svc->overflowed = 1;
    return;
  }
  d = wdtable_by_wd(&svc->tab, e->wd);
  if (d == NULL)
    return; /* a watch already removed */
  if (e->mask & IN_IGNORED) {
    /* The kernel dropped the watch: do not remove it again. */
    wdtable_set_wd(&svc->tab, d, -1);
    wdtable_drop(&svc->tab, d, 0);
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
          wdtable_drop_subtree(&svc->tab, root, 1);
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
  child = wdtable_path_join(d->path, e->name);
  if (e->mask & IN_CREATE) {
    /* A rescan of a new folder may have reported this entry already (it
     * was created between the watch and the readdir). */
    if (wdtable_snap_knows(d, e->name, child))
      ;
    else {
      wdtable_snap_update(d, e->name);
      route(svc, INOTIFY_CREATED, child, NULL, is_dir, 0);
      if (is_dir)
        dir_appeared(svc, child); /* d may be gone past this point */
    }
  } else if (e->mask & IN_CLOSE_WRITE) {
    parked_write_clear(&svc->parked, child);
    wdtable_snap_update(d, e->name);
    route(svc, INOTIFY_MODIFIED, child, NULL, 0, 0);
  } else if (e->mask & IN_MODIFY) {
    parked_write_add(&svc->parked, child, uv_now(svc->loop));
  } else if (e->mask & IN_ATTRIB) {
    wdtable_snap_update(d, e->name);
    route(svc, INOTIFY_MODIFIED, child, NULL, is_dir, 0);
  } else if (e->mask & IN_DELETE) {
    wdtable_snap_remove(d, e->name);
    parked_write_clear(&svc->parked, child);
    if (is_dir)
      wdtable_drop_subtree(&svc->tab, child, 0);
    route(svc, INOTIFY_DELETED, child, NULL, is_dir, 0);
  } else if (e->mask & IN_MOVED_FROM) {
    wdtable_snap_remove(d, e->name);
    parked_write_clear(&svc->parked, child);
    parked_move_add(&svc->parked, e->cookie, child, is_dir);
  } else if (e->mask & IN_MOVED_TO) {
    wdtable_snap_update(d, e->name);
    if (parked_move_take(&svc->parked, e->cookie, &m)) {
      if (is_dir)
        wdtable_rewrite_prefix(&svc->tab, m.from, child);
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
        wdtable_drop_subtree(&svc->tab, child, 1);
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
  parked_moves_clear(&svc->parked);
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
    batch_add(&sub->batch, INOTIFY_OVERFLOW, sub->root, NULL, 1, 1, msg);
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
  int need = svc->tab.n_polled > 0 || svc->parked.n_writes > 0 ||
             any_root_missing(svc);

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
  char *path;

  svc->timer_on = uv_is_active((uv_handle_t *)timer);
  /* Writers that keep their file open are reported after DIRTY_MAX_MS. */
  while ((path = parked_write_expired(&svc->parked, now, DIRTY_MAX_MS))) {
    route(svc, INOTIFY_MODIFIED, path, NULL, 0, 0);
    free(path);
  }
  if (now - svc->last_poll >= POLL_MS) {
    svc->last_poll = now;
    if (svc->tab.n_polled > 0) {
      size_t n = 0;
      char **paths = xmalloc((svc->tab.n_dirs + 1) * sizeof *paths);
      for (size_t i = 0; i < svc->tab.n_dirs; i++)
        if (svc->tab.dirs[i]->wd < 0)
          paths[n++] = xstrdup(svc->tab.dirs[i]->path);
      svc->gen++;
      for (size_t i = 0; i < n; i++) {
        struct wdtable_dir *d = wdtable_by_path(&svc->tab, paths[i]);
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
      batch_add(&sub->batch, INOTIFY_CREATED, sub->root, NULL, 1, 1, NULL);
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
  wdtable_init(&svc->tab, fd);
  rc = uv_poll_init(loop, &svc->poll, fd);
  if (rc < 0) {
    if (cause != NULL)
      *cause = xasprintf("uv_poll_init: %s", uv_strerror(rc));
    wdtable_fini(&svc->tab);
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
  wdtable_fini(&svc->tab);
  parked_fini(&svc->parked);
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
      .watches = svc->tab.n_dirs - svc->tab.n_polled,
      .polled = svc->tab.n_polled,
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
  struct wdtable_dir *d;

  if (svc->closing || root[0] != '/') {
    if (cause != NULL)
      *cause =
          xasprintf("watch %s: %s", root,
                    svc->closing ? "service closing" : "path is not absolute");
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
  d = wdtable_by_path(&svc->tab, real);
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
