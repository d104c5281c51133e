/* Unit tests for ui/auth.c: token compare, cookie and Bearer parsing, the
 * Origin rule, the whole auth_check policy and the token file. */
#include <criterion/criterion.h>

#include "ui/auth.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TOKEN "0123456789abcdef0123456789abcdef"

Test(auth, token_equal)
{
  cr_assert(auth_token_equal(TOKEN, TOKEN));
  cr_assert_not(auth_token_equal(TOKEN, "0123456789abcdef0123456789abcdeF"));
  cr_assert_not(auth_token_equal(TOKEN, "0123456789abcdef"));
  cr_assert_not(auth_token_equal(TOKEN, TOKEN "0"));
  cr_assert_not(auth_token_equal(TOKEN, ""));
  cr_assert_not(auth_token_equal(TOKEN, NULL));
  cr_assert_not(auth_token_equal("", ""), "an empty token never matches");
}

Test(auth, cookie_find)
{
  size_t len = 0;
  const char *v;

  v = auth_cookie_find("a=1; tend_token_7070=abc; b=2", "tend_token_7070",
                       &len);
  cr_assert_not_null(v);
  cr_assert_eq(len, 3);
  cr_assert(strncmp(v, "abc", len) == 0);

  v = auth_cookie_find("tend_token_7070=\"q\"", "tend_token_7070", &len);
  cr_assert(v && len == 1 && *v == 'q', "quotes are dropped");

  v = auth_cookie_find("x_tend_token_7070=abc", "tend_token_7070", &len);
  cr_assert_null(v, "a longer name does not match");
  v = auth_cookie_find("tend_token_70700=abc", "tend_token_7070", &len);
  cr_assert_null(v);
  v = auth_cookie_find("tend_token_7070", "tend_token_7070", &len);
  cr_assert_null(v, "no value, no cookie");
  v = auth_cookie_find(" a = 1 ;  k = v2  ", "k", &len);
  cr_assert(v && len == 2 && strncmp(v, "v2", 2) == 0);
  v = auth_cookie_find("k=", "k", &len);
  cr_assert(v && len == 0);
  cr_assert_null(auth_cookie_find(NULL, "k", &len));
  cr_assert_null(auth_cookie_find(";;;", "k", &len));
}

Test(auth, bearer)
{
  cr_assert_str_eq(auth_bearer("Bearer abc"), "abc");
  cr_assert_str_eq(auth_bearer("bearer   abc"), "abc");
  cr_assert_null(auth_bearer("Basic abc"));
  cr_assert_null(auth_bearer("Bearerabc"));
  cr_assert_null(auth_bearer(NULL));
}

Test(auth, origin)
{
  cr_assert(auth_origin_ok("http://127.0.0.1:7070", "127.0.0.1:7070"));
  cr_assert(auth_origin_ok("HTTP://LocalHost:7070", "localhost:7070"));
  cr_assert_not(auth_origin_ok("http://evil.example", "127.0.0.1:7070"));
  cr_assert_not(auth_origin_ok("http://127.0.0.1:7071", "127.0.0.1:7070"));
  cr_assert_not(auth_origin_ok("http://127.0.0.1:7070.evil", "127.0.0.1:7070"));
  cr_assert_not(auth_origin_ok("https://127.0.0.1:7070", "127.0.0.1:7070"));
  cr_assert_not(auth_origin_ok("null", "127.0.0.1:7070"));
  cr_assert_not(auth_origin_ok(NULL, "127.0.0.1:7070"));
  cr_assert_not(auth_origin_ok("http://", ""));
}

Test(auth, check_policy)
{
  const char *cn = "tend_token_7070";
  struct auth_input in = {0};

  cr_assert_eq(auth_check(TOKEN, cn, &in), AUTH_MISSING);

  in.authorization = "Bearer " TOKEN;
  cr_assert_eq(auth_check(TOKEN, cn, &in), AUTH_OK);
  in.state_changing = 1;
  cr_assert_eq(auth_check(TOKEN, cn, &in), AUTH_OK, "Bearer needs no Origin");
  in.authorization = "Bearer nope";
  in.cookie = "tend_token_7070=" TOKEN;
  cr_assert_eq(auth_check(TOKEN, cn, &in), AUTH_BAD,
               "a wrong header is not rescued by a good cookie");

  in.authorization = NULL;
  in.state_changing = 0;
  cr_assert_eq(auth_check(TOKEN, cn, &in), AUTH_OK);
  in.state_changing = 1;
  cr_assert_eq(auth_check(TOKEN, cn, &in), AUTH_ORIGIN);
  in.host = "127.0.0.1:7070";
  in.origin = "http://evil.example";
  cr_assert_eq(auth_check(TOKEN, cn, &in), AUTH_ORIGIN);
  in.origin = "http://127.0.0.1:7070";
  cr_assert_eq(auth_check(TOKEN, cn, &in), AUTH_OK);

  in.cookie = "tend_token_7070=" TOKEN "x";
  cr_assert_eq(auth_check(TOKEN, cn, &in), AUTH_BAD);
  in.cookie = "tend_token_7071=" TOKEN;
  cr_assert_eq(auth_check(TOKEN, cn, &in), AUTH_MISSING,
               "another port's cookie is not ours");
  cr_assert_str_eq(auth_result_name(AUTH_ORIGIN), "origin mismatch");
}

Test(auth, token_valid)
{
  cr_assert(auth_token_valid(TOKEN));
  cr_assert_not(auth_token_valid("short"));
  cr_assert_not(auth_token_valid("0123456789abcdef 0123"));
  cr_assert_not(auth_token_valid(NULL));
}

Test(auth, token_file)
{
  char dir[] = "/tmp/tend-auth-XXXXXX";
  char *state, *path, *t1 = NULL, *t2 = NULL, *cause = NULL;
  struct stat st;
  FILE *f;

  cr_assert_not_null(mkdtemp(dir));
  state = malloc(strlen(dir) + 16);
  sprintf(state, "%s/state", dir);
  path = malloc(strlen(state) + 16);
  sprintf(path, "%s/token", state);

  cr_assert_eq(auth_token_load(state, &t1, &cause), 0, "%s", cause);
  cr_assert_eq(strlen(t1), 2 * AUTH_TOKEN_BYTES);
  cr_assert(auth_token_valid(t1));
  cr_assert_eq(stat(path, &st), 0);
  cr_assert_eq(st.st_mode & 0777, 0600);

  cr_assert_eq(auth_token_load(state, &t2, &cause), 0);
  cr_assert_str_eq(t1, t2, "the token is kept across starts");
  free(t2);

  chmod(path, 0644);
  cr_assert_eq(auth_token_load(state, &t2, &cause), 0);
  cr_assert_eq(stat(path, &st), 0);
  cr_assert_eq(st.st_mode & 0777, 0600, "a loose mode is tightened");
  free(t2);
  t2 = NULL;

  f = fopen(path, "w");
  fputs("bad token!\n", f);
  fclose(f);
  cr_assert_eq(auth_token_load(state, &t2, &cause), -EINVAL);
  cr_assert_not_null(cause);
  cr_assert_not_null(strstr(cause, "not a valid token"));
  cr_assert_null(t2);
  free(cause);

  unlink(path);
  rmdir(state);
  rmdir(dir);
  free(t1);
  free(path);
  free(state);
}
