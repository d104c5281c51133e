/* Unit tests for ui/sse.c: framing of multi-line data, the parser (every
 * line terminator, any split), and the gapless stream engine against a fake
 * store and a fake bounded live queue. */
#include <criterion/criterion.h>

#include "ui/sse.h"

#include "src/buf.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --------------------------------------------------------------- framing */

static char *
frame(uint64_t id, const char *data)
{
  struct buf b = BUF_ZERO;

  sse_frame(&b, id, data, strlen(data));
  return buf_steal(&b, NULL);
}

Test(sse, frame_single_line)
{
  char *f = frame(12, "{\"seq\":12}");
  cr_assert_str_eq(f, "id: 12\ndata: {\"seq\":12}\n\n");
  free(f);
}

Test(sse, frame_multi_line)
{
  char *f = frame(3, "a\nb\r\nc\rd");
  cr_assert_str_eq(f, "id: 3\ndata: a\ndata: b\ndata: c\ndata: d\n\n");
  free(f);
  f = frame(4, "x\n");
  cr_assert_str_eq(f, "id: 4\ndata: x\ndata: \n\n");
  free(f);
  f = frame(5, "");
  cr_assert_str_eq(f, "id: 5\ndata: \n\n");
  free(f);
}

/* ---------------------------------------------------------------- parser */

struct got {
  char ids[64][32];
  char data[64][256];
  char event[64][32];
  int n;
};

static void
on_event(void *ctx, const char *id, const char *event, const char *data,
         size_t len)
{
  struct got *g = ctx;

  cr_assert_lt(g->n, 64);
  snprintf(g->ids[g->n], sizeof g->ids[0], "%s", id ? id : "");
  snprintf(g->event[g->n], sizeof g->event[0], "%s", event);
  cr_assert_lt(len, sizeof g->data[0]);
  memcpy(g->data[g->n], data, len);
  g->data[g->n][len] = '\0';
  g->n++;
}

Test(sse, parser_round_trip_every_split)
{
  const char *payloads[] = {"one", "a\nb", "x\r\ny\rz", "", "end\n"};
  struct buf b = BUF_ZERO;
  size_t len;
  char *all;

  for (int i = 0; i < 5; i++)
    sse_frame(&b, (uint64_t)i + 1, payloads[i], strlen(payloads[i]));
  all = buf_steal(&b, &len);
  /* Feed the same bytes split at every position: the result never
   * depends on where the network cut them. */
  for (size_t cut = 0; cut <= len; cut++) {
    struct got g = {0};
    struct sse_parser *p = sse_parser_new(on_event, &g);
    sse_parser_feed(p, all, cut);
    sse_parser_feed(p, all + cut, len - cut);
    cr_assert_eq(g.n, 5, "cut %zu", cut);
    cr_assert_str_eq(g.data[0], "one");
    cr_assert_str_eq(g.data[1], "a\nb");
    cr_assert_str_eq(g.data[2], "x\ny\nz", "CR and CRLF become LF");
    cr_assert_str_eq(g.data[3], "");
    cr_assert_str_eq(g.data[4], "end\n");
    cr_assert_str_eq(g.ids[4], "5");
    cr_assert_str_eq(g.event[0], "message");
    sse_parser_free(p);
  }
  free(all);
}

Test(sse, parser_fields)
{
  struct got g = {0};
  struct sse_parser *p = sse_parser_new(on_event, &g);
  const char *in = ": comment\r\nretry: 5\nid: 7\nevent: gap\ndata:nospace\n\n"
                   "data: kept id\n\n"
                   "id: 9\n\n" /* no data: no event */
                   "data\n\n"; /* a field without colon */

  sse_parser_feed(p, in, strlen(in));
  cr_assert_eq(g.n, 3);
  cr_assert_str_eq(g.event[0], "gap");
  cr_assert_str_eq(g.data[0], "nospace");
  cr_assert_str_eq(g.ids[0], "7");
  cr_assert_str_eq(g.event[1], "message", "the type resets per event");
  cr_assert_str_eq(g.ids[1], "7", "the id persists");
  cr_assert_str_eq(g.ids[2], "9");
  cr_assert_str_eq(g.data[2], "");
  sse_parser_free(p);
}

/* ---------------------------------------------------------- fake sources */

#define STORE_MAX 20000
#define QUEUE_MAX 8

struct fake {
  uint64_t store_first, store_last; /* the store holds [first, last] */
  uint64_t hole;                    /* a seq in there it lacks (0: none) */
  int store_gone;
  uint64_t q[QUEUE_MAX];
  char qjson[64];
  int qn, qhead, overflow;
  int fetches;
  size_t max_limit;
  int woken;
  int freed;
};

static int
fake_fetch(void *ctx, uint64_t after, size_t limit, json_t **items)
{
  struct fake *f = ctx;
  json_t *a;

  f->fetches++;
  if (limit > f->max_limit)
    f->max_limit = limit;
  if (f->store_gone)
    return -ENOENT;
  a = json_array();
  for (uint64_t s = after + 1; s <= f->store_last && json_array_size(a) < limit;
       s++) {
    if (s < f->store_first || s == f->hole)
      continue;
    json_array_append_new(
        a, json_pack("{s:I,s:s}", "seq", (json_int_t)s, "data", "x"));
  }
  *items = a;
  return 0;
}

static int
fake_take(void *ctx, uint64_t *seq, const char **json, size_t *len)
{
  struct fake *f = ctx;

  if (f->overflow) {
    f->overflow = 0;
    return -EOVERFLOW;
  }
  if (f->qn == 0)
    return 0;
  *seq = f->q[f->qhead];
  f->qhead = (f->qhead + 1) % QUEUE_MAX;
  f->qn--;
  snprintf(f->qjson, sizeof f->qjson, "{\"seq\":%" PRIu64 ",\"data\":\"x\"}",
           *seq);
  *json = f->qjson;
  *len = strlen(f->qjson);
  return 1;
}

static void
fake_free(void *ctx)
{
  ((struct fake *)ctx)->freed++;
}

static int
fake_alive(void *ctx)
{
  return !((struct fake *)ctx)->store_gone;
}

static const struct sse_source fake_src = {fake_fetch, fake_take, fake_free,
                                           fake_alive};

/* Appends seq to the store and publishes it (or notes an overflow). */
static void
publish(struct fake *f, uint64_t seq)
{
  f->store_last = seq;
  if (f->qn == QUEUE_MAX) {
    f->overflow = 1;
    return;
  }
  f->q[(f->qhead + f->qn) % QUEUE_MAX] = seq;
  f->qn++;
}

/* Reads everything ready and returns the ids seen, in order. */
struct ids {
  uint64_t v[STORE_MAX + 16];
  int n;
  int ended;
  struct {
    int at; /* ids->n when the gap event came */
    uint64_t from, first_available;
  } gaps[8];
  int n_gaps;
};

static void
on_id(void *ctx, const char *id, const char *event, const char *data,
      size_t len)
{
  struct ids *ids = ctx;
  (void)len;
  if (strcmp(event, "gap") == 0) {
    json_t *g = json_loads(data, 0, NULL);
    cr_assert_not_null(g, "gap data: %s", data);
    cr_assert_lt(ids->n_gaps, 8);
    ids->gaps[ids->n_gaps].at = ids->n;
    ids->gaps[ids->n_gaps].from =
        (uint64_t)json_integer_value(json_object_get(g, "from"));
    ids->gaps[ids->n_gaps].first_available =
        (uint64_t)json_integer_value(json_object_get(g, "first_available"));
    ids->n_gaps++;
    json_decref(g);
    return;
  }
  cr_assert_str_eq(event, "message");
  cr_assert_not_null(id);
  cr_assert_lt(ids->n, STORE_MAX + 16);
  ids->v[ids->n++] = strtoull(id, NULL, 10);
  cr_assert_not_null(strstr(data, "\"seq\":"));
}

static void
drain(struct sse_stream *s, struct sse_parser *p, struct ids *ids, size_t chunk)
{
  char buf[1024];
  ssize_t n;

  if (chunk > sizeof buf)
    chunk = sizeof buf;
  while ((n = sse_stream_read(s, buf, chunk)) > 0)
    sse_parser_feed(p, buf, (size_t)n);
  if (n < 0)
    ids->ended = 1;
}

static void
assert_contiguous(const struct ids *ids, uint64_t from, uint64_t to)
{
  cr_assert_eq((uint64_t)ids->n, to - from + 1, "got %d ids, want %" PRIu64,
               ids->n, to - from + 1);
  for (int i = 0; i < ids->n; i++)
    cr_assert_eq(ids->v[i], from + (uint64_t)i, "ids[%d] = %" PRIu64, i,
                 ids->v[i]);
}

Test(sse, stream_replay_then_live)
{
  struct fake f = {.store_first = 1, .store_last = 200};
  struct ids ids = {0};
  struct sse_parser *p = sse_parser_new(on_id, &ids);
  struct sse_stream *s = sse_stream_new(&fake_src, &f, 0);

  cr_assert_eq(sse_stream_count(), 1);
  drain(s, p, &ids, 1000);
  assert_contiguous(&ids, 1, 200);
  cr_assert_leq(f.max_limit, SSE_BATCH, "replay is batched");
  for (uint64_t q = 201; q <= 205; q++)
    publish(&f, q);
  drain(s, p, &ids, 7);
  assert_contiguous(&ids, 1, 205);
  cr_assert_eq(sse_stream_last(s), 205);
  cr_assert_not(ids.ended);
  sse_stream_free(s);
  cr_assert_eq(f.freed, 1);
  cr_assert_eq(sse_stream_count(), 0);
  sse_parser_free(p);
}

Test(sse, stream_skips_live_items_already_sent)
{
  /* Subscribed before the replay: the queue holds items the store
   * replay also returns; none may be framed twice. */
  struct fake f = {.store_first = 1};
  struct ids ids = {0};
  struct sse_parser *p = sse_parser_new(on_id, &ids);
  struct sse_stream *s = sse_stream_new(&fake_src, &f, 0);

  for (uint64_t q = 1; q <= 6; q++)
    publish(&f, q);
  drain(s, p, &ids, 100);
  assert_contiguous(&ids, 1, 6);
  sse_stream_free(s);
  sse_parser_free(p);
}

Test(sse, stream_overflow_refills_from_store)
{
  struct fake f = {.store_first = 1, .store_last = 10};
  struct ids ids = {0};
  struct sse_parser *p = sse_parser_new(on_id, &ids);
  struct sse_stream *s = sse_stream_new(&fake_src, &f, 10);

  drain(s, p, &ids, 100);
  cr_assert_eq(ids.n, 0, "after=10 starts after the store's end");
  for (uint64_t q = 11; q <= 500; q++)
    publish(&f, q); /* the queue overflows after 8 */
  cr_assert(f.overflow);
  drain(s, p, &ids, 64);
  assert_contiguous(&ids, 11, 500);
  sse_stream_free(s);
  sse_parser_free(p);
}

Test(sse, stream_gap_in_queue_is_filled_from_store)
{
  struct fake f = {.store_first = 1, .store_last = 3};
  struct ids ids = {0};
  struct sse_parser *p = sse_parser_new(on_id, &ids);
  struct sse_stream *s = sse_stream_new(&fake_src, &f, 0);

  drain(s, p, &ids, 100);
  assert_contiguous(&ids, 1, 3);
  /* 4..99 reach the store but not the queue (e.g. published before a
   * resubscription); 100 arrives live: the hole is fetched first. */
  f.store_last = 99;
  publish(&f, 100);
  drain(s, p, &ids, 100);
  assert_contiguous(&ids, 1, 100);
  sse_stream_free(s);
  sse_parser_free(p);
}

Test(sse, stream_hole_the_store_cannot_fill)
{
  /* Rotated away: the live item is sent; the seq jumps, nothing repeats. */
  struct fake f = {.store_first = 50, .store_last = 49};
  struct ids ids = {0};
  struct sse_parser *p = sse_parser_new(on_id, &ids);
  struct sse_stream *s = sse_stream_new(&fake_src, &f, 5);

  publish(&f, 60);
  f.store_first = 60;
  drain(s, p, &ids, 100);
  cr_assert_eq(ids.n, 1);
  cr_assert_eq(ids.v[0], 60);
  /* ... and says so first (issue 11: the jump used to be silent). */
  cr_assert_eq(ids.n_gaps, 1);
  cr_assert_eq(ids.gaps[0].at, 0);
  cr_assert_eq(ids.gaps[0].from, 6);
  cr_assert_eq(ids.gaps[0].first_available, 60);
  sse_stream_free(s);
  sse_parser_free(p);
}

Test(sse, stream_replay_after_rotated_away_seqs_starts_with_a_gap)
{
  struct fake f = {.store_first = 202, .store_last = 300};
  struct ids ids = {0};
  struct sse_parser *p = sse_parser_new(on_id, &ids);
  struct sse_stream *s = sse_stream_new(&fake_src, &f, 1);

  drain(s, p, &ids, 333);
  assert_contiguous(&ids, 202, 300);
  cr_assert_eq(ids.n_gaps, 1);
  cr_assert_eq(ids.gaps[0].at, 0, "the gap comes before the first item");
  cr_assert_eq(ids.gaps[0].from, 2);
  cr_assert_eq(ids.gaps[0].first_available, 202);
  /* A stream that starts inside what is kept has no gap. */
  sse_stream_free(s);
  memset(&ids, 0, sizeof ids);
  s = sse_stream_new(&fake_src, &f, 201);
  drain(s, p, &ids, 333);
  assert_contiguous(&ids, 202, 300);
  cr_assert_eq(ids.n_gaps, 0);
  sse_stream_free(s);
  sse_parser_free(p);
}

Test(sse, stream_hole_inside_the_store)
{
  /* A line dropped at the store's backlog cap spends its seq. */
  struct fake f = {.store_first = 1, .store_last = 100, .hole = 70};
  struct ids ids = {0};
  struct sse_parser *p = sse_parser_new(on_id, &ids);
  struct sse_stream *s = sse_stream_new(&fake_src, &f, 0);

  drain(s, p, &ids, 100);
  cr_assert_eq(ids.n, 99);
  cr_assert_eq(ids.v[68], 69);
  cr_assert_eq(ids.v[69], 71);
  cr_assert_eq(ids.n_gaps, 1);
  cr_assert_eq(ids.gaps[0].at, 69);
  cr_assert_eq(ids.gaps[0].from, 70);
  cr_assert_eq(ids.gaps[0].first_available, 71);
  sse_stream_free(s);
  sse_parser_free(p);
}

Test(sse, frame_gap)
{
  struct buf b = BUF_ZERO;
  struct sse_gap g = {.from = 2, .first_available = 202};
  char *buf;

  sse_frame_gap(&b, &g);
  buf = buf_steal(&b, NULL);
  cr_assert_str_eq(buf, "event: gap\ndata: {\"from\":2,\"first_available\":202}"
                        "\n\n");
  free(buf);
}

Test(sse, gap_check)
{
  struct sse_gap g;
  const uint64_t run[] = {5, 6, 7};
  const uint64_t late[] = {202, 203};
  const uint64_t holed[] = {3, 4, 6, 7};

  cr_assert_eq(sse_gap_check(4, run, 3, 7, &g), 3);
  cr_assert_eq(g.from, 0, "contiguous: no gap");
  cr_assert_eq(sse_gap_check(1, late, 2, 203, &g), 2);
  cr_assert_eq(g.from, 2);
  cr_assert_eq(g.first_available, 202);
  cr_assert_eq(sse_gap_check(0, late, 2, 203, &g), 2);
  cr_assert_eq(g.from, 1);
  /* A hole inside the page ends it before the hole. */
  cr_assert_eq(sse_gap_check(2, holed, 4, 7, &g), 2);
  cr_assert_eq(g.from, 0);
  cr_assert_eq(sse_gap_check(4, holed + 2, 2, 7, &g), 2);
  cr_assert_eq(g.from, 5);
  cr_assert_eq(g.first_available, 6);
  /* Nothing read: past the end is no gap; before it, all of it is. */
  cr_assert_eq(sse_gap_check(7, NULL, 0, 7, &g), 0);
  cr_assert_eq(g.from, 0);
  cr_assert_eq(sse_gap_check(9, NULL, 0, 7, &g), 0);
  cr_assert_eq(g.from, 0);
  cr_assert_eq(sse_gap_check(5, NULL, 0, 7, &g), 0);
  cr_assert_eq(g.from, 6);
  cr_assert_eq(g.first_available, 8);
}

Test(sse, stream_bounded_for_a_client_that_stops_reading)
{
  struct fake f = {.store_first = 1, .store_last = STORE_MAX};
  static struct ids ids;
  struct sse_parser *p = sse_parser_new(on_id, &ids);
  struct sse_stream *s = sse_stream_new(&fake_src, &f, 0);
  char buf[16];
  int most;

  cr_assert_eq(sse_stream_read(s, buf, 13), 13, "the retry line");
  /* One byte read: the engine fills up to its low-water mark and stops,
   * it does not frame the whole store (20000 items, 313 batches). Every
   * frame is at least 30 bytes, so 64 KiB takes at most 35 batches. */
  cr_assert_eq(sse_stream_read(s, buf, 1), 1);
  most = SSE_LOW_WATER / 30 / SSE_BATCH + 2;
  cr_assert_leq(f.fetches, most, "%d fetches", f.fetches);
  cr_assert_eq(sse_stream_read(s, buf, 1), 1);
  cr_assert_leq(f.fetches, most, "no refill above the low-water mark");
  sse_parser_feed(p, "id", 2); /* the two bytes read: "id" */
  drain(s, p, &ids, 1000);
  assert_contiguous(&ids, 1, STORE_MAX);
  sse_stream_free(s);
  sse_parser_free(p);
}

static void
on_wake(void *arg)
{
  ((struct fake *)arg)->woken++;
}

Test(sse, heartbeat_and_end)
{
  struct fake f = {.store_first = 1, .store_last = 0};
  struct sse_stream *s = sse_stream_new(&fake_src, &f, 0);
  char buf[256];
  ssize_t n;

  sse_stream_set_waker(s, on_wake, &f);
  n = sse_stream_read(s, buf, sizeof buf);
  cr_assert_eq(n, 13);
  cr_assert(memcmp(buf, "retry: 1000\n\n", 13) == 0);
  cr_assert_eq(sse_stream_read(s, buf, sizeof buf), 0, "nothing yet");
  sse_stream_heartbeat(s);
  cr_assert_eq(f.woken, 1);
  n = sse_stream_read(s, buf, sizeof buf);
  cr_assert_eq(n, 8);
  cr_assert(memcmp(buf, ": ping\n\n", 8) == 0);
  sse_stream_end(s);
  cr_assert_eq(sse_stream_read(s, buf, sizeof buf), -1);
  sse_stream_free(s);
}

Test(sse, stream_ends_when_the_source_is_gone)
{
  struct fake f = {.store_first = 1, .store_last = 0, .store_gone = 1};
  struct sse_stream *s = sse_stream_new(&fake_src, &f, 0);
  char buf[64];

  cr_assert_eq(sse_stream_read(s, buf, sizeof buf), 13);
  cr_assert_eq(sse_stream_read(s, buf, sizeof buf), -1);
  sse_stream_free(s);
}

Test(sse, heartbeat_ends_a_stream_whose_source_is_gone)
{
  struct fake f = {.store_first = 1, .store_last = 0};
  struct sse_stream *s = sse_stream_new(&fake_src, &f, 0);
  char buf[64];

  sse_stream_set_waker(s, on_wake, &f);
  cr_assert_eq(sse_stream_read(s, buf, sizeof buf), 13);
  cr_assert_eq(sse_stream_read(s, buf, sizeof buf), 0, "live, idle");
  f.store_gone = 1; /* the runner was removed by a reload */
  sse_stream_heartbeat(s);
  cr_assert_eq(f.woken, 1);
  cr_assert_eq(sse_stream_read(s, buf, sizeof buf), -1, "no ping: the end");
  sse_stream_free(s);
}
