/* runner: the runner actor: spawn, pipes, output buffering, stop protocol.
 * Its states and transitions are the table in runners/fsm.c; it reports
 * started / exited / stopped to its supervisor (src/sup.h messages). */
#ifndef TEND_RUNNER_H
#define TEND_RUNNER_H

#include <uv.h>

#include "src/actor.h"
#include "src/config.h"

struct runner;

/* Creates a stopped runner for spec (borrowed; outlives the runner or is
 * swapped by a reload). parent receives its reports. Opens its output log
 * under cfg->state_dir. */
struct runner *runner_new(uv_loop_t *loop, const struct config *cfg,
                          const struct config_node *spec, actor_id parent);
/* Points the runner at a reloaded spec (same name). A changed watch is
 * re-created; the restart of a changed runner is the supervisor's job. */
void runner_rebind(struct runner *runner, const struct config *cfg,
                   const struct config_node *spec);
/* The runner's actor id. */
actor_id runner_id(const struct runner *runner);
/* Frees a runner whose process is gone; cb(arg) runs after its handles
 * are closed. A live child is killed (SIGKILL to its group) first. */
void runner_close(struct runner *runner, void (*cb)(void *arg), void *arg);


#endif
