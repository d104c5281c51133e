/* sup_fsm: the group transition table. Unlisted (state, event) pairs are
 * refused; the table is the whole truth about what a group may do.
 *
 * Refused pairs are not errors: src/sup.c logs them at debug level and
 * leaves the group as it is (a user's start of a group that already runs,
 * a parent's start while the group gives up). Legal pairs that change
 * nothing carry SUP_FSM_ACTION_NONE (a child's report, an empty queue in
 * a settled state). */
#include "src/sup_fsm.h"

#include <stddef.h>

#include "src/enumname.h"

#define T(FROM, EV, TO, ACT)                                                   \
  [SUP_FSM_##FROM][SUP_FSM_EV_##EV] = {SUP_FSM_##TO, SUP_FSM_ACTION_##ACT}

/* The rows every state shares: the user's commands on one child and the
 * children's reports. A command on a child of a stopped or failed group
 * starts that child, and the group runs again; a stop leaves the group as
 * it is (a failed group whose child is stopped is still failed: it used
 * to read "running"). */
#define CHILD_ROWS(FROM, CHILD_START_TO)                                       \
  T(FROM, USER_CHILD_START, CHILD_START_TO, CHILD_CMD),                        \
      T(FROM, USER_CHILD_STOP, FROM, CHILD_CMD),                               \
      T(FROM, CHILD_UP, FROM, NONE), T(FROM, CHILD_DOWN, FROM, NONE)

/* Designated initialisers leave every other pair as {STOPPED, INVALID};
 * sup_fsm_step() turns INVALID into "stay where you are". */
static const struct sup_fsm_step table[SUP_FSM_N_STATES][SUP_FSM_N_EVENTS] = {
    T(STOPPED, START, STARTING, START_ALL),
    T(STOPPED, STOP, STOPPED, ACK_STOPPED),
    T(STOPPED, USER_START, STARTING, USER_START_ALL),
    T(STOPPED, USER_STOP, STOPPING, HOLD_STOP_ALL),
    T(STOPPED, USER_RESTART, STARTING, RESTART_ALL),
    T(STOPPED, CHILD_EXIT, STOPPED, NONE),
    T(STOPPED, QUEUE_EMPTY, STOPPED, NONE),
    CHILD_ROWS(STOPPED, RUNNING),

    /* A start while starting or running queues starts again: those of
     * children already up are no-ops, the others catch up. */
    T(STARTING, START, STARTING, START_ALL),
    T(STARTING, STOP, STOPPING, STOP_ALL),
    T(STARTING, USER_STOP, STOPPING, HOLD_STOP_ALL),
    T(STARTING, USER_RESTART, STARTING, RESTART_ALL),
    T(STARTING, CHILD_EXIT, STARTING, DECIDE),
    T(STARTING, GIVE_UP, GIVING_UP, GIVE_UP),
    T(STARTING, QUEUE_EMPTY, RUNNING, REPORT_STARTED),
    CHILD_ROWS(STARTING, STARTING),

    T(RUNNING, START, STARTING, START_ALL),
    T(RUNNING, STOP, STOPPING, STOP_ALL),
    T(RUNNING, USER_STOP, STOPPING, HOLD_STOP_ALL),
    T(RUNNING, USER_RESTART, RUNNING, RESTART_ALL),
    T(RUNNING, CHILD_EXIT, RUNNING, DECIDE),
    T(RUNNING, GIVE_UP, GIVING_UP, GIVE_UP),
    T(RUNNING, QUEUE_EMPTY, RUNNING, NONE),
    CHILD_ROWS(RUNNING, RUNNING),

    T(STOPPING, START, STARTING, START_ALL),
    T(STOPPING, STOP, STOPPING, STOP_ALL),
    T(STOPPING, USER_STOP, STOPPING, HOLD_STOP_ALL),
    T(STOPPING, USER_RESTART, STARTING, RESTART_ALL),
    T(STOPPING, CHILD_EXIT, STOPPING, NONE),
    T(STOPPING, QUEUE_EMPTY, STOPPED, REPORT_STOPPED),
    CHILD_ROWS(STOPPING, STOPPING),

    /* A start of a failed group gives it a fresh intensity window. */
    T(FAILED, START, STARTING, START_AFRESH),
    T(FAILED, STOP, STOPPED, ACK_STOPPED),
    T(FAILED, USER_START, STARTING, USER_START_AFRESH),
    T(FAILED, USER_STOP, STOPPING, HOLD_STOP_ALL),
    T(FAILED, USER_RESTART, STARTING, RESTART_ALL),
    T(FAILED, CHILD_EXIT, FAILED, NONE),
    T(FAILED, QUEUE_EMPTY, FAILED, NONE),
    CHILD_ROWS(FAILED, RUNNING),

    /* Giving up ends in FAILED once every child is down, unless a stop or
     * the user's restart of the group comes first. Exits of children are
     * expected (they are being stopped), not decided on. */
    T(GIVING_UP, STOP, STOPPING, STOP_ALL),
    T(GIVING_UP, USER_STOP, STOPPING, HOLD_STOP_ALL),
    T(GIVING_UP, USER_RESTART, STARTING, RESTART_ALL),
    T(GIVING_UP, CHILD_EXIT, GIVING_UP, NONE),
    T(GIVING_UP, QUEUE_EMPTY, FAILED, REPORT_FAILED),
    CHILD_ROWS(GIVING_UP, GIVING_UP),
};

struct sup_fsm_step
sup_fsm_step(enum sup_fsm_state state, enum sup_fsm_event event)
{
  struct sup_fsm_step step = {state, SUP_FSM_ACTION_INVALID};
  if ((unsigned)state >= SUP_FSM_N_STATES ||
      (unsigned)event >= SUP_FSM_N_EVENTS)
    return step;
  if (table[state][event].action == SUP_FSM_ACTION_INVALID)
    return step;
  return table[state][event];
}

static const int state_published[] = {
#define X(N, S, P) P,
    SUP_FSM_STATE_MAP(X)
#undef X
};
static const char *const action_words[] = {
#define X(N, S, W) W,
    SUP_FSM_ACTION_MAP(X)
#undef X
};

/* The names of states, events and actions ("?" when out of range). */
ENUMNAME_NAME_FN(sup_fsm_state, enum sup_fsm_state, SUP_FSM_STATE_MAP,
                 ENUMNAME_PICK3, "?")
ENUMNAME_NAME_FN(sup_fsm_event, enum sup_fsm_event, SUP_FSM_EVENT_MAP,
                 ENUMNAME_PICK2, "?")
ENUMNAME_NAME_FN(sup_fsm_action, enum sup_fsm_action, SUP_FSM_ACTION_MAP,
                 ENUMNAME_PICK3, "?")

const char *
sup_fsm_action_word(enum sup_fsm_action a)
{
  return (unsigned)a < SUP_FSM_N_ACTIONS ? action_words[a] : NULL;
}

int
sup_fsm_state_published(enum sup_fsm_state s)
{
  return (unsigned)s < SUP_FSM_N_STATES && state_published[s];
}

const char *
sup_fsm_published_name(int i)
{
  for (int s = 0; s < SUP_FSM_N_STATES; s++)
    if (state_published[s] && i-- == 0)
      return sup_fsm_state_name((enum sup_fsm_state)s);
  return NULL;
}

int
sup_fsm_state_live(enum sup_fsm_state s)
{
  return s == SUP_FSM_STARTING || s == SUP_FSM_RUNNING;
}
