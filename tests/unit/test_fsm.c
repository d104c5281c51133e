/* Unit tests for runners/fsm.c: every legal transition of the runner table,
 * every other (state, event) pair refused, names that round-trip, and which
 * states hold a live process. The expected table is written out here on its
 * own, so a change to runners/fsm.c must be made on purpose in both. */
#include <criterion/criterion.h>

#include <errno.h>
#include <jansson.h>
#include <string.h>

#include "runners/fsm.h"

struct legal {
  enum fsm_state from;
  enum fsm_event event;
  enum fsm_state to;
  enum fsm_action action;
};

#define L(FROM, EV, TO, ACT)                                                   \
  {                                                                            \
    FSM_##FROM, FSM_EV_##EV, FSM_##TO, FSM_ACTION_##ACT                        \
  }

static const struct legal legal[] = {
    L(STOPPED, START, STARTING, SPAWN),
    L(STOPPED, START_LATER, BACKOFF, ARM_BACKOFF),
    L(STOPPED, STOP, STOPPED, REPORT_STOPPED),
    L(STOPPED, FAIL, FAILED, NONE),

    L(EXITED, START, STARTING, SPAWN),
    L(EXITED, START_LATER, BACKOFF, ARM_BACKOFF),
    L(EXITED, STOP, STOPPED, REPORT_STOPPED),
    L(EXITED, FAIL, FAILED, NONE),

    L(FAILED, START, STARTING, SPAWN),
    L(FAILED, START_LATER, BACKOFF, ARM_BACKOFF),
    L(FAILED, STOP, FAILED, REPORT_STOPPED),
    L(FAILED, FAIL, FAILED, NONE),

    L(BACKOFF, BACKOFF_DONE, STARTING, SPAWN),
    L(BACKOFF, START, STARTING, SPAWN),
    L(BACKOFF, STOP, STOPPED, CANCEL_BACKOFF),
    L(BACKOFF, FAIL, FAILED, CANCEL_BACKOFF),

    L(STARTING, SPAWNED, RUNNING, REPORT_STARTED),
    L(STARTING, SPAWNED_PROBE, STARTING, ARM_READY),
    L(STARTING, SPAWN_FAILED, EXITED, REPORT_EXIT),
    L(STARTING, READY_OK, READY, REPORT_STARTED),
    L(STARTING, READY_FAILED, STARTING, TERMINATE),
    L(STARTING, UNHEALTHY, STARTING, TERMINATE),
    L(STARTING, EXIT, EXITED, REPORT_EXIT),
    L(STARTING, STOP, STOPPING, SIGNAL_STOP),

    L(RUNNING, EXIT, EXITED, REPORT_EXIT),
    L(RUNNING, STOP, STOPPING, SIGNAL_STOP),
    L(RUNNING, UNHEALTHY, RUNNING, TERMINATE),

    L(READY, EXIT, EXITED, REPORT_EXIT),
    L(READY, STOP, STOPPING, SIGNAL_STOP),
    L(READY, UNHEALTHY, READY, TERMINATE),

    L(STOPPING, STOP_TIMEOUT, STOPPING, KILL),
    L(STOPPING, STOP, STOPPING, NONE),
    L(STOPPING, EXIT, STOPPED, REPORT_STOPPED),
};
#define N_LEGAL (sizeof legal / sizeof *legal)

/* Returns the expected entry for (s, e), or NULL when it must be refused. */
static const struct legal *
find_legal(enum fsm_state s, enum fsm_event e)
{
  for (size_t i = 0; i < N_LEGAL; i++)
    if (legal[i].from == s && legal[i].event == e)
      return &legal[i];
  return NULL;
}

Test(fsm, every_legal_transition)
{
  for (size_t i = 0; i < N_LEGAL; i++) {
    const struct legal *l = &legal[i];
    struct fsm_step st = fsm_step(l->from, l->event);
    cr_expect_eq(st.next, l->to, "%s --%s--> %s, want %s",
                 fsm_state_name(l->from), fsm_event_name(l->event),
                 fsm_state_name(st.next), fsm_state_name(l->to));
    cr_expect_eq(st.action, l->action, "%s --%s--> action %s, want %s",
                 fsm_state_name(l->from), fsm_event_name(l->event),
                 fsm_action_name(st.action), fsm_action_name(l->action));
  }
}

Test(fsm, every_other_pair_is_refused_in_place)
{
  size_t refused = 0, allowed = 0;

  for (int s = 0; s < FSM_N_STATES; s++) {
    for (int e = 0; e < FSM_N_EVENTS; e++) {
      struct fsm_step st = fsm_step((enum fsm_state)s, (enum fsm_event)e);
      if (find_legal((enum fsm_state)s, (enum fsm_event)e)) {
        cr_expect_neq(st.action, FSM_ACTION_INVALID, "%s/%s refused",
                      fsm_state_name((enum fsm_state)s),
                      fsm_event_name((enum fsm_event)e));
        allowed++;
        continue;
      }
      cr_expect_eq(st.action, FSM_ACTION_INVALID, "%s --%s--> %s (%s) allowed",
                   fsm_state_name((enum fsm_state)s),
                   fsm_event_name((enum fsm_event)e), fsm_state_name(st.next),
                   fsm_action_name(st.action));
      cr_expect_eq(st.next, (enum fsm_state)s, "%s/%s moved to %s",
                   fsm_state_name((enum fsm_state)s),
                   fsm_event_name((enum fsm_event)e), fsm_state_name(st.next));
      refused++;
    }
  }
  cr_expect_eq(allowed, N_LEGAL);
  cr_expect_eq(refused + allowed, (size_t)FSM_N_STATES * FSM_N_EVENTS);
}

Test(fsm, out_of_range_inputs_are_refused)
{
  struct fsm_step st = fsm_step(FSM_RUNNING, FSM_N_EVENTS);
  cr_expect_eq(st.action, FSM_ACTION_INVALID);
  cr_expect_eq(st.next, FSM_RUNNING);
  st = fsm_step(FSM_N_STATES, FSM_EV_START);
  cr_expect_eq(st.action, FSM_ACTION_INVALID);
  st = fsm_step((enum fsm_state) - 1, FSM_EV_START);
  cr_expect_eq(st.action, FSM_ACTION_INVALID);
  st = fsm_step(FSM_STOPPED, (enum fsm_event) - 1);
  cr_expect_eq(st.action, FSM_ACTION_INVALID);
  cr_expect_eq(st.next, FSM_STOPPED);
}

Test(fsm, legal_table_has_no_duplicates)
{
  for (size_t i = 0; i < N_LEGAL; i++)
    for (size_t j = i + 1; j < N_LEGAL; j++)
      cr_expect(legal[i].from != legal[j].from ||
                    legal[i].event != legal[j].event,
                "rows %zu and %zu", i, j);
}

Test(fsm, every_state_reachable_from_stopped)
{
  int seen[FSM_N_STATES] = {0};
  int changed = 1;

  seen[FSM_STOPPED] = 1;
  while (changed) {
    changed = 0;
    for (int s = 0; s < FSM_N_STATES; s++) {
      if (!seen[s])
        continue;
      for (int e = 0; e < FSM_N_EVENTS; e++) {
        struct fsm_step st = fsm_step((enum fsm_state)s, (enum fsm_event)e);
        if (st.action != FSM_ACTION_INVALID && !seen[st.next]) {
          seen[st.next] = 1;
          changed = 1;
        }
      }
    }
  }
  for (int s = 0; s < FSM_N_STATES; s++)
    cr_expect(seen[s], "%s unreachable", fsm_state_name((enum fsm_state)s));
}

Test(fsm, a_typical_life)
{
  /* start with a probe, get ready, be stopped, time out, get reaped */
  static const struct {
    enum fsm_event ev;
    enum fsm_state to;
    enum fsm_action act;
  } steps[] = {
      {FSM_EV_START, FSM_STARTING, FSM_ACTION_SPAWN},
      {FSM_EV_SPAWNED_PROBE, FSM_STARTING, FSM_ACTION_ARM_READY},
      {FSM_EV_READY_OK, FSM_READY, FSM_ACTION_REPORT_STARTED},
      {FSM_EV_EXIT, FSM_EXITED, FSM_ACTION_REPORT_EXIT},
      {FSM_EV_START_LATER, FSM_BACKOFF, FSM_ACTION_ARM_BACKOFF},
      {FSM_EV_BACKOFF_DONE, FSM_STARTING, FSM_ACTION_SPAWN},
      {FSM_EV_SPAWNED, FSM_RUNNING, FSM_ACTION_REPORT_STARTED},
      {FSM_EV_STOP, FSM_STOPPING, FSM_ACTION_SIGNAL_STOP},
      {FSM_EV_STOP_TIMEOUT, FSM_STOPPING, FSM_ACTION_KILL},
      {FSM_EV_EXIT, FSM_STOPPED, FSM_ACTION_REPORT_STOPPED},
  };
  enum fsm_state s = FSM_STOPPED;
  for (size_t i = 0; i < sizeof steps / sizeof *steps; i++) {
    struct fsm_step st = fsm_step(s, steps[i].ev);
    cr_assert_eq(st.next, steps[i].to, "step %zu", i);
    cr_assert_eq(st.action, steps[i].act, "step %zu", i);
    s = st.next;
  }
}

Test(fsm, state_names_round_trip)
{
  static const char *const want[] = {"stopped", "starting", "running",
                                     "ready",   "stopping", "exited",
                                     "backoff", "failed"};
  cr_assert_eq(sizeof want / sizeof *want, FSM_N_STATES);
  for (int s = 0; s < FSM_N_STATES; s++) {
    enum fsm_state out = FSM_N_STATES;
    const char *name = fsm_state_name((enum fsm_state)s);
    cr_expect_str_eq(name, want[s]);
    cr_expect_eq(fsm_state_parse(name, &out), 0, "%s", name);
    cr_expect_eq(out, (enum fsm_state)s, "%s", name);
  }
  enum fsm_state out = FSM_READY;
  cr_expect_eq(fsm_state_parse("Running", &out), -EINVAL);
  cr_expect_eq(fsm_state_parse("", &out), -EINVAL);
  cr_expect_eq(fsm_state_parse("runnin", &out), -EINVAL);
  cr_expect_eq(fsm_state_parse("running ", &out), -EINVAL);
  cr_expect_eq(out, FSM_READY, "a failed parse must not write *out");
  cr_expect_str_eq(fsm_state_name(FSM_N_STATES), "?");
  cr_expect_str_eq(fsm_state_name((enum fsm_state) - 1), "?");
}

Test(fsm, event_and_action_names)
{
  static const char *const events[] = {
      "start",         "start_later",  "backoff_done", "spawned",
      "spawned_probe", "spawn_failed", "ready_ok",     "ready_failed",
      "unhealthy",     "exit",         "stop",         "stop_timeout",
      "fail"};
  static const char *const actions[] = {
      "invalid",        "none",           "spawn",       "arm_backoff",
      "cancel_backoff", "report_started", "arm_ready",   "signal_stop",
      "kill",           "terminate",      "report_exit", "report_stopped"};

  cr_assert_eq(sizeof events / sizeof *events, FSM_N_EVENTS);
  for (int e = 0; e < FSM_N_EVENTS; e++)
    cr_expect_str_eq(fsm_event_name((enum fsm_event)e), events[e]);
  cr_expect_str_eq(fsm_event_name(FSM_N_EVENTS), "?");
  for (size_t a = 0; a < sizeof actions / sizeof *actions; a++)
    cr_expect_str_eq(fsm_action_name((enum fsm_action)a), actions[a]);
  cr_expect_str_eq(
      fsm_action_name((enum fsm_action)(sizeof actions / sizeof *actions)),
      "?");
  cr_expect_str_eq(fsm_action_name((enum fsm_action) - 1), "?");
}

Test(fsm, alive_states)
{
  for (int s = 0; s < FSM_N_STATES; s++) {
    int want = s == FSM_STARTING || s == FSM_RUNNING || s == FSM_READY ||
               s == FSM_STOPPING;
    cr_expect_eq(fsm_state_alive((enum fsm_state)s), want, "%s",
                 fsm_state_name((enum fsm_state)s));
  }
}

Test(fsm, alive_states_leave_only_through_exit_or_stop)
{
  /* A live process must never be forgotten: from an alive state, every
   * legal step either stays alive or is caused by the run ending (EXIT,
   * SPAWN_FAILED, which means there was no process). */
  for (int s = 0; s < FSM_N_STATES; s++) {
    if (!fsm_state_alive((enum fsm_state)s))
      continue;
    for (int e = 0; e < FSM_N_EVENTS; e++) {
      struct fsm_step st = fsm_step((enum fsm_state)s, (enum fsm_event)e);
      if (st.action == FSM_ACTION_INVALID || fsm_state_alive(st.next))
        continue;
      cr_expect(e == FSM_EV_EXIT || e == FSM_EV_SPAWN_FAILED,
                "%s --%s--> %s drops a live process",
                fsm_state_name((enum fsm_state)s),
                fsm_event_name((enum fsm_event)e), fsm_state_name(st.next));
    }
  }
}

/* The predicates, written out state by state: {alive, up, start, stop,
 * signal}. A change here is a change to what the API accepts and what the
 * web UI enables (the tree's "can"). */
static const struct {
  enum fsm_state s;
  int alive, up, start, stop, signal;
} preds[] = {
    {FSM_STOPPED, 0, 0, 1, 0, 0},  {FSM_STARTING, 1, 0, 0, 1, 1},
    {FSM_RUNNING, 1, 1, 0, 1, 1},  {FSM_READY, 1, 1, 0, 1, 1},
    {FSM_STOPPING, 1, 0, 0, 0, 1}, {FSM_EXITED, 0, 0, 1, 1, 0},
    {FSM_BACKOFF, 0, 0, 1, 1, 0},  {FSM_FAILED, 0, 0, 1, 1, 0},
};

Test(fsm, state_predicates_per_state)
{
  cr_assert_eq(sizeof preds / sizeof *preds, FSM_N_STATES);
  for (size_t i = 0; i < sizeof preds / sizeof *preds; i++) {
    enum fsm_state s = preds[i].s;
    const char *n = fsm_state_name(s);
    cr_expect_eq(fsm_state_alive(s), preds[i].alive, "alive %s", n);
    cr_expect_eq(fsm_state_up(s), preds[i].up, "up %s", n);
    cr_expect_eq(fsm_state_startable(s), preds[i].start, "start %s", n);
    cr_expect_eq(fsm_state_stoppable(s), preds[i].stop, "stop %s", n);
    cr_expect_eq(fsm_state_signalable(s), preds[i].signal, "signal %s", n);
  }
}

Test(fsm, state_predicates_agree_with_each_other)
{
  /* Up implies alive; start and signal split the states between them (a
   * state either has a process group to signal or can be started). */
  for (int i = 0; i < FSM_N_STATES; i++) {
    enum fsm_state s = (enum fsm_state)i;
    if (fsm_state_up(s))
      cr_expect(fsm_state_alive(s), "%s", fsm_state_name(s));
    cr_expect_neq(fsm_state_startable(s), fsm_state_signalable(s), "%s",
                  fsm_state_name(s));
  }
  cr_expect_eq(fsm_state_startable((enum fsm_state)FSM_N_STATES), 0);
  cr_expect_eq(fsm_state_stoppable((enum fsm_state) - 1), 0);
}

Test(fsm, state_name_is_parses_then_applies)
{
  cr_expect_eq(fsm_state_name_is("stopping", fsm_state_alive), 1);
  cr_expect_eq(fsm_state_name_is("stopping", fsm_state_up), 0);
  cr_expect_eq(fsm_state_name_is("ready", fsm_state_up), 1);
  cr_expect_eq(fsm_state_name_is("nonsense", fsm_state_startable), 0);
  cr_expect_eq(fsm_state_name_is(NULL, fsm_state_startable), 0);
}

Test(fsm, can_json_mirrors_the_predicates)
{
  for (int i = 0; i < FSM_N_STATES; i++) {
    enum fsm_state s = (enum fsm_state)i;
    json_t *can = fsm_can_json(s);
    cr_assert_not_null(can);
    cr_expect_eq(json_object_size(can), 4);
    cr_expect_eq(json_is_true(json_object_get(can, "start")),
                 fsm_state_startable(s));
    cr_expect_eq(json_is_true(json_object_get(can, "stop")),
                 fsm_state_stoppable(s));
    cr_expect(json_is_true(json_object_get(can, "restart")));
    cr_expect_eq(json_is_true(json_object_get(can, "signal")),
                 fsm_state_signalable(s));
    json_decref(can);
  }
}
