/* runner: the runner actor: spawn, pipes, output buffering, stop protocol.
 * Its states and transitions are the table in runners/fsm.c; it reports
 * started / exited / stopped to its supervisor (src/sup.h messages). */
#ifndef TEND_RUNNER_H
#define TEND_RUNNER_H

#include <uv.h>

#include "src/actor.h"
#include "src/config.h"

struct inotify_service;
struct registry;
struct runner;
struct view;

/* What a user-style command a runner asks of its supervisor is. */
enum runner_ask {
  RUNNER_ASK_START,
  RUNNER_ASK_RESTART,
};

/* What a runner gets from the daemon when it is created (borrowed; the
 * same for every runner, and it outlives them all). */
struct runner_env {
  /* The one inotify service; NULL when file watching is off. */
  struct inotify_service *inotify;
  /* Where the runner announces its output log, watch and live pty. */
  struct registry *registry;
  /* The read model: a previous daemon's counters seed the runner's. */
  const struct view *view;
  /* The runner's live process group changed (pid = pgid; 0: none), with
   * its start time from /proc, for recovery after a SIGKILL. */
  void (*note_group)(void *ctx, const char *name, int pid,
                     unsigned long long start);
  /* Sends the supervisor parent a user-style command about the runner
   * self called name (a watch or "on_busy" action: not a crash). */
  void (*ask)(void *ctx, actor_id parent, actor_id self, const char *name,
              enum runner_ask what);
  void *ctx;
};

/* Creates a stopped runner for spec (borrowed; outlives the runner or is
 * swapped by a reload). parent receives its reports. Opens its output log
 * under cfg->state_dir. */
struct runner *runner_new(uv_loop_t *loop, const struct config *cfg,
                          const struct config_node *spec, actor_id parent,
                          const struct runner_env *env);
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
