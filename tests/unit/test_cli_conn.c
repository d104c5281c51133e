/* Unit tests for the pure part of src/cli_conn.c: the -c/--url/--token
 * option parser that the client commands, tend top and tend attach share. */
#include <criterion/criterion.h>

#include "src/cli_conn.h"

#include <stddef.h>

/* Parses argv[i] alone; returns what cli_conn_parse_opt did. */
static int
parse(int argc, char **argv, int *i, const char **config, const char **url,
      const char **token)
{
  *config = *url = *token = NULL;
  return cli_conn_parse_opt(argc, argv, i, config, url, token);
}

Test(cli_conn, separate_and_joined_values)
{
  char *argv[] = {"-c",         "a.json",           "--config=b.json", "--url",
                  "http://x:1", "--url=http://y:2", "--token",         "t1",
                  "--token=t2", "--config",         "c.json"};
  int argc = (int)(sizeof argv / sizeof *argv);
  const char *config, *url, *token;
  int i = 0;

  cr_assert_eq(parse(argc, argv, &i, &config, &url, &token), 1);
  cr_assert_str_eq(config, "a.json");
  cr_assert_eq(i, 1, "the value is taken");
  i = 2;
  cr_assert_eq(parse(argc, argv, &i, &config, &url, &token), 1);
  cr_assert_str_eq(config, "b.json");
  cr_assert_eq(i, 2);
  i = 3;
  cr_assert_eq(parse(argc, argv, &i, &config, &url, &token), 1);
  cr_assert_str_eq(url, "http://x:1");
  cr_assert_eq(i, 4);
  i = 5;
  cr_assert_eq(parse(argc, argv, &i, &config, &url, &token), 1);
  cr_assert_str_eq(url, "http://y:2");
  i = 6;
  cr_assert_eq(parse(argc, argv, &i, &config, &url, &token), 1);
  cr_assert_str_eq(token, "t1");
  cr_assert_null(config);
  i = 8;
  cr_assert_eq(parse(argc, argv, &i, &config, &url, &token), 1);
  cr_assert_str_eq(token, "t2");
  i = 9;
  cr_assert_eq(parse(argc, argv, &i, &config, &url, &token), 1);
  cr_assert_str_eq(config, "c.json");
  cr_assert_eq(i, 10);
}

Test(cli_conn, other_words_and_missing_values)
{
  char *argv[] = {"web", "-n", "--urlx=1", "--tokens", "-cfoo", "--url"};
  int argc = (int)(sizeof argv / sizeof *argv);
  const char *config, *url, *token;

  for (int k = 0; k < argc - 1; k++) {
    int i = k;
    cr_assert_eq(parse(argc, argv, &i, &config, &url, &token), 0, "%s",
                 argv[k]);
    cr_assert_eq(i, k);
    cr_assert_null(config);
    cr_assert_null(url);
    cr_assert_null(token);
  }
  int i = argc - 1;
  cr_assert_eq(parse(argc, argv, &i, &config, &url, &token), -1,
               "--url at the end has no value");
  cr_assert_eq(i, argc - 1);
  cr_assert_null(url);
}
