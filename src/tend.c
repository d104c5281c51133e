/* tend: the coordination context (DESIGN.md, "Module map").
 *
 * It owns the applied config, the supervision tree (root sup), the read
 * model (state/view.c), the event log and the registry of output logs, and
 * it is the one door through which the web boundary and the CLI act on
 * them. Reads are answered from the read model and the stores; commands are
 * checked against the read model (so that the API can answer 409 at once)
 * and then sent as actor messages to the supervisor that owns the child.
 *
 * What runners announce (output logs, watches, ptys, process groups) is
 * kept in src/registry.c, state.json is scheduled by src/statefile.c and
 * /metrics is written by src/metrics.c; this file wires them together.
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
#include "runners/runner.h"
#include "src/actor.h"
#include "src/after.h"
#include "src/apply.h"
#include "src/config.h"
#include "src/enumname.h"
#include "src/events.h"
#include "src/log.h"
#include "src/metrics.h"
#include "src/metrics_tree.h"
#include "src/registry.h"
#include "src/statefile.h"
#include "src/sup.h"
#include "src/treejson.h"
#include "src/xalloc.h"
#include "state/store.h"
#include "state/view.h"
#include "watchers/inotify.h"
#include "watchers/reload.h"
#include "watchers/watch.h"

#ifndef TEND_VERSION
#define TEND_VERSION "0.1.0"
#endif

static struct {
  uv_loop_t *loop;
  struct config *cfg;
  struct tend_hooks hooks;
  struct sup *root;
  actor_id self; /* the root group's parent: hears STARTED/EXITED/STOPPED */
  struct view *view;
  struct store *event_log;
  struct registry *reg; /* what the runners announce */
  struct statefile *statefile;
  struct runner_env runner_env; /* what every runner is created with */
  struct inotify_service *inotify;
  struct reload *reload; /* watches tend.json and the include folder */
  char *config_error;    /* the last reload's errors, NULL when fine */
  int stopping; /* tend_stop was called: the root's STOPPED ends the daemon */
  int64_t started_ms;
  void (*close_cb)(void *);
  void *close_arg;
  int pending_closes;
} t;

ENUMNAME_DEFINE(tend_cmd, enum tend_cmd, TEND_CMD_MAP, ENUMNAME_PICK2, "?")

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

/* state.json's parts (struct statefile_source). */
static const struct config *
state_config(void *ctx)
{
  (void)ctx;
  return t.cfg;
}

static json_t *
state_tree(void *ctx)
{
  (void)ctx;
  return tend_tree_json();
}

static json_t *
state_groups(void *ctx)
{
  (void)ctx;
  return registry_groups_json(t.reg, t.cfg->root);
}

/* Schedules a state.json write (src/statefile.h). */
static void
snapshot_touch(int critical)
{
  if (t.statefile)
    statefile_touch(t.statefile, critical);
}

const json_t *
tend_node_status(const char *name)
{
  return t.view ? view_status(t.view, name) : NULL;
}

/* Read-model listener: folds each event and schedules the snapshot. */
static void
on_event(void *ctx, const struct tend_event *ev)
{
  int critical;

  (void)ctx;
  view_apply(t.view, ev);
  if (!t.cfg)
    return;
  if (ev->type != EVENTS_STATE)
    critical = 1;
  else if (ev->kind == EVENTS_KIND_GROUP)
    critical =
        ev->to.group == SUP_FSM_FAILED || ev->to.group == SUP_FSM_STOPPED;
  else
    critical = ev->to.runner == FSM_EXITED || ev->to.runner == FSM_FAILED ||
               ev->to.runner == FSM_STOPPED;
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

/* A runner's live process group changed (struct runner_env). */
static void
env_note_group(void *ctx, const char *name, int pid, unsigned long long start)
{
  (void)ctx;
  if (!t.reg)
    return;
  registry_note_group(t.reg, name, pid, start);
  /* Not critical: a daemon killed before this reaches state.json still
   * finds the group at its next start through the children's
   * TEND_STATE_DIR (recover_strays); a write per spawn would make starting
   * n runners cost n whole-tree snapshots. */
  snapshot_touch(0);
}

/* A runner's watch or on_busy asks for a start or restart of itself
 * (struct runner_env): a user command, so it is not counted as a crash. */
static void
env_ask(void *ctx, actor_id parent, actor_id self, const char *name,
        enum runner_ask what)
{
  struct sup_user_cmd *uc = xcalloc(1, sizeof *uc);

  (void)ctx;
  uc->child = xstrdup(name);
  uc->cmd = what == RUNNER_ASK_RESTART ? TEND_CMD_RESTART : TEND_CMD_START;
  actor_send(parent, SUP_MSG_USER, self, 0, uc, sup_user_cmd_free);
}

const struct runner_env *
tend_runner_env(void)
{
  return &t.runner_env;
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
  t.reg = registry_new();
  t.inotify = inotify_service_new(loop, cause);
  if (!t.inotify) {
    log_warn("file watching is off: %s", *cause ? *cause : "no inotify");
    free(*cause);
    *cause = NULL;
  }
  {
    struct statefile_source src = {state_config, state_tree, state_groups,
                                   NULL};
    t.statefile = statefile_new(loop, &src);
  }
  t.event_log = store_open(cfg->state_dir, "events", cfg->output.max_bytes,
                           cfg->output.keep, cause);
  if (!t.event_log)
    return -EIO;
  events_init(t.event_log);
  events_listen(on_event, NULL);
  events_listen(after_on_event, NULL); /* after the read model */
  events_listen(metrics_note_event, NULL);
  if (store_truncated_bytes(t.event_log) > 0) {
    struct tend_event ev = {
        .type = EVENTS_LOG_TRUNCATED,
        .runner = "events",
        .bytes = (int64_t)store_truncated_bytes(t.event_log),
        .message = "cut a torn last line from events.jsonl (the daemon was "
                   "killed mid-write)"};
    events_emit(&ev);
  }
  if (t.inotify) {
    char *why = NULL;
    t.reload = reload_new(loop, t.inotify, cfg->file, cfg->include_dir,
                          apply_on_file_changed, NULL, &why);
    if (!t.reload) {
      log_warn("live config reload is off: %s", why ? why : "?");
      free(why);
    }
  }
  statefile_restore(cfg, t.view);
  t.runner_env = (struct runner_env){t.inotify,      t.reg,   t.view,
                                     env_note_group, env_ask, NULL};
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

void
tend_kill_all(void)
{
  registry_signal_groups(t.reg, t.cfg->root, SIGKILL);
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
  registry_free(t.reg); /* runners forgot theirs when they closed */
  t.reg = NULL;
  config_unref(t.cfg); /* the printer may hold it a moment longer */
  t.cfg = NULL;
  free(t.config_error);
  if (t.close_cb)
    t.close_cb(t.close_arg);
}

/* state.json has its last word and the writer is gone. */
static void
on_statefile_closed(void *arg)
{
  t.statefile = NULL;
  on_part_closed(arg);
}

void
tend_close(void (*cb)(void *arg), void *arg)
{
  t.close_cb = cb;
  t.close_arg = arg;
  /* The last word on disk, while every runner's log is still known; the
   * context closes only after it (and any write in flight) is done. */
  t.pending_closes = 2;
  statefile_close(t.statefile, on_statefile_closed, NULL);
  if (t.reload) {
    t.pending_closes++;
    reload_close(t.reload, on_part_closed, NULL);
    t.reload = NULL;
  }
  actor_exit(t.self, ACTOR_REASON_NORMAL, "closed");
  sup_close(t.root, on_part_closed, NULL);
}

/* ------------------------------------------------------------------ */
/* Registries the runners feed                                          */

/* The live pty of a runner that takes input, or NULL with *cause (new)
 * and *err set: -ENOENT no such runner, -EBUSY no pty or not running. */
static struct registry_pty *
pty_of(const char *name, int *err, char **cause)
{
  const struct config_node *n = config_find(t.cfg, name);
  struct registry_pty *p;

  if (!n || n->is_group) {
    *cause = xasprintf("no runner named \"%s\"", name);
    *err = -ENOENT;
    return NULL;
  }
  p = registry_pty(t.reg, name);
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
tend_runner_input(const char *name, const char *data, size_t len, char **cause)
{
  int err = 0, r;
  struct registry_pty *p = pty_of(name, &err, cause);

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
  struct registry_pty *p;

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
    *cause =
        xasprintf("cannot resize the terminal of %s: %s", name, strerror(-r));
    return r == -EINVAL ? -EINVAL : -EBUSY;
  }
  p->cols = cols;
  p->rows = rows;
  return 0;
}

int
tend_is_leader(int pid)
{
  return t.reg ? registry_is_leader(t.reg, pid) : 0;
}

/* ------------------------------------------------------------------ */
/* Reads                                                                */

json_t *
tend_tree_json(void)
{
  return treejson_node(t.cfg->root, 1, t.view, t.reg);
}

json_t *
tend_runner_json(const char *name)
{
  const struct config_node *n = config_find(t.cfg, name);
  if (!n || n->is_group)
    return NULL;
  return treejson_node(n, 0, t.view, t.reg);
}

json_t *
tend_group_json(const char *name)
{
  const struct config_node *n = config_find(t.cfg, name);
  if (!n || !n->is_group)
    return NULL;
  return treejson_node(n, 1, t.view, t.reg);
}

/* Returns the runner's current state from the read model. */
static enum fsm_state
runner_state(const char *name)
{
  return treejson_runner_state(t.view, name);
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
  struct store *st = registry_store(t.reg, name);

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
  struct store *st = registry_store(t.reg, name);
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
tend_reload(struct config_errors *errors)
{
  return apply_reload(&t.cfg, t.root, t.reload, &t.config_error, errors);
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
  w = registry_watch(t.reg, name);
  if (!w || !watch_is_paused(w)) {
    *cause = xasprintf("%s has no paused watch", name);
    return -EBUSY;
  }
  watch_resume(w);
  {
    char *msg = xasprintf("watch of %s resumed by request", name);
    struct tend_event ev = {.type = EVENTS_WATCH_RESUMED,
                            .node = name,
                            .reason = "resumed by request",
                            .message = msg};
    events_emit(&ev);
    free(msg);
  }
  return 0;
}

void
tend_metrics_text(struct buf *out)
{
  struct metrics_tree src = {
      TEND_VERSION,         t.cfg->root,       t.view, t.reg, t.root,
      sup_group_state_name, sup_group_restarts};

  metrics_tree_text(out, &src);
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
