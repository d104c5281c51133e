/* health: a run's liveness probe ("health" in tend.json): an HTTP GET, a
 * TCP connect (to a socket of the run's own process group) or a command,
 * every every_s after initial_delay_s; after `failures` failed checks in
 * a row the run is unhealthy and the runner ends it as a crash. */
#ifndef TEND_HEALTH_H
#define TEND_HEALTH_H

#include <uv.h>

#include "src/config.h"

struct health;

/* Called once when the run is unhealthy; why reads "unhealthy: ...". The
 * probe frees itself after the call. */
typedef void (*health_cb)(void *ctx, const char *why);

/* Starts the probe spec->health describes (spec borrowed) for the run
 * whose process group is pgid. */
struct health *health_start(uv_loop_t *loop, const struct config_node *spec,
                            int pgid, health_cb cb, void *ctx);
/* Stops a probe without calling back; it frees itself. NULL is a no-op. */
void health_stop(struct health *probe);

#endif
