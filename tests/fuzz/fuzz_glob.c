/* fuzz_glob: libFuzzer target for watchers/glob.c.
 *
 * The input is "pattern NUL path" (no NUL: the whole input is the pattern
 * and the path is empty). Checks, besides no crash and no UB:
 *   - glob_match terminates fast (the runner gives each input 1 s): the
 *     matcher claims wildmatch-style bounded backtracking;
 *   - glob_check either accepts the pattern or returns -EINVAL with a
 *     non-empty cause (freed: leaks are caught);
 *   - the path escaped character by character is a literal pattern that
 *     matches the path itself, and only it (a cheap oracle). */
#include "watchers/glob.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Stops the run loudly: libFuzzer saves the input as a crash. */
static void
fail(const char *what, const char *pattern, const char *path)
{
  fprintf(stderr, "fuzz_glob: %s\n  pattern: \"%s\"\n  path: \"%s\"\n", what,
          pattern, path);
  abort();
}

/* Writes s with every glob special character backslash-escaped. */
static void
escape_literal(const char *s, char *out)
{
  for (; *s; s++) {
    if (strchr("*?[]\\", *s))
      *out++ = '\\';
    *out++ = *s;
  }
  *out = '\0';
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  const uint8_t *nul = memchr(data, '\0', size);
  size_t plen = nul ? (size_t)(nul - data) : size;
  size_t rest = nul ? size - plen - 1 : 0;
  char *pattern = malloc(plen + 1);
  char *path = malloc(rest + 1);
  char *lit = malloc(2 * rest + 1);
  char *cause = NULL;
  int rc;

  memcpy(pattern, data, plen);
  pattern[plen] = '\0';
  /* The path stops at its first NUL, as a C string would. */
  memcpy(path, nul ? nul + 1 : data, rest);
  path[rest] = '\0';

  (void)glob_match(pattern, path);

  rc = glob_check(pattern, &cause);
  if (rc != 0 && (rc != -EINVAL || !cause || !*cause))
    fail("glob_check: error without a cause", pattern, path);
  if (rc == 0 && cause)
    fail("glob_check: cause set on success", pattern, path);
  free(cause);

  escape_literal(path, lit);
  if (glob_match(lit, path) != 1)
    fail("an escaped literal does not match itself", lit, path);
  if (glob_check(lit, NULL) != 0)
    fail("glob_check rejects an escaped literal", lit, path);
  if (strcmp(pattern, path) != 0 && glob_match(lit, pattern) == 1)
    fail("an escaped literal matches another string", lit, pattern);

  free(lit);
  free(path);
  free(pattern);
  return 0;
}
