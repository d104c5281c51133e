/* tend: the coordination context (DESIGN.md, "Module map").
 *
 * It owns the applied config, the supervision tree (root sup), the read
 * model (state/view.c), the event log and the registry of output logs, and
 * it is the one door through which the web boundary and the CLI act on
 * them. Reads are answered from the read model and the stores; commands are
 * checked against the read model (so that the API can answer 409 at once)
 * and then sent as actor messages to the supervisor that owns the child.
 *
 * state.json is written through state/snapshot.c: critical transitions
 * (an exit, a give-up, a stop, a config applied) at once, the rest at most
 * once a second.
 */
#include "src/tend.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runners/fsm.h"
#include "runners/pty.h"
#include "src/actor.h"
#include "src/apply.h"
#include "src/config.h"
#include "src/events.h"
#include "src/log.h"
#include "src/metrics.h"
#include "src/pubsub.h"
#include "src/strmap.h"
#include "src/sup.h"
#include "src/xalloc.h"
#include "state/recover.h"
#include "state/snapshot.h"
#include "state/store.h"
#include "state/view.h"
#include "watchers/inotify.h"
#include "watchers/reload.h"
#include "watchers/watch.h"

#define SNAPSHOT_DEBOUNCE_MS 1000
/* Critical changes are written at once, but a whole-tree snapshot is not
 * serialised more often than this: stopping 1000 runners must not cost
 * 1000 snapshots of 1000 runners. */
#define SNAPSHOT_MIN_GAP_MS 50
#ifndef TEND_VERSION
#define TEND_VERSION "0.1.0"
#endif

struct group_note {
  int pid;
  unsigned long long start;
};

static struct {
  uv_loop_t *loop;
  struct config *cfg;
  struct tend_hooks hooks;
  struct sup *root;
  actor_id self; /* the root group's parent: hears STARTED/EXITED/STOPPED */
  struct view *view;
  struct store *event_log;
  struct strmap *stores; /* runner name -> struct store * (borrowed) */
  struct strmap *groups; /* runner name -> struct group_note * */
  struct strmap *leaders; /* "pid" of live run leaders -> group note */
  struct strmap *watches; /* runner name -> struct watch * (borrowed) */
  struct strmap *ptys;    /* runner name -> struct pty_note * (own) */
  struct inotify_service *inotify;
  struct reload *reload; /* watches tend.json and the include folder */
  char *config_error;      /* the last reload's errors, NULL when fine */
  uv_timer_t snapshot_timer;
  int snapshot_dirty;  /* the state changed since the last write began */
  int snapshot_urgent; /* ... and a critical change is among them */
  int snapshot_busy;   /* a write is in flight on the threadpool */
  uint64_t snapshot_last; /* loop time (ms) the last write began */
  int closing;
  int stopping; /* tend_stop was called: the root's STOPPED ends the daemon */
  int64_t started_ms;
  void (*close_cb)(void *);
  void *close_arg;
  int pending_closes;
} t;

static const char *const cmd_names[] = {
#define X(N, S) S,
    TEND_CMD_MAP(X)
#undef X
};

const char *
tend_cmd_name(enum tend_cmd c)
{
  return (unsigned)c < sizeof cmd_names / sizeof *cmd_names ? cmd_names[c]
                                                            : "?";
}

int
tend_cmd_parse(const char *s, enum tend_cmd *out)
{
  for (size_t i = 0; i < sizeof cmd_names / sizeof *cmd_names; i++) {
    if (strcmp(s, cmd_names[i]) == 0) {
      *out = (enum tend_cmd)i;
      return 0;
    }
  }
  return -EINVAL;
}

const struct config *
tend_config(void)
{
  return t.cfg;
}

static enum fsm_state runner_state(const char *name);
static void send_user_cmd(const struct config_node *group, const char *child,
                          enum tend_cmd cmd);

/* ------------------------------------------------------------------ */
/* state.json                                                          */

/* Builds the snapshot document: the tree with every status and the live
 * process groups (for recovery). */
static json_t *
snapshot_json(void)
{
  json_t *doc = json_object();
  json_t *groups = json_object();

  json_object_set_new(doc, "version", json_integer(1));
  json_object_set_new(doc, "daemon_pid", json_integer(getpid()));
  /* Recovery trusts the recorded groups only within the same boot. */
  if (recover_boot_id())
    json_object_set_new(doc, "boot_id", json_string(recover_boot_id()));
  json_object_set_new(doc, "config", json_string(t.cfg->file));
  json_object_set_new(doc, "config_hash", json_string(t.cfg->hash));
  json_object_set_new(doc, "written_ms", json_integer(events_now_ms()));
  json_object_set_new(doc, "event_seq", json_integer(
                                            (json_int_t)events_last_seq()));
  json_object_set_new(doc, "tree", tend_tree_json());
  json_object_set_new(doc, "process_groups", groups);
  return doc;
}

/* Adds one live process group to the snapshot's table. */
static void
add_group_note(json_t *groups, const char *name, const struct group_note *g)
{
  if (g->pid > 0)
    json_object_set_new(groups, name,
                        json_pack("{s:i, s:I}", "pgid", g->pid, "start",
                                  (json_int_t)g->start));
}

/* Calls fn for every runner below node, in config order. */
static void
for_each_runner(const struct config_node *node,
                void (*fn)(const struct config_node *, void *), void *ctx)
{
  if (!node->is_group) {
    fn(node, ctx);
    return;
  }
  for (size_t i = 0; i < node->n_children; i++)
    for_each_runner(node->children[i], fn, ctx);
}

/* Adds a runner's live process group to the snapshot (for_each_runner). */
static void
note_runner_group(const struct config_node *n, void *groups)
{
  struct group_note *g = strmap_get(t.groups, n->name);
  if (g)
    add_group_note(groups, n->name, g);
}

/* One state.json write in flight on the threadpool: the text was made on
 * the loop (the read model lives there); the fsync happens off it. */
struct snapshot_job {
  uv_work_t req;
  char *text;
  size_t len;
  char *path;
  int rc;
};

static void snapshot_start(void);
static void snapshot_soon(void);
static void on_snapshot_timer(uv_timer_t *timer);

/* Threadpool: write, fsync, rename. */
static void
snapshot_work(uv_work_t *req)
{
  struct snapshot_job *job = req->data;
  job->rc = snapshot_save_text(job->text, job->len, job->path, 0600);
}

static void on_part_closed(void *arg);

/* Loop: the write is done; start the next one if the state changed. */
static void
snapshot_done(uv_work_t *req, int status)
{
  struct snapshot_job *job = req->data;

  if (status == 0 && job->rc < 0)
    log_warn("cannot write %s: %s", job->path, strerror(-job->rc));
  free(job->text);
  free(job->path);
  free(job);
  t.snapshot_busy = 0;
  if (t.snapshot_dirty && t.closing)
    snapshot_start();
  else if (t.snapshot_dirty && t.snapshot_urgent)
    snapshot_soon();
  else if (t.snapshot_dirty && !uv_is_active((uv_handle_t *)&t.snapshot_timer))
    uv_timer_start(&t.snapshot_timer, on_snapshot_timer, SNAPSHOT_DEBOUNCE_MS,
                   0);
  if (t.closing && !t.snapshot_busy)
    on_part_closed(NULL);
}

/* Serialises the state now and hands the write to the threadpool; while
 * one is in flight, the next is only marked (writes coalesce). */
static void
snapshot_start(void)
{
  struct snapshot_job *job;
  json_t *doc;

  if (t.snapshot_busy) {
    t.snapshot_dirty = 1;
    return;
  }
  doc = snapshot_json();
  for_each_runner(t.cfg->root, note_runner_group,
                  json_object_get(doc, "process_groups"));
  job = xcalloc(1, sizeof *job);
  job->text = json_dumps(doc, JSON_INDENT(1));
  job->len = job->text ? strlen(job->text) : 0;
  job->path = xasprintf("%s/state.json", t.cfg->state_dir);
  job->req.data = job;
  json_decref(doc);
  uv_timer_stop(&t.snapshot_timer);
  t.snapshot_dirty = 0;
  t.snapshot_urgent = 0;
  t.snapshot_busy = 1;
  t.snapshot_last = uv_now(t.loop);
  uv_queue_work(t.loop, &job->req, snapshot_work, snapshot_done);
}

/* Starts a write now, or at the end of the minimum gap since the last. */
static void
snapshot_soon(void)
{
  uint64_t now = uv_now(t.loop);
  uint64_t next = t.snapshot_last + SNAPSHOT_MIN_GAP_MS;

  if (t.snapshot_busy)
    return; /* snapshot_done comes back here */
  if (now >= next || t.snapshot_last == 0) {
    snapshot_start();
    return;
  }
  uv_timer_stop(&t.snapshot_timer);
  uv_timer_start(&t.snapshot_timer, on_snapshot_timer, next - now, 0);
}

/* The debounce window passed: write what changed. */
static void
on_snapshot_timer(uv_timer_t *timer)
{
  (void)timer;
  if (t.snapshot_dirty)
    snapshot_start();
}

/* Schedules a snapshot: critical changes start a write at once (or right
 * after the one in flight), the rest within SNAPSHOT_DEBOUNCE_MS. */
static void
snapshot_touch(int critical)
{
  t.snapshot_dirty = 1;
  if (critical) {
    t.snapshot_urgent = 1;
    snapshot_soon();
  } else if (!t.snapshot_busy &&
             !uv_is_active((uv_handle_t *)&t.snapshot_timer)) {
    uv_timer_start(&t.snapshot_timer, on_snapshot_timer, SNAPSHOT_DEBOUNCE_MS,
                   0);
  }
}

struct after_ctx {
  const char *exited;
  int success;
};

/* Starts or restarts one runner whose "after" names the runner that just
 * exited (for_each_runner). */
static void
fire_after(const struct config_node *n, void *arg)
{
  struct after_ctx *a = arg;
  enum fsm_state st;

  if (!n->after.runner || strcmp(n->after.runner, a->exited) != 0)
    return;
  if (n->after.on == CONFIG_AFTER_SUCCESS && !a->success)
    return;
  st = runner_state(n->name);
  events_note("triggered", n->name, "%s %s after %s %s", n->name,
              fsm_state_alive(st) ? "restarts" : "starts", a->exited,
              a->success ? "succeeded" : "exited");
  send_user_cmd(n->parent, n->name,
                fsm_state_alive(st) ? TEND_CMD_RESTART : TEND_CMD_START);
}

/* Runs the "after" triggers of a runner's exit event. */
static void
run_after_triggers(const json_t *ev)
{
  const char *kind = json_string_value(json_object_get(ev, "kind"));
  const char *to = json_string_value(json_object_get(ev, "to"));
  const json_t *status = json_object_get(ev, "status");
  struct after_ctx a;

  if (!kind || strcmp(kind, "runner") != 0 || !to || strcmp(to, "exited"))
    return;
  a.exited = json_string_value(json_object_get(ev, "node"));
  a.success = json_is_integer(status) && json_integer_value(status) == 0;
  if (a.exited)
    for_each_runner(t.cfg->root, fire_after, &a);
}

/* Seeds the read model from the previous daemon's state.json: every node
 * of the saved tree that is still in the config, with the same kind, keeps
 * its counters and last exit (view_restore). */
static void
restore_node(const json_t *saved)
{
  const char *name = json_string_value(json_object_get(saved, "name"));
  const char *kind = json_string_value(json_object_get(saved, "kind"));
  const struct config_node *n = name ? config_find(t.cfg, name) : NULL;
  json_t *children = json_object_get(saved, "children"), *c;
  size_t i;

  if (n && kind && !strcmp(kind, n->is_group ? "group" : "runner"))
    view_restore(t.view, name, saved);
  json_array_foreach(children, i, c)
  {
    if (json_is_object(c))
      restore_node(c);
  }
}

/* Loads state.json, if any, into the read model. */
static void
restore_view(void)
{
  char *path = xasprintf("%s/state.json", t.cfg->state_dir);
  int err = 0;
  json_t *doc = snapshot_load(path, &err);
  json_t *tree = json_object_get(doc, "tree");

  if (json_is_object(tree))
    restore_node(tree);
  json_decref(doc);
  free(path);
}

const json_t *
tend_node_status(const char *name)
{
  return t.view ? view_status(t.view, name) : NULL;
}

/* Read-model listener: folds each event and schedules the snapshot. */
static void
on_event(void *ctx, const json_t *ev)
{
  const char *type = json_string_value(json_object_get(ev, "type"));
  const char *to = json_string_value(json_object_get(ev, "to"));
  int critical;

  (void)ctx;
  view_apply(t.view, ev);
  if (!type || !t.cfg)
    return;
  if (strcmp(type, "state") == 0)
    run_after_triggers(ev);
  critical = strcmp(type, "state") != 0 ||
             (to && (!strcmp(to, "exited") || !strcmp(to, "failed") ||
                     !strcmp(to, "stopped")));
  snapshot_touch(critical);
}

/* ------------------------------------------------------------------ */
/* The root group's parent                                              */

/* Hears the root group's reports. */
static void
root_parent_handle(void *state, actor_id self, const struct actor_msg *m)
{
  (void)state;
  (void)self;
  switch (m->type) {
  case SUP_MSG_EXITED:
    if (t.hooks.gave_up)
      t.hooks.gave_up(t.hooks.ctx);
    break;
  case SUP_MSG_STOPPED:
    /* Only the daemon's own stop ends it; `tend stop all` stops the tree
     * and leaves the daemon (and the API) up. */
    if (t.stopping && t.hooks.stopped)
      t.hooks.stopped(t.hooks.ctx);
    break;
  default:
    break;
  }
}

int
tend_open(uv_loop_t *loop, struct config *cfg, const struct tend_hooks *hooks,
          char **cause)
{
  memset(&t, 0, sizeof t);
  t.loop = loop;
  t.cfg = cfg;
  t.hooks = *hooks;
  t.started_ms = events_now_ms();
  t.view = view_new();
  t.stores = strmap_new();
  t.groups = strmap_new();
  t.leaders = strmap_new();
  t.watches = strmap_new();
  t.ptys = strmap_new();
  t.inotify = inotify_service_new(loop, cause);
  if (!t.inotify) {
    log_warn("file watching is off: %s", *cause ? *cause : "no inotify");
    free(*cause);
    *cause = NULL;
  }
  uv_timer_init(loop, &t.snapshot_timer);
  t.event_log = store_open(cfg->state_dir, "events", cfg->output.max_bytes,
                           cfg->output.keep, cause);
  if (!t.event_log)
    return -EIO;
  events_init(t.event_log);
  events_listen(on_event, NULL);
  events_listen(metrics_note_event, NULL);
  if (store_truncated_bytes(t.event_log) > 0)
    events_emit(json_pack("{s:s, s:s, s:I, s:s}", "type", "log_truncated",
                          "runner", "events", "bytes",
                          (json_int_t)store_truncated_bytes(t.event_log),
                          "message",
                          "cut a torn last line from events.jsonl (the "
                          "daemon was killed mid-write)"));
  if (t.inotify) {
    char *why = NULL;
    t.reload = reload_new(loop, t.inotify, cfg->file, cfg->include_dir,
                          apply_on_file_changed, NULL, &why);
    if (!t.reload) {
      log_warn("live config reload is off: %s", why ? why : "?");
      free(why);
    }
  }
  restore_view();
  t.self = actor_spawn(root_parent_handle, NULL);
  t.root = sup_new(loop, cfg, cfg->root, t.self);
  return 0;
}

void
tend_start(void)
{
  actor_send(sup_id(t.root), SUP_MSG_START, t.self, 0, NULL, NULL);
}

void
tend_stop(void)
{
  t.stopping = 1;
  actor_send(sup_id(t.root), SUP_MSG_STOP, t.self, 0, NULL, NULL);
}

/* SIGKILLs one runner's live group (for_each_runner). */
static void
kill_runner_group(const struct config_node *n, void *ctx)
{
  struct group_note *g = strmap_get(t.groups, n->name);
  (void)ctx;
  if (g && g->pid > 0)
    kill(-g->pid, SIGKILL);
}

void
tend_kill_all(void)
{
  for_each_runner(t.cfg->root, kill_runner_group, NULL);
}

/* Frees one runner's group note (for_each_runner). */
static void
free_group_note(const struct config_node *n, void *ctx)
{
  (void)ctx;
  free(strmap_del(t.groups, n->name));
}

static void on_part_closed(void *arg);

/* Everything that watched files is closed: close the inotify service. */
static void
close_inotify(void)
{
  struct inotify_service *svc = t.inotify;
  t.inotify = NULL;
  t.pending_closes++;
  inotify_service_close(svc, on_part_closed, NULL);
}

/* Counts closed parts; runs the close callback after the last. */
static void
on_part_closed(void *arg)
{
  (void)arg;
  if (--t.pending_closes > 0)
    return;
  if (t.inotify) {
    close_inotify();
    return;
  }
  events_reset();
  metrics_reset();
  store_close(t.event_log);
  t.event_log = NULL;
  view_free(t.view);
  strmap_free(t.stores);
  for_each_runner(t.cfg->root, free_group_note, NULL);
  strmap_free(t.groups);
  strmap_free(t.leaders);
  t.groups = t.leaders = NULL;
  t.stores = NULL;
  config_unref(t.cfg); /* the printer may hold it a moment longer */
  t.cfg = NULL;
  free(t.config_error);
  strmap_free(t.watches);
  t.watches = NULL;
  strmap_free(t.ptys); /* runners forgot theirs when they closed */
  t.ptys = NULL;
  if (t.close_cb)
    t.close_cb(t.close_arg);
}

/* Closes the snapshot timer handle. */
static void
on_timer_closed(uv_handle_t *h)
{
  (void)h;
  on_part_closed(NULL);
}

void
tend_close(void (*cb)(void *arg), void *arg)
{
  t.close_cb = cb;
  t.close_arg = arg;
  /* The last word on disk, while every runner's log is still known; the
   * context closes only after it (and any write in flight) is done. */
  t.closing = 1;
  t.pending_closes = 3;
  snapshot_start();
  if (t.reload) {
    t.pending_closes++;
    reload_close(t.reload, on_part_closed, NULL);
    t.reload = NULL;
  }
  actor_exit(t.self, ACTOR_REASON_NORMAL, "closed");
  uv_close((uv_handle_t *)&t.snapshot_timer, on_timer_closed);
  sup_close(t.root, on_part_closed, NULL);
}

/* ------------------------------------------------------------------ */
/* Registries the runners feed                                          */

struct inotify_service *
tend_inotify(void)
{
  return t.inotify;
}

void
tend_register_watch(const char *name, struct watch *watch)
{
  strmap_set(t.watches, name, watch);
}

void
tend_forget_watch(const char *name)
{
  if (t.watches)
    strmap_del(t.watches, name);
}

/* A live pty run: its master (borrowed from the run) and current size. */
struct pty_note {
  uv_stream_t *master;
  int cols, rows;
};

void
tend_register_pty(const char *name, uv_stream_t *master)
{
  const struct config_node *n = config_find(t.cfg, name);
  struct pty_note *p = xcalloc(1, sizeof *p);

  p->master = master;
  p->cols = n ? n->pty_cols : PTY_DEFAULT_COLS;
  p->rows = n ? n->pty_rows : PTY_DEFAULT_ROWS;
  free(strmap_del(t.ptys, name));
  strmap_set(t.ptys, name, p);
}

void
tend_forget_pty(const char *name)
{
  if (t.ptys)
    free(strmap_del(t.ptys, name));
}

/* The live pty of a runner that takes input, or NULL with *cause (new)
 * and *err set: -ENOENT no such runner, -EBUSY no pty or not running. */
static struct pty_note *
pty_of(const char *name, int *err, char **cause)
{
  const struct config_node *n = config_find(t.cfg, name);
  struct pty_note *p;

  if (!n || n->is_group) {
    *cause = xasprintf("no runner named \"%s\"", name);
    *err = -ENOENT;
    return NULL;
  }
  p = strmap_get(t.ptys, name);
  if (p)
    return p;
  *err = -EBUSY;
  if (!n->pty)
    *cause = xasprintf("%s does not run on a terminal: input needs \"pty\": "
                       "true in its config",
                       name);
  else
    *cause = xasprintf("%s is not running (%s)", name,
                       fsm_state_name(runner_state(name)));
  return NULL;
}

int
tend_runner_input(const char *name, const char *data, size_t len,
                  char **cause)
{
  int err = 0, r;
  struct pty_note *p = pty_of(name, &err, cause);

  if (!p)
    return err;
  r = pty_write(p->master, data, len);
  if (r == -EAGAIN) {
    *cause = xasprintf("the terminal of %s has %zu bytes of input waiting: "
                       "the program does not read it",
                       name, pty_queued(p->master));
    return -EBUSY;
  }
  if (r < 0) {
    *cause = xasprintf("%s is not running (its terminal is closing)", name);
    return -EBUSY;
  }
  return 0;
}

int
tend_runner_resize(const char *name, int cols, int rows, char **cause)
{
  int err = 0, fd, r;
  struct pty_note *p;

  if (!pty_size_valid(cols, rows)) {
    *cause = xasprintf("cols and rows: integers from 1 to %d", PTY_MAX_DIM);
    return -EINVAL;
  }
  p = pty_of(name, &err, cause);
  if (!p)
    return err;
  if (uv_fileno((uv_handle_t *)p->master, &fd) != 0) {
    *cause = xasprintf("%s is not running (its terminal is closing)", name);
    return -EBUSY;
  }
  r = pty_set_size(fd, cols, rows);
  if (r < 0) {
    *cause = xasprintf("cannot resize the terminal of %s: %s", name,
                       strerror(-r));
    return r == -EINVAL ? -EINVAL : -EBUSY;
  }
  p->cols = cols;
  p->rows = rows;
  return 0;
}

void
tend_register_store(const char *name, struct store *store)
{
  strmap_set(t.stores, name, store);
}

void
tend_forget_store(const char *name)
{
  if (t.stores)
    strmap_del(t.stores, name);
}

void
tend_note_group(const char *name, int pid, unsigned long long start)
{
  struct group_note *g;
  char key[24];

  if (!t.groups)
    return;
  g = strmap_get(t.groups, name);
  if (g && g->pid > 0) {
    snprintf(key, sizeof key, "%d", g->pid);
    strmap_del(t.leaders, key);
  }
  if (pid <= 0) {
    /* The run is over: nothing to recover, nothing to keep. */
    free(strmap_del(t.groups, name));
    snapshot_touch(0);
    return;
  }
  if (!g) {
    g = xcalloc(1, sizeof *g);
    strmap_set(t.groups, name, g);
  }
  g->pid = pid;
  g->start = start;
  snprintf(key, sizeof key, "%d", pid);
  strmap_set(t.leaders, key, g);
  /* Not critical: a daemon killed before this reaches state.json still
   * finds the group at its next start through the children's
   * TEND_STATE_DIR (recover_strays); a write per spawn would make starting
   * n runners cost n whole-tree snapshots. */
  snapshot_touch(0);
}

int
tend_is_leader(int pid)
{
  char key[24];
  if (!t.leaders)
    return 0;
  snprintf(key, sizeof key, "%d", pid);
  return strmap_get(t.leaders, key) != NULL;
}

/* ------------------------------------------------------------------ */
/* Reads                                                                */

/* Builds the JSON of one node and, for groups, its subtree. */
static json_t *
node_json(const struct config_node *n, int recursive)
{
  const json_t *status = view_status(t.view, n->name);
  json_t *out = json_pack("{s:s, s:s}", "name", n->name, "kind",
                          n->is_group ? "group" : "runner");

  if (status)
    json_object_update(out, (json_t *)status);
  if (!json_object_get(out, "state"))
    json_object_set_new(out, "state", json_string("stopped"));
  if (n->is_group) {
    json_t *children = json_array();
    json_object_set_new(out, "strategy",
                        json_string(config_strategy_name(n->strategy)));
    /* Process facts belong to runners; the view keeps them per node. */
    json_object_del(out, "pid");
    json_object_del(out, "run");
    json_object_del(out, "last_exit");
    json_object_del(out, "next_start_ms");
    if (!json_object_get(out, "restarts"))
      json_object_set_new(out, "restarts", json_integer(0));
    if (recursive)
      for (size_t i = 0; i < n->n_children; i++)
        json_array_append_new(children, node_json(n->children[i], 1));
    else
      for (size_t i = 0; i < n->n_children; i++)
        json_array_append_new(children, json_string(n->children[i]->name));
    json_object_set_new(out, "children", children);
  } else {
    struct store *st = strmap_get(t.stores, n->name);
    const char *const defaults[] = {"pid", "last_exit", "next_start_ms"};
    for (size_t i = 0; i < 3; i++)
      if (!json_object_get(out, defaults[i]))
        json_object_set_new(out, defaults[i], json_null());
    if (!json_object_get(out, "run"))
      json_object_set_new(out, "run", json_integer(0));
    if (!json_object_get(out, "restarts"))
      json_object_set_new(out, "restarts", json_integer(0));
    json_object_set_new(out, "output_seq",
                        json_integer(st ? (json_int_t)store_last_seq(st) : 0));
    json_object_set_new(out, "autostart", json_boolean(n->autostart));
    json_object_set_new(out, "restart",
                        json_string(config_restart_name(n->restart)));
    {
      struct watch *w = strmap_get(t.watches, n->name);
      json_object_set_new(out, "watch", w ? watch_status_json(w)
                                          : json_null());
    }
    if (n->pty) {
      /* The live terminal's size, else the one the next run gets. */
      struct pty_note *p = strmap_get(t.ptys, n->name);
      json_object_set_new(out, "pty",
                          json_pack("{s:i, s:i}", "cols",
                                    p ? p->cols : n->pty_cols, "rows",
                                    p ? p->rows : n->pty_rows));
    } else {
      json_object_set_new(out, "pty", json_null());
    }
    /* What a user may ask of it now, from the predicates the API checks:
     * the web UI enables its buttons from this, not a list of its own. */
    json_object_set_new(out, "can", fsm_can_json(runner_state(n->name)));
  }
  return out;
}

json_t *
tend_tree_json(void)
{
  return node_json(t.cfg->root, 1);
}

json_t *
tend_runner_json(const char *name)
{
  const struct config_node *n = config_find(t.cfg, name);
  if (!n || n->is_group)
    return NULL;
  return node_json(n, 0);
}

json_t *
tend_group_json(const char *name)
{
  const struct config_node *n = config_find(t.cfg, name);
  if (!n || !n->is_group)
    return NULL;
  return node_json(n, 1);
}

/* Returns the runner's current state from the read model. */
static enum fsm_state
runner_state(const char *name)
{
  const json_t *status = view_status(t.view, name);
  enum fsm_state st = FSM_STOPPED;
  const char *s = status ? json_string_value(json_object_get(status, "state"))
                         : NULL;
  if (s)
    fsm_state_parse(s, &st);
  return st;
}

/* Sends a user command to the group that owns name. */
static void
send_user_cmd(const struct config_node *group, const char *child,
              enum tend_cmd cmd)
{
  struct sup_user_cmd *uc = xcalloc(1, sizeof *uc);
  uc->child = child ? xstrdup(child) : NULL;
  uc->cmd = (int)cmd;
  actor_send(actor_whereis(group->name), SUP_MSG_USER, ACTOR_NONE, 0, uc,
             sup_user_cmd_free);
}

int
tend_runner_cmd(const char *name, enum tend_cmd cmd, int signo, char **cause)
{
  const struct config_node *n = config_find(t.cfg, name);
  enum fsm_state st;

  if (!n || n->is_group) {
    *cause = xasprintf("no runner named \"%s\"", name);
    return -ENOENT;
  }
  /* The predicates are the ones the tree's "can" shows (runners/fsm.h), so
   * a button the UI enables is never answered 409 for the same state. */
  st = runner_state(name);
  switch (cmd) {
  case TEND_CMD_START:
    if (!fsm_state_startable(st)) {
      *cause = xasprintf("%s is already %s", name, fsm_state_name(st));
      return -EBUSY;
    }
    break;
  case TEND_CMD_STOP:
    if (!fsm_state_stoppable(st)) {
      *cause = xasprintf("%s is already %s", name, fsm_state_name(st));
      return -EBUSY;
    }
    break;
  case TEND_CMD_SIGNAL:
    if (!fsm_state_signalable(st)) {
      *cause = xasprintf("%s is not running (%s)", name, fsm_state_name(st));
      return -EBUSY;
    }
    if (signo <= 0 || signo >= 65) {
      *cause = xasprintf("bad signal number %d", signo);
      return -EINVAL;
    }
    actor_send(actor_whereis(name), SUP_MSG_SIGNAL, ACTOR_NONE, signo, NULL,
               NULL);
    return 0;
  case TEND_CMD_RESTART:
    break;
  }
  send_user_cmd(n->parent, name, cmd);
  return 0;
}

/* The group called name, or the root for "all" when no node has that
 * name; NULL with *cause else. */
static const struct config_node *
find_group(const char *name, char **cause)
{
  const struct config_node *n = config_find(t.cfg, name);
  if (!n && strcmp(name, "all") == 0)
    n = t.cfg->root;
  if (!n || !n->is_group) {
    *cause = xasprintf("no group named \"%s\"", name);
    return NULL;
  }
  return n;
}

/* Sends cmd about group n to its parent (which holds its restart policy),
 * or to the root itself. */
static void
group_cmd(const struct config_node *n, enum tend_cmd cmd)
{
  if (n->parent)
    send_user_cmd(n->parent, n->name, cmd);
  else
    send_user_cmd(n, NULL, cmd);
}

int
tend_group_restart(const char *name, char **cause)
{
  const struct config_node *n = find_group(name, cause);
  if (!n)
    return -ENOENT;
  send_user_cmd(n, NULL, TEND_CMD_RESTART);
  return 0;
}

int
tend_group_start(const char *name, char **cause)
{
  const struct config_node *n = find_group(name, cause);
  if (!n)
    return -ENOENT;
  group_cmd(n, TEND_CMD_START);
  return 0;
}

int
tend_group_stop(const char *name, char **cause)
{
  const struct config_node *n = find_group(name, cause);
  if (!n)
    return -ENOENT;
  group_cmd(n, TEND_CMD_STOP);
  return 0;
}

/* A page being collected: its items and their bytes against a budget. */
struct collect {
  json_t *arr;
  size_t bytes, max_bytes; /* max_bytes 0: no budget */
  int full;                /* a line did not fit: take nothing more */
};

/* Collects store lines into a JSON array (callback of store_read_after),
 * until one would take the page over its byte budget (the first line
 * always fits): the page stays a run of consecutive seqs, and what does
 * not fit is never parsed. */
static void
collect_line(void *ctx, uint64_t seq, const char *line, size_t len)
{
  struct collect *c = ctx;
  json_t *obj;

  (void)seq;
  if (c->full)
    return;
  if (c->max_bytes && json_array_size(c->arr) > 0 &&
      c->bytes + len > c->max_bytes) {
    c->full = 1;
    return;
  }
  obj = json_loadb(line, len, JSON_ALLOW_NUL, NULL);
  if (obj) {
    json_array_append_new(c->arr, obj);
    c->bytes += len;
  }
}

/* Reads lines after a seq from a store as a JSON array. */
static void
read_store(struct store *st, uint64_t after, size_t limit, size_t max_bytes,
           json_t **out, uint64_t *next)
{
  json_t *arr = json_array();
  struct collect c = {.arr = arr, .max_bytes = max_bytes};
  size_t n;

  store_read_after(st, after, limit, collect_line, &c);
  n = json_array_size(arr);
  *next = after;
  if (n > 0)
    *next = (uint64_t)json_integer_value(
        json_object_get(json_array_get(arr, n - 1), "seq"));
  *out = arr;
}

int
tend_output_after(const char *name, uint64_t after, size_t limit,
                  size_t max_bytes, json_t **chunks, uint64_t *next)
{
  const struct config_node *n = config_find(t.cfg, name);
  struct store *st = strmap_get(t.stores, name);

  if (!n || n->is_group)
    return -ENOENT;
  if (!st) {
    *chunks = json_array();
    *next = after;
    return 0;
  }
  read_store(st, after, limit, max_bytes, chunks, next);
  return 0;
}

int
tend_events_after(uint64_t after, size_t limit, size_t max_bytes,
                  json_t **events, uint64_t *next)
{
  read_store(t.event_log, after, limit, max_bytes, events, next);
  return 0;
}

int
tend_output_last_seq(const char *name, uint64_t *seq)
{
  const struct config_node *n = config_find(t.cfg, name);
  struct store *st = strmap_get(t.stores, name);
  if (!n || n->is_group)
    return -ENOENT;
  *seq = st ? store_last_seq(st) : 0;
  return 0;
}

uint64_t
tend_events_last_seq(void)
{
  return events_last_seq();
}

int
tend_reload(char **cause)
{
  return apply_reload(&t.cfg, t.root, t.reload, &t.config_error, cause);
}

int
tend_daemon_stop(const char *why)
{
  if (!t.hooks.stop)
    return -ENOTSUP;
  t.hooks.stop(t.hooks.ctx, why);
  return 0;
}

int
tend_watch_resume(const char *name, char **cause)
{
  const struct config_node *n = config_find(t.cfg, name);
  struct watch *w;

  if (!n || n->is_group) {
    *cause = xasprintf("no runner named \"%s\"", name);
    return -ENOENT;
  }
  w = strmap_get(t.watches, name);
  if (!w || !watch_is_paused(w)) {
    *cause = xasprintf("%s has no paused watch", name);
    return -EBUSY;
  }
  watch_resume(w);
  events_emit(json_pack("{s:s, s:s, s:s, s:o}", "type", "watch_resumed",
                        "node", name, "reason", "resumed by request",
                        "message",
                        json_sprintf("watch of %s resumed by request", name)));
  return 0;
}

/* ------------------------------------------------------------------ */
/* /metrics                                                            */

/* One family over the tree: what to emit for each node. */
struct metrics_walk {
  char **buf;
  size_t *len;
  void (*fn)(struct metrics_walk *w, const struct config_node *n);
};

/* Calls w->fn for every node of the tree, groups first, in config order. */
static void
metrics_walk(struct metrics_walk *w, const struct config_node *n)
{
  w->fn(w, n);
  for (size_t i = 0; n->is_group && i < n->n_children; i++)
    metrics_walk(w, n->children[i]);
}

/* Emits one family (HELP, TYPE, then fn's samples for every node). */
static void
metrics_tree_family(char **buf, size_t *len, const char *name, const char *type,
                    const char *help,
                    void (*fn)(struct metrics_walk *,
                               const struct config_node *))
{
  struct metrics_walk w = {buf, len, fn};

  metrics_family(buf, len, name, type, help);
  metrics_walk(&w, t.cfg->root);
}

/* A node's state in the read model ("stopped" before its first event). */
static const char *
node_state(const struct config_node *n)
{
  const char *s =
      json_string_value(json_object_get(view_status(t.view, n->name), "state"));
  return s ? s : "stopped";
}

/* A node's restart count in the read model. */
static double
node_restarts(const struct config_node *n)
{
  return (double)json_integer_value(
      json_object_get(view_status(t.view, n->name), "restarts"));
}

static void
m_runner_state(struct metrics_walk *w, const struct config_node *n)
{
  const char *state = node_state(n);

  if (n->is_group)
    return;
  for (int i = 0; i < FSM_N_STATES; i++) {
    const char *name = fsm_state_name((enum fsm_state)i);
    metrics_sample(w->buf, w->len, "tend_runner_state",
                   (const char *[]){"runner", n->name, "state", name, NULL},
                   strcmp(state, name) == 0);
  }
}

static void
m_runner_restarts(struct metrics_walk *w, const struct config_node *n)
{
  if (!n->is_group)
    metrics_sample(w->buf, w->len, "tend_runner_restarts_total",
                   (const char *[]){"runner", n->name, NULL}, node_restarts(n));
}

static void
m_group_state(struct metrics_walk *w, const struct config_node *n)
{
  const char *state = node_state(n), *name;

  if (!n->is_group)
    return;
  for (size_t i = 0; (name = sup_group_state_name(i)) != NULL; i++)
    metrics_sample(w->buf, w->len, "tend_group_state",
                   (const char *[]){"group", n->name, "state", name, NULL},
                   strcmp(state, name) == 0);
}

static void
m_group_restarts(struct metrics_walk *w, const struct config_node *n)
{
  int restarts;

  if (!n->is_group)
    return;
  /* From the supervisor: the read model learns a group's count only when
   * the group changes state. */
  restarts = t.root ? sup_group_restarts(t.root, n->name) : -1;
  metrics_sample(w->buf, w->len, "tend_group_restarts_total",
                 (const char *[]){"group", n->name, NULL},
                 restarts >= 0 ? restarts : node_restarts(n));
}

/* One output-store number of a runner (0 before it has a store). */
static void
m_store(struct metrics_walk *w, const struct config_node *n, const char *name,
        double (*get)(const struct store *))
{
  const struct store *st = strmap_get(t.stores, n->name);

  if (!n->is_group)
    metrics_sample(w->buf, w->len, name,
                   (const char *[]){"runner", n->name, NULL}, st ? get(st) : 0);
}

static double
st_chunks(const struct store *st)
{
  return (double)store_last_seq(st);
}

static double
st_bytes(const struct store *st)
{
  return (double)store_bytes_appended(st);
}

static double
st_first(const struct store *st)
{
  return (double)store_first_seq(st);
}

static double
st_failing(const struct store *st)
{
  return store_error(st) != 0;
}

static double
st_backlog(const struct store *st)
{
  return (double)store_backlog_bytes(st);
}

static void
m_chunks(struct metrics_walk *w, const struct config_node *n)
{
  m_store(w, n, "tend_output_chunks_total", st_chunks);
}

static void
m_bytes(struct metrics_walk *w, const struct config_node *n)
{
  m_store(w, n, "tend_output_bytes_total", st_bytes);
}

static void
m_first(struct metrics_walk *w, const struct config_node *n)
{
  m_store(w, n, "tend_output_first_seq", st_first);
}

static void
m_failing(struct metrics_walk *w, const struct config_node *n)
{
  m_store(w, n, "tend_output_write_failing", st_failing);
}

static void
m_backlog(struct metrics_walk *w, const struct config_node *n)
{
  m_store(w, n, "tend_output_backlog_bytes", st_backlog);
}

/* Watch counters of runners that have a watch. */
static void
m_watch(struct metrics_walk *w, const struct config_node *n, int pauses)
{
  uint64_t fires, paused;

  if (n->is_group || !n->watch.enabled)
    return;
  metrics_watch_counts(n->name, &fires, &paused);
  metrics_sample(w->buf, w->len,
                 pauses ? "tend_watch_pauses_total" : "tend_watch_fires_total",
                 (const char *[]){"runner", n->name, NULL},
                 (double)(pauses ? paused : fires));
}

static void
m_watch_fires(struct metrics_walk *w, const struct config_node *n)
{
  m_watch(w, n, 0);
}

static void
m_watch_pauses(struct metrics_walk *w, const struct config_node *n)
{
  m_watch(w, n, 1);
}

void
tend_metrics_text(char **buf, size_t *len)
{
  struct metrics_process proc;

  metrics_family(buf, len, "tend_build_info", "gauge",
                 "Always 1; the version of the running daemon.");
  metrics_sample(buf, len, "tend_build_info",
                 (const char *[]){"version", TEND_VERSION, NULL}, 1);
  metrics_tree_family(buf, len, "tend_runner_state", "gauge",
                      "1 for the runner's current state, 0 for the others.",
                      m_runner_state);
  metrics_tree_family(buf, len, "tend_runner_restarts_total", "counter",
                      "Starts of the runner after its first (by its "
                      "supervisor, a user or a watch).",
                      m_runner_restarts);
  metrics_tree_family(buf, len, "tend_group_state", "gauge",
                      "1 for the group's current state, 0 for the others.",
                      m_group_state);
  metrics_tree_family(buf, len, "tend_group_restarts_total", "counter",
                      "Restarts of the group's children by the group "
                      "(those that count towards its intensity).",
                      m_group_restarts);
  metrics_tree_family(buf, len, "tend_output_chunks_total", "counter",
                      "Output chunks of the runner (its newest seq).",
                      m_chunks);
  metrics_tree_family(buf, len, "tend_output_bytes_total", "counter",
                      "Bytes of output log lines written (or queued) since "
                      "the daemon started.",
                      m_bytes);
  metrics_tree_family(buf, len, "tend_output_first_seq", "gauge",
                      "The oldest output seq still kept; older ones were "
                      "rotated away.",
                      m_first);
  metrics_tree_family(buf, len, "tend_output_write_failing", "gauge",
                      "1 while the runner's output log cannot be written "
                      "(lines wait in memory), else 0.",
                      m_failing);
  metrics_tree_family(buf, len, "tend_output_backlog_bytes", "gauge",
                      "Bytes of output waiting in memory for the disk.",
                      m_backlog);
  metrics_tree_family(buf, len, "tend_watch_fires_total", "counter",
                      "Bursts of file changes that fired the runner's "
                      "watch.",
                      m_watch_fires);
  metrics_tree_family(buf, len, "tend_watch_pauses_total", "counter",
                      "Times the restart-loop guard paused the runner's "
                      "watch.",
                      m_watch_pauses);
  metrics_family(buf, len, "tend_events_total", "counter",
                 "Events emitted (state transitions and daemon notes).");
  metrics_sample(buf, len, "tend_events_total", NULL,
                 (double)events_last_seq());
  metrics_family(buf, len, "tend_pubsub_subscriptions", "gauge",
                 "Internal pubsub subscriptions: the terminal printer, the "
                 "API's tree cache, one per open HTTP stream (see "
                 "tend_http_sse_subscribers for the streams alone).");
  metrics_sample(buf, len, "tend_pubsub_subscriptions", NULL,
                 (double)pubsub_count());
  metrics_process_read(&proc);
  metrics_process_text(buf, len, &proc);
}

json_t *
tend_daemon_json(void)
{
  return json_pack("{s:s, s:i, s:s, s:s, s:s, s:I, s:s?}", "version",
                   TEND_VERSION, "pid", getpid(), "config", t.cfg->file,
                   "config_hash", t.cfg->hash, "state_dir", t.cfg->state_dir,
                   "started_ms", (json_int_t)t.started_ms, "config_error",
                   t.config_error);
}
