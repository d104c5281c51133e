/* health: liveness probes (see health.h).
 *
 * DESIGN
 * One check at a time: the probe waits initial_delay_s, checks, and
 * schedules the next check every_s after the previous one ended, so a slow
 * check never overlaps the next. Each check has its own deadline
 * (timeout_s): an HTTP GET gives up by itself (libcurl's timeout), a TCP
 * connect is abandoned, a command is killed with its whole process group
 * (it runs detached, so a shell's children go too).
 *
 * What the probe says is published as events, and the read model
 * (state/view.c) folds them into the runner's "health": `health_ok` when
 * checks pass again (or for the first time), `health_failed` for each
 * failure (failures N of M, the error), `unhealthy` when M failures in a
 * row end the run. A passing check after a passing check says nothing.
 *
 * Handles follow the libuv rule: every handle is counted and the probe is
 * freed after its last close callback, so health_stop() from inside any of
 * its callbacks (the runner ending the run) is safe. */
#include "runners/health.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runners/httpget.h"
#include "runners/probe.h"
#include "runners/procnet.h"
#include "src/events.h"
#include "src/xalloc.h"

struct health {
  uv_loop_t *loop;
  const struct config_node *spec;
  const struct config_health *h;
  int pgid;
  health_cb cb;
  void *ctx;
  int done;
  int open_handles;
  int failures;        /* in a row */
  int passing;         /* the last check passed */
  uv_timer_t next;     /* the next check */
  uv_timer_t deadline; /* the check in flight (tcp, exec) */
  /* tcp */
  uv_tcp_t *tcp;
  uv_connect_t connect_req;
  struct procnet_cache cache;
  /* exec */
  uv_process_t *proc;
  int timed_out;
  /* http */
  struct httpget *get;
};

/* Counts a closed handle; frees the probe after the last. */
static void
on_closed(uv_handle_t *h)
{
  struct health *p = h->data;
  if (h != (uv_handle_t *)&p->next && h != (uv_handle_t *)&p->deadline)
    free(h);
  if (--p->open_handles == 0)
    free(p);
}

/* Ends the probe: closes what is open; calls back when unhealthy. */
static void
finish(struct health *p, const char *why)
{
  if (p->done)
    return;
  p->done = 1;
  uv_close((uv_handle_t *)&p->next, on_closed);
  uv_close((uv_handle_t *)&p->deadline, on_closed);
  if (p->tcp && !uv_is_closing((uv_handle_t *)p->tcp))
    uv_close((uv_handle_t *)p->tcp, on_closed);
  p->tcp = NULL;
  httpget_cancel(p->get);
  p->get = NULL;
  if (p->proc && p->proc->pid > 0)
    kill(-p->proc->pid, SIGKILL); /* not reaped yet: the group is ours */
  /* the command's handle closes in its exit callback, once reaped */
  if (why)
    p->cb(p->ctx, why);
}

/* Publishes a health event for the runner. */
static void
emit(struct health *p, enum events_type type, const char *error,
     const char *message)
{
  struct tend_event ev = {.type = type,
                          .node = p->spec->name,
                          .runner = p->spec->name,
                          .probe = config_probe_name(p->h->kind),
                          .failures = p->failures,
                          .of = p->h->failures,
                          .error = error,
                          .message = message};
  events_emit(&ev);
}

static void on_next(uv_timer_t *t);

/* Takes the verdict of one check: counts failures, publishes changes,
 * schedules the next check or gives up on the run. */
static void
verdict(struct health *p, int ok, const char *error)
{
  char msg[384];

  if (p->done)
    return;
  uv_timer_stop(&p->deadline);
  if (ok) {
    if (!p->passing) {
      p->failures = 0;
      p->passing = 1;
      snprintf(msg, sizeof msg, "health check passing");
      emit(p, EVENTS_HEALTH_OK, NULL, msg);
    }
    p->failures = 0;
  } else {
    p->passing = 0;
    p->failures++;
    if (p->failures >= p->h->failures) {
      char why[320];
      snprintf(why, sizeof why, "unhealthy: %s (%d failed check%s in a row)",
               error, p->failures, p->failures == 1 ? "" : "s");
      snprintf(msg, sizeof msg, "%s", why + strlen("unhealthy: "));
      emit(p, EVENTS_UNHEALTHY, error, msg);
      finish(p, why);
      return;
    }
    snprintf(msg, sizeof msg, "health check failed (%d of %d): %s", p->failures,
             p->h->failures, error);
    emit(p, EVENTS_HEALTH_FAILED, error, msg);
  }
  uv_timer_start(&p->next, on_next, (uint64_t)p->h->every_ms, 0);
}

/* ------------------------------------------------------------------ */
/* http                                                                  */

/* The GET answered (or failed). */
static void
on_http(void *ctx, int status, const char *error)
{
  struct health *p = ctx;
  char why[256];

  p->get = NULL;
  if (status > 0 && config_http_status_ok(&p->h->status, status)) {
    verdict(p, 1, NULL);
    return;
  }
  probe_http_why(why, sizeof why, p->h->url, status, error);
  verdict(p, 0, why);
}

/* ------------------------------------------------------------------ */
/* tcp                                                                   */

/* Closes the connection attempt in flight, if any. */
static void
tcp_drop(struct health *p)
{
  if (p->tcp && !uv_is_closing((uv_handle_t *)p->tcp))
    uv_close((uv_handle_t *)p->tcp, on_closed);
  p->tcp = NULL;
}

/* The connect attempt finished. */
static void
on_connect(uv_connect_t *req, int status)
{
  struct health *p = req->data;
  char why[200];

  if (req->handle != (uv_stream_t *)p->tcp)
    return; /* an attempt abandoned at its deadline */
  tcp_drop(p);
  if (p->done)
    return;
  if (status != 0) {
    snprintf(why, sizeof why, "tcp port %d: %s", p->h->port,
             uv_strerror(status));
    verdict(p, 0, why);
  } else if (!procnet_check(p->h->port, p->pgid, &p->cache, why, sizeof why)) {
    verdict(p, 0, why);
  } else {
    verdict(p, 1, NULL);
  }
}

/* Connects to the port on loopback. */
static void
check_tcp(struct health *p)
{
  uv_tcp_t *tcp = xcalloc(1, sizeof *tcp);
  int rc;

  tcp->data = p;
  p->open_handles++;
  p->tcp = tcp;
  p->connect_req.data = p;
  rc = probe_connect(p->loop, tcp, &p->connect_req, p->h->port, on_connect);
  if (rc != 0) {
    char why[128];
    tcp_drop(p);
    snprintf(why, sizeof why, "tcp port %d: %s", p->h->port, uv_strerror(rc));
    verdict(p, 0, why);
  }
}

/* ------------------------------------------------------------------ */
/* exec                                                                  */

/* The check command exited (or was killed at its deadline). */
static void
on_exit_cb(uv_process_t *proc, int64_t status, int term_signal)
{
  struct health *p = proc->data;
  char why[200];

  p->proc = NULL;
  uv_close((uv_handle_t *)proc, on_closed);
  if (p->done)
    return;
  if (p->timed_out)
    snprintf(why, sizeof why, "health command timed out after %g s",
             (double)p->h->timeout_ms / 1000.0);
  else if (term_signal)
    snprintf(why, sizeof why, "health command killed by signal %s",
             config_signal_name(term_signal));
  else
    snprintf(why, sizeof why, "health command exited with status %d",
             (int)status);
  verdict(p, status == 0 && term_signal == 0 && !p->timed_out, why);
}

/* Runs the check command in its own process group. */
static void
check_exec(struct health *p)
{
  uv_process_t *proc = xcalloc(1, sizeof *proc);
  int rc;

  proc->data = p;
  p->open_handles++;
  p->timed_out = 0;
  rc = probe_exec(p->loop, proc, p->h->argv, p->spec->cwd, UV_PROCESS_DETACHED,
                  on_exit_cb);
  if (rc != 0) {
    char why[200];
    uv_close((uv_handle_t *)proc, on_closed);
    snprintf(why, sizeof why, "health command %s: %s", p->h->argv[0],
             uv_strerror(rc));
    verdict(p, 0, why);
    return;
  }
  p->proc = proc;
}

/* ------------------------------------------------------------------ */
/* Schedule                                                              */

/* A check took longer than timeout_s. */
static void
on_deadline(uv_timer_t *t)
{
  struct health *p = t->data;
  char why[96];

  if (p->done)
    return;
  if (p->proc) {
    p->timed_out = 1;
    kill(-p->proc->pid, SIGKILL); /* the verdict comes from its exit */
    return;
  }
  if (p->tcp) {
    tcp_drop(p);
    snprintf(why, sizeof why, "tcp port %d: no answer within %g s", p->h->port,
             (double)p->h->timeout_ms / 1000.0);
    verdict(p, 0, why);
  }
}

/* Time for the next check. */
static void
on_next(uv_timer_t *t)
{
  struct health *p = t->data;

  if (p->done)
    return;
  switch (p->h->kind) {
  case CONFIG_PROBE_HTTP:
    /* libcurl keeps the deadline itself. */
    p->get = httpget_start(p->loop, p->h->url, p->h->timeout_ms, on_http, p);
    return;
  case CONFIG_PROBE_TCP:
    uv_timer_start(&p->deadline, on_deadline, (uint64_t)p->h->timeout_ms, 0);
    check_tcp(p);
    return;
  case CONFIG_PROBE_EXEC:
    uv_timer_start(&p->deadline, on_deadline, (uint64_t)p->h->timeout_ms, 0);
    check_exec(p);
    return;
  default:
    return;
  }
}

struct health *
health_start(uv_loop_t *loop, const struct config_node *spec, int pgid,
             health_cb cb, void *ctx)
{
  struct health *p = xcalloc(1, sizeof *p);

  p->loop = loop;
  p->spec = spec;
  p->h = &spec->health;
  p->pgid = pgid;
  p->cb = cb;
  p->ctx = ctx;
  p->cache = (struct procnet_cache)PROCNET_CACHE_ZERO;
  uv_timer_init(loop, &p->next);
  uv_timer_init(loop, &p->deadline);
  p->next.data = p->deadline.data = p;
  p->open_handles = 2;
  uv_timer_start(&p->next, on_next, (uint64_t)p->h->initial_delay_ms, 0);
  return p;
}

void
health_stop(struct health *p)
{
  if (p)
    finish(p, NULL);
}
