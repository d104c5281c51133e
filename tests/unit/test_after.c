/* Unit tests for src/after.c's decision: which runners the end of a run
 * starts or restarts (after_decide), from the config, one typed event and
 * the runners' states. Documents use single quotes, turned into JSON. */
#include <criterion/criterion.h>

#include "src/after.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

/* The config every test decides against: tests (on success of build) and
 * docs (on any exit of build) in a group, and lint after tests (without
 * "on": on success). */
static const char *const doc =
    "{'children': ["
    " {'name': 'build', 'cmd': 'make'},"
    " {'name': 'checks', 'children': ["
    "  {'name': 'tests', 'cmd': 'make check', 'autostart': false,"
    "   'after': {'runner': 'build', 'on': 'success'}},"
    "  {'name': 'docs', 'cmd': 'make docs', 'autostart': false,"
    "   'after': {'runner': 'build', 'on': 'exit'}}]},"
    " {'name': 'lint', 'cmd': 'make lint', 'autostart': false,"
    "  'after': {'runner': 'tests'}}]}";

static struct config *cfg;
static const char *alive_name; /* the runner state_of calls running */

/* Loads doc. */
static void
setup(void)
{
  char *s = strdup(doc), *errors = NULL;
  for (char *p = s; *p; p++)
    if (*p == '\'')
      *p = '"';
  cr_assert_eq(
      config_load_buffer(s, strlen(s), "tend.json", "/srv/app", &cfg, &errors),
      0, "%s", errors ? errors : "");
  free(s);
  alive_name = NULL;
}

static void
teardown(void)
{
  config_free(cfg);
}

/* Every runner is stopped but alive_name, which runs. */
static enum fsm_state
state_of(const char *name)
{
  return alive_name && strcmp(name, alive_name) == 0 ? FSM_RUNNING
                                                     : FSM_STOPPED;
}

/* The end of name's run: with status (signal 0) or on signal. */
static struct tend_event
run_ended(const char *name, int status, int signo)
{
  struct tend_event ev = {.type = EVENTS_STATE,
                          .node = name,
                          .kind = EVENTS_KIND_RUNNER,
                          .from.runner = FSM_RUNNING,
                          .to.runner = FSM_EXITED,
                          .event = "exit",
                          .has_status = signo == 0,
                          .status = status,
                          .signal = signo};
  return ev;
}

TestSuite(after, .init = setup, .fini = teardown);

Test(after, success_fires_both_in_config_order)
{
  struct tend_event ev = run_ended("build", 0, 0);
  struct after_fire *f;
  size_t n = after_decide(cfg->root, &ev, state_of, &f);

  cr_assert_eq(n, 2);
  cr_assert_str_eq(f[0].node->name, "tests");
  cr_assert_eq(f[0].cmd, TEND_CMD_START);
  cr_assert_str_eq(f[1].node->name, "docs");
  cr_assert_eq(f[1].cmd, TEND_CMD_START);
  cr_assert(after_succeeded(&ev));
  free(f);
}

Test(after, failure_fires_only_on_exit)
{
  struct tend_event failed = run_ended("build", 2, 0);
  struct tend_event killed = run_ended("build", 0, SIGKILL);
  struct after_fire *f;
  size_t n = after_decide(cfg->root, &failed, state_of, &f);

  cr_assert_eq(n, 1);
  cr_assert_str_eq(f[0].node->name, "docs");
  free(f);
  n = after_decide(cfg->root, &killed, state_of, &f);
  cr_assert_eq(n, 1, "a signal is no success");
  cr_assert_str_eq(f[0].node->name, "docs");
  cr_assert_not(after_succeeded(&killed));
  free(f);
}

Test(after, an_alive_runner_is_restarted)
{
  struct tend_event ev = run_ended("build", 0, 0);
  struct after_fire *f;
  size_t n;

  alive_name = "docs";
  n = after_decide(cfg->root, &ev, state_of, &f);
  cr_assert_eq(n, 2);
  cr_assert_eq(f[0].cmd, TEND_CMD_START);
  cr_assert_eq(f[1].cmd, TEND_CMD_RESTART);
  free(f);
}

Test(after, the_default_on_is_success)
{
  struct tend_event failed = run_ended("tests", 1, 0);
  struct tend_event ok = run_ended("tests", 0, 0);
  struct after_fire *f;
  size_t n = after_decide(cfg->root, &failed, state_of, &f);

  cr_assert_eq(n, 0);
  n = after_decide(cfg->root, &ok, state_of, &f);
  cr_assert_eq(n, 1);
  cr_assert_str_eq(f[0].node->name, "lint");
  free(f);
}

Test(after, other_events_fire_nothing)
{
  struct tend_event stopped = run_ended("build", 0, 0);
  struct tend_event group = run_ended("checks", 0, 0);
  struct tend_event other = {.type = EVENTS_WATCH_FIRED, .node = "build"};
  struct tend_event nobody = run_ended("lint", 0, 0);
  struct after_fire *f = (struct after_fire *)1;

  stopped.to.runner = FSM_STOPPED; /* a stop is not the end of a run */
  cr_assert_eq(after_decide(cfg->root, &stopped, state_of, &f), 0);
  cr_assert_null(f);
  group.kind = EVENTS_KIND_GROUP;
  group.to.group = SUP_FSM_STOPPED;
  cr_assert_eq(after_decide(cfg->root, &group, state_of, &f), 0);
  cr_assert_eq(after_decide(cfg->root, &other, state_of, &f), 0);
  cr_assert_eq(after_decide(cfg->root, &nobody, state_of, &f), 0);
  cr_assert_null(f);
}
