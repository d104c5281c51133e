/* ready: readiness probes.
 *
 * A probe retries its check on a short timer until it passes or the
 * timeout_s deadline passes. Every handle it owns is counted; the probe is
 * freed only after its last close callback, so a cancel from inside any of
 * its callbacks is safe.
 *
 * A tcp check that connects is not enough: with the port already taken by
 * another process, the runner's server fails while the connect succeeds
 * to the other one. So a connect that succeeds is followed by a look at
 * /proc (runners/procnet.c): the listening socket must be open in a
 * process of the run's process group. Until then the probe keeps waiting
 * and says why, once per new reason, as a "ready_waiting" event; the
 * timeout's message repeats the last reason. */
#include "runners/ready.h"

#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include "runners/httpget.h"
#include "runners/probe.h"
#include "runners/procnet.h"
#include "src/events.h"
#include "src/log.h"
#include "src/xalloc.h"

#define TCP_RETRY_MS 50
#define TCP_HELD_RETRY_MS                                                      \
  250 /* the port is someone else's: look at /proc                             \
         less often */
#define EXEC_RETRY_MS 200
#define HTTP_RETRY_MS 200
#define HTTP_TRY_MS 2000 /* one GET's own limit */

struct ready {
  uv_loop_t *loop;
  const struct config_node *spec;
  ready_cb cb;
  void *ctx;
  int pgid;          /* the run's process group */
  int done;          /* verdict given or cancelled */
  char waiting[200]; /* the last reason published */
  int open_handles;
  uv_timer_t deadline;
  uv_timer_t retry;
  /* tcp */
  uv_tcp_t *tcp; /* one attempt at a time */
  uv_connect_t connect_req;
  /* exec */
  uv_process_t *proc;
  struct procnet_cache cache;
  /* http */
  struct httpget *get;
  /* log */
  regex_t re;
  int re_ok;
};

/* Counts a closed handle; frees the probe after the last. */
static void
on_closed(uv_handle_t *h)
{
  struct ready *p = h->data;
  if (h != (uv_handle_t *)&p->deadline && h != (uv_handle_t *)&p->retry)
    free(h);
  if (--p->open_handles > 0)
    return;
  if (p->re_ok)
    regfree(&p->re);
  free(p);
}

/* Ends the probe: closes what is open; calls back unless cancelled. */
static void
finish(struct ready *p, int call, int ok, const char *why)
{
  if (p->done)
    return;
  p->done = 1;
  uv_close((uv_handle_t *)&p->deadline, on_closed);
  uv_close((uv_handle_t *)&p->retry, on_closed);
  if (p->tcp && !uv_is_closing((uv_handle_t *)p->tcp))
    uv_close((uv_handle_t *)p->tcp, on_closed);
  p->tcp = NULL;
  httpget_cancel(p->get);
  p->get = NULL;
  if (p->proc) {
    uv_process_kill(p->proc, SIGKILL);
    /* closed in its exit callback so that libuv reaps it first */
  }
  if (call)
    p->cb(p->ctx, ok, why);
}

/* The whole probe took too long. */
static void
on_deadline(uv_timer_t *t)
{
  struct ready *p = t->data;
  char why[320];
  snprintf(why, sizeof why, "readiness check (%s) timed out after %g s%s%s",
           config_ready_name(p->spec->ready),
           (double)p->spec->ready_timeout_ms / 1000.0,
           p->waiting[0] ? ": " : "", p->waiting);
  finish(p, 1, 0, why);
}

/* Publishes why the check still fails, when the reason is new. */
static void
note_waiting(struct ready *p, const char *why)
{
  struct tend_event ev = {.type = EVENTS_READY_WAITING,
                          .node = p->spec->name,
                          .runner = p->spec->name,
                          .check = config_ready_name(p->spec->ready),
                          .reason = why};
  char *msg;

  if (strcmp(p->waiting, why) == 0)
    return;
  snprintf(p->waiting, sizeof p->waiting, "%s", why);
  ev.message = msg = xasprintf("not ready: %s", why);
  events_emit(&ev);
  free(msg);
}

static void try_tcp(struct ready *p);
static void try_exec(struct ready *p);
static void try_http(struct ready *p);

/* Retries the check. */
static void
on_retry(uv_timer_t *t)
{
  struct ready *p = t->data;
  if (p->done)
    return;
  if (p->spec->ready == CONFIG_READY_TCP)
    try_tcp(p);
  else if (p->spec->ready == CONFIG_READY_EXEC)
    try_exec(p);
  else if (p->spec->ready == CONFIG_READY_HTTP)
    try_http(p);
}

/* A connect attempt finished. */
static void
on_connect(uv_connect_t *req, int status)
{
  struct ready *p = req->data;
  uv_tcp_t *tcp = p->tcp;

  if (tcp && !uv_is_closing((uv_handle_t *)tcp))
    uv_close((uv_handle_t *)tcp, on_closed);
  p->tcp = NULL;
  if (p->done)
    return;
  if (status == 0) {
    char why[200];
    if (procnet_check(p->spec->ready_port, p->pgid, &p->cache, why,
                      sizeof why)) {
      snprintf(why, sizeof why, "tcp port %d accepts", p->spec->ready_port);
      finish(p, 1, 1, why);
      return;
    }
    note_waiting(p, why);
    uv_timer_start(&p->retry, on_retry, TCP_HELD_RETRY_MS, 0);
    return;
  } else if (p->waiting[0]) {
    /* Refused again (the other process let go): say so, once. */
    char why[96];
    snprintf(why, sizeof why, "tcp port %d: %s", p->spec->ready_port,
             uv_strerror(status));
    note_waiting(p, why);
  }
  uv_timer_start(&p->retry, on_retry, TCP_RETRY_MS, 0);
}

/* Tries to connect to the port on loopback. */
static void
try_tcp(struct ready *p)
{
  uv_tcp_t *tcp = xcalloc(1, sizeof *tcp);

  tcp->data = p;
  p->open_handles++;
  p->tcp = tcp;
  p->connect_req.data = p;
  if (probe_connect(p->loop, tcp, &p->connect_req, p->spec->ready_port,
                    on_connect) != 0) {
    uv_close((uv_handle_t *)tcp, on_closed);
    p->tcp = NULL;
    uv_timer_start(&p->retry, on_retry, TCP_RETRY_MS, 0);
  }
}

/* The check command exited. */
static void
on_exec_exit(uv_process_t *proc, int64_t status, int term_signal)
{
  struct ready *p = proc->data;

  p->proc = NULL;
  uv_close((uv_handle_t *)proc, on_closed);
  if (p->done)
    return;
  if (status == 0 && term_signal == 0) {
    finish(p, 1, 1, "readiness command exited 0");
    return;
  }
  uv_timer_start(&p->retry, on_retry, EXEC_RETRY_MS, 0);
}

/* Runs the check command once. */
static void
try_exec(struct ready *p)
{
  uv_process_t *proc = xcalloc(1, sizeof *proc);
  int rc;

  proc->data = p;
  p->open_handles++;
  rc = probe_exec(p->loop, proc, p->spec->ready_argv, p->spec->cwd, 0,
                  on_exec_exit);
  if (rc != 0) {
    char why[160];
    uv_close((uv_handle_t *)proc, on_closed);
    snprintf(why, sizeof why, "readiness command %s: %s",
             p->spec->ready_argv[0], uv_strerror(rc));
    finish(p, 1, 0, why);
    return;
  }
  p->proc = proc;
}

/* The GET answered (or failed). */
static void
on_http(void *ctx, int status, const char *error)
{
  struct ready *p = ctx;
  char why[256];

  p->get = NULL;
  if (p->done)
    return;
  probe_http_why(why, sizeof why, p->spec->ready_url, status, error);
  if (status > 0 && config_http_status_ok(&p->spec->ready_status, status)) {
    finish(p, 1, 1, why);
    return;
  }
  note_waiting(p, why);
  uv_timer_start(&p->retry, on_retry, HTTP_RETRY_MS, 0);
}

/* Sends one GET to the readiness URL. */
static void
try_http(struct ready *p)
{
  int64_t limit = p->spec->ready_timeout_ms < HTTP_TRY_MS
                      ? p->spec->ready_timeout_ms
                      : HTTP_TRY_MS;
  p->get = httpget_start(p->loop, p->spec->ready_url, limit, on_http, p);
}

struct ready *
ready_start(uv_loop_t *loop, const struct config_node *spec, int pgid,
            ready_cb cb, void *ctx)
{
  struct ready *p = xcalloc(1, sizeof *p);

  p->loop = loop;
  p->spec = spec;
  p->pgid = pgid;
  p->cache = (struct procnet_cache)PROCNET_CACHE_ZERO;
  p->cb = cb;
  p->ctx = ctx;
  uv_timer_init(loop, &p->deadline);
  uv_timer_init(loop, &p->retry);
  p->deadline.data = p->retry.data = p;
  p->open_handles = 2;
  uv_timer_start(&p->deadline, on_deadline, (uint64_t)spec->ready_timeout_ms,
                 0);
  switch (spec->ready) {
  case CONFIG_READY_TCP:
    try_tcp(p);
    break;
  case CONFIG_READY_EXEC:
    try_exec(p);
    break;
  case CONFIG_READY_HTTP:
    try_http(p);
    break;
  case CONFIG_READY_LOG:
    p->re_ok = regcomp(&p->re, spec->ready_regex,
                       REG_EXTENDED | REG_NOSUB | REG_NEWLINE) == 0;
    break;
  default:
    break;
  }
  return p;
}

void
ready_feed(struct ready *p, const char *data, size_t len)
{
  char *text;

  if (!p || p->done || p->spec->ready != CONFIG_READY_LOG || !p->re_ok)
    return;
  text = xstrndup(data, len);
  if (regexec(&p->re, text, 0, NULL, 0) == 0)
    finish(p, 1, 1, "log line matched");
  free(text);
}

void
ready_cancel(struct ready *p)
{
  if (p)
    finish(p, 0, 0, NULL);
}
