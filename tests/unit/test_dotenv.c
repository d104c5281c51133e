/* test_dotenv: the env_file parser (runners/dotenv.c): every syntax rule
 * of dotenv.h, and the "file:line: message" of each error. */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runners/dotenv.h"

/* Parses text and returns the variables joined with '|' (new). */
static char *
parse_ok(const char *text)
{
  char **vars = NULL, *cause = NULL, *out = calloc(1, 4096);
  int rc = dotenv_parse(text, strlen(text), ".env", &vars, &cause);
  cr_assert_eq(rc, 0, "%s: %s", text, cause ? cause : "");
  cr_assert_null(cause);
  for (char **v = vars; *v; v++) {
    if (v != vars)
      strcat(out, "|");
    strcat(out, *v);
  }
  dotenv_free(vars);
  return out;
}

/* Expects text to be refused with exactly want. */
static void
parse_bad(const char *text, const char *want)
{
  char **vars = NULL, *cause = NULL;
  int rc = dotenv_parse(text, strlen(text), "x.env", &vars, &cause);
  cr_expect_eq(rc, -EINVAL, "%s", text);
  cr_expect_null(vars);
  cr_expect(cause && strcmp(cause, want) == 0, "%s: got %s want %s", text,
            cause ? cause : "(null)", want);
  free(cause);
}

/* Expects text to give exactly want (variables joined with '|'). */
static void
expect(const char *text, const char *want)
{
  char *got = parse_ok(text);
  cr_expect_str_eq(got, want, "for %s", text);
  free(got);
}

Test(dotenv, plain_lines_comments_blanks_and_export)
{
  expect("", "");
  expect("A=1\nB=two words\n", "A=1|B=two words");
  expect("# comment\n\n   \n  # indented comment\nA=1", "A=1");
  expect("export A=1\nexport\tB=2\n", "A=1|B=2");
  expect("exported=1\n", "exported=1");
  expect("  A = spaced  \n", "A=spaced");
  expect("A=\nB=", "A=|B=");
  expect("A=1\r\nB=2\r\n", "A=1|B=2");
  expect("A=x # comment\nB=x#not-a-comment\n", "A=x|B=x#not-a-comment");
  expect("_A9=ok", "_A9=ok");
}

Test(dotenv, no_expansion)
{
  expect("A=$HOME\nB=\"$HOME\"\nC='$(rm -rf /)'\nD=`id`",
         "A=$HOME|B=$HOME|C=$(rm -rf /)|D=`id`");
  expect("A=\"\\$X\"", "A=$X");
}

Test(dotenv, quotes)
{
  expect("A='single # not comment'", "A=single # not comment");
  expect("A='no \\n escapes'", "A=no \\n escapes");
  expect("A=\"tab\\there\\nnl \\\"q\\\" back\\\\slash\"",
         "A=tab\there\nnl \"q\" back\\slash");
  expect("A=\"keep \\x\"", "A=keep \\x");
  expect("A=\"multi\nline\"\nB=2", "A=multi\nline|B=2");
  expect("A='x' # trailing comment\n", "A=x");
  expect("A=\"\"", "A=");
}

Test(dotenv, later_duplicates_win_in_the_first_place)
{
  expect("A=1\nB=2\nA=3", "A=3|B=2");
}

Test(dotenv, errors_name_file_and_line)
{
  parse_bad("A=1\nnot a line\n", "x.env:2: expected '=' after not");
  parse_bad("A=1\n\n=1\n", "x.env:3: expected KEY=value (a name of letters, "
                           "digits and _)");
  parse_bad("1A=1", "x.env:1: expected KEY=value (a name of letters, digits "
                    "and _)");
  parse_bad("my-var=1", "x.env:1: expected '=' after my");
  parse_bad("A=1\nB=\"open\nC=2\n", "x.env:2: unterminated double quote");
  parse_bad("A='open", "x.env:1: unterminated single quote");
  parse_bad("A=\"x\" y\n", "x.env:1: unexpected text after the closing "
                           "quote");
  parse_bad("A=\"x\ny\" z", "x.env:2: unexpected text after the closing "
                            "quote");
  {
    const char text[] = "A=1\nB=\0\n";
    char **vars = NULL, *cause = NULL;
    cr_expect_eq(dotenv_parse(text, sizeof text - 1, "n.env", &vars, &cause),
                 -EINVAL);
    cr_expect_str_eq(cause, "n.env:2: NUL byte (not a text file?)");
    free(cause);
  }
}

Test(dotenv, not_nul_terminated_input)
{
  char **vars = NULL, *cause = NULL;
  const char text[] = "A=12345";
  /* only "A=12" is given */
  cr_assert_eq(dotenv_parse(text, 4, "t", &vars, &cause), 0);
  cr_expect_str_eq(vars[0], "A=12");
  cr_expect_null(vars[1]);
  dotenv_free(vars);
  dotenv_free(NULL);
}

Test(dotenv, load_from_disk)
{
  char path[] = "/tmp/tend-dotenv-XXXXXX";
  int fd = mkstemp(path);
  char **vars = NULL, *cause = NULL;
  cr_assert_geq(fd, 0);
  cr_assert_eq(write(fd, "A=1\n", 4), 4);
  close(fd);
  cr_expect_eq(dotenv_load(path, &vars, &cause), 0);
  cr_expect_str_eq(vars[0], "A=1");
  dotenv_free(vars);
  unlink(path);
  cr_expect_eq(dotenv_load(path, &vars, &cause), -ENOENT);
  cr_expect(strstr(cause, ": does not exist"), "%s", cause);
  free(cause);
  cr_expect_eq(dotenv_load("/tmp", &vars, &cause), -EINVAL);
  cr_expect(strstr(cause, "/tmp: not a regular file"), "%s", cause);
  free(cause);
}
