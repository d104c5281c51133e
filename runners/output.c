/* output: a runner's output path (runners/output.h).
 *
 * DESIGN
 * Bytes collect in an outbuf; a flush (at most 100 ms after the first
 * unflushed byte, or at once when the buffer is full) cuts chunks, stamps
 * them with the next seq, appends them to the runner's log and publishes
 * them on "output/<name>". When the buffer stays full, or the log's
 * backlog reaches the bound (the disk cannot keep up), the runner is told
 * to stop reading until the backlog is written: the pipe slows the child.
 * A log write that fails is retried every second; the seq is taken
 * whether or not the write succeeds (the store keeps a backlog).
 *
 * The output outlives the runs: the runner tells it the run number and
 * whether the run is on a terminal, and its lifecycle markers (started,
 * exited, spawn failed) go through output_marker, in the same sequence.
 * It owns two timers; output_close frees it after both closed.
 */
#include "runners/output.h"

#include <stdlib.h>
#include <string.h>

#include "src/config.h"
#include "src/events.h"
#include "src/pubsub.h"
#include "src/xalloc.h"
#include "state/jsonl.h"
#include "state/store.h"

#define FLUSH_DELAY_MS 100
/* A terminal's output is flushed sooner, partial lines included: a prompt
 * or a key's echo must not wait for a newline. */
#define PTY_FLUSH_DELAY_MS 20
#define OUTBUF_BOUND (1024 * 1024)
#define READ_BUF_SIZE (64 * 1024)
#define STORE_RETRY_MS 1000

struct output {
  char *name; /* the runner's */
  struct output_hooks hooks;
  struct outbuf *ob;
  struct store *store; /* NULL when the log could not be opened */
  struct buf enc;
  char *topic; /* "output/<name>" */
  uint64_t seq, run;
  int pty;                /* the current run's output is a terminal's */
  int store_error;        /* the last failed write's -errno, until a retry
                             succeeds */
  uv_timer_t flush_timer; /* output flush deadline */
  uv_timer_t retry_timer; /* store write retry after a disk error */
  int open_handles;
  void (*close_cb)(void *);
  void *close_arg;
};

static void on_retry_timer(uv_timer_t *t);
static void on_flush_timer(uv_timer_t *t);

/* Appends one encoded line to the log and publishes it. The seq is taken
 * whether or not the disk write succeeds: the store keeps a backlog. */
static void
emit_line(struct output *o, const struct jsonl_chunk *chunk)
{
  char *line;
  size_t len;
  int rc;

  jsonl_encode_chunk(&o->enc, chunk);
  /* Publishing only queues for subscribers (nothing runs before the append
   * below returns), so the log still has the chunk before anyone reads it. */
  pubsub_publish(o->topic, chunk->seq, o->enc.data, o->enc.len);
  line = buf_steal(&o->enc, &len);
  if (!o->store) {
    free(line);
    return;
  }
  rc = store_append_take(o->store, chunk->seq, line, len);
  if (rc < 0 && !o->store_error) {
    o->store_error = rc;
    events_note(EVENTS_PERSIST_ERROR, o->name, "cannot write output of %s: %s",
                o->name, strerror(-rc));
    if (!uv_is_active((uv_handle_t *)&o->retry_timer))
      uv_timer_start(&o->retry_timer, on_retry_timer, STORE_RETRY_MS, 0);
  }
}

void
output_marker(struct output *o, const char *extra, const char *text)
{
  struct jsonl_chunk c = {0};

  output_flush(o, 0);
  c.seq = ++o->seq;
  c.ts = events_now_ms();
  c.run = o->run;
  c.stream = "tend";
  c.data = text;
  c.len = strlen(text);
  c.extra = extra;
  emit_line(o, &c);
}

/* How long output may wait before a flush. */
static uint64_t
flush_delay(const struct output *o)
{
  return o->pty ? PTY_FLUSH_DELAY_MS : FLUSH_DELAY_MS;
}

/* Returns 1 when the log is so far behind that reading must wait. */
static int
log_behind(const struct output *o)
{
  return o->store && store_backlog_bytes(o->store) >= OUTBUF_BOUND;
}

void
output_flush(struct output *o, int final)
{
  size_t n = 0;
  struct outbuf_chunk *chunks;
  int64_t ts;

  uv_timer_stop(&o->flush_timer);
  if (outbuf_pending(o->ob) == 0)
    return;
  chunks = outbuf_cut(o->ob, final || o->pty, &n);
  ts = events_now_ms();
  for (size_t i = 0; i < n; i++) {
    struct jsonl_chunk c = {0};
    c.seq = ++o->seq;
    c.ts = ts;
    c.run = o->run;
    c.stream = chunks[i].stream == OUTBUF_STDERR ? "stderr"
               : o->pty                          ? "pty"
                                                 : "stdout";
    c.data = chunks[i].data;
    c.len = chunks[i].len;
    c.partial = chunks[i].partial;
    if (o->hooks.chunk)
      o->hooks.chunk(o->hooks.ctx, c.data, c.len);
    emit_line(o, &c);
  }
  outbuf_chunks_free(chunks, n);
  /* The disk is behind: hold the child back until the backlog is written
   * (on_retry_timer resumes). Checked here, not only when the buffer is
   * full, because timer flushes of a child writing under 1 MiB per flush
   * would otherwise grow the backlog to its cap and lose lines. */
  if (log_behind(o))
    o->hooks.pause(o->hooks.ctx);
  /* A partial line still pending waits for more bytes or the next flush. */
  if (outbuf_pending(o->ob) > 0 && !final)
    uv_timer_start(&o->flush_timer, on_flush_timer, flush_delay(o), 0);
}

/* Fires the delayed flush. */
static void
on_flush_timer(uv_timer_t *t)
{
  output_flush(t->data, 0);
}

/* Retries writing the store's backlog after a disk error. */
static void
on_retry_timer(uv_timer_t *t)
{
  struct output *o = t->data;

  if (!o->store)
    return;
  if (store_retry(o->store) == 0) {
    if (o->store_error)
      events_note(EVENTS_PERSIST_OK, o->name, "output of %s is written again",
                  o->name);
    o->store_error = 0;
    o->hooks.resume(o->hooks.ctx);
    return;
  }
  uv_timer_start(&o->retry_timer, on_retry_timer, STORE_RETRY_MS, 0);
}

char *
output_reserve(struct output *o, enum outbuf_stream stream, size_t *avail)
{
  size_t pending, limit;
  char *room = outbuf_reserve(o->ob, stream, READ_BUF_SIZE, avail);

  /* One read may take all the room, but never much past the bound: a pipe
   * whose writer keeps up returns as much as asked, which made 2 MiB
   * chunks of a 1 MiB buffer. */
  pending = outbuf_pending(o->ob);
  limit = pending < OUTBUF_BOUND ? OUTBUF_BOUND - pending : 0;
  if (limit < READ_BUF_SIZE)
    limit = READ_BUF_SIZE;
  if (*avail > limit)
    *avail = limit;
  return room;
}

void
output_commit(struct output *o, enum outbuf_stream stream, size_t n)
{
  outbuf_commit(o->ob, stream, n);
  if (outbuf_full(o->ob)) {
    output_flush(o, 0);
    if (outbuf_full(o->ob) || log_behind(o))
      o->hooks.pause(o->hooks.ctx);
  } else if (!uv_is_active((uv_handle_t *)&o->flush_timer)) {
    uv_timer_start(&o->flush_timer, on_flush_timer, flush_delay(o), 0);
  }
}

void
output_eof(struct output *o, enum outbuf_stream stream)
{
  outbuf_eof(o->ob, stream);
}

/* Opens the runner's log and takes its last seq; says why when it cannot,
 * and when a torn last line (a daemon killed mid-write) was cut. */
static void
open_log(struct output *o, const char *state_dir,
         const struct config_node *spec)
{
  char *dir = xasprintf("%s/output", state_dir), *cause = NULL;

  o->store = store_open(dir, spec->name, spec->output.max_bytes,
                        spec->output.keep, &cause);
  free(dir);
  if (!o->store) {
    events_note(EVENTS_PERSIST_ERROR, spec->name, "output log of %s: %s",
                spec->name, cause ? cause : "cannot open");
    free(cause);
    return;
  }
  o->seq = store_last_seq(o->store);
  if (store_truncated_bytes(o->store) > 0) {
    /* runner and bytes: the fields formats.md gives this event. */
    long long cut = (long long)store_truncated_bytes(o->store);
    char *msg = xasprintf("cut a torn last line (%lld bytes) from the "
                          "output log of %s",
                          cut, spec->name);
    struct tend_event ev = {.type = EVENTS_LOG_TRUNCATED,
                            .node = spec->name,
                            .runner = spec->name,
                            .bytes = cut,
                            .message = msg};
    events_emit(&ev);
    free(msg);
  }
}

struct output *
output_new(uv_loop_t *loop, const char *state_dir,
           const struct config_node *spec, const struct output_hooks *hooks)
{
  struct output *o = xcalloc(1, sizeof *o);

  o->name = xstrdup(spec->name);
  o->hooks = *hooks;
  o->topic = xasprintf("output/%s", spec->name);
  o->ob = outbuf_new(OUTBUF_BOUND);
  o->enc = (struct buf)BUF_ZERO;
  uv_timer_init(loop, &o->flush_timer);
  uv_timer_init(loop, &o->retry_timer);
  o->flush_timer.data = o->retry_timer.data = o;
  open_log(o, state_dir, spec);
  return o;
}

struct store *
output_store(const struct output *o)
{
  return o->store;
}

uint64_t
output_last_run(const struct output *o)
{
  return o->store ? store_last_run(o->store) : 0;
}

void
output_set_run(struct output *o, uint64_t run)
{
  o->run = run;
}

void
output_set_pty(struct output *o, int pty)
{
  o->pty = pty;
}

/* Counts closed timers; frees the output after the last. */
static void
on_output_timer_closed(uv_handle_t *h)
{
  struct output *o = h->data;
  void (*cb)(void *) = o->close_cb;
  void *arg = o->close_arg;

  if (--o->open_handles > 0)
    return;
  outbuf_free(o->ob);
  store_close(o->store);
  buf_free(&o->enc);
  free(o->topic);
  free(o->name);
  free(o);
  if (cb)
    cb(arg);
}

void
output_close(struct output *o, void (*cb)(void *arg), void *arg)
{
  o->close_cb = cb;
  o->close_arg = arg;
  o->open_handles = 2;
  uv_close((uv_handle_t *)&o->flush_timer, on_output_timer_closed);
  uv_close((uv_handle_t *)&o->retry_timer, on_output_timer_closed);
}
