/* test_config_messages: what `tend check` says about the mistakes a new
 * user makes: keys spelled as other tools spell them, and an integer too
 * big for JSON, reported where it starts and without hiding the file's
 * other errors. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/config.h"

/* Loads text as tend.json; returns the errors (new), NULL when valid. */
static char *
errors_of(const char *text)
{
  struct config *cfg = NULL;
  char *errors = NULL;
  if (config_load_buffer(text, strlen(text), "tend.json", "/srv", &cfg,
                         &errors) == 0) {
    config_free(cfg);
    return NULL;
  }
  return errors;
}

Test(messages, other_tools_key_names_get_a_suggestion)
{
  static const char *const cases[][2] = {
      {"enviroment", "env"},   {"environment", "env"},
      {"command", "cmd"},      {"working_dir", "cwd"},
      {"depends_on", "after"}, {"autorestart", "restart"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    char text[256], want[128];
    snprintf(text, sizeof text,
             "{\"name\": \"d\", \"children\": [{\"name\": \"a\", \"cmd\": "
             "[\"true\"], \"%s\": 1}]}",
             cases[i][0]);
    snprintf(want, sizeof want, "unknown key \"%s\" (did you mean \"%s\"?)",
             cases[i][0], cases[i][1]);
    char *e = errors_of(text);
    cr_assert_not_null(e, "%s", cases[i][0]);
    cr_expect(strstr(e, want), "%s\nwant: %s", e, want);
    free(e);
  }
}

Test(messages, a_too_big_integer_is_reported_at_its_start_with_the_rest)
{
  const char *text =
      "{\"name\": \"d\", \"children\": [{\"name\": \"a\", \"cmd\": "
      "[\"true\"],\n"
      " \"stop\": {\"timeout_ms\": 123456789012345678901234567890},\n"
      " \"restart\": \"sometimes\", \"x\": -99999999999999999999999}]}\n";
  char *e = errors_of(text);

  cr_assert_not_null(e);
  cr_expect(strstr(e, "tend.json:2:25: integer too big"), "%s", e);
  cr_expect(strstr(e, "tend.json:3:31: integer too big"), "%s", e);
  cr_expect(strstr(e, "children[0].restart: expected one of"), "%s", e);
  cr_expect(strstr(e, "unknown key \"x\""), "%s", e);
  /* Nothing about the stand-in value. */
  cr_expect(!strstr(e, "timeout_ms:"), "%s", e);
  free(e);
}

Test(messages, a_node_neither_runner_nor_group_is_one_error)
{
  /* Read as both kinds; under ASan this also proves nothing leaks. */
  char *e = errors_of("{\"name\": \"d\", \"children\": [{\"name\": \"a\", "
                      "\"env_file\": \".env\"}]}");
  cr_assert_not_null(e);
  cr_expect(strstr(e, "expected \"cmd\" (a runner) or \"children\""), "%s", e);
  free(e);
}
