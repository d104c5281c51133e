/* test_apply: a reload on a real loop with real runners (src/apply.c,
 * sup_apply). One config_diff is both the config_applied event and what
 * the tree does: the test asserts the event's change list and then the
 * tree the supervisors hold (sup_apply_tree_json) and the name registry. It
 * also follows the old config's references: held by the runners that
 * were removed until they close and by a readiness probe started under
 * it until the probe ends, then let go (ASan checks the rest: no leak, no
 * use after free).
 *
 * The context (tend_open) runs an empty tree of its own ("ctx"); the tree
 * under test is built here with sup_new, so that the test holds its root.
 * Every wait polls a condition with a bound; nothing sleeps. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <uv.h>

#include "src/actor.h"
#include "src/apply.h"
#include "src/config.h"
#include "src/events.h"
#include "src/pubsub.h"
#include "src/sup.h"
#include "src/tend.h"
#include "state/statedir.h"

#define WAIT_MS 20000

static uv_loop_t loop;
static char tmp[256];
static json_t *applied; /* the last config_applied event (own copy) */

/* Writes text, with ' turned into ", to tmp/name. */
static void
write_j(const char *name, const char *text)
{
  char path[512];
  FILE *f;

  snprintf(path, sizeof path, "%s/%s", tmp, name);
  f = fopen(path, "w");
  cr_assert_not_null(f);
  for (const char *p = text; *p; p++)
    fputc(*p == '\'' ? '"' : *p, f);
  cr_assert_eq(fclose(f), 0);
}

/* Keeps a copy of each config_applied event. */
static void
on_event(void *ctx, const struct tend_event *ev)
{
  (void)ctx;
  if (ev->type != EVENTS_CONFIG_APPLIED)
    return;
  json_decref(applied);
  applied = events_to_json(ev);
}

static void
tick_cb(uv_timer_t *t)
{
  (void)t;
}

/* Runs the loop until cond(arg) holds or WAIT_MS pass; returns cond. */
static int
run_until(int (*cond)(void *), void *arg)
{
  uv_timer_t tick;
  uint64_t end;
  int ok;

  uv_update_time(&loop);
  end = uv_now(&loop) + WAIT_MS;
  uv_timer_init(&loop, &tick);
  uv_timer_start(&tick, tick_cb, 5, 5);
  while (!(ok = cond(arg)) && uv_now(&loop) < end)
    uv_run(&loop, UV_RUN_ONCE);
  uv_close((uv_handle_t *)&tick, NULL);
  uv_run(&loop, UV_RUN_NOWAIT);
  return ok;
}

/* The read model's field key of node name, as an integer (-1 if none). */
static json_int_t
status_int(const char *name, const char *key)
{
  json_t *v = json_object_get(tend_node_status(name), key);
  return json_is_integer(v) ? json_integer_value(v) : -1;
}

/* 1 when node name's state is want. */
static int
state_is(const char *name, const char *want)
{
  const char *s =
      json_string_value(json_object_get(tend_node_status(name), "state"));
  return s && strcmp(s, want) == 0;
}

/* Every name of a NULL-terminated list is running. */
static int
all_running(void *arg)
{
  for (const char **n = arg; *n; n++)
    if (!state_is(*n, "running"))
      return 0;
  return 1;
}

/* p started, and is waiting for its readiness check. */
static int
p_starting(void *arg)
{
  (void)arg;
  return status_int("p", "run") == 1 && state_is("p", "starting");
}

/* The tree under test has no removed child left and "a" runs again. */
static int
settled(void *arg)
{
  struct sup *root = arg;
  json_t *tree = sup_apply_tree_json(root);
  json_t *g = json_array_get(json_object_get(tree, "children"), 2);
  int done = json_array_size(json_object_get(tree, "stopping")) == 0 &&
             json_array_size(json_object_get(g, "stopping")) == 0 &&
             status_int("a", "run") >= 2 && state_is("a", "running");
  json_decref(tree);
  return done;
}

/* Every runner of the reloaded tree is stopped. */
static int
all_stopped(void *arg)
{
  static const char *const names[] = {"a", "c", "d", "p"};
  (void)arg;
  for (size_t i = 0; i < 4; i++)
    if (!state_is(names[i], "stopped"))
      return 0;
  return 1;
}

static int
flag_set(void *arg)
{
  return *(int *)arg;
}

static void
on_closed(void *arg)
{
  *(int *)arg = 1;
}

/* Returns the compact JSON of v (new). */
static char *
dump(const json_t *v)
{
  return json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
}

/* A: r {a, b, g {c}, p}. p's readiness check never passes (it stays
 * starting, its probe running); it is started by a user command, which
 * does not wait for it, so the group's queue stays free. B: a changed, b gone,
 * c moved from g to the root, d new in g, p as it was. */
#define CONFIG_A                                                               \
  "{'name': 'r', 'http': {'listen': false}, 'children': ["                     \
  " {'name': 'a', 'cmd': ['sleep', '1000'], 'env': {'V': '1'}},"               \
  " {'name': 'b', 'cmd': ['sleep', '1000']},"                                  \
  " {'name': 'g', 'children': [{'name': 'c', 'cmd': ['sleep', '1000']}]},"     \
  " {'name': 'p', 'cmd': ['sleep', '1000'], 'autostart': false,"               \
  "  'ready': {'exec': 'false', 'timeout_s': 600}}]}"
#define CONFIG_B                                                               \
  "{'name': 'r', 'http': {'listen': false}, 'children': ["                     \
  " {'name': 'a', 'cmd': ['sleep', '1000'], 'env': {'V': '2'}},"               \
  " {'name': 'c', 'cmd': ['sleep', '1000']},"                                  \
  " {'name': 'g', 'children': [{'name': 'd', 'cmd': ['sleep', '1000']}]},"     \
  " {'name': 'p', 'cmd': ['sleep', '1000'], 'autostart': false,"               \
  "  'ready': {'exec': 'false', 'timeout_s': 600}}]}"

static void
setup(void)
{
  char t[] = "/tmp/tend-apply-XXXXXX", path[512];
  char *real, *cause = NULL, *errors = NULL;
  struct config *ctx = NULL;
  struct tend_hooks hooks = {0};

  cr_assert_not_null(mkdtemp(t));
  real = realpath(t, NULL);
  cr_assert_not_null(real);
  snprintf(tmp, sizeof tmp, "%s", real);
  free(real);
  snprintf(path, sizeof path, "%s/.tend", tmp);
  cr_assert_eq(mkdir(path, 0700), 0);
  cr_assert_eq(statedir_open(path, &cause), 0, "%s", cause ? cause : "");
  cr_assert_eq(uv_loop_init(&loop), 0);
  actor_runtime_init(&loop);
  write_j("ctx.json", "{'name': 'ctx', 'state_dir': '.tend', "
                      "'http': {'listen': false}, 'children': []}");
  snprintf(path, sizeof path, "%s/ctx.json", tmp);
  cr_assert_eq(config_load(path, &ctx, &errors), 0, "%s", errors);
  cr_assert_eq(tend_open(&loop, ctx, &hooks, &cause), 0, "%s",
               cause ? cause : "");
  events_listen(on_event, NULL);
}

static void
teardown(void)
{
  char cmd[512];

  pubsub_shutdown();
  actor_runtime_close();
  uv_run(&loop, UV_RUN_NOWAIT);
  cr_expect_eq(uv_loop_close(&loop), 0, "handles left open on the loop");
  statedir_close();
  json_decref(applied);
  applied = NULL;
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
  if (system(cmd) != 0)
    fprintf(stderr, "cleanup of %s failed\n", tmp);
}

TestSuite(apply, .init = setup, .fini = teardown, .timeout = 120);

Test(apply, one_diff_drives_the_event_and_the_tree)
{
  const char *first[] = {"a", "b", "c", NULL};
  struct config *cfg = NULL;
  const struct config *old;
  char path[512], *errors = NULL, *err_text = NULL, *s;
  struct config_errors errs = CONFIG_ERRORS_ZERO;
  struct sup *root;
  json_t *tree, *kids;
  int tree_closed = 0, ctx_closed = 0;

  write_j("tend.json", CONFIG_A);
  snprintf(path, sizeof path, "%s/tend.json", tmp);
  cr_assert_eq(config_load(path, &cfg, &errors), 0, "%s", errors);
  root = sup_new(&loop, cfg, cfg->root, ACTOR_NONE);
  actor_send(sup_id(root), SUP_MSG_START, ACTOR_NONE, 0, NULL, NULL);
  cr_assert(run_until(all_running, first), "a, b and c did not start");
  {
    struct sup_user_cmd *uc = calloc(1, sizeof *uc);
    uc->child = strdup("p");
    uc->cmd = TEND_CMD_START;
    actor_send(sup_id(root), SUP_MSG_USER, ACTOR_NONE, 0, uc,
               sup_user_cmd_free);
  }
  cr_assert(run_until(p_starting, NULL), "p did not start");

  old = config_ref(cfg); /* the test's own look at the old config */
  write_j("tend.json", CONFIG_B);
  cr_assert_eq(apply_reload(&cfg, root, NULL, &err_text, &errs), 0,
               "%zu error(s)", errs.n);
  cr_assert_neq((const struct config *)cfg, old);
  cr_assert_null(err_text);

  /* The event: the diff's change list. */
  cr_assert_not_null(applied);
  s = dump(json_object_get(applied, "changes"));
  cr_expect_str_eq(s, "{\"add\":[\"c\",\"d\"],\"change\":[\"a\"],"
                      "\"group\":[],\"remove\":[\"c\",\"b\"],\"root\":false}");
  free(s);

  /* The tree: the same list applied. b and the old c are stopping. */
  tree = sup_apply_tree_json(root);
  kids = json_object_get(tree, "children");
  cr_assert_eq(json_array_size(kids), 4);
  {
    const char *names[] = {"a", "c", "g", "p"};
    for (size_t i = 0; i < 4; i++) {
      json_t *k = json_array_get(kids, i);
      cr_expect_str_eq(json_string_value(json_object_get(k, "name")), names[i]);
      cr_expect(json_is_true(json_object_get(k, "bound")), "%s unbound",
                names[i]);
      /* The registry names the live child: a moved node is registered
       * in its new place, not lost to its old one's removal. */
      cr_expect_eq(actor_whereis(names[i]),
                   (actor_id)json_integer_value(json_object_get(k, "id")),
                   "registry entry of %s", names[i]);
    }
  }
  s = dump(json_object_get(json_array_get(kids, 2), "children"));
  cr_expect(strstr(s, "\"name\":\"d\"") && !strstr(s, "\"name\":\"c\""), "%s",
            s);
  free(s);
  cr_expect_eq(json_array_size(json_object_get(tree, "stopping")), 1, "b");
  cr_expect_eq(
      json_array_size(json_object_get(json_array_get(kids, 2), "stopping")), 1,
      "the old c");
  cr_expect_eq(actor_whereis("b"), ACTOR_NONE);
  json_decref(tree);
  cr_expect_gt(old->refs, 1, "b and the old c still hold the old config");

  /* Removed children close, the changed one restarts; the unchanged p
   * was not restarted and its probe, started under the old config,
   * still holds it. */
  cr_assert(run_until(settled, root), "the reload did not settle");
  cr_expect_eq(status_int("p", "run"), 1);
  cr_expect_eq(old->refs, 1, "held by the test and p's probe only");

  /* Stopping the tree ends the probe: the test is the last holder. */
  actor_send(sup_id(root), SUP_MSG_STOP, ACTOR_NONE, 0, NULL, NULL);
  cr_assert(run_until(all_stopped, NULL), "the tree did not stop");
  cr_expect_eq(old->refs, 0);
  sup_close(root, on_closed, &tree_closed);
  cr_assert(run_until(flag_set, &tree_closed));
  cr_expect_eq(old->refs, 0);
  config_unref(old);
  cr_expect_eq(cfg->refs, 0, "only the test holds the new config");
  config_unref(cfg);
  tend_close(on_closed, &ctx_closed);
  cr_assert(run_until(flag_set, &ctx_closed));
  free(err_text);
}
