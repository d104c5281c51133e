/* httpget: one HTTP GET on the loop (see httpget.h).
 *
 * DESIGN
 * Why libcurl: the daemon already links it (the CLI's client), it is the
 * standard HTTP client (DESIGN.md asks for it over a hand-made one), and
 * it brings https, IPv6, "localhost", chunked bodies and exact timeouts.
 * Its multi interface is built for an external event loop: curl tells us
 * which sockets to watch (CURLMOPT_SOCKETFUNCTION -> one uv_poll_t each)
 * and when to wake it (CURLMOPT_TIMERFUNCTION -> one uv_timer_t); we hand
 * readiness back with curl_multi_socket_action(). Host names resolve in
 * curl's resolver thread, never on the loop.
 *
 * Each request owns its own CURLM and easy handle: probes are a few per
 * minute, and a request that owns everything can be torn down at any
 * moment (a cancel when its run ends) without a shared connection cache
 * that would keep the loop alive at shutdown. Sockets are opened with
 * SOCK_CLOEXEC so that a child spawned meanwhile does not inherit them.
 *
 * Lifetime: the handle rule. The request counts its open uv handles and
 * frees itself after the last close callback; curl is cleaned up first,
 * outside any curl callback, and every poll handle still open then is
 * closed by us. */
#include "runners/httpget.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "src/xalloc.h"

struct sock {
  uv_poll_t poll;
  struct httpget *get;
  curl_socket_t fd;
  struct sock *next;
  int closing;
};

struct httpget {
  uv_loop_t *loop;
  CURLM *multi;
  CURL *easy;
  uv_timer_t timer;
  struct sock *socks;
  int open_handles;
  int done;
  int add_failed;
  httpget_cb cb;
  void *ctx;
  char errbuf[CURL_ERROR_SIZE];
};

/* Initialises libcurl once per process (the loop's thread only). */
static void
global_init(void)
{
  static int done;
  if (!done) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    done = 1;
  }
}

/* Counts a closed handle; frees the request after the last. */
static void
on_closed(uv_handle_t *h)
{
  struct httpget *g = h->data;
  if (h != (uv_handle_t *)&g->timer) {
    struct sock **pp = &g->socks;
    while (*pp && (uv_handle_t *)&(*pp)->poll != h)
      pp = &(*pp)->next;
    if (*pp)
      *pp = (*pp)->next;
    free(h);
  }
  if (--g->open_handles == 0)
    free(g);
}

/* Stops watching a socket and closes its poll handle. */
static void
sock_close(struct sock *s)
{
  if (s->closing)
    return;
  s->closing = 1;
  uv_close((uv_handle_t *)&s->poll, on_closed);
}

/* Ends the request: reports (unless cancelled), cleans curl up, closes
 * the handles. Never called from inside a curl callback. */
static void
finish(struct httpget *g, int call, int status, const char *error)
{
  if (g->done)
    return;
  g->done = 1;
  if (call)
    g->cb(g->ctx, status, error);
  curl_multi_remove_handle(g->multi, g->easy);
  curl_easy_cleanup(g->easy);
  curl_multi_cleanup(g->multi);
  g->easy = NULL;
  g->multi = NULL;
  for (struct sock *s = g->socks; s; s = s->next)
    sock_close(s);
  uv_close((uv_handle_t *)&g->timer, on_closed);
}

/* Reports a finished transfer, if curl has one. */
static void
check_done(struct httpget *g)
{
  CURLMsg *msg;
  int left;

  while (!g->done && (msg = curl_multi_info_read(g->multi, &left)) != NULL) {
    long code = 0;
    if (msg->msg != CURLMSG_DONE)
      continue;
    if (msg->data.result == CURLE_OK) {
      curl_easy_getinfo(g->easy, CURLINFO_RESPONSE_CODE, &code);
      finish(g, 1, (int)code, NULL);
    } else {
      const char *why =
          g->errbuf[0] ? g->errbuf : curl_easy_strerror(msg->data.result);
      finish(g, 1, 0, why);
    }
  }
}

/* A watched socket is readable or writable (or failed). */
static void
on_poll(uv_poll_t *h, int status, int events)
{
  struct sock *s = (struct sock *)h; /* poll is the first member */
  struct httpget *g = s->get;
  int flags = 0, running;

  if (g->done)
    return;
  if (status < 0)
    flags = CURL_CSELECT_ERR;
  if (events & UV_READABLE)
    flags |= CURL_CSELECT_IN;
  if (events & UV_WRITABLE)
    flags |= CURL_CSELECT_OUT;
  curl_multi_socket_action(g->multi, s->fd, flags, &running);
  check_done(g);
}

/* curl's timeout expired. */
static void
on_timer(uv_timer_t *t)
{
  struct httpget *g = t->data;
  int running;

  if (g->done)
    return;
  if (g->add_failed) {
    finish(g, 1, 0, "cannot start the request");
    return;
  }
  curl_multi_socket_action(g->multi, CURL_SOCKET_TIMEOUT, 0, &running);
  check_done(g);
}

/* CURLMOPT_SOCKETFUNCTION: watch, change or forget a socket. */
static int
socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
  struct httpget *g = userp;
  struct sock *s = socketp;
  int events = 0;

  (void)easy;
  if (what == CURL_POLL_REMOVE) {
    if (s) {
      sock_close(s); /* stops polling now, before curl closes fd */
      if (!g->done)  /* not from inside curl_multi_cleanup */
        curl_multi_assign(g->multi, fd, NULL);
    }
    return 0;
  }
  if (g->done)
    return 0;
  if (!s) {
    s = xcalloc(1, sizeof *s);
    s->get = g;
    s->fd = fd;
    if (uv_poll_init_socket(g->loop, &s->poll, fd) != 0) {
      free(s);
      return -1; /* curl fails the transfer */
    }
    s->poll.data = g;
    s->next = g->socks;
    g->socks = s;
    g->open_handles++;
    curl_multi_assign(g->multi, fd, s);
  }
  if (what & CURL_POLL_IN)
    events |= UV_READABLE;
  if (what & CURL_POLL_OUT)
    events |= UV_WRITABLE;
  uv_poll_start(&s->poll, events, on_poll);
  return 0;
}

/* CURLMOPT_TIMERFUNCTION: (re)arm or stop the one timer. */
static int
timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
  struct httpget *g = userp;

  (void)multi;
  if (timeout_ms < 0)
    uv_timer_stop(&g->timer);
  else
    uv_timer_start(&g->timer, on_timer, (uint64_t)timeout_ms, 0);
  return 0;
}

/* CURLOPT_OPENSOCKETFUNCTION: every socket close-on-exec. */
static curl_socket_t
open_socket(void *clientp, curlsocktype purpose, struct curl_sockaddr *a)
{
  (void)clientp;
  (void)purpose;
  return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

/* CURLOPT_WRITEFUNCTION: a probe reads the status only; the body is
 * dropped as it arrives. */
static size_t
discard(char *data, size_t size, size_t n, void *userp)
{
  (void)data;
  (void)userp;
  return size * n;
}

struct httpget *
httpget_start(uv_loop_t *loop, const char *url, int64_t timeout_ms,
              httpget_cb cb, void *ctx)
{
  struct httpget *g = xcalloc(1, sizeof *g);

  global_init();
  g->loop = loop;
  g->cb = cb;
  g->ctx = ctx;
  g->multi = curl_multi_init();
  g->easy = curl_easy_init();
  if (!g->multi || !g->easy)
    abort(); /* allocation failure, as everywhere else */
  uv_timer_init(loop, &g->timer);
  g->timer.data = g;
  g->open_handles = 1;
  curl_multi_setopt(g->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
  curl_multi_setopt(g->multi, CURLMOPT_SOCKETDATA, g);
  curl_multi_setopt(g->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
  curl_multi_setopt(g->multi, CURLMOPT_TIMERDATA, g);
  curl_easy_setopt(g->easy, CURLOPT_URL, url);
  curl_easy_setopt(g->easy, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(g->easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(g->easy, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
  curl_easy_setopt(g->easy, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(g->easy, CURLOPT_PROXY, "");
  curl_easy_setopt(g->easy, CURLOPT_FORBID_REUSE, 1L);
  curl_easy_setopt(g->easy, CURLOPT_USERAGENT, "tend-probe");
  curl_easy_setopt(g->easy, CURLOPT_ERRORBUFFER, g->errbuf);
  curl_easy_setopt(g->easy, CURLOPT_OPENSOCKETFUNCTION, open_socket);
  curl_easy_setopt(g->easy, CURLOPT_WRITEFUNCTION, discard);
  curl_easy_setopt(g->easy, CURLOPT_PRIVATE, g);
  if (curl_multi_add_handle(g->multi, g->easy) != CURLM_OK) {
    /* Reported from the timer so that the caller never sees a callback
     * before httpget_start returned. */
    g->add_failed = 1;
    uv_timer_start(&g->timer, on_timer, 0, 0);
  }
  return g;
}

void
httpget_cancel(struct httpget *g)
{
  if (g)
    finish(g, 0, 0, NULL);
}
