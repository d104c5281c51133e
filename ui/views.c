/* views: the read-only handlers (see views.h). The tree is cached between
 * changes, as the comment above views_tree says. */
#include "ui/views.h"

#include "src/buf.h"
#include "src/metrics.h"
#include "src/pubsub.h"
#include "src/tend.h"
#include "src/xalloc.h"
#include "ui/reply.h"
#include "ui/sse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* GET /healthz: liveness without auth, and nothing secret. */
void
views_healthz(const struct routes_req *rq, const char *name,
              struct routes_reply *out)
{
  json_t *d = tend_daemon_json();
  json_t *v = json_object_get(d, "version");

  (void)rq;
  (void)name;
  reply_json(out, 200, json_pack("{s:b,s:O?}", "ok", 1, "version", v));
  json_decref(d);
}

/* GET /metrics: the door's metrics plus the HTTP layer's own. */
void
views_metrics(const struct routes_req *rq, const char *name,
              struct routes_reply *out)
{
  struct buf text = BUF_ZERO;

  (void)rq;
  (void)name;
  tend_metrics_text(&text);
  metrics_family(&text, "tend_http_requests_total", "counter",
                 "HTTP responses sent, by status code.");
  for (int s = 100; s < 600; s++) {
    char code[16];
    if (!routes_status_count(s))
      continue;
    snprintf(code, sizeof code, "%d", s);
    metrics_sample(&text, "tend_http_requests_total",
                   (const char *[]){"code", code, NULL},
                   (double)routes_status_count(s));
  }
  metrics_family(&text, "tend_http_sse_subscribers", "gauge",
                 "Open HTTP Server-Sent Events streams (output and "
                 "events).");
  metrics_sample(&text, "tend_http_sse_subscribers", NULL,
                 (double)sse_stream_count());
  out->status = 200;
  out->content_type = "text/plain; version=0.0.4; charset=utf-8";
  out->cache_control = "no-store";
  out->body = buf_steal(&text, &out->len);
}

/* The tree's serialised form, cached: building and dumping a 100-runner
 * tree costs about 1.5 ms, and polling clients ask for it often. Every
 * change to the tree is published: state changes on "events" make the cache
 * stale at once; output chunks (they move output_seq, maybe 1000 times a
 * second across many runners) make it stale after TREE_OUTPUT_LAG_MS, so
 * that chatty runners cannot turn every request into a rebuild. An age
 * limit bounds the damage of a change that is not published at all. */
#define TREE_OUTPUT_LAG_MS 100
#define TREE_CACHE_MAX_AGE_MS 1000

static struct pubsub_sub *tree_events_sub, *tree_output_sub;
static int tree_stale = 1, tree_output_stale;
static char *tree_text;
static size_t tree_len;
static int64_t tree_built_ms;

/* A state event: the cached tree is out of date. */
static void
tree_events_notify(void *ctx)
{
  (void)ctx;
  tree_stale = 1;
}

/* An output chunk: the cached output_seq is behind. */
static void
tree_output_notify(void *ctx)
{
  (void)ctx;
  tree_output_stale = 1;
}

/* Empties a subscription's queue, so that the next publish notifies. */
static void
drain(struct pubsub_sub *sub)
{
  struct pubsub_item it;

  while (pubsub_take(sub, &it) != 0)
    ;
}

/* Drops the cached tree and its subscriptions. */
void
views_shutdown(void)
{
  pubsub_unsubscribe(tree_events_sub);
  pubsub_unsubscribe(tree_output_sub);
  tree_events_sub = tree_output_sub = NULL;
  free(tree_text);
  tree_text = NULL;
  tree_len = 0;
  tree_stale = 1;
  tree_output_stale = 0;
}

/* GET /api/v1/tree. */
void
views_tree(const struct routes_req *rq, const char *name,
           struct routes_reply *out)
{
  int64_t now = routes_mono_ms(), age = now - tree_built_ms;

  (void)rq;
  (void)name;
  if (!tree_events_sub) {
    tree_events_sub = pubsub_subscribe("events", 1, tree_events_notify, NULL);
    tree_output_sub = pubsub_subscribe("output/*", 1, tree_output_notify, NULL);
  }
  if (tree_stale || !tree_text || age > TREE_CACHE_MAX_AGE_MS ||
      (tree_output_stale && age >= TREE_OUTPUT_LAG_MS)) {
    json_t *t;
    drain(tree_events_sub);
    drain(tree_output_sub);
    tree_stale = tree_output_stale = 0;
    t = tend_tree_json();
    if (!t) {
      routes_reply_error(out, 503, "the tree is not loaded yet");
      return;
    }
    reply_json(out, 200, t);
    free(tree_text);
    tree_text = xmalloc(out->len + 1);
    memcpy(tree_text, out->body, out->len + 1);
    tree_len = out->len;
    tree_built_ms = now;
    return;
  }
  /* A copy: MHD may still be sending an older reply when this one is
   * rebuilt. */
  out->status = 200;
  out->content_type = "application/json";
  out->cache_control = "no-store";
  out->body = xmalloc(tree_len + 1);
  memcpy(out->body, tree_text, tree_len + 1);
  out->len = tree_len;
}

/* GET /api/v1/daemon. */
void
views_daemon(const struct routes_req *rq, const char *name,
             struct routes_reply *out)
{
  json_t *d = tend_daemon_json();

  (void)rq;
  (void)name;
  if (!d) {
    routes_reply_error(out, 503, "not ready");
    return;
  }
  reply_json(out, 200, d);
}

/* GET /api/v1/runners/{name}. */
void
views_runner(const struct routes_req *rq, const char *name,
             struct routes_reply *out)
{
  json_t *r = tend_runner_json(name);

  (void)rq;
  if (!r) {
    reply_errorf(out, 404, "no runner named \"%s\"", name);
    return;
  }
  reply_json(out, 200, r);
}

/* GET /api/v1/groups/{name}. */
void
views_group(const struct routes_req *rq, const char *name,
            struct routes_reply *out)
{
  json_t *g = tend_group_json(name);

  (void)rq;
  if (!g) {
    reply_errorf(out, 404, "no group named \"%s\"", name);
    return;
  }
  reply_json(out, 200, g);
}
