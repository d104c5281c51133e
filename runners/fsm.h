/* fsm: the runner's state machine as a pure table (STYLE.md 9, s6-style).
 *
 * A runner is in one state; an event either maps to (next state, action)
 * or is refused (FSM_ACTION_INVALID) and leaves the state as it is. The
 * runner actor (runners/runner.c) performs the action; nothing here touches
 * libuv or the OS. */
#ifndef TEND_FSM_H
#define TEND_FSM_H

#define FSM_STATE_MAP(X)                                                       \
  X(STOPPED, "stopped")   /* not running and not asked to run */               \
  X(STARTING, "starting") /* alive, readiness check pending */                 \
  X(RUNNING, "running")   /* alive, no readiness check configured */           \
  X(READY, "ready")       /* alive, readiness check passed */                  \
  X(STOPPING, "stopping") /* stop signal sent; waiting for an empty group */   \
  X(EXITED, "exited")   /* the run ended; the supervisor decides what next */  \
  X(BACKOFF, "backoff") /* waiting before the next start */                    \
  X(FAILED, "failed")   /* given up on */

#define FSM_EVENT_MAP(X)                                                       \
  X(START, "start")                 /* start now */                            \
  X(START_LATER, "start_later")     /* start after a backoff delay */          \
  X(BACKOFF_DONE, "backoff_done")   /* the backoff timer fired */              \
  X(SPAWNED, "spawned")             /* running, no readiness check */          \
  X(SPAWNED_PROBE, "spawned_probe") /* running, readiness check armed */       \
  X(SPAWN_FAILED, "spawn_failed")   /* uv_spawn refused (ENOENT, EACCES...) */ \
  X(READY_OK, "ready_ok")           /* readiness check passed */               \
  X(READY_FAILED, "ready_failed")   /* readiness check timed out */            \
  X(UNHEALTHY, "unhealthy")         /* the liveness probe failed too often */  \
  X(EXIT, "exit")                   /* run over: leader reaped, group empty,   \
                                       pipes drained */                        \
  X(STOP, "stop")                   /* stop asked for */                       \
  X(STOP_TIMEOUT, "stop_timeout")   /* stop signal ignored past timeout_ms */  \
  X(FAIL, "fail")                   /* the supervisor gave up on this runner */

#define FSM_ACTION_MAP(X)                                                      \
  X(INVALID, "invalid") /* event refused in this state */                      \
  X(NONE, "none")                                                              \
  X(SPAWN, "spawn")                   /* uv_spawn now */                       \
  X(ARM_BACKOFF, "arm_backoff")       /* start the backoff timer */            \
  X(CANCEL_BACKOFF, "cancel_backoff") /* stop the timer; report stopped */     \
  X(REPORT_STARTED, "report_started") /* tell the supervisor: up */            \
  X(ARM_READY, "arm_ready")           /* start the readiness probe */          \
  X(SIGNAL_STOP, "signal_stop")       /* stop signal to the group + timer */   \
  X(KILL, "kill")                     /* SIGKILL to the group */               \
  X(TERMINATE, "terminate")           /* end a failed run: stop signal, timer, \
                                         its exit reported as a crash */       \
  X(REPORT_EXIT, "report_exit")       /* tell the supervisor: run ended */     \
  X(REPORT_STOPPED, "report_stopped") /* tell the supervisor: stopped */

enum fsm_state {
#define X(N, S) FSM_##N,
  FSM_STATE_MAP(X)
#undef X
      FSM_N_STATES
};

enum fsm_event {
#define X(N, S) FSM_EV_##N,
  FSM_EVENT_MAP(X)
#undef X
      FSM_N_EVENTS
};

enum fsm_action {
#define X(N, S) FSM_ACTION_##N,
  FSM_ACTION_MAP(X)
#undef X
};

struct fsm_step {
  enum fsm_state next;
  enum fsm_action action;
};

/* Returns what event does in state. Refused events keep the state and
 * carry FSM_ACTION_INVALID. */
struct fsm_step fsm_step(enum fsm_state state, enum fsm_event event);

const char *fsm_state_name(enum fsm_state s);
const char *fsm_event_name(enum fsm_event e);
const char *fsm_action_name(enum fsm_action a);
/* Parses a state name; returns 0 or -EINVAL. */
int fsm_state_parse(const char *s, enum fsm_state *out);
/* The state predicates: the one definition of what a runner in a state
 * is and what a user may ask of it. The API (src/tend.c), the tree and
 * event JSON ("can", read by the web UI) and the terminal views use these
 * and keep no lists of state names of their own. Each returns 1 or 0. */

/* A process of the runner is alive (starting, running, ready, stopping). */
int fsm_state_alive(enum fsm_state s);
/* The runner is up and serving: running, or ready after its check. */
int fsm_state_up(enum fsm_state s);
/* "start" is accepted: nothing alive (a backoff wait is cut short). */
int fsm_state_startable(enum fsm_state s);
/* "stop" is accepted: not stopped and not already stopping. */
int fsm_state_stoppable(enum fsm_state s);
/* "signal" is accepted: a process group is there to take it, including
 * while stopping (a KILL for a runner that ignores its stop signal). */
int fsm_state_signalable(enum fsm_state s);
/* Parses a state name and applies pred; an unknown name gives 0. */
int fsm_state_name_is(const char *name, int (*pred)(enum fsm_state));

struct json_t;
/* Returns {"start", "stop", "restart", "signal"} as booleans from the
 * predicates above, for a runner's JSON (a new reference). */
struct json_t *fsm_can_json(enum fsm_state s);

#endif
