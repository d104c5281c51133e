/* http: libmicrohttpd on the libuv loop, the token, daemon.json, and the
 * SSE connections' suspend/resume dance (issue 4).
 *
 * DESIGN (LIBRARY-NOTES.md section 1; every pitfall there applies):
 *  - MHD runs in external-epoll mode: its epoll fd sits in a uv_poll_t, its
 *    next timeout in a uv_timer_t; MHD_run never blocks. A 0 ms timeout goes
 *    through a uv_idle_t (a 0 ms uv timer starves I/O, pitfall 9).
 *  - MHD_run is never called from inside an MHD callback (pitfall 2): any
 *    code that needs MHD to run again (a stream woke up) starts the idle
 *    handle, whose callback resumes the woken connections and runs MHD.
 *    Resume alone does not wake MHD (pitfall 1).
 *  - An SSE connection whose stream has nothing to send is suspended (the
 *    content reader never returns 0 without suspending, pitfall 3), so an
 *    idle subscriber costs nothing. Its stream's waker (pubsub notify, the
 *    heartbeat) marks it and starts the idle handle.
 *  - Shutdown sets `closing`: readers end their streams, every suspended
 *    connection is resumed and MHD runs until the streams are gone (or a
 *    short deadline passes) before MHD_stop_daemon, which must never see a
 *    suspended connection (pitfall 4). The poll handle stops before MHD
 *    closes its epoll fd.
 *  - We bind the listening socket ourselves so that "address in use" is our
 *    own clear error (naming the holder, ui/portowner.c), and hand it to
 *    MHD (MHD_OPTION_LISTEN_SOCKET). Without "listen" in the config the
 *    first free port from 7070 up is taken, so that two projects' daemons
 *    run side by side; the port is bound once, at start-up, so a reload
 *    never moves it (daemon.json, which clients read, stays true).
 *  - The unescape callback is a no-op: routes.c decodes each path segment
 *    once itself, so "%2f" inside a name stays distinguishable from "/".
 *
 * Ownership: the server owns MHD, four loop handles and the list of open
 * streams; each open stream (struct conn_stream) is owned by its MHD
 * response and freed in the response's free callback. */
#include "ui/http.h"

#include "src/config.h"
#include "src/log.h"
#include "src/xalloc.h"
#include "ui/auth.h"
#include "ui/page.h"
#include "ui/portowner.h"
#include "ui/routes.h"
#include "ui/sse.h"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <malloc.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

/* The shutdown drain: MHD runs every DRAIN_MS until the streams are gone,
 * at most DRAIN_STEPS times. */
#define DRAIN_MS 10
#define DRAIN_STEPS 50
/* Memory goes back to the system once this many connections closed (and
 * few are left open). */
#define HTTP_TRIM_AFTER 256

static const char csp[] =
    "default-src 'self'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; connect-src 'self'; font-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'";

struct conn_stream;
struct conn_info;

struct http_server {
  uv_loop_t *loop;
  struct MHD_Daemon *mhd;
  uv_poll_t poll;
  uv_timer_t timer;     /* MHD's own timeout */
  uv_idle_t idle;       /* "run MHD soon" (resume woken streams first) */
  uv_timer_t heartbeat; /* comments on every stream; drain at shutdown */
  uv_timer_t sweep;     /* header deadlines, memory given back */
  int port;
  unsigned header_timeout_ms;
  struct conn_info *conns; /* every open connection */
  size_t n_conns;
  size_t closed_since_trim;
  char *daemon_json; /* path of <state_dir>/daemon.json */
  char *token;
  struct conn_stream *streams;
  int closing;
  int drain_steps;
  int handles_open;
  void (*close_cb)(void *arg);
  void *close_arg;
};

/* One SSE connection. */
struct conn_stream {
  struct http_server *srv;
  struct MHD_Connection *conn;
  struct sse_stream *stream;
  int suspended;
  int woken;
  struct conn_stream *prev, *next;
};

/* Per connection (MHD's socket context): the header deadline. */
struct conn_info {
  struct MHD_Connection *conn;
  uint64_t deadline_ms; /* headers must be in by then ... */
  int waiting;          /* ... while this is set */
  struct conn_info *prev, *next;
};

/* Per request (MHD's con_cls): the body gathered so far. */
struct http_req {
  char *body;
  size_t len;
  int too_large;
  int replied; /* a reply went out before the body (413 by length) */
};

static void mhd_kick(struct http_server *srv);

/* ------------------------------------------------------------ loop glue */

/* MHD's epoll fd is readable: let MHD work. */
static void
on_poll(uv_poll_t *h, int status, int events)
{
  (void)status;
  (void)events;
  mhd_kick(h->data);
}

/* MHD's timeout expired. */
static void
on_timer(uv_timer_t *h)
{
  mhd_kick(h->data);
}

/* Resumes the woken streams, then runs MHD (outside any MHD callback). */
static void
on_idle(uv_idle_t *h)
{
  struct http_server *srv = h->data;

  uv_idle_stop(h);
  for (struct conn_stream *cs = srv->streams; cs; cs = cs->next) {
    if (cs->suspended && (cs->woken || srv->closing)) {
      cs->suspended = 0;
      MHD_resume_connection(cs->conn);
    }
    cs->woken = 0;
  }
  mhd_kick(srv);
}

/* Asks for an MHD run on the next loop iteration (idempotent). */
static void
mhd_schedule(struct http_server *srv)
{
  if (srv->mhd)
    uv_idle_start(&srv->idle, on_idle);
}

/* A connection opened or closed. Each open connection gets a deadline for
 * its request headers (MHD's own timeout is an idle timeout: one header
 * line every few seconds would hold a connection for ever).
 * When MHD had stopped accepting (connection limit or EMFILE) it takes its
 * listen socket back into its epoll set only at the start of a later
 * MHD_run, which no fd event would trigger: ask for one on every close, or
 * the API would never answer again. */
static void
on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
              enum MHD_ConnectionNotificationCode code)
{
  struct http_server *srv = cls;
  struct conn_info *ci = *socket_context;

  if (code == MHD_CONNECTION_NOTIFY_STARTED) {
    ci = xcalloc(1, sizeof *ci);
    ci->conn = conn;
    ci->waiting = 1;
    ci->deadline_ms = uv_now(srv->loop) + srv->header_timeout_ms;
    ci->next = srv->conns;
    if (srv->conns)
      srv->conns->prev = ci;
    srv->conns = ci;
    srv->n_conns++;
    *socket_context = ci;
    return;
  }
  if (ci) {
    if (ci->prev)
      ci->prev->next = ci->next;
    else
      srv->conns = ci->next;
    if (ci->next)
      ci->next->prev = ci->prev;
    free(ci);
    *socket_context = NULL;
    srv->n_conns--;
    srv->closed_since_trim++;
  }
  mhd_schedule(srv);
}

/* The connection's record (NULL when MHD has none). */
static struct conn_info *
conn_info_of(struct MHD_Connection *conn)
{
  const union MHD_ConnectionInfo *ci =
      MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

  return ci ? ci->socket_context : NULL;
}

/* Once a second: a connection whose request headers are late is shut down
 * (MHD sees the end of the socket and closes it); after many connections
 * went away, the memory they held goes back to the system (glibc keeps
 * freed arenas otherwise, and a burst of clients would pin hundreds of
 * megabytes). */
static void
on_sweep(uv_timer_t *h)
{
  struct http_server *srv = h->data;
  uint64_t now = uv_now(srv->loop);
  int shut = 0;

  for (struct conn_info *ci = srv->conns; ci; ci = ci->next) {
    const union MHD_ConnectionInfo *fd;
    if (!ci->waiting || now < ci->deadline_ms)
      continue;
    ci->waiting = 0;
    fd = MHD_get_connection_info(ci->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (fd) {
      shutdown(fd->connect_fd, SHUT_RDWR);
      shut = 1;
    }
  }
  if (shut)
    mhd_schedule(srv);
  if (srv->closed_since_trim >= HTTP_TRIM_AFTER &&
      srv->n_conns < HTTP_TRIM_AFTER / 4) {
    srv->closed_since_trim = 0;
    malloc_trim(0);
  }
}

/* Runs MHD once and re-arms its timeout (never longer than MHD says). */
static void
mhd_kick(struct http_server *srv)
{
  MHD_UNSIGNED_LONG_LONG to;

  if (!srv->mhd)
    return;
  MHD_run(srv->mhd);
  if (MHD_get_timeout(srv->mhd, &to) != MHD_YES)
    uv_timer_stop(&srv->timer);
  else if (to == 0)
    mhd_schedule(srv);
  else
    uv_timer_start(&srv->timer, on_timer, to, 0);
}

/* ---------------------------------------------------------------- streams */

/* The stream has data (or a heartbeat): resume its connection soon. */
static void
stream_wake(void *arg)
{
  struct conn_stream *cs = arg;

  cs->woken = 1;
  if (cs->suspended)
    mhd_schedule(cs->srv);
}

/* MHD asks for bytes: give them, or suspend until the stream wakes. */
static ssize_t
stream_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
  struct conn_stream *cs = cls;
  ssize_t n;

  (void)pos;
  n = sse_stream_read(cs->stream, buf, max);
  if (n > 0)
    return n;
  if (n < 0 || cs->srv->closing)
    return MHD_CONTENT_READER_END_OF_STREAM;
  cs->suspended = 1;
  cs->woken = 0;
  MHD_suspend_connection(cs->conn);
  return 0;
}

/* The response is gone (client left, stream ended, or shutdown). */
static void
stream_free(void *cls)
{
  struct conn_stream *cs = cls;

  if (cs->prev)
    cs->prev->next = cs->next;
  else if (cs->srv->streams == cs)
    cs->srv->streams = cs->next;
  if (cs->next)
    cs->next->prev = cs->prev;
  sse_stream_free(cs->stream);
  free(cs);
}

/* A heartbeat on every stream; a dead peer is noticed on the write. */
static void
on_heartbeat(uv_timer_t *h)
{
  struct http_server *srv = h->data;

  for (struct conn_stream *cs = srv->streams; cs; cs = cs->next)
    sse_stream_heartbeat(cs->stream);
}

/* --------------------------------------------------------------- requests */

/* Looks a header up for routes.c. */
static const char *
req_header(void *ctx, const char *name)
{
  return MHD_lookup_connection_value(ctx, MHD_HEADER_KIND, name);
}

/* Looks a raw query argument up for routes.c. */
static const char *
req_query(void *ctx, const char *name)
{
  return MHD_lookup_connection_value(ctx, MHD_GET_ARGUMENT_KIND, name);
}

/* Headers every response carries. */
static void
add_common_headers(struct MHD_Response *r)
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
    add_common_headers(r);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    if (!MHD_get_response_header(r, "Content-Type"))
      MHD_add_response_header(r, "Content-Type", "text/html; charset=utf-8");
    routes_count_status((int)status);
  }
  return real(conn, status, r);
}

/* Events are small writes that must leave at once: without TCP_NODELAY,
 * Nagle's algorithm holds one back until the peer's delayed ACK (40 ms). */
static void
stream_nodelay(struct MHD_Connection *conn)
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

/* Turns a routes reply into an MHD response and queues it. */
static enum MHD_Result
send_reply(struct http_server *srv, struct MHD_Connection *conn,
           struct routes_reply *out)
{
  struct MHD_Response *r;
  enum MHD_Result ret;

  if (out->stream) {
    struct conn_stream *cs = xcalloc(1, sizeof *cs);
    cs->srv = srv;
    cs->conn = conn;
    cs->stream = out->stream;
    out->stream = NULL;
    sse_stream_set_waker(cs->stream, stream_wake, cs);
    cs->next = srv->streams;
    if (srv->streams)
      srv->streams->prev = cs;
    srv->streams = cs;
    r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024,
                                          stream_reader, cs, stream_free);
    if (!r) {
      stream_free(cs);
      routes_reply_clean(out);
      return MHD_NO;
    }
    MHD_add_response_header(r, "X-Accel-Buffering", "no");
    stream_nodelay(conn);
    /* Exempt from the idle timeout while suspended; dropped when stuck. */
    MHD_set_connection_option(conn, MHD_CONNECTION_OPTION_TIMEOUT,
                              (unsigned int)HTTP_STREAM_STALL_S);
  } else if (out->page) {
    r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024,
                                          page_reader, out->page, page_done);
    if (r)
      out->page = NULL; /* MHD frees it */
  } else if (out->static_body) {
    r = MHD_create_response_from_buffer(out->len, (void *)out->static_body,
                                        MHD_RESPMEM_PERSISTENT);
  } else if (out->body) {
    r = MHD_create_response_from_buffer(out->len, out->body,
                                        MHD_RESPMEM_MUST_FREE);
    if (r)
      out->body = NULL; /* MHD frees it */
  } else {
    r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
  }
  if (!r) {
    routes_reply_clean(out);
    return MHD_NO;
  }
  add_common_headers(r);
  if (out->content_type)
    MHD_add_response_header(r, "Content-Type", out->content_type);
  if (out->cache_control)
    MHD_add_response_header(r, "Cache-Control", out->cache_control);
  if (out->etag)
    MHD_add_response_header(r, "ETag", out->etag);
  if (out->location)
    MHD_add_response_header(r, "Location", out->location);
  if (out->set_cookie)
    MHD_add_response_header(r, "Set-Cookie", out->set_cookie);
  if (out->allow)
    MHD_add_response_header(r, "Allow", out->allow);
  if (out->challenge)
    MHD_add_response_header(r, "WWW-Authenticate", "Bearer realm=\"tend\"");
  routes_count_status(out->status);
  ret = MHD_queue_response(conn, (unsigned int)out->status, r);
  MHD_destroy_response(r);
  routes_reply_clean(out);
  return ret;
}

/* Replies with a JSON error. */
static enum MHD_Result
send_error(struct http_server *srv, struct MHD_Connection *conn, int status,
           const char *msg)
{
  struct routes_reply out;

  memset(&out, 0, sizeof out);
  routes_reply_error(&out, status, msg);
  return send_reply(srv, conn, &out);
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
 * HTTP_MAX_TARGET bytes, else 414; the header block within
 * HTTP_MAX_HEADERS bytes, else 431. Returns 0 or the status. */
static int
head_too_large(struct MHD_Connection *conn, const char *url)
{
  size_t target = strlen(url), headers = 0;

  MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, add_value_size,
                            &target);
  if (target > HTTP_MAX_TARGET)
    return 414;
  MHD_get_connection_values(conn, MHD_HEADER_KIND, add_value_size, &headers);
  return headers > HTTP_MAX_HEADERS ? 431 : 0;
}

/* Returns 1 when a declared Content-Length is over the body limit. */
static int
declared_too_large(struct MHD_Connection *conn)
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

/* MHD's access handler: first call (headers), body pieces, last call. */
static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url,
           const char *method, const char *version, const char *upload_data,
           size_t *upload_data_size, void **con_cls)
{
  struct http_server *srv = cls;
  struct http_req *rq = *con_cls;
  struct routes_req req;
  struct routes_reply out;
  int big;

  (void)version;
  req = (struct routes_req){
      .method = method,
      .path = url,
      .header = req_header,
      .query = req_query,
      .ctx = conn,
  };
  if (!rq) {
    struct conn_info *ci = conn_info_of(conn);
    if (ci)
      ci->waiting = 0; /* the headers are in */
    rq = xcalloc(1, sizeof *rq);
    *con_cls = rq;
    /* Refuse a declared oversized body before reading it (no 100
     * Continue is sent). */
    if (srv->closing) {
      rq->replied = 1;
      return send_error(srv, conn, 503, "the daemon is shutting down");
    }
    big = head_too_large(conn, url);
    if (big) {
      rq->replied = 1;
      return send_error(srv, conn, big,
                        big == 414 ? "the request target is over 8 KiB"
                                   : "the request headers are over 32 KiB");
    }
    /* Host, path and credentials are decided on the headers: a refused
     * request never has its body read. */
    if (routes_precheck(&req, &out)) {
      rq->replied = 1;
      return send_reply(srv, conn, &out);
    }
    if (declared_too_large(conn)) {
      char msg[64];
      snprintf(msg, sizeof msg, "the request body is over %d bytes",
               ROUTES_MAX_BODY);
      rq->replied = 1;
      return send_error(srv, conn, 413, msg);
    }
    return MHD_YES;
  }
  if (*upload_data_size) {
    size_t n = *upload_data_size;
    if (!rq->replied && !rq->too_large) {
      if (rq->len + n > ROUTES_MAX_BODY) {
        rq->too_large = 1; /* keep reading, but keep nothing */
        free(rq->body);
        rq->body = NULL;
        rq->len = 0;
      } else {
        rq->body = xrealloc(rq->body, rq->len + n);
        memcpy(rq->body + rq->len, upload_data, n);
        rq->len += n;
      }
    }
    *upload_data_size = 0;
    return MHD_YES;
  }
  if (rq->replied)
    return MHD_YES;
  rq->replied = 1;
  req.body = rq->body;
  req.body_len = rq->len;
  req.body_too_large = rq->too_large;
  routes_handle(&req, &out);
  return send_reply(srv, conn, &out);
}

/* The request is over: free its state; the next request on the
 * connection has its own header deadline. */
static void
on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
             enum MHD_RequestTerminationCode toe)
{
  struct http_server *srv = cls;
  struct http_req *rq = *con_cls;
  struct conn_info *ci = conn_info_of(conn);

  (void)toe;
  if (ci) {
    ci->waiting = 1;
    ci->deadline_ms = uv_now(srv->loop) + srv->header_timeout_ms;
  }
  if (rq) {
    free(rq->body);
    free(rq);
    *con_cls = NULL;
  }
}

/* Keeps the raw path: routes.c decodes segment by segment. */
static size_t
no_unescape(void *cls, struct MHD_Connection *conn, char *s)
{
  (void)cls;
  (void)conn;
  return strlen(s);
}

/* Routes MHD's diagnostics through our log. */
static void __attribute__((format(printf, 2, 0)))
mhd_log(void *cls, const char *fmt, va_list ap)
{
  char msg[512];
  size_t n;

  (void)cls;
  vsnprintf(msg, sizeof msg, fmt, ap);
  n = strlen(msg);
  while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
    msg[--n] = '\0';
  log_debug("microhttpd: %s", msg);
}

/* ---------------------------------------------------------------- start-up */

/* Returns 1 for 127.0.0.0/8, ::1 and ::ffff:127.0.0.0/104. */
static int
is_loopback(const struct sockaddr *sa)
{
  if (sa->sa_family == AF_INET) {
    const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
    return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
  }
  if (sa->sa_family == AF_INET6) {
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
    if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr))
      return 1;
    return IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) &&
           in6->sin6_addr.s6_addr[12] == 127;
  }
  return 0;
}

/* Formats an address as "host:port" ("[::1]:7070" for IPv6); a wildcard
 * address becomes the loopback one when for_url. */
static void
format_addr(const struct sockaddr *sa, int port, int for_url, char *out,
            size_t cap)
{
  char host[INET6_ADDRSTRLEN] = "?";

  if (sa->sa_family == AF_INET) {
    struct in_addr a = ((const struct sockaddr_in *)sa)->sin_addr;
    if (for_url && a.s_addr == htonl(INADDR_ANY))
      a.s_addr = htonl(INADDR_LOOPBACK);
    inet_ntop(AF_INET, &a, host, sizeof host);
    snprintf(out, cap, "%s:%d", host, port);
  } else {
    struct in6_addr a = ((const struct sockaddr_in6 *)sa)->sin6_addr;
    if (for_url && IN6_IS_ADDR_UNSPECIFIED(&a))
      a = in6addr_loopback;
    inet_ntop(AF_INET6, &a, host, sizeof host);
    snprintf(out, cap, "[%s]:%d", host, port);
  }
}

/* Resolves the configured host (IPv4 preferred) into *ss (port 0) and
 * checks that it may be served; errors name the config key. */
static int
resolve_listen(const struct config_http *h, struct sockaddr_storage *ss,
               socklen_t *sl, char **cause)
{
  struct addrinfo hints, *res = NULL, *ai, *pick = NULL;
  int r;

  memset(&hints, 0, sizeof hints);
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  r = getaddrinfo(h->host, "0", &hints, &res);
  if (r != 0) {
    *cause =
        xasprintf("http.listen: %s:%d: %s", h->host, h->port, gai_strerror(r));
    return -EINVAL;
  }
  for (ai = res; ai && !pick; ai = ai->ai_next)
    if (ai->ai_family == AF_INET)
      pick = ai;
  for (ai = res; ai && !pick; ai = ai->ai_next)
    if (ai->ai_family == AF_INET6)
      pick = ai;
  if (!pick) {
    freeaddrinfo(res);
    *cause = xasprintf("http.listen: %s:%d: no IPv4 or IPv6 address", h->host,
                       h->port);
    return -EINVAL;
  }
  memset(ss, 0, sizeof *ss);
  memcpy(ss, pick->ai_addr, pick->ai_addrlen);
  *sl = pick->ai_addrlen;
  freeaddrinfo(res);
  if (!is_loopback((struct sockaddr *)ss) && !h->allow_remote) {
    *cause = xasprintf("http.listen: %s:%d: not a loopback address; set "
                       "\"http\": {\"allow_remote\": true} to serve other "
                       "hosts (anyone who can reach it needs only the token)",
                       h->host, h->port);
    return -EINVAL;
  }
  return 0;
}

/* Sets the port of an IPv4 or IPv6 address. */
static void
set_port(struct sockaddr_storage *ss, int port)
{
  if (ss->ss_family == AF_INET)
    ((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
  else
    ((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
}

/* Binds and listens on ss; returns the socket or -errno. */
static int
listen_on(const struct sockaddr_storage *ss, socklen_t sl)
{
  int fd, one = 1, r;

  fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -errno;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(fd, (const struct sockaddr *)ss, sl) != 0 ||
      listen(fd, SOMAXCONN) != 0) {
    r = -errno;
    close(fd);
    return r;
  }
  return fd;
}

/* Words a bind failure on ss:port, naming the holder of a busy port when
 * /proc tells (another tend daemon, most often). New string. */
static char *
bind_error(const struct sockaddr_storage *ss, int port, int err)
{
  char where[INET6_ADDRSTRLEN + 16];
  char *owner, *msg;

  format_addr((const struct sockaddr *)ss, port, 0, where, sizeof where);
  if (err != -EADDRINUSE)
    return xasprintf("%s: %s", where, strerror(-err));
  owner = portowner_describe(port);
  msg = xasprintf("%s: address already in use%s", where, owner ? owner : "");
  free(owner);
  return msg;
}

/* Binds the listening socket. With "listen" in the config, exactly that
 * address (port 0: any free port); without it, the first free port of
 * HTTP_AUTO_PORTS from the default one up, so that several projects' tend
 * daemons run side by side. Returns the socket with the address bound in
 * *ss and its port in *port, or -errno with *cause. */
static int
bind_listen(const struct config_http *h, struct sockaddr_storage *ss, int *port,
            char **cause)
{
  socklen_t sl;
  int fd = -EADDRINUSE, r, tries = h->listen_set ? 1 : HTTP_AUTO_PORTS;
  char *first_busy = NULL;

  r = resolve_listen(h, ss, &sl, cause);
  if (r != 0)
    return r;
  for (int i = 0; i < tries && h->port + i <= 65535; i++) {
    set_port(ss, h->port + i);
    fd = listen_on(ss, sl);
    if (fd != -EADDRINUSE || h->listen_set)
      break;
    if (!first_busy)
      first_busy = bind_error(ss, h->port, fd);
  }
  if (fd < 0) {
    char *why = bind_error(ss, h->port, fd);
    if (h->listen_set)
      *cause = xasprintf("http.listen: %s", why);
    else if (fd == -EADDRINUSE)
      *cause = xasprintf("http: ports %d to %d on %s are all in use; set "
                         "\"http\": {\"listen\": \"%s:PORT\"} (port 0 "
                         "takes any free port)",
                         h->port, h->port + tries - 1, h->host, h->host);
    else
      *cause = xasprintf("http: %s", why);
    free(why);
    free(first_busy);
    return fd;
  }
  sl = sizeof *ss;
  getsockname(fd, (struct sockaddr *)ss, &sl);
  *port =
      ntohs(ss->ss_family == AF_INET ? ((struct sockaddr_in *)ss)->sin_port
                                     : ((struct sockaddr_in6 *)ss)->sin6_port);
  if (first_busy)
    fprintf(stderr, "tend: %s; took port %d instead\n", first_busy, *port);
  free(first_busy);
  return fd;
}

/* Writes daemon.json: temp file in the same folder, fsync, rename. */
static int
write_daemon_json(const char *path, json_t *doc)
{
  char *tmp = xasprintf("%s.tmp.XXXXXX", path);
  int fd = mkostemp(tmp, O_CLOEXEC);
  FILE *f;
  int bad;

  if (fd < 0) {
    free(tmp);
    return -errno;
  }
  f = fdopen(fd, "w");
  if (!f) {
    close(fd);
    unlink(tmp);
    free(tmp);
    return -EIO;
  }
  bad = json_dumpf(doc, f, JSON_INDENT(2)) != 0;
  bad |= fputc('\n', f) == EOF;
  bad |= fflush(f) != 0;
  bad |= fsync(fileno(f)) != 0;
  bad |= fclose(f) != 0;
  if (bad || rename(tmp, path) != 0) {
    unlink(tmp);
    free(tmp);
    return -EIO;
  }
  free(tmp);
  return 0;
}

/* Room for many connections: raise the soft fd limit toward the hard one
 * (idle clients must not starve others), and size MHD's limit to it. */
static unsigned int
connection_limit(void)
{
  struct rlimit rl;
  rlim_t want = 65536;

  if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
    return 512;
  if (rl.rlim_cur < want && rl.rlim_cur != RLIM_INFINITY) {
    rlim_t raised =
        rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ? want : rl.rlim_max;
    if (raised > rl.rlim_cur) {
      rl.rlim_cur = raised;
      if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
        getrlimit(RLIMIT_NOFILE, &rl);
    }
  }
  if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > 4096 + 512)
    return 4096;
  return rl.rlim_cur > 1024 ? (unsigned int)(rl.rlim_cur - 512)
                            : (unsigned int)(rl.rlim_cur / 2);
}

/* Reads a number of seconds (1..3600) from the environment variable var
 * (for tests), else returns def. */
static unsigned int
env_seconds(const char *var, unsigned int def)
{
  const char *s = getenv(var);
  char *end;
  long v;

  if (!s || !*s)
    return def;
  v = strtol(s, &end, 10);
  if (*end || v < 1 || v > 3600) {
    log_warn("%s=%s ignored (1 to 3600)", var, s);
    return def;
  }
  return (unsigned int)v;
}

/* Reads a whole PEM file (at most 1 MiB) for MHD's TLS options. Returns a
 * new string, or NULL with *cause. */
static char *
read_pem(const char *key, const char *path, char **cause)
{
  FILE *f = fopen(path, "re");
  char *buf;
  size_t n;

  if (!f) {
    *cause = xasprintf("http.tls.%s: %s: %s", key, path, strerror(errno));
    return NULL;
  }
  buf = xmalloc((1 << 20) + 1);
  n = fread(buf, 1, 1 << 20, f);
  if (ferror(f) || !feof(f) || n == 0) {
    *cause = xasprintf("http.tls.%s: %s: %s", key, path,
                       ferror(f) ? strerror(errno)
                       : n == 0  ? "empty file"
                                 : "larger than 1 MiB");
    fclose(f);
    free(buf);
    return NULL;
  }
  fclose(f);
  buf[n] = '\0';
  return buf;
}

/* Returns 1 for a wildcard listen host ("0.0.0.0", "::"): not a name any
 * browser should use (and "0.0.0.0" reaches loopback on some systems). */
static int
is_wildcard_host(const char *host)
{
  return !host || strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0 ||
         strcmp(host, "[::]") == 0;
}

/* Counts a closed handle; the last one frees the server. */
static void
on_handle_closed(uv_handle_t *h)
{
  struct http_server *srv = h->data;
  void (*cb)(void *) = srv->close_cb;
  void *arg = srv->close_arg;

  if (--srv->handles_open > 0)
    return;
  free(srv->daemon_json);
  free(srv->token);
  free(srv);
  malloc_trim(0);
  if (cb)
    cb(arg);
}

/* Binds, starts MHD, wires it into the loop, writes daemon.json. */
int
http_start(uv_loop_t *loop, const struct config *cfg, struct http_server **out,
           char **cause)
{
  struct http_server *srv;
  struct sockaddr_storage ss;
  const union MHD_DaemonInfo *info;
  char listen_s[INET6_ADDRSTRLEN + 16], url_host[INET6_ADDRSTRLEN + 16];
  char *url, *ui_url, *code, *cert = NULL, *key = NULL;
  const char *scheme;
  struct MHD_OptionItem tls[3] = {{MHD_OPTION_END, 0, NULL}};
  unsigned int flags;
  json_t *doc;
  int fd, port = 0, r;

  *out = NULL;
  if (!cfg->http.enabled)
    return 0;
  srv = xcalloc(1, sizeof *srv);
  srv->loop = loop;
  r = auth_token_load(cfg->state_dir, &srv->token, cause);
  if (r < 0) {
    free(srv);
    return r;
  }
  fd = bind_listen(&cfg->http, &ss, &port, cause);
  if (fd < 0) {
    free(srv->token);
    free(srv);
    return fd;
  }
  srv->port = port;
  srv->header_timeout_ms =
      1000u * env_seconds("TEND_HTTP_HEADER_TIMEOUT_S", HTTP_HEADER_TIMEOUT_S);
  if (cfg->http.tls_cert) {
    cert = read_pem("cert", cfg->http.tls_cert, cause);
    key = cert ? read_pem("key", cfg->http.tls_key, cause) : NULL;
    if (!key) {
      free(cert);
      close(fd);
      free(srv->token);
      free(srv);
      return -EINVAL;
    }
    tls[0] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, cert};
    tls[1] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, key};
    tls[2] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
  }
  routes_init(srv->token, port);
  routes_set_secure(cert != NULL);
  {
    char *sessions = xasprintf("%s/sessions", cfg->state_dir);
    routes_set_session_file(sessions);
    free(sessions);
  }
  if (!is_wildcard_host(cfg->http.host))
    routes_allow_host(cfg->http.host);
  for (size_t i = 0; i < cfg->http.n_hosts; i++)
    routes_allow_host(cfg->http.hosts[i]);

  flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
  if (ss.ss_family == AF_INET6)
    flags |= MHD_USE_IPv6;
  if (cert)
    flags |= MHD_USE_TLS;
  srv->mhd = MHD_start_daemon(
      flags, 0, NULL, NULL, on_request, srv, MHD_OPTION_LISTEN_SOCKET, fd,
      MHD_OPTION_CONNECTION_TIMEOUT,
      env_seconds("TEND_HTTP_TIMEOUT_S", HTTP_IDLE_TIMEOUT_S),
      MHD_OPTION_CONNECTION_LIMIT, connection_limit(),
      MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int)HTTP_PER_IP_LIMIT,
      MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_CONN_MEMORY,
      MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
      MHD_OPTION_NOTIFY_CONNECTION, on_connection, srv,
      MHD_OPTION_UNESCAPE_CALLBACK, no_unescape, NULL,
      MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_ARRAY, tls,
      MHD_OPTION_END);
  /* MHD copies the key material into its credentials at start. */
  if (key)
    explicit_bzero(key, strlen(key));
  free(cert);
  free(key);
  if (!srv->mhd) {
    close(fd);
    routes_shutdown();
    free(srv->token);
    free(srv);
    *cause = xstrdup(cfg->http.tls_cert
                         ? "http: libmicrohttpd failed to start (is http.tls "
                           "a matching PEM certificate and key?)"
                         : "http: libmicrohttpd failed to start");
    return -EIO;
  }
  info = MHD_get_daemon_info(srv->mhd, MHD_DAEMON_INFO_EPOLL_FD);

  uv_poll_init(loop, &srv->poll, info->epoll_fd);
  uv_timer_init(loop, &srv->timer);
  uv_idle_init(loop, &srv->idle);
  uv_timer_init(loop, &srv->heartbeat);
  uv_timer_init(loop, &srv->sweep);
  srv->poll.data = srv->timer.data = srv->idle.data = srv->heartbeat.data =
      srv->sweep.data = srv;
  srv->handles_open = 5;
  uv_poll_start(&srv->poll, UV_READABLE, on_poll);
  uv_timer_start(&srv->heartbeat, on_heartbeat, HTTP_HEARTBEAT_MS,
                 HTTP_HEARTBEAT_MS);
  uv_timer_start(&srv->sweep, on_sweep, 1000, 1000);
  uv_unref((uv_handle_t *)&srv->sweep);

  format_addr((struct sockaddr *)&ss, port, 0, listen_s, sizeof listen_s);
  format_addr((struct sockaddr *)&ss, port, 1, url_host, sizeof url_host);
  scheme = cfg->http.tls_cert ? "https" : "http";
  url = xasprintf("%s://%s", scheme, url_host);
  code = routes_login_code();
  ui_url = xasprintf("%s://%s/?code=%s", scheme, url_host, code ? code : "");
  free(code);
  srv->daemon_json = xasprintf("%s/daemon.json", cfg->state_dir);
  doc = json_pack("{s:i,s:s,s:s,s:s,s:s?}", "pid", (int)getpid(), "url", url,
                  "ui_url", ui_url, "listen", listen_s, "config", cfg->file);
  r = write_daemon_json(srv->daemon_json, doc);
  json_decref(doc);
  if (r < 0)
    log_warn("%s: %s (clients will need --url)", srv->daemon_json,
             strerror(-r));
  if (strcmp(listen_s, url_host) != 0)
    fprintf(stderr, "tend: API on %s/ (listening on %s; UI: %s)\n", url,
            listen_s, ui_url);
  else
    fprintf(stderr, "tend: API on %s/ (UI: %s)\n", url, ui_url);
  if (!is_loopback((struct sockaddr *)&ss) && !cfg->http.tls_cert)
    log_warn("http.listen: %s is not a loopback address and http.tls is not "
             "set: the token and the session cookie cross the network in "
             "clear text",
             listen_s);
  free(url);
  free(ui_url);
  mhd_kick(srv);
  *out = srv;
  return 0;
}

/* The port bound. */
int
http_port(const struct http_server *srv)
{
  return srv ? srv->port : 0;
}

/* Stops MHD (no suspended connection left) and closes the handles. */
static void
finish_close(struct http_server *srv)
{
  uv_timer_stop(&srv->heartbeat);
  uv_timer_stop(&srv->sweep);
  uv_idle_stop(&srv->idle);
  uv_timer_stop(&srv->timer);
  uv_poll_stop(&srv->poll); /* before MHD closes the epoll fd */
  /* A stream still suspended here would make MHD_stop_daemon panic. */
  for (struct conn_stream *cs = srv->streams; cs; cs = cs->next)
    if (cs->suspended) {
      cs->suspended = 0;
      MHD_resume_connection(cs->conn);
    }
  MHD_stop_daemon(srv->mhd); /* frees the remaining streams */
  srv->mhd = NULL;
  routes_shutdown();
  uv_close((uv_handle_t *)&srv->poll, on_handle_closed);
  uv_close((uv_handle_t *)&srv->timer, on_handle_closed);
  uv_close((uv_handle_t *)&srv->idle, on_handle_closed);
  uv_close((uv_handle_t *)&srv->heartbeat, on_handle_closed);
  uv_close((uv_handle_t *)&srv->sweep, on_handle_closed);
}

/* Lets MHD send the streams' ends; finishes when they are gone. */
static void
on_drain(uv_timer_t *h)
{
  struct http_server *srv = h->data;
  int suspended = 0;

  for (struct conn_stream *cs = srv->streams; cs; cs = cs->next) {
    if (cs->suspended) {
      cs->suspended = 0;
      MHD_resume_connection(cs->conn);
    }
  }
  MHD_run(srv->mhd);
  for (struct conn_stream *cs = srv->streams; cs; cs = cs->next)
    suspended |= cs->suspended;
  if ((!srv->streams && !suspended) || ++srv->drain_steps >= DRAIN_STEPS)
    finish_close(srv);
}

/* Begins the shutdown described at the top of this file. */
void
http_close(struct http_server *srv, void (*cb)(void *arg), void *arg)
{
  if (!srv) {
    if (cb)
      cb(arg);
    return;
  }
  if (srv->closing)
    return;
  srv->closing = 1;
  srv->close_cb = cb;
  srv->close_arg = arg;
  unlink(srv->daemon_json);
  for (struct conn_stream *cs = srv->streams; cs; cs = cs->next)
    sse_stream_end(cs->stream);
  uv_timer_stop(&srv->heartbeat);
  uv_timer_start(&srv->heartbeat, on_drain, 0, DRAIN_MS);
}
