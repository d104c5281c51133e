/* fuzz_sse: libFuzzer target for ui/sse.c (event-stream framing, the client
 * parser, and the gapless stream engine).
 *
 * The first input byte picks a mode (low two bits):
 *   0  round trip: the rest is cut into 1..4 payloads, each framed with
 *      sse_frame (with a comment and a "retry:" line around them, as the
 *      server sends), the bytes fed to sse_parser in pieces of varying
 *      size; the parser must give back each payload with its id, with CR LF
 *      and lone CR turned into LF (the one change the framing allows);
 *   1  the rest fed straight into the parser in varying pieces: no crash,
 *      and every event it reports is well formed;
 *   2, 3  the rest drives the stream engine over a fake store and a fake
 *      bounded live queue (publish, bursts, overflow, reads of any size,
 *      heartbeats, items of 20 to 720 bytes so that the buffer bound is
 *      reached); the bytes read must be exactly the hello, heartbeats, and
 *      one "id: N\ndata: <item>" event per seq after the resume point,
 *      each once, in order.
 * Any broken property aborts, so that libFuzzer keeps the input. */
#include "ui/sse.h"

#include "src/buf.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Reports a broken property and aborts. */
static void
fail(const char *what)
{
  fprintf(stderr, "fuzz_sse: %s\n", what);
  abort();
}

/* Feeds buf to the parser in pieces whose sizes cycle through a small
 * pattern chosen by seed (1 byte at a time included: splits a CR LF). */
static void
feed_split(struct sse_parser *p, const char *buf, size_t n, uint8_t seed)
{
  static const size_t sizes[] = {1, 2, 3, 7, 64, 1, 5, 4096};
  size_t i = 0, k = seed;

  while (i < n) {
    size_t step = sizes[k++ % 8];
    if (step > n - i)
      step = n - i;
    sse_parser_feed(p, buf + i, step);
    i += step;
  }
}

/* ----------------------------------------------------- mode 0: framing */

#define MAX_EVENTS 4

struct rt {
  char *want[MAX_EVENTS]; /* normalised payloads */
  size_t want_len[MAX_EVENTS];
  uint64_t ids[MAX_EVENTS];
  size_t n, got;
};

/* Checks each event against the payload framed in that place. */
static void
rt_event(void *ctx, const char *id, const char *event, const char *data,
         size_t len)
{
  struct rt *rt = ctx;
  char idbuf[24];

  if (rt->got >= rt->n)
    fail("round trip: more events than framed");
  snprintf(idbuf, sizeof idbuf, "%" PRIu64, rt->ids[rt->got]);
  if (!id || strcmp(id, idbuf) != 0)
    fail("round trip: wrong id");
  if (strcmp(event, "message") != 0)
    fail("round trip: wrong event type");
  if (len != rt->want_len[rt->got] ||
      (len && memcmp(data, rt->want[rt->got], len) != 0))
    fail("round trip: data differs");
  if (data[len] != '\0')
    fail("round trip: data not NUL-terminated");
  rt->got++;
}

/* CR LF and lone CR become LF: what a framed payload reads back as. */
static size_t
normalise(const uint8_t *in, size_t n, char *out)
{
  size_t o = 0;

  for (size_t i = 0; i < n; i++) {
    if (in[i] == '\r') {
      out[o++] = '\n';
      if (i + 1 < n && in[i + 1] == '\n')
        i++;
    } else {
      out[o++] = (char)in[i];
    }
  }
  return o;
}

/* Mode 0. */
static void
mode_round_trip(uint8_t flags, const uint8_t *p, size_t n)
{
  struct rt rt = {.n = 1 + ((flags >> 2) & 3)};
  struct buf buf = BUF_ZERO;
  size_t at = 0;
  struct sse_parser *parser;
  static const char hello[] = "retry: 1000\n\n";
  static const char ping[] = ": ping\n\n";

  buf_add(&buf, hello, sizeof hello - 1);
  for (size_t e = 0; e < rt.n; e++) {
    /* Equal shares; the last one takes the rest. */
    size_t share = e + 1 == rt.n ? n - at : (n - at) / (rt.n - e);
    rt.ids[e] = e == 0 ? UINT64_MAX : (uint64_t)e * 1000003u;
    rt.want[e] = malloc(share + 1);
    rt.want_len[e] = normalise(p + at, share, rt.want[e]);
    sse_frame(&buf, rt.ids[e], (const char *)p + at, share);
    at += share;
    /* A heartbeat between events changes nothing. */
    buf_add(&buf, ping, sizeof ping - 1);
  }
  parser = sse_parser_new(rt_event, &rt);
  feed_split(parser, buf.data, buf.len, flags >> 4);
  if (rt.got != rt.n)
    fail("round trip: events lost");
  sse_parser_free(parser);
  for (size_t e = 0; e < rt.n; e++)
    free(rt.want[e]);
  buf_free(&buf);
}

/* -------------------------------------------------- mode 1: raw parser */

/* Checks that an event from arbitrary input is well formed. */
static void
raw_event(void *ctx, const char *id, const char *event, const char *data,
          size_t len)
{
  size_t *count = ctx;

  if (!event || strchr(event, '\n') || strchr(event, '\r'))
    fail("raw: bad event type");
  if (id && (strchr(id, '\n') || strchr(id, '\r')))
    fail("raw: bad id");
  if (!data || data[len] != '\0')
    fail("raw: data not NUL-terminated");
  for (size_t i = 0; i < len; i++)
    if (data[i] == '\r')
      fail("raw: CR in data");
  (*count)++;
}

/* Mode 1. */
static void
mode_raw(uint8_t flags, const uint8_t *p, size_t n)
{
  size_t count = 0;
  struct sse_parser *parser = sse_parser_new(raw_event, &count);

  feed_split(parser, (const char *)p, n, flags >> 2);
  sse_parser_free(parser);
}

/* ------------------------------------------------ mode 2: stream engine */

#define MAX_ITEMS 600
#define QUEUE_MAX 16
#define PAD_MAX 700

/* The fake world: a store holding seqs 1..top, one live queue, and the
 * client's view of the bytes read so far. */
struct world {
  uint64_t top;              /* newest seq published */
  uint64_t queue[QUEUE_MAX]; /* live seqs waiting */
  size_t qn;
  int lost;                 /* items were dropped from a full queue */
  int overflow_first;       /* report the gap before queued items */
  char taken[PAD_MAX + 64]; /* the last taken item's text */
  uint64_t expect;          /* next seq the client must see */
  size_t blocks;            /* blocks (events, comments) read */
  char *in;                 /* bytes read, not yet checked */
  size_t in_len, in_cap;
};

static char pad[PAD_MAX + 1];

/* Item sizes vary from 20 to 720 bytes, so that a few hundred items go
 * past SSE_LOW_WATER and the engine's buffer bound is exercised. */
static int
pad_len(uint64_t seq)
{
  return (int)((seq * 131) % PAD_MAX);
}

/* The JSON text of item seq, as json_dumps(JSON_COMPACT) writes the object
 * w_fetch packs (jansson keeps keys in insertion order); the live queue
 * carries the same text. */
static size_t
item_text(uint64_t seq, char *out, size_t cap)
{
  return (size_t)snprintf(out, cap, "{\"seq\":%" PRIu64 ",\"d\":\"%.*s\"}", seq,
                          pad_len(seq), pad);
}

/* Store: items after `after`, oldest first, at most limit. */
static int
w_fetch(void *ctx, uint64_t after, size_t limit, json_t **items)
{
  struct world *w = ctx;

  *items = json_array();
  for (uint64_t s = after + 1; s <= w->top && limit > 0; s++, limit--)
    json_array_append_new(*items, json_pack("{s:I,s:s#}", "seq", (json_int_t)s,
                                            "d", pad, (int)pad_len(s)));
  return 0;
}

/* Live queue: queued items, and the gap notice (before or after them). */
static int
w_take(void *ctx, uint64_t *seq, const char **json, size_t *len)
{
  struct world *w = ctx;

  if (w->lost && (w->overflow_first || w->qn == 0)) {
    w->lost = 0;
    return -EOVERFLOW;
  }
  if (w->qn == 0)
    return 0;
  *seq = w->queue[0];
  memmove(w->queue, w->queue + 1, (w->qn - 1) * sizeof w->queue[0]);
  w->qn--;
  *len = item_text(*seq, w->taken, sizeof w->taken);
  *json = w->taken;
  return 1;
}

static const struct sse_source world_source = {
    .fetch = w_fetch, .take = w_take, .free_ctx = NULL};

/* Checks one block (the text before a blank line): the hello, a heartbeat,
 * or exactly "id: <next seq>\ndata: <its item>". */
static void
w_block(struct world *w, const char *b, size_t n)
{
  char want[PAD_MAX + 128];
  int hn;
  size_t tn;

  w->blocks++;
  if (w->blocks == 1 && n == 11 && memcmp(b, "retry: 1000", 11) == 0)
    return;
  if (n == 6 && memcmp(b, ": ping", 6) == 0)
    return;
  hn = snprintf(want, sizeof want, "id: %" PRIu64 "\ndata: ", w->expect);
  tn = item_text(w->expect, want + hn, sizeof want - (size_t)hn);
  if (n != (size_t)hn + tn || memcmp(b, want, n) != 0) {
    fprintf(stderr, "fuzz_sse: want id %" PRIu64 ", got: %.*s\n", w->expect,
            (int)(n > 80 ? 80 : n), b);
    fail("stream: a gap, a repeat, a reorder or a bad frame");
  }
  w->expect++;
}

/* Takes n more bytes from the stream and checks every complete block. */
static void
w_client(struct world *w, const char *buf, size_t n)
{
  size_t at = 0;
  const char *end;

  if (w->in_len + n > w->in_cap) {
    w->in_cap = (w->in_len + n) * 2;
    w->in = realloc(w->in, w->in_cap);
    if (!w->in)
      fail("out of memory");
  }
  memcpy(w->in + w->in_len, buf, n);
  w->in_len += n;
  while ((end = memmem(w->in + at, w->in_len - at, "\n\n", 2))) {
    w_block(w, w->in + at, (size_t)(end - (w->in + at)));
    at = (size_t)(end - w->in) + 2;
  }
  memmove(w->in, w->in + at, w->in_len - at);
  w->in_len -= at;
}

/* Publishes one item: into the store, and into the queue if it has room. */
static void
w_publish(struct world *w, struct sse_stream *s)
{
  if (w->top >= MAX_ITEMS)
    return;
  w->top++;
  if (w->qn < QUEUE_MAX)
    w->queue[w->qn++] = w->top;
  else
    w->lost = 1;
  sse_stream_wake(s);
}

/* The owner would resume the connection; nothing to do here. */
static void
w_wake(void *arg)
{
  (void)arg;
}

/* Reads up to max bytes as the client; returns what read returned. */
static ssize_t
w_read(struct world *w, struct sse_stream *s, size_t max)
{
  char buf[8192];
  ssize_t r = sse_stream_read(s, buf, max < sizeof buf ? max : sizeof buf);

  if (r > 0)
    w_client(w, buf, (size_t)r);
  return r;
}

/* Mode 2. */
static void
mode_stream(uint8_t flags, const uint8_t *p, size_t n)
{
  struct world w = {0};
  struct sse_stream *s;
  uint64_t after;

  if (!pad[0])
    memset(pad, 'p', PAD_MAX);
  w.overflow_first = (flags >> 2) & 1;
  /* A store of 0..255 items, resumed from anywhere in it. */
  w.top = n > 0 ? p[0] : 0;
  after = n > 1 ? p[1] % (w.top + 1) : 0;
  w.expect = after + 1;
  s = sse_stream_new(&world_source, &w, after);
  sse_stream_set_waker(s, w_wake, &w);
  for (size_t i = 2; i < n; i++) {
    uint8_t op = p[i];
    switch (op & 3) {
    case 0:
      w_publish(&w, s);
      break;
    case 1:
      w_read(&w, s, (size_t)(op >> 2) * 97 + 1);
      break;
    case 2:
      sse_stream_heartbeat(s);
      break;
    default:
      for (int k = 0; k < (op >> 2); k++)
        w_publish(&w, s);
      break;
    }
  }
  /* Drain: everything published must arrive. */
  for (int guard = 0; guard < 100000; guard++)
    if (w_read(&w, s, 8192) <= 0)
      break;
  if (w.expect != w.top + 1 || w.in_len != 0) {
    fprintf(stderr,
            "fuzz_sse: after %" PRIu64 ", top %" PRIu64
            ", next expected %" PRIu64 ", %zu bytes left\n",
            after, w.top, w.expect, w.in_len);
    fail("stream: items missing after the drain");
  }
  if (sse_stream_last(s) != w.top)
    fail("stream: wrong resume point");
  sse_stream_end(s);
  if (w_read(&w, s, 4096) != -1)
    fail("stream: read after end and drain is not -1");
  sse_stream_free(s);
  free(w.in);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  uint8_t flags;
  uint8_t *copy;

  if (size == 0)
    return 0;
  flags = data[0];
  /* An exact-size heap copy, so that ASan sees any read past the end. */
  copy = malloc(size - 1 ? size - 1 : 1);
  memcpy(copy, data + 1, size - 1);
  switch (flags & 3) {
  case 0:
    mode_round_trip(flags, copy, size - 1);
    break;
  case 1:
    mode_raw(flags, copy, size - 1);
    break;
  default:
    mode_stream(flags, copy, size - 1);
    break;
  }
  free(copy);
  if (sse_stream_count() != 0)
    fail("a stream leaked (sse_stream_count)");
  return 0;
}
