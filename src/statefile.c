/* statefile: state.json's schedule and contents (src/statefile.h).
 *
 * One statefile per daemon, owned by the door (src/tend.c), which touches
 * it from its event listener and when a runner's process group changes.
 * It owns one timer (the debounce and minimum gap) and at most one write
 * job on the threadpool; closing waits for both before calling back, so
 * the last state is on disk before the daemon exits.
 */
#include "src/statefile.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "src/config.h"
#include "src/events.h"
#include "src/log.h"
#include "src/xalloc.h"
#include "state/recover.h"
#include "state/snapshot.h"
#include "state/view.h"

#define SNAPSHOT_DEBOUNCE_MS 1000
/* Critical changes are written at once, but a whole-tree snapshot is not
 * serialised more often than this: stopping 1000 runners must not cost
 * 1000 snapshots of 1000 runners. */
#define SNAPSHOT_MIN_GAP_MS 50

struct statefile {
  uv_loop_t *loop;
  struct statefile_source src;
  uv_timer_t timer;
  int dirty;     /* the state changed since the last write began */
  int urgent;    /* ... and a critical change is among them */
  int busy;      /* a write is in flight on the threadpool */
  uint64_t last; /* loop time (ms) the last write began */
  int closing;   /* statefile_close was called */
  int pending;   /* parts still to finish after closing: write, timer */
  void (*close_cb)(void *);
  void *close_arg;
};

/* One state.json write in flight on the threadpool: the text was made on
 * the loop (the read model lives there); the fsync happens off it. */
struct statefile_job {
  uv_work_t req;
  struct statefile *sf;
  char *text;
  size_t len;
  char *path;
  int rc;
};

static void start_write(struct statefile *sf);
static void write_soon(struct statefile *sf);
static void on_timer(uv_timer_t *timer);

json_t *
statefile_json(const struct statefile_source *src)
{
  const struct config *cfg = src->config(src->ctx);
  json_t *doc = json_object();

  json_object_set_new(doc, "version", json_integer(1));
  json_object_set_new(doc, "daemon_pid", json_integer(getpid()));
  /* Recovery trusts the recorded groups only within the same boot. */
  if (recover_boot_id())
    json_object_set_new(doc, "boot_id", json_string(recover_boot_id()));
  json_object_set_new(doc, "config", json_string(cfg->file));
  json_object_set_new(doc, "config_hash", json_string(cfg->hash));
  json_object_set_new(doc, "written_ms", json_integer(events_now_ms()));
  json_object_set_new(doc, "event_seq",
                      json_integer((json_int_t)events_last_seq()));
  json_object_set_new(doc, "tree", src->tree(src->ctx));
  json_object_set_new(doc, "process_groups", src->groups(src->ctx));
  return doc;
}

/* Counts finished parts of a closing statefile; frees it after the last. */
static void
part_done(struct statefile *sf)
{
  void (*cb)(void *) = sf->close_cb;
  void *arg = sf->close_arg;

  if (--sf->pending > 0)
    return;
  free(sf);
  if (cb)
    cb(arg);
}

/* Threadpool: write, fsync, rename. */
static void
job_work(uv_work_t *req)
{
  struct statefile_job *job = req->data;
  job->rc = snapshot_save_text(job->text, job->len, job->path, 0600);
}

/* Loop: the write is done; start the next one if the state changed. */
static void
job_done(uv_work_t *req, int status)
{
  struct statefile_job *job = req->data;
  struct statefile *sf = job->sf;

  if (status == 0 && job->rc < 0)
    log_warn("cannot write %s: %s", job->path, strerror(-job->rc));
  free(job->text);
  free(job->path);
  free(job);
  sf->busy = 0;
  if (sf->dirty && sf->closing)
    start_write(sf);
  else if (sf->dirty && sf->urgent)
    write_soon(sf);
  else if (sf->dirty && !uv_is_active((uv_handle_t *)&sf->timer))
    uv_timer_start(&sf->timer, on_timer, SNAPSHOT_DEBOUNCE_MS, 0);
  if (sf->closing && !sf->busy)
    part_done(sf);
}

/* Serialises the state now and hands the write to the threadpool; while
 * one is in flight, the next is only marked (writes coalesce). */
static void
start_write(struct statefile *sf)
{
  struct statefile_job *job;
  json_t *doc;

  if (sf->busy) {
    sf->dirty = 1;
    return;
  }
  doc = statefile_json(&sf->src);
  job = xcalloc(1, sizeof *job);
  job->sf = sf;
  job->text = json_dumps(doc, JSON_INDENT(1));
  job->len = job->text ? strlen(job->text) : 0;
  job->path =
      xasprintf("%s/state.json", sf->src.config(sf->src.ctx)->state_dir);
  job->req.data = job;
  json_decref(doc);
  if (!sf->closing)
    uv_timer_stop(&sf->timer);
  sf->dirty = 0;
  sf->urgent = 0;
  sf->busy = 1;
  sf->last = uv_now(sf->loop);
  uv_queue_work(sf->loop, &job->req, job_work, job_done);
}

/* Starts a write now, or at the end of the minimum gap since the last. */
static void
write_soon(struct statefile *sf)
{
  uint64_t now = uv_now(sf->loop);
  uint64_t next = sf->last + SNAPSHOT_MIN_GAP_MS;

  if (sf->busy)
    return; /* job_done comes back here */
  if (now >= next || sf->last == 0) {
    start_write(sf);
    return;
  }
  uv_timer_stop(&sf->timer);
  uv_timer_start(&sf->timer, on_timer, next - now, 0);
}

/* The debounce window passed: write what changed. */
static void
on_timer(uv_timer_t *timer)
{
  struct statefile *sf = timer->data;
  if (sf->dirty)
    start_write(sf);
}

struct statefile *
statefile_new(uv_loop_t *loop, const struct statefile_source *src)
{
  struct statefile *sf = xcalloc(1, sizeof *sf);

  sf->loop = loop;
  sf->src = *src;
  uv_timer_init(loop, &sf->timer);
  sf->timer.data = sf;
  return sf;
}

void
statefile_touch(struct statefile *sf, int critical)
{
  sf->dirty = 1;
  if (sf->closing)
    return; /* a write in flight is followed by one more (job_done) */
  if (critical) {
    sf->urgent = 1;
    write_soon(sf);
  } else if (!sf->busy && !uv_is_active((uv_handle_t *)&sf->timer)) {
    uv_timer_start(&sf->timer, on_timer, SNAPSHOT_DEBOUNCE_MS, 0);
  }
}

/* The timer handle is closed. */
static void
on_timer_closed(uv_handle_t *h)
{
  part_done(h->data);
}

void
statefile_close(struct statefile *sf, void (*cb)(void *arg), void *arg)
{
  sf->close_cb = cb;
  sf->close_arg = arg;
  sf->closing = 1;
  sf->pending = 2;
  start_write(sf);
  uv_close((uv_handle_t *)&sf->timer, on_timer_closed);
}

/* Seeds the read model with one saved node and, for groups, its subtree. */
static void
restore_node(const struct config *cfg, struct view *view, const json_t *saved)
{
  const char *name = json_string_value(json_object_get(saved, "name"));
  const char *kind = json_string_value(json_object_get(saved, "kind"));
  const struct config_node *n = name ? config_find(cfg, name) : NULL;
  json_t *children = json_object_get(saved, "children"), *c;
  size_t i;

  if (n && kind && !strcmp(kind, n->is_group ? "group" : "runner"))
    view_restore(view, name, saved);
  json_array_foreach(children, i, c)
  {
    if (json_is_object(c))
      restore_node(cfg, view, c);
  }
}

void
statefile_restore(const struct config *cfg, struct view *view)
{
  char *path = xasprintf("%s/state.json", cfg->state_dir);
  int err = 0;
  json_t *doc = snapshot_load(path, &err);
  json_t *tree = json_object_get(doc, "tree");

  if (json_is_object(tree))
    restore_node(cfg, view, tree);
  json_decref(doc);
  free(path);
}
