/* test_config: tend.json loading (every key, defaults, every error with its
 * exact "file:line:col: path: message"), the position locator, the include
 * folder, hashing and config_diff.
 *
 * Inline documents are written with single quotes and turned into JSON by
 * J() (same length, so columns are unaffected). Fixture files live in
 * tests/unit/fixtures/config/; the tests run from the repository root. */
#include <criterion/criterion.h>

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "src/config.h"
#include "src/config_pos.h"

#define FIX "tests/unit/fixtures/config/"

/* Returns text with every ' turned into " (new). */
static char *
J(const char *text)
{
  char *s = strdup(text);
  for (char *p = s; *p; p++)
    if (*p == '\'')
      *p = '"';
  return s;
}

/* Loads a J() document as "tend.json" in /srv/app; returns rc. */
static int
load_j(const char *text, struct config **out, char **errors)
{
  char *s = J(text);
  int rc =
      config_load_buffer(s, strlen(s), "tend.json", "/srv/app", out, errors);
  free(s);
  return rc;
}

/* Loads a valid J() document. */
static struct config *
must_j(const char *text)
{
  struct config *c = NULL;
  char *err = NULL;
  int rc = load_j(text, &c, &err);
  cr_assert_eq(rc, 0, "load failed (%d):\n%s", rc, err ? err : "");
  cr_assert_null(err);
  cr_assert_not_null(c);
  return c;
}

/* Loads an invalid J() document and returns its errors (new). */
static char *
errors_j(const char *text)
{
  struct config *c = (struct config *)1;
  char *err = NULL;
  int rc = load_j(text, &c, &err);
  cr_assert_eq(rc, -EINVAL, "expected -EINVAL, got %d", rc);
  cr_assert_null(c);
  cr_assert_not_null(err);
  return err;
}

/* Asserts that a J() document fails with exactly these error lines. */
static void
expect_errors(const char *text, const char *want)
{
  char *err = errors_j(text);
  cr_assert_str_eq(err, want, "for %s\n--- got:\n%s--- want:\n%s", text, err,
                   want);
  free(err);
}

/* Loads a fixture file that must be valid. */
static struct config *
must_file(const char *path)
{
  struct config *c = NULL;
  char *err = NULL;
  int rc = config_load(path, &c, &err);
  cr_assert_eq(rc, 0, "load %s failed (%d):\n%s", path, rc, err ? err : "");
  cr_assert_not_null(c);
  return c;
}

/* Returns the absolute path of a fixture (new). */
static char *
fixture_abs(const char *rel)
{
  char cwd[4096];
  cr_assert_not_null(getcwd(cwd, sizeof cwd));
  char *s = malloc(strlen(cwd) + strlen(rel) + 2);
  sprintf(s, "%s/%s", cwd, rel);
  return s;
}

/* ------------------------------------------------------------------------ */
/* Every key, happy path                                                     */
/* ------------------------------------------------------------------------ */

Test(config_full, root_settings)
{
  struct config *c = must_file(FIX "full.json");
  char *dir = fixture_abs(FIX "");
  dir[strlen(dir) - 1] = '\0';
  char want[4200];

  snprintf(want, sizeof want, "%s/full.json", dir);
  cr_assert_str_eq(c->file, want);
  cr_assert_str_eq(c->dir, dir);
  snprintf(want, sizeof want, "%s/var/state", dir);
  cr_assert_str_eq(c->state_dir, want);
  cr_assert_null(c->include_dir);
  cr_assert_eq(c->on_give_up, CONFIG_GIVE_UP_EXIT);
  cr_assert_eq(c->http.enabled, 1);
  cr_assert_str_eq(c->http.host, "0.0.0.0");
  cr_assert_eq(c->http.port, 8080);
  cr_assert_eq(c->http.allow_remote, 1);
  cr_assert_eq(c->output.max_bytes, 1048576);
  cr_assert_eq(c->output.keep, 5);
  cr_assert_eq(strlen(c->hash), 16);
  cr_assert_eq(strspn(c->hash, "0123456789abcdef"), 16);

  struct config_node *r = c->root;
  cr_assert_str_eq(r->name, "dev");
  cr_assert(r->is_group);
  cr_assert_null(r->parent);
  cr_assert_eq(r->strategy, CONFIG_STRATEGY_ONE_FOR_ALL);
  cr_assert_eq(r->max_restarts, 3);
  cr_assert_eq(r->period_ms, 2500);
  cr_assert_eq(r->n_children, 3);
  cr_assert_str_eq(r->children[0]->name, "db");
  cr_assert_str_eq(r->children[1]->name, "backend");
  cr_assert_str_eq(r->children[2]->name, "build");
  free(dir);
  config_free(c);
}

Test(config_full, runner_with_every_key)
{
  struct config *c = must_file(FIX "full.json");
  struct config_node *db = config_find(c, "db");
  char want[4200];

  cr_assert_not_null(db);
  cr_assert_not(db->is_group);
  cr_assert_eq(db->parent, c->root);
  cr_assert_eq(db->index, 0);
  cr_assert_str_eq(db->argv[0], "postgres");
  cr_assert_str_eq(db->argv[1], "-D");
  cr_assert_str_eq(db->argv[2], "data");
  cr_assert_null(db->argv[3]);
  cr_assert_eq(db->shell, 0);
  snprintf(want, sizeof want, "%s/pg", c->dir); /* "db/../pg" folded */
  cr_assert_str_eq(db->cwd, want);
  cr_assert_str_eq(db->env[0], "PGPORT=5432");
  cr_assert_str_eq(db->env[1], "EMPTY=");
  cr_assert_null(db->env[2]);
  cr_assert_eq(db->restart, CONFIG_RESTART_TRANSIENT);
  cr_assert_eq(db->backoff_initial_ms, 50);
  cr_assert_eq(db->backoff_max_ms, 800);
  cr_assert_eq(db->backoff_reset_ms, 500);
  cr_assert_eq(db->stop_signal, SIGINT);
  cr_assert_eq(db->stop_timeout_ms, 2500);
  cr_assert_eq(db->ready, CONFIG_READY_TCP);
  cr_assert_eq(db->ready_port, 5432);
  cr_assert_eq(db->ready_timeout_ms, 12000);
  cr_assert_eq(db->autostart, 0);
  cr_assert_eq(db->n_success_codes, 2);
  cr_assert_eq(db->success_codes[0], 0);
  cr_assert_eq(db->success_codes[1], 3);
  cr_assert(config_success_code(db, 3));
  cr_assert_not(config_success_code(db, 1));
  /* output: keep overridden, max_bytes inherited from the root */
  cr_assert_eq(db->output.keep, 1);
  cr_assert_eq(db->output.max_bytes, 1048576);
  cr_assert_eq(db->on_busy, CONFIG_ON_BUSY_RESTART);
  cr_assert_eq(db->watch.enabled, 0);
  cr_assert_null(db->after.runner);
  config_free(c);
}

Test(config_full, group_and_shell_command_and_watch)
{
  struct config *c = must_file(FIX "full.json");
  struct config_node *be = config_find(c, "backend");
  struct config_node *api = config_find(c, "api");
  char want[4200];

  cr_assert(be->is_group);
  cr_assert_eq(be->strategy, CONFIG_STRATEGY_REST_FOR_ONE);
  cr_assert_eq(be->max_restarts, -1); /* no intensity unless written */
  cr_assert_eq(be->period_ms, 10000);
  cr_assert_eq(be->n_children, 2);
  cr_assert_eq(be->index, 1);
  cr_assert_str_eq(be->spec_json,
                   "{\"name\":\"backend\",\"strategy\":\"rest_for_one\"}");

  cr_assert_eq(api->parent, be);
  cr_assert_eq(api->index, 0);
  cr_assert_eq(api->shell, 1);
  cr_assert_str_eq(api->argv[0], "/bin/sh");
  cr_assert_str_eq(api->argv[1], "-c");
  cr_assert_str_eq(api->argv[2], "./api --port 8080");
  cr_assert_null(api->argv[3]);
  cr_assert_eq(api->ready, CONFIG_READY_EXEC);
  cr_assert_str_eq(api->ready_argv[0], "curl");
  cr_assert_str_eq(api->ready_argv[2], "http://localhost:8080/health");
  cr_assert_null(api->ready_argv[3]);

  const struct config_watch *w = &api->watch;
  cr_assert_eq(w->enabled, 1);
  cr_assert_eq(w->n_paths, 2);
  snprintf(want, sizeof want, "%s/src", c->dir);
  cr_assert_str_eq(w->paths[0], want);
  cr_assert_str_eq(w->paths[1], "/etc/api.conf");
  cr_assert_eq(w->n_include, 1);
  cr_assert_str_eq(w->include[0], "**/*.c");
  cr_assert_eq(w->n_exclude, 1);
  cr_assert_str_eq(w->exclude[0], "build/**");
  cr_assert_eq(w->gitignore, 0);
  cr_assert_eq(w->debounce_ms, 300);
  cr_assert_eq(w->max_wait_ms, 0);
  cr_assert_eq(w->action, CONFIG_WATCH_SIGNAL);
  cr_assert_eq(w->signal, SIGHUP);
  cr_assert_eq(w->loop_max_restarts, 0);
  cr_assert_eq(w->loop_period_ms, 30000);
  config_free(c);
}

Test(config_full, log_ready_after_and_watch_defaults)
{
  struct config *c = must_file(FIX "full.json");
  struct config_node *wk = config_find(c, "worker");
  struct config_node *b = config_find(c, "build");

  cr_assert_eq(wk->ready, CONFIG_READY_LOG);
  cr_assert_str_eq(wk->ready_regex, "^listening on [0-9]+$");
  cr_assert_str_eq(wk->after.runner, "db");
  cr_assert_eq(wk->after.on, CONFIG_AFTER_EXIT);
  cr_assert_eq(wk->on_busy, CONFIG_ON_BUSY_IGNORE);

  cr_assert_eq(b->ready, CONFIG_READY_EXEC);
  cr_assert_str_eq(b->ready_argv[0], "/bin/sh");
  cr_assert_str_eq(b->ready_argv[2], "test -f out");
  cr_assert_eq(b->watch.n_paths, 1);
  cr_assert_str_eq(b->watch.paths[0], c->dir); /* "." is the folder */
  cr_assert_eq(b->watch.action, CONFIG_WATCH_START);
  cr_assert_eq(b->watch.gitignore, 1);
  cr_assert_eq(b->watch.debounce_ms, 150);
  cr_assert_eq(b->watch.max_wait_ms, 2000);
  cr_assert_eq(b->watch.loop_max_restarts, 10);
  cr_assert_eq(b->watch.loop_period_ms, 60000);
  cr_assert_eq(b->watch.n_include, 0);
  cr_assert_eq(b->watch.n_exclude, 0);

  cr_assert_null(config_find(c, "nope"));
  cr_assert_eq(config_find(c, "dev"), c->root);
  config_free(c);
}

Test(config_defaults, minimal_document)
{
  struct config *c = must_file(FIX "minimal.json");
  char want[4200];

  cr_assert_str_eq(c->root->name, "root");
  cr_assert(c->root->is_group);
  cr_assert_eq(c->root->strategy, CONFIG_STRATEGY_ONE_FOR_ONE);
  cr_assert_eq(c->root->max_restarts, -1); /* no intensity by default */
  cr_assert_eq(c->root->period_ms, 10000);
  cr_assert_eq(c->on_give_up, CONFIG_GIVE_UP_STAY);
  snprintf(want, sizeof want, "%s/.tend-minimal" /* NAME.json -> .tend-NAME */,
           c->dir);
  cr_assert_str_eq(c->state_dir, want);
  cr_assert_eq(c->http.enabled, 1);
  cr_assert_str_eq(c->http.host, "127.0.0.1");
  cr_assert_eq(c->http.port, 7070);
  cr_assert_eq(c->http.allow_remote, 0);
  cr_assert_eq(c->output.max_bytes, 64 << 20);
  cr_assert_eq(c->output.keep, 3);
  cr_assert_null(c->include_dir);

  struct config_node *n = config_find(c, "only");
  cr_assert_str_eq(n->cwd, c->dir);
  cr_assert_not_null(n->env); /* never NULL for a runner */
  cr_assert_null(n->env[0]);
  cr_assert_eq(n->restart, CONFIG_RESTART_PERMANENT);
  cr_assert_eq(n->backoff_initial_ms, 100);
  cr_assert_eq(n->backoff_max_ms, 30000);
  cr_assert_eq(n->backoff_reset_ms, 10000);
  cr_assert_eq(n->stop_signal, SIGTERM);
  cr_assert_eq(n->stop_timeout_ms, 5000);
  cr_assert_eq(n->ready, CONFIG_READY_NONE);
  cr_assert_eq(n->ready_timeout_ms, 30000);
  cr_assert_eq(n->autostart, 1);
  cr_assert_eq(n->n_success_codes, 1);
  cr_assert_eq(n->success_codes[0], 0);
  cr_assert(config_success_code(n, 0));
  cr_assert_not(config_success_code(n, 1));
  cr_assert_eq(n->output.max_bytes, 64 << 20);
  cr_assert_eq(n->output.keep, 3);
  cr_assert_eq(n->watch.enabled, 0);
  cr_assert_null(n->after.runner);
  cr_assert_eq(n->on_busy, CONFIG_ON_BUSY_QUEUE);
  cr_assert_str_eq(n->spec_json, "{\"cmd\":[\"true\"],\"name\":\"only\"}");
  config_free(c);
}

Test(config_defaults, empty_root_and_disabled_http)
{
  struct config *c = must_j("{'http': {'listen': false}}");
  cr_assert_eq(c->root->n_children, 0);
  cr_assert_eq(c->http.enabled, 0);
  config_free(c);

  c = must_j("{'http': {'listen': '[::1]:0'}, 'children': []}");
  cr_assert_eq(c->http.enabled, 1);
  cr_assert_str_eq(c->http.host, "::1");
  cr_assert_eq(c->http.port, 0);
  config_free(c);

  c = must_j("{'http': {'listen': 'localhost:65535'}}");
  cr_assert_str_eq(c->http.host, "localhost");
  cr_assert_eq(c->http.port, 65535);
  config_free(c);

  c = must_j("{'http': {'listen': '127.1.2.3:80'}}");
  cr_assert_str_eq(c->http.host, "127.1.2.3");
  config_free(c);

  c = must_j("{'http': {'listen': '[::]:80', 'allow_remote': true}}");
  cr_assert_str_eq(c->http.host, "::");
  cr_assert_eq(c->http.allow_remote, 1);
  config_free(c);
}

Test(config_defaults, listen_set_only_when_given)
{
  /* Without "listen" the server looks for a free port from 7070 up; with
   * it, the port given is the only one (ui/http.c). */
  struct config *c = must_j("{'children': []}");
  cr_assert_eq(c->http.listen_set, 0);
  cr_assert_eq(c->http.port, 7070);
  config_free(c);

  c = must_j("{'http': {'allow_remote': true}}");
  cr_assert_eq(c->http.listen_set, 0);
  config_free(c);

  c = must_j("{'http': {'listen': '127.0.0.1:7070'}}");
  cr_assert_eq(c->http.listen_set, 1);
  cr_assert_eq(c->http.port, 7070);
  config_free(c);
}

Test(config_defaults, relative_and_absolute_paths)
{
  struct config *c = must_j("{'state_dir': '/var/lib/tend/', 'children': ["
                            "{'name': 'a', 'cmd': 'x', 'cwd': '../other/./dir',"
                            " 'watch': {'paths': ['../w', '/abs//p/']}}]}");
  struct config_node *a = config_find(c, "a");
  cr_assert_str_eq(c->file, "/srv/app/tend.json");
  cr_assert_str_eq(c->dir, "/srv/app");
  cr_assert_str_eq(c->state_dir, "/var/lib/tend");
  cr_assert_str_eq(a->cwd, "/srv/other/dir");
  cr_assert_str_eq(a->watch.paths[0], "/srv/w");
  cr_assert_str_eq(a->watch.paths[1], "/abs/p");
  config_free(c);

  c = must_j("{'state_dir': 'run', 'on_give_up': 'stay'}");
  cr_assert_str_eq(c->state_dir, "/srv/app/run");
  config_free(c);
}

Test(config_defaults, backoff_defaults_follow_the_given_bound)
{
  struct config *c = must_j(
      "{'children': [{'name': 'a', 'cmd': 'x', 'backoff': {'initial_ms': "
      "60000}}, {'name': 'b', 'cmd': 'x', 'backoff': {'max_ms': 20}},"
      "{'name': 'c', 'cmd': 'x', 'backoff': {'initial_ms': 0, 'max_ms': 0,"
      " 'reset_after_s': 0}}]}");
  cr_assert_eq(config_find(c, "a")->backoff_initial_ms, 60000);
  cr_assert_eq(config_find(c, "a")->backoff_max_ms, 60000);
  cr_assert_eq(config_find(c, "b")->backoff_initial_ms, 20);
  cr_assert_eq(config_find(c, "b")->backoff_max_ms, 20);
  cr_assert_eq(config_find(c, "c")->backoff_max_ms, 0);
  cr_assert_eq(config_find(c, "c")->backoff_reset_ms, 0);
  config_free(c);
}

Test(config_defaults, signal_names_in_every_spelling)
{
  struct config *c = must_j(
      "{'children': [{'name': 'a', 'cmd': 'x', 'stop': {'signal': 'QUIT'}},"
      "{'name': 'b', 'cmd': 'x', 'stop': {'signal': 'sigusr2'}},"
      "{'name': 'c', 'cmd': 'x', 'watch': {'paths': ['.'],"
      " 'action': 'signal:SIGUSR1'}}]}");
  cr_assert_eq(config_find(c, "a")->stop_signal, SIGQUIT);
  cr_assert_eq(config_find(c, "b")->stop_signal, SIGUSR2);
  cr_assert_eq(config_find(c, "c")->watch.signal, SIGUSR1);
  cr_assert_eq(config_find(c, "c")->watch.action, CONFIG_WATCH_SIGNAL);
  config_free(c);
}

Test(config_defaults, names_with_every_allowed_character)
{
  struct config *c = must_j(
      "{'name': 'Top_1', 'children': [{'name': 'a.b-c_D9', 'cmd': 'x'}]}");
  cr_assert_not_null(config_find(c, "a.b-c_D9"));
  cr_assert_str_eq(c->root->name, "Top_1");
  config_free(c);
  config_free(NULL);
}

/* "$schema" names the JSON Schema for editors (docs/tend.schema.json): the
 * root may carry it, as a string; it changes nothing else. */
Test(config_defaults, schema_key_on_the_root)
{
  struct config *c = must_j(
      "{'$schema': 'https://tend.example/tend.schema.json', 'name': 'dev',"
      " 'children': [{'name': 'a', 'cmd': 'x'}]}");
  cr_assert_str_eq(c->root->name, "dev");
  cr_assert_eq(c->root->n_children, 1);
  config_free(c);
  c = must_j("{'$schema': ''}");
  config_free(c);

  expect_errors("{'$schema': 1}",
                "tend.json:1:13: [\"$schema\"]: expected a string\n");
  expect_errors("{'children': [{'name': 'a', 'cmd': 'x', '$schema': 'u'}]}",
                "tend.json:1:41: children[0][\"$schema\"]: \"$schema\" is "
                "allowed only on the root\n");
  expect_errors("{'schema': 'u'}",
                "tend.json:1:2: schema: unknown key \"schema\" (did you mean "
                "\"$schema\"?)\n");
}

/* ------------------------------------------------------------------------ */
/* Errors                                                                    */
/* ------------------------------------------------------------------------ */

Test(config_errors, fixture_reports_every_error_in_document_order)
{
  struct config *c = (struct config *)1;
  char *err = NULL;
  int rc = config_load(FIX "errors.json", &c, &err);
  const char *want =
      FIX "errors.json:3:16: state_dir: expected a string\n" FIX
          "errors.json:4:15: strategy: expected one of one_for_one, "
          "one_for_all, rest_for_one\n" FIX
          "errors.json:6:58: children[0].ready.tcp: expected an integer "
          "between 1 and 65535\n" FIX
          "errors.json:7:37: children[1].restar: unknown key \"restar\" "
          "(did you mean \"restart\"?)\n" FIX
          "errors.json:8:17: children[1].restart: expected one of "
          "permanent, transient, temporary\n" FIX
          "errors.json:8:30: children[1].strategy: \"strategy\" is a group "
          "key, but this node is a runner (it has \"cmd\")\n" FIX
          "errors.json:9:14: children[2].name: name \"db\" is already used "
          "by children[0] (" FIX "errors.json:6:14)\n" FIX
          "errors.json:9:41: children[2].children[0].cmd: expected a "
          "non-empty string or a non-empty array of strings\n" FIX
          "errors.json:9:53: children[2].children[0].name: expected a name "
          "matching [A-Za-z0-9_.-]+\n" FIX
          "errors.json:10:50: children[3].watch.paths: expected a non-empty "
          "array of strings\n" FIX
          "errors.json:10:64: children[3].watch.action: unknown signal "
          "\"FOO\"\n" FIX
          "errors.json:11:22: children[3].env.PORT: expected a string "
          "(write \"8080\")\n" FIX
          "errors.json:11:28: children[3].env[\"A=B\"]: invalid variable "
          "name \"A=B\"\n" FIX
          "errors.json:11:61: children[3].after.runner: unknown runner "
          "\"wx\" (did you mean \"w\"?)\n" FIX
          "errors.json:12:23: children[3].ready.log: invalid regular "
          "expression: Unmatched [, [^, [:, [., or [=\n" FIX
          "errors.json:13:35: children[4].restart: \"restart\" is a runner "
          "key, but this node is a group (it has \"children\")\n" FIX
          "errors.json:13:59: children[4].output: \"output\" is allowed only "
          "on the root or on a runner\n" FIX
          "errors.json:14:50: children[5].stop.signal: unknown signal "
          "\"TERMINATE\" (expected a name such as TERM, INT, HUP, QUIT, "
          "KILL, USR1 or USR2)\n" FIX
          "errors.json:16:22: http.listen: \"0.0.0.0\" is not a loopback "
          "address; set \"allow_remote\": true to listen on it\n";
  cr_assert_eq(rc, -EINVAL);
  cr_assert_null(c);
  cr_assert_str_eq(err, want);
  free(err);
}

Test(config_errors, syntax_duplicate_key_and_missing_file)
{
  struct config *c;
  char *err;
  cr_assert_eq(config_load(FIX "syntax.json", &c, &err), -EINVAL);
  cr_assert_str_eq(err, FIX "syntax.json:3:18: unexpected token near ','\n");
  free(err);
  cr_assert_eq(config_load(FIX "dupkey.json", &c, &err), -EINVAL);
  cr_assert_str_eq(err, FIX "dupkey.json:3:8: duplicate object key near "
                            "'\"name\"'\n");
  free(err);
  cr_assert_eq(config_load(FIX "absent.json", &c, &err), -ENOENT);
  cr_assert_null(c);
  cr_assert_str_eq(err, FIX "absent.json: No such file or directory\n");
  free(err);
  /* errors may be NULL when the caller only wants the verdict */
  cr_assert_eq(config_load(FIX "errors.json", &c, NULL), -EINVAL);
}

Test(config_errors, as_an_array_of_parts)
{
  struct config *c = (struct config *)1;
  struct config_errors e = CONFIG_ERRORS_ZERO;
  char *line;

  /* a validation error: every part */
  cr_assert_eq(config_load_list(FIX "errors.json", &c, &e), -EINVAL);
  cr_assert_null(c);
  cr_assert_eq(e.n, 19);
  cr_expect_str_eq(e.v[0].file, FIX "errors.json");
  cr_expect_eq(e.v[0].line, 3);
  cr_expect_eq(e.v[0].col, 16);
  cr_expect_str_eq(e.v[0].path, "state_dir");
  cr_expect_str_eq(e.v[0].message, "expected a string");
  cr_expect_not(e.v[0].warning);
  /* a path with a quoted key, and a message that quotes user text */
  cr_expect_str_eq(e.v[12].path, "children[3].env[\"A=B\"]");
  cr_expect_str_eq(e.v[12].message, "invalid variable name \"A=B\"");
  line = config_error_format(&e.v[12]);
  cr_expect_str_eq(line, FIX "errors.json:11:28: children[3].env[\"A=B\"]: "
                             "invalid variable name \"A=B\"");
  free(line);
  config_errors_free(&e);
  cr_expect_null(e.v);
  cr_expect_eq(e.n, 0);

  /* a syntax error has no path */
  cr_assert_eq(config_load_list(FIX "syntax.json", &c, &e), -EINVAL);
  cr_assert_eq(e.n, 1);
  cr_expect_null(e.v[0].path);
  cr_expect_eq(e.v[0].line, 3);
  cr_expect_eq(e.v[0].col, 18);
  cr_expect_str_eq(e.v[0].message, "unexpected token near ','");
  config_errors_free(&e);

  /* an unreadable file has no position */
  cr_assert_eq(config_load_list(FIX "absent.json", &c, &e), -ENOENT);
  cr_assert_eq(e.n, 1);
  cr_expect_eq(e.v[0].line, 0);
  cr_expect_null(e.v[0].path);
  line = config_errors_join(&e);
  cr_expect_str_eq(line, FIX "absent.json: No such file or directory\n");
  free(line);
  config_errors_free(&e);

  /* success leaves the array empty */
  cr_assert_eq(config_load_list(FIX "full.json", &c, &e), 0);
  cr_expect_eq(e.n, 0);
  cr_expect_null(e.v);
  config_free(c);
  config_errors_free(NULL);
}

Test(config_errors, node_kind)
{
  expect_errors("{'children': [{'cmd': 'x'}]}",
                "tend.json:1:15: children[0]: missing required key "
                "\"name\"\n");
  expect_errors("{'children': [{'name': 'a', 'cmd': 'x', 'children': []}]}",
                "tend.json:1:15: children[0]: a node is either a group "
                "(\"children\") or a runner (\"cmd\"), not both\n");
  expect_errors("{'children': [{'name': 'a', 'restart': 'permanent'}]}",
                "tend.json:1:15: children[0]: expected \"cmd\" (a runner) or "
                "\"children\" (a group)\n");
  expect_errors("{'name': 'r', 'cmd': 'x'}",
                "tend.json:1:15: cmd: \"cmd\" is a runner key, but the root "
                "must be a group\n");
  expect_errors("[1]", "tend.json:1:1: (root): expected an object\n");
  expect_errors("{'children': [5, {'name': 'a', 'cmd': 'x'}]}",
                "tend.json:1:15: children[0]: expected an object (a runner "
                "or a group)\n");
  expect_errors("{'children': {'name': 'a'}}",
                "tend.json:1:14: children: expected an array of nodes\n");
  expect_errors("{'children': [{'name': 'g', 'children': [],\n"
                "  'cmd': 'x', 'stop': {}}]}",
                "tend.json:1:15: children[0]: a node is either a group "
                "(\"children\") or a runner (\"cmd\"), not both\n");
}

Test(config_errors, keys_in_the_wrong_place)
{
  expect_errors("{'children': [{'name': 'a', 'cmd': 'x', 'state_dir': 'd',\n"
                " 'http': {}, 'include': 'i', 'on_give_up': 'exit'}]}",
                "tend.json:1:41: children[0].state_dir: \"state_dir\" is "
                "allowed only on the root\n"
                "tend.json:2:2: children[0].http: \"http\" is allowed only on "
                "the root\n"
                "tend.json:2:14: children[0].include: \"include\" is allowed "
                "only on the root\n"
                "tend.json:2:30: children[0].on_give_up: \"on_give_up\" is "
                "allowed only on the root\n");
  expect_errors("{'children': [{'name': 'g', 'children': [], 'env': {},\n"
                " 'intensity': {}, 'watch': {'paths': ['.']}}]}",
                "tend.json:1:45: children[0].env: \"env\" is a runner key, "
                "but this node is a group (it has \"children\")\n"
                "tend.json:2:19: children[0].watch: \"watch\" is a runner key, "
                "but this node is a group (it has \"children\")\n");
  expect_errors("{'children': [{'name': 'a', 'cmd': 'x', 'intensity': {}}]}",
                "tend.json:1:41: children[0].intensity: \"intensity\" is a "
                "group key, but this node is a runner (it has \"cmd\")\n");
}

Test(config_errors, unknown_keys_everywhere_with_suggestions)
{
  expect_errors(
      "{'nmae': 'x', 'strategi': 'one_for_one', 'zzz': 1,\n"
      " 'intensity': {'max_restart': 1}, 'http': {'lisen': 'a:1'},\n"
      " 'output': {'kep': 1}, 'children': [\n"
      " {'name': 'a', 'cmd': 'x', 'autostrat': true, 'cdw': '.',\n"
      "  'backoff': {'initial': 1}, 'stop': {'sigal': 'TERM'},\n"
      "  'ready': {'tcp': 1, 'timeout': 1},\n"
      "  'watch': {'paths': ['.'], 'debounce': 1, 'loop_limit': {'period': 1}},"
      "\n  'after': {'runer': 'b'}}]}",
      "tend.json:1:2: nmae: unknown key \"nmae\" (did you mean \"name\"?)\n"
      "tend.json:1:15: strategi: unknown key \"strategi\" (did you mean "
      "\"strategy\"?)\n"
      "tend.json:1:42: zzz: unknown key \"zzz\"\n"
      "tend.json:2:16: intensity.max_restart: unknown key \"max_restart\" "
      "(did you mean \"max_restarts\"?)\n"
      "tend.json:2:44: http.lisen: unknown key \"lisen\" (did you mean "
      "\"listen\"?)\n"
      "tend.json:3:13: output.kep: unknown key \"kep\" (did you mean "
      "\"keep\"?)\n"
      "tend.json:4:28: children[0].autostrat: unknown key \"autostrat\" "
      "(did you mean \"autostart\"?)\n"
      "tend.json:4:47: children[0].cdw: unknown key \"cdw\" (did you mean "
      "\"cwd\"?)\n"
      "tend.json:5:15: children[0].backoff.initial: unknown key \"initial\" "
      "(did you mean \"initial_ms\"?)\n"
      "tend.json:5:39: children[0].stop.sigal: unknown key \"sigal\" (did you "
      "mean \"signal\"?)\n"
      "tend.json:6:23: children[0].ready.timeout: unknown key \"timeout\" "
      "(did you mean \"timeout_s\"?)\n"
      "tend.json:7:29: children[0].watch.debounce: unknown key \"debounce\" "
      "(did you mean \"debounce_ms\"?)\n"
      "tend.json:7:59: children[0].watch.loop_limit.period: unknown key "
      "\"period\" (did you mean \"period_s\"?)\n"
      "tend.json:8:12: children[0].after: missing required key \"runner\"\n"
      "tend.json:8:13: children[0].after.runer: unknown key \"runer\" (did "
      "you mean \"runner\"?)\n");
}

Test(config_errors, names_unique_across_the_whole_tree)
{
  expect_errors(
      "{'name': 'top', 'children': [\n"
      "  {'name': 'g1', 'children': [\n"
      "    {'name': 'g2', 'children': [{'name': 'api', 'cmd': 'x'}]}]},\n"
      "  {'name': 'api', 'cmd': 'y'},\n"
      "  {'name': 'top', 'cmd': 'z'},\n"
      "  {'name': 'g2', 'children': []}]}",
      "tend.json:4:12: children[1].name: name \"api\" is already used by "
      "children[0].children[0].children[0] (tend.json:3:42)\n"
      "tend.json:5:12: children[2].name: name \"top\" is already used by "
      "(root) (tend.json:1:10)\n"
      "tend.json:6:12: children[3].name: name \"g2\" is already used by "
      "children[0].children[0] (tend.json:3:14)\n");
  /* the root's default name is taken too */
  expect_errors("{'children': [{'name': 'root', 'cmd': 'x'}]}",
                "tend.json:1:24: children[0].name: name \"root\" is already "
                "used by (root) (tend.json:1:1)\n");
}

Test(config_errors, invalid_names)
{
  char *long_doc = malloc(400);
  sprintf(long_doc, "{'children': [{'cmd': 'x', 'name': '%0129d'}]}", 0);
  expect_errors(long_doc, "tend.json:1:36: children[0].name: expected a name "
                          "of at most 128 characters\n");
  free(long_doc);
  expect_errors("{'name': 'a/b'}",
                "tend.json:1:10: name: expected a name matching "
                "[A-Za-z0-9_.-]+\n");
  expect_errors("{'name': ''}", "tend.json:1:10: name: expected a name "
                                "matching [A-Za-z0-9_.-]+\n");
  expect_errors("{'name': '..'}",
                "tend.json:1:10: name: \".\" and names containing \"..\" "
                "are not valid names\n");
  expect_errors("{'name': 7}", "tend.json:1:10: name: expected a string\n");
}

Test(config_errors, group_values)
{
  expect_errors("{'strategy': 1, 'intensity': {'max_restarts': -1,\n"
                " 'period_s': 0}, 'on_give_up': 'crash'}",
                "tend.json:1:14: strategy: expected one of one_for_one, "
                "one_for_all, rest_for_one\n"
                "tend.json:1:47: intensity.max_restarts: expected an integer "
                ">= 0\n"
                "tend.json:2:14: intensity.period_s: expected a number > 0\n"
                "tend.json:2:32: on_give_up: expected one of stay, exit\n");
  expect_errors("{'intensity': {'max_restarts': 1.5, 'period_s': '10'}}",
                "tend.json:1:32: intensity.max_restarts: expected an integer "
                ">= 0\n"
                "tend.json:1:49: intensity.period_s: expected a number > 0\n");
  expect_errors("{'intensity': 5, 'state_dir': '', 'include': 3}",
                "tend.json:1:15: intensity: expected an object\n"
                "tend.json:1:31: state_dir: expected a non-empty string\n"
                "tend.json:1:46: include: expected a string\n");
}

Test(config_errors, output_values)
{
  expect_errors("{'output': {'max_bytes': 100, 'keep': 0}, 'children': [\n"
                " {'name': 'a', 'cmd': 'x', 'output': {'keep': 'all'}}]}",
                "tend.json:1:26: output.max_bytes: expected an integer >= "
                "4096\n"
                "tend.json:1:39: output.keep: expected an integer >= 1\n"
                "tend.json:2:47: children[0].output.keep: expected an integer "
                ">= 1\n");
}

Test(config_errors, command_values)
{
  expect_errors(
      "{'children': [{'name': 'a', 'cmd': 5},\n"
      " {'name': 'b', 'cmd': []},\n"
      " {'name': 'c', 'cmd': ['', 'x']},\n"
      " {'name': 'd', 'cmd': ['ls', 5, null]},\n"
      " {'name': 'e', 'cmd': '  '},\n"
      " {'name': 'f', 'cmd': 'x', 'cwd': '', 'env': []},\n"
      " {'name': 'g', 'cmd': 'x', 'env': {'': 'a', 'B': null, 'C': true}}]}",
      "tend.json:1:36: children[0].cmd: expected a non-empty string or a "
      "non-empty array of strings\n"
      "tend.json:2:23: children[1].cmd: expected a non-empty string or a "
      "non-empty array of strings\n"
      "tend.json:3:24: children[2].cmd[0]: expected a non-empty program "
      "name\n"
      "tend.json:4:30: children[3].cmd[1]: expected a string\n"
      "tend.json:4:33: children[3].cmd[2]: expected a string\n"
      "tend.json:5:23: children[4].cmd: expected a non-empty command\n"
      "tend.json:6:35: children[5].cwd: expected a non-empty string\n"
      "tend.json:6:46: children[5].env: expected an object\n"
      "tend.json:7:36: children[6].env[\"\"]: invalid variable name \"\"\n"
      "tend.json:7:50: children[6].env.B: expected a string\n"
      "tend.json:7:61: children[6].env.C: expected a string (write "
      "\"true\")\n");
}

Test(config_errors, runner_values)
{
  expect_errors(
      "{'children': [{'name': 'a', 'cmd': 'x', 'restart': 'always',\n"
      " 'backoff': {'initial_ms': 500, 'max_ms': 100, 'reset_after_s': -1},\n"
      " 'stop': {'signal': 15, 'timeout_ms': -5}, 'autostart': 'yes',\n"
      " 'success_codes': [], 'on_busy': 'drop'},\n"
      " {'name': 'b', 'cmd': 'x', 'success_codes': '0', 'backoff': 1,\n"
      "  'stop': {'signal': 'SIGNOPE'}}]}",
      "tend.json:1:52: children[0].restart: expected one of permanent, "
      "transient, temporary\n"
      "tend.json:2:43: children[0].backoff.max_ms: expected an integer >= "
      "initial_ms (500)\n"
      "tend.json:2:65: children[0].backoff.reset_after_s: expected a number "
      ">= 0\n"
      "tend.json:3:21: children[0].stop.signal: expected a signal name such "
      "as \"TERM\"\n"
      "tend.json:3:39: children[0].stop.timeout_ms: expected an integer >= "
      "0\n"
      "tend.json:3:57: children[0].autostart: expected true or false\n"
      "tend.json:4:19: children[0].success_codes: expected a non-empty array "
      "of integers between 0 and 255\n"
      "tend.json:4:34: children[0].on_busy: expected one of queue, restart, "
      "ignore\n"
      "tend.json:5:45: children[1].success_codes: expected a non-empty array "
      "of integers between 0 and 255\n"
      "tend.json:5:61: children[1].backoff: expected an object\n"
      "tend.json:6:22: children[1].stop.signal: unknown signal \"SIGNOPE\" "
      "(expected a name such as TERM, INT, HUP, QUIT, KILL, USR1 or USR2)\n");
}

Test(config_errors, ready_values)
{
  expect_errors(
      "{'children': [{'name': 'a', 'cmd': 'x', 'ready': {}},\n"
      " {'name': 'b', 'cmd': 'x', 'ready': {'tcp': 0}},\n"
      " {'name': 'c', 'cmd': 'x', 'ready': {'tcp': '80'}},\n"
      " {'name': 'd', 'cmd': 'x', 'ready': {'exec': [], 'timeout_s': 0}},\n"
      " {'name': 'e', 'cmd': 'x', 'ready': {'log': 'a', 'exec': 'b',\n"
      "                                     'tcp': 1}},\n"
      " {'name': 'f', 'cmd': 'x', 'ready': {'log': 'a{1', 'timeout_s': 1}},\n"
      " {'name': 'g', 'cmd': 'x', 'ready': {'timeout_s': 5}}]}",
      "tend.json:1:50: children[0].ready: expected exactly one of \"tcp\", "
      "\"exec\", \"log\" or \"http\"\n"
      "tend.json:2:45: children[1].ready.tcp: expected an integer between 1 "
      "and 65535\n"
      "tend.json:3:45: children[2].ready.tcp: expected an integer between 1 "
      "and 65535\n"
      "tend.json:4:46: children[3].ready.exec: expected a non-empty string or "
      "a non-empty array of strings\n"
      "tend.json:4:63: children[3].ready.timeout_s: expected a number > 0\n"
      "tend.json:5:50: children[4].ready.exec: only one of \"tcp\", \"exec\", "
      "\"log\" or \"http\" may be set (\"log\" is already)\n"
      "tend.json:6:38: children[4].ready.tcp: only one of \"tcp\", \"exec\", "
      "\"log\" or \"http\" may be set (\"log\" is already)\n"
      "tend.json:7:45: children[5].ready.log: invalid regular expression: "
      "Unmatched \\{\n"
      "tend.json:8:37: children[6].ready: expected exactly one of \"tcp\", "
      "\"exec\", \"log\" or \"http\"\n");
}

Test(config_errors, watch_values)
{
  expect_errors(
      "{'children': [{'name': 'a', 'cmd': 'x', 'watch': {}},\n"
      " {'name': 'b', 'cmd': 'x', 'watch': {'paths': ['', 3],\n"
      "  'include': '*.c', 'exclude': [1], 'gitignore': 0,\n"
      "  'debounce_ms': -1, 'max_wait_ms': 1.5, 'action': 'reload',\n"
      "  'loop_limit': {'max_restarts': -1, 'period_s': 0}}},\n"
      " {'name': 'c', 'cmd': 'x', 'watch': {'paths': 'src'}}]}",
      "tend.json:1:50: children[0].watch: missing required key \"paths\"\n"
      "tend.json:2:48: children[1].watch.paths[0]: expected a non-empty "
      "string\n"
      "tend.json:2:52: children[1].watch.paths[1]: expected a non-empty "
      "string\n"
      "tend.json:3:14: children[1].watch.include: expected an array of "
      "strings\n"
      "tend.json:3:33: children[1].watch.exclude[0]: expected a non-empty "
      "string\n"
      "tend.json:3:50: children[1].watch.gitignore: expected true or false\n"
      "tend.json:4:18: children[1].watch.debounce_ms: expected an integer >= "
      "0\n"
      "tend.json:4:37: children[1].watch.max_wait_ms: expected an integer >= "
      "0\n"
      "tend.json:4:52: children[1].watch.action: expected \"restart\", "
      "\"start\" or \"signal:<NAME>\" (e.g. \"signal:HUP\")\n"
      "tend.json:5:34: children[1].watch.loop_limit.max_restarts: expected "
      "an integer >= 0\n"
      "tend.json:5:50: children[1].watch.loop_limit.period_s: expected a "
      "number > 0\n"
      "tend.json:6:47: children[2].watch.paths: expected a non-empty array "
      "of strings\n");
}

Test(config_errors, bad_globs)
{
  expect_errors("{'children': [{'name': 'a', 'cmd': 'x', 'watch': {\n"
                " 'paths': ['.'], 'include': ['**/*.c', 'src/[a-z'],\n"
                " 'exclude': ['x\\\\']}}]}",
                "tend.json:2:40: children[0].watch.include[1]: invalid glob "
                "\"src/[a-z\": unterminated '[' at offset 4\n"
                "tend.json:3:14: children[0].watch.exclude[0]: invalid glob "
                "\"x\\\\\": trailing backslash\n");
}

Test(config_errors, after_values)
{
  expect_errors(
      "{'children': [{'name': 'a', 'cmd': 'x', 'after': {'runner': 'a'}},\n"
      " {'name': 'b', 'cmd': 'x', 'after': {'runner': 'grp', 'on': 'done'}},\n"
      " {'name': 'grp', 'children': [\n"
      "   {'name': 'c1', 'cmd': 'x', 'after': {'runner': 'c2'}},\n"
      "   {'name': 'c2', 'cmd': 'x', 'after': {'runner': 'c1'}}]},\n"
      " {'name': 'd', 'cmd': 'x', 'after': {'runner': ''}},\n"
      " {'name': 'e', 'cmd': 'x', 'after': 'a'}]}",
      "tend.json:1:61: children[0].after.runner: a runner cannot run after "
      "itself\n"
      "tend.json:2:48: children[1].after.runner: \"grp\" is a group; "
      "\"after\" names a runner\n"
      "tend.json:2:61: children[1].after.on: expected one of success, "
      "exit\n"
      "tend.json:4:51: children[2].children[0].after.runner: \"after\" makes "
      "a cycle: c1 -> c2 -> c1\n"
      "tend.json:5:51: children[2].children[1].after.runner: \"after\" makes "
      "a cycle: c2 -> c1 -> c2\n"
      "tend.json:6:48: children[3].after.runner: expected a non-empty "
      "string\n"
      "tend.json:7:37: children[4].after: expected an object\n");
}

Test(config_errors, http_listen_values)
{
  expect_errors("{'http': {'listen': '0.0.0.0:80'}}",
                "tend.json:1:21: http.listen: \"0.0.0.0\" is not a loopback "
                "address; set \"allow_remote\": true to listen on it\n");
  expect_errors("{'http': {'listen': '[::]:80', 'allow_remote': false}}",
                "tend.json:1:21: http.listen: \"::\" is not a loopback "
                "address; set \"allow_remote\": true to listen on it\n");
  expect_errors("{'http': {'listen': 'example.com:80'}}",
                "tend.json:1:21: http.listen: \"example.com\" is not a "
                "loopback address; set \"allow_remote\": true to listen on "
                "it\n");
  expect_errors("{'http': {'listen': '::1:7070'}}",
                "tend.json:1:21: http.listen: write an IPv6 address in "
                "brackets, e.g. \"[::1]:7070\"\n");
  expect_errors("{'http': {'listen': 'localhost:65536'}}",
                "tend.json:1:21: http.listen: expected a port between 0 and "
                "65535\n");
  expect_errors("{'http': {'listen': 'localhost:'}}",
                "tend.json:1:21: http.listen: expected a port between 0 and "
                "65535\n");
  expect_errors("{'http': {'listen': 'localhost'}}",
                "tend.json:1:21: http.listen: expected \"host:port\" or "
                "false\n");
  expect_errors("{'http': {'listen': ':7070'}}",
                "tend.json:1:21: http.listen: expected a host before the "
                "port\n");
  expect_errors("{'http': {'listen': '[::1]7070'}}",
                "tend.json:1:21: http.listen: expected \"[address]:port\" for "
                "an IPv6 address\n");
  expect_errors("{'http': {'listen': '[zz]:1'}}",
                "tend.json:1:21: http.listen: expected an IPv6 address inside "
                "the brackets\n");
  expect_errors("{'http': {'listen': 'a b:1'}}",
                "tend.json:1:21: http.listen: expected a host name or an IPv4 "
                "address before the port\n");
  expect_errors("{'http': {'listen': true, 'allow_remote': 1}}",
                "tend.json:1:21: http.listen: expected \"host:port\" or "
                "false\n"
                "tend.json:1:43: http.allow_remote: expected true or false\n");
  expect_errors("{'http': false}",
                "tend.json:1:10: http: expected an object\n");
}

Test(config_errors, sorted_by_position_not_by_discovery)
{
  /* cmd is checked before restart, but restart comes first in the text */
  expect_errors("{'children': [{'name': 'a', 'restart': 1, 'cmd': 5}]}",
                "tend.json:1:40: children[0].restart: expected one of "
                "permanent, transient, temporary\n"
                "tend.json:1:50: children[0].cmd: expected a non-empty string "
                "or a non-empty array of strings\n");
}

Test(config_errors, columns_count_characters_and_keys_are_decoded)
{
  /* "é" is two bytes but one column; \u0065 decodes to "e" */
  expect_errors("{'children': [{'name': 'caf\xc3\xa9', 'cmd': 'x'},\n"
                " {'name': 'b', 'cmd': 'x', 'r\\u0065start': 'x'}]}",
                "tend.json:1:24: children[0].name: expected a name matching "
                "[A-Za-z0-9_.-]+\n"
                "tend.json:2:44: children[1].restart: expected one of "
                "permanent, transient, temporary\n");
  /* user text in messages is quoted, so a newline cannot split a line */
  expect_errors("{'a\\nb': 1}",
                "tend.json:1:2: [\"a\\nb\"]: unknown key \"a\\nb\"\n");
}

/* ------------------------------------------------------------------------ */
/* Include folder                                                            */
/* ------------------------------------------------------------------------ */

Test(config_include, broken_files_report_their_own_positions)
{
  struct config *c = (struct config *)1;
  char *err = NULL;
  int rc = config_load(FIX "include/tend.json", &c, &err);
  cr_assert_eq(rc, -EINVAL);
  cr_assert_null(c);
  cr_assert_str_eq(
      err,
      FIX "include/conf.d/20-broken.json:2:11: children[2].name: name "
          "\"web\" is already used by children[0] (" FIX
          "include/tend.json:5:14)\n" FIX
          "include/conf.d/20-broken.json:4:14: children[2].restart: expected "
          "one of permanent, transient, temporary\n" FIX
          "include/conf.d/30-syntax.json:2:15: string or '}' expected near "
          "'}'\n");
  free(err);
}

Test(config_include, files_become_children_of_the_root_in_name_order)
{
  struct config *c = must_file(FIX "include_ok/tend.json");
  char want[4200];
  struct config_node *r = c->root;

  snprintf(want, sizeof want, "%s/conf.d", c->dir);
  cr_assert_str_eq(c->include_dir, want);
  cr_assert_eq(r->n_children, 3);
  cr_assert_str_eq(r->children[0]->name, "first");
  cr_assert_str_eq(r->children[1]->name, "second"); /* a.json */
  cr_assert_str_eq(r->children[2]->name, "grp");    /* b.json */
  cr_assert_eq(r->children[2]->index, 2);
  cr_assert_eq(r->children[2]->parent, r);
  cr_assert_eq(r->children[2]->strategy, CONFIG_STRATEGY_ONE_FOR_ALL);
  struct config_node *inner = config_find(c, "inner");
  cr_assert_eq(inner->parent, r->children[2]);
  /* relative to the main config's folder, and the root's output inherited */
  snprintf(want, sizeof want, "%s/sub", c->dir);
  cr_assert_str_eq(inner->cwd, want);
  cr_assert_eq(inner->output.keep, 7);
  /* "after" may name a runner of another file */
  cr_assert_str_eq(config_find(c, "second")->after.runner, "inner");
  config_free(c);
}

Test(config_include, missing_folder)
{
  expect_errors("{'include': 'conf.d'}",
                "tend.json:1:13: include: cannot open folder "
                "\"/srv/app/conf.d\": No such file or directory\n");
}

/* Writes a file. */
static void
put(const char *dir, const char *name, const char *text)
{
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "w");
  cr_assert_not_null(f);
  fputs(text, f);
  fclose(f);
}

Test(config_include, hash_covers_included_files)
{
  char dir[] = "/tmp/test_config.XXXXXX";
  char sub[4096], path[4096];
  struct config *a, *b, *d;
  cr_assert_not_null(mkdtemp(dir));
  snprintf(sub, sizeof sub, "%s/conf.d", dir);
  cr_assert_eq(mkdir(sub, 0700), 0);
  snprintf(path, sizeof path, "%s/tend.json", dir);
  put(dir, "tend.json", "{\"include\": \"conf.d\"}");
  put(sub, "x.json", "{\"name\": \"x\", \"cmd\": \"a\"}");
  a = must_file(path);
  put(sub, "x.json", "{\"cmd\": \"a\",\n \"name\": \"x\"}");
  b = must_file(path);
  put(sub, "x.json", "{\"name\": \"x\", \"cmd\": \"b\"}");
  d = must_file(path);
  cr_assert_str_eq(a->hash, b->hash); /* key order and spaces do not count */
  cr_assert_str_neq(a->hash, d->hash);
  cr_assert_str_eq(config_find(a, "x")->spec_json,
                   config_find(b, "x")->spec_json);
  config_free(a);
  config_free(b);
  config_free(d);

  /* an include error names the file relative to the name we were given */
  put(sub, "y.json", "{\"name\": \"y\", \"cmd\": 1}");
  char *err = NULL;
  cr_assert_eq(config_load(path, &a, &err), -EINVAL);
  char want[4200];
  snprintf(want, sizeof want,
           "%s/conf.d/y.json:1:22: children[1].cmd: expected a non-empty "
           "string or a non-empty array of strings\n",
           dir);
  cr_assert_str_eq(err, want);
  free(err);

  snprintf(path, sizeof path, "%s/conf.d/x.json", dir);
  unlink(path);
  snprintf(path, sizeof path, "%s/conf.d/y.json", dir);
  unlink(path);
  rmdir(sub);
  snprintf(path, sizeof path, "%s/tend.json", dir);
  unlink(path);
  rmdir(dir);
}

Test(config_hash, canonical_document)
{
  struct config *a = must_j("{'name': 'r', 'children': [{'name': 'a', "
                            "'cmd': 'x', 'env': {'A': '1', 'B': '2'}}]}");
  struct config *b = must_j("{ 'children' : [ { 'env': {'B': '2', 'A': '1'},"
                            " 'cmd': 'x', 'name': 'a' } ],\n 'name': 'r' }");
  struct config *c = must_j("{'name': 'r', 'children': [{'name': 'a', "
                            "'cmd': 'x', 'env': {'A': '1', 'B': '3'}}]}");
  cr_assert_str_eq(a->hash, b->hash);
  cr_assert_str_neq(a->hash, c->hash);
  cr_assert_str_eq(config_find(a, "a")->spec_json,
                   "{\"cmd\":\"x\",\"env\":{\"A\":\"1\",\"B\":\"2\"},"
                   "\"name\":\"a\"}");
  cr_assert_str_eq(config_find(a, "a")->spec_json,
                   config_find(b, "a")->spec_json);
  cr_assert_str_eq(a->root->spec_json, "{\"name\":\"r\"}");
  config_free(a);
  config_free(b);
  config_free(c);
}

/* ------------------------------------------------------------------------ */
/* Locator                                                                   */
/* ------------------------------------------------------------------------ */

Test(config_pos, locate_paths_keys_and_fallbacks)
{
  const char *t =
      "{\n"
      "  \"a\": [1, {\"b\": \"x\"}, [true, null]],\n"
      "  \"k\\u00e9y\": {\"c.d\": 5},\n"
      "  \"\xc3\xa9\": \"v\", \"e\": {\"s\": \"a\\\"]}\", \"t\": 1}\n"
      "}";
  size_t n = strlen(t);
  int line, col;

  cr_assert_eq(config_pos_locate(t, n, "", 0, &line, &col), 0);
  cr_assert_eq(line, 1);
  cr_assert_eq(col, 1);
  cr_assert_eq(config_pos_locate(t, n, "(root)", 0, &line, &col), 0);
  cr_assert_eq(config_pos_locate(t, n, "a", 0, &line, &col), 0);
  cr_assert_eq(line, 2);
  cr_assert_eq(col, 8);
  cr_assert_eq(config_pos_locate(t, n, "a", 1, &line, &col), 0);
  cr_assert_eq(col, 3);
  cr_assert_eq(config_pos_locate(t, n, "a[1].b", 0, &line, &col), 0);
  cr_assert_eq(col, 18);
  cr_assert_eq(config_pos_locate(t, n, "a[2][1]", 0, &line, &col), 0);
  cr_assert_eq(col, 31);
  cr_assert_eq(config_pos_locate(t, n, "k\xc3\xa9y[\"c.d\"]", 0, &line, &col),
               0);
  cr_assert_eq(line, 3);
  cr_assert_eq(col, 23);
  /* the column after a two-byte character counts it once */
  cr_assert_eq(config_pos_locate(t, n, "e.t", 0, &line, &col), 0);
  cr_assert_eq(line, 4);
  cr_assert_eq(col, 38);
  /* absent: the deepest container found */
  cr_assert_eq(config_pos_locate(t, n, "a[1].zz", 0, &line, &col), -ENOENT);
  cr_assert_eq(line, 2);
  cr_assert_eq(col, 12);
  cr_assert_eq(config_pos_locate(t, n, "a[9]", 0, &line, &col), -ENOENT);
  cr_assert_eq(col, 8);
  cr_assert_eq(config_pos_locate(t, n, "a.b", 0, &line, &col), -ENOENT);
  cr_assert_eq(config_pos_locate(t, n, "a[", 0, &line, &col), -EINVAL);
  cr_assert_eq(config_pos_locate(t, n, "a..b", 0, &line, &col), -EINVAL);
  cr_assert_eq(config_pos_locate(t, n, "[\"x\"", 0, &line, &col), -EINVAL);
}

/* Returns the next number of a xorshift generator (deterministic runs). */
static uint32_t
rnd(uint32_t *state)
{
  *state ^= *state << 13;
  *state ^= *state >> 17;
  *state ^= *state << 5;
  return *state;
}

Test(config_robust, mutated_documents_load_or_report_positioned_errors,
     .timeout = 60)
{
  FILE *f = fopen(FIX "full.json", "rb");
  char base[4096];
  size_t n = fread(base, 1, sizeof base - 1, f);
  const char alphabet[] = "{}[]\":,0-9aAz \n\\.*e";
  uint32_t seed = 12345;
  size_t ok = 0, bad = 0;
  fclose(f);
  base[n] = '\0';
  for (int round = 0; round < 3000; round++) {
    char text[4200];
    size_t len = n;
    memcpy(text, base, n + 1);
    for (int m = 0, k = 1 + rnd(&seed) % 4; m < k; m++) {
      size_t at = rnd(&seed) % len;
      char ch = alphabet[rnd(&seed) % (sizeof alphabet - 1)];
      switch (rnd(&seed) % 3) {
      case 0:
        text[at] = ch;
        break;
      case 1:
        memmove(text + at, text + at + 1, len - at);
        len--;
        break;
      default:
        memmove(text + at + 1, text + at, len - at + 1);
        text[at] = ch;
        len++;
      }
    }
    int lines = 1;
    for (size_t i = 0; i < len; i++)
      lines += text[i] == '\n';
    struct config *c = NULL;
    char *err = NULL;
    int rc = config_load_buffer(text, len, "tend.json", "/srv", &c, &err);
    if (rc == 0) {
      cr_assert_not_null(c);
      cr_assert_eq(strlen(c->hash), 16);
      config_free(c);
      ok++;
      continue;
    }
    bad++;
    cr_assert_eq(rc, -EINVAL);
    cr_assert_null(c);
    cr_assert_not_null(err);
    cr_assert_gt(strlen(err), 0);
    /* every line: "tend.json:L:C: " with L, C inside the text */
    for (char *line = err; *line;) {
      char *end = strchr(line, '\n');
      int l = -1, col = -1, used = 0;
      cr_assert_not_null(end, "unterminated line in %s", err);
      cr_assert_eq(sscanf(line, "tend.json:%d:%d: %n", &l, &col, &used), 2,
                   "bad line: %.*s", (int)(end - line), line);
      cr_assert(used > 0 && l >= 1 && l <= lines && col >= 0,
                "bad position: %.*s", (int)(end - line), line);
      line = end + 1;
    }
    free(err);
  }
  /* both outcomes were exercised */
  cr_assert_gt(ok, 10);
  cr_assert_gt(bad, 1000);
}

Test(config_robust, locator_on_truncated_text)
{
  const char *t = "{\"a\": {\"b\": [1, \"x\\\"\", {\"c\": 2}]}}";
  size_t n = strlen(t);
  for (size_t len = 0; len <= n; len++) {
    int line = 0, col = 0;
    int rc = config_pos_locate(t, len, "a.b[2].c", 0, &line, &col);
    cr_assert(rc == 0 || rc == -ENOENT);
    cr_assert_eq(line, 1);
    cr_assert(col >= 1 && (size_t)col <= len + 1);
    if (len == n)
      cr_assert_eq(col, (int)(strstr(t, "2}") - t) + 1);
  }
}

Test(config_robust, locator_on_garbage_terminates)
{
  const char alphabet[] = "{}[]\":,a1 \n\\";
  const char *paths[] = {"", "a", "a[0]", "[1].a", "[\"\"][2]", "a.b.c"};
  uint32_t seed = 99;
  for (int round = 0; round < 5000; round++) {
    char text[64];
    size_t len = rnd(&seed) % sizeof text;
    int lines = 1;
    for (size_t i = 0; i < len; i++) {
      text[i] = alphabet[rnd(&seed) % (sizeof alphabet - 1)];
      lines += text[i] == '\n';
    }
    int line = 0, col = 0;
    const char *path = paths[rnd(&seed) % (sizeof paths / sizeof *paths)];
    int rc =
        config_pos_locate(text, len, path, (int)(rnd(&seed) % 2), &line, &col);
    cr_assert(rc == 0 || rc == -ENOENT);
    cr_assert(line >= 1 && line <= lines && col >= 1 && col <= 65,
              "%d:%d for %.*s", line, col, (int)len, text);
  }
}

/* ------------------------------------------------------------------------ */
/* Enums and signals                                                         */
/* ------------------------------------------------------------------------ */

Test(config_enums, names_and_parsers_round_trip)
{
  enum config_strategy s;
  enum config_restart r;
  enum config_give_up g;
  enum config_on_busy b;
  enum config_after_on a;

  cr_assert_eq(config_strategy_parse("rest_for_one", &s), 0);
  cr_assert_eq(s, CONFIG_STRATEGY_REST_FOR_ONE);
  cr_assert_str_eq(config_strategy_name(s), "rest_for_one");
  cr_assert_eq(config_strategy_parse("Rest_for_one", &s), -EINVAL);
  cr_assert_eq(config_restart_parse("temporary", &r), 0);
  cr_assert_str_eq(config_restart_name(r), "temporary");
  cr_assert_eq(config_give_up_parse("exit", &g), 0);
  cr_assert_str_eq(config_give_up_name(g), "exit");
  cr_assert_eq(config_on_busy_parse("ignore", &b), 0);
  cr_assert_str_eq(config_on_busy_name(b), "ignore");
  cr_assert_eq(config_after_on_parse("exit", &a), 0);
  cr_assert_str_eq(config_after_on_name(a), "exit");
  cr_assert_eq(config_after_on_parse(NULL, &a), -EINVAL);
  cr_assert_str_eq(config_ready_name(CONFIG_READY_LOG), "log");
  cr_assert_str_eq(config_watch_action_name(CONFIG_WATCH_SIGNAL), "signal");
  cr_assert_str_eq(config_change_kind_name(CONFIG_CHANGE_GROUP), "group");
  cr_assert_str_eq(config_change_kind_name(CONFIG_CHANGE_ROOT), "root");
  cr_assert_str_eq(config_strategy_name((enum config_strategy)42), "?");
}

Test(config_enums, signals)
{
  cr_assert_eq(config_signal_parse("TERM"), SIGTERM);
  cr_assert_eq(config_signal_parse("SIGTERM"), SIGTERM);
  cr_assert_eq(config_signal_parse("term"), SIGTERM);
  cr_assert_eq(config_signal_parse("HUP"), SIGHUP);
  cr_assert_eq(config_signal_parse("KILL"), SIGKILL);
  cr_assert_eq(config_signal_parse("USR1"), SIGUSR1);
  cr_assert_eq(config_signal_parse("WINCH"), SIGWINCH);
  cr_assert_eq(config_signal_parse("15"), -EINVAL);
  cr_assert_eq(config_signal_parse("SIG"), -EINVAL);
  cr_assert_eq(config_signal_parse(""), -EINVAL);
  cr_assert_eq(config_signal_parse(NULL), -EINVAL);
  cr_assert_str_eq(config_signal_name(SIGTERM), "TERM");
  cr_assert_str_eq(config_signal_name(SIGQUIT), "QUIT");
  cr_assert_str_eq(config_signal_name(0), "?");
  cr_assert_eq(config_signal_parse(config_signal_name(SIGUSR2)), SIGUSR2);
}

/* ------------------------------------------------------------------------ */
/* Diff                                                                      */
/* ------------------------------------------------------------------------ */

static const char *BASE = "{'name': 'dev', 'children': ["
                          " {'name': 'db', 'cmd': 'db', 'env': {'A': '1'}},"
                          " {'name': 'backend', 'children': ["
                          "   {'name': 'api', 'cmd': 'api'},"
                          "   {'name': 'worker', 'cmd': 'worker'}]},"
                          " {'name': 'web', 'cmd': 'web'}]}";

/* Diffs two J() documents; returns "kind name; kind name" (new), checking
 * on the way that each change borrows from the right tree. */
static char *
diff_of(const char *a, const char *b)
{
  struct config *ca = must_j(a), *cb = must_j(b);
  struct config_change *ch = NULL;
  size_t n = config_diff(ca, cb, &ch);
  char *out = calloc(1, 2048);
  for (size_t i = 0; i < n; i++) {
    const struct config_change *c = &ch[i];
    const struct config_node *node = c->new_node ? c->new_node : c->old_node;
    if (c->kind == CONFIG_CHANGE_ADD)
      cr_assert(c->old_node == NULL && c->new_node != NULL);
    else if (c->kind == CONFIG_CHANGE_REMOVE)
      cr_assert(c->new_node == NULL && c->old_node != NULL);
    else
      cr_assert(c->old_node && c->new_node);
    if (c->old_node)
      cr_assert_eq(config_find(ca, c->old_node->name), c->old_node);
    if (c->new_node)
      cr_assert_eq(config_find(cb, c->new_node->name), c->new_node);
    snprintf(out + strlen(out), 2048 - strlen(out), "%s%s %s", i ? "; " : "",
             config_change_kind_name(c->kind), node->name);
  }
  if (n == 0)
    cr_assert_null(ch);
  free(ch);
  config_free(ca);
  config_free(cb);
  return out;
}

/* Asserts the summary of diff(a, b). */
static void
expect_diff(const char *a, const char *b, const char *want)
{
  char *got = diff_of(a, b);
  cr_assert_str_eq(got, want, "diff\n  %s\n  %s", a, b);
  free(got);
}

Test(config_diff, unchanged_even_with_keys_reordered)
{
  expect_diff(BASE, BASE, "");
  expect_diff(BASE,
              "{'children': [{'env': {'A': '1'}, 'cmd': 'db', 'name': 'db'},"
              " {'children': [{'cmd': 'api', 'name': 'api'},"
              "   {'name': 'worker', 'cmd': 'worker'}], 'name': 'backend'},"
              " {'name': 'web', 'cmd': 'web'}], 'name': 'dev'}",
              "");
  /* a default spelled out counts as a group setting only when it differs */
  expect_diff(BASE,
              "{'name': 'dev', 'strategy': 'one_for_one', 'children': ["
              " {'name': 'db', 'cmd': 'db', 'env': {'A': '1'}},"
              " {'name': 'backend', 'strategy': 'one_for_one',"
              "  'children': ["
              "   {'name': 'api', 'cmd': 'api'},"
              "   {'name': 'worker', 'cmd': 'worker'}]},"
              " {'name': 'web', 'cmd': 'web'}]}",
              "");
}

Test(config_diff, env_changed_on_one_runner)
{
  expect_diff(BASE,
              "{'name': 'dev', 'children': ["
              " {'name': 'db', 'cmd': 'db', 'env': {'A': '2'}},"
              " {'name': 'backend', 'children': ["
              "   {'name': 'api', 'cmd': 'api'},"
              "   {'name': 'worker', 'cmd': 'worker'}]},"
              " {'name': 'web', 'cmd': 'web'}]}",
              "change db");
}

Test(config_diff, added_and_removed_runners_and_groups)
{
  /* added runner in a surviving group; added group with children: one ADD */
  const char *more =
      "{'name': 'dev', 'children': ["
      " {'name': 'db', 'cmd': 'db', 'env': {'A': '1'}},"
      " {'name': 'backend', 'children': ["
      "   {'name': 'api', 'cmd': 'api'},"
      "   {'name': 'mailer', 'cmd': 'mailer'},"
      "   {'name': 'worker', 'cmd': 'worker'}]},"
      " {'name': 'web', 'cmd': 'web'},"
      " {'name': 'tools', 'children': ["
      "   {'name': 'lint', 'cmd': 'lint'}, {'name': 'fmt', 'cmd': 'fmt'}]}]}";
  expect_diff(BASE, more, "add mailer; add tools");
  /* the reverse: stop order is reverse config order, one REMOVE a group */
  expect_diff(more, BASE, "remove tools; remove mailer");

  struct config *a = must_j(BASE), *b = must_j(more);
  struct config_change *ch;
  size_t n = config_diff(a, b, &ch);
  cr_assert_eq(n, 2);
  cr_assert_eq(ch[0].new_node->index, 1); /* mailer goes between */
  cr_assert_eq(ch[0].new_node->parent, config_find(b, "backend"));
  cr_assert_eq(ch[1].new_node->n_children, 2);
  free(ch);
  config_free(a);
  config_free(b);

  /* removing a whole group removes it once; its runners come along */
  expect_diff(BASE,
              "{'name': 'dev', 'children': ["
              " {'name': 'db', 'cmd': 'db', 'env': {'A': '1'}},"
              " {'name': 'web', 'cmd': 'web'}]}",
              "remove backend");
  /* several removals: children before parents, reverse config order */
  expect_diff(BASE,
              "{'name': 'dev', 'children': ["
              " {'name': 'backend', 'children': ["
              "   {'name': 'worker', 'cmd': 'worker'}]}]}",
              "remove web; remove api; remove db");
}

Test(config_diff, moved_node_and_kind_change)
{
  /* api moves from backend to the root: stop it, start it in its place */
  const char *moved = "{'name': 'dev', 'children': ["
                      " {'name': 'db', 'cmd': 'db', 'env': {'A': '1'}},"
                      " {'name': 'api', 'cmd': 'api'},"
                      " {'name': 'backend', 'children': ["
                      "   {'name': 'worker', 'cmd': 'worker'}]},"
                      " {'name': 'web', 'cmd': 'web'}]}";
  expect_diff(BASE, moved, "remove api; add api");

  struct config *a = must_j(BASE), *b = must_j(moved);
  struct config_change *ch;
  cr_assert_eq(config_diff(a, b, &ch), 2);
  cr_assert_eq(ch[0].old_node->parent, config_find(a, "backend"));
  cr_assert_eq(ch[1].new_node->parent, b->root);
  cr_assert_eq(ch[1].new_node->index, 1);
  free(ch);
  config_free(a);
  config_free(b);

  /* web becomes a group of the same name */
  expect_diff(BASE,
              "{'name': 'dev', 'children': ["
              " {'name': 'db', 'cmd': 'db', 'env': {'A': '1'}},"
              " {'name': 'backend', 'children': ["
              "   {'name': 'api', 'cmd': 'api'},"
              "   {'name': 'worker', 'cmd': 'worker'}]},"
              " {'name': 'web', 'children': [{'name': 'web1', 'cmd': 'w'}]}]}",
              "remove web; add web");
  /* a renamed runner is a removal and an addition */
  expect_diff(BASE,
              "{'name': 'dev', 'children': ["
              " {'name': 'database', 'cmd': 'db', 'env': {'A': '1'}},"
              " {'name': 'backend', 'children': ["
              "   {'name': 'api', 'cmd': 'api'},"
              "   {'name': 'worker', 'cmd': 'worker'}]},"
              " {'name': 'web', 'cmd': 'web'}]}",
              "remove db; add database");
}

Test(config_diff, nothing_inside_a_replaced_subtree)
{
  /* backend moves under a new group "svc" and api changes on the way: the
   * group's REMOVE and svc's ADD cover everything */
  expect_diff(BASE,
              "{'name': 'dev', 'children': ["
              " {'name': 'db', 'cmd': 'db', 'env': {'A': '1'}},"
              " {'name': 'svc', 'children': ["
              "   {'name': 'backend', 'strategy': 'one_for_all', 'children': ["
              "     {'name': 'api', 'cmd': 'api2'},"
              "     {'name': 'worker', 'cmd': 'worker'}]}]},"
              " {'name': 'web', 'cmd': 'web'}]}",
              "remove backend; add svc");
  /* a runner moved into a new group: its REMOVE, then the group's ADD */
  expect_diff(BASE,
              "{'name': 'dev', 'children': ["
              " {'name': 'data', 'children': ["
              "   {'name': 'db', 'cmd': 'db', 'env': {'A': '1'}}]},"
              " {'name': 'backend', 'children': ["
              "   {'name': 'api', 'cmd': 'api'},"
              "   {'name': 'worker', 'cmd': 'worker'}]},"
              " {'name': 'web', 'cmd': 'web'}]}",
              "remove db; add data");
}

Test(config_diff, group_settings_and_reorder)
{
  expect_diff(BASE,
              "{'name': 'dev', 'children': ["
              " {'name': 'db', 'cmd': 'db', 'env': {'A': '1'}},"
              " {'name': 'backend', 'strategy': 'rest_for_one', 'children': ["
              "   {'name': 'api', 'cmd': 'api'},"
              "   {'name': 'worker', 'cmd': 'worker'}]},"
              " {'name': 'web', 'cmd': 'web'}]}",
              "group backend");
  expect_diff(BASE,
              "{'name': 'dev', 'children': ["
              " {'name': 'db', 'cmd': 'db', 'env': {'A': '1'}},"
              " {'name': 'backend', 'intensity': {'period_s': 1},"
              "  'children': ["
              "   {'name': 'api', 'cmd': 'api'},"
              "   {'name': 'worker', 'cmd': 'worker'}]},"
              " {'name': 'web', 'cmd': 'web'}]}",
              "group backend");
  /* reorder inside backend, and of the root's children */
  expect_diff(BASE,
              "{'name': 'dev', 'children': ["
              " {'name': 'db', 'cmd': 'db', 'env': {'A': '1'}},"
              " {'name': 'backend', 'children': ["
              "   {'name': 'worker', 'cmd': 'worker'},"
              "   {'name': 'api', 'cmd': 'api'}]},"
              " {'name': 'web', 'cmd': 'web'}]}",
              "group backend");
  expect_diff(BASE,
              "{'name': 'dev', 'children': ["
              " {'name': 'web', 'cmd': 'web'},"
              " {'name': 'db', 'cmd': 'db', 'env': {'A': '1'}},"
              " {'name': 'backend', 'children': ["
              "   {'name': 'api', 'cmd': 'api'},"
              "   {'name': 'worker', 'cmd': 'worker'}]}]}",
              "group dev");
  /* strategy change of the root plus a changed runner: CHANGE first */
  expect_diff(BASE,
              "{'name': 'dev', 'strategy': 'one_for_all', 'children': ["
              " {'name': 'db', 'cmd': 'db', 'env': {'A': '1'}},"
              " {'name': 'backend', 'children': ["
              "   {'name': 'api', 'cmd': 'api', 'restart': 'transient'},"
              "   {'name': 'worker', 'cmd': 'worker'}]},"
              " {'name': 'web', 'cmd': 'web'}]}",
              "change api; group dev");
}

Test(config_diff, root_settings)
{
  expect_diff("{'name': 'dev', 'children': [{'name': 'a', 'cmd': 'x'}]}",
              "{'name': 'dev', 'http': {'listen': '127.0.0.1:9000'},"
              " 'children': [{'name': 'a', 'cmd': 'x'}]}",
              "root dev");
  expect_diff("{'name': 'dev', 'on_give_up': 'exit'}",
              "{'name': 'dev', 'on_give_up': 'stay'}", "root dev");
  expect_diff("{'name': 'dev'}", "{'name': 'dev', 'state_dir': 'x'}",
              "root dev");
  expect_diff("{'name': 'dev'}", "{'name': 'dev', 'output': {'keep': 9}}",
              "root dev");
  expect_diff("{'name': 'dev'}", "{'name': 'top'}", "root top");
  /* the defaults written out are no change */
  expect_diff("{'name': 'dev'}",
              "{'name': 'dev', 'state_dir': '.tend', 'on_give_up': 'stay',"
              " 'http': {'listen': '127.0.0.1:7070'}}",
              "");
  /* everything at once, in the documented order */
  expect_diff(BASE,
              "{'name': 'dev', 'on_give_up': 'exit', 'children': ["
              " {'name': 'db', 'cmd': 'db', 'env': {'A': '3'}},"
              " {'name': 'backend', 'strategy': 'one_for_all', 'children': ["
              "   {'name': 'worker', 'cmd': 'worker'}]},"
              " {'name': 'cache', 'cmd': 'cache'}]}",
              "remove web; remove api; change db; group backend; "
              "add cache; root dev");
}

/* Patterns that make glibc's regcomp exponential are refused up front
 * (found by fuzzing: tests/fuzz/crashes/config-regcomp-*); ordinary ones pass.
 */
Test(config, regex_guard)
{
  cr_assert_null(config_regex_unsafe("^listening on [0-9]+ (ok|ready)$"));
  cr_assert_null(config_regex_unsafe("a{2,5}b*(cd)+"));
  cr_assert_null(config_regex_unsafe("x\\+\\+\\+"));
  cr_assert_null(config_regex_unsafe("[+*]+"));
  cr_assert_not_null(config_regex_unsafe("a++++++++++++++++++"));
  cr_assert_not_null(config_regex_unsafe("a*{2}"));
  cr_assert_not_null(config_regex_unsafe("((a{1,100}){1,100}){1,100}"));
  cr_assert_not_null(config_regex_unsafe("a{1,300}"));
  char long_re[600];
  memset(long_re, 'a', sizeof long_re - 1);
  long_re[sizeof long_re - 1] = '\0';
  cr_assert_not_null(config_regex_unsafe(long_re));
}

/* The watch keys of issue 11: postpone (implies autostart false) and the
 * loop guard's follow window. */
Test(config, watch_postpone_and_follow)
{
  struct config *c = must_j(
      "{'children': [{'name': 'a', 'cmd': 'x', 'watch': {'paths': ['.'],\n"
      "  'postpone': true, 'loop_limit': {'follow_ms': 2000}}},\n"
      " {'name': 'b', 'cmd': 'x', 'autostart': false,\n"
      "  'watch': {'paths': ['.'], 'postpone': true, 'action': 'start'}},\n"
      " {'name': 'd', 'cmd': 'x', 'watch': {'paths': ['.'],\n"
      "  'postpone': false}}]}");
  const struct config_node *a = config_find(c, "a");
  const struct config_node *b = config_find(c, "b");
  const struct config_node *d = config_find(c, "d");

  cr_assert_eq(a->watch.postpone, 1);
  cr_assert_eq(a->autostart, 0, "postpone implies autostart false");
  cr_assert_eq(a->watch.loop_follow_ms, 2000);
  cr_assert_eq(b->watch.postpone, 1);
  cr_assert_eq(b->autostart, 0);
  cr_assert_eq(d->watch.postpone, 0);
  cr_assert_eq(d->autostart, 1);
  cr_assert_eq(d->watch.loop_follow_ms, 500, "the default");
  config_free(c);
}

Test(config_errors, watch_postpone_and_follow)
{
  expect_errors(
      "{'children': [{'name': 'a', 'cmd': 'x', 'autostart': true,\n"
      "  'watch': {'paths': ['.'], 'postpone': true}},\n"
      " {'name': 'b', 'cmd': 'x', 'watch': {'paths': ['.'],\n"
      "  'postpone': true, 'action': 'signal:HUP'}},\n"
      " {'name': 'c', 'cmd': 'x', 'watch': {'paths': ['.'], 'postpone': 1,\n"
      "  'loop_limit': {'follow_ms': -5}}}]}",
      "tend.json:2:41: children[0].watch.postpone: contradicts "
      "\"autostart\": true (a postponed runner starts on the first "
      "change)\n"
      "tend.json:4:15: children[1].watch.postpone: needs the action "
      "\"restart\" or \"start\" (a signal cannot start a runner)\n"
      "tend.json:5:66: children[2].watch.postpone: expected true or false\n"
      "tend.json:6:31: children[2].watch.loop_limit.follow_ms: expected an "
      "integer >= 0\n");
}

/* ------------------------------------------------------------------------ */
/* pty                                                                       */
/* ------------------------------------------------------------------------ */

Test(config_pty, forms_and_defaults)
{
  struct config *c =
      must_j("{'name':'r','children':["
             "{'name':'a','cmd':['cat']},"
             "{'name':'b','cmd':['cat'],'pty':true},"
             "{'name':'c','cmd':['cat'],'pty':{'cols':80,'rows':24}},"
             "{'name':'d','cmd':['cat'],'pty':{'rows':10}},"
             "{'name':'e','cmd':['cat'],'pty':false}]}");
  const struct config_node *a = config_find(c, "a"), *b = config_find(c, "b");
  const struct config_node *cc = config_find(c, "c"), *d = config_find(c, "d");
  cr_expect_eq(a->pty, 0);
  cr_expect_eq(b->pty, 1);
  cr_expect_eq(b->pty_cols, 120);
  cr_expect_eq(b->pty_rows, 40);
  cr_expect_eq(cc->pty, 1);
  cr_expect_eq(cc->pty_cols, 80);
  cr_expect_eq(cc->pty_rows, 24);
  cr_expect_eq(d->pty_cols, 120);
  cr_expect_eq(d->pty_rows, 10);
  cr_expect_eq(config_find(c, "e")->pty, 0);
  config_free(c);
}

Test(config_pty, errors_point_at_the_value)
{
  expect_errors("{'name':'r','children':[{'name':'a','cmd':['cat'],"
                "'pty':'yes'}]}",
                "tend.json:1:57: children[0].pty: expected true, false or "
                "{\"cols\": 120, \"rows\": 40}\n");
  expect_errors("{'name':'r','children':[{'name':'a','cmd':['cat'],"
                "'pty':{'cols':0,'rows':1001,'x':1}}]}",
                "tend.json:1:65: children[0].pty.cols: expected an integer "
                "between 1 and 1000\n"
                "tend.json:1:74: children[0].pty.rows: expected an integer "
                "between 1 and 1000\n"
                "tend.json:1:79: children[0].pty.x: unknown key \"x\"\n");
  /* Only runners have a terminal. */
  expect_errors("{'name':'r','pty':true,'children':[{'name':'a','cmd':['cat']}"
                "]}",
                "tend.json:1:13: pty: \"pty\" is a runner key, but the root "
                "must be a group\n");
}

/* Issue 13, item 9: every name the config takes is one the API's path
 * check (ui/routes.c) accepts, and no other. */
Test(config_names, one_rule_for_config_and_api)
{
  const char *bad[] = {"",    ".",   "..",   "...", "a..b", "..a",
                       "a..", "a/b", "a\\b", "a b", "a%2e", "\xc3\xa9"};
  const char *good[] = {"a", "a.b", ".a", "a.", "x.1", "-", "_", "A-Z_0.9"};
  char longest[CONFIG_NAME_MAX + 2];

  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
    cr_assert_not_null(config_name_problem(bad[i]), "%s", bad[i]);
  for (size_t i = 0; i < sizeof good / sizeof *good; i++)
    cr_assert_null(config_name_problem(good[i]), "%s", good[i]);
  memset(longest, 'a', sizeof longest);
  longest[CONFIG_NAME_MAX] = '\0';
  cr_assert_null(config_name_problem(longest));
  longest[CONFIG_NAME_MAX] = 'a';
  longest[CONFIG_NAME_MAX + 1] = '\0';
  cr_assert_not_null(config_name_problem(longest));
}
