/* statefile: when and what the daemon writes to <state_dir>/state.json,
 * and the read model's seeding from the previous daemon's file.
 *
 * Critical changes (an exit, a give-up, a stop, a config applied) start a
 * write at once, at most one whole-tree write per SNAPSHOT_MIN_GAP_MS; the
 * rest are written within a second. The text is made on the loop, the
 * write (tmp, fsync, rename: state/snapshot.c) on the threadpool, and
 * writes coalesce while one is in flight. */
#ifndef TEND_STATEFILE_H
#define TEND_STATEFILE_H

#include <jansson.h>
#include <uv.h>

struct config;
struct view;
struct statefile;

/* Where the document's parts come from, asked at each write. */
struct statefile_source {
  /* The applied config (borrowed): its file, hash and state dir. */
  const struct config *(*config)(void *ctx);
  /* The tree with every status (new reference). */
  json_t *(*tree)(void *ctx);
  /* The live process groups, {"<runner>": {"pgid", "start"}} (new). */
  json_t *(*groups)(void *ctx);
  void *ctx;
};

/* Creates the writer (nothing is written until a touch). src is copied. */
struct statefile *statefile_new(uv_loop_t *loop,
                                const struct statefile_source *src);
/* Notes a change of the state: critical ones are written at once. */
void statefile_touch(struct statefile *sf, int critical);
/* Writes the last word, waits for every write in flight, closes the timer
 * and frees sf; cb(arg) runs after that. */
void statefile_close(struct statefile *sf, void (*cb)(void *arg), void *arg);

/* The whole document for a write (new reference); public for tests. */
json_t *statefile_json(const struct statefile_source *src);
/* Seeds view from cfg's state.json, if any: every node of the saved tree
 * that is still in cfg, with the same kind, keeps its counters and last
 * exit (view_restore). */
void statefile_restore(const struct config *cfg, struct view *view);

#endif
