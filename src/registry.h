/* registry: what the live runners announce about themselves, by runner
 * name: their output log, their watch, the master of a live pty run and
 * their live process group (for recovery after a SIGKILL of the daemon).
 * The door (src/tend.c) reads it to answer the API, src/metrics.c for
 * /metrics and src/statefile.c for state.json's "process_groups".
 *
 * Every pointer kept is borrowed from the runner that announced it and is
 * valid until the runner forgets it (a set to NULL). Loop thread only. */
#ifndef TEND_REGISTRY_H
#define TEND_REGISTRY_H

#include <jansson.h>
#include <uv.h>

struct config_node;
struct store;
struct watch;
struct registry;

/* A live pty run: its master (borrowed from the run) and current size. */
struct registry_pty {
  uv_stream_t *master;
  int cols, rows;
};

struct registry *registry_new(void);
/* Frees the registry (NULL: no-op); nothing it points to is freed. */
void registry_free(struct registry *reg);

/* Announces (store NULL: forgets) a runner's output log. */
void registry_set_store(struct registry *reg, const char *name,
                        struct store *store);
/* The output log of a runner (borrowed), or NULL. */
struct store *registry_store(const struct registry *reg, const char *name);

/* Announces (watch NULL: forgets) a runner's watch. */
void registry_set_watch(struct registry *reg, const char *name,
                        struct watch *watch);
/* The watch of a runner (borrowed), or NULL. */
struct watch *registry_watch(const struct registry *reg, const char *name);

/* Announces (master NULL: forgets) the master of a live pty run with the
 * terminal's size. */
void registry_set_pty(struct registry *reg, const char *name,
                      uv_stream_t *master, int cols, int rows);
/* The live pty of a runner (borrowed; its size may be updated), or NULL. */
struct registry_pty *registry_pty(const struct registry *reg, const char *name);

/* Notes a runner's live process group (pid = pgid; 0: the run is over)
 * with its start time from /proc. */
void registry_note_group(struct registry *reg, const char *name, int pid,
                         unsigned long long start);
/* Returns 1 when pid leads a live run. */
int registry_is_leader(const struct registry *reg, int pid);
/* Sends signo to the live group of every runner below node. */
void registry_signal_groups(const struct registry *reg,
                            const struct config_node *node, int signo);
/* The live groups of the runners below node, in config order, as
 * state.json's {"<name>": {"pgid", "start"}} (new reference). */
json_t *registry_groups_json(const struct registry *reg,
                             const struct config_node *node);

#endif
