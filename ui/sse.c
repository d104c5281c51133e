/* sse: event-stream framing, the gapless resumable stream engine, and the
 * client-side parser (issue 4).
 *
 * DESIGN. A stream is a small state machine over two sources, the store
 * (fetch: random access by seq, the source of truth) and the live queue
 * (take: cheap, pre-serialised, but bounded and lossy). `last` is the seq
 * of the last item framed; every item framed has seq > last, which is what
 * makes "no repeat" hold. "No gap" holds because the stream only leaves the
 * store for the live queue after a fetch came back empty (it caught up),
 * and any hole seen afterwards (a live seq past last + 1, or an overflow)
 * is filled from the store again before the live item is framed. What
 * the store no longer has (rotated away, or dropped at its backlog cap)
 * cannot be filled: the item after the hole is framed behind a "gap" event
 * that names the hole, so the jump in seqs is never silent.
 *
 * Memory: framed bytes waiting for the client are refilled only below
 * SSE_LOW_WATER, one item at a time, from one batch of at most SSE_BATCH
 * store items; so a client that stops reading holds about one batch plus
 * 64 KiB, and the live queue's overflow is what it loses (and later reads
 * from the store). */
#include "ui/sse.h"

#include "src/buf.h"
#include "src/xalloc.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- framing */

/* Frames one event; one "data:" line per line of the payload. */
void
sse_frame(struct buf *b, uint64_t id, const char *data, size_t n)
{
  char head[40];
  int hn = snprintf(head, sizeof head, "id: %" PRIu64 "\n", id);
  size_t i = 0;

  buf_add(b, head, (size_t)hn);
  do {
    size_t start = i;
    while (i < n && data[i] != '\n' && data[i] != '\r')
      i++;
    buf_add(b, "data: ", 6);
    buf_add(b, data + start, i - start);
    buf_add(b, "\n", 1);
    if (i < n) {
      if (data[i] == '\r' && i + 1 < n && data[i + 1] == '\n')
        i++;
      i++;
      if (i == n) {
        /* A payload ending in a newline keeps it: an empty last line. */
        buf_add(b, "data: \n", 7);
      }
    }
  } while (i < n);
  buf_add(b, "\n", 1);
}

/* Frames the announcement of a hole (an event without id). */
void
sse_frame_gap(struct buf *b, const struct sse_gap *gap)
{
  char text[120];
  int n = snprintf(text, sizeof text,
                   "event: gap\ndata: {\"from\":%" PRIu64
                   ",\"first_available\":%" PRIu64 "}\n\n",
                   gap->from, gap->first_available);

  buf_add(b, text, (size_t)n);
}

/* Finds the hole in front of a page and where the page must end. */
size_t
sse_gap_check(uint64_t after, const uint64_t *seqs, size_t n, uint64_t last,
              struct sse_gap *gap)
{
  size_t i;

  gap->from = gap->first_available = 0;
  if (n == 0) {
    if (after < last) {
      gap->from = after + 1;
      gap->first_available = last + 1;
    }
    return 0;
  }
  if (seqs[0] > after + 1) {
    gap->from = after + 1;
    gap->first_available = seqs[0];
  }
  for (i = 1; i < n && seqs[i] == seqs[i - 1] + 1; i++)
    ;
  return i;
}

/* ----------------------------------------------------------------- stream */

enum mode { MODE_REPLAY, MODE_LIVE };

struct sse_stream {
  const struct sse_source *src;
  void *ctx;
  uint64_t last; /* seq of the last item framed */
  enum mode mode;
  json_t *batch; /* store items being framed (new reference) */
  size_t batch_i;
  char *held; /* a live item that arrived past a gap */
  size_t held_len;
  uint64_t held_seq;
  int held_hole;  /* the store cannot fill the gap before it */
  struct buf buf; /* framed bytes; [off, buf.len) not yet read */
  size_t off;
  int ended; /* no more items: read returns -1 once drained */
  sse_wake_cb wake;
  void *wake_arg;
};

static size_t n_streams;

/* Bytes framed and not yet read. */
static size_t
pending(const struct sse_stream *s)
{
  return s->buf.len - s->off;
}

/* Appends raw bytes, reclaiming the read part of the buffer first. */
static void
stream_add(struct sse_stream *s, const char *p, size_t n)
{
  if (s->off > 0 && s->off == s->buf.len) {
    s->off = s->buf.len = 0;
  } else if (s->off > s->buf.cap / 2) {
    memmove(s->buf.data, s->buf.data + s->off, s->buf.len - s->off);
    s->buf.len -= s->off;
    s->off = 0;
  }
  buf_add(&s->buf, p, n);
}

/* Frames one item and moves the resume point. An item past last + 1 is
 * past a hole the store could not fill (the stream frames such an item
 * only after asking the store), so the hole is announced first. */
static void
stream_frame(struct sse_stream *s, uint64_t seq, const char *json, size_t n)
{
  if (s->off > 0 && s->off > s->buf.cap / 2) {
    memmove(s->buf.data, s->buf.data + s->off, s->buf.len - s->off);
    s->buf.len -= s->off;
    s->off = 0;
  }
  if (seq > s->last + 1) {
    struct sse_gap gap = {.from = s->last + 1, .first_available = seq};
    sse_frame_gap(&s->buf, &gap);
  }
  sse_frame(&s->buf, seq, json, n);
  s->last = seq;
}

/* Starts a stream; the first bytes tell EventSource to retry after 1 s. */
struct sse_stream *
sse_stream_new(const struct sse_source *src, void *ctx, uint64_t after)
{
  struct sse_stream *s = xcalloc(1, sizeof *s);
  static const char hello[] = "retry: 1000\n\n";

  s->src = src;
  s->ctx = ctx;
  s->last = after;
  s->mode = MODE_REPLAY;
  stream_add(s, hello, sizeof hello - 1);
  n_streams++;
  return s;
}

/* Frees the stream, its pending bytes and its source. */
void
sse_stream_free(struct sse_stream *s)
{
  if (!s)
    return;
  if (s->src->free_ctx)
    s->src->free_ctx(s->ctx);
  json_decref(s->batch);
  free(s->held);
  buf_free(&s->buf);
  free(s);
  n_streams--;
}

/* Sets the owner's waker. */
void
sse_stream_set_waker(struct sse_stream *s, sse_wake_cb cb, void *arg)
{
  s->wake = cb;
  s->wake_arg = arg;
}

/* Forwards a live-source notification to the owner. */
void
sse_stream_wake(struct sse_stream *s)
{
  if (s && s->wake)
    s->wake(s->wake_arg);
}

/* Drops the held live item. */
static void
held_clear(struct sse_stream *s)
{
  free(s->held);
  s->held = NULL;
  s->held_len = 0;
  s->held_hole = 0;
}

/* Fetches the next store batch after last; limit 0 is never asked. */
static int
stream_fetch(struct sse_stream *s, size_t limit)
{
  json_t *items = NULL;
  int r = s->src->fetch(s->ctx, s->last, limit, &items);

  if (r < 0) {
    json_decref(items);
    s->ended = 1;
    return r;
  }
  if (!json_is_array(items)) {
    json_decref(items);
    items = json_array();
  }
  s->batch = items;
  s->batch_i = 0;
  return (int)json_array_size(items);
}

/* Frames the next item of the current batch; drops the batch at its end. */
static void
stream_batch_step(struct sse_stream *s)
{
  json_t *item = json_array_get(s->batch, s->batch_i++);
  json_t *jseq = json_object_get(item, "seq");
  uint64_t seq;
  char *text;

  if (!item) {
    json_decref(s->batch);
    s->batch = NULL;
    return;
  }
  if (!json_is_integer(jseq) || json_integer_value(jseq) < 0)
    return; /* not an item of ours: skip it rather than break the order */
  seq = (uint64_t)json_integer_value(jseq);
  if (seq <= s->last)
    return;
  text = json_dumps(item, JSON_COMPACT);
  if (text) {
    stream_frame(s, seq, text, strlen(text));
    free(text);
  }
}

/* Fills the buffer up to the low-water mark from the batch, the held item,
 * the store or the live queue, in that order of priority. */
static void
stream_refill(struct sse_stream *s)
{
  while (!s->ended && pending(s) < SSE_LOW_WATER) {
    if (s->batch) {
      stream_batch_step(s);
      continue;
    }
    if (s->held) {
      if (s->held_seq <= s->last) {
        held_clear(s);
      } else if (s->held_seq == s->last + 1 || s->held_hole) {
        stream_frame(s, s->held_seq, s->held, s->held_len);
        held_clear(s);
      } else {
        uint64_t gap = s->held_seq - 1 - s->last;
        size_t limit = gap < SSE_BATCH ? (size_t)gap : SSE_BATCH;
        int n = stream_fetch(s, limit);
        if (n == 0)
          s->held_hole = 1; /* gone for good: framed after a gap event */
      }
      continue;
    }
    if (s->mode == MODE_REPLAY) {
      /* A short batch is not the end: the source may cut a batch by bytes.
       * Only an empty one says the store has nothing more. */
      int n = stream_fetch(s, SSE_BATCH);
      if (n == 0)
        s->mode = MODE_LIVE; /* caught up with the store */
      continue;
    }
    {
      uint64_t seq = 0;
      const char *json = NULL;
      size_t n = 0;
      int r = s->src->take(s->ctx, &seq, &json, &n);

      if (r == 0)
        break;
      if (r == -EOVERFLOW) {
        s->mode = MODE_REPLAY;
        continue;
      }
      if (r < 0) {
        s->ended = 1;
        break;
      }
      if (seq <= s->last)
        continue;
      if (seq == s->last + 1) {
        stream_frame(s, seq, json, n);
        continue;
      }
      s->held = xmalloc(n + 1);
      memcpy(s->held, json, n);
      s->held[n] = '\0';
      s->held_len = n;
      s->held_seq = seq;
      s->held_hole = 0;
    }
  }
}

/* Hands framed bytes to the HTTP layer. */
ssize_t
sse_stream_read(struct sse_stream *s, char *out, size_t max)
{
  size_t n;

  if (pending(s) < max)
    stream_refill(s);
  n = pending(s);
  if (n == 0)
    return s->ended ? -1 : 0;
  if (n > max)
    n = max;
  memcpy(out, s->buf.data + s->off, n);
  s->off += n;
  if (s->off == s->buf.len)
    s->off = s->buf.len = 0;
  return (ssize_t)n;
}

/* A comment keeps the connection visibly alive; only when idle, so that a
 * client that stops reading does not accumulate heartbeats. */
void
sse_stream_heartbeat(struct sse_stream *s)
{
  static const char ping[] = ": ping\n\n";

  if (!s->ended && s->src->alive && !s->src->alive(s->ctx)) {
    sse_stream_end(s); /* wakes the owner */
    return;
  }
  if (pending(s) == 0 && !s->ended)
    stream_add(s, ping, sizeof ping - 1);
  sse_stream_wake(s);
}

/* Marks the end; the owner reads the rest and then gets -1. */
void
sse_stream_end(struct sse_stream *s)
{
  s->ended = 1;
  json_decref(s->batch);
  s->batch = NULL;
  held_clear(s);
  sse_stream_wake(s);
}

/* The resume point. */
uint64_t
sse_stream_last(const struct sse_stream *s)
{
  return s->last;
}

/* Streams alive. */
size_t
sse_stream_count(void)
{
  return n_streams;
}

/* ----------------------------------------------------------------- parser */

struct sse_parser {
  sse_event_cb cb;
  void *ctx;
  struct buf line; /* the line being read */
  struct buf data; /* the event's data so far, each line + "\n" */
  char *id;        /* last event id (kept across events, per the spec) */
  char *event;
  int after_cr; /* the last byte was CR: a following LF is part of it */
};

/* Creates a parser. */
struct sse_parser *
sse_parser_new(sse_event_cb cb, void *ctx)
{
  struct sse_parser *p = xcalloc(1, sizeof *p);

  p->cb = cb;
  p->ctx = ctx;
  return p;
}

/* Frees a parser. */
void
sse_parser_free(struct sse_parser *p)
{
  if (!p)
    return;
  buf_free(&p->line);
  buf_free(&p->data);
  free(p->id);
  free(p->event);
  free(p);
}

/* Dispatches the event gathered so far (an empty line was read). */
static void
parser_dispatch(struct sse_parser *p)
{
  if (p->data.len > 0) {
    size_t n = p->data.len - 1; /* drop the last "\n" */
    p->data.data[n] = '\0';
    p->cb(p->ctx, p->id, p->event ? p->event : "message", p->data.data, n);
  }
  p->data.len = 0;
  free(p->event);
  p->event = NULL;
}

/* Handles one complete line (without its terminator). */
static void
parser_line(struct sse_parser *p, const char *line, size_t n)
{
  const char *colon, *value;
  size_t flen, vlen;

  if (n == 0) {
    parser_dispatch(p);
    return;
  }
  if (line[0] == ':')
    return; /* comment */
  colon = memchr(line, ':', n);
  flen = colon ? (size_t)(colon - line) : n;
  value = colon ? colon + 1 : line + n;
  vlen = colon ? n - flen - 1 : 0;
  if (vlen > 0 && value[0] == ' ') {
    value++;
    vlen--;
  }
  if (flen == 4 && memcmp(line, "data", 4) == 0) {
    buf_add(&p->data, value, vlen);
    buf_add(&p->data, "\n", 1);
  } else if (flen == 2 && memcmp(line, "id", 2) == 0) {
    if (!memchr(value, '\0', vlen)) {
      free(p->id);
      p->id = xstrndup(value, vlen);
    }
  } else if (flen == 5 && memcmp(line, "event", 5) == 0) {
    free(p->event);
    p->event = xstrndup(value, vlen);
  }
  /* "retry" and unknown fields are ignored. */
}

/* Splits the input into lines at CR LF, CR or LF. */
void
sse_parser_feed(struct sse_parser *p, const char *buf, size_t n)
{
  for (size_t i = 0; i < n; i++) {
    char c = buf[i];

    if (p->after_cr) {
      p->after_cr = 0;
      if (c == '\n')
        continue;
    }
    if (c == '\r' || c == '\n') {
      parser_line(p, p->line.data ? p->line.data : "", p->line.len);
      p->line.len = 0;
      p->after_cr = c == '\r';
      continue;
    }
    buf_add(&p->line, &c, 1);
  }
}
