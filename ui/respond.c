/* respond: the HTTP layer's side of every response and request head: the
 * headers every response carries (including libmicrohttpd's own error
 * pages, through MHD_queue_response below), our bounds on the request head
 * (414, 431) and on a declared body (413), the request accessors routes.c
 * reads through, and the content reader of streamed pages (ui/page.c). */
#include "ui/respond.h"

#include "ui/page.h"
#include "ui/routes.h"

#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static const char csp[] =
    "default-src 'self'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; connect-src 'self'; font-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'";

/* Looks a header up for routes.c. */
const char *
respond_req_header(void *ctx, const char *name)
{
  return MHD_lookup_connection_value(ctx, MHD_HEADER_KIND, name);
}

/* Looks a raw query argument up for routes.c. */
const char *
respond_req_query(void *ctx, const char *name)
{
  return MHD_lookup_connection_value(ctx, MHD_GET_ARGUMENT_KIND, name);
}

/* Headers every response carries. */
void
respond_add_common_headers(struct MHD_Response *r)
{
  MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
  MHD_add_response_header(r, "Content-Security-Policy", csp);
  MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
  MHD_add_response_header(r, "X-Frame-Options", "DENY");
}

/* Every response MHD queues passes here, ours and the error pages that
 * libmicrohttpd builds inside itself (a request line or a header it cannot
 * parse, an HTTP version it does not speak, a head too large for its
 * buffer), which no callback of ours ever sees: this definition interposes
 * the library's exported MHD_queue_response (the library calls it through
 * its PLT), adds the common headers to a response that lacks them, and
 * calls the library's own. tests/integration/test_security_web.py checks
 * the library's pages, so a build that bypasses this shows there. */
enum MHD_Result
MHD_queue_response(struct MHD_Connection *conn, unsigned int status,
                   struct MHD_Response *r)
{
  typedef enum MHD_Result (*queue_fn)(struct MHD_Connection *, unsigned int,
                                      struct MHD_Response *);
  static queue_fn real;

  if (!real) {
    void *sym = dlsym(RTLD_NEXT, "MHD_queue_response");
    if (!sym)
      abort(); /* no libmicrohttpd under us: a broken link */
    memcpy(&real, &sym, sizeof real);
  }
  if (r && !MHD_get_response_header(r, "X-Content-Type-Options")) {
    respond_add_common_headers(r);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    if (!MHD_get_response_header(r, "Content-Type"))
      MHD_add_response_header(r, "Content-Type", "text/html; charset=utf-8");
    routes_count_status((int)status);
  }
  return real(conn, status, r);
}

/* Events are small writes that must leave at once: without TCP_NODELAY,
 * Nagle's algorithm holds one back until the peer's delayed ACK (40 ms). */
void
respond_nodelay(struct MHD_Connection *conn)
{
  const union MHD_ConnectionInfo *ci =
      MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
  int one = 1;

  if (ci)
    setsockopt(ci->connect_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* MHD asks for more of a page: one batch at most per call. */
static ssize_t
page_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
  size_t n;

  (void)pos;
  n = page_read(cls, buf, max);
  return n > 0 ? (ssize_t)n : MHD_CONTENT_READER_END_OF_STREAM;
}

/* The page's response is gone. */
static void
page_done(void *cls)
{
  page_free(cls);
}

/* A response that sends page as MHD asks for it. */
struct MHD_Response *
respond_page(struct page *page)
{
  return MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024,
                                           page_reader, page, page_done);
}

/* Adds one header's or query argument's size to a running total. */
static enum MHD_Result
add_value_size(void *cls, enum MHD_ValueKind kind, const char *key,
               const char *value)
{
  size_t *total = cls;

  (void)kind;
  *total += strlen(key) + (value ? strlen(value) : 0) + 4; /* ": ", CRLF */
  return MHD_YES;
}

/* Checks the request head against our bounds (MHD's buffer is larger, so
 * that these answers are ours): the target (path and query) within
 * RESPOND_MAX_TARGET bytes, else 414; the header block within
 * RESPOND_MAX_HEADERS bytes, else 431. Returns 0 or the status. */
int
respond_head_too_large(struct MHD_Connection *conn, const char *url)
{
  size_t target = strlen(url), headers = 0;

  MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, add_value_size,
                            &target);
  if (target > RESPOND_MAX_TARGET)
    return 414;
  MHD_get_connection_values(conn, MHD_HEADER_KIND, add_value_size, &headers);
  return headers > RESPOND_MAX_HEADERS ? 431 : 0;
}

/* Returns 1 when a declared Content-Length is over the body limit. */
int
respond_body_too_large(struct MHD_Connection *conn)
{
  const char *cl =
      MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
  char *end;
  unsigned long long v;

  if (!cl)
    return 0;
  errno = 0;
  v = strtoull(cl, &end, 10);
  return errno != 0 || v > ROUTES_MAX_BODY;
}
