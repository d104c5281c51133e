/* tend: the coordination context (DESIGN.md, "Module map"). The web boundary
 * (ui/) and the CLI's replies go through these functions only; they never
 * reach into supervisors, runners or the store.
 *
 * Every function runs on the loop thread. JSON results are new references
 * (caller decrefs). Errors: 0 or a negative errno, with *cause (new, caller
 * frees) for the ones a user reads:
 *   -ENOENT  no runner/group of that name        -> HTTP 404
 *   -EINVAL  bad argument (unknown signal, ...)  -> HTTP 400
 *   -EBUSY   conflicts with the current state    -> HTTP 409
 */
#ifndef TEND_TEND_H
#define TEND_TEND_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct buf;
struct config_errors;

#define TEND_CMD_MAP(X)                                                        \
  X(START, "start")                                                            \
  X(STOP, "stop")                                                              \
  X(RESTART, "restart")                                                        \
  X(SIGNAL, "signal")

enum tend_cmd {
#define X(N, S) TEND_CMD_##N,
  TEND_CMD_MAP(X)
#undef X
};
const char *tend_cmd_name(enum tend_cmd c);
/* Returns 0 and *out, or -EINVAL. */
int tend_cmd_parse(const char *s, enum tend_cmd *out);

/* The whole tree: {"name","kind":"group"|"runner","state",... ,"children"}.
 * Runner fields: pid (null when none), run, restarts, last_exit
 * ({"status"|"signal","reason","ts"} or null), since (ms of the last
 * transition), next_start_ms (in backoff) and watch status. */
json_t *tend_tree_json(void);
/* One runner (kind "runner") or group (kind "group"), or NULL when there is
 * no node of that name and kind. */
json_t *tend_runner_json(const char *name);
json_t *tend_group_json(const char *name);

/* Runs a user command on a runner. signo is used by TEND_CMD_SIGNAL only. */
int tend_runner_cmd(const char *name, enum tend_cmd cmd, int signo,
                    char **cause);
/* Restarts a whole group (stop its children in reverse, start in order). */
int tend_group_restart(const char *name, char **cause);
/* Starts or stops a whole group (through its parent, so that a stopped
 * group is held like a stopped runner); "all" names the root when no node
 * is called that. Stopping the root stops the tree, not the daemon. */
int tend_group_start(const char *name, char **cause);
int tend_group_stop(const char *name, char **cause);
/* Writes data[0..len) to the terminal of a runner with "pty" (its input,
 * as if typed). -EBUSY when it has no pty, is not running, or has too
 * much input waiting already (the program does not read). */
int tend_runner_input(const char *name, const char *data, size_t len,
                      char **cause);
/* Sets the size of a pty runner's terminal (its programs get SIGWINCH).
 * -EINVAL for a size outside 1..1000; -EBUSY as for input. */
int tend_runner_resize(const char *name, int cols, int rows, char **cause);
/* Re-reads the config file and applies the difference (watchers issue).
 * Returns 0, or -EINVAL with every error in *errors (config_errors_free;
 * a state_dir change is one error without a position). */
int tend_reload(struct config_errors *errors);
/* Asks the daemon to stop the tree and exit (POST /api/v1/daemon/stop).
 * Returns 0, or -ENOTSUP when this process is not a daemon. */
int tend_daemon_stop(const char *why);
/* Resumes a watch paused by the restart-loop guard. */
int tend_watch_resume(const char *name, char **cause);

/* Chunks of a runner's output with seq > after, oldest first, at most
 * limit and at most max_bytes of stored JSON (0: no byte bound; the first
 * chunk always comes, whatever its size): *chunks is a new JSON array of
 * the chunk objects as stored on disk; *next is the seq of the last one
 * returned (or after when none). */
int tend_output_after(const char *name, uint64_t after, size_t limit,
                      size_t max_bytes, json_t **chunks, uint64_t *next);
/* The same for the event log (topic "events"). */
int tend_events_after(uint64_t after, size_t limit, size_t max_bytes,
                      json_t **events, uint64_t *next);
/* The seq of the newest chunk of a runner (0 when none), or -ENOENT. */
int tend_output_last_seq(const char *name, uint64_t *seq);
/* The seq of the newest event (0 when none). */
uint64_t tend_events_last_seq(void);

/* Appends Prometheus text-format metrics of the supervision and output
 * contexts to out. */
void tend_metrics_text(struct buf *out);

/* Daemon facts for /healthz, daemon.json and the UI: {"version","pid",
 * "config","config_hash","state_dir","started_ms","config_error"}. */
json_t *tend_daemon_json(void);

/* ---- For the daemon (src/daemon.c) and src/sup.c, not for ui/. ---- */

#include <uv.h>

struct config;
struct store;

/* What the daemon hears from the coordination context. */
struct tend_hooks {
  void (*gave_up)(void *ctx); /* the root group failed */
  void (*stopped)(void *ctx); /* the whole tree is stopped */
  void *ctx;
  /* asked to stop the tree and exit (tend down); NULL: refused */
  void (*stop)(void *ctx, const char *why);
};

/* Opens the context on cfg (stolen): state dir, event log, read model and
 * the supervision tree (nothing started). Returns 0 or -errno + cause. */
int tend_open(uv_loop_t *loop, struct config *cfg,
              const struct tend_hooks *hooks, char **cause);
/* Starts the tree (root group, in order). */
void tend_start(void);
/* Stops the tree in reverse order; hooks->stopped runs when it is down. */
void tend_stop(void);
/* SIGKILLs every live process group at once (second Ctrl-C). */
void tend_kill_all(void);
/* Frees everything; cb(arg) runs when every handle is closed. */
void tend_close(void (*cb)(void *arg), void *arg);
/* The applied config (borrowed). */
const struct config *tend_config(void);
/* The read model's status of a node (borrowed; NULL when unknown). At
 * start-up it holds what the previous daemon's state.json said, so that a
 * new runner or group continues its run and restart counters. */
const json_t *tend_node_status(const char *name);

struct runner_env;
/* What every runner is created with (borrowed; valid until tend_close):
 * the inotify service, the registry of what runners announce, the read
 * model and the callbacks for process groups and user-style asks. */
const struct runner_env *tend_runner_env(void);

/* Returns 1 when pid leads a live run (libuv, not tend, reaps it). */
int tend_is_leader(int pid);

#endif
