/* routes: the API's route table and its request rules (issue 4; the
 * reference is docs/api.md). The handlers live by subject in ui/views.c
 * (reads), ui/cmds.c (commands) and ui/logs.c (output, events, streams),
 * and build their replies with ui/reply.c.
 *
 * DESIGN. One static table maps (method, path pattern) to a handler; a
 * pattern segment "{name}" captures a runner or group name. Every request
 * goes through the same gate, in this order, so that the rules hold for
 * every route alike (steps 0 to 2 are routes_precheck, which ui/http.c
 * runs on the headers, before any body is read):
 *   0. a Host header off the allow-list -> 421 (DNS rebinding);
 *   1. the raw path is split at "/" and each segment decoded once; "..",
 *      an encoded "/" or "\", a bad escape -> 400 (never a file lookup);
 *   2. unless the route is public: GET /?code= trades a one-time login
 *      code for a session cookie (302), else auth (ui/auth.c) -> 401/403;
 *   3. no route -> a UI asset (ui/assets.h) or 404; wrong method -> 405;
 *   4. a body over 64 KiB -> 413; then the handler.
 * Handlers talk to the daemon through src/tend.h only, and turn its errors
 * into statuses: -ENOENT 404, -EINVAL 400, -EBUSY 409. */
#include "ui/routes.h"

#include "src/codec.h"
#include "src/config.h"
#include "src/log.h"
#include "src/tend.h"
#include "src/xalloc.h"
#include "ui/assets.h"
#include "ui/auth.h"
#include "ui/cmds.h"
#include "ui/logs.h"
#include "ui/page.h"
#include "ui/reply.h"
#include "ui/sse.h"
#include "ui/views.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static char *the_token;
static char the_cookie[48];
static int the_secure;
static char *session_file;
static struct auth_sessions the_sessions;
static struct auth_codes the_codes;
/* Host names besides the loopback ones (routes_allow_host). */
static char **extra_hosts;
static size_t n_extra_hosts;

/* ------------------------------------------------------------ pure core */

static const char *const match_names[] = {
#define X(N, S) S,
    ROUTES_MATCH_MAP(X)
#undef X
};

/* The message for a match result. */
const char *
routes_match_name(enum routes_match m)
{
  if ((size_t)m >= sizeof match_names / sizeof match_names[0])
    return "?";
  return match_names[m];
}

/* Decodes once: "%252e" stays "%2e", never becomes ".". */
long
routes_pct_decode(const char *in, size_t n, char *out, size_t cap)
{
  size_t o = 0;

  for (size_t i = 0; i < n; i++) {
    char c = in[i];
    if (c == '%') {
      long v;
      if (i + 2 >= n)
        return -1;
      v = codec_hex_parse(in + i + 1, 2);
      if (v < 0)
        return -1;
      c = (char)v;
      i += 2;
    }
    if (c == '\0' || o + 1 >= cap)
      return -1;
    out[o++] = c;
  }
  if (cap == 0)
    return -1;
  out[o] = '\0';
  return (long)o;
}

/* Names are plain words so that they can never name a path: exactly the
 * config's rule (config_name_problem), so every configured node is
 * addressable and nothing else is. */
int
routes_valid_name(const char *s)
{
  return s && config_name_problem(s) == NULL;
}

/* Strict decimal: no sign, no spaces, no overflow. */
int
routes_parse_u64(const char *s, uint64_t *out)
{
  uint64_t v = 0;

  if (!s || !*s)
    return -EINVAL;
  for (; *s; s++) {
    unsigned d;
    if (*s < '0' || *s > '9')
      return -EINVAL;
    d = (unsigned)(*s - '0');
    if (v > (UINT64_MAX - d) / 10)
      return -EINVAL;
    v = v * 10 + d;
  }
  *out = v;
  return 0;
}

/* A seq must fit JSON's exact integers (jansson's json_int_t). */
int
routes_parse_seq(const char *s, uint64_t *out)
{
  uint64_t v;

  if (routes_parse_u64(s, &v) < 0 || v > (uint64_t)INT64_MAX)
    return -EINVAL;
  *out = v;
  return 0;
}

/* Decodes a raw query value and parses it as a seq-sized u64. */
int
routes_parse_query_u64(const char *raw, uint64_t *out)
{
  char buf[32];

  if (routes_pct_decode(raw, strlen(raw), buf, sizeof buf) < 0)
    return -EINVAL;
  return routes_parse_seq(buf, out);
}

/* Applies the default and the cap of a page size. */
int
routes_parse_limit(const char *raw, size_t *out)
{
  uint64_t v;

  if (!raw) {
    *out = ROUTES_LIMIT_DEFAULT;
    return 0;
  }
  if (routes_parse_query_u64(raw, &v) < 0 || v == 0)
    return -EINVAL;
  *out = v > ROUTES_LIMIT_MAX ? ROUTES_LIMIT_MAX : (size_t)v;
  return 0;
}

/* A path split into decoded segments. */
#define MAX_SEGS 8
#define SEG_MAX 256
struct split {
  int n;
  char seg[MAX_SEGS][SEG_MAX];
};

/* Splits and decodes a raw path; checks every segment, even past
 * MAX_SEGS, so that no traversal hides behind a long path. */
static enum routes_match
split_path(const char *path, struct split *sp)
{
  const char *p;
  int n = 0;

  if (!path || path[0] != '/')
    return ROUTES_BAD_PATH;
  p = path + 1;
  for (;;) {
    const char *end = strchr(p, '/');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    char tmp[SEG_MAX];

    if (routes_pct_decode(p, len, tmp, sizeof tmp) < 0)
      return ROUTES_BAD_PATH;
    if (strchr(tmp, '/') || strchr(tmp, '\\') || strstr(tmp, "..") ||
        strcmp(tmp, ".") == 0)
      return ROUTES_BAD_PATH;
    if (n < MAX_SEGS)
      memcpy(sp->seg[n], tmp, strlen(tmp) + 1);
    n++;
    if (!end)
      break;
    p = end + 1;
  }
  sp->n = n;
  return n > MAX_SEGS ? ROUTES_NOT_FOUND : ROUTES_FOUND;
}

/* -------------------------------------------------------------- the table */

typedef void (*route_fn)(const struct routes_req *rq, const char *name,
                         struct routes_reply *out);

#define ROUTE_PUBLIC 1u /* no token needed */

struct route {
  const char *method;
  const char *pattern;
  route_fn fn;
  unsigned flags;
};

static void h_login_code(const struct routes_req *, const char *,
                         struct routes_reply *);

static const struct route route_table[] = {
    {.method = "GET",
     .pattern = "/healthz",
     .fn = views_healthz,
     .flags = ROUTE_PUBLIC},
    {.method = "GET", .pattern = "/metrics", .fn = views_metrics},
    {.method = "GET", .pattern = "/api/v1/tree", .fn = views_tree},
    {.method = "GET", .pattern = "/api/v1/daemon", .fn = views_daemon},
    {.method = "GET", .pattern = "/api/v1/runners/{name}", .fn = views_runner},
    {.method = "GET", .pattern = "/api/v1/groups/{name}", .fn = views_group},
    {.method = "POST",
     .pattern = "/api/v1/runners/{name}/start",
     .fn = cmds_start},
    {.method = "POST",
     .pattern = "/api/v1/runners/{name}/stop",
     .fn = cmds_stop},
    {.method = "POST",
     .pattern = "/api/v1/runners/{name}/restart",
     .fn = cmds_restart},
    {.method = "POST",
     .pattern = "/api/v1/runners/{name}/signal",
     .fn = cmds_signal},
    {.method = "POST",
     .pattern = "/api/v1/runners/{name}/watch/resume",
     .fn = cmds_resume},
    {.method = "POST",
     .pattern = "/api/v1/runners/{name}/input",
     .fn = cmds_input},
    {.method = "POST",
     .pattern = "/api/v1/runners/{name}/resize",
     .fn = cmds_resize},
    {.method = "POST",
     .pattern = "/api/v1/groups/{name}/restart",
     .fn = cmds_group_restart},
    {.method = "POST",
     .pattern = "/api/v1/groups/{name}/start",
     .fn = cmds_group_start},
    {.method = "POST",
     .pattern = "/api/v1/groups/{name}/stop",
     .fn = cmds_group_stop},
    {.method = "POST", .pattern = "/api/v1/reload", .fn = cmds_reload},
    {.method = "POST",
     .pattern = "/api/v1/daemon/stop",
     .fn = cmds_daemon_stop},
    {.method = "POST", .pattern = "/api/v1/ui/login", .fn = h_login_code},
    {.method = "GET",
     .pattern = "/api/v1/runners/{name}/output",
     .fn = logs_output},
    {.method = "GET",
     .pattern = "/api/v1/runners/{name}/output/stream",
     .fn = logs_output_stream},
    {.method = "GET", .pattern = "/api/v1/events", .fn = logs_events},
    {.method = "GET",
     .pattern = "/api/v1/events/stream",
     .fn = logs_events_stream},
};
#define N_ROUTES ((int)(sizeof route_table / sizeof route_table[0]))

/* Returns 1 when the request method can use a route's method. */
static int
method_ok(const char *route_method, const char *method)
{
  if (strcmp(route_method, method) == 0)
    return 1;
  return strcmp(route_method, "GET") == 0 && strcmp(method, "HEAD") == 0;
}

/* Compares a pattern with the decoded segments; captures {name}. Returns 1
 * on a structural match; *bad_name when the captured name is not valid. */
static int
pattern_match(const char *pattern, const struct split *sp, char *name,
              size_t cap, int *bad_name)
{
  const char *p = pattern + 1;
  int i = 0;

  for (;; i++) {
    const char *end = strchr(p, '/');
    size_t len = end ? (size_t)(end - p) : strlen(p);

    if (i >= sp->n)
      return 0;
    if (len == 6 && memcmp(p, "{name}", 6) == 0) {
      if (!routes_valid_name(sp->seg[i]) || strlen(sp->seg[i]) >= cap)
        *bad_name = 1;
      else
        memcpy(name, sp->seg[i], strlen(sp->seg[i]) + 1);
    } else if (strlen(sp->seg[i]) != len || memcmp(sp->seg[i], p, len) != 0) {
      return 0;
    }
    if (!end)
      break;
    p = end + 1;
  }
  return i + 1 == sp->n;
}

/* Finds the route for a request. */
enum routes_match
routes_match(const char *method, const char *path, int *route, char *name,
             size_t cap, const char **allow)
{
  struct split sp;
  enum routes_match m = split_path(path, &sp);
  const char *other = NULL;

  if (cap)
    name[0] = '\0';
  if (m != ROUTES_FOUND)
    return m;
  for (int i = 0; i < N_ROUTES; i++) {
    int bad_name = 0;
    if (!pattern_match(route_table[i].pattern, &sp, name, cap, &bad_name))
      continue;
    if (!method_ok(route_table[i].method, method)) {
      other = route_table[i].method;
      continue;
    }
    if (bad_name)
      return ROUTES_BAD_NAME;
    *route = i;
    return ROUTES_FOUND;
  }
  if (other) {
    if (allow)
      *allow = strcmp(other, "GET") == 0 ? "GET, HEAD" : other;
    return ROUTES_BAD_METHOD;
  }
  return ROUTES_NOT_FOUND;
}

/* The pattern of a route. */
const char *
routes_pattern(int route)
{
  return route >= 0 && route < N_ROUTES ? route_table[route].pattern : NULL;
}

/* Content types of the UI's files. */
const char *
routes_content_type(const char *path)
{
  static const struct {
    const char *ext;
    const char *type;
  } types[] = {
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".json", "application/json"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".ico", "image/x-icon"},
      {".woff2", "font/woff2"},
      {".txt", "text/plain; charset=utf-8"},
      {".map", "application/json"},
  };
  const char *dot = strrchr(path, '.');

  if (dot && !strchr(dot, '/'))
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
      if (strcasecmp(dot, types[i].ext) == 0)
        return types[i].type;
  return "application/octet-stream";
}

/* If-None-Match: "*" or a list of (possibly weak) tags. */
int
routes_etag_match(const char *inm, const char *etag)
{
  size_t elen;
  const char *p;

  if (!inm || !etag)
    return 0;
  elen = strlen(etag);
  p = inm;
  while (*p) {
    const char *end;
    size_t len;

    while (*p == ' ' || *p == '\t' || *p == ',')
      p++;
    if (!*p)
      break;
    end = strchr(p, ',');
    len = end ? (size_t)(end - p) : strlen(p);
    while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
      len--;
    if (len == 1 && *p == '*')
      return 1;
    if (len > 2 && p[0] == 'W' && p[1] == '/') {
      p += 2;
      len -= 2;
    }
    if (len == elen && memcmp(p, etag, elen) == 0)
      return 1;
    if (end)
      p = end + 1;
    else
      break;
  }
  return 0;
}

/* ---------------------------------------------------------------- replies */

static uint64_t status_counts[600];

/* Counts one response. */
void
routes_count_status(int status)
{
  if (status >= 100 && status < 600)
    status_counts[status]++;
}

/* Responses sent with a status so far. */
uint64_t
routes_status_count(int status)
{
  return status >= 100 && status < 600 ? status_counts[status] : 0;
}

/* Frees what a reply owns. */
void
routes_reply_clean(struct routes_reply *out)
{
  free(out->body);
  free(out->location);
  free(out->set_cookie);
  sse_stream_free(out->stream);
  page_free(out->page);
  memset(out, 0, sizeof *out);
}

/* {"error": msg}. A message that quotes the request (a method, a cut
 * "%.32s") may not be UTF-8, which json_pack refuses: then its non-ASCII
 * bytes become '?' rather than the body becoming empty. */
void
routes_reply_error(struct routes_reply *out, int status, const char *msg)
{
  json_t *v = json_pack("{s:s}", "error", msg ? msg : "error");

  if (!v) {
    char *ascii = xstrdup(msg);
    for (char *c = ascii; *c; c++)
      if ((unsigned char)*c >= 0x80)
        *c = '?';
    v = json_pack("{s:s}", "error", ascii);
    free(ascii);
  }
  reply_json(out, status, v);
}

/* ---------------------------------------------------------------- assets */

static char (*asset_etags)[24];
static size_t n_assets;

/* A strong ETag per asset: FNV-1a 64 of its bytes, computed once. */
static const char *
asset_etag(size_t i)
{
  if (!asset_etags) {
    while (assets[n_assets].path)
      n_assets++;
    asset_etags = xcalloc(n_assets + 1, sizeof *asset_etags);
    for (size_t k = 0; k < n_assets; k++) {
      uint64_t h = 1469598103934665603ull;
      for (long b = 0; b < assets[k].size; b++) {
        h ^= assets[k].data[b];
        h *= 1099511628211ull;
      }
      snprintf(asset_etags[k], sizeof asset_etags[k], "\"%016" PRIx64 "\"", h);
    }
  }
  return asset_etags[i];
}

/* Serves a UI file when the path names one; returns 0 when it does not. */
static int
serve_asset(const struct routes_req *rq, struct routes_reply *out)
{
  struct split sp;
  char want[SEG_MAX + 2];

  if (split_path(rq->path, &sp) != ROUTES_FOUND || sp.n != 1)
    return 0;
  snprintf(want, sizeof want, "/%s", sp.seg[0][0] ? sp.seg[0] : "index.html");
  for (size_t i = 0; assets[i].path; i++) {
    const char *etag;
    if (strcmp(assets[i].path, want) != 0)
      continue;
    if (strcmp(rq->method, "GET") != 0 && strcmp(rq->method, "HEAD") != 0) {
      out->allow = "GET, HEAD";
      routes_reply_error(out, 405, "method not allowed");
      return 1;
    }
    etag = asset_etag(i);
    out->etag = etag;
    out->cache_control = "no-cache";
    out->content_type = routes_content_type(want);
    if (routes_etag_match(reply_header(rq, "If-None-Match"), etag)) {
      out->status = 304;
      return 1;
    }
    out->status = 200;
    out->static_body = assets[i].data;
    out->len = (size_t)assets[i].size;
    return 1;
  }
  return 0;
}

/* ------------------------------------------------------------------ gate */

/* Copies the daemon's token and derives the cookie name. */
void
routes_init(const char *token, int port)
{
  free(the_token);
  the_token = xstrdup(token);
  auth_cookie_name(port, the_cookie, sizeof the_cookie);
  memset(&the_sessions, 0, sizeof the_sessions);
  memset(&the_codes, 0, sizeof the_codes);
}

/* Frees the token copy, the Host names and the ETag cache. */
void
routes_shutdown(void)
{
  free(the_token);
  the_token = NULL;
  for (size_t i = 0; i < n_extra_hosts; i++)
    free(extra_hosts[i]);
  free(extra_hosts);
  extra_hosts = NULL;
  n_extra_hosts = 0;
  the_secure = 0;
  free(session_file);
  session_file = NULL;
  memset(&the_sessions, 0, sizeof the_sessions);
  memset(&the_codes, 0, sizeof the_codes);
  free(asset_etags);
  asset_etags = NULL;
  n_assets = 0;
  views_shutdown();
}

/* Adds a Host name. */
void
routes_allow_host(const char *name)
{
  if (!name || !*name)
    return;
  extra_hosts =
      xrealloc(extra_hosts, (n_extra_hosts + 1) * sizeof *extra_hosts);
  extra_hosts[n_extra_hosts++] = xstrdup(name);
}

/* Loads the saved sessions and remembers where to save them. */
void
routes_set_session_file(const char *path)
{
  free(session_file);
  session_file = path ? xstrdup(path) : NULL;
  if (session_file)
    auth_sessions_load(session_file, &the_sessions);
}

/* TLS or not. */
void
routes_set_secure(int secure)
{
  the_secure = secure;
}

/* Milliseconds of a monotonic clock. */
int64_t
routes_mono_ms(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Mints and remembers a login code. */
char *
routes_login_code(void)
{
  char code[AUTH_SECRET_HEX + 1];

  if (auth_random_hex(code, AUTH_SECRET_BYTES) < 0)
    return NULL;
  auth_code_add(&the_codes, code, routes_mono_ms());
  return xstrdup(code);
}

/* Returns 1 when the Host header names this daemon. */
static int
host_ok(const char *host)
{
  static const char *const loopback[] = {"localhost", "127.0.0.1", "[::1]"};

  if (auth_host_allowed(host, loopback, 3))
    return 1;
  return n_extra_hosts &&
         auth_host_allowed(host, (const char *const *)extra_hosts,
                           n_extra_hosts);
}

/* POST /api/v1/ui/login: a new login code for a browser (with the Bearer
 * token only: a session does not mint more sessions). */
static void
h_login_code(const struct routes_req *rq, const char *name,
             struct routes_reply *out)
{
  char *code;

  (void)name;
  if (!reply_header(rq, "Authorization")) {
    routes_reply_error(out, 403,
                       "login codes are given to the Bearer token "
                       "only");
    return;
  }
  code = routes_login_code();
  if (!code) {
    routes_reply_error(out, 503, "no randomness available");
    return;
  }
  reply_json(out, 200,
             json_pack("{s:s,s:s+,s:i}", "code", code, "path", "/?code=", code,
                       "expires_in_s", AUTH_CODE_TTL_MS / 1000));
  free(code);
}

/* Returns 1 when the request carries a live session cookie. */
static int
has_session(const struct routes_req *rq)
{
  size_t len = 0;
  const char *c =
      auth_cookie_find(reply_header(rq, "Cookie"), the_cookie, &len);

  return c && auth_session_valid(&the_sessions, c, len, routes_mono_ms());
}

/* GET /?code=...: trade a one-time login code for a session cookie, and
 * drop the code from the address bar with a redirect. Returns 1 when it
 * replied. */
static int
code_login(const struct routes_req *rq, struct routes_reply *out)
{
  const char *raw = reply_query(rq, "code");
  char code[300], sid[AUTH_SECRET_HEX + 1];
  int64_t now = routes_mono_ms();

  if (!raw || strcmp(rq->path, "/") != 0 ||
      (strcmp(rq->method, "GET") != 0 && strcmp(rq->method, "HEAD") != 0))
    return 0;
  if (routes_pct_decode(raw, strlen(raw), code, sizeof code) < 0 ||
      !auth_code_redeem(&the_codes, code, now)) {
    if (has_session(rq)) {
      out->status = 302; /* already logged in (a reload of an old link) */
      out->location = xstrdup("/");
      out->cache_control = "no-store";
      return 1;
    }
    routes_reply_error(out, 401,
                       "this login link is used or expired (a code is good "
                       "once, for 60 s): restart tend up, or get a new one "
                       "with POST /api/v1/ui/login and the token");
    return 1;
  }
  if (auth_random_hex(sid, AUTH_SECRET_BYTES) < 0) {
    routes_reply_error(out, 503, "no randomness available");
    return 1;
  }
  auth_session_add(&the_sessions, sid, now);
  if (session_file) {
    int r = auth_sessions_save(session_file, &the_sessions);
    if (r < 0)
      log_warn("%s: %s (the session ends with the daemon)", session_file,
               strerror(-r));
  }
  out->status = 302;
  out->location = xstrdup("/");
  out->set_cookie = xasprintf("%s=%s; Path=/; HttpOnly; SameSite=Strict%s",
                              the_cookie, sid, the_secure ? "; Secure" : "");
  out->cache_control = "no-store";
  return 1;
}

/* Checks the credentials; replies 401/403 and returns 0 when they fail. */
static int
authorized(const struct routes_req *rq, struct routes_reply *out)
{
  struct auth_input in = {
      .authorization = reply_header(rq, "Authorization"),
      .cookie = reply_header(rq, "Cookie"),
      .origin = reply_header(rq, "Origin"),
      .host = reply_header(rq, "Host"),
      .sec_fetch_site = reply_header(rq, "Sec-Fetch-Site"),
      .state_changing =
          strcmp(rq->method, "GET") != 0 && strcmp(rq->method, "HEAD") != 0,
      .secure = the_secure,
  };
  enum auth_result r =
      auth_check(the_token, the_cookie, &the_sessions, &in, routes_mono_ms());

  switch (r) {
  case AUTH_OK:
    return 1;
  case AUTH_ORIGIN:
    routes_reply_error(out, 403,
                       "origin mismatch: a request with the cookie that "
                       "changes state must come from the UI's own origin");
    return 0;
  case AUTH_MISSING:
    routes_reply_error(out, 401,
                       "missing token: send Authorization: Bearer <token> "
                       "(the token is in <state_dir>/token)");
    out->challenge = 1;
    return 0;
  case AUTH_BAD:
  default:
    routes_reply_error(out, 401, "wrong token or expired session");
    out->challenge = 1;
    return 0;
  }
}

/* The first part of the gate: what the headers alone decide. */
int
routes_precheck(const struct routes_req *rq, struct routes_reply *out)
{
  char name[ROUTES_NAME_MAX + 1];
  const char *allow = NULL;
  int route = -1;
  enum routes_match m;

  memset(out, 0, sizeof *out);
  if (!host_ok(reply_header(rq, "Host"))) {
    routes_reply_error(out, 421,
                       "misdirected request: this daemon does not answer to "
                       "that Host (add the name to http.hosts in tend.json)");
    return 1;
  }
  m = routes_match(rq->method, rq->path, &route, name, sizeof name, &allow);
  if (m == ROUTES_BAD_PATH) {
    routes_reply_error(out, 400, "malformed path");
    return 1;
  }
  if (m == ROUTES_FOUND && (route_table[route].flags & ROUTE_PUBLIC))
    return 0;
  if (code_login(rq, out))
    return 1;
  if (!authorized(rq, out))
    return 1;
  return 0;
}

/* The gate described at the top of this file. */
void
routes_handle(const struct routes_req *rq, struct routes_reply *out)
{
  char name[ROUTES_NAME_MAX + 1];
  const char *allow = NULL;
  int route = -1;
  enum routes_match m;

  if (routes_precheck(rq, out))
    return;
  m = routes_match(rq->method, rq->path, &route, name, sizeof name, &allow);
  switch (m) {
  case ROUTES_FOUND:
    break;
  case ROUTES_BAD_NAME:
    routes_reply_error(out, 400,
                       "invalid name: names are 1 to 128 characters of "
                       "A-Z a-z 0-9 _ . - (no \"..\")");
    return;
  case ROUTES_BAD_METHOD:
    out->allow = allow;
    reply_errorf(out, 405, "method %.16s not allowed here (allowed: %s)",
                 rq->method, allow);
    return;
  case ROUTES_NOT_FOUND:
  default:
    if (!serve_asset(rq, out))
      routes_reply_error(out, 404, "no such path");
    return;
  }
  if (rq->body_too_large) {
    reply_errorf(out, 413, "the request body is over %d bytes",
                 ROUTES_MAX_BODY);
    return;
  }
  route_table[route].fn(rq, name, out);
}
