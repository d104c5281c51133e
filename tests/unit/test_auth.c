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
  cr_assert(auth_origin_ok("http://127.0.0.1:7070", "127.0.0.1:7070", 0));
  cr_assert(auth_origin_ok("HTTP://LocalHost:7070", "localhost:7070", 0));
  cr_assert_not(auth_origin_ok("http://evil.example", "127.0.0.1:7070", 0));
  cr_assert_not(auth_origin_ok("http://127.0.0.1:7071", "127.0.0.1:7070", 0));
  cr_assert_not(
      auth_origin_ok("http://127.0.0.1:7070.evil", "127.0.0.1:7070", 0));
  cr_assert_not(auth_origin_ok("https://127.0.0.1:7070", "127.0.0.1:7070", 0));
  cr_assert(auth_origin_ok("https://127.0.0.1:7070", "127.0.0.1:7070", 1));
  cr_assert_not(auth_origin_ok("http://127.0.0.1:7070", "127.0.0.1:7070", 1),
                "under TLS only the https origin is ours");
  cr_assert_not(auth_origin_ok("null", "127.0.0.1:7070", 0));
  cr_assert_not(auth_origin_ok(NULL, "127.0.0.1:7070", 0));
  cr_assert_not(auth_origin_ok("http://", "", 0));
}

#define SID "5e55105e55105e55105e55105e55105e"

Test(auth, check_policy)
{
  const char *cn = "tend_session_7070";
  struct auth_sessions ss = {0};
  struct auth_input in = {0};

  auth_session_add(&ss, SID, 1);
  cr_assert_eq(auth_check(TOKEN, cn, &ss, &in, 2), AUTH_MISSING);

  in.authorization = "Bearer " TOKEN;
  cr_assert_eq(auth_check(TOKEN, cn, &ss, &in, 2), AUTH_OK);
  in.state_changing = 1;
  cr_assert_eq(auth_check(TOKEN, cn, &ss, &in, 2), AUTH_OK,
               "Bearer needs no Origin");
  in.authorization = "Bearer nope";
  in.cookie = "tend_session_7070=" SID;
  cr_assert_eq(auth_check(TOKEN, cn, &ss, &in, 2), AUTH_BAD,
               "a wrong header is not rescued by a good cookie");
  in.authorization = "Bearer " SID;
  cr_assert_eq(auth_check(TOKEN, cn, &ss, &in, 2), AUTH_BAD,
               "a session is never a Bearer token");

  in.authorization = NULL;
  in.state_changing = 0;
  cr_assert_eq(auth_check(TOKEN, cn, &ss, &in, 2), AUTH_OK);
  in.cookie = "tend_session_7070=" TOKEN;
  cr_assert_eq(auth_check(TOKEN, cn, &ss, &in, 2), AUTH_BAD,
               "the token is never a session");
  in.cookie = "tend_session_7070=" SID;
  in.state_changing = 1;
  cr_assert_eq(auth_check(TOKEN, cn, &ss, &in, 2), AUTH_ORIGIN);
  in.host = "127.0.0.1:7070";
  in.origin = "http://evil.example";
  cr_assert_eq(auth_check(TOKEN, cn, &ss, &in, 2), AUTH_ORIGIN);
  in.sec_fetch_site = "same-origin";
  cr_assert_eq(auth_check(TOKEN, cn, &ss, &in, 2), AUTH_ORIGIN,
               "a wrong Origin is not rescued by Sec-Fetch-Site");
  in.origin = "http://127.0.0.1:7070";
  cr_assert_eq(auth_check(TOKEN, cn, &ss, &in, 2), AUTH_OK);
  in.secure = 1;
  cr_assert_eq(auth_check(TOKEN, cn, &ss, &in, 2), AUTH_ORIGIN);
  in.secure = 0;
  in.origin = NULL;
  cr_assert_eq(auth_check(TOKEN, cn, &ss, &in, 2), AUTH_OK,
               "Sec-Fetch-Site: same-origin stands in for Origin");
  in.sec_fetch_site = "same-site";
  cr_assert_eq(auth_check(TOKEN, cn, &ss, &in, 2), AUTH_ORIGIN,
               "another port of the host is the same site, not origin");
  in.sec_fetch_site = "none";
  cr_assert_eq(auth_check(TOKEN, cn, &ss, &in, 2), AUTH_ORIGIN);

  in.sec_fetch_site = "same-origin";
  in.cookie = "tend_session_7070=" SID "x";
  cr_assert_eq(auth_check(TOKEN, cn, &ss, &in, 2), AUTH_BAD);
  in.cookie = "tend_session_7071=" SID;
  cr_assert_eq(auth_check(TOKEN, cn, &ss, &in, 2), AUTH_MISSING,
               "another port's cookie is not ours");
  in.cookie = "tend_session_7070=" SID;
  cr_assert_eq(auth_check(TOKEN, cn, NULL, &in, 2), AUTH_BAD);
  cr_assert_str_eq(auth_result_name(AUTH_ORIGIN), "origin mismatch");
}

Test(auth, login_codes_expire_and_are_single_use)
{
  struct auth_codes c = {0};
  char code[AUTH_SECRET_HEX + 1];

  cr_assert_eq(auth_random_hex(code, AUTH_SECRET_BYTES), 0);
  cr_assert_eq(strlen(code), AUTH_SECRET_HEX);
  cr_assert(auth_token_valid(code));
  auth_code_add(&c, code, 1000);
  cr_assert_not(auth_code_redeem(&c, "nope", 1001));
  cr_assert_not(auth_code_redeem(&c, NULL, 1001));
  cr_assert(auth_code_redeem(&c, code, 1000 + AUTH_CODE_TTL_MS - 1));
  cr_assert_not(auth_code_redeem(&c, code, 1002), "single use");

  auth_code_add(&c, code, 1000);
  cr_assert_not(auth_code_redeem(&c, code, 1000 + AUTH_CODE_TTL_MS),
                "expired at its TTL");
  auth_code_add(&c, "short", 1000);
  cr_assert_not(auth_code_redeem(&c, "short", 1001), "not a token word");

  /* A full table gives up the code that expires first. */
  for (int i = 0; i < AUTH_CODES_MAX + 1; i++) {
    char k[40];
    snprintf(k, sizeof k, "code-%02d-0123456789abcdef", i);
    auth_code_add(&c, k, 10 + i);
  }
  cr_assert_not(auth_code_redeem(&c, "code-00-0123456789abcdef", 20));
  cr_assert(auth_code_redeem(&c, "code-01-0123456789abcdef", 20));
  cr_assert(auth_code_redeem(&c, "code-16-0123456789abcdef", 20));
}

Test(auth, sessions_evict_least_recently_used)
{
  struct auth_sessions s = {0};
  char k[40];

  for (int i = 0; i < AUTH_SESSIONS_MAX; i++) {
    snprintf(k, sizeof k, "session-%02d-0123456789abcdef", i);
    auth_session_add(&s, k, 10 + i);
  }
  /* Session 0 is used, so session 1 is now the least recently used. */
  cr_assert(auth_session_valid(&s, "session-00-0123456789abcdef", 27, 1000));
  auth_session_add(&s, "session-new-0123456789abcdef", 1001);
  cr_assert(auth_session_valid(&s, "session-00-0123456789abcdef", 27, 1002));
  cr_assert_not(
      auth_session_valid(&s, "session-01-0123456789abcdef", 27, 1002));
  cr_assert(auth_session_valid(&s, "session-new-0123456789abcdef", 28, 1002));
  cr_assert_not(auth_session_valid(&s, "session-00-0123456789abcdef", 26, 1),
                "a prefix is not the session");
  cr_assert_not(auth_session_valid(&s, NULL, 0, 1));
}

Test(auth, host_allow_list)
{
  static const char *const names[] = {"localhost", "127.0.0.1", "[::1]",
                                      "tend.internal", "::2"};
  const size_t n = sizeof names / sizeof names[0];

  cr_assert(auth_host_allowed("127.0.0.1:7070", names, n));
  cr_assert(auth_host_allowed("127.0.0.1", names, n));
  cr_assert(auth_host_allowed("LocalHost:1", names, n));
  cr_assert(auth_host_allowed("[::1]:7070", names, n));
  cr_assert(auth_host_allowed("[::1]", names, n));
  cr_assert(auth_host_allowed("[::2]:80", names, n), "brackets either way");
  cr_assert(auth_host_allowed("tend.internal:8080", names, n));
  cr_assert(auth_host_allowed(NULL, names, n), "no Host (HTTP/1.0)");

  cr_assert_not(auth_host_allowed("evil.example:7070", names, n));
  cr_assert_not(auth_host_allowed("evil.example", names, n));
  cr_assert_not(auth_host_allowed("localhost.", names, n));
  cr_assert_not(auth_host_allowed("localhost.evil.example", names, n));
  cr_assert_not(auth_host_allowed("127.0.0.1.nip.io", names, n));
  cr_assert_not(auth_host_allowed("127.0.0.1:", names, n));
  cr_assert_not(auth_host_allowed("127.0.0.1:70a0", names, n));
  cr_assert_not(auth_host_allowed("127.0.0.1:123456", names, n));
  cr_assert_not(auth_host_allowed("127.0.0.1:7070@evil", names, n));
  cr_assert_not(auth_host_allowed("user@127.0.0.1", names, n));
  cr_assert_not(auth_host_allowed("127.0.0.1/x", names, n));
  cr_assert_not(auth_host_allowed("[::1", names, n));
  cr_assert_not(auth_host_allowed("[::1]x", names, n));
  cr_assert_not(auth_host_allowed("::1", names, n), "IPv6 needs brackets");
  cr_assert_not(auth_host_allowed("", names, n));
  cr_assert_not(auth_host_allowed("[]", names, n));
  cr_assert_not(auth_host_allowed("127.0.0.1:7070", NULL, 0));
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
  cr_assert_eq(st.st_mode & 0777, 0600);
  cr_assert_str_neq(t1, t2, "a token others could read or write is replaced");
  free(t1);
  t1 = t2;
  t2 = NULL;

  /* A symbolic link is not followed: replaced, and its target kept. */
  {
    char *target = malloc(strlen(dir) + 16);
    sprintf(target, "%s/chosen", dir);
    f = fopen(target, "w");
    fputs("chosen-by-someone-else-0123\n", f);
    fclose(f);
    chmod(target, 0600);
    unlink(path);
    cr_assert_eq(symlink(target, path), 0);
    cr_assert_eq(auth_token_load(state, &t2, &cause), 0);
    cr_assert_str_neq(t2, "chosen-by-someone-else-0123");
    cr_assert_eq(lstat(path, &st), 0);
    cr_assert(S_ISREG(st.st_mode));
    free(t1);
    t1 = t2;
    t2 = NULL;
    unlink(target);
    free(target);
  }

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
