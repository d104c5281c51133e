/* sse: Server-Sent Events framing and parsing, and the gapless stream that
 * feeds one SSE subscriber (issue 4).
 *
 * A stream sends every item with seq > its resume point exactly once, in
 * order: first from the store (fetch), in bounded batches refilled as the
 * client drains, then from the live queue (take). A live item that is
 * already sent is skipped; a live item past a gap makes the stream fill
 * the gap from the store first; a queue overflow sends it back to the
 * store. So a slow client costs a bounded buffer and never blocks anyone.
 *
 * The stream knows nothing of HTTP or pubsub: its two sources are function
 * pointers (ui/routes.c binds them to tend_output_after / pubsub), and it
 * tells its owner that data is ready through a waker (ui/http.c resumes the
 * MHD connection). So the whole engine is unit-tested with fakes.
 *
 * Items the store no longer has (rotated away) cannot be sent: a "gap"
 * event (sse_frame_gap) takes their place, so that no client mistakes a
 * jump in seqs for a complete log (issue 11). */
#ifndef TEND_SSE_H
#define TEND_SSE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct buf;

/* Items fetched from the store per batch, and framed bytes buffered per
 * stream before it stops refilling (the bound on a slow client's cost). */
#define SSE_BATCH 64
#define SSE_LOW_WATER (64 * 1024)

/* Appends one event "id: <id>\ndata: <line>\n...\n" to b. data is split
 * at CR LF, CR and LF so that a multi-line payload arrives whole. */
void sse_frame(struct buf *b, uint64_t id, const char *data, size_t n);

/* A hole in a log's seqs: the items from .. first_available - 1 are gone
 * (rotated away, or dropped when the disk failed for long). from 0: no
 * hole. */
struct sse_gap {
  uint64_t from;
  uint64_t first_available;
};

/* Appends the event that announces a hole, before the first item after it:
 * "event: gap", data {"from":F,"first_available":A}. It has no id, so a
 * client's resume point stays the last item it got. */
void sse_frame_gap(struct buf *b, const struct sse_gap *gap);

/* Pure: checks a page of items read after seq `after`: seqs[0..n) are
 * their seqs (ascending) and last is the log's newest seq. Sets *gap to
 * the hole in front of the first item (from 0 when the first is after + 1;
 * with no item while after < last, the rest up to last is the hole) and
 * returns how many items come before the next hole (n when none), so that
 * a page can end there and the next page reports that hole at its start. */
size_t sse_gap_check(uint64_t after, const uint64_t *seqs, size_t n,
                     uint64_t last, struct sse_gap *gap);

/* Where a stream's items come from. ctx is owned by the stream once it is
 * handed to sse_stream_new (free_ctx releases it). */
struct sse_source {
  /* Items with seq > after, oldest first, at most limit: 0 and *items (a
   * new JSON array of objects with a "seq"), or a negative errno (-ENOENT:
   * the source is gone; the stream ends). */
  int (*fetch)(void *ctx, uint64_t after, size_t limit, json_t **items);
  /* The next live item: 1 with *seq, *json, *len (borrowed until the next
   * take), 0 when none is queued, -EOVERFLOW when items were lost. */
  int (*take)(void *ctx, uint64_t *seq, const char **json, size_t *len);
  /* Releases ctx (may be NULL). */
  void (*free_ctx)(void *ctx);
  /* Returns 0 once the source is gone for good (checked at each heartbeat;
   * the stream then ends). May be NULL: never gone. */
  int (*alive)(void *ctx);
};

struct sse_stream;

/* Tells the owner that a stream which returned 0 from read has data. */
typedef void (*sse_wake_cb)(void *arg);

/* Starts a stream of the items with seq > after. src must outlive it. */
struct sse_stream *sse_stream_new(const struct sse_source *src, void *ctx,
                                  uint64_t after);
/* Frees a stream and its source ctx. NULL is a no-op. */
void sse_stream_free(struct sse_stream *s);

/* Sets (or clears, with NULL) the waker. */
void sse_stream_set_waker(struct sse_stream *s, sse_wake_cb cb, void *arg);
/* Says that the live source has something (called from its notify). */
void sse_stream_wake(struct sse_stream *s);

/* Copies up to max framed bytes to out. Returns the count (> 0), 0 when
 * nothing is ready (wait for the waker), or -1 at the end of the stream. */
ssize_t sse_stream_read(struct sse_stream *s, char *out, size_t max);

/* Queues a comment line when nothing else is pending (keeps proxies and
 * dead-peer detection going) and wakes the owner; ends the stream instead
 * when its source is gone. */
void sse_stream_heartbeat(struct sse_stream *s);
/* Ends the stream: read returns what is buffered, then -1. */
void sse_stream_end(struct sse_stream *s);
/* The seq of the last item framed (the resume point). */
uint64_t sse_stream_last(const struct sse_stream *s);
/* Number of streams alive (for /metrics). */
size_t sse_stream_count(void);

/* Client side: an incremental parser of an event stream. */
struct sse_parser;

/* One dispatched event: id is the last event id seen (NULL if none), event
 * the event type ("message" by default), data without its final newline. */
typedef void (*sse_event_cb)(void *ctx, const char *id, const char *event,
                             const char *data, size_t len);

struct sse_parser *sse_parser_new(sse_event_cb cb, void *ctx);
/* Feeds n bytes (any split, including inside a CR LF). */
void sse_parser_feed(struct sse_parser *p, const char *buf, size_t n);
/* Frees a parser. NULL is a no-op. */
void sse_parser_free(struct sse_parser *p);

#endif
