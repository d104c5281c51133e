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
 *  - We bind the listening socket ourselves (ui/listener.c) so that
 *    "address in use" is our own clear error, and hand it to MHD
 *    (MHD_OPTION_LISTEN_SOCKET); the port is bound once, at start-up, so a
 *    reload never moves it (daemon.json, which clients read, stays true).
 *  - Every response carries the same security headers, libmicrohttpd's own
 *    error pages included, and request heads past our bounds get our own
 *    414/431 (ui/respond.c); output and events pages are sent as they are
 *    read from the store (ui/page.c), never built whole.
 *  - The unescape callback is a no-op: routes.c decodes each path segment
 *    once itself, so "%2f" inside a name stays distinguishable from "/".
 *
 * Ownership: the server owns MHD, four loop handles and the list of open
 * streams; each open stream (struct conn_stream) is owned by its MHD
 * response and freed in the response's free callback. */
#include "ui/http.h"

#include "src/buf.h"
#include "src/config.h"
#include "src/log.h"
#include "src/xalloc.h"
#include "ui/auth.h"
#include "ui/listener.h"
#include "ui/respond.h"
#include "ui/routes.h"
#include "ui/sse.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <malloc.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* The shutdown drain: MHD runs every DRAIN_MS until the streams are gone,
 * at most DRAIN_STEPS times. */
#define DRAIN_MS 10
#define DRAIN_STEPS 50
/* Memory goes back to the system once this many connections closed (and
 * few are left open). */
#define HTTP_TRIM_AFTER 256

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
  struct buf body;
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
    respond_nodelay(conn);
    /* Exempt from the idle timeout while suspended; dropped when stuck. */
    MHD_set_connection_option(conn, MHD_CONNECTION_OPTION_TIMEOUT,
                              (unsigned int)HTTP_STREAM_STALL_S);
  } else if (out->page) {
    r = respond_page(out->page);
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
  respond_add_common_headers(r);
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
      .header = respond_req_header,
      .query = respond_req_query,
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
    big = respond_head_too_large(conn, url);
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
    if (respond_body_too_large(conn)) {
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
      if (rq->body.len + n > ROUTES_MAX_BODY) {
        rq->too_large = 1; /* keep reading, but keep nothing */
        buf_free(&rq->body);
      } else {
        buf_add(&rq->body, upload_data, n);
      }
    }
    *upload_data_size = 0;
    return MHD_YES;
  }
  if (rq->replied)
    return MHD_YES;
  rq->replied = 1;
  req.body = rq->body.data;
  req.body_len = rq->body.len;
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
    buf_free(&rq->body);
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
  fd = listener_bind(&cfg->http, &ss, &port, cause);
  if (fd < 0) {
    free(srv->token);
    free(srv);
    return fd;
  }
  srv->port = port;
  srv->header_timeout_ms =
      1000u * env_seconds("TEND_HTTP_HEADER_TIMEOUT_S", HTTP_HEADER_TIMEOUT_S);
  if (cfg->http.tls_cert) {
    cert = listener_read_pem("cert", cfg->http.tls_cert, cause);
    key = cert ? listener_read_pem("key", cfg->http.tls_key, cause) : NULL;
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
  if (!listener_is_wildcard(cfg->http.host))
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
      MHD_OPTION_CONNECTION_LIMIT, listener_connection_limit(),
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

  listener_format_addr((struct sockaddr *)&ss, port, 0, listen_s,
                       sizeof listen_s);
  listener_format_addr((struct sockaddr *)&ss, port, 1, url_host,
                       sizeof url_host);
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
  if (!listener_is_loopback((struct sockaddr *)&ss) && !cfg->http.tls_cert)
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
