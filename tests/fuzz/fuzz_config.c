/* fuzz_config: libFuzzer target for src/config.c (tend.json loading and
 * validation).
 *
 * The input is the file's text, loaded with config_load_buffer as
 * "tend.json" in a fixed folder (tests/fuzz/fixtures, or $FUZZ_CONFIG_DIR):
 * its conf.d/ and ok.d/ give "include" something real to read. Checks,
 * besides no crash, no UB and no leak:
 *   - a rejection returns -EINVAL, no config, and an error text that is
 *     non-empty, ends with a newline, and whose every line reads
 *     "file:line:col: message" (line and col unsigned integers); loaded
 *     as an array (config_load_buffer_list) the errors are the same, each
 *     with a file, a position and a one-line message;
 *   - an acceptance returns a config and no error text; every node is
 *     found by its name; loading the same text again gives the same hash,
 *     and config_diff between the two loads is empty.
 * Any broken property aborts, so that libFuzzer keeps the input. */
#include "src/config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The folder relative paths and "include" resolve against. */
static const char *
fixture_dir(void)
{
  const char *d = getenv("FUZZ_CONFIG_DIR");

  return d && *d ? d : "tests/fuzz/fixtures";
}

/* Reports a broken property with the error text, and aborts. */
static void
fail(const char *what, const char *errors)
{
  fprintf(stderr, "fuzz_config: %s\n--- errors ---\n%s\n--------------\n", what,
          errors ? errors : "(null)");
  abort();
}

/* Returns 1 when [p, end) is one or more decimal digits (no sign: jansson
 * reports column 0 at the very start or end of the input, but a -1 would
 * mean a position that was never found). */
static int
number(const char *p, const char *end)
{
  if (p == end)
    return 0;
  for (; p < end; p++)
    if (*p < '0' || *p > '9')
      return 0;
  return 1;
}

/* Returns 1 when the line [s, end) reads "file:line:col: message". The
 * file part is everything before the first ':' followed by a digit. */
static int
line_ok(const char *s, const char *end)
{
  const char *c1 = s, *c2, *c3;

  for (;;) {
    c1 = memchr(c1, ':', (size_t)(end - c1));
    if (!c1)
      return 0;
    if (c1 + 1 < end && c1[1] >= '0' && c1[1] <= '9')
      break;
    c1++;
  }
  if (c1 == s)
    return 0;
  c2 = memchr(c1 + 1, ':', (size_t)(end - c1 - 1));
  if (!c2 || !number(c1 + 1, c2))
    return 0;
  c3 = memchr(c2 + 1, ':', (size_t)(end - c2 - 1));
  if (!c3 || !number(c2 + 1, c3))
    return 0;
  /* ": " and at least one character of message. */
  return c3 + 2 < end && c3[1] == ' ' && c3[2] != ' ';
}

/* Checks the whole error text, one error per line. */
static void
check_errors(const char *errors)
{
  const char *p = errors;
  size_t n = strlen(errors);

  if (n == 0)
    fail("a rejection with an empty error text", errors);
  if (errors[n - 1] != '\n')
    fail("the error text does not end with a newline", errors);
  while (*p) {
    const char *nl = strchr(p, '\n');
    if (!line_ok(p, nl)) {
      fprintf(stderr, "fuzz_config: bad line: %.*s\n", (int)(nl - p), p);
      fail("an error line is not \"file:line:col: message\"", errors);
    }
    p = nl + 1;
  }
}

/* Loads text again as an array of errors: the same verdict, and the same
 * errors, each with its parts on one line, joined as the text was. */
static void
check_error_array(const char *text, size_t size, const char *errors)
{
  struct config_errors list = CONFIG_ERRORS_ZERO;
  struct config *cfg = NULL;
  char *joined;

  if (config_load_buffer_list(text, size, "tend.json", fixture_dir(), &cfg,
                              &list) != -EINVAL ||
      cfg)
    fail("the array load disagrees with the text load", errors);
  if (list.n == 0)
    fail("a rejection with an empty error array", errors);
  for (size_t i = 0; i < list.n; i++) {
    const struct config_error *e = &list.v[i];
    if (!e->file || !e->message || e->line == 0 || strchr(e->message, '\n') ||
        (e->path && strchr(e->path, '\n')) || e->warning)
      fail("an error of the array lacks a part or spans lines", errors);
  }
  joined = config_errors_join(&list);
  if (strcmp(joined, errors) != 0)
    fail("the joined array is not the error text", errors);
  free(joined);
  config_errors_free(&list);
}

/* Walks the tree: every named node must be found by its name. */
static void
check_names(const struct config *cfg, const struct config_node *n)
{
  if (n->name && config_find(cfg, n->name) != n)
    fail("config_find does not find a node by its name", n->name);
  for (size_t i = 0; i < n->n_children; i++) {
    if (n->children[i]->parent != n)
      fail("a child's parent pointer is wrong", n->children[i]->name);
    check_names(cfg, n->children[i]);
  }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  /* An exact-size heap copy, so that ASan sees any read past the end. */
  char *text = malloc(size ? size : 1);
  struct config *cfg = (struct config *)1, *again = NULL;
  struct config_change *changes = NULL;
  char *errors = (char *)1;
  int rc;

  memcpy(text, data, size);
  rc =
      config_load_buffer(text, size, "tend.json", fixture_dir(), &cfg, &errors);
  if (rc < 0) {
    if (rc != -EINVAL)
      fail("a rejection that is not -EINVAL", errors);
    if (cfg)
      fail("a rejection that returns a config", errors);
    if (!errors)
      fail("a rejection without an error text", NULL);
    check_errors(errors);
    check_error_array(text, size, errors);
    free(errors);
    free(text);
    return 0;
  }
  if (rc != 0 || !cfg || errors)
    fail("an acceptance without a config, or with errors", errors);
  if (!cfg->root || !cfg->root->is_group)
    fail("the root is not a group", NULL);
  check_names(cfg, cfg->root);

  errors = NULL;
  if (config_load_buffer(text, size, "tend.json", fixture_dir(), &again,
                         &errors) != 0)
    fail("the same text loads once but not twice", errors);
  if (strcmp(cfg->hash, again->hash) != 0)
    fail("the same text gives two hashes", NULL);
  if (config_diff(cfg, again, &changes) != 0)
    fail("config_diff of a config with itself is not empty", NULL);
  free(changes);
  config_free(again);
  config_free(cfg);
  free(text);
  return 0;
}
