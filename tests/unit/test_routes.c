/* Unit tests for ui/routes.c: path rules (decode once, traversal, encoded
 * slashes, names), query parsing, route matching, and the whole gate
 * (auth, 404/405/413, the door's errors as statuses) against a fake door.
 *
 * The fakes below stand in for src/tend.c, src/pubsub.c and config's
 * signal parser, so the HTTP rules are tested without a daemon. */
#include <criterion/criterion.h>

#include "src/buf.h"
#include "src/config.h"
#include "src/pubsub.h"
#include "src/tend.h"
#include "ui/page.h"
#include "ui/routes.h"
#include "ui/sse.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define TOKEN "00112233445566778899aabbccddeeff"

/* ------------------------------------------------------------- the fakes */

static struct {
  char last_name[64];
  enum tend_cmd last_cmd;
  int last_signo;
  int cmd_result;
  int reload_result;
  uint64_t last_after;
  size_t last_limit;
  int subscribed;
  int trees_built;
  pubsub_notify_cb star_notify; /* the subscription to "events" */
  void *star_ctx;
  pubsub_notify_cb out_notify; /* the subscription to every output */
  void *out_ctx;
} fake;

json_t *
tend_tree_json(void)
{
  fake.trees_built++;
  return json_pack("{s:s,s:s,s:[]}", "name", "dev", "kind", "group",
                   "children");
}

json_t *
tend_runner_json(const char *name)
{
  if (strcmp(name, "api") != 0 && strcmp(name, "a.b-c_d") != 0)
    return NULL;
  return json_pack("{s:s,s:s}", "name", name, "kind", "runner");
}

json_t *
tend_group_json(const char *name)
{
  if (strcmp(name, "dev") != 0)
    return NULL;
  return json_pack("{s:s,s:s}", "name", name, "kind", "group");
}

int
tend_runner_cmd(const char *name, enum tend_cmd cmd, int signo, char **cause)
{
  snprintf(fake.last_name, sizeof fake.last_name, "%s", name);
  fake.last_cmd = cmd;
  fake.last_signo = signo;
  if (strcmp(name, "api") != 0) {
    *cause = strdup("no runner named that");
    return -ENOENT;
  }
  if (fake.cmd_result == -EBUSY)
    *cause = strdup("api is stopping");
  return fake.cmd_result;
}

/* Input and resize of pty runners: "term" has a pty, "api" has none. */
static struct {
  char data[256];
  size_t len;
  int cols, rows;
} pty_fake;

int
tend_runner_input(const char *name, const char *data, size_t len, char **cause)
{
  if (strcmp(name, "term") != 0) {
    *cause = strdup(strcmp(name, "api") == 0 ? "api has no pty" : "no such");
    return strcmp(name, "api") == 0 ? -EBUSY : -ENOENT;
  }
  pty_fake.len = len < sizeof pty_fake.data ? len : sizeof pty_fake.data;
  memcpy(pty_fake.data, data, pty_fake.len);
  return 0;
}

int
tend_runner_resize(const char *name, int cols, int rows, char **cause)
{
  if (strcmp(name, "term") != 0) {
    *cause = strdup("api has no pty");
    return -EBUSY;
  }
  pty_fake.cols = cols;
  pty_fake.rows = rows;
  return 0;
}

int
tend_group_restart(const char *name, char **cause)
{
  snprintf(fake.last_name, sizeof fake.last_name, "%s", name);
  if (strcmp(name, "dev") != 0) {
    *cause = strdup("no group");
    return -ENOENT;
  }
  return 0;
}

int
tend_group_start(const char *name, char **cause)
{
  snprintf(fake.last_name, sizeof fake.last_name, "%s", name);
  if (strcmp(name, "dev") != 0) {
    *cause = strdup("no group");
    return -ENOENT;
  }
  return 0;
}

int
tend_group_stop(const char *name, char **cause)
{
  snprintf(fake.last_name, sizeof fake.last_name, "%s", name);
  if (strcmp(name, "dev") != 0) {
    *cause = strdup("no group");
    return -ENOENT;
  }
  return 0;
}

int
tend_daemon_stop(const char *why)
{
  (void)why;
  return 0;
}

int
tend_reload(struct config_errors *errors)
{
  if (fake.reload_result == -EINVAL) {
    config_errors_add(errors, "tend.json", 3, 5, "children[0].cmd", "missing");
    config_errors_add(errors, "tend.json", 9, 1, "x", "unknown key");
  }
  return fake.reload_result;
}

int
tend_watch_resume(const char *name, char **cause)
{
  (void)cause;
  snprintf(fake.last_name, sizeof fake.last_name, "%s", name);
  return 0;
}

int
tend_output_after(const char *name, uint64_t after, size_t limit,
                  size_t max_bytes, json_t **chunks, uint64_t *next)
{
  (void)max_bytes;
  json_t *a;

  fake.last_after = after;
  fake.last_limit = limit;
  if (strcmp(name, "api") != 0)
    return -ENOENT;
  a = json_array();
  for (uint64_t s = after + 1; s <= 5 && json_array_size(a) < limit; s++)
    json_array_append_new(a, json_pack("{s:I}", "seq", (json_int_t)s));
  *next = json_array_size(a) ? after + json_array_size(a) : after;
  *chunks = a;
  return 0;
}

int
tend_events_after(uint64_t after, size_t limit, size_t max_bytes,
                  json_t **events, uint64_t *next)
{
  (void)max_bytes;
  fake.last_after = after;
  fake.last_limit = limit;
  *events = json_array();
  *next = after;
  return 0;
}

int
tend_output_last_seq(const char *name, uint64_t *seq)
{
  if (strcmp(name, "api") != 0)
    return -ENOENT;
  *seq = 5;
  return 0;
}

uint64_t
tend_events_last_seq(void)
{
  return 42;
}

void
tend_metrics_text(struct buf *out)
{
  buf_adds(out, "tend_runners{state=\"running\"} 1\n");
}

json_t *
tend_daemon_json(void)
{
  return json_pack("{s:s,s:s}", "version", "0.1", "config", "/secret");
}

struct pubsub_sub {
  int dummy;
};

struct pubsub_sub *
pubsub_subscribe(const char *topic, size_t max_items, pubsub_notify_cb notify,
                 void *ctx)
{
  (void)max_items;
  if (strcmp(topic, "events") == 0) {
    fake.star_notify = notify;
    fake.star_ctx = ctx;
  } else if (strcmp(topic, "output/*") == 0) {
    fake.out_notify = notify;
    fake.out_ctx = ctx;
  }
  fake.subscribed++;
  return calloc(1, sizeof(struct pubsub_sub));
}

void
pubsub_unsubscribe(struct pubsub_sub *sub)
{
  fake.subscribed--;
  free(sub);
}

int
pubsub_take(struct pubsub_sub *sub, struct pubsub_item *item)
{
  (void)sub;
  (void)item;
  return 0;
}

/* --------------------------------------------------------- request kit */

struct kv {
  const char *k, *v;
};

struct fake_req {
  struct kv headers[8];
  struct kv query[8];
};

static const char *
lookup(const struct kv *kv, const char *name)
{
  for (int i = 0; i < 8 && kv[i].k; i++)
    if (strcasecmp(kv[i].k, name) == 0)
      return kv[i].v;
  return NULL;
}

static const char *
fr_header(void *ctx, const char *name)
{
  return lookup(((struct fake_req *)ctx)->headers, name);
}

static const char *
fr_query(void *ctx, const char *name)
{
  return lookup(((struct fake_req *)ctx)->query, name);
}

static struct fake_req bearer = {
    .headers = {{"Authorization", "Bearer " TOKEN}}};

/* Runs one request and returns the status; out keeps the reply. */
static int
run(const char *method, const char *path, struct fake_req *fr, const char *body,
    struct routes_reply *out)
{
  struct routes_req rq = {
      .method = method,
      .path = path,
      .header = fr_header,
      .query = fr_query,
      .ctx = fr,
      .body = body,
      .body_len = body ? strlen(body) : 0,
  };

  routes_handle(&rq, out);
  if (out->page) { /* as the HTTP layer would send it */
    cr_assert_null(out->body, "a page and a body");
    out->body = page_read_all(out->page, &out->len);
    page_free(out->page);
    out->page = NULL;
  }
  return out->status;
}

/* Runs one request, checks the status, returns the JSON body (new). */
static json_t *
expect(const char *method, const char *path, struct fake_req *fr,
       const char *body, int status)
{
  struct routes_reply out;
  json_t *j = NULL;
  int got = run(method, path, fr, body, &out);

  cr_assert_eq(got, status, "%s %s: got %d, want %d (%.*s)", method, path, got,
               status, (int)out.len, out.body ? out.body : "");
  if (out.body && out.content_type &&
      strcmp(out.content_type, "application/json") == 0) {
    j = json_loadb(out.body, out.len, 0, NULL);
    cr_assert_not_null(j, "a JSON body");
    if (status >= 400)
      cr_assert(json_is_string(json_object_get(j, "error")),
                "errors are {\"error\": ...}");
  }
  routes_reply_clean(&out);
  return j;
}

static void
setup(void)
{
  memset(&fake, 0, sizeof fake);
  routes_init(TOKEN, 7070);
}

static void
teardown(void)
{
  routes_shutdown();
}

TestSuite(routes, .init = setup, .fini = teardown);

/* ------------------------------------------------------------ pure core */

Test(routes, pct_decode_once)
{
  char out[32];

  cr_assert_eq(routes_pct_decode("a%2Fb", 5, out, sizeof out), 3);
  cr_assert_str_eq(out, "a/b");
  cr_assert_eq(routes_pct_decode("%252e", 5, out, sizeof out), 3);
  cr_assert_str_eq(out, "%2e", "decoded once, not twice");
  cr_assert_eq(routes_pct_decode("%2", 2, out, sizeof out), -1);
  cr_assert_eq(routes_pct_decode("%zz", 3, out, sizeof out), -1);
  cr_assert_eq(routes_pct_decode("a%00b", 5, out, sizeof out), -1);
  cr_assert_eq(routes_pct_decode("abcdef", 6, out, 4), -1, "too long");
  cr_assert_eq(routes_pct_decode("", 0, out, sizeof out), 0);
}

Test(routes, valid_name)
{
  cr_assert(routes_valid_name("api"));
  cr_assert(routes_valid_name("a.b-c_D9"));
  cr_assert_not(routes_valid_name(""));
  cr_assert_not(routes_valid_name(".."));
  cr_assert_not(routes_valid_name("a..b"));
  cr_assert_not(routes_valid_name("a/b"));
  cr_assert_not(routes_valid_name("a b"));
  cr_assert_not(routes_valid_name("é"));
  char longname[ROUTES_NAME_MAX + 2];
  memset(longname, 'x', sizeof longname - 1);
  longname[sizeof longname - 1] = '\0';
  cr_assert_not(routes_valid_name(longname));
  longname[ROUTES_NAME_MAX] = '\0';
  cr_assert(routes_valid_name(longname));
}

Test(routes, parse_numbers)
{
  uint64_t v;
  size_t lim;

  cr_assert_eq(routes_parse_u64("0", &v), 0);
  cr_assert_eq(v, 0);
  cr_assert_eq(routes_parse_u64("18446744073709551615", &v), 0);
  cr_assert_eq(v, UINT64_MAX);
  cr_assert_eq(routes_parse_u64("18446744073709551616", &v), -EINVAL);
  cr_assert_eq(routes_parse_u64("-1", &v), -EINVAL);
  cr_assert_eq(routes_parse_u64(" 1", &v), -EINVAL);
  cr_assert_eq(routes_parse_u64("1x", &v), -EINVAL);
  cr_assert_eq(routes_parse_u64("", &v), -EINVAL);
  cr_assert_eq(routes_parse_limit(NULL, &lim), 0);
  cr_assert_eq(lim, ROUTES_LIMIT_DEFAULT);
  cr_assert_eq(routes_parse_limit("50", &lim), 0);
  cr_assert_eq(lim, 50);
  cr_assert_eq(routes_parse_limit("99999999", &lim), 0);
  cr_assert_eq(lim, ROUTES_LIMIT_MAX);
  cr_assert_eq(routes_parse_limit("0", &lim), -EINVAL);
  cr_assert_eq(routes_parse_limit("%31%30", &lim), 0, "escapes decode");
  cr_assert_eq(lim, 10);
}

Test(routes, match_table)
{
  char name[ROUTES_NAME_MAX + 1];
  const char *allow = NULL;
  int r = -1;

  cr_assert_eq(
      routes_match("GET", "/api/v1/tree", &r, name, sizeof name, &allow),
      ROUTES_FOUND);
  cr_assert_str_eq(routes_pattern(r), "/api/v1/tree");
  cr_assert_eq(routes_match("POST", "/api/v1/runners/web/restart", &r, name,
                            sizeof name, &allow),
               ROUTES_FOUND);
  cr_assert_str_eq(routes_pattern(r), "/api/v1/runners/{name}/restart");
  cr_assert_str_eq(name, "web");
  cr_assert_eq(routes_match("GET", "/api/v1/runners/w%65b/output/stream", &r,
                            name, sizeof name, &allow),
               ROUTES_FOUND);
  cr_assert_str_eq(name, "web", "names are decoded");
  cr_assert_eq(
      routes_match("HEAD", "/api/v1/tree", &r, name, sizeof name, &allow),
      ROUTES_FOUND, "HEAD is GET");
  cr_assert_eq(routes_match("GET", "/api/v1/runners/web/restart", &r, name,
                            sizeof name, &allow),
               ROUTES_BAD_METHOD);
  cr_assert_str_eq(allow, "POST");
  cr_assert_eq(
      routes_match("DELETE", "/api/v1/tree", &r, name, sizeof name, &allow),
      ROUTES_BAD_METHOD);
  cr_assert_str_eq(allow, "GET, HEAD");
  cr_assert_eq(
      routes_match("GET", "/api/v1/nope", &r, name, sizeof name, &allow),
      ROUTES_NOT_FOUND);
  cr_assert_eq(
      routes_match("GET", "/api/v1/tree/", &r, name, sizeof name, &allow),
      ROUTES_NOT_FOUND, "no trailing-slash alias");
  cr_assert_eq(
      routes_match("GET", "/api//v1/tree", &r, name, sizeof name, &allow),
      ROUTES_NOT_FOUND);
  cr_assert_eq(routes_match("GET", "/a/b/c/d/e/f/g/h/i/j", &r, name,
                            sizeof name, &allow),
               ROUTES_NOT_FOUND);
  cr_assert_eq(routes_match("GET", "/api/v1/runners/a%20b", &r, name,
                            sizeof name, &allow),
               ROUTES_BAD_NAME);
}

Test(routes, match_traversal)
{
  char name[ROUTES_NAME_MAX + 1];
  const char *allow = NULL;
  int r;
  const char *bad[] = {
      "/../etc/passwd",
      "/api/v1/runners/../tree",
      "/api/v1/runners/%2e%2e/start",
      "/api/v1/runners/%2E%2E",
      "/api/v1/runners/.%2e/output",
      "/api/v1/runners/a%2fb/start",
      "/api/v1/runners/a%2Fb",
      "/api/v1/runners/a%5cb",
      "/%2e%2e%2fetc%2fpasswd",
      "/api/v1/runners/x..y",
      "/./index.html",
      "/a/b/c/d/e/f/g/h/i/../j",
      "/api/v1/runners/%zz",
      "/api/v1/runners/a%00",
      "relative",
      "",
  };

  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    cr_assert_eq(routes_match("GET", bad[i], &r, name, sizeof name, &allow),
                 ROUTES_BAD_PATH, "%s", bad[i]);
  cr_assert_eq(routes_match("GET", "/api/v1/runners/%252e%252e", &r, name,
                            sizeof name, &allow),
               ROUTES_BAD_NAME, "%%252e decodes once to %%2e: a bad name");
}

Test(routes, content_type_and_etag)
{
  cr_assert_str_eq(routes_content_type("/index.html"),
                   "text/html; charset=utf-8");
  cr_assert_str_eq(routes_content_type("/app.JS"),
                   "text/javascript; charset=utf-8");
  cr_assert_str_eq(routes_content_type("/x.css"), "text/css; charset=utf-8");
  cr_assert_str_eq(routes_content_type("/noext"), "application/octet-stream");
  cr_assert(routes_etag_match("\"abc\"", "\"abc\""));
  cr_assert(routes_etag_match("\"x\", W/\"abc\"", "\"abc\""));
  cr_assert(routes_etag_match("*", "\"abc\""));
  cr_assert_not(routes_etag_match("\"abcd\"", "\"abc\""));
  cr_assert_not(routes_etag_match(NULL, "\"abc\""));
}

/* -------------------------------------------------------------- the gate */

Test(routes, healthz_is_public_and_quiet)
{
  json_t *j = expect("GET", "/healthz", &(struct fake_req){0}, NULL, 200);
  cr_assert(json_is_true(json_object_get(j, "ok")));
  cr_assert_null(json_object_get(j, "config"), "no details without auth");
  json_decref(j);
}

/* Logs in with a fresh login code; writes "tend_session_7070=<sid>". */
static void
session_cookie(char *out, size_t cap)
{
  char *code = routes_login_code();
  struct fake_req login = {.query = {{"code", code}}};
  struct routes_reply r;
  const char *semi;

  cr_assert_eq(run("GET", "/", &login, NULL, &r), 302);
  cr_assert_not_null(r.set_cookie);
  semi = strchr(r.set_cookie, ';');
  cr_assert_not_null(semi);
  snprintf(out, cap, "%.*s", (int)(semi - r.set_cookie), r.set_cookie);
  routes_reply_clean(&r);
  free(code);
}

Test(routes, auth_rules)
{
  char jar[160];
  struct fake_req none = {0};
  struct fake_req wrong = {.headers = {{"Authorization", "Bearer nope"}}};
  struct fake_req token_cookie = {
      .headers = {{"Cookie", "tend_session_7070=" TOKEN},
                  {"Host", "127.0.0.1:7070"}}};
  struct fake_req cookie = {
      .headers = {{"Cookie", jar}, {"Host", "127.0.0.1:7070"}}};
  struct fake_req cookie_origin = {
      .headers = {{"Cookie", jar},
                  {"Host", "127.0.0.1:7070"},
                  {"Origin", "http://127.0.0.1:7070"}}};
  struct fake_req cookie_fetch = {
      .headers = {{"Cookie", jar},
                  {"Host", "127.0.0.1:7070"},
                  {"Sec-Fetch-Site", "same-origin"}}};
  struct fake_req cookie_evil = {
      .headers = {{"Cookie", jar},
                  {"Host", "127.0.0.1:7070"},
                  {"Origin", "http://evil.example"}}};
  struct routes_reply out;

  session_cookie(jar, sizeof jar);
  json_decref(expect("GET", "/api/v1/tree", &none, NULL, 401));
  cr_assert_eq(run("GET", "/api/v1/tree", &none, NULL, &out), 401);
  cr_assert(out.challenge);
  routes_reply_clean(&out);
  json_decref(expect("GET", "/api/v1/tree", &wrong, NULL, 401));
  json_decref(expect("GET", "/nope", &none, NULL, 401));
  json_decref(expect("GET", "/api/v1/tree", &bearer, NULL, 200));
  json_decref(expect("GET", "/api/v1/tree", &cookie, NULL, 200));
  json_decref(expect("GET", "/api/v1/tree", &token_cookie, NULL, 401));
  json_decref(
      expect("POST", "/api/v1/runners/api/restart", &cookie, NULL, 403));
  json_decref(
      expect("POST", "/api/v1/runners/api/restart", &cookie_evil, NULL, 403));
  json_decref(expect("POST", "/api/v1/ui/login", &cookie_origin, NULL, 403));
  cr_assert_str_eq(fake.last_name, "", "nothing ran");
  json_decref(
      expect("POST", "/api/v1/runners/api/restart", &cookie_origin, NULL, 200));
  cr_assert_str_eq(fake.last_name, "api");
  json_decref(
      expect("POST", "/api/v1/runners/api/restart", &cookie_fetch, NULL, 200));
  json_decref(
      expect("POST", "/api/v1/runners/api/restart", &bearer, NULL, 200));
}

Test(routes, code_login_sets_a_session_cookie_and_redirects)
{
  char *code = routes_login_code();
  struct fake_req good = {.query = {{"code", code}}};
  struct fake_req bad = {.query = {{"code", "nope"}}};
  struct fake_req token = {.query = {{"token", TOKEN}}};
  struct routes_reply out;
  json_t *j;

  cr_assert_eq(run("GET", "/", &good, NULL, &out), 302);
  cr_assert_str_eq(out.location, "/");
  cr_assert_not_null(strstr(out.set_cookie, "tend_session_7070="));
  cr_assert_null(strstr(out.set_cookie, TOKEN), "never the token");
  cr_assert_null(strstr(out.set_cookie, code), "never the code");
  cr_assert_not_null(strstr(out.set_cookie, "HttpOnly"));
  cr_assert_not_null(strstr(out.set_cookie, "SameSite=Strict"));
  cr_assert_not_null(strstr(out.set_cookie, "Path=/"));
  cr_assert_null(strstr(out.set_cookie, "Secure"));
  routes_reply_clean(&out);
  json_decref(expect("GET", "/", &good, NULL, 401)); /* used */
  json_decref(expect("GET", "/", &bad, NULL, 401));
  json_decref(expect("GET", "/", &token, NULL, 401));
  free(code);

  routes_set_secure(1);
  code = routes_login_code();
  good.query[0].v = code;
  cr_assert_eq(run("GET", "/", &good, NULL, &out), 302);
  cr_assert_not_null(strstr(out.set_cookie, "; Secure"));
  routes_reply_clean(&out);
  free(code);

  j = expect("POST", "/api/v1/ui/login", &bearer, NULL, 200);
  good.query[0].v = json_string_value(json_object_get(j, "code"));
  cr_assert_eq(run("GET", "/", &good, NULL, &out), 302);
  routes_reply_clean(&out);
  json_decref(j);
}

Test(routes, host_allow_list_comes_first)
{
  struct fake_req evil = {.headers = {{"Authorization", "Bearer " TOKEN},
                                      {"Host", "evil.example:7070"}}};
  struct fake_req named = {.headers = {{"Authorization", "Bearer " TOKEN},
                                       {"Host", "tend.lan:7070"}}};

  json_decref(expect("GET", "/api/v1/tree", &evil, NULL, 421));
  json_decref(expect("GET", "/healthz", &evil, NULL, 421));
  json_decref(expect("GET", "/%2e%2e/x", &evil, NULL, 421));
  json_decref(expect("GET", "/api/v1/tree", &named, NULL, 421));
  routes_allow_host("tend.lan");
  json_decref(expect("GET", "/api/v1/tree", &named, NULL, 200));
}

Test(routes, seqs_out_of_range)
{
  struct fake_req big = {.headers = {{"Authorization", "Bearer " TOKEN}},
                         .query = {{"after", "9223372036854775808"}}};
  struct fake_req max = {.headers = {{"Authorization", "Bearer " TOKEN}},
                         .query = {{"after", "9223372036854775807"}}};
  struct fake_req id = {.headers = {{"Authorization", "Bearer " TOKEN},
                                    {"Last-Event-ID", "9223372036854775808"}}};
  uint64_t v;

  json_decref(expect("GET", "/api/v1/runners/api/output", &big, NULL, 400));
  json_decref(expect("GET", "/api/v1/events", &big, NULL, 400));
  json_decref(
      expect("GET", "/api/v1/runners/api/output/stream", &big, NULL, 400));
  json_decref(expect("GET", "/api/v1/events/stream", &id, NULL, 400));
  json_decref(expect("GET", "/api/v1/events", &max, NULL, 200));
  cr_assert_eq(routes_parse_seq("9223372036854775807", &v), 0);
  cr_assert_eq(v, (uint64_t)INT64_MAX);
  cr_assert_eq(routes_parse_seq("9223372036854775808", &v), -EINVAL);
  cr_assert_eq(routes_parse_seq("-1", &v), -EINVAL);
}

Test(routes, statuses)
{
  json_t *j;

  json_decref(expect("GET", "/api/v1/runners/api", &bearer, NULL, 200));
  json_decref(expect("GET", "/api/v1/runners/nope", &bearer, NULL, 404));
  json_decref(expect("GET", "/api/v1/groups/dev", &bearer, NULL, 200));
  json_decref(expect("GET", "/api/v1/groups/api", &bearer, NULL, 404));
  json_decref(expect("GET", "/api/v1/nope", &bearer, NULL, 404));
  json_decref(expect("GET", "/api/v1/runners/api/start", &bearer, NULL, 405));
  json_decref(expect("PUT", "/api/v1/tree", &bearer, NULL, 405));
  json_decref(
      expect("GET", "/api/v1/runners/%2e%2e/output", &bearer, NULL, 400));
  json_decref(expect("POST", "/api/v1/runners/nope/stop", &bearer, NULL, 404));
  fake.cmd_result = -EBUSY;
  j = expect("POST", "/api/v1/runners/api/stop", &bearer, NULL, 409);
  cr_assert_str_eq(json_string_value(json_object_get(j, "error")),
                   "api is stopping");
  json_decref(j);
  fake.cmd_result = 0;
  json_decref(expect("POST", "/api/v1/runners/api/start", &bearer, "{", 400));
  json_decref(expect("POST", "/api/v1/runners/api/start", &bearer, "[1]", 400));
  json_decref(expect("POST", "/api/v1/runners/api/start", &bearer, "{}", 200));
  cr_assert_eq(fake.last_cmd, TEND_CMD_START);
  json_decref(expect("POST", "/api/v1/groups/dev/restart", &bearer, NULL, 200));
  json_decref(
      expect("POST", "/api/v1/groups/nope/restart", &bearer, NULL, 404));
  json_decref(
      expect("POST", "/api/v1/runners/api/watch/resume", &bearer, NULL, 200));
  cr_assert_str_eq(fake.last_name, "api");
}

Test(routes, body_too_large)
{
  struct routes_reply out;
  struct routes_req rq = {.method = "POST",
                          .path = "/api/v1/runners/api/start",
                          .header = fr_header,
                          .query = fr_query,
                          .ctx = &bearer,
                          .body_too_large = 1};

  routes_handle(&rq, &out);
  cr_assert_eq(out.status, 413);
  routes_reply_clean(&out);
  cr_assert_str_eq(fake.last_name, "");
}

Test(routes, signal_body)
{
  json_decref(expect("POST", "/api/v1/runners/api/signal", &bearer,
                     "{\"signal\":\"HUP\"}", 200));
  cr_assert_eq(fake.last_cmd, TEND_CMD_SIGNAL);
  cr_assert_eq(fake.last_signo, SIGHUP);
  json_decref(expect("POST", "/api/v1/runners/api/signal", &bearer,
                     "{\"signal\":\"sigterm\"}", 200));
  cr_assert_eq(fake.last_signo, SIGTERM);
  json_decref(expect("POST", "/api/v1/runners/api/signal", &bearer,
                     "{\"signal\":\"BOGUS\"}", 400));
  json_decref(expect("POST", "/api/v1/runners/api/signal", &bearer,
                     "{\"signal\":1}", 400));
  json_decref(expect("POST", "/api/v1/runners/api/signal", &bearer, NULL, 400));
  json_decref(expect("POST", "/api/v1/runners/api/signal", &bearer,
                     "{\"signal\":\"HUP\",\"signal\":\"TERM\"}", 400));
}

Test(routes, reload_errors)
{
  json_t *j, *errors;

  json_decref(expect("POST", "/api/v1/reload", &bearer, NULL, 200));
  fake.reload_result = -EINVAL;
  j = expect("POST", "/api/v1/reload", &bearer, NULL, 400);
  errors = json_object_get(j, "errors");
  cr_assert_eq(json_array_size(errors), 2);
  cr_assert_str_eq(json_string_value(json_array_get(errors, 0)),
                   "tend.json:3:5: children[0].cmd: missing");
  json_decref(j);
}

Test(routes, output_pages)
{
  struct fake_req q = bearer;
  json_t *j;

  j = expect("GET", "/api/v1/runners/api/output", &q, NULL, 200);
  cr_assert_eq(json_array_size(json_object_get(j, "chunks")), 5);
  cr_assert_eq(json_integer_value(json_object_get(j, "next")), 5);
  cr_assert_eq(json_integer_value(json_object_get(j, "last")), 5);
  /* The page is read in batches: the door never sees the page's limit
   * whole, and the last read asks after the page's end. */
  cr_assert_leq(fake.last_limit, PAGE_BATCH_ITEMS);
  cr_assert_eq(fake.last_after, 5);
  json_decref(j);

  q.query[0] = (struct kv){"after", "3"};
  q.query[1] = (struct kv){"limit", "50000"};
  j = expect("GET", "/api/v1/runners/api/output", &q, NULL, 200);
  cr_assert_eq(json_array_size(json_object_get(j, "chunks")), 2);
  cr_assert_eq(json_integer_value(json_object_get(
                   json_array_get(json_object_get(j, "chunks"), 0), "seq")),
               4);
  json_decref(j);

  q.query[0] = (struct kv){"after", "1"};
  q.query[1] = (struct kv){"limit", "2"};
  j = expect("GET", "/api/v1/runners/api/output", &q, NULL, 200);
  cr_assert_eq(json_array_size(json_object_get(j, "chunks")), 2);
  cr_assert_eq(json_integer_value(json_object_get(j, "next")), 3);
  cr_assert_eq(fake.last_limit, 2, "no read past the limit");
  json_decref(j);

  q.query[0] = (struct kv){"after", "-1"};
  json_decref(expect("GET", "/api/v1/runners/api/output", &q, NULL, 400));
  q.query[0] = (struct kv){"after", "1"};
  q.query[1] = (struct kv){"limit", "0"};
  json_decref(expect("GET", "/api/v1/runners/api/output", &q, NULL, 400));
  json_decref(expect("GET", "/api/v1/runners/zz/output", &bearer, NULL, 404));

  q.query[1] = (struct kv){"limit", "10"};
  j = expect("GET", "/api/v1/events", &q, NULL, 200);
  cr_assert_eq(json_integer_value(json_object_get(j, "last")), 42);
  json_decref(j);
}

Test(routes, streams)
{
  struct routes_reply out;
  struct fake_req resume = {
      .headers = {{"Authorization", "Bearer " TOKEN}, {"Last-Event-ID", "2"}},
      .query = {{"after", "4"}}};
  struct fake_req bad = {
      .headers = {{"Authorization", "Bearer " TOKEN}, {"Last-Event-ID", "x"}}};

  cr_assert_eq(
      run("GET", "/api/v1/runners/api/output/stream", &bearer, NULL, &out),
      200);
  cr_assert_str_eq(out.content_type, "text/event-stream");
  cr_assert_not_null(out.stream);
  cr_assert_eq(sse_stream_last(out.stream), 5, "starts at the live end");
  cr_assert_eq(fake.subscribed, 1);
  routes_reply_clean(&out);
  cr_assert_eq(fake.subscribed, 0, "the stream unsubscribes when freed");

  cr_assert_eq(
      run("GET", "/api/v1/runners/api/output/stream", &resume, NULL, &out),
      200);
  cr_assert_eq(sse_stream_last(out.stream), 2, "Last-Event-ID wins");
  routes_reply_clean(&out);

  json_decref(
      expect("GET", "/api/v1/runners/api/output/stream", &bad, NULL, 400));
  json_decref(
      expect("GET", "/api/v1/runners/nope/output/stream", &bearer, NULL, 404));
  cr_assert_eq(fake.subscribed, 0, "no subscription leaks on 404");

  cr_assert_eq(run("GET", "/api/v1/events/stream", &bearer, NULL, &out), 200);
  cr_assert_eq(sse_stream_last(out.stream), 42);
  routes_reply_clean(&out);
}

Test(routes, metrics_text)
{
  struct routes_reply out;

  routes_count_status(200);
  routes_count_status(200);
  routes_count_status(404);
  cr_assert_eq(run("GET", "/metrics", &bearer, NULL, &out), 200);
  cr_assert_not_null(strstr(out.body, "tend_runners{state=\"running\"} 1\n"));
  cr_assert_not_null(
      strstr(out.body, "tend_http_requests_total{code=\"200\"} 2\n"));
  cr_assert_not_null(
      strstr(out.body, "tend_http_requests_total{code=\"404\"} 1\n"));
  cr_assert_not_null(strstr(out.body, "tend_http_sse_subscribers 0\n"));
  cr_assert_not_null(strstr(out.content_type, "text/plain"));
  routes_reply_clean(&out);
}

Test(routes, assets)
{
  struct routes_reply out;
  struct fake_req inm = bearer;
  const char *etag;

  cr_assert_eq(run("GET", "/", &bearer, NULL, &out), 200);
  cr_assert_not_null(out.static_body);
  cr_assert_str_eq(out.content_type, "text/html; charset=utf-8");
  cr_assert_not_null(out.etag);
  etag = out.etag;
  routes_reply_clean(&out);

  inm.headers[1] = (struct kv){"If-None-Match", etag};
  cr_assert_eq(run("GET", "/index.html", &inm, NULL, &out), 304);
  cr_assert_null(out.static_body);
  routes_reply_clean(&out);
  json_decref(expect("POST", "/index.html", &bearer, NULL, 405));
  json_decref(expect("GET", "/nope.js", &bearer, NULL, 404));
  json_decref(expect("GET", "/..%2fsrc%2fmain.c", &bearer, NULL, 400));
  json_decref(expect("GET", "/index.html", &(struct fake_req){0}, NULL, 401));
}

Test(routes, tree_is_cached_until_an_event_is_published)
{
  json_t *a, *b;

  a = expect("GET", "/api/v1/tree", &bearer, NULL, 200);
  cr_assert_eq(fake.trees_built, 1);
  cr_assert_not_null(fake.star_notify, "subscribed to the events");
  b = expect("GET", "/api/v1/tree", &bearer, NULL, 200);
  cr_assert_eq(fake.trees_built, 1, "served from the cache");
  cr_assert(json_equal(a, b));
  fake.star_notify(fake.star_ctx); /* a state event */
  json_decref(expect("GET", "/api/v1/tree", &bearer, NULL, 200));
  cr_assert_eq(fake.trees_built, 2, "rebuilt after a publish");
  json_decref(a);
  json_decref(b);
  routes_shutdown();
  cr_assert_eq(fake.subscribed, 0, "the cache's subscription ends");
  routes_init(TOKEN, 7070);
}

static double
now_s(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

Test(routes, tree_output_changes_rebuild_at_most_every_100_ms)
{
  double t0, took;

  /* The lag counts from the build, which happens inside this first GET:
   * the clock starts before it. */
  t0 = now_s();
  json_decref(expect("GET", "/api/v1/tree", &bearer, NULL, 200));
  cr_assert_eq(fake.trees_built, 1);
  cr_assert_not_null(fake.out_notify);
  fake.out_notify(fake.out_ctx); /* an output chunk moved output_seq */
  /* Poll: rebuilt once the lag has passed, not before. */
  while (fake.trees_built == 1 && now_s() - t0 < 5.0)
    json_decref(expect("GET", "/api/v1/tree", &bearer, NULL, 200));
  took = now_s() - t0;
  cr_assert_eq(fake.trees_built, 2);
  cr_assert_geq(took, 0.099, "rebuilt after %.3f s", took);
}

Test(routes, pty_input_forms, .init = setup, .fini = teardown)
{
  struct fake_req raw = {.headers = {{"Authorization", "Bearer " TOKEN},
                                     {"Content-Type", "text/plain"}}};
  struct fake_req js = {
      .headers = {{"Authorization", "Bearer " TOKEN},
                  {"Content-Type", "application/json; charset=utf-8"}}};
  json_t *j;

  j = expect("POST", "/api/v1/runners/term/input", &js, "{\"data\":\"ls\\n\"}",
             200);
  cr_expect_eq(json_integer_value(json_object_get(j, "bytes")), 3);
  json_decref(j);
  cr_expect_eq(pty_fake.len, 3);
  cr_expect_eq(memcmp(pty_fake.data, "ls\n", 3), 0);
  json_decref(expect("POST", "/api/v1/runners/term/input", &js,
                     "{\"data_b64\":\"AAEC\"}", 200));
  cr_expect_eq(pty_fake.len, 3);
  cr_expect_eq(memcmp(pty_fake.data, "\0\1\2", 3), 0);
  /* Any other type: the body is the bytes, JSON-looking or not. */
  json_decref(
      expect("POST", "/api/v1/runners/term/input", &raw, "{\"data\":1}", 200));
  cr_expect_eq(pty_fake.len, 10);
  json_decref(expect("POST", "/api/v1/runners/term/input", &bearer, "q", 200));
  cr_expect_eq(pty_fake.len, 1);
  json_decref(expect("POST", "/api/v1/runners/term/input", &js,
                     "{\"data_b64\":\"%%%\"}", 400));
  json_decref(expect("POST", "/api/v1/runners/term/input", &js,
                     "{\"text\":\"x\"}", 400));
  json_decref(expect("POST", "/api/v1/runners/term/input", &js, "[1]", 400));
  json_decref(expect("POST", "/api/v1/runners/api/input", &js,
                     "{\"data\":\"x\"}", 409));
  json_decref(expect("POST", "/api/v1/runners/nope/input", &js,
                     "{\"data\":\"x\"}", 404));
  json_decref(expect("GET", "/api/v1/runners/term/input", &bearer, NULL, 405));
  {
    struct fake_req none = {0};
    json_decref(expect("POST", "/api/v1/runners/term/input", &none, "x", 401));
  }
}

Test(routes, pty_resize, .init = setup, .fini = teardown)
{
  json_decref(expect("POST", "/api/v1/runners/term/resize", &bearer,
                     "{\"cols\":100,\"rows\":30}", 200));
  cr_expect_eq(pty_fake.cols, 100);
  cr_expect_eq(pty_fake.rows, 30);
  json_decref(expect("POST", "/api/v1/runners/term/resize", &bearer,
                     "{\"cols\":0,\"rows\":30}", 400));
  json_decref(expect("POST", "/api/v1/runners/term/resize", &bearer,
                     "{\"cols\":100}", 400));
  json_decref(expect("POST", "/api/v1/runners/term/resize", &bearer,
                     "{\"cols\":100,\"rows\":1e3}", 400));
  json_decref(expect("POST", "/api/v1/runners/api/resize", &bearer,
                     "{\"cols\":100,\"rows\":30}", 409));
}
