/* test_state_paths: which state folder a config gets by default, which
 * edits a running daemon refuses, and where the locator keeps entries. */
#include <criterion/criterion.h>

#include <stdlib.h>
#include <string.h>

#include "src/config.h"
#include "src/locator.h"

Test(state_paths, default_state_folder_per_config_file)
{
  static const char *const cases[][2] = {
      {"tend.json", ".tend"},
      {"two.json", ".tend-two"},
      {"dev.tend.json", ".tend-dev.tend"},
      {"tend.conf", ".tend-tend.conf"},
      {".json", ".tend-.json"},
      {"", ".tend"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    char *leaf = config_default_state_leaf(cases[i][0]);
    cr_expect_str_eq(leaf, cases[i][1], "for \"%s\"", cases[i][0]);
    free(leaf);
  }
}

/* Loads text as name in /srv/app. */
static struct config *
load(const char *text, const char *name)
{
  struct config *cfg = NULL;
  char *errors = NULL;
  cr_assert_eq(
      config_load_buffer(text, strlen(text), name, "/srv/app", &cfg, &errors),
      0, "%s", errors ? errors : "");
  return cfg;
}

Test(state_paths, two_configs_in_one_folder_get_two_state_folders)
{
  struct config *a = load("{\"name\": \"a\", \"children\": []}", "tend.json");
  struct config *b = load("{\"name\": \"b\", \"children\": []}", "two.json");
  cr_expect_str_eq(a->state_dir, "/srv/app/.tend");
  cr_expect_str_eq(b->state_dir, "/srv/app/.tend-two");
  config_free(a);
  config_free(b);
}

Test(state_paths, state_dir_edits_are_refused_http_edits_noted)
{
  struct config *a = load("{\"name\": \"a\", \"children\": []}", "tend.json");
  struct config *same = load("{\"name\": \"a\", \"children\": [{\"name\": "
                             "\"x\", \"cmd\": [\"true\"]}]}",
                             "tend.json");
  struct config *dir = load("{\"name\": \"a\", \"state_dir\": \"st\", "
                            "\"children\": []}",
                            "tend.json");
  struct config *port = load("{\"name\": \"a\", \"http\": {\"listen\": "
                             "\"127.0.0.1:7999\"}, \"children\": []}",
                             "tend.json");
  struct config *off = load("{\"name\": \"a\", \"http\": {\"listen\": false}, "
                            "\"children\": []}",
                            "tend.json");
  char *why;

  cr_expect_null(config_fixed_change(a, same), "a tree edit is applied");
  why = config_fixed_change(a, dir);
  cr_assert_not_null(why);
  cr_expect(strstr(why, "state_dir changed"), "%s", why);
  free(why);
  cr_expect_null(config_fixed_change(a, port), "http is applied around");
  why = config_http_change(a, port);
  cr_assert_not_null(why);
  cr_expect(strstr(why, "http changed"), "%s", why);
  free(why);
  why = config_http_change(a, off);
  cr_assert_not_null(why);
  free(why);
  cr_expect_null(config_http_change(a, same));
  config_free(a);
  config_free(same);
  config_free(dir);
  config_free(port);
  config_free(off);
}

Test(state_paths, locator_entries_are_keyed_by_the_config_path)
{
  char *p1 = locator_entry_path("/run/tend", "/srv/app/tend.json");
  char *p2 = locator_entry_path("/run/tend", "/srv/app/tend.json");
  char *p3 = locator_entry_path("/run/tend", "/srv/other/tend.json");
  cr_expect_str_eq(p1, p2);
  cr_expect_str_neq(p1, p3);
  cr_expect_eq(strncmp(p1, "/run/tend/", 10), 0);
  cr_expect_eq(strlen(p1), strlen("/run/tend/") + 16 + 5);
  free(p1);
  free(p2);
  free(p3);
}
