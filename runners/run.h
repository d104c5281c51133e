/* run: one run of a runner's command: the child process (its own session
 * and process group), its stdout and stderr pipes or its pty, and the
 * wait for the whole group to be gone. Its output goes to the runner's
 * output (runners/output.c); the runner (runners/runner.c) decides what
 * a run means. */
#ifndef TEND_RUN_H
#define TEND_RUN_H

#include <stdint.h>
#include <uv.h>

struct config_node;
struct output;
struct run;

/* What a run tells its runner. Neither is called after run_release. */
struct run_hooks {
  /* libuv reaped the leader; members of its group may be left. */
  void (*leader_exit)(void *ctx);
  /* The run is over: the leader was reaped, the group is empty and the
   * output reached EOF (or the EOF grace passed). How the leader ended:
   * status, or term_signal when a signal killed it. */
  void (*done)(void *ctx, int64_t status, int term_signal);
  void *ctx;
};

/* Spawns spec's command with env (a NULL-terminated "KEY=VALUE" array,
 * borrowed) in spec->cwd, on a pty when spec->pty. out (borrowed until
 * run_release) receives what it writes. Returns the run, or NULL with
 * *why (new) saying why the command could not start. */
struct run *run_spawn(uv_loop_t *loop, const struct config_node *spec,
                      char **env, struct output *out,
                      const struct run_hooks *hooks, char **why);
/* The leader's pid (its pgid too). */
int run_pid(const struct run *run);
/* The pty's master while it can be written (borrowed), else NULL. */
uv_stream_t *run_master(const struct run *run);
/* Returns 1 while the leader lives and its group is known to be ours. */
int run_live(const struct run *run);
/* Reaps exited members of the group and returns 1 when any is left (only
 * valid after the leader was reaped). */
int run_has_members(struct run *run);
/* Sends signo to the run's process group while it is known to be ours
 * (run NULL: no-op). */
void run_signal(struct run *run, int signo);
/* Looks again whether the run is over (after a signal or a stop). */
void run_check(struct run *run);
/* Stops and resumes reading the output (the log is behind). */
void run_pause_reading(struct run *run);
void run_resume_reading(struct run *run);
/* Lets go of the run: no more hooks nor output; it closes its handles and
 * frees itself (a live child should have been killed first). */
void run_release(struct run *run);

#endif
