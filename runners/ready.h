/* ready: readiness probes for a runner: {"tcp": PORT} (a connect to
 * 127.0.0.1:PORT succeeds), {"exec": CMD} (the command exits 0) and
 * {"log": REGEX} (a line of the runner's output matches). */
#ifndef TEND_READY_H
#define TEND_READY_H

#include <stddef.h>
#include <uv.h>

#include "src/config.h"

struct ready;

/* Called once with ok = 1 (ready) or 0 (why says why); the probe frees
 * itself after the call. */
typedef void (*ready_cb)(void *ctx, int ok, const char *why);

/* Starts the probe that spec->ready names (spec borrowed). */
struct ready *ready_start(uv_loop_t *loop, const struct config_node *spec,
                          ready_cb cb, void *ctx);
/* Feeds runner output to a log probe (other probes ignore it). */
void ready_feed(struct ready *probe, const char *data, size_t len);
/* Stops a probe without calling back; it frees itself. NULL is a no-op. */
void ready_cancel(struct ready *probe);

#endif
