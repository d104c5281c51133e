/* fsm: the runner transition table. Unlisted (state, event) pairs are
 * refused; the table is the whole truth about what a runner may do. */
#include "runners/fsm.h"

#include <errno.h>
#include <jansson.h>
#include <string.h>

#include "src/enumname.h"

#define T(FROM, EV, TO, ACT)                                                   \
  [FSM_##FROM][FSM_EV_##EV] = {FSM_##TO, FSM_ACTION_##ACT}

/* Designated initialisers leave every other pair as {STOPPED, INVALID};
 * fsm_step() turns INVALID into "stay where you are". */
static const struct fsm_step table[FSM_N_STATES][FSM_N_EVENTS] = {
    T(STOPPED, START, STARTING, SPAWN),
    T(STOPPED, START_LATER, BACKOFF, ARM_BACKOFF),
    T(STOPPED, STOP, STOPPED, REPORT_STOPPED),
    T(STOPPED, FAIL, FAILED, NONE),

    T(EXITED, START, STARTING, SPAWN),
    T(EXITED, START_LATER, BACKOFF, ARM_BACKOFF),
    T(EXITED, STOP, STOPPED, REPORT_STOPPED),
    T(EXITED, FAIL, FAILED, NONE),

    T(FAILED, START, STARTING, SPAWN),
    T(FAILED, START_LATER, BACKOFF, ARM_BACKOFF),
    T(FAILED, STOP, FAILED, REPORT_STOPPED),
    T(FAILED, FAIL, FAILED, NONE),

    T(BACKOFF, BACKOFF_DONE, STARTING, SPAWN),
    T(BACKOFF, START, STARTING, SPAWN), /* skip the rest of the wait */
    T(BACKOFF, STOP, STOPPED, CANCEL_BACKOFF),
    T(BACKOFF, FAIL, FAILED, CANCEL_BACKOFF),

    T(STARTING, SPAWNED, RUNNING, REPORT_STARTED),
    T(STARTING, SPAWNED_PROBE, STARTING, ARM_READY),
    T(STARTING, SPAWN_FAILED, EXITED, REPORT_EXIT),
    T(STARTING, READY_OK, READY, REPORT_STARTED),
    /* A failed check ends the run as a crash (the supervisor's restart
     * policy decides), not as a stop: the state stays until the exit. */
    T(STARTING, READY_FAILED, STARTING, TERMINATE),
    T(STARTING, UNHEALTHY, STARTING, TERMINATE),
    T(STARTING, EXIT, EXITED, REPORT_EXIT),
    T(STARTING, STOP, STOPPING, SIGNAL_STOP),

    T(RUNNING, EXIT, EXITED, REPORT_EXIT),
    T(RUNNING, STOP, STOPPING, SIGNAL_STOP),
    T(RUNNING, UNHEALTHY, RUNNING, TERMINATE),

    T(READY, EXIT, EXITED, REPORT_EXIT),
    T(READY, STOP, STOPPING, SIGNAL_STOP),
    T(READY, UNHEALTHY, READY, TERMINATE),

    T(STOPPING, STOP_TIMEOUT, STOPPING, KILL),
    T(STOPPING, STOP, STOPPING, NONE),
    T(STOPPING, EXIT, STOPPED, REPORT_STOPPED),
};

struct fsm_step
fsm_step(enum fsm_state state, enum fsm_event event)
{
  struct fsm_step step = {state, FSM_ACTION_INVALID};
  if ((unsigned)state >= FSM_N_STATES || (unsigned)event >= FSM_N_EVENTS)
    return step;
  if (table[state][event].action == FSM_ACTION_INVALID)
    return step;
  return table[state][event];
}

/* The names of states, events and actions ("?" when out of range), and
 * the parser of state names (0 or -EINVAL). */
ENUMNAME_DEFINE(fsm_state, enum fsm_state, FSM_STATE_MAP, ENUMNAME_PICK2, "?")
ENUMNAME_NAME_FN(fsm_event, enum fsm_event, FSM_EVENT_MAP, ENUMNAME_PICK2, "?")
ENUMNAME_NAME_FN(fsm_action, enum fsm_action, FSM_ACTION_MAP, ENUMNAME_PICK2,
                 "?")

int
fsm_state_alive(enum fsm_state s)
{
  return s == FSM_STARTING || s == FSM_RUNNING || s == FSM_READY ||
         s == FSM_STOPPING;
}

int
fsm_state_up(enum fsm_state s)
{
  return s == FSM_RUNNING || s == FSM_READY;
}

int
fsm_state_startable(enum fsm_state s)
{
  return (unsigned)s < FSM_N_STATES && !fsm_state_alive(s);
}

int
fsm_state_stoppable(enum fsm_state s)
{
  return (unsigned)s < FSM_N_STATES && s != FSM_STOPPED && s != FSM_STOPPING;
}

int
fsm_state_signalable(enum fsm_state s)
{
  return fsm_state_alive(s);
}

int
fsm_state_name_is(const char *name, int (*pred)(enum fsm_state))
{
  enum fsm_state s;
  return name && fsm_state_parse(name, &s) == 0 && pred(s);
}

struct json_t *
fsm_can_json(enum fsm_state s)
{
  /* Restart is accepted in every state: it starts a runner that is down. */
  return json_pack("{s:b, s:b, s:b, s:b}", "start", fsm_state_startable(s),
                   "stop", fsm_state_stoppable(s), "restart", 1, "signal",
                   fsm_state_signalable(s));
}
