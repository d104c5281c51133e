/* test_init: the starter config of `tend init` and the "//" comment keys
 * it relies on: the template is a valid config, names are cleaned up, the
 * file is never replaced, and editing a comment changes no spec. */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "src/config.h"
#include "src/init.h"

/* Loads text as tend.json in /srv/app; returns rc, errors to stderr. */
static int
load(const char *text, struct config **out)
{
  char *errors = NULL;
  int rc = config_load_buffer(text, strlen(text), "tend.json", "/srv/app", out,
                              &errors);
  if (rc != 0)
    fprintf(stderr, "%s\n", errors ? errors : "(no errors)");
  free(errors);
  return rc;
}

/* Returns the template with its "$schema" line removed (the validator of
 * this branch may not know the key yet; the schema key has its own test). */
static char *
without_schema(const char *folder)
{
  char *t = init_template(folder, "file:///x/tend.schema.json");
  char *line = strstr(t, "  \"$schema\"");
  cr_assert(line, "the template sets $schema:\n%s", t);
  char *end = strchr(line, '\n');
  memmove(line, end + 1, strlen(end + 1) + 1);
  return t;
}

Test(init, template_is_a_valid_config_named_after_the_folder)
{
  struct config *cfg = NULL;
  char *t = without_schema("my-app");

  cr_assert_eq(load(t, &cfg), 0, "%s", t);
  cr_assert_str_eq(cfg->root->name, "my-app");
  cr_assert_not_null(config_find(cfg, "web"));
  cr_assert_not_null(config_find(cfg, "build"));
  config_free(cfg);
  free(t);
}

Test(init, template_sets_the_schema_url)
{
  char *t = init_template("x", "file:///usr/share/tend/tend.schema.json");
  cr_assert(strstr(t, "\"$schema\": \"file:///usr/share/tend/"
                      "tend.schema.json\""));
  free(t);
}

Test(init, folder_names_become_valid_node_names)
{
  static const char *const cases[][2] = {
      {"my app (copy)", "my-app-copy"},
      {"Projekt\xc3\xa4", "Projekt"},
      {"   ", "dev"},
      {"..", "dev"},
      {"", "dev"},
      {"a.b_c-d", "a.b_c-d"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    struct config *cfg = NULL;
    char *t = without_schema(cases[i][0]);
    cr_assert_eq(load(t, &cfg), 0, "folder \"%s\"", cases[i][0]);
    cr_expect_str_eq(cfg->root->name, cases[i][1], "folder \"%s\"",
                     cases[i][0]);
    config_free(cfg);
    free(t);
  }
}

Test(init, write_never_replaces_a_file)
{
  char dir[] = "/tmp/tend-init-XXXXXX", path[64], buf[16] = {0};
  char *cause = NULL;

  cr_assert(mkdtemp(dir));
  snprintf(path, sizeof path, "%s/tend.json", dir);
  cr_assert_eq(init_write(path, "{}\n", &cause), 0);
  cr_assert_eq(init_write(path, "other\n", &cause), -EEXIST);
  cr_assert(strstr(cause, "already exists"), "%s", cause);
  free(cause);
  int fd = open(path, O_RDONLY);
  cr_assert_eq(read(fd, buf, sizeof buf - 1), 3);
  cr_assert_str_eq(buf, "{}\n");
  close(fd);
  unlink(path);
  rmdir(dir);
}

Test(init, schema_url_falls_back_to_the_package_path)
{
  char *u = init_schema_url("/nonexistent/bin/tend");
  cr_assert_str_eq(u, "file:///usr/share/tend/tend.schema.json");
  free(u);
  u = init_schema_url(NULL);
  cr_assert_str_eq(u, "file:///usr/share/tend/tend.schema.json");
  free(u);
}

Test(comments, comment_keys_are_allowed_on_every_object)
{
  struct config *cfg = NULL;
  const char *text = "{\"//\": \"root\", \"name\": \"r\", \"children\": [\n"
                     " {\"//a\": 1, \"name\": \"w\", \"cmd\": [\"true\"],\n"
                     "  \"env\": {\"//\": \"not a variable\", \"A\": \"1\"},\n"
                     "  \"watch\": {\"//\": \"x\", \"paths\": [\"src\"]},\n"
                     "  \"stop\": {\"//\": [], \"signal\": \"INT\"},\n"
                     "  \"backoff\": {\"//\": {}, \"initial_ms\": 5}}]}\n";

  cr_assert_eq(load(text, &cfg), 0);
  const struct config_node *w = config_find(cfg, "w");
  cr_assert_not_null(w);
  cr_assert_not_null(w->env);
  cr_assert_str_eq(w->env[0], "A=1", "a comment key is not a variable");
  cr_assert_null(w->env[1]);
  config_free(cfg);
}

Test(comments, a_one_slash_key_is_still_unknown)
{
  struct config *cfg = NULL;
  char *errors = NULL;
  const char *text = "{\"name\": \"r\", \"/x\": 1, \"children\": []}\n";

  cr_assert_neq(config_load_buffer(text, strlen(text), "tend.json", "/srv",
                                   &cfg, &errors),
                0);
  cr_assert(strstr(errors, "unknown key \"/x\""), "%s", errors);
  free(errors);
}

Test(comments, editing_a_comment_changes_no_spec)
{
  struct config *a = NULL, *b = NULL;
  struct config_change *ch = NULL;
  const char *t1 = "{\"name\": \"r\", \"children\": [{\"name\": \"w\", "
                   "\"//\": \"one\", \"cmd\": [\"true\"], \"watch\": "
                   "{\"paths\": [\"s\"], \"//\": \"in\"}}]}\n";
  const char *t2 = "{\"name\": \"r\", \"children\": [{\"name\": \"w\", "
                   "\"//\": \"two\", \"cmd\": [\"true\"], \"watch\": "
                   "{\"paths\": [\"s\"]}}]}\n";
  const char *t3 = "{\"name\": \"r\", \"children\": [{\"name\": \"w\", "
                   "\"//\": \"two\", \"cmd\": [\"false\"]}]}\n";

  cr_assert_eq(load(t1, &a), 0);
  cr_assert_eq(load(t2, &b), 0);
  cr_expect_eq(config_diff(a, b, &ch), 0, "a comment edit is no change");
  free(ch);
  config_free(b);
  cr_assert_eq(load(t3, &b), 0);
  cr_expect_eq(config_diff(a, b, &ch), 1, "a real edit still is");
  free(ch);
  config_free(a);
  config_free(b);
}
