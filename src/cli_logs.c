/* cli_logs: `tend logs` and `tend events` (see cli_logs.h).
 *
 * Both replay from the store page by page (PAGE items a request), then,
 * with -f, follow the SSE stream; when the connection drops they reconnect
 * with Last-Event-ID = the last seq printed, and drop anything at or below
 * it, so the output has no gap and no repeat across reconnects. Several
 * runners (NAMEs, a group, or the whole tree) are merged in time order,
 * each line prefixed with its runner; following several runs one stream
 * each on a libcurl multi handle (follow_many). With no daemon, one
 * runner's output files are read directly (cli_logs_offline). */
#include "src/cli_logs.h"

#include "src/buf.h"
#include "src/cli.h"
#include "src/events.h"
#include "src/top_view.h"
#include "src/xalloc.h"
#include "state/store.h"
#include "ui/sse.h"

#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Items per page when replaying output or events. */
#define PAGE 1000

/* ------------------------------------------------------ output and events */

/* Colours for runner prefixes when several runners are merged. */
static const char *const prefix_colours[] = {
    "\033[36m", "\033[33m", "\033[35m", "\033[32m", "\033[34m",
    "\033[96m", "\033[93m", "\033[95m", "\033[92m", "\033[94m",
};
#define N_PREFIX_COLOURS (sizeof prefix_colours / sizeof *prefix_colours)

static void fmt_ts(json_t *ts, char *out, size_t cap);

/* Renders the bytes of one chunk line by line, for --grep, -t and merged
 * runners: each line that passes gets its time and runner in front, and a
 * line the chunk leaves open is closed (merged lines never interleave). */
static void
render_lines(struct cli *c, struct buf *o, json_t *chunk, const char *bytes,
             size_t len, int is_tend, int is_err)
{
  char when[48] = "";

  if (c->timestamps)
    fmt_ts(json_object_get(chunk, "ts"), when, sizeof when);
  for (size_t i = 0; i < len;) {
    const char *nl = memchr(bytes + i, '\n', len - i);
    size_t n = nl ? (size_t)(nl - (bytes + i)) : len - i;
    char *line = xstrndup(bytes + i, n);
    i += n + (nl ? 1 : 0);
    if (c->has_grep && regexec(&c->grep, line, 0, NULL, 0) != 0) {
      free(line);
      continue;
    }
    if (c->timestamps)
      buf_addf(o, "%s%s%s ", c->tty ? "\033[2m" : "", when,
               c->tty ? "\033[0m" : "");
    if (c->prefix)
      buf_addf(o, "%s%s |%s ",
               c->tty ? prefix_colours[c->prefix_colour % N_PREFIX_COLOURS]
                      : "",
               c->prefix, c->tty ? "\033[0m" : "");
    if (c->tty && (is_tend || is_err))
      buf_add(o, is_tend ? "\033[2m" : "\033[31m", is_tend ? 4 : 5);
    if (is_tend)
      buf_add(o, "[tend] ", 7);
    buf_add(o, line, n);
    if (c->tty && (is_tend || is_err))
      buf_add(o, "\033[0m", 4);
    buf_add(o, "\n", 1);
    free(line);
  }
}

/* Returns 1 when a line of the chunk's bytes matches --grep. */
static int
chunk_matches(struct cli *c, const char *data, const char *b64)
{
  struct buf raw = BUF_ZERO;
  int hit = 0;

  if (data)
    buf_add(&raw, data, strlen(data));
  else if (b64)
    buf_add_base64(&raw, b64, strlen(b64));
  buf_add(&raw, "", 1);
  for (char *line = raw.data, *nl; line && !hit; line = nl ? nl + 1 : NULL) {
    nl = strchr(line, '\n');
    if (nl)
      *nl = '\0';
    hit = regexec(&c->grep, line, 0, NULL, 0) == 0;
  }
  buf_free(&raw);
  return hit;
}

/* Renders one output chunk: its bytes as written (stderr in red and tend's
 * own markers dimmed on a terminal), or the JSON line with --json. Chunks
 * outside --since / --stream are skipped. */
static void
render_chunk(struct cli *c, struct buf *o, json_t *chunk)
{
  const char *stream = json_string_value(json_object_get(chunk, "stream"));
  const char *data = json_string_value(json_object_get(chunk, "data"));
  const char *b64 = json_string_value(json_object_get(chunk, "data_b64"));
  int is_tend = stream && strcmp(stream, "tend") == 0;
  int is_err = stream && strcmp(stream, "stderr") == 0;
  json_t *ts = json_object_get(chunk, "ts");

  if (c->stream_filter && (!stream || strcmp(stream, c->stream_filter) != 0))
    return;
  if (c->since_ms && json_is_integer(ts) &&
      json_integer_value(ts) < c->since_ms)
    return;
  if (c->json) {
    if (c->has_grep && !chunk_matches(c, data, b64))
      return;
    if (c->prefix)
      json_object_set_new(chunk, "runner", json_string(c->prefix));
    char *s = json_dumps(chunk, JSON_COMPACT);
    buf_addf(o, "%s\n", s ? s : "{}");
    free(s);
    return;
  }
  if (c->prefix || c->has_grep || c->timestamps) {
    struct buf raw = BUF_ZERO;
    if (data)
      buf_add(&raw, data, json_string_length(json_object_get(chunk, "data")));
    else if (b64)
      buf_add_base64(&raw, b64, strlen(b64));
    render_lines(c, o, chunk, raw.data ? raw.data : "", raw.len, is_tend,
                 is_err);
    buf_free(&raw);
    return;
  }
  if (c->tty && (is_tend || is_err))
    buf_add(o, is_tend ? "\033[2m" : "\033[31m", is_tend ? 4 : 5);
  if (is_tend)
    buf_add(o, "[tend] ", 7);
  if (data)
    buf_add(o, data, json_string_length(json_object_get(chunk, "data")));
  else if (b64)
    buf_add_base64(o, b64, strlen(b64));
  if (c->tty && (is_tend || is_err))
    buf_add(o, "\033[0m", 4);
}

/* Formats unix ms as local "YYYY-MM-DD HH:MM:SS.mmm". */
static void
fmt_ts(json_t *ts, char *out, size_t cap)
{
  time_t secs;
  struct tm tm;
  char day[32];

  if (!json_is_integer(ts)) {
    snprintf(out, cap, "-");
    return;
  }
  secs = (time_t)(json_integer_value(ts) / 1000);
  localtime_r(&secs, &tm);
  strftime(day, sizeof day, "%Y-%m-%d %H:%M:%S", &tm);
  snprintf(out, cap, "%s.%03d", day, (int)(json_integer_value(ts) % 1000));
}

/* Renders one event as a line: a state transition as
 * "api: running --exit--> exited (reason)", others as "type: message". */
static void
render_event(struct cli *c, struct buf *o, json_t *ev)
{
  struct tend_event te;
  char when[64];

  if (c->json) {
    char *s = json_dumps(ev, JSON_COMPACT);
    buf_addf(o, "%s\n", s ? s : "{}");
    free(s);
    return;
  }
  fmt_ts(json_object_get(ev, "ts"), when, sizeof when);
  buf_addf(o, "%s  ", when);
  if (events_from_json(ev, &te) != 0) {
    /* A type this client does not know (a newer daemon): its name and
     * message as they came. */
    const char *type = json_string_value(json_object_get(ev, "type"));
    const char *msg = json_string_value(json_object_get(ev, "message"));
    buf_addf(o, "%s%s%s\n", type ? type : "event", msg ? ": " : "",
             msg ? msg : "");
    return;
  }
  if (te.type == EVENTS_STATE) {
    const char *to = events_state_name(te.kind, te.to);
    buf_addf(o, "%s: %s --%s--> ", te.node ? te.node : "?",
             events_state_name(te.kind, te.from), te.event ? te.event : "?");
    if (c->tty)
      buf_addf(o, "%s%s\033[0m", cli_state_colour(to), to);
    else
      buf_addf(o, "%s", to);
    if (te.reason && *te.reason)
      buf_addf(o, " (%s)", te.reason);
  } else {
    buf_addf(o, "%s", events_type_name(te.type));
    if (te.node)
      buf_addf(o, " %s", te.node);
    if (te.message && *te.message)
      buf_addf(o, ": %s", te.message);
  }
  buf_add(o, "\n", 1);
}

typedef void (*render_fn)(struct cli *c, struct buf *o, json_t *item);

/* Writes a buffer to stdout and flushes (pipes see lines promptly). */
static void
emit(struct buf *o)
{
  if (o->len)
    fwrite(o->data, 1, o->len, stdout);
  fflush(stdout);
  o->len = 0;
}

/* Keeps only the last n lines of a rendered buffer. */
static void
keep_last_lines(struct buf *o, long n)
{
  size_t i = o->len;
  long seen = 0;

  if (n <= 0) {
    o->len = 0;
    return;
  }
  if (i > 0 && o->data[i - 1] == '\n')
    i--;
  while (i > 0) {
    if (o->data[i - 1] == '\n' && ++seen == n)
      break;
    i--;
  }
  memmove(o->data, o->data + i, o->len - i);
  o->len -= i;
}

/* Says on stderr that a log's seqs are gone ({"from","first_available"},
 * from a page's "gap" or a stream's gap event); stdout stays the log. */
static void
say_gap(const json_t *gap)
{
  json_int_t from = json_integer_value(json_object_get(gap, "from"));
  json_int_t first =
      json_integer_value(json_object_get(gap, "first_available"));

  if (from > 0 && first > from)
    cli_conn_say(
        "seqs %lld-%lld are gone (rotated away); continuing at seq %lld",
        (long long)from, (long long)first - 1, (long long)first);
}

/* Replays items with seq > *after page by page (key: "chunks" or
 * "events"); renders into o; moves *after. With -n, starts from the last
 * N items (lines are then cut in the caller). */
static int
replay(struct cli *c, const char *path, const char *key, render_fn render,
       struct buf *o, uint64_t *after)
{
  for (;;) {
    char *url = xasprintf("%s?after=%" PRIu64 "&limit=%d", path, *after, PAGE);
    json_t *page = NULL, *items, *item;
    size_t i, n;
    int r = cli_conn_call(c, "GET", url, NULL, &page);

    free(url);
    if (r != CLI_OK)
      return r;
    items = json_object_get(page, key);
    n = json_array_size(items);
    say_gap(json_object_get(page, "gap"));
    json_array_foreach(items, i, item)
    {
      json_t *seq = json_object_get(item, "seq");
      render(c, o, item);
      if (json_is_integer(seq) && (uint64_t)json_integer_value(seq) > *after)
        *after = (uint64_t)json_integer_value(seq);
    }
    json_decref(page);
    if (c->lines < 0)
      emit(o); /* everything: print as we go */
    if (n < PAGE)
      return CLI_OK;
  }
}

/* Where -n N starts: the last seq minus N (from the page's "last"). */
static int
start_for_lines(struct cli *c, const char *path, uint64_t *after)
{
  char *url = xasprintf("%s?after=0&limit=1", path);
  json_t *page = NULL;
  uint64_t last;
  int r = cli_conn_call(c, "GET", url, NULL, &page);

  free(url);
  if (r != CLI_OK)
    return r;
  last = (uint64_t)json_integer_value(json_object_get(page, "last"));
  json_decref(page);
  *after = last > (uint64_t)c->lines ? last - (uint64_t)c->lines : 0;
  return CLI_OK;
}

/* State of one SSE follow. */
struct follow {
  struct cli *c;
  CURL *easy;         /* follow_many's own handle; NULL: c->curl */
  const char *prefix; /* the runner, when several are merged */
  int colour;
  char *path;
  struct curl_slist *headers;
  int64_t retry_at; /* follow_many: when to reconnect; 0 connected */
  unsigned delay_ms;
  int dead; /* refused: not retried */
  render_fn render;
  struct sse_parser *parser;
  uint64_t last;
  long status;
  struct buf err;
  struct buf out;
  int got;
};

/* An SSE event: render it unless it is at or below what was printed. */
static void
on_sse_event(void *ctx, const char *id, const char *event, const char *data,
             size_t len)
{
  struct follow *f = ctx;
  json_t *item = json_loadb(data, len, JSON_ALLOW_NUL, NULL);
  json_t *seq = json_object_get(item, "seq");
  uint64_t s;

  f->got = 1;
  if (event && strcmp(event, "gap") == 0) {
    say_gap(item);
    json_decref(item);
    return;
  }
  if (json_is_integer(seq))
    s = (uint64_t)json_integer_value(seq);
  else if (!id || sscanf(id, "%" SCNu64, &s) != 1)
    s = f->last + 1;
  if (item && s > f->last) {
    f->c->prefix = f->prefix;
    f->c->prefix_colour = f->colour;
    f->render(f->c, &f->out, item);
    emit(&f->out);
    f->last = s;
  }
  json_decref(item);
}

/* libcurl write callback of a stream: SSE when 200, an error body else. */
static size_t
on_stream(char *ptr, size_t size, size_t nmemb, void *ud)
{
  struct follow *f = ud;
  size_t n = size * nmemb;

  if (!f->status)
    curl_easy_getinfo(f->easy ? f->easy : f->c->curl, CURLINFO_RESPONSE_CODE,
                      &f->status);
  if (f->status != 200)
    buf_add(&f->err, ptr, n);
  else
    sse_parser_feed(f->parser, ptr, n);
  return n;
}

/* Follows a stream after seq `after`, reconnecting with Last-Event-ID
 * until the daemon refuses (4xx) or the process is interrupted. */
static int
follow(struct cli *c, const char *path, render_fn render, uint64_t after)
{
  struct follow f = {.c = c, .render = render, .last = after};
  unsigned delay_ms = 250;
  int warned = 0, token_retried = 0;

  for (;;) {
    char *hdr = xasprintf("Last-Event-ID: %" PRIu64, f.last);
    struct curl_slist *h = cli_conn_setup(c, "GET", path, NULL, hdr);
    CURLcode rc;

    free(hdr);
    h = curl_slist_append(h, "Accept: text/event-stream");
    curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, h);
    f.parser = sse_parser_new(on_sse_event, &f);
    f.status = 0;
    f.err.len = 0;
    f.got = 0;
    curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, on_stream);
    curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &f);
    /* Heartbeats come every 15 s: silence for 45 s means a dead peer. */
    curl_easy_setopt(c->curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c->curl, CURLOPT_LOW_SPEED_TIME, 45L);
    rc = curl_easy_perform(c->curl);
    curl_slist_free_all(h);
    sse_parser_free(f.parser);
    f.parser = NULL;
    if (rc == CURLE_OK && f.status == 401 && !token_retried) {
      /* A daemon that came back with a new token. */
      char *before = xstrdup(c->token ? c->token : "");
      cli_conn_rediscover(c);
      token_retried = 1;
      if (c->token && strcmp(before, c->token) != 0) {
        free(before);
        continue;
      }
      free(before);
    }
    if (rc == CURLE_OK && f.status >= 400) {
      cli_conn_print_refusal(f.status, f.err.data, f.err.len);
      buf_free(&f.err);
      buf_free(&f.out);
      return CLI_REFUSED;
    }
    if (f.got) {
      delay_ms = 250;
      warned = 0;
      token_retried = 0;
    }
    if (!warned) {
      cli_conn_say("stream ended (%s); reconnecting from seq %" PRIu64,
                   rc == CURLE_OK ? "closed by the daemon"
                                  : curl_easy_strerror(rc),
                   f.last);
      warned = 1;
    }
    usleep(delay_ms * 1000u);
    if (delay_ms < 5000)
      delay_ms *= 2;
    cli_conn_rediscover(c);
  }
}

/* Connects one stream of follow_many. */
static void
stream_start(struct cli *c, CURLM *multi, struct follow *f)
{
  char *hdr;

  f->headers = NULL;
  f->easy = cli_conn_easy_new(c->url, f->path, c->token, &f->headers);
  hdr = xasprintf("Last-Event-ID: %" PRIu64, f->last);
  f->headers = curl_slist_append(f->headers, hdr);
  free(hdr);
  f->headers = curl_slist_append(f->headers, "Accept: text/event-stream");
  curl_easy_setopt(f->easy, CURLOPT_HTTPHEADER, f->headers);
  curl_easy_setopt(f->easy, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(f->easy, CURLOPT_LOW_SPEED_TIME, 45L);
  curl_easy_setopt(f->easy, CURLOPT_WRITEFUNCTION, on_stream);
  curl_easy_setopt(f->easy, CURLOPT_WRITEDATA, f);
  curl_easy_setopt(f->easy, CURLOPT_PRIVATE, f);
  f->parser = sse_parser_new(on_sse_event, f);
  f->status = 0;
  f->err.len = 0;
  f->got = 0;
  f->retry_at = 0;
  curl_multi_add_handle(multi, f->easy);
}

/* Ends one stream of follow_many after its connection closed. */
static void
stream_end(CURLM *multi, struct follow *f)
{
  curl_multi_remove_handle(multi, f->easy);
  curl_easy_cleanup(f->easy);
  f->easy = NULL;
  curl_slist_free_all(f->headers);
  f->headers = NULL;
  sse_parser_free(f->parser);
  f->parser = NULL;
}

/* Follows several runners' output at once (tend logs -f with several names
 * or a group): one connection per runner on one libcurl multi handle, each
 * reconnecting by itself from its last seq, lines printed as they come.
 * Returns only when the daemon refuses every stream. */
static int
follow_many(struct cli *c, struct follow *fs, size_t n)
{
  CURLM *multi = curl_multi_init();
  size_t dead = 0;
  int warned = 0;

  for (size_t i = 0; i < n; i++)
    stream_start(c, multi, &fs[i]);
  while (dead < n) {
    int running, left;
    CURLMsg *m;
    int64_t now;

    curl_multi_perform(multi, &running);
    while ((m = curl_multi_info_read(multi, &left)) != NULL) {
      struct follow *f = NULL;
      if (m->msg != CURLMSG_DONE)
        continue;
      curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&f);
      CURLcode rc = m->data.result;
      stream_end(multi, f);
      if (rc == CURLE_OK && f->status >= 400 && f->status != 401) {
        fprintf(stderr, "tend: %s: ", f->prefix);
        cli_conn_print_refusal(f->status, f->err.data, f->err.len);
        f->dead = 1;
        dead++;
        continue;
      }
      if (f->got)
        f->delay_ms = 250;
      if (!warned) {
        cli_conn_say("stream ended (%s); reconnecting",
                     rc == CURLE_OK ? "closed by the daemon"
                                    : curl_easy_strerror(rc));
        warned = 1;
      }
      f->retry_at = events_now_ms() + f->delay_ms;
      if (f->delay_ms < 5000)
        f->delay_ms *= 2;
    }
    now = events_now_ms();
    int due = 0;
    for (size_t i = 0; i < n; i++)
      due |= !fs[i].dead && !fs[i].easy && fs[i].retry_at <= now;
    if (due) {
      cli_conn_rediscover(c);
      for (size_t i = 0; i < n; i++)
        if (!fs[i].dead && !fs[i].easy && fs[i].retry_at <= now)
          stream_start(c, multi, &fs[i]);
    }
    curl_multi_poll(multi, NULL, 0, 250, NULL);
  }
  curl_multi_cleanup(multi);
  return CLI_REFUSED;
}

/* A render_fn that keeps the raw items (merged logs sort them first). */
static void
collect_item(struct cli *c, struct buf *o, json_t *item)
{
  (void)o;
  json_array_append(c->collect, item);
}

/* Adds the runners at and below node to names (no repeats). */
static void
add_runners(json_t *node, json_t *names)
{
  json_t *kids = json_object_get(node, "children"), *kid, *v;
  const char *kind = json_string_value(json_object_get(node, "kind"));
  json_t *name = json_object_get(node, "name");
  size_t i;

  if (kind && strcmp(kind, "runner") == 0) {
    json_array_foreach(names, i, v) if (json_equal(v, name)) return;
    json_array_append(names, name);
  }
  json_array_foreach(kids, i, kid) add_runners(kid, names);
}

/* Finds the node called name in a tree, or NULL. */
static json_t *
tree_find(json_t *node, const char *name)
{
  json_t *kids = json_object_get(node, "children"), *kid, *hit;
  const char *n = json_string_value(json_object_get(node, "name"));
  size_t i;

  if (n && strcmp(n, name) == 0)
    return node;
  json_array_foreach(kids, i, kid) if ((hit = tree_find(kid, name))) return hit;
  return NULL;
}

/* One record of a merged replay. */
struct merged {
  json_t *item;
  size_t runner;
  int64_t ts;
  uint64_t seq;
};

/* Orders merged records by time, then by runner, then by seq. */
static int
merged_cmp(const void *a, const void *b)
{
  const struct merged *x = a, *y = b;

  if (x->ts != y->ts)
    return x->ts < y->ts ? -1 : 1;
  if (x->runner != y->runner)
    return x->runner < y->runner ? -1 : 1;
  return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* tend logs with no name, several names or a group: every runner's output
 * merged in time order, each line prefixed with its runner. */
static int
logs_merged(struct cli *c)
{
  json_t *tree = NULL, *names = json_array(), *name;
  struct merged *recs = NULL;
  size_t n_recs = 0, i;
  struct follow *fs = NULL;
  struct buf o = BUF_ZERO;
  int r = cli_conn_call(c, "GET", "/api/v1/tree", NULL, &tree);

  if (r != CLI_OK)
    goto done;
  if (c->nargs == 0)
    add_runners(tree, names);
  for (int k = 0; k < c->nargs; k++) {
    json_t *node = tree_find(tree, c->args[k]);
    if (!node) {
      cli_conn_say("no runner or group named \"%s\"", c->args[k]);
      r = CLI_REFUSED;
      goto done;
    }
    add_runners(node, names);
  }
  fs = xcalloc(json_array_size(names) + 1, sizeof *fs);
  json_array_foreach(names, i, name)
  {
    char *esc = cli_conn_escape(json_string_value(name));
    char *path = xasprintf("/api/v1/runners/%s/output", esc);
    json_t *items = json_array(), *item;
    size_t k;

    c->collect = items;
    r = replay(c, path, "chunks", collect_item, &o, &fs[i].last);
    c->collect = NULL;
    recs = xrealloc(recs, (n_recs + json_array_size(items) + 1) * sizeof *recs);
    json_array_foreach(items, k, item)
    {
      recs[n_recs].item = json_incref(item);
      recs[n_recs].runner = i;
      recs[n_recs].ts = json_integer_value(json_object_get(item, "ts"));
      recs[n_recs].seq =
          (uint64_t)json_integer_value(json_object_get(item, "seq"));
      n_recs++;
    }
    json_decref(items);
    fs[i].path = xasprintf("%s/stream", path);
    fs[i].prefix = json_string_value(name);
    fs[i].colour = (int)i;
    fs[i].c = c;
    fs[i].render = render_chunk;
    fs[i].delay_ms = 250;
    free(path);
    free(esc);
    if (r != CLI_OK)
      goto done;
  }
  if (n_recs > 1)
    qsort(recs, n_recs, sizeof *recs, merged_cmp);
  for (i = 0; i < n_recs; i++) {
    c->prefix = json_string_value(json_array_get(names, recs[i].runner));
    c->prefix_colour = (int)recs[i].runner;
    render_chunk(c, &o, recs[i].item);
    if (c->lines < 0)
      emit(&o);
  }
  if (c->lines >= 0)
    keep_last_lines(&o, c->lines);
  emit(&o);
  if (c->follow && json_array_size(names) > 0)
    r = follow_many(c, fs, json_array_size(names));
done:
  for (i = 0; i < n_recs; i++)
    json_decref(recs[i].item);
  free(recs);
  for (i = 0; fs && i < json_array_size(names); i++)
    free(fs[i].path);
  free(fs);
  buf_free(&o);
  json_decref(names);
  json_decref(tree);
  return r;
}

/* Returns 1 when name is a runner of the daemon. */
static int
is_runner(struct cli *c, const char *name)
{
  char *esc = cli_conn_escape(name);
  char *path = xasprintf("/api/v1/runners/%s", esc);
  long status = cli_conn_probe(c, path);

  free(path);
  free(esc);
  return status == 200;
}

/* tend logs [-f] [-n N] [NAME...]: one runner as it wrote its output, else
 * logs_merged. */
int
cli_logs_output(struct cli *c)
{
  if (c->follow && !c->lines_set)
    c->lines = 10; /* tail -f */
  if (c->nargs != 1 || !is_runner(c, c->args[0]))
    return logs_merged(c);
  char *esc = cli_conn_escape(c->args[0]);
  char *path = xasprintf("/api/v1/runners/%s/output", esc);
  struct buf o = BUF_ZERO;
  uint64_t after = 0;
  int r = CLI_OK;

  if (c->lines >= 0)
    r = start_for_lines(c, path, &after);
  if (r == CLI_OK)
    r = replay(c, path, "chunks", render_chunk, &o, &after);
  if (r == CLI_OK && c->lines >= 0) {
    keep_last_lines(&o, c->lines);
    emit(&o);
  }
  buf_free(&o);
  if (r == CLI_OK && c->follow) {
    char *spath = xasprintf("/api/v1/runners/%s/output/stream", esc);
    r = follow(c, spath, render_chunk, after);
    free(spath);
  }
  free(path);
  free(esc);
  return r;
}

/* Renders one output file's records into o; returns 1 when it exists. */
static int
read_output_file(struct cli *c, const char *path, struct buf *o)
{
  FILE *f = fopen(path, "re");
  char *line = NULL;
  size_t cap = 0;
  ssize_t n;

  if (!f)
    return 0;
  while ((n = getline(&line, &cap, f)) > 0) {
    json_t *chunk = json_loadb(line, (size_t)n, 0, NULL);
    if (json_is_object(chunk))
      render_chunk(c, o, chunk); /* a torn last line is skipped */
    json_decref(chunk);
  }
  free(line);
  fclose(f);
  return 1;
}

/* tend logs NAME with no daemon: the runner's files, oldest first. */
int
cli_logs_offline(struct cli *c)
{
  char *state = cli_conn_state_dir(c->config ? c->config : "tend.json");
  char *cur = xasprintf("%s/output/%s.jsonl", state, c->args[0]);
  struct buf o = BUF_ZERO;
  int found = 0;

  cli_conn_say("reading %s instead", cur);
  for (int i = 99; i >= 1; i--) {
    char *out_dir = xasprintf("%s/output", state);
    char *old = store_rotated_path(out_dir, c->args[0], i);
    free(out_dir);
    found |= read_output_file(c, old, &o);
    free(old);
  }
  found |= read_output_file(c, cur, &o);
  if (!found)
    cli_conn_say("no output recorded for \"%s\" in %s", c->args[0], state);
  if (c->lines >= 0)
    keep_last_lines(&o, c->lines);
  emit(&o);
  buf_free(&o);
  free(cur);
  free(state);
  if (found && c->follow)
    cli_conn_say("no daemon to follow");
  return found && !c->follow ? CLI_OK : CLI_UNREACHABLE;
}

/* tend events [-f] [-n N]. */
int
cli_logs_events(struct cli *c)
{
  struct buf o = BUF_ZERO;
  uint64_t after = 0;
  int r = CLI_OK;

  if (c->lines >= 0)
    r = start_for_lines(c, "/api/v1/events", &after);
  if (r == CLI_OK)
    r = replay(c, "/api/v1/events", "events", render_event, &o, &after);
  if (r == CLI_OK && c->lines >= 0) {
    keep_last_lines(&o, c->lines);
    emit(&o);
  }
  buf_free(&o);
  if (r == CLI_OK && c->follow)
    r = follow(c, "/api/v1/events/stream", render_event, after);
  return r;
}
