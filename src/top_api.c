/* top_api: the daemon's side of `tend top` (see top_api.h and the DESIGN
 * block of top.c): requests on the multi handle, the tree and the event
 * stream that says when to fetch it again, the output pane's backlog and
 * stream (a chunk at or below the last seq shown is dropped, so a
 * reconnect leaves no gap and no repeat), and the keys' actions. */
#include "src/top_api.h"

#include "src/buf.h"
#include "src/cli_conn.h"
#include "src/events.h"
#include "src/xalloc.h"
#include "ui/sse.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Chunks replayed when a runner is selected, and per page. */
#define BACKLOG 500
#define PAGE 1000
/* Tree polls while the event stream is down, and while it is up. */
#define POLL_MS 2000
#define IDLE_POLL_MS 15000
/* The longest reconnect delay of the streams. */
#define RETRY_MAX_MS 5000

enum req_kind { REQ_TREE, REQ_PAGE, REQ_ACTION, REQ_EVENTS, REQ_OUTPUT };

/* One request in flight on the multi handle. */
struct req {
  struct cli_conn_req x; /* the handle and the answer */
  struct top *t;
  enum req_kind kind;
  char *what; /* actions: "api: stop", for the status line */
  struct req *prev, *next;
};

/* ---------------------------------------------------------------- helpers */

/* Monotonic milliseconds, for timers (wall time: events_now_ms). */
int64_t
top_api_now_ms(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sets the status line (printf-style). */
void
top_api_say(struct top *t, int err, const char *fmt, ...)
{
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(t->status, sizeof t->status, fmt, ap);
  va_end(ap);
  t->status_err = err;
  t->dirty = 1;
}

/* --------------------------------------------------------------- requests */

/* Starts a request; a stream (SSE headers, no overall timeout) when
 * stream is set; the caller then gives it its parser, whose callbacks
 * need the request. */
static struct req *
req_start(struct top *t, enum req_kind kind, const char *method,
          const char *path, const char *body, int stream,
          uint64_t last_event_id)
{
  struct req *r = xcalloc(1, sizeof *r);

  r->t = t;
  r->kind = kind;
  cli_conn_req_init(&r->x, t->url, path, t->token, 64u * 1024 * 1024);
  if (stream)
    cli_conn_req_stream(&r->x, last_event_id ? (int64_t)last_event_id : -1);
  else
    curl_easy_setopt(r->x.easy, CURLOPT_TIMEOUT, 30L);
  if (strcmp(method, "POST") == 0) {
    r->x.headers =
        curl_slist_append(r->x.headers, "Content-Type: application/json");
    curl_easy_setopt(r->x.easy, CURLOPT_COPYPOSTFIELDS, body ? body : "{}");
  }
  curl_easy_setopt(r->x.easy, CURLOPT_HTTPHEADER, r->x.headers);
  curl_easy_setopt(r->x.easy, CURLOPT_PRIVATE, r);
  r->next = t->reqs;
  if (t->reqs)
    t->reqs->prev = r;
  t->reqs = r;
  curl_multi_add_handle(t->multi, r->x.easy);
  return r;
}

/* Ends a request, done or not, and forgets it. NULL is a no-op. */
void
top_api_req_free(struct top *t, struct req *r)
{
  if (!r)
    return;
  cli_conn_req_cleanup(&r->x, t->multi);
  free(r->what);
  if (r->prev)
    r->prev->next = r->next;
  else
    t->reqs = r->next;
  if (r->next)
    r->next->prev = r->prev;
  if (t->tree_req == r)
    t->tree_req = NULL;
  if (t->events_req == r)
    t->events_req = NULL;
  if (t->page_req == r)
    t->page_req = NULL;
  if (t->out_req == r)
    t->out_req = NULL;
  free(r);
}

/* The daemon's {"error"} of a refused request, or a short why. */
static void
refusal(struct req *r, CURLcode rc, char *out, size_t cap)
{
  json_t *j;

  if (rc != CURLE_OK) {
    snprintf(out, cap, "no daemon reachable at %s: %s", r->t->url,
             curl_easy_strerror(rc));
    return;
  }
  j = json_loadb(r->x.body.data ? r->x.body.data : "", r->x.body.len, 0, NULL);
  if (json_is_string(json_object_get(j, "error")))
    snprintf(out, cap, "%s", json_string_value(json_object_get(j, "error")));
  else
    snprintf(out, cap, "the daemon answered HTTP %ld", r->x.status);
  json_decref(j);
}

/* ------------------------------------------------------------ the output */

/* Shows one stored chunk in the output pane, unless it was shown already. */
static void
chunk_show(struct top *t, json_t *chunk)
{
  json_t *seqj = json_object_get(chunk, "seq");
  const char *stream = json_string_value(json_object_get(chunk, "stream"));
  const char *data = json_string_value(json_object_get(chunk, "data"));
  const char *b64 = json_string_value(json_object_get(chunk, "data_b64"));
  uint64_t seq;

  if (!json_is_integer(seqj))
    return;
  seq = (uint64_t)json_integer_value(seqj);
  if (seq <= t->out_last)
    return;
  t->out_last = seq;
  if (stream && strcmp(stream, "tend") == 0) {
    struct top_style dim = TOP_STYLE_ZERO;
    char *note = xasprintf("[tend] %s", data ? data : "");
    dim.flags = TOP_DIM;
    top_out_note(t->out, note, &dim);
    free(note);
  } else if (data) {
    top_out_feed(t->out, data,
                 json_string_length(json_object_get(chunk, "data")));
  } else if (b64) {
    struct buf raw = BUF_ZERO;
    if (buf_add_base64(&raw, b64, strlen(b64)) == 0)
      top_out_feed(t->out, raw.data ? raw.data : "", raw.len);
    buf_free(&raw);
  }
  t->dirty = 1;
}

/* An event of the output stream. */
static void
on_output_event(void *ctx, const char *id, const char *event, const char *data,
                size_t len)
{
  struct req *r = ctx;
  json_t *chunk = json_loadb(data, len, JSON_ALLOW_NUL, NULL);

  (void)id;
  (void)event;
  if (json_is_object(chunk))
    chunk_show(r->t, chunk);
  json_decref(chunk);
  r->t->out_delay = TOP_API_RETRY_MIN_MS;
}

/* Follows the shown runner's output from the last seq shown. */
static void
output_stream_start(struct top *t)
{
  char *esc = cli_conn_escape(t->out_name);
  char *path = xasprintf("/api/v1/runners/%s/output/stream?after=%" PRIu64, esc,
                         t->out_last);
  struct req *r;

  r = req_start(t, REQ_OUTPUT, "GET", path, NULL, 1, t->out_last);
  r->x.parser = sse_parser_new(on_output_event, r);
  t->out_req = r;
  t->out_retry_at = 0;
  free(path);
  free(esc);
}

/* Asks for the page of output after the last seq shown. */
static void
output_page_start(struct top *t)
{
  char *esc = cli_conn_escape(t->out_name);
  char *path = xasprintf("/api/v1/runners/%s/output?after=%" PRIu64 "&limit=%d",
                         esc, t->out_last, PAGE);

  t->page_req = req_start(t, REQ_PAGE, "GET", path, NULL, 0, 0);
  free(path);
  free(esc);
}

/* Shows another runner's output (NULL: none): its last BACKLOG chunks,
 * then its stream. */
static void
output_switch(struct top *t, const char *name, int64_t output_seq)
{
  if (name && t->out_name && strcmp(name, t->out_name) == 0)
    return;
  if (!name && !t->out_name)
    return;
  top_api_req_free(t, t->page_req);
  top_api_req_free(t, t->out_req);
  top_out_clear(t->out);
  free(t->out_name);
  t->out_name = name ? xstrdup(name) : NULL;
  t->out_last = output_seq > BACKLOG ? (uint64_t)(output_seq - BACKLOG) : 0;
  t->out_retry_at = 0;
  t->out_delay = TOP_API_RETRY_MIN_MS;
  t->follow = 1;
  t->dirty = 1;
  if (name)
    output_page_start(t);
}

/* A page of output came: show it, then page on or follow the stream. */
static void
output_page_done(struct top *t, struct req *r, CURLcode rc)
{
  json_t *page, *chunks;
  size_t i, n;
  uint64_t last;
  char why[256];

  if (rc != CURLE_OK || r->x.status != 200) {
    refusal(r, rc, why, sizeof why);
    top_api_say(t, 1, "%s: output: %s", t->out_name, why);
    t->out_retry_at = top_api_now_ms() + t->out_delay;
    if (t->out_delay < RETRY_MAX_MS)
      t->out_delay *= 2;
    return;
  }
  page =
      json_loadb(r->x.body.data ? r->x.body.data : "", r->x.body.len, 0, NULL);
  chunks = json_object_get(page, "chunks");
  n = json_array_size(chunks);
  for (i = 0; i < n; i++) /* not json_array_foreach: cppcheck */
    chunk_show(t, json_array_get(chunks, i));
  last = (uint64_t)json_integer_value(json_object_get(page, "last"));
  json_decref(page);
  if (n >= PAGE && last > t->out_last)
    output_page_start(t);
  else
    output_stream_start(t);
}

/* ------------------------------------------------------------- the tree */

/* Selects row i (clamped) and shows its output when it is a runner. */
void
top_api_select_row(struct top *t, int i)
{
  if (t->nrows == 0) {
    t->sel = -1;
    return;
  }
  if (i < 0)
    i = 0;
  if (i >= (int)t->nrows)
    i = (int)t->nrows - 1;
  t->sel = i;
  free(t->sel_name);
  t->sel_name = xstrdup(t->rows[i].name);
  if (!t->rows[i].is_group)
    output_switch(t, t->rows[i].name, t->rows[i].output_seq);
  else
    output_switch(t, NULL, 0);
  t->dirty = 1;
}

/* Rebuilds the rows from the tree and the filter, keeping the selection
 * by name (else the first runner, else the first row). */
void
top_api_rows_rebuild(struct top *t)
{
  int want = -1, first_runner = -1;

  top_view_rows_free(t->rows, t->nrows);
  t->nrows = t->tree
                 ? top_view_rows(t->tree, t->filter, events_now_ms(), &t->rows)
                 : 0;
  if (!t->tree)
    t->rows = NULL;
  for (size_t i = 0; i < t->nrows; i++) {
    if (t->sel_name && strcmp(t->rows[i].name, t->sel_name) == 0)
      want = (int)i;
    if (first_runner < 0 && !t->rows[i].is_group)
      first_runner = (int)i;
  }
  if (want >= 0) {
    t->sel = want;
  } else if (t->nrows > 0) {
    /* The selection went (filtered out, or removed from the config). */
    top_api_select_row(t, first_runner >= 0 ? first_runner : 0);
  } else {
    t->sel = -1;
  }
  t->dirty = 1;
}

/* Asks for the tree. */
static void
tree_fetch(struct top *t)
{
  t->tree_stale = 0;
  t->tree_req = req_start(t, REQ_TREE, "GET", "/api/v1/tree", NULL, 0, 0);
  t->next_tree_poll =
      top_api_now_ms() + (t->events_up ? IDLE_POLL_MS : POLL_MS);
}

/* The tree came. */
static void
tree_done(struct top *t, struct req *r, CURLcode rc)
{
  json_t *tree;
  char why[256];

  if (rc != CURLE_OK || r->x.status != 200) {
    refusal(r, rc, why, sizeof why);
    top_api_say(t, 1, "%s", why);
    return;
  }
  tree =
      json_loadb(r->x.body.data ? r->x.body.data : "", r->x.body.len, 0, NULL);
  if (!json_is_object(tree)) {
    json_decref(tree);
    top_api_say(t, 1, "the daemon sent a tree that is not JSON");
    return;
  }
  if (t->status_err && strncmp(t->status, "no daemon", 9) == 0)
    t->status[0] = '\0';
  json_decref(t->tree);
  t->tree = tree;
  top_api_rows_rebuild(t);
}

/* An event of the event stream: something changed. */
static void
on_event(void *ctx, const char *id, const char *event, const char *data,
         size_t len)
{
  struct req *r = ctx;

  (void)id;
  (void)event;
  (void)data;
  (void)len;
  r->t->tree_stale = 1;
  r->t->events_delay = TOP_API_RETRY_MIN_MS;
}

/* Follows the event stream from now on. */
static void
events_start(struct top *t)
{
  struct req *r =
      req_start(t, REQ_EVENTS, "GET", "/api/v1/events/stream", NULL, 1, 0);

  r->x.parser = sse_parser_new(on_event, r);
  t->events_req = r;
  t->events_retry_at = 0;
}

/* ---------------------------------------------------------------- actions */

/* POSTs an action on the selected node; the answer goes to the status
 * line. kind is "runners" or "groups". */
void
top_api_action(struct top *t, const char *kind, const char *name,
               const char *verb, const char *body)
{
  char *esc = cli_conn_escape(name);
  char *path = xasprintf("/api/v1/%s/%s/%s", kind, esc, verb);
  struct req *r = req_start(t, REQ_ACTION, "POST", path, body, 0, 0);

  r->what = xasprintf("%s: %s", name, verb);
  top_api_say(t, 0, "%s ...", r->what);
  free(path);
  free(esc);
}

/* An action's answer. */
static void
action_done(struct top *t, struct req *r, CURLcode rc)
{
  char why[256];

  if (rc == CURLE_OK && r->x.status == 200) {
    top_api_say(t, 0, "%s: done", r->what);
  } else {
    refusal(r, rc, why, sizeof why);
    top_api_say(t, 1, "%s: %s", r->what, why);
  }
  t->tree_stale = 1;
}

/* The selected row, or NULL. */
const struct top_row *
top_api_selected(struct top *t)
{
  return t->sel >= 0 && (size_t)t->sel < t->nrows ? &t->rows[t->sel] : NULL;
}

/* ------------------------------------------------------------ the loop */

/* Handles the requests that finished. */
void
top_api_requests_done(struct top *t)
{
  CURLMsg *m;
  int left;

  while ((m = curl_multi_info_read(t->multi, &left)) != NULL) {
    struct req *r = NULL;
    CURLcode rc;
    if (m->msg != CURLMSG_DONE)
      continue;
    rc = m->data.result;
    curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
    if (!r)
      continue;
    if (!r->x.status)
      curl_easy_getinfo(r->x.easy, CURLINFO_RESPONSE_CODE, &r->x.status);
    switch (r->kind) {
    case REQ_TREE:
      tree_done(t, r, rc);
      break;
    case REQ_PAGE:
      output_page_done(t, r, rc);
      break;
    case REQ_ACTION:
      action_done(t, r, rc);
      break;
    case REQ_EVENTS:
      /* Lost (or refused): poll the tree until it is back. */
      t->events_up = 0;
      t->tree_stale = 1;
      t->events_retry_at = top_api_now_ms() + t->events_delay;
      if (t->events_delay < RETRY_MAX_MS)
        t->events_delay *= 2;
      break;
    case REQ_OUTPUT:
      if (rc == CURLE_OK && r->x.status == 404) {
        top_api_say(t, 1, "%s: no such runner any more", t->out_name);
        break;
      }
      t->out_retry_at = top_api_now_ms() + t->out_delay;
      if (t->out_delay < RETRY_MAX_MS)
        t->out_delay *= 2;
      break;
    }
    top_api_req_free(t, r);
  }
  if (t->events_req && t->events_req->x.status == 200)
    t->events_up = 1;
}

/* Starts what is due: tree fetches and polls, stream reconnects. */
void
top_api_timers(struct top *t, int64_t now)
{
  if (!t->tree_req && (t->tree_stale || now >= t->next_tree_poll))
    tree_fetch(t);
  if (!t->events_req && now >= t->events_retry_at)
    events_start(t);
  if (t->out_name && !t->page_req && !t->out_req && t->out_retry_at &&
      now >= t->out_retry_at)
    output_stream_start(t);
}
