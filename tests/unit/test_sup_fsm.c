/* Unit tests for src/sup_fsm.c: every legal transition of the group table,
 * every other (state, event) pair refused in place, names, published words
 * and states. The expected table is written out here on its own, so a
 * change to src/sup_fsm.c must be made on purpose in both. */
#include <criterion/criterion.h>

#include <string.h>

#include "src/sup_fsm.h"

struct legal {
  enum sup_fsm_state from;
  enum sup_fsm_event event;
  enum sup_fsm_state to;
  enum sup_fsm_action action;
};

#define L(FROM, EV, TO, ACT)                                                   \
  {                                                                            \
    SUP_FSM_##FROM, SUP_FSM_EV_##EV, SUP_FSM_##TO, SUP_FSM_ACTION_##ACT        \
  }
#define L_CHILD(FROM, CHILD_START_TO)                                          \
  L(FROM, USER_CHILD_START, CHILD_START_TO, CHILD_CMD),                        \
      L(FROM, USER_CHILD_STOP, FROM, CHILD_CMD),                               \
      L(FROM, CHILD_UP, FROM, NONE), L(FROM, CHILD_DOWN, FROM, NONE)

static const struct legal legal[] = {
    L(STOPPED, START, STARTING, START_ALL),
    L(STOPPED, STOP, STOPPED, ACK_STOPPED),
    L(STOPPED, USER_START, STARTING, USER_START_ALL),
    L(STOPPED, USER_STOP, STOPPING, HOLD_STOP_ALL),
    L(STOPPED, USER_RESTART, STARTING, RESTART_ALL),
    L(STOPPED, CHILD_EXIT, STOPPED, NONE),
    L(STOPPED, QUEUE_EMPTY, STOPPED, NONE),
    L_CHILD(STOPPED, RUNNING),

    L(STARTING, START, STARTING, START_ALL),
    L(STARTING, STOP, STOPPING, STOP_ALL),
    L(STARTING, USER_STOP, STOPPING, HOLD_STOP_ALL),
    L(STARTING, USER_RESTART, STARTING, RESTART_ALL),
    L(STARTING, CHILD_EXIT, STARTING, DECIDE),
    L(STARTING, GIVE_UP, GIVING_UP, GIVE_UP),
    L(STARTING, QUEUE_EMPTY, RUNNING, REPORT_STARTED),
    L_CHILD(STARTING, STARTING),

    L(RUNNING, START, STARTING, START_ALL),
    L(RUNNING, STOP, STOPPING, STOP_ALL),
    L(RUNNING, USER_STOP, STOPPING, HOLD_STOP_ALL),
    L(RUNNING, USER_RESTART, RUNNING, RESTART_ALL),
    L(RUNNING, CHILD_EXIT, RUNNING, DECIDE),
    L(RUNNING, GIVE_UP, GIVING_UP, GIVE_UP),
    L(RUNNING, QUEUE_EMPTY, RUNNING, NONE),
    L_CHILD(RUNNING, RUNNING),

    L(STOPPING, START, STARTING, START_ALL),
    L(STOPPING, STOP, STOPPING, STOP_ALL),
    L(STOPPING, USER_STOP, STOPPING, HOLD_STOP_ALL),
    L(STOPPING, USER_RESTART, STARTING, RESTART_ALL),
    L(STOPPING, CHILD_EXIT, STOPPING, NONE),
    L(STOPPING, QUEUE_EMPTY, STOPPED, REPORT_STOPPED),
    L_CHILD(STOPPING, STOPPING),

    L(FAILED, START, STARTING, START_AFRESH),
    L(FAILED, STOP, STOPPED, ACK_STOPPED),
    L(FAILED, USER_START, STARTING, USER_START_AFRESH),
    L(FAILED, USER_STOP, STOPPING, HOLD_STOP_ALL),
    L(FAILED, USER_RESTART, STARTING, RESTART_ALL),
    L(FAILED, CHILD_EXIT, FAILED, NONE),
    L(FAILED, QUEUE_EMPTY, FAILED, NONE),
    L_CHILD(FAILED, RUNNING),

    L(GIVING_UP, STOP, STOPPING, STOP_ALL),
    L(GIVING_UP, USER_STOP, STOPPING, HOLD_STOP_ALL),
    L(GIVING_UP, USER_RESTART, STARTING, RESTART_ALL),
    L(GIVING_UP, CHILD_EXIT, GIVING_UP, NONE),
    L(GIVING_UP, QUEUE_EMPTY, FAILED, REPORT_FAILED),
    L_CHILD(GIVING_UP, GIVING_UP),
};
#define N_LEGAL (sizeof legal / sizeof *legal)

/* Returns the expected entry for (s, e), or NULL when it must be refused. */
static const struct legal *
find_legal(enum sup_fsm_state s, enum sup_fsm_event e)
{
  for (size_t i = 0; i < N_LEGAL; i++)
    if (legal[i].from == s && legal[i].event == e)
      return &legal[i];
  return NULL;
}

Test(sup_fsm, every_pair_is_the_expected_one)
{
  size_t refused = 0, allowed = 0;

  for (int s = 0; s < SUP_FSM_N_STATES; s++) {
    for (int e = 0; e < SUP_FSM_N_EVENTS; e++) {
      enum sup_fsm_state st = (enum sup_fsm_state)s;
      enum sup_fsm_event ev = (enum sup_fsm_event)e;
      struct sup_fsm_step got = sup_fsm_step(st, ev);
      const struct legal *want = find_legal(st, ev);
      if (want) {
        cr_expect_eq(got.next, want->to, "%s --%s--> %s, want %s",
                     sup_fsm_state_name(st), sup_fsm_event_name(ev),
                     sup_fsm_state_name(got.next),
                     sup_fsm_state_name(want->to));
        cr_expect_eq(got.action, want->action, "%s --%s--> %s, want %s",
                     sup_fsm_state_name(st), sup_fsm_event_name(ev),
                     sup_fsm_action_name(got.action),
                     sup_fsm_action_name(want->action));
        allowed++;
        continue;
      }
      cr_expect_eq(got.action, SUP_FSM_ACTION_INVALID, "%s --%s--> %s allowed",
                   sup_fsm_state_name(st), sup_fsm_event_name(ev),
                   sup_fsm_action_name(got.action));
      cr_expect_eq(got.next, st, "%s/%s moved to %s", sup_fsm_state_name(st),
                   sup_fsm_event_name(ev), sup_fsm_state_name(got.next));
      refused++;
    }
  }
  cr_expect_eq(allowed, N_LEGAL);
  cr_expect_eq(refused + allowed, (size_t)SUP_FSM_N_STATES * SUP_FSM_N_EVENTS);
}

Test(sup_fsm, legal_table_has_no_duplicates)
{
  for (size_t i = 0; i < N_LEGAL; i++)
    for (size_t j = i + 1; j < N_LEGAL; j++)
      cr_expect(legal[i].from != legal[j].from ||
                    legal[i].event != legal[j].event,
                "rows %zu and %zu", i, j);
}

Test(sup_fsm, out_of_range_inputs_are_refused)
{
  struct sup_fsm_step st = sup_fsm_step(SUP_FSM_RUNNING, SUP_FSM_N_EVENTS);
  cr_expect_eq(st.action, SUP_FSM_ACTION_INVALID);
  cr_expect_eq(st.next, SUP_FSM_RUNNING);
  st = sup_fsm_step(SUP_FSM_N_STATES, SUP_FSM_EV_START);
  cr_expect_eq(st.action, SUP_FSM_ACTION_INVALID);
  st = sup_fsm_step((enum sup_fsm_state) - 1, SUP_FSM_EV_START);
  cr_expect_eq(st.action, SUP_FSM_ACTION_INVALID);
  st = sup_fsm_step(SUP_FSM_STOPPED, (enum sup_fsm_event) - 1);
  cr_expect_eq(st.action, SUP_FSM_ACTION_INVALID);
  cr_expect_eq(st.next, SUP_FSM_STOPPED);
}

Test(sup_fsm, every_state_reachable_from_stopped)
{
  int seen[SUP_FSM_N_STATES] = {0};
  int changed = 1;

  seen[SUP_FSM_STOPPED] = 1;
  while (changed) {
    changed = 0;
    for (int s = 0; s < SUP_FSM_N_STATES; s++) {
      if (!seen[s])
        continue;
      for (int e = 0; e < SUP_FSM_N_EVENTS; e++) {
        struct sup_fsm_step st =
            sup_fsm_step((enum sup_fsm_state)s, (enum sup_fsm_event)e);
        if (st.action != SUP_FSM_ACTION_INVALID && !seen[st.next]) {
          seen[st.next] = 1;
          changed = 1;
        }
      }
    }
  }
  for (int s = 0; s < SUP_FSM_N_STATES; s++)
    cr_expect(seen[s], "%s unreachable",
              sup_fsm_state_name((enum sup_fsm_state)s));
}

/* Issue 14: a user's stop of one child never changes the group's state;
 * in a failed group it used to read "failed --user--> running". */
Test(sup_fsm, a_child_stop_never_moves_the_group)
{
  for (int s = 0; s < SUP_FSM_N_STATES; s++) {
    struct sup_fsm_step st =
        sup_fsm_step((enum sup_fsm_state)s, SUP_FSM_EV_USER_CHILD_STOP);
    cr_expect_eq(st.next, (enum sup_fsm_state)s, "%s",
                 sup_fsm_state_name((enum sup_fsm_state)s));
    cr_expect_eq(st.action, SUP_FSM_ACTION_CHILD_CMD);
  }
}

/* Children's reports and the user's commands on one child are legal in
 * every state: the shell never has to check the state before firing. */
Test(sup_fsm, reports_and_child_commands_are_legal_everywhere)
{
  static const enum sup_fsm_event always[] = {
      SUP_FSM_EV_USER_CHILD_START, SUP_FSM_EV_USER_CHILD_STOP,
      SUP_FSM_EV_CHILD_UP,         SUP_FSM_EV_CHILD_DOWN,
      SUP_FSM_EV_CHILD_EXIT,       SUP_FSM_EV_USER_STOP,
      SUP_FSM_EV_USER_RESTART,     SUP_FSM_EV_STOP,
      SUP_FSM_EV_QUEUE_EMPTY,
  };
  for (int s = 0; s < SUP_FSM_N_STATES; s++)
    for (size_t i = 0; i < sizeof always / sizeof *always; i++)
      cr_expect_neq(sup_fsm_step((enum sup_fsm_state)s, always[i]).action,
                    SUP_FSM_ACTION_INVALID, "%s/%s refused",
                    sup_fsm_state_name((enum sup_fsm_state)s),
                    sup_fsm_event_name(always[i]));
}

/* Only a live group asks policy about an exit, and only policy's verdict
 * moves a group to GIVING_UP. */
Test(sup_fsm, only_live_groups_decide_and_give_up)
{
  for (int s = 0; s < SUP_FSM_N_STATES; s++) {
    enum sup_fsm_state st = (enum sup_fsm_state)s;
    int live = sup_fsm_state_live(st);
    cr_expect_eq(sup_fsm_step(st, SUP_FSM_EV_CHILD_EXIT).action ==
                     SUP_FSM_ACTION_DECIDE,
                 live, "%s", sup_fsm_state_name(st));
    cr_expect_eq(sup_fsm_step(st, SUP_FSM_EV_GIVE_UP).action !=
                     SUP_FSM_ACTION_INVALID,
                 live, "%s", sup_fsm_state_name(st));
  }
}

Test(sup_fsm, a_give_up_and_a_fresh_start)
{
  static const struct {
    enum sup_fsm_event ev;
    enum sup_fsm_state to;
    enum sup_fsm_action act;
  } steps[] = {
      {SUP_FSM_EV_START, SUP_FSM_STARTING, SUP_FSM_ACTION_START_ALL},
      {SUP_FSM_EV_CHILD_UP, SUP_FSM_STARTING, SUP_FSM_ACTION_NONE},
      {SUP_FSM_EV_QUEUE_EMPTY, SUP_FSM_RUNNING, SUP_FSM_ACTION_REPORT_STARTED},
      {SUP_FSM_EV_CHILD_EXIT, SUP_FSM_RUNNING, SUP_FSM_ACTION_DECIDE},
      {SUP_FSM_EV_GIVE_UP, SUP_FSM_GIVING_UP, SUP_FSM_ACTION_GIVE_UP},
      {SUP_FSM_EV_CHILD_DOWN, SUP_FSM_GIVING_UP, SUP_FSM_ACTION_NONE},
      {SUP_FSM_EV_QUEUE_EMPTY, SUP_FSM_FAILED, SUP_FSM_ACTION_REPORT_FAILED},
      {SUP_FSM_EV_USER_CHILD_STOP, SUP_FSM_FAILED, SUP_FSM_ACTION_CHILD_CMD},
      {SUP_FSM_EV_START, SUP_FSM_STARTING, SUP_FSM_ACTION_START_AFRESH},
      {SUP_FSM_EV_STOP, SUP_FSM_STOPPING, SUP_FSM_ACTION_STOP_ALL},
      {SUP_FSM_EV_QUEUE_EMPTY, SUP_FSM_STOPPED, SUP_FSM_ACTION_REPORT_STOPPED},
  };
  enum sup_fsm_state s = SUP_FSM_STOPPED;
  for (size_t i = 0; i < sizeof steps / sizeof *steps; i++) {
    struct sup_fsm_step st = sup_fsm_step(s, steps[i].ev);
    cr_assert_eq(st.next, steps[i].to, "step %zu", i);
    cr_assert_eq(st.action, steps[i].act, "step %zu", i);
    s = st.next;
  }
}

Test(sup_fsm, published_states_and_words)
{
  static const char *const want[] = {"stopped", "starting", "running",
                                     "stopping", "failed"};
  for (int i = 0; i < 5; i++)
    cr_expect_str_eq(sup_fsm_published_name(i), want[i]);
  cr_expect_null(sup_fsm_published_name(5));
  cr_expect_null(sup_fsm_published_name(-1));
  cr_expect_not(sup_fsm_state_published(SUP_FSM_GIVING_UP));
  cr_expect(sup_fsm_state_published(SUP_FSM_FAILED));
  cr_expect_not(sup_fsm_state_published(SUP_FSM_N_STATES));
  /* The words the events log has always carried. */
  cr_expect_str_eq(sup_fsm_action_word(SUP_FSM_ACTION_REPORT_FAILED),
                   "give_up");
  cr_expect_str_eq(sup_fsm_action_word(SUP_FSM_ACTION_REPORT_STARTED),
                   "started");
  cr_expect_str_eq(sup_fsm_action_word(SUP_FSM_ACTION_REPORT_STOPPED),
                   "stopped");
  cr_expect_str_eq(sup_fsm_action_word(SUP_FSM_ACTION_CHILD_CMD), "user");
  cr_expect_str_eq(sup_fsm_action_word(SUP_FSM_ACTION_RESTART_ALL), "restart");
  cr_expect_str_eq(sup_fsm_action_word(SUP_FSM_ACTION_START_AFRESH), "start");
  cr_expect_str_eq(sup_fsm_action_word(SUP_FSM_ACTION_ACK_STOPPED), "stop");
  cr_expect_null(sup_fsm_action_word(SUP_FSM_N_ACTIONS));
  /* Every action that can change a published state carries a word. */
  for (size_t i = 0; i < N_LEGAL; i++)
    if (legal[i].from != legal[i].to && sup_fsm_state_published(legal[i].to))
      cr_expect_not_null(sup_fsm_action_word(legal[i].action), "%s",
                         sup_fsm_action_name(legal[i].action));
}

Test(sup_fsm, names)
{
  cr_expect_str_eq(sup_fsm_state_name(SUP_FSM_GIVING_UP), "giving_up");
  cr_expect_str_eq(sup_fsm_state_name(SUP_FSM_N_STATES), "?");
  cr_expect_str_eq(sup_fsm_event_name(SUP_FSM_EV_QUEUE_EMPTY), "queue_empty");
  cr_expect_str_eq(sup_fsm_event_name(SUP_FSM_N_EVENTS), "?");
  cr_expect_str_eq(sup_fsm_action_name(SUP_FSM_ACTION_GIVE_UP), "give_up");
  cr_expect_str_eq(sup_fsm_action_name(SUP_FSM_N_ACTIONS), "?");
  for (int s = 0; s < SUP_FSM_N_STATES; s++)
    for (int t = s + 1; t < SUP_FSM_N_STATES; t++)
      cr_expect_str_neq(sup_fsm_state_name((enum sup_fsm_state)s),
                        sup_fsm_state_name((enum sup_fsm_state)t));
  for (int e = 0; e < SUP_FSM_N_EVENTS; e++)
    for (int f = e + 1; f < SUP_FSM_N_EVENTS; f++)
      cr_expect_str_neq(sup_fsm_event_name((enum sup_fsm_event)e),
                        sup_fsm_event_name((enum sup_fsm_event)f));
}
