/* runner: the runner actor.
 *
 * DESIGN
 * A runner owns at most one run at a time (runners/run.c: the child in its
 * own process group, its pipes or pty, the wait for the group to be gone)
 * and the output that outlives the runs (runners/output.c: buffer, log,
 * pubsub, backpressure). When the output says the log is behind, the
 * run's reading stops until it drains: the pipe slows the child. A run is
 * over only when its leader was reaped, its group is empty and its output
 * reached EOF; only then is the exit reported, so output is never lost
 * and no restart overlaps leftovers, which the runner signals like a stop.
 *
 * What the runner needs of the daemon (the inotify service, the registry
 * it announces its log, watch and pty in, the read model, the process
 * group note) comes in the struct runner_env it is created with.
 *
 * States and transitions are the pure table in runners/fsm.c; fire() looks
 * up the step, records the transition as an event and performs the action.
 */
#include "runners/runner.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runners/childenv.h"
#include "runners/fsm.h"
#include "runners/memory.h"
#include "runners/health.h"
#include "runners/output.h"
#include "runners/pty.h"
#include "runners/ready.h"
#include "runners/run.h"
#include "src/events.h"
#include "src/log.h"
#include "src/registry.h"
#include "src/sup.h"
#include "src/sup_policy.h"
#include "src/xalloc.h"
#include "state/recover.h"
#include "state/view.h"
#include "watchers/burst.h"
#include "watchers/watch.h"

struct runner {
  uv_loop_t *loop;
  const struct config *cfg;       /* a reference (config_ref) */
  const struct config_node *spec; /* a node of cfg */
  const struct runner_env *env;
  actor_id self, parent;
  enum fsm_state state;
  struct run *run;
  uv_timer_t timer;     /* backoff, stop timeout */
  uv_timer_t mem_timer; /* max_memory samples while a run is alive */
  struct memory_watch mem;
  char *limit_kill; /* why tend ended the current run (max_memory) */
  struct ready *ready;
  struct health *health; /* liveness probe of the current run */
  /* References to the configs the probes' specs came from: a reload can
   * rebind the runner while a probe still reads its old spec. */
  const struct config *ready_cfg, *health_cfg;
  char *fail_reason;  /* tend is ending this run: ready timeout, unhealthy */
  struct output *out; /* buffer, log and pubsub of the output */

  uint64_t runs;
  int restarts;
  int64_t since_ms;      /* wall clock of the last transition */
  int64_t started_mono;  /* loop time of the last spawn */
  int64_t pending_delay; /* backoff of the start in progress */
  int stop_requested;
  int policy_restart; /* the start in progress is a restart by policy */
  char *spawn_error;
  int last_status, last_signal, has_last_exit;

  struct watch *watch;
  char *changed_paths; /* every changed path, one per line, for the run
                          a change caused */
  char *start_why;     /* why the start in progress happens */
  int start_queued;    /* on_busy queue: start again after this run */

  int open_handles;
  void (*close_cb)(void *);
  void *close_arg;
};

static void fire(struct runner *r, enum fsm_event ev, const char *reason);
static void on_timer(uv_timer_t *t);
static void probes_start(struct runner *r);
static void probes_stop(struct runner *r);
static void terminate_run(struct runner *r, const char *reason);

/* Returns the loop's monotonic time in ms. */
static int64_t
loop_ms(uv_loop_t *loop)
{
  uv_update_time(loop);
  return (int64_t)uv_now(loop);
}

/* Stops reading the run's output until the log drains (output_hooks). */
static void
pause_reading(void *ctx)
{
  struct runner *r = ctx;
  if (r->run)
    run_pause_reading(r->run);
}

/* Reads the run's output again (output_hooks). */
static void
resume_reading(void *ctx)
{
  struct runner *r = ctx;
  if (r->run)
    run_resume_reading(r->run);
}

/* The run is over (run_hooks): write how it ended, let go of it and
 * report the exit. */
static void
on_run_done(void *ctx, int64_t status, int term_signal)
{
  struct runner *r = ctx;
  struct run *run = r->run;
  char text[160], extra[96];

  uv_timer_stop(&r->timer);
  uv_timer_stop(&r->mem_timer);
  output_flush(r->out, 1);
  r->has_last_exit = 1;
  r->last_status = (int)status;
  r->last_signal = term_signal;
  if (term_signal) {
    snprintf(text, sizeof text, "exited on signal %s\n",
             config_signal_name(term_signal));
    snprintf(extra, sizeof extra, "\"event\":\"exit\",\"signal\":\"%s\"",
             config_signal_name(term_signal));
  } else if (r->spec->shell && (status == 127 || status == 126)) {
    /* sh's own codes for a command it could not find or run: the spawn
     * failure of a string cmd (sh printed which one on stderr). */
    snprintf(text, sizeof text, "exited with status %d (%s)\n", (int)status,
             status == 127 ? "sh: command not found"
                           : "sh: command not executable");
    snprintf(extra, sizeof extra, "\"event\":\"exit\",\"status\":%d",
             (int)status);
  } else {
    snprintf(text, sizeof text, "exited with status %d\n", (int)status);
    snprintf(extra, sizeof extra, "\"event\":\"exit\",\"status\":%d",
             (int)status);
  }
  output_marker(r->out, extra, text);
  r->env->note_group(r->env->ctx, r->spec->name, 0, 0);
  registry_set_pty(r->env->registry, r->spec->name, NULL, 0, 0);
  r->run = NULL;
  run_release(run);
  text[strcspn(text, "\n")] = '\0';
  if (r->limit_kill) {
    /* tend ended this run for a limit: say so, not just the signal. */
    char *why = xasprintf("%s (%s)", r->limit_kill, text);
    fire(r, FSM_EV_EXIT, why);
    free(why);
    return;
  }
  fire(r, FSM_EV_EXIT, text);
}

/* libuv reaped the leader (run_hooks): leftovers of a run that ended on
 * its own are stopped like a stop. */
static void
on_run_leader_exit(void *ctx)
{
  struct runner *r = ctx;

  if (run_has_members(r->run) && r->state != FSM_STOPPING) {
    run_signal(r->run, r->spec->stop_signal);
    uv_timer_start(&r->timer, on_timer, (uint64_t)r->spec->stop_timeout_ms, 0);
  }
}

/* Samples the run's group memory; past max_memory for MEMORY_GRACE_MS,
 * ends the run like a crash: stop signal, then KILL after the timeout. */
static void
on_mem_timer(uv_timer_t *t)
{
  struct runner *r = t->data;
  struct run *run = r->run;
  int64_t rss, now;
  char have[32], limit[32];

  if (!run || !run_live(run) || r->limit_kill || r->state == FSM_STOPPING)
    return;
  rss = memory_group_rss(run_pid(run));
  now = loop_ms(r->loop);
  if (!memory_over(&r->mem, rss, r->spec->max_memory, now, MEMORY_GRACE_MS))
    return;
  uv_timer_stop(&r->mem_timer);
  memory_format(rss, have, sizeof have);
  memory_format(r->spec->max_memory, limit, sizeof limit);
  r->limit_kill = xasprintf("memory: %s over max_memory %s for %d s", have,
                            limit, MEMORY_GRACE_MS / 1000);
  {
    struct tend_event ev = {.type = EVENTS_MEMORY_LIMIT,
                            .node = r->spec->name,
                            .runner = r->spec->name,
                            .rss = (int64_t)rss,
                            .max_memory = (int64_t)r->spec->max_memory,
                            .message = r->limit_kill};
    events_emit(&ev);
  }
  run_signal(run,
             r->spec->stop_timeout_ms == 0 ? SIGKILL : r->spec->stop_signal);
  /* on_timer SIGKILLs a run that is still there in a live state. */
  uv_timer_start(&r->timer, on_timer, (uint64_t)r->spec->stop_timeout_ms, 0);
}

static void on_ready(void *ctx, int ok, const char *why);
static void ask_parent(struct runner *r, enum runner_ask what);

/* The command could not start: keeps why (taken) for the status and the
 * exit event, writes the marker and fires SPAWN_FAILED. */
static void
spawn_failed(struct runner *r, char *why)
{
  free(r->spawn_error);
  r->spawn_error = why;
  {
    char *text = xasprintf("spawn failed: %s\n", why);
    json_t *extra =
        json_pack("{s:s, s:s}", "event", "spawn_failed", "error", why);
    char *ex = json_dumps(extra, JSON_COMPACT);
    /* The marker's extra members go inside the chunk object as is. */
    size_t len = strlen(ex);
    ex[len - 1] = '\0';
    output_marker(r->out, ex + 1, text);
    free(ex);
    json_decref(extra);
    text[strlen(text) - 1] = '\0';
    fire(r, FSM_EV_SPAWN_FAILED, text);
    free(text);
  }
}

/* Returns 0 when spec's cwd is a directory, else why not (new): libuv
 * reports a missing cwd as ENOENT, like a missing command. */
static char *
cwd_error(const struct config_node *spec)
{
  struct stat st;
  int serr = stat(spec->cwd, &st) != 0 ? errno : 0;

  if (serr == ENOENT || serr == ENOTDIR)
    return xasprintf("cwd %s does not exist", spec->cwd);
  if (serr)
    return xasprintf("cwd %s: %s", spec->cwd, strerror(serr));
  if (!S_ISDIR(st.st_mode))
    return xasprintf("cwd %s is not a directory", spec->cwd);
  return NULL;
}

/* Starts the child. Fires SPAWNED, SPAWNED_PROBE or SPAWN_FAILED. */
static void
do_spawn(struct runner *r)
{
  struct run_hooks hooks = {on_run_leader_exit, on_run_done, r};
  struct run *run;
  char **env, *why;
  char text[512], extra[64];

  free(r->spawn_error);
  r->spawn_error = NULL;
  free(r->fail_reason);
  r->fail_reason = NULL;
  r->runs++;
  output_set_run(r->out, r->runs);
  if (r->policy_restart)
    r->restarts++;
  r->policy_restart = 0;
  free(r->limit_kill);
  r->limit_kill = NULL;
  r->mem = (struct memory_watch)MEMORY_WATCH_ZERO;
  r->started_mono = loop_ms(r->loop);
  /* Look at the cwd first, so the message says which is missing. */
  if ((why = cwd_error(r->spec)) != NULL) {
    spawn_failed(r, why);
    return;
  }
  env = childenv_build(r->spec, r->cfg->state_dir, r->runs, r->changed_paths,
                       &why);
  if (!env) {
    spawn_failed(r, xasprintf("env_file %s", why));
    free(why);
    return;
  }
  run = run_spawn(r->loop, r->spec, env, r->out, &hooks, &why);
  childenv_free(env);
  if (!run) {
    spawn_failed(r, why);
    return;
  }
  if (r->watch) /* the loop guard links changes that follow a start */
    watch_note_start(r->watch, r->started_mono);
  if (r->spec->max_memory > 0)
    uv_timer_start(&r->mem_timer, on_mem_timer, MEMORY_SAMPLE_MS,
                   MEMORY_SAMPLE_MS);
  r->env->note_group(r->env->ctx, r->spec->name, run_pid(run),
                     recover_proc_start(run_pid(run)));
  r->run = run;
  output_set_pty(r->out, r->spec->pty);
  if (run_master(run))
    registry_set_pty(r->env->registry, r->spec->name, run_master(run),
                     r->spec->pty_cols, r->spec->pty_rows);
  {
    /* The marker says why this run exists: what the supervisor or the
     * user asked, the files that changed, the backoff waited. */
    int n = snprintf(text, sizeof text, "started (pid %d)", run_pid(run));
    const char *sep = ": ";
    if (r->start_why && n < (int)sizeof text) {
      n += snprintf(text + n, sizeof text - (size_t)n, "%s%s", sep,
                    r->start_why);
      sep = "; ";
    }
    if (r->changed_paths && n < (int)sizeof text) {
      n += snprintf(text + n, sizeof text - (size_t)n, "%sfiles changed", sep);
      sep = "; ";
    }
    if (r->pending_delay > 0 && n < (int)sizeof text)
      n +=
          snprintf(text + n, sizeof text - (size_t)n, "%safter %lld ms backoff",
                   sep, (long long)r->pending_delay);
    if (n >= (int)sizeof text - 1)
      n = (int)sizeof text - 2;
    text[n] = '\n';
    text[n + 1] = '\0';
    free(r->start_why);
    r->start_why = NULL;
    free(r->changed_paths); /* only the run the change caused sees them */
    r->changed_paths = NULL;
  }
  snprintf(extra, sizeof extra, "\"event\":\"start\",\"pid\":%d", run_pid(run));
  output_marker(r->out, extra, text);
  r->pending_delay = 0;
  probes_start(r);
  if (r->spec->ready != CONFIG_READY_NONE) {
    fire(r, FSM_EV_SPAWNED_PROBE, NULL);
  } else {
    char pid[48];
    snprintf(pid, sizeof pid, "pid %d", run_pid(run));
    fire(r, FSM_EV_SPAWNED, pid);
  }
}

/* The readiness probe's verdict. */
static void
on_ready(void *ctx, int ok, const char *why)
{
  struct runner *r = ctx;
  r->ready = NULL; /* the probe frees itself after calling back */
  config_unref(r->ready_cfg);
  r->ready_cfg = NULL;
  fire(r, ok ? FSM_EV_READY_OK : FSM_EV_READY_FAILED, why);
}

/* ------------------------------------------------------------------ */
/* Probes: the readiness check (ready.c) and the liveness probe          */
/* (health.c) live with the run; a failed one ends the run as a crash.   */

/* The output cut a chunk: the readiness check may be looking for it. */
static void
on_output_chunk(void *ctx, const char *data, size_t len)
{
  struct runner *r = ctx;
  if (r->ready)
    ready_feed(r->ready, data, len);
}

/* The liveness probe gave up on the run. */
static void
on_unhealthy(void *ctx, const char *why)
{
  struct runner *r = ctx;
  r->health = NULL; /* the probe frees itself after calling back */
  config_unref(r->health_cfg);
  r->health_cfg = NULL;
  fire(r, FSM_EV_UNHEALTHY, why);
}

/* Starts the liveness probe of a run that was just spawned. */
static void
probes_start(struct runner *r)
{
  if (r->run && r->spec->health.kind != CONFIG_PROBE_NONE) {
    r->health =
        health_start(r->loop, r->spec, run_pid(r->run), on_unhealthy, r);
    config_unref(r->health_cfg); /* none: the last probe was stopped */
    r->health_cfg = config_ref(r->cfg);
  }
}

/* Cancels the readiness check and the liveness probe, if running. */
static void
probes_stop(struct runner *r)
{
  ready_cancel(r->ready);
  r->ready = NULL;
  health_stop(r->health);
  r->health = NULL;
  /* A finished probe reads no spec any more (it only closes handles). */
  config_unref(r->ready_cfg);
  config_unref(r->health_cfg);
  r->ready_cfg = r->health_cfg = NULL;
}

/* Ends a run that failed a check: the stop signal to its group, SIGKILL
 * after stop.timeout_ms (on_timer), and its exit is then reported as a
 * crash with this reason, so the restart policy applies. */
static void
terminate_run(struct runner *r, const char *reason)
{
  probes_stop(r);
  free(r->fail_reason);
  r->fail_reason = xstrdup(reason ? reason : "failed check");
  if (!r->run)
    return;
  if (r->spec->stop_timeout_ms == 0) {
    run_signal(r->run, SIGKILL);
  } else {
    run_signal(r->run, r->spec->stop_signal);
    uv_timer_start(&r->timer, on_timer, (uint64_t)r->spec->stop_timeout_ms, 0);
  }
  run_check(r->run);
}

/* The backoff or stop timer fired. */
static void
on_timer(uv_timer_t *t)
{
  struct runner *r = t->data;
  if (r->state == FSM_BACKOFF)
    fire(r, FSM_EV_BACKOFF_DONE, NULL);
  else if (r->state == FSM_STOPPING)
    fire(r, FSM_EV_STOP_TIMEOUT, "stop timeout");
  else if (r->run) /* leftovers of a run that ended on its own */
    run_signal(r->run, SIGKILL);
}

/* Publishes a transition as an event (the read model and the terminal
 * printer follow it). */
static void
record_transition(struct runner *r, enum fsm_state from, enum fsm_event ev,
                  const char *reason)
{
  struct tend_event e = {.type = EVENTS_STATE,
                         .node = r->spec->name,
                         .runner = r->spec->name,
                         .kind = EVENTS_KIND_RUNNER,
                         .from.runner = from,
                         .to.runner = r->state,
                         .event = fsm_event_name(ev),
                         .run = (int64_t)r->runs,
                         .restarts = r->restarts,
                         .reason = reason};

  r->since_ms = events_now_ms();
  if (r->run)
    e.pid = run_pid(r->run);
  if (ev == FSM_EV_SPAWN_FAILED)
    e.spawn_error = r->spawn_error;
  if (ev == FSM_EV_EXIT && r->has_last_exit) { /* a run ended: how */
    e.signal = r->last_signal;
    e.has_status = !r->last_signal;
    e.status = r->last_status;
  }
  if (r->state == FSM_BACKOFF)
    e.next_start_ms = events_now_ms() + r->pending_delay;
  events_emit(&e);
}

/* Applies one event: the table gives the next state and the action. */
static void
fire(struct runner *r, enum fsm_event ev, const char *reason)
{
  struct fsm_step step = fsm_step(r->state, ev);
  enum fsm_state from = r->state;

  if (step.action == FSM_ACTION_INVALID) {
    log_debug("%s: %s ignored in %s", r->spec->name, fsm_event_name(ev),
              fsm_state_name(from));
    return;
  }
  r->state = step.next;
  if (ev == FSM_EV_EXIT && r->fail_reason && !r->stop_requested)
    reason = r->fail_reason; /* the run ended because tend ended it */
  if (from != step.next || ev == FSM_EV_SPAWNED_PROBE ||
      step.action == FSM_ACTION_TERMINATE)
    record_transition(r, from, ev, reason);
  switch (step.action) {
  case FSM_ACTION_SPAWN:
    uv_timer_stop(&r->timer);
    r->stop_requested = 0;
    do_spawn(r);
    break;
  case FSM_ACTION_ARM_BACKOFF:
    uv_timer_start(&r->timer, on_timer, (uint64_t)r->pending_delay, 0);
    break;
  case FSM_ACTION_CANCEL_BACKOFF:
    uv_timer_stop(&r->timer);
    if (ev == FSM_EV_STOP)
      actor_send(r->parent, SUP_MSG_STOPPED, r->self, 0, NULL, NULL);
    break;
  case FSM_ACTION_REPORT_STARTED:
    actor_send(r->parent, SUP_MSG_STARTED, r->self, 0, NULL, NULL);
    break;
  case FSM_ACTION_ARM_READY:
    r->ready = ready_start(r->loop, r->spec, r->run ? run_pid(r->run) : 0,
                           on_ready, r);
    config_unref(r->ready_cfg); /* none: the last probe was stopped */
    r->ready_cfg = config_ref(r->cfg);
    break;
  case FSM_ACTION_TERMINATE:
    terminate_run(r, reason);
    break;
  case FSM_ACTION_SIGNAL_STOP:
    probes_stop(r);
    if (r->spec->stop_timeout_ms == 0) {
      run_signal(r->run, SIGKILL);
    } else {
      run_signal(r->run, r->spec->stop_signal);
      uv_timer_start(&r->timer, on_timer, (uint64_t)r->spec->stop_timeout_ms,
                     0);
    }
    if (r->run)
      run_check(r->run);
    break;
  case FSM_ACTION_KILL:
    run_signal(r->run, SIGKILL);
    break;
  case FSM_ACTION_REPORT_EXIT: {
    enum sup_exit kind;
    probes_stop(r);
    kind = sup_classify(r->spec,
                        ev == FSM_EV_SPAWN_FAILED || r->limit_kill != NULL,
                        r->stop_requested, r->last_status, r->last_signal);
    if (r->fail_reason)
      kind = SUP_EXIT_ABNORMAL; /* whatever status the kill left */
    if (r->watch && ev != FSM_EV_SPAWN_FAILED && !r->stop_requested)
      watch_note_exit(r->watch, loop_ms(r->loop));
    actor_send(r->parent, SUP_MSG_EXITED, r->self, kind,
               xstrdup(reason ? reason : "exited"), free);
    if (r->start_queued) {
      r->start_queued = 0;
      ask_parent(r, RUNNER_ASK_START);
    }
    break;
  }
  case FSM_ACTION_REPORT_STOPPED:
    probes_stop(r);
    actor_send(r->parent, SUP_MSG_STOPPED, r->self, 0, NULL, NULL);
    break;
  default:
    break;
  }
}

/* Asks the supervisor for a user-style command on this runner (a watch
 * or trigger action: not a crash, so it does not count as a restart). */
static void
ask_parent(struct runner *r, enum runner_ask what)
{
  r->env->ask(r->env->ctx, r->parent, r->self, r->spec->name, what);
}

/* The watch saw a burst of changes: act as the spec says. */
static void
on_watch_fire(void *ctx, const char *const *paths, size_t n)
{
  struct runner *r = ctx;
  const struct config_watch *w = &r->spec->watch;
  int alive = fsm_state_alive(r->state);
  json_t *list = json_array();
  char *msg = xasprintf("%zu path(s) changed", n);
  struct tend_event ev = {.type = EVENTS_WATCH_FIRED,
                          .node = r->spec->name,
                          .paths = list,
                          .total = (int64_t)n,
                          .action = config_watch_action_name(w->action),
                          .message = msg};

  for (size_t i = 0; i < n && i < WATCH_PATHS_MAX; i++)
    json_array_append_new(list, json_string(paths[i]));
  events_emit(&ev);
  json_decref(list);
  free(msg);
  free(r->changed_paths);
  r->changed_paths = burst_paths_join(paths, n);
  switch (w->action) {
  case CONFIG_WATCH_SIGNAL:
    free(r->changed_paths);
    r->changed_paths = NULL;
    if (r->run) {
      run_signal(r->run, w->signal);
      watch_note_start(r->watch, loop_ms(r->loop));
    }
    return;
  case CONFIG_WATCH_START:
    if (!alive) {
      ask_parent(r, RUNNER_ASK_START);
    } else if (r->spec->on_busy == CONFIG_ON_BUSY_QUEUE) {
      r->start_queued = 1;
    } else if (r->spec->on_busy == CONFIG_ON_BUSY_RESTART) {
      ask_parent(r, RUNNER_ASK_RESTART);
    } else {
      free(r->changed_paths);
      r->changed_paths = NULL;
    }
    break;
  case CONFIG_WATCH_RESTART:
    ask_parent(r, alive ? RUNNER_ASK_RESTART : RUNNER_ASK_START);
    break;
  }
}

/* The loop guard paused the watch: say so loudly. */
static void
on_watch_paused(void *ctx, const char *const *paths, size_t n,
                const char *reason)
{
  struct runner *r = ctx;
  json_t *list = json_array();
  char *msg = xasprintf("watch of %s paused: %s; resume with `tend resume %s`",
                        r->spec->name, reason, r->spec->name);
  struct tend_event ev = {.type = EVENTS_WATCH_PAUSED,
                          .node = r->spec->name,
                          .paths = list,
                          .reason = reason,
                          .message = msg};

  for (size_t i = 0; i < n; i++)
    json_array_append_new(list, json_string(paths[i]));
  events_emit(&ev);
  json_decref(list);
  free(msg);
}

/* An inotify overflow or watch-limit notice. */
static void
on_watch_notice(void *ctx, enum inotify_kind kind, const char *message)
{
  struct runner *r = ctx;
  struct tend_event ev = {.type = EVENTS_WATCH_OVERFLOW,
                          .node = r->spec->name,
                          .notice_kind = inotify_kind_name(kind),
                          .message = message};
  events_emit(&ev);
}

/* Creates the runner's watch when its spec has one. */
static void
watch_open(struct runner *r)
{
  struct watch_callbacks cbs = {on_watch_fire, on_watch_paused, on_watch_notice,
                                r};
  char *cause = NULL;

  if (!r->spec->watch.enabled || !r->env->inotify)
    return;
  r->watch = watch_new(r->loop, r->env->inotify, &r->spec->watch,
                       r->cfg->state_dir, &cbs, &cause);
  if (!r->watch) {
    events_note(EVENTS_WATCH_ERROR, r->spec->name, "watch of %s: %s",
                r->spec->name, cause ? cause : "cannot watch");
    free(cause);
    return;
  }
  registry_set_watch(r->env->registry, r->spec->name, r->watch);
}

/* Closes the runner's watch (if any). */
static void
watch_drop(struct runner *r)
{
  if (!r->watch)
    return;
  registry_set_watch(r->env->registry, r->spec->name, NULL);
  watch_close(r->watch, NULL, NULL);
  r->watch = NULL;
}

void
runner_rebind(struct runner *r, const struct config *cfg,
              const struct config_node *spec)
{
  int watch_changed = strcmp(r->spec->spec_json, spec->spec_json) != 0;
  if (watch_changed && r->watch && watch_is_paused(r->watch)) {
    struct tend_event ev = {.type = EVENTS_WATCH_RESUMED,
                            .node = r->spec->name,
                            .reason = "config changed",
                            .message = "watch resumed: its runner's config "
                                       "changed"};
    events_emit(&ev);
  }
  if (watch_changed)
    watch_drop(r);
  config_ref(cfg);
  config_unref(r->cfg);
  r->cfg = cfg;
  r->spec = spec;
  if (watch_changed || !r->watch)
    watch_open(r);
}

/* The runner's message handler. */
static void
runner_handle(void *state, actor_id self, const struct actor_msg *m)
{
  struct runner *r = state;
  (void)self;

  switch (m->type) {
  case SUP_MSG_RESTART:
  case SUP_MSG_START:
    r->policy_restart = m->type == SUP_MSG_RESTART;
    free(r->start_why);
    r->start_why = m->data ? xstrdup(m->data) : NULL;
    r->pending_delay = m->arg;
    if (m->arg > 0 && r->state != FSM_BACKOFF)
      fire(r, FSM_EV_START_LATER, NULL);
    else
      fire(r, FSM_EV_START, m->arg > 0 ? NULL : "start");
    break;
  case SUP_MSG_STOP:
    r->stop_requested = 1;
    fire(r, FSM_EV_STOP, "stop requested");
    break;
  case SUP_MSG_FAIL:
    fire(r, FSM_EV_FAIL,
         m->data ? (const char *)m->data : "supervisor gave up");
    break;
  case SUP_MSG_SIGNAL:
    if (r->run)
      run_signal(r->run, (int)m->arg);
    break;
  default:
    break;
  }
}

struct runner *
runner_new(uv_loop_t *loop, const struct config *cfg,
           const struct config_node *spec, actor_id parent,
           const struct runner_env *env)
{
  struct runner *r = xcalloc(1, sizeof *r);
  struct output_hooks hooks = {on_output_chunk, pause_reading, resume_reading,
                               r};

  r->loop = loop;
  r->cfg = config_ref(cfg);
  r->spec = spec;
  r->env = env;
  r->parent = parent;
  r->state = FSM_STOPPED;
  r->since_ms = events_now_ms();
  r->self = actor_spawn(runner_handle, r);
  actor_register(spec->name, r->self);
  uv_timer_init(loop, &r->timer);
  uv_timer_init(loop, &r->mem_timer);
  r->timer.data = r->mem_timer.data = r;
  r->mem = (struct memory_watch)MEMORY_WATCH_ZERO;
  r->out = output_new(loop, cfg->state_dir, spec, &hooks);
  if (output_store(r->out))
    registry_set_store(env->registry, spec->name, output_store(r->out));
  r->runs = output_last_run(r->out);
  {
    /* A previous daemon's counters (state.json, through the read model):
     * runs continue from the highest of the log's and the saved one;
     * restarts are the supervisor's, and a daemon restart is not one. */
    const json_t *st = env->view ? view_status(env->view, spec->name) : NULL;
    json_t *run = json_object_get(st, "run");
    json_t *restarts = json_object_get(st, "restarts");
    if (json_is_integer(run) && json_integer_value(run) > 0 &&
        (uint64_t)json_integer_value(run) > r->runs)
      r->runs = (uint64_t)json_integer_value(run);
    if (json_is_integer(restarts) && json_integer_value(restarts) > 0 &&
        json_integer_value(restarts) < INT_MAX)
      r->restarts = (int)json_integer_value(restarts);
  }
  output_set_run(r->out, r->runs);
  watch_open(r);
  return r;
}

actor_id
runner_id(const struct runner *r)
{
  return r->self;
}

static void on_runner_part_closed(void *arg);

/* A runner's timer is closed. */
static void
on_runner_handle_closed(uv_handle_t *h)
{
  on_runner_part_closed(h->data);
}

/* Counts closed parts (timers, output); frees the runner after the last. */
static void
on_runner_part_closed(void *arg)
{
  struct runner *r = arg;
  if (--r->open_handles > 0)
    return;
  if (r->close_cb)
    r->close_cb(r->close_arg);
  free(r->spawn_error);
  free(r->limit_kill);
  free(r->changed_paths);
  free(r->start_why);
  free(r->fail_reason);
  config_unref(r->cfg);
  free(r);
}

void
runner_close(struct runner *r, void (*cb)(void *arg), void *arg)
{
  r->close_cb = cb;
  r->close_arg = arg;
  actor_exit(r->self, ACTOR_REASON_NORMAL, "closed");
  watch_drop(r);
  {
    /* The last change's paths: stale now. */
    char *file = childenv_changed_file(r->cfg->state_dir, r->spec->name);
    unlink(file);
    free(file);
  }
  probes_stop(r);
  if (r->run) {
    struct run *run = r->run;
    output_flush(r->out, 1);
    registry_set_pty(r->env->registry, r->spec->name, NULL, 0, 0);
    run_signal(run, SIGKILL);
    r->run = NULL;
    /* The process handle must not close before libuv reaped the child,
     * or it is never reaped; a killed child is reaped within a moment,
     * and closing stops libuv's tracking only of the handle. */
    run_release(run);
  }
  if (output_store(r->out))
    registry_set_store(r->env->registry, r->spec->name, NULL);
  r->open_handles = 3;
  uv_close((uv_handle_t *)&r->mem_timer, on_runner_handle_closed);
  uv_close((uv_handle_t *)&r->timer, on_runner_handle_closed);
  output_close(r->out, on_runner_part_closed, r);
}
