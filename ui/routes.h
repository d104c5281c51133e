/* routes: the HTTP API's route table and its gate (issue 4, docs/api.md);
 * the handlers are in ui/views.c, ui/cmds.c and ui/logs.c.
 *
 * routes_handle turns one request (method, raw path, headers, query, body)
 * into one reply (status, headers, body, or an SSE stream) without knowing
 * libmicrohttpd: ui/http.c feeds it and sends the reply. Handlers reach the
 * daemon only through the coordination door (src/tend.h) and pubsub. The
 * path rules (decode %xx once, no "..", no encoded slash, names of
 * [A-Za-z0-9_.-]) and the query parsers are pure and unit-tested. */
#ifndef TEND_ROUTES_H
#define TEND_ROUTES_H

#include <stddef.h>
#include <stdint.h>

struct page;
struct sse_stream;

/* Largest request body accepted (bigger ones get 413). */
#define ROUTES_MAX_BODY (64 * 1024)
/* Output/events pages: default and largest limit. */
#define ROUTES_LIMIT_DEFAULT 1000
#define ROUTES_LIMIT_MAX 10000
/* JSON of the items of an output or events page: a page ends before the
 * item that would take it over (its "next" says where to go on). The page
 * is produced batch by batch as it is sent (ui/page.c), never whole. */
#define ROUTES_PAGE_BYTES ((size_t)4 << 20)
/* Stored JSON per batch a stream reads from the store. */
#define ROUTES_STREAM_BATCH_BYTES ((size_t)1 << 20)
/* Longest runner or group name in a path. */
#define ROUTES_NAME_MAX 128

/* One request, as ui/http.c sees it. Strings are borrowed. */
struct routes_req {
  const char *method; /* "GET", "POST", ... */
  const char *path;   /* raw path, still percent-encoded, without query */
  /* A header's value (case-insensitive name), or NULL. */
  const char *(*header)(void *ctx, const char *name);
  /* A query argument's raw value (still percent-encoded), or NULL. */
  const char *(*query)(void *ctx, const char *name);
  void *ctx;
  const char *body;
  size_t body_len;
  int body_too_large; /* the body went over ROUTES_MAX_BODY */
};

/* One reply. Free with routes_reply_clean. */
struct routes_reply {
  int status;
  const char *content_type; /* static string */
  char *body;               /* owned, or NULL */
  size_t len;
  const unsigned char *static_body; /* borrowed (an asset); wins over body */
  char *location;                   /* owned: Location (302) */
  char *set_cookie;                 /* owned: Set-Cookie */
  const char *etag;                 /* static: ETag */
  const char *allow;                /* static: Allow (405) */
  const char *cache_control;        /* static */
  int challenge;                    /* add WWW-Authenticate (401) */
  struct sse_stream *stream;        /* owned: stream this instead of body */
  struct page *page;                /* owned: send this instead of body */
};

/* Binds the routes to the daemon's token and port (copied). Forgets every
 * session and login code; the allowed Hosts are the loopback names only. */
void routes_init(const char *token, int port);
/* Frees what routes_init copied. */
void routes_shutdown(void);
/* Adds Host names the API answers to, besides "localhost", "127.0.0.1"
 * and "[::1]" (the listen host, http.hosts). Copied. */
void routes_allow_host(const char *name);
/* Keeps browser sessions in path (read now, rewritten at each login), so
 * that they outlive a restart of the daemon. Copied. */
void routes_set_session_file(const char *path);
/* Says that the API is served over TLS: Secure cookies, https origins. */
void routes_set_secure(int secure);
/* Mints a one-time login code for GET /?code=CODE (good for
 * AUTH_CODE_TTL_MS). Returns a new string, or NULL when the system has no
 * randomness to give. */
char *routes_login_code(void);

/* Decides on the request line and headers alone, before any body is read:
 * the Host allow-list (421), the path rules (400), the login (302 with the
 * session cookie), the credentials (401, 403). Returns 1 when it filled
 * out (the request ends there), 0 when the request may go on. */
int routes_precheck(const struct routes_req *req, struct routes_reply *out);

/* Handles one request completely (routes_precheck included). */
void routes_handle(const struct routes_req *req, struct routes_reply *out);
/* Frees what a reply owns (not a stream or page taken by the caller: set
 * out->stream or out->page to NULL after taking it). */
void routes_reply_clean(struct routes_reply *out);
/* Fills a JSON error reply {"error": msg} with status. */
void routes_reply_error(struct routes_reply *out, int status, const char *msg);

/* Milliseconds of a monotonic clock (login codes, the tree cache). */
int64_t routes_mono_ms(void);
/* Counts a response by status for /metrics. */
void routes_count_status(int status);
/* How many responses went out with status (for /metrics). */
uint64_t routes_status_count(int status);

/* ------------------------------------------------------------- pure core */

#define ROUTES_MATCH_MAP(X)                                                    \
  X(FOUND, "found")                                                            \
  X(NOT_FOUND, "no such path")                                                 \
  X(BAD_METHOD, "method not allowed")                                          \
  X(BAD_PATH, "malformed path")                                                \
  X(BAD_NAME, "invalid name")

enum routes_match {
#define X(N, S) ROUTES_##N,
  ROUTES_MATCH_MAP(X)
#undef X
};

/* Decodes %xx escapes of in[0..n) once into out (cap bytes, NUL added).
 * Returns the decoded length, or -1 for a bad escape, a NUL byte, or a
 * result that does not fit. */
long routes_pct_decode(const char *in, size_t n, char *out, size_t cap);
/* Returns 1 when s is a valid name: 1..ROUTES_NAME_MAX chars of
 * [A-Za-z0-9_.-], and not containing "..". */
int routes_valid_name(const char *s);
/* Parses a decimal unsigned integer (digits only, no overflow): 0 or
 * -EINVAL. */
int routes_parse_u64(const char *s, uint64_t *out);
/* Parses a seq (after=, Last-Event-ID): routes_parse_u64 limited to
 * INT64_MAX, the largest seq JSON carries exactly. */
int routes_parse_seq(const char *s, uint64_t *out);
/* Decodes a raw query value (%xx once) and parses it with
 * routes_parse_seq: 0 or -EINVAL. */
int routes_parse_query_u64(const char *raw, uint64_t *out);
/* Parses a limit query value: absent -> ROUTES_LIMIT_DEFAULT, above
 * ROUTES_LIMIT_MAX -> ROUTES_LIMIT_MAX, 0 or not a number -> -EINVAL. */
int routes_parse_limit(const char *raw, size_t *out);

/* Matches method and raw path against the route table. On ROUTES_FOUND
 * sets *route (an index for routes_pattern) and the decoded {name} into
 * name (empty when the route has none). On ROUTES_BAD_METHOD sets *allow.
 * Paths that decode to "..", an encoded "/", or a bad escape give
 * ROUTES_BAD_PATH; a {name} that is not a valid name ROUTES_BAD_NAME. */
enum routes_match routes_match(const char *method, const char *path, int *route,
                               char *name, size_t cap, const char **allow);
/* The pattern of a route ("/api/v1/runners/{name}/start"), for tests. */
const char *routes_pattern(int route);
/* The message for a match result. */
const char *routes_match_name(enum routes_match m);

/* Returns the Content-Type for a file name by its extension. */
const char *routes_content_type(const char *path);
/* Returns 1 when an If-None-Match header value matches etag. */
int routes_etag_match(const char *if_none_match, const char *etag);

#endif
