/* logs: the output and events handlers (see logs.h).
 *
 * Streams: a handler for .../stream subscribes to the pubsub topic first and
 * only then reads the live position, so nothing published in between is
 * lost; the SSE engine (ui/sse.c) does the rest. The source context below
 * binds the engine to tend_output_after / tend_events_after and pubsub. */
#include "ui/logs.h"

#include "src/pubsub.h"
#include "src/tend.h"
#include "src/xalloc.h"
#include "ui/page.h"
#include "ui/reply.h"
#include "ui/sse.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Items queued per stream subscriber before pubsub reports a gap (which the
 * stream then fills from the store). */
#define ROUTES_SUB_QUEUE 1024

/* Reads ?after (default 0) and ?limit; replies 400 on bad values. */
static int
page_args(const struct routes_req *rq, uint64_t *after, size_t *limit,
          struct routes_reply *out)
{
  const char *a = reply_query(rq, "after");

  *after = 0;
  if (a && routes_parse_query_u64(a, after) < 0) {
    routes_reply_error(out, 400,
                       "after: not an integer from 0 to 9223372036854775807");
    return -1;
  }
  if (routes_parse_limit(reply_query(rq, "limit"), limit) < 0) {
    reply_errorf(out, 400, "limit: an integer from 1 to %d", ROUTES_LIMIT_MAX);
    return -1;
  }
  return 0;
}

/* Replies with a page produced as it is sent (ui/page.c). */
static void
reply_page(struct routes_reply *out, struct page *page)
{
  out->status = 200;
  out->content_type = "application/json";
  out->cache_control = "no-store";
  out->page = page;
}

/* GET /api/v1/runners/{name}/output?after=&limit=. */
void
logs_output(const struct routes_req *rq, const char *name,
            struct routes_reply *out)
{
  uint64_t after, last;
  size_t limit;
  int r;

  if (page_args(rq, &after, &limit, out) < 0)
    return;
  r = tend_output_last_seq(name, &last);
  if (r == -ENOENT) {
    reply_errorf(out, 404, "no runner named \"%s\"", name);
    return;
  }
  if (r < 0) {
    reply_door_error(out, r, NULL);
    return;
  }
  reply_page(out, page_new(name, after, limit, ROUTES_PAGE_BYTES));
}

/* GET /api/v1/events?after=&limit=. */
void
logs_events(const struct routes_req *rq, const char *name,
            struct routes_reply *out)
{
  uint64_t after;
  size_t limit;

  (void)name;
  if (page_args(rq, &after, &limit, out) < 0)
    return;
  reply_page(out, page_new(NULL, after, limit, ROUTES_PAGE_BYTES));
}

/* ----------------------------------------------------- stream sources */

/* One stream's binding to the door and to pubsub. */
struct live_src {
  struct pubsub_sub *sub;
  struct sse_stream *stream; /* borrowed: the stream owns this */
  char *runner;              /* NULL for the event log */
};

/* pubsub says the queue has something (or a gap): wake the stream. */
static void
live_notify(void *ctx)
{
  struct live_src *l = ctx;

  if (l->stream)
    sse_stream_wake(l->stream);
}

/* Store side of an output stream. */
static int
output_fetch(void *ctx, uint64_t after, size_t limit, json_t **items)
{
  struct live_src *l = ctx;
  uint64_t next;

  return tend_output_after(l->runner, after, limit, ROUTES_STREAM_BATCH_BYTES,
                           items, &next);
}

/* Store side of the event stream. */
static int
events_fetch(void *ctx, uint64_t after, size_t limit, json_t **items)
{
  uint64_t next;

  (void)ctx;
  return tend_events_after(after, limit, ROUTES_STREAM_BATCH_BYTES, items,
                           &next);
}

/* Live side of both. */
static int
live_take(void *ctx, uint64_t *seq, const char **json, size_t *len)
{
  struct live_src *l = ctx;
  struct pubsub_item it;
  int r = pubsub_take(l->sub, &it);

  if (r == 1) {
    *seq = it.seq;
    *json = it.json;
    *len = it.len;
  }
  return r;
}

/* Ends the subscription with the stream. */
static void
live_free(void *ctx)
{
  struct live_src *l = ctx;

  pubsub_unsubscribe(l->sub);
  free(l->runner);
  free(l);
}

/* An output stream's runner still exists (it may be removed by a reload). */
static int
output_alive(void *ctx)
{
  struct live_src *l = ctx;
  uint64_t seq;

  return tend_output_last_seq(l->runner, &seq) != -ENOENT;
}

static const struct sse_source output_source = {.fetch = output_fetch,
                                                .take = live_take,
                                                .free_ctx = live_free,
                                                .alive = output_alive};
static const struct sse_source events_source = {
    .fetch = events_fetch, .take = live_take, .free_ctx = live_free};

/* The resume point: Last-Event-ID wins over ?after (EventSource resends
 * the original URL when it reconnects). Returns 1 when one was given, 0
 * when not, -1 after a 400 reply. */
static int
stream_after(const struct routes_req *rq, uint64_t *after,
             struct routes_reply *out)
{
  const char *id = reply_header(rq, "Last-Event-ID");
  const char *a = reply_query(rq, "after");

  if (id) {
    if (routes_parse_seq(id, after) < 0) {
      routes_reply_error(out, 400,
                         "Last-Event-ID: not an integer from 0 "
                         "to 9223372036854775807");
      return -1;
    }
    return 1;
  }
  if (a) {
    if (routes_parse_query_u64(a, after) < 0) {
      routes_reply_error(out, 400,
                         "after: not an integer from 0 to 9223372036854775807");
      return -1;
    }
    return 1;
  }
  return 0;
}

/* Makes the reply an event stream. */
static void
reply_stream(struct routes_reply *out, const struct sse_source *src,
             struct live_src *l, uint64_t after)
{
  out->stream = sse_stream_new(src, l, after);
  l->stream = out->stream;
  out->status = 200;
  out->content_type = "text/event-stream";
  out->cache_control = "no-cache";
}

/* GET /api/v1/runners/{name}/output/stream. */
void
logs_output_stream(const struct routes_req *rq, const char *name,
                   struct routes_reply *out)
{
  uint64_t after = 0, last = 0;
  int given = stream_after(rq, &after, out);
  struct live_src *l;
  char *topic;
  int r;

  if (given < 0)
    return;
  l = xcalloc(1, sizeof *l);
  l->runner = xstrdup(name);
  topic = xasprintf("output/%s", name);
  /* Subscribe before reading the live position: nothing falls between. */
  l->sub = pubsub_subscribe(topic, ROUTES_SUB_QUEUE, live_notify, l);
  free(topic);
  r = tend_output_last_seq(name, &last);
  if (r < 0) {
    live_free(l);
    if (r == -ENOENT)
      reply_errorf(out, 404, "no runner named \"%s\"", name);
    else
      reply_door_error(out, r, NULL);
    return;
  }
  reply_stream(out, &output_source, l, given ? after : last);
}

/* GET /api/v1/events/stream. */
void
logs_events_stream(const struct routes_req *rq, const char *name,
                   struct routes_reply *out)
{
  uint64_t after = 0;
  int given = stream_after(rq, &after, out);
  struct live_src *l;

  (void)name;
  if (given < 0)
    return;
  l = xcalloc(1, sizeof *l);
  l->sub = pubsub_subscribe("events", ROUTES_SUB_QUEUE, live_notify, l);
  reply_stream(out, &events_source, l, given ? after : tend_events_last_seq());
}
