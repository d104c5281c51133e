/* Unit tests for watchers/glob: the pure path matcher. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>

#include "watchers/glob.h"

#define YES(p, s)                                                              \
  cr_expect(glob_match(p, s), "\"%s\" should match \"%s\"", p, s)
#define NO(p, s)                                                               \
  cr_expect(!glob_match(p, s), "\"%s\" should not match \"%s\"", p, s)

Test(glob, literals)
{
  YES("a", "a");
  YES("src/main.c", "src/main.c");
  YES("", "");
  NO("a", "b");
  NO("a", "");
  NO("", "a");
  NO("src/main.c", "src/main.cc");
  NO("src/main.c", "src/main.");
  NO("abc", "ab");
}

Test(glob, star_within_component)
{
  YES("*", "main.c");
  YES("*", "");
  YES("*.c", "main.c");
  YES("*.c", ".c");
  YES("a*b", "ab");
  YES("a*b", "axxxb");
  YES("a*b*c", "abbbcbc");
  YES("src/*.c", "src/x.c");
  YES("*/*.c", "src/x.c");
  YES("***", "abc");
  NO("*", "a/b");
  NO("*.c", "src/main.c");
  NO("src/*.c", "src/sub/x.c");
  NO("a*b", "a/b");
  NO("*.c", "main.h");
  NO("a*b*c", "abcb");
}

Test(glob, question_mark)
{
  YES("?", "a");
  YES("a?c", "abc");
  YES("??", "ab");
  NO("?", "");
  NO("?", "ab");
  NO("a?c", "a/c");
  NO("a?c", "ac");
}

Test(glob, classes)
{
  YES("[abc]", "b");
  YES("[a-z].c", "q.c");
  YES("x[0-9][0-9]", "x42");
  YES("[!a]", "b");
  YES("[^a]", "b");
  YES("[]]", "]");
  YES("[!]]", "a");
  YES("[a-]", "-");
  YES("[-a]", "-");
  YES("[\\]]", "]");
  YES("[\\-]", "-");
  YES("[[:digit:]]x", "7x");
  YES("[[:alpha:]_]", "_");
  YES("[[:upper:]]", "Q");
  NO("[[:upper:]]", "q");
  NO("[[:bogus:]]", "a");
  NO("[abc]", "d");
  NO("[a-z]", "A");
  NO("[!a]", "a");
  NO("[^abc]", "c");
  NO("[]]", "a");
  NO("[abc]", "");
  /* A class never matches the separator, even negated. */
  NO("a[!x]b", "a/b");
  NO("a[/]b", "a/b");
  /* Unterminated: the '[' is a literal. */
  YES("[abc", "[abc");
  NO("[abc", "a");
  YES("x[", "x[");
}

Test(glob, escapes)
{
  YES("\\*", "*");
  NO("\\*", "a");
  YES("\\?", "?");
  NO("\\?", "x");
  YES("\\[a]", "[a]");
  NO("\\[a]", "a");
  YES("a\\\\b", "a\\b");
  YES("\\a", "a");
  YES("trail\\", "trail\\");
  NO("trail\\", "trail");
}

Test(glob, globstar_leading)
{
  YES("**/x", "x");
  YES("**/x", "a/x");
  YES("**/x", "a/b/c/x");
  YES("**/*.c", "main.c");
  YES("**/*.c", "src/deep/er/main.c");
  NO("**/x", "ax");
  NO("**/x", "a/bx");
  NO("**/x", "x/a");
  NO("**/*.c", "src/main.h");
}

Test(glob, globstar_trailing)
{
  YES("a/**", "a/b");
  YES("a/**", "a/b/c/d");
  NO("a/**", "a");
  NO("a/**", "ab/c");
  NO("a/**", "b/a/c");
  YES("**", "");
  YES("**", "anything/at/all");
}

Test(glob, globstar_middle)
{
  YES("a/**/b", "a/b");
  YES("a/**/b", "a/x/b");
  YES("a/**/b", "a/x/y/z/b");
  NO("a/**/b", "a/xb");
  NO("a/**/b", "ab");
  NO("a/**/b", "a/b/c");
  YES("src/**/test_*.c", "src/test_a.c");
  YES("src/**/test_*.c", "src/u/v/test_a.c");
  NO("src/**/test_*.c", "src/u/v/atest_a.c");
  YES("**/node_modules/**", "node_modules/x");
  YES("**/node_modules/**", "a/b/node_modules/x/y");
  NO("**/node_modules/**", "a/node_modulesx/y");
  YES("a/**/**/b", "a/b");
  YES("a/**/**/b", "a/1/2/3/b");
}

Test(glob, globstar_not_a_component_is_a_star)
{
  YES("a**b", "axxb");
  NO("a**b", "a/b");
  YES("**b", "xb");
  NO("**b", "x/b");
  YES("a/**b", "a/xb");
  NO("a/**b", "a/x/b");
}

Test(glob, dotfiles_are_ordinary)
{
  YES("*", ".hidden");
  YES("**/*.c", ".dir/.x.c");
  YES(".#*", ".#main.c");
}

Test(glob, pathological_backtracking_terminates)
{
  NO("*a*a*a*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
  NO("**/**/**/**/**/x", "a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q/r/s/y");
}

Test(glob, check_syntax)
{
  char *cause = NULL;

  cr_expect_eq(glob_check("**/*.[ch]", &cause), 0);
  cr_expect_eq(glob_check("a\\*b", &cause), 0);
  cr_expect_eq(glob_check("[]]x", &cause), 0);
  cr_expect_null(cause);
  cr_expect_eq(glob_check("src/[abc", &cause), -EINVAL);
  cr_assert_not_null(cause);
  cr_expect(strstr(cause, "unterminated") != NULL, "%s", cause);
  free(cause);
  cause = NULL;
  cr_expect_eq(glob_check("abc\\", &cause), -EINVAL);
  cr_assert_not_null(cause);
  cr_expect(strstr(cause, "backslash") != NULL, "%s", cause);
  free(cause);
  cr_expect_eq(glob_check("x[", NULL), -EINVAL);
}
