/* sup_fsm: the group supervisor's state machine as a pure table
 * (STYLE.md 9, shaped like runners/fsm.h).
 *
 * A group is in one state; an event either maps to (next state, action) or
 * is refused (SUP_FSM_ACTION_INVALID) and leaves the state as it is. The
 * supervisor actor (src/sup.c) fires the events and performs the actions:
 * the steps it queues, the messages it sends, the events it publishes.
 * Nothing here touches libuv, actors or the children.
 *
 * GIVING_UP is a state of its own (the group stops every child before it
 * fails) but not a published one: the API and the events keep showing the
 * state the group gave up from, until the GIVING_UP --queue_empty--> FAILED
 * transition, which is published as "give_up". */
#ifndef TEND_SUP_FSM_H
#define TEND_SUP_FSM_H

/* X(name, string, published): published is 0 only for GIVING_UP. */
#define SUP_FSM_STATE_MAP(X)                                                   \
  X(STOPPED, "stopped", 1)     /* every child down, none asked to run */       \
  X(STARTING, "starting", 1)   /* starting children in order */                \
  X(RUNNING, "running", 1)     /* every child it started is up */              \
  X(STOPPING, "stopping", 1)   /* stopping children in reverse order */        \
  X(FAILED, "failed", 1)       /* gave up: too many restarts in its period */  \
  X(GIVING_UP, "giving_up", 0) /* stopping every child before it fails */

#define SUP_FSM_EVENT_MAP(X)                                                   \
  X(START, "start")           /* the parent starts (or restarts) the group */  \
  X(STOP, "stop")             /* the parent stops the group */                 \
  X(USER_START, "user_start") /* the user starts the whole group */            \
  X(USER_STOP, "user_stop")   /* the user stops the whole group */             \
  X(USER_RESTART, "user_restart") /* the user restarts the whole group */      \
  X(USER_CHILD_START, "user_child_start") /* the user starts or restarts one   \
                                             child */                          \
  X(USER_CHILD_STOP, "user_child_stop")   /* the user stops one child */       \
  X(CHILD_UP, "child_up")                 /* a child reported started */       \
  X(CHILD_DOWN, "child_down")             /* a child reported stopped */       \
  X(CHILD_EXIT, "child_exit")             /* a child's run ended on its own */ \
  X(GIVE_UP, "give_up")         /* policy: too many restarts in the period */  \
  X(QUEUE_EMPTY, "queue_empty") /* the last queued step is done */

/* X(name, string, word): word is the "event" a published transition
 * carries (NULL: the action never changes a published state). */
#define SUP_FSM_ACTION_MAP(X)                                                  \
  X(INVALID, "invalid", NULL) /* event refused in this state */                \
  X(NONE, "none", NULL)                                                        \
  X(START_ALL, "start_all", "start")       /* queue a start of every child */  \
  X(START_AFRESH, "start_afresh", "start") /* forget the intensity window,     \
                                              then START_ALL */                \
  X(USER_START_ALL, "user_start_all", "start") /* release the children the     \
                                                  user held, then START_ALL */ \
  X(USER_START_AFRESH, "user_start_afresh", "start") /* release them, then     \
                                                        START_AFRESH */        \
  X(STOP_ALL, "stop_all", "stop") /* drop the queue, stop all in reverse */    \
  X(HOLD_STOP_ALL, "hold_stop_all", "stop") /* hold every child (no restart    \
                                               by policy), then STOP_ALL */    \
  X(ACK_STOPPED, "ack_stopped", "stop")     /* already down: tell the parent   \
                                               stopped */                      \
  X(RESTART_ALL, "restart_all", "restart")  /* stop all in reverse, start all  \
                                               in order */                     \
  X(CHILD_CMD, "child_cmd", "user") /* run the queue: the user's command on    \
                                       a child is queued already */            \
  X(DECIDE, "decide", NULL)         /* ask sup_decide() what the exit means */ \
  X(GIVE_UP, "give_up", NULL)       /* drop the queue, stop all in reverse */  \
  X(REPORT_STARTED, "report_started", "started") /* tell the parent: up */     \
  X(REPORT_STOPPED, "report_stopped", "stopped") /* tell the parent: down */   \
  X(REPORT_FAILED, "report_failed", "give_up")   /* fail the runners, tell the \
                                                    parent: exited abnormally */

enum sup_fsm_state {
#define X(N, S, P) SUP_FSM_##N,
  SUP_FSM_STATE_MAP(X)
#undef X
      SUP_FSM_N_STATES
};

enum sup_fsm_event {
#define X(N, S) SUP_FSM_EV_##N,
  SUP_FSM_EVENT_MAP(X)
#undef X
      SUP_FSM_N_EVENTS
};

enum sup_fsm_action {
#define X(N, S, W) SUP_FSM_ACTION_##N,
  SUP_FSM_ACTION_MAP(X)
#undef X
      SUP_FSM_N_ACTIONS
};

struct sup_fsm_step {
  enum sup_fsm_state next;
  enum sup_fsm_action action;
};

/* Returns what event does in state. Refused events keep the state and
 * carry SUP_FSM_ACTION_INVALID. */
struct sup_fsm_step sup_fsm_step(enum sup_fsm_state state,
                                 enum sup_fsm_event event);

const char *sup_fsm_state_name(enum sup_fsm_state s);
const char *sup_fsm_event_name(enum sup_fsm_event e);
const char *sup_fsm_action_name(enum sup_fsm_action a);
/* The word a published transition made by action a carries as its
 * "event", or NULL for actions that never change a published state. */
const char *sup_fsm_action_word(enum sup_fsm_action a);
/* Returns 1 for the states the API and the events show (all but
 * GIVING_UP, which keeps showing the state before it). */
int sup_fsm_state_published(enum sup_fsm_state s);
/* The name of published state i (0, 1, ...; NULL past the last), for
 * /metrics. */
const char *sup_fsm_published_name(int i);
/* Returns 1 for the states in which the group runs its children (starts
 * new ones after a reload). */
int sup_fsm_state_live(enum sup_fsm_state s);

#endif
