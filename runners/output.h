/* output: a runner's output path: the bytes its pipes (or its pty) give,
 * buffered (runners/outbuf.c), cut into chunks stamped with the next seq,
 * appended to the runner's output log (state/store.c) and published on
 * "output/<name>" (src/pubsub.c). It owns the flush deadline, the retry
 * of a log that cannot be written, and the backpressure that tells the
 * runner to stop reading while the log is behind. */
#ifndef TEND_OUTPUT_H
#define TEND_OUTPUT_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "runners/outbuf.h"

struct config_node;
struct output;
struct store;

/* What the output tells its runner. */
struct output_hooks {
  /* A chunk of the child's output was cut (borrowed, during the call). */
  void (*chunk)(void *ctx, const char *data, size_t len);
  /* The log is behind: stop reading the child's output; read again. */
  void (*pause)(void *ctx);
  void (*resume)(void *ctx);
  void *ctx;
};

/* Opens the output of spec's runner (borrowed only during the call): its
 * log <state_dir>/output/<name>.jsonl, with an event when it cannot be
 * opened or a torn last line was cut. hooks is copied. */
struct output *output_new(uv_loop_t *loop, const char *state_dir,
                          const struct config_node *spec,
                          const struct output_hooks *hooks);
/* The output log (borrowed), or NULL when it could not be opened. */
struct store *output_store(const struct output *out);
/* The run number of the newest chunk of the log (0 when none). */
uint64_t output_last_run(const struct output *out);
/* Sets the run number stamped on the chunks from now on. */
void output_set_run(struct output *out, uint64_t run);
/* Says whether the current run writes to a terminal (its chunks are
 * "pty" and flushed sooner, partial lines included). */
void output_set_pty(struct output *out, int pty);

/* Room for at least one read of stream's bytes (a libuv alloc_cb). */
char *output_reserve(struct output *out, enum outbuf_stream stream,
                     size_t *avail);
/* Accounts n bytes read into that room: flushes when the buffer is full
 * (then pauses the reader if even that made no room), else arms the
 * flush deadline. */
void output_commit(struct output *out, enum outbuf_stream stream, size_t n);
/* stream reached EOF: its partial last line may go out. */
void output_eof(struct output *out, enum outbuf_stream stream);
/* Flushes pending output as chunks. final: the run ended (partial lines
 * go out too). */
void output_flush(struct output *out, int final);
/* Writes a lifecycle marker ("stream":"tend") after the pending output:
 * text, and extra (JSON members, without braces) inside the chunk. */
void output_marker(struct output *out, const char *extra, const char *text);

/* Closes the timers and the log and frees out; cb(arg) runs after. */
void output_close(struct output *out, void (*cb)(void *arg), void *arg);

#endif
