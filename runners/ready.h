/* ready: readiness probes for a runner: {"tcp": PORT} (a connect to
 * 127.0.0.1:PORT succeeds and the listening socket belongs to the run's
 * own process group), {"exec": CMD} (the command exits 0), {"log": REGEX}
 * (a line of the runner's output matches) and {"http": URL} (a GET
 * answers an accepted status). While a check keeps failing for a reason
 * worth telling, a "ready_waiting" event says why (the read model shows it
 * as the runner's "waiting"). */
#ifndef TEND_READY_H
#define TEND_READY_H

#include <stddef.h>
#include <uv.h>

#include "src/config.h"

struct ready;

/* Called once with ok = 1 (ready) or 0 (why says why); the probe frees
 * itself after the call. */
typedef void (*ready_cb)(void *ctx, int ok, const char *why);

/* Starts the probe that spec->ready names (spec borrowed) for the run
 * whose process group is pgid. */
struct ready *ready_start(uv_loop_t *loop, const struct config_node *spec,
                          int pgid, ready_cb cb, void *ctx);
/* Feeds runner output to a log probe (other probes ignore it). */
void ready_feed(struct ready *probe, const char *data, size_t len);
/* Stops a probe without calling back; it frees itself. NULL is a no-op. */
void ready_cancel(struct ready *probe);

#endif
