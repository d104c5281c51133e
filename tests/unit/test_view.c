/* Unit tests for state/view.c: the read model folds sequences of typed
 * events (struct tend_event) into each node's status: state, pid, run,
 * restarts, since, last exit and its history, the backoff deadline, the
 * probes' verdicts, groups, and a previous daemon's counters. */
#include <criterion/criterion.h>

#include "state/view.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

static int64_t clock_ms = 1000;

/* Folds a runner transition of name from -> to into v (ts advances). */
static void
step(struct view *v, const char *name, enum fsm_state from, enum fsm_state to,
     struct tend_event extra)
{
  extra.type = EVENTS_STATE;
  extra.node = name;
  extra.kind = EVENTS_KIND_RUNNER;
  extra.from.runner = from;
  extra.to.runner = to;
  extra.ts = clock_ms += 10;
  view_apply(v, &extra);
}

#define NO_EXTRA ((struct tend_event){0})

/* The integer at key of name's status (-1 when null or absent). */
static int64_t
int_of(struct view *v, const char *name, const char *key)
{
  const json_t *x = json_object_get(view_status(v, name), key);
  return json_is_integer(x) ? (int64_t)json_integer_value(x) : -1;
}

/* The string at key of name's status. */
static const char *
str_of(struct view *v, const char *name, const char *key)
{
  return json_string_value(json_object_get(view_status(v, name), key));
}

Test(view, unknown_nodes_and_other_types_leave_it_empty)
{
  struct view *v = view_new();
  struct tend_event applied = {.type = EVENTS_CONFIG_APPLIED, .hash = "abc"};
  struct tend_event rejected = {.type = EVENTS_CONFIG_ERROR, .message = "m"};
  struct tend_event health = {.type = EVENTS_HEALTH_OK, .node = "api"};

  cr_assert_null(view_status(v, "api"));
  view_apply(v, &applied);
  view_apply(v, &rejected);
  view_apply(v, &health); /* no status yet: nothing to attach it to */
  cr_assert_null(view_status(v, "api"));
  view_free(v);
  view_free(NULL);
}

Test(view, a_run_from_start_to_exit)
{
  struct view *v = view_new();
  int64_t started;

  step(v, "api", FSM_STOPPED, FSM_STARTING,
       (struct tend_event){.run = 1, .pid = 42});
  started = clock_ms;
  cr_assert_str_eq(str_of(v, "api", "state"), "starting");
  cr_assert_eq(int_of(v, "api", "pid"), 42);
  cr_assert_eq(int_of(v, "api", "run"), 1);
  cr_assert_eq(int_of(v, "api", "restarts"), 0);
  cr_assert_eq(int_of(v, "api", "since"), started);
  cr_assert_eq(int_of(v, "api", "last_exit"), -1);

  step(v, "api", FSM_STARTING, FSM_READY,
       (struct tend_event){.run = 1, .pid = 42});
  cr_assert_str_eq(str_of(v, "api", "state"), "ready");
  cr_assert_gt(int_of(v, "api", "since"), started);

  step(v, "api", FSM_READY, FSM_EXITED,
       (struct tend_event){.run = 1,
                           .pid = 42,
                           .has_status = 1,
                           .status = 3,
                           .reason = "exited with status 3"});
  cr_assert_str_eq(str_of(v, "api", "state"), "exited");
  cr_assert_eq(int_of(v, "api", "pid"), -1, "no process: pid is null");
  {
    const json_t *last = json_object_get(view_status(v, "api"), "last_exit");
    const json_t *history = json_object_get(view_status(v, "api"), "history");
    cr_assert_eq(json_integer_value(json_object_get(last, "status")), 3);
    cr_assert_null(json_object_get(last, "signal"));
    cr_assert_str_eq(json_string_value(json_object_get(last, "reason")),
                     "exited with status 3");
    cr_assert_eq(json_integer_value(json_object_get(last, "ts")), clock_ms);
    cr_assert_eq(json_array_size(history), 1);
  }
  view_free(v);
}

Test(view, restarts_backoff_and_the_history_cap)
{
  struct view *v = view_new();

  for (int run = 1; run <= 12; run++) {
    step(
        v, "w", FSM_BACKOFF, FSM_STARTING,
        (struct tend_event){.run = run, .restarts = run - 1, .pid = 100 + run});
    step(v, "w", FSM_STARTING, FSM_EXITED,
         (struct tend_event){.run = run,
                             .restarts = run - 1,
                             .pid = 100 + run,
                             .signal = SIGKILL});
    step(v, "w", FSM_EXITED, FSM_BACKOFF,
         (struct tend_event){
             .run = run, .restarts = run, .next_start_ms = 5000 + run});
    cr_assert_eq(int_of(v, "w", "next_start_ms"), 5000 + run);
  }
  cr_assert_str_eq(str_of(v, "w", "state"), "backoff");
  cr_assert_eq(int_of(v, "w", "restarts"), 12);
  cr_assert_eq(int_of(v, "w", "run"), 12);
  {
    const json_t *history = json_object_get(view_status(v, "w"), "history");
    const json_t *last = json_object_get(view_status(v, "w"), "last_exit");
    cr_assert_eq(json_array_size(history), 10, "the last 10 exits only");
    cr_assert_str_eq(json_string_value(json_object_get(last, "signal")),
                     "KILL");
    cr_assert_null(json_object_get(last, "status"));
  }
  step(v, "w", FSM_BACKOFF, FSM_STARTING,
       (struct tend_event){.run = 13, .restarts = 12, .pid = 7});
  cr_assert_eq(int_of(v, "w", "next_start_ms"), -1, "cleared past backoff");
  cr_assert_eq(int_of(v, "w", "pid"), 7);
  view_free(v);
}

Test(view, stopping_keeps_the_pid_and_a_spawn_error_is_a_last_exit)
{
  struct view *v = view_new();

  step(v, "s", FSM_STOPPED, FSM_RUNNING, (struct tend_event){.pid = 9});
  step(v, "s", FSM_RUNNING, FSM_STOPPING, (struct tend_event){.pid = 9});
  cr_assert_eq(int_of(v, "s", "pid"), 9, "still there while it stops");
  step(v, "s", FSM_STOPPING, FSM_STOPPED,
       (struct tend_event){.reason = "stopped by request"});
  cr_assert_eq(int_of(v, "s", "pid"), -1);
  cr_assert_str_eq(str_of(v, "s", "reason"), "stopped by request");
  cr_assert_eq(int_of(v, "s", "last_exit"), -1, "a stop is no exit");

  step(v, "s", FSM_STOPPED, FSM_BACKOFF,
       (struct tend_event){.spawn_error = "no such file or directory",
                           .next_start_ms = 1});
  {
    const json_t *status = view_status(v, "s");
    const json_t *last = json_object_get(status, "last_exit");
    cr_assert_str_eq(json_string_value(json_object_get(last, "spawn_error")),
                     "no such file or directory");
    cr_assert_null(json_object_get(status, "history"),
                   "only runs that ended count as history");
  }
  view_free(v);
}

Test(view, groups_fold_their_own_states)
{
  struct view *v = view_new();
  struct tend_event ev = {.type = EVENTS_STATE,
                          .node = "web",
                          .kind = EVENTS_KIND_GROUP,
                          .from.group = SUP_FSM_STOPPED,
                          .to.group = SUP_FSM_STARTING,
                          .restarts = 0,
                          .ts = 50};

  view_apply(v, &ev);
  ev.from.group = SUP_FSM_STARTING;
  ev.to.group = SUP_FSM_FAILED;
  ev.restarts = 4;
  ev.reason = "too many restarts";
  ev.ts = 60;
  view_apply(v, &ev);
  cr_assert_str_eq(str_of(v, "web", "state"), "failed");
  cr_assert_eq(int_of(v, "web", "restarts"), 4);
  cr_assert_eq(int_of(v, "web", "run"), 0, "groups have no runs");
  cr_assert_eq(int_of(v, "web", "pid"), -1);
  cr_assert_eq(int_of(v, "web", "since"), 60);
  cr_assert_str_eq(str_of(v, "web", "reason"), "too many restarts");
  view_free(v);
}

Test(view, probes_follow_the_run)
{
  struct view *v = view_new();
  struct tend_event waiting = {.type = EVENTS_READY_WAITING,
                               .node = "db",
                               .reason = "connection refused"};
  struct tend_event failed = {.type = EVENTS_HEALTH_FAILED,
                              .node = "db",
                              .failures = 1,
                              .of = 3,
                              .error = "timeout",
                              .ts = 77};
  struct tend_event ok = {.type = EVENTS_HEALTH_OK, .node = "db", .of = 3};
  const json_t *h;

  step(v, "db", FSM_STOPPED, FSM_STARTING, (struct tend_event){.pid = 5});
  view_apply(v, &waiting);
  cr_assert_str_eq(str_of(v, "db", "waiting"), "connection refused");
  step(v, "db", FSM_STARTING, FSM_READY, (struct tend_event){.pid = 5});
  cr_assert_null(str_of(v, "db", "waiting"), "a transition clears it");

  view_apply(v, &failed);
  h = json_object_get(view_status(v, "db"), "health");
  cr_assert_str_eq(json_string_value(json_object_get(h, "state")), "failing");
  cr_assert_eq(json_integer_value(json_object_get(h, "failures")), 1);
  cr_assert_eq(json_integer_value(json_object_get(h, "since")), 77);
  view_apply(v, &ok);
  h = json_object_get(view_status(v, "db"), "health");
  cr_assert_str_eq(json_string_value(json_object_get(h, "state")), "ok");
  cr_assert_str_eq(json_string_value(json_object_get(h, "last_error")),
                   "timeout", "a pass keeps the last error");

  /* A step inside starting keeps the verdict; a new run drops it. */
  step(v, "db", FSM_READY, FSM_EXITED, (struct tend_event){.has_status = 1});
  cr_assert_not_null(json_object_get(view_status(v, "db"), "health"));
  step(v, "db", FSM_EXITED, FSM_STARTING, (struct tend_event){.pid = 6});
  cr_assert_null(json_object_get(view_status(v, "db"), "health"));
  view_free(v);
}

Test(view, restore_then_fold_and_forget)
{
  struct view *v = view_new();
  json_t *saved =
      json_pack("{s:s, s:i, s:i, s:i, s:{s:i, s:I}, s:[{s:i}]}", "state",
                "running", "pid", 1234, "run", 7, "restarts", 3, "last_exit",
                "status", 2, "ts", (json_int_t)10, "history", "status", 2);
  json_t *bad = json_pack("{s:s, s:s}", "run", "seven", "restarts", "x");

  view_restore(v, "api", saved);
  cr_assert_str_eq(str_of(v, "api", "state"), "stopped",
                   "stopped until its first event");
  cr_assert_eq(int_of(v, "api", "pid"), -1);
  cr_assert_eq(int_of(v, "api", "run"), 7);
  cr_assert_eq(int_of(v, "api", "restarts"), 3);
  step(v, "api", FSM_STOPPED, FSM_STARTING,
       (struct tend_event){.run = 8, .restarts = 3, .pid = 55});
  cr_assert_eq(int_of(v, "api", "run"), 8);
  cr_assert_eq(
      json_array_size(json_object_get(view_status(v, "api"), "history")), 1,
      "the history carries over");

  view_restore(v, "odd", bad);
  cr_assert_eq(int_of(v, "odd", "run"), 0, "a foreign value keeps 0");
  view_forget(v, "api");
  cr_assert_null(view_status(v, "api"));
  json_decref(saved);
  json_decref(bad);
  view_free(v);
}
