/* fuzz_routes: libFuzzer target for ui/routes.c (the HTTP gate, the route
 * table, the handlers) against the fake door of tests/fuzz/fake_door.c.
 *
 * Input: one flags byte, then "METHOD\nTARGET\nHeader: value\n...\n\nBODY",
 * where TARGET is a raw path with an optional "?query". The flags choose
 * the credentials added to the request (none, the right or a wrong Bearer
 * token, a live session cookie with or without a matching Origin or
 * Sec-Fetch-Site, the token put in the cookie, a fresh one-time login
 * code), whether the body counts as too large, and how the fake door
 * answers. Headers of the input (Host, Origin, Sec-Fetch-Site, Cookie)
 * come after the injected ones. Checks, besides no crash, no UB and no
 * leak:
 *   - the status is one of 200 204 302 304 400 401 403 404 405 409 413 421
 *     (403: the cookie without proof of the UI's origin; 421: a Host that
 *     is not allowed, which comes before everything else);
 *   - a Host that auth_host_allowed refuses gets 421, and only such a Host;
 *   - the token is never in a Set-Cookie, a fresh login code on GET / with
 *     an allowed Host gets 302 with a session cookie, and the same code
 *     is refused the second time;
 *   - routes_precheck agrees with routes_handle: what it refuses,
 *     routes_handle refuses with the same status;
 *   - a path that decodes to anything with ".." or "\" gets 400 (or 421),
 *     and no name a handler receives ever holds ".." (the fake door
 *     aborts);
 *   - the reply is coherent: 405 names Allow, 302 a Location, a JSON reply
 *     parses as one object, a stream can be read and then freed, and no
 *     stream outlives routes_reply_clean;
 *   - the pure core holds on the same input: routes_pct_decode never
 *     overruns an exact-size buffer, a name routes_match captures is a
 *     valid name, routes_parse_u64 agrees with strtoull.
 * Any broken property aborts, so that libFuzzer keeps the input. */
#include "src/codec.h"
#include "tests/fuzz/fake_door.h"
#include "ui/auth.h"
#include "ui/page.h"
#include "ui/routes.h"
#include "ui/sse.h"

#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define TOKEN "00112233445566778899aabbccddeeff"
#define PORT 7070
#define MAX_KV 16

struct kv {
  const char *k, *v;
};

/* One parsed request; strings point into a private copy of the input. */
struct freq {
  struct kv headers[MAX_KV]; /* injected credentials first */
  size_t n_headers;
  struct kv query[MAX_KV];
  size_t n_query;
  char cookie[128];
};

static char cookie_name[48];
static char session_cookie[160]; /* "tend_session_7070=<sid>" */
static char *login_code;         /* case 7: minted for this input */

/* Reports a broken property and aborts. */
static void
fail(const char *what, const char *method, const char *path, int status)
{
  fprintf(stderr, "fuzz_routes: %s\n  %s %s -> %d\n", what, method, path,
          status);
  abort();
}

/* Case-insensitive header lookup, as libmicrohttpd does it. */
static const char *
fr_header(void *ctx, const char *name)
{
  struct freq *fr = ctx;

  for (size_t i = 0; i < fr->n_headers; i++)
    if (strcasecmp(fr->headers[i].k, name) == 0)
      return fr->headers[i].v;
  return NULL;
}

/* Query arguments, raw. */
static const char *
fr_query(void *ctx, const char *name)
{
  struct freq *fr = ctx;

  for (size_t i = 0; i < fr->n_query; i++)
    if (strcmp(fr->query[i].k, name) == 0)
      return fr->query[i].v;
  return NULL;
}

/* Adds a header (ignored past MAX_KV). */
static void
add_header(struct freq *fr, const char *k, const char *v)
{
  if (fr->n_headers < MAX_KV)
    fr->headers[fr->n_headers++] = (struct kv){k, v};
}

/* The credentials chosen by the low three flag bits. */
static void
add_credentials(struct freq *fr, uint8_t flags)
{
  switch (flags & 7) {
  case 1:
    add_header(fr, "Authorization", "Bearer " TOKEN);
    break;
  case 2:
    add_header(fr, "Authorization", "Bearer 0011223344556677");
    break;
  case 3:
    snprintf(fr->cookie, sizeof fr->cookie, "a=1; %s", session_cookie);
    add_header(fr, "Cookie", fr->cookie);
    add_header(fr, "Host", "127.0.0.1:7070");
    add_header(fr, "Origin", "http://127.0.0.1:7070");
    break;
  case 4:
    snprintf(fr->cookie, sizeof fr->cookie, "%s", session_cookie);
    add_header(fr, "Cookie", fr->cookie);
    add_header(fr, "Sec-Fetch-Site", (flags & 0x40) ? "same-origin" : "none");
    break;
  case 5:
    snprintf(fr->cookie, sizeof fr->cookie, "%s=%s", cookie_name, TOKEN);
    add_header(fr, "Cookie", fr->cookie);
    break;
  case 6:
    add_header(fr, "authorization", "bEaReR " TOKEN);
    break;
  case 7:
    free(login_code);
    login_code = routes_login_code();
    if (login_code && fr->n_query < MAX_KV)
      fr->query[fr->n_query++] = (struct kv){"code", login_code};
    break;
  default:
    break;
  }
}

/* Splits "k=v&k2=v2" in place into raw pairs. */
static void
parse_query(struct freq *fr, char *q)
{
  while (q && *q && fr->n_query < MAX_KV) {
    char *amp = strchr(q, '&');
    char *eq;
    if (amp)
      *amp = '\0';
    eq = strchr(q, '=');
    if (eq)
      *eq = '\0';
    fr->query[fr->n_query++] = (struct kv){q, eq ? eq + 1 : ""};
    q = amp ? amp + 1 : NULL;
  }
}

/* Returns the next '\n'-terminated line (cut in place), or NULL at the end;
 * *p moves past it. */
static char *
next_line(char **p, char *end)
{
  char *s = *p, *nl;

  if (s >= end)
    return NULL;
  nl = memchr(s, '\n', (size_t)(end - s));
  if (!nl) {
    *p = end;
    return s; /* the caller's copy has a NUL at end */
  }
  *nl = '\0';
  *p = nl + 1;
  return s;
}

/* Returns 1 when the path, %-decoded once, holds ".." or "\", or cannot
 * be decoded: the router must answer 400 to all of those. */
static int
path_is_hostile(const char *path)
{
  size_t n = strlen(path), o = 0;
  char *d = malloc(n + 1);
  int bad = 0;

  for (size_t i = 0; i < n && !bad; i++) {
    if (path[i] == '%') {
      long v = i + 2 < n ? codec_hex_parse(path + i + 1, 2) : -1;
      if (v <= 0)
        bad = 1;
      else
        d[o++] = (char)v;
      i += 2;
    } else {
      d[o++] = path[i];
    }
  }
  d[o] = '\0';
  if (!bad)
    bad = strstr(d, "..") || strchr(d, '\\') || path[0] != '/';
  free(d);
  return bad;
}

/* Returns 1 for the statuses the API documents. */
static int
status_allowed(int s)
{
  static const int ok[] = {200, 204, 302, 304, 400, 401,
                           403, 404, 405, 409, 413, 421};

  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
    if (s == ok[i])
      return 1;
  return 0;
}

/* Checks that a reply is internally coherent. */
static void
check_reply(const struct routes_reply *out, const char *method,
            const char *path)
{
  int s = out->status;

  if (!status_allowed(s))
    fail("a status outside the documented set", method, path, s);
  if (s == 405 && !out->allow)
    fail("405 without Allow", method, path, s);
  if (s == 302 && !out->location)
    fail("302 without Location", method, path, s);
  if (out->set_cookie && strstr(out->set_cookie, TOKEN))
    fail("the token in a cookie", method, path, s);
  if (out->stream && (s != 200 || out->body))
    fail("a stream with a body or a status other than 200", method, path, s);
  if (out->body && out->content_type &&
      strcmp(out->content_type, "application/json") == 0) {
    json_error_t err;
    json_t *v;
    if (out->len == 0 || out->body[out->len - 1] != '\n')
      fail("a JSON body without its final newline", method, path, s);
    v = json_loadb(out->body, out->len, 0, &err);
    if (!json_is_object(v))
      fail("a JSON body that is not one object", method, path, s);
    if (s >= 400 && !json_is_string(json_object_get(v, "error")))
      fail("an error reply without \"error\"", method, path, s);
    json_decref(v);
  }
}

/* Reads a little of a stream, as the HTTP layer would. */
static void
drain_stream(struct sse_stream *st)
{
  char buf[2048];

  for (int i = 0; i < 4; i++)
    if (sse_stream_read(st, buf, sizeof buf) <= 0)
      break;
  sse_stream_heartbeat(st);
  (void)sse_stream_read(st, buf, sizeof buf);
}

/* The pure core on the same input: the decoder against an exact-size
 * buffer (ASan sees any overrun), the matcher's name capture, the number
 * parser against strtoull, and the ETag list parser. */
static void
check_pure(const char *method, const char *path, const struct freq *fr,
           uint8_t flags)
{
  size_t n = strlen(path), cap = (size_t)(flags >> 3) % (n + 2);
  char *dec = malloc(cap ? cap : 1);
  char name[ROUTES_NAME_MAX + 1];
  const char *allow = NULL;
  int route = -1;
  long r = routes_pct_decode(path, n, dec, cap);

  if (r >= 0 && ((size_t)r >= cap || strlen(dec) != (size_t)r || (size_t)r > n))
    fail("routes_pct_decode: a length that does not add up", method, path,
         (int)r);
  free(dec);
  switch (routes_match(method, path, &route, name, sizeof name, &allow)) {
  case ROUTES_FOUND:
    if (!routes_pattern(route))
      fail("routes_match: FOUND without a route", method, path, route);
    if (name[0])
      fake_door_check_name("routes_match", name);
    break;
  case ROUTES_BAD_METHOD:
    if (!allow)
      fail("routes_match: BAD_METHOD without allow", method, path, 0);
    break;
  default:
    break;
  }
  for (size_t i = 0; i < fr->n_query; i++) {
    uint64_t v, w;
    const char *q = fr->query[i].v;
    if (routes_parse_u64(q, &v) == 0 &&
        (strspn(q, "0123456789") != strlen(q) || strtoull(q, NULL, 10) != v))
      fail("routes_parse_u64 disagrees with strtoull", method, q, 0);
    if (routes_parse_seq(q, &w) == 0 &&
        (routes_parse_u64(q, &v) != 0 || v != w || w > (uint64_t)INT64_MAX))
      fail("routes_parse_seq: a seq JSON cannot carry", method, q, 0);
  }
  for (size_t i = 0; i < fr->n_headers; i++)
    (void)routes_etag_match(fr->headers[i].v, "\"0123456789abcdef\"");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static int ready;
  struct fake_door door = {0};
  struct freq fr = {0};
  struct routes_reply out;
  struct routes_req rq;
  char *copy, *p, *end, *method, *target, *path, *qm, *line;
  uint8_t flags;

  if (!ready) {
    struct freq login = {0};
    char *code;
    routes_init(TOKEN, PORT);
    auth_cookie_name(PORT, cookie_name, sizeof cookie_name);
    /* One live session for the cookie cases. */
    code = routes_login_code();
    login.query[0] = (struct kv){"code", code};
    login.n_query = 1;
    rq = (struct routes_req){.method = "GET",
                             .path = "/",
                             .header = fr_header,
                             .query = fr_query,
                             .ctx = &login};
    routes_handle(&rq, &out);
    if (out.status != 302 || !out.set_cookie)
      fail("the set-up login failed", "GET", "/", out.status);
    snprintf(session_cookie, sizeof session_cookie, "%.*s",
             (int)strcspn(out.set_cookie, ";"), out.set_cookie);
    routes_reply_clean(&out);
    free(code);
    ready = 1;
  }
  if (size < 1)
    return 0;
  flags = data[0];
  copy = malloc(size);
  memcpy(copy, data + 1, size - 1);
  copy[size - 1] = '\0';
  p = copy;
  end = copy + size - 1;

  door.cmd_result = (flags >> 4) & 1 ? -EBUSY : 0;
  door.reload_result =
      (flags >> 4) & 3 ? ((flags >> 4) & 2 ? -EINVAL : -EBUSY) : 0;
  door.live_items = (flags >> 6) & 3;
  door.live_overflow = (flags >> 6) == 3;
  fake_door_set(&door);

  method = next_line(&p, end);
  target = next_line(&p, end);
  if (!method || !target) {
    free(copy);
    return 0;
  }
  path = target;
  qm = strchr(target, '?');
  if (qm) {
    *qm = '\0';
    parse_query(&fr, qm + 1);
  }
  add_credentials(&fr, flags);
  while ((line = next_line(&p, end)) && *line) {
    char *colon = strchr(line, ':');
    if (!colon)
      continue;
    *colon = '\0';
    colon++;
    while (*colon == ' ')
      colon++;
    add_header(&fr, line, colon);
  }

  rq = (struct routes_req){
      .method = method,
      .path = path,
      .header = fr_header,
      .query = fr_query,
      .ctx = &fr,
      .body = p < end ? p : NULL,
      .body_len = p < end ? (size_t)(end - p) : 0,
      .body_too_large = (flags >> 3) & 1,
  };
  check_pure(method, path, &fr, flags);
  {
    static const char *const loopback[] = {"localhost", "127.0.0.1", "[::1]"};
    const char *host = fr_header(&fr, "Host");
    int host_ok = auth_host_allowed(host, loopback, 3);
    struct routes_reply pre;
    int refused = 0;

    /* The header-only gate, as ui/http.c runs it first; a login code must
     * stay unspent for routes_handle, so skip it for case 7. */
    if ((flags & 7) != 7) {
      refused = routes_precheck(&rq, &pre);
      if (refused)
        check_reply(&pre, method, path);
    }
    routes_handle(&rq, &out);
    if (out.page) { /* as the HTTP layer would send it */
      if (out.body)
        fail("a page with a body", method, path, out.status);
      out.body = page_read_all(out.page, &out.len);
      page_free(out.page);
      out.page = NULL;
    }
    check_reply(&out, method, path);
    if (refused && pre.status != out.status)
      fail("routes_precheck and routes_handle disagree", method, path,
           pre.status);
    if (refused)
      routes_reply_clean(&pre);
    if (!host_ok && out.status != 421)
      fail("a Host off the allow-list was served", method, path, out.status);
    if (host_ok && out.status == 421)
      fail("an allowed Host got 421", method, path, out.status);
    if (host_ok && path_is_hostile(path) && out.status != 400)
      fail("a hostile path did not get 400", method, path, out.status);
    if ((flags & 7) == 7 && login_code && host_ok && strcmp(path, "/") == 0 &&
        strcmp(method, "GET") == 0 && fr_query(&fr, "code") == login_code) {
      struct routes_reply again;
      if (out.status != 302 || !out.set_cookie ||
          strncmp(out.set_cookie, cookie_name, strlen(cookie_name)) != 0)
        fail("a fresh login code did not log in", method, path, out.status);
      routes_handle(&rq, &again);
      if (again.status == 302 && again.set_cookie)
        fail("a login code worked twice", method, path, again.status);
      routes_reply_clean(&again);
    }
  }
  routes_count_status(out.status);
  if (out.stream)
    drain_stream(out.stream);
  routes_reply_clean(&out);
  /* A stream's subscription goes with it (a leaked one is caught by
   * LeakSanitizer; the tree cache keeps its own on purpose). */
  if (sse_stream_count() != 0)
    fail("a stream outlived its reply", method, path, 0);
  free(copy);
  return 0;
}
