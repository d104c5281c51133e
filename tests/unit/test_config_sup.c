/* test_config_sup: the supervision keys of tend.json added by issue 11:
 * restart_limit (own, inherited, none under an intensity, the default),
 * intensity only when written, env_file lists, max_memory sizes, the shell
 * command word that `tend check` looks up, and the check's warnings.
 * Documents use single quotes, turned into JSON by J(). */
#include <criterion/criterion.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "src/config.h"

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

/* Loads a J() document as "tend.json" in dir; returns rc. */
static int
load_in(const char *text, const char *dir, struct config **out, char **errors)
{
  char *s = J(text);
  int rc = config_load_buffer(s, strlen(s), "tend.json", dir, out, errors);
  free(s);
  return rc;
}

/* Loads a valid J() document in /srv/app. */
static struct config *
must(const char *text)
{
  struct config *c = NULL;
  char *err = NULL;
  int rc = load_in(text, "/srv/app", &c, &err);
  cr_assert_eq(rc, 0, "load failed (%d):\n%s", rc, err ? err : "");
  return c;
}

/* Returns the errors of an invalid J() document (new). */
static char *
errors_of(const char *text)
{
  struct config *c = NULL;
  char *err = NULL;
  int rc = load_in(text, "/srv/app", &c, &err);
  cr_assert_neq(rc, 0, "expected errors");
  cr_assert_null(c);
  return err;
}

Test(restart_limit, default_is_five_per_ten_seconds_without_intensity)
{
  struct config *c = must("{'name': 'r', 'children': ["
                          " {'name': 'a', 'cmd': 'x'},"
                          " {'name': 'g', 'children': [{'name': 'b', "
                          "'cmd': 'x'}]}]}");
  const struct config_node *a = config_find(c, "a"), *b = config_find(c, "b");
  cr_expect_eq(c->root->max_restarts, -1);
  cr_expect_eq(config_find(c, "g")->max_restarts, -1);
  cr_expect_eq(a->limit_max_restarts, CONFIG_LIMIT_DEFAULT_MAX);
  cr_expect_eq(a->limit_period_ms, CONFIG_LIMIT_DEFAULT_PERIOD_MS);
  cr_expect_eq(b->limit_max_restarts, 5);
  cr_expect_eq(b->limit_period_ms, 10000);
  config_free(c);
}

Test(restart_limit, none_under_a_group_that_sets_intensity)
{
  struct config *c = must("{'name': 'r', 'children': ["
                          " {'name': 'g', 'intensity': {'period_s': 30},"
                          "  'children': [{'name': 'b', 'cmd': 'x'}]},"
                          " {'name': 'h', 'intensity': {'max_restarts': 2},"
                          "  'children': [{'name': 'c', 'cmd': 'x',"
                          "   'restart_limit': {'max_restarts': 1}}]}]}");
  const struct config_node *g = config_find(c, "g");
  cr_expect_eq(g->max_restarts, 5, "intensity without max_restarts: 5");
  cr_expect_eq(g->period_ms, 30000);
  cr_expect_eq(config_find(c, "b")->limit_max_restarts, -1);
  /* a runner's own limit still applies under an intensity */
  cr_expect_eq(config_find(c, "c")->limit_max_restarts, 1);
  cr_expect_eq(config_find(c, "c")->limit_period_ms, 10000);
  config_free(c);
}

Test(restart_limit, inherited_from_the_nearest_group_and_false_turns_off)
{
  struct config *c =
      must("{'name': 'r', 'restart_limit': {'max_restarts': 3, 'period_s': 60},"
           " 'children': ["
           "  {'name': 'a', 'cmd': 'x'},"
           "  {'name': 'g', 'restart_limit': false, 'intensity': {},"
           "   'children': [{'name': 'b', 'cmd': 'x'},"
           "    {'name': 'c', 'cmd': 'x', 'restart_limit': "
           "{'period_s': 0.5}}]}]}");
  cr_expect_eq(config_find(c, "a")->limit_max_restarts, 3);
  cr_expect_eq(config_find(c, "a")->limit_period_ms, 60000);
  cr_expect_eq(config_find(c, "b")->limit_max_restarts, -1);
  cr_expect_eq(config_find(c, "c")->limit_max_restarts, 5);
  cr_expect_eq(config_find(c, "c")->limit_period_ms, 500);
  config_free(c);
}

Test(restart_limit, errors_with_positions_and_suggestions)
{
  char *e = errors_of("{'name': 'r', 'children': [\n"
                      " {'name': 'a', 'cmd': 'x', 'restart_limit': 3},\n"
                      " {'name': 'b', 'cmd': 'x', 'restart_limit': "
                      "{'max_restart': 1, 'period_s': 0}},\n"
                      " {'name': 'c', 'cmd': 'x', 'restart_limt': {}}]}");
  cr_expect(strstr(e, "tend.json:2:45: children[0].restart_limit: expected "
                      "an object {\"max_restarts\", \"period_s\"} or false"),
            "%s", e);
  cr_expect(strstr(e, "tend.json:3:46: children[1].restart_limit.max_restart:"
                      " unknown key \"max_restart\" (did you mean "
                      "\"max_restarts\"?)"),
            "%s", e);
  cr_expect(strstr(e, "children[1].restart_limit.period_s: expected a number "
                      "> 0"),
            "%s", e);
  cr_expect(strstr(e, "tend.json:4:28: children[2].restart_limt: unknown key "
                      "\"restart_limt\" (did you mean \"restart_limit\"?)"),
            "%s", e);
  free(e);
}

Test(env_file, group_files_first_then_the_runners_own)
{
  struct config *c =
      must("{'name': 'r', 'env_file': 'root.env', 'children': ["
           " {'name': 'g', 'env_file': ['g1.env', '/etc/g2.env'], 'children': ["
           "  {'name': 'a', 'cmd': 'x', 'env_file': 'a.env'},"
           "  {'name': 'b', 'cmd': 'x'}]},"
           " {'name': 'c', 'cmd': 'x'}]}");
  char **a = config_find(c, "a")->env_files;
  char **b = config_find(c, "b")->env_files;
  char **cc = config_find(c, "c")->env_files;
  cr_assert_not_null(a);
  cr_expect_str_eq(a[0], "/srv/app/root.env");
  cr_expect_str_eq(a[1], "/srv/app/g1.env");
  cr_expect_str_eq(a[2], "/etc/g2.env");
  cr_expect_str_eq(a[3], "/srv/app/a.env");
  cr_expect_null(a[4]);
  cr_expect_str_eq(b[2], "/etc/g2.env");
  cr_expect_null(b[3]);
  cr_expect_str_eq(cc[0], "/srv/app/root.env");
  cr_expect_null(cc[1]);
  config_free(c);
}

Test(env_file, type_errors)
{
  char *e = errors_of("{'name': 'r', 'children': [\n"
                      " {'name': 'a', 'cmd': 'x', 'env_file': 3},\n"
                      " {'name': 'b', 'cmd': 'x', 'env_file': ['']}]}");
  cr_expect(strstr(e, "tend.json:2:40: children[0].env_file: expected a path "
                      "or an array of paths"),
            "%s", e);
  cr_expect(strstr(e, "children[1].env_file[0]: expected a non-empty string"),
            "%s", e);
  free(e);
}

Test(max_memory, sizes)
{
  int64_t b = 0;
  cr_expect_eq(config_parse_size("200M", &b), 0);
  cr_expect_eq(b, INT64_C(200) << 20);
  cr_expect_eq(config_parse_size("1G", &b), 0);
  cr_expect_eq(b, INT64_C(1) << 30);
  cr_expect_eq(config_parse_size("1.5GiB", &b), 0);
  cr_expect_eq(b, INT64_C(3) << 29);
  cr_expect_eq(config_parse_size("512kb", &b), 0);
  cr_expect_eq(b, 512 * 1024);
  cr_expect_eq(config_parse_size("1048576", &b), 0);
  cr_expect_eq(b, 1048576);
  cr_expect_eq(config_parse_size("64 MB", &b), 0);
  cr_expect_eq(b, INT64_C(64) << 20);
  const char *bad[] = {"",    "M",        "-1M", "0",   "0M",  "12Q", "1.5",
                       "1MM", "9999999T", "nan", "inf", " 1M", "1M "};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
    cr_expect_eq(config_parse_size(bad[i], &b), -EINVAL, "\"%s\"", bad[i]);
}

Test(max_memory, key)
{
  struct config *c = must("{'name': 'r', 'children': ["
                          " {'name': 'a', 'cmd': 'x', 'max_memory': '1G'},"
                          " {'name': 'b', 'cmd': 'x', 'max_memory': 4096},"
                          " {'name': 'd', 'cmd': 'x'}]}");
  cr_expect_eq(config_find(c, "a")->max_memory, INT64_C(1) << 30);
  cr_expect_eq(config_find(c, "b")->max_memory, 4096);
  cr_expect_eq(config_find(c, "d")->max_memory, 0);
  config_free(c);
  char *e = errors_of("{'name': 'r', 'max_memory': '1G', 'children': [\n"
                      " {'name': 'a', 'cmd': 'x', 'max_memory': 0},\n"
                      " {'name': 'b', 'cmd': 'x', 'max_memory': '1 lot'}]}");
  cr_expect(strstr(e, "tend.json:1:15: max_memory: \"max_memory\" is a runner "
                      "key, but the root must be a group"),
            "%s", e);
  cr_expect(strstr(e, "tend.json:2:42: children[0].max_memory: expected a "
                      "size such as \"200M\", \"1.5G\" or a number of bytes > "
                      "0"),
            "%s", e);
  cr_expect(strstr(e, "children[1].max_memory: expected a size"), "%s", e);
  free(e);
}

Test(shell_word, plain_commands_only)
{
  struct {
    const char *cmd, *word;
  } rows[] = {
      {"npm run dev", "npm"},
      {"  ./bin/api --port 8080", "./bin/api"},
      {"make&&make test", "make"},
      {"python3|cat", "python3"},
      {"exec ./server", NULL},
      {"FOO=1 ./x", NULL},
      {"$HOME/bin/x", NULL},
      {"\"quoted cmd\"", NULL},
      {"cd sub && make", NULL},
      {"if true; then x; fi", NULL},
      {"*.sh", NULL},
      {"", NULL},
      {"   ", NULL},
  };
  for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
    char *w = config_shell_command_word(rows[i].cmd);
    if (rows[i].word)
      cr_expect(w && strcmp(w, rows[i].word) == 0, "%s -> %s", rows[i].cmd,
                w ? w : "(null)");
    else
      cr_expect_null(w, "%s -> %s", rows[i].cmd, w);
    free(w);
  }
}

Test(check, warnings_do_not_make_the_file_invalid)
{
  char dir[] = "/tmp/tend-cfgsup-XXXXXX";
  struct config *c = NULL;
  char *err = NULL, *env, *warnings;
  FILE *f;

  cr_assert_not_null(mkdtemp(dir));
  env = malloc(strlen(dir) + 16);
  sprintf(env, "%s/ok.env", dir);
  f = fopen(env, "w");
  fputs("A=1\n", f);
  fclose(f);
  cr_assert_eq(load_in("{'name': 'r', 'children': [\n"
                       " {'name': 'a', 'cmd': ['no-such-cmd-q1']},\n"
                       " {'name': 'b', 'cmd': 'no-such-cmd-q2 | cat',"
                       " 'env_file': 'ok.env'},\n"
                       " {'name': 'c', 'cmd': ['sh'], 'cwd': 'nope'},\n"
                       " {'name': 'd', 'cmd': ['sh'], 'env_file': 'gone'}]}",
                       dir, &c, &err),
               0, "%s", err ? err : "");
  cr_assert_gt(c->notes.n, 0);
  warnings = config_errors_join(&c->notes);
  cr_expect(strstr(warnings, "tend.json:2:24: warning: children[0].cmd[0]: "
                             "no-such-cmd-q1: not found on PATH\n"),
            "%s", warnings);
  cr_expect(strstr(warnings, "tend.json:3:23: warning: children[1].cmd: "
                             "no-such-cmd-q2: not found on PATH\n"),
            "%s", warnings);
  cr_expect(strstr(warnings, "warning: children[2].cwd: cwd "), "%s", warnings);
  cr_expect(strstr(warnings, "warning: children[3].env_file: env_file "), "%s",
            warnings);
  cr_expect(strstr(warnings, "gone: does not exist"), "%s", warnings);
  cr_expect_eq(c->n_check_errors, 0);
  /* the same findings as an array: each one's parts */
  cr_expect_eq(c->notes.n, 4);
  cr_expect_str_eq(c->notes.v[0].file, "tend.json");
  cr_expect_eq(c->notes.v[0].line, 2);
  cr_expect_eq(c->notes.v[0].col, 24);
  cr_expect_str_eq(c->notes.v[0].path, "children[0].cmd[0]");
  cr_expect_str_eq(c->notes.v[0].message, "no-such-cmd-q1: not found on PATH");
  cr_expect(c->notes.v[0].warning);
  free(warnings);
  config_free(c);
  /* an env_file that does not parse is an error of `tend check` */
  f = fopen(env, "w");
  fputs("A=1\nnot a line\n", f);
  fclose(f);
  cr_assert_eq(load_in("{'name': 'r', 'children': [\n"
                       " {'name': 'b', 'cmd': ['sh'], 'env_file': 'ok.env'}]}",
                       dir, &c, &err),
               0);
  cr_expect_eq(c->n_check_errors, 1);
  warnings = config_errors_join(&c->notes);
  cr_expect_eq(c->notes.n, 1);
  cr_expect_not(c->notes.v[0].warning);
  cr_expect(strstr(warnings, "tend.json:2:43: children[0].env_file: "
                             "env_file "),
            "%s", warnings);
  cr_expect(strstr(warnings, "ok.env:2: expected '=' after not\n"), "%s",
            warnings);
  free(warnings);
  config_free(c);
  unlink(env);
  rmdir(dir);
  free(env);
}

/* Reference counting (issue 14): the loader's holder plus one per
 * config_ref; the last config_unref frees (ASan sees a double free or a
 * leak if the count is off). */
Test(refs, the_last_unref_frees)
{
  struct config *c = must("{'name': 'r', 'children': [{'name': 'a', "
                          "'cmd': 'x'}]}");
  cr_expect_eq(c->refs, 0, "only the loader holds a fresh config");
  cr_expect_eq(config_ref(c), c);
  cr_expect_eq(config_ref(c), c);
  cr_expect_eq(c->refs, 2);
  config_unref(c);
  config_unref(c);
  cr_expect_eq(c->refs, 0);
  cr_expect_null(config_ref(NULL));
  config_unref(NULL);
  config_unref(c); /* the loader's: frees */
}

Test(refs, config_free_of_a_shared_config_aborts, .signal = SIGABRT)
{
  struct config *c = must("{'name': 'r', 'children': []}");
  config_ref(c);
  config_free(c); /* someone else still points into it */
}
