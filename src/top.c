/* top: `tend top` (alias `tend ui`), the full-screen terminal view
 * (issue 12; keys and layout in docs/man/tend.1).
 *
 * DESIGN. One thread, one loop: libcurl's multi interface carries every
 * request, and curl_multi_poll also watches stdin and a self-pipe that the
 * signal handlers write to, so keys stay responsive while the streams run
 * and nothing ever blocks. The view is a client of the HTTP API only:
 *
 *   - the tree: GET /api/v1/tree, fetched again whenever the event stream
 *     (GET /api/v1/events/stream) says anything happened, and polled every
 *     2 s while that stream is down (every 15 s while it is up);
 *   - the selected runner's output: one GET .../output?after=&limit= for
 *     the last BACKLOG chunks, then .../output/stream from the last seq
 *     shown, reconnected with Last-Event-ID when it drops (no gap, no
 *     repeat: a chunk at or below the last seq shown is dropped);
 *   - the keys' commands: POST .../start|stop|restart|signal, whose answer
 *     (or error) goes to the status line.
 *
 * What is drawn is computed by src/top_view.c (pure, unit-tested); this
 * file owns the terminal and the network. Redraws are coalesced: a change
 * marks the screen dirty, and it is drawn at most every REDRAW_MS.
 *
 * The terminal is restored on every way out: q, Ctrl-C, SIGTERM and SIGHUP
 * end the loop and call endwin(); an atexit handler calls it too; and a
 * crash (SIGSEGV, SIGBUS, SIGFPE, SIGABRT) writes the terminal's own reset
 * strings (precomputed from terminfo: the handler only calls write and
 * tcsetattr, both async-signal-safe), restores the saved termios, then
 * gives the signal back to the previous handler (the sanitizers' report, or
 * the default core dump). */
#include "src/top.h"

#include "src/buf.h"
#include "src/cli.h"
#include "src/cli_conn.h"
#include "src/events.h"
#include "src/top_view.h"
#include "src/xalloc.h"
#include "runners/fsm.h"
#include "ui/sse.h"

#include <curl/curl.h>
#include <curses.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <locale.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

/* Output lines kept for the selected runner, and chunks replayed when one
 * is selected. */
#define OUT_LINES 2000
#define BACKLOG 500
#define PAGE 1000
/* At most one redraw per REDRAW_MS. */
#define REDRAW_MS 100
/* Tree polls while the event stream is down, and while it is up. */
#define POLL_MS 2000
#define IDLE_POLL_MS 15000
/* Reconnect delays of the streams. */
#define RETRY_MIN_MS 250
#define RETRY_MAX_MS 5000

enum req_kind { REQ_TREE, REQ_PAGE, REQ_ACTION, REQ_EVENTS, REQ_OUTPUT };

/* One request in flight on the multi handle. */
struct req {
  struct top *t;
  enum req_kind kind;
  CURL *easy;
  struct curl_slist *headers;
  struct buf body;           /* the answer (or a stream's error body) */
  struct sse_parser *parser; /* streams */
  long status;
  char *what; /* actions: "api: stop", for the status line */
  struct req *prev, *next;
};

enum input_mode { IN_NONE, IN_FILTER, IN_SIGNAL };

struct top {
  char *url, *token;
  CURLM *multi;
  struct req *reqs; /* every request in flight */
  struct req *tree_req, *events_req, *page_req, *out_req;

  /* The tree. */
  json_t *tree;
  struct top_row *rows;
  size_t nrows;
  int sel, first; /* selected row, first row shown */
  char *sel_name; /* the selection, kept by name across refreshes */
  int tree_stale; /* fetch it again as soon as none is in flight */
  int64_t next_tree_poll;
  int events_up;
  int64_t events_retry_at;
  unsigned events_delay;
  char filter[128];

  /* The output pane. */
  char *out_name; /* the runner shown, or NULL */
  struct top_out *out;
  uint64_t out_last; /* seq of the last chunk shown */
  int64_t out_retry_at;
  unsigned out_delay;
  int follow;
  uint64_t view_top; /* not following: absolute index of the first line */
  int out_h;         /* the pane's height at the last draw */

  /* The bottom line. */
  enum input_mode mode;
  char input[128];
  char *signal_target;
  char status[256];
  int status_err;
  int help;
  int quit;

  /* Drawing. */
  int dirty;
  int64_t last_draw;
  int64_t drawn_second; /* the wall clock's second at the last draw */
  int colour;           /* colours wanted and possible (NO_COLOR) */
  int default_colours;  /* -1 works as a colour (use_default_colors) */
  struct {
    short fg, bg;
  } pairs[256];
  int npairs;
};

/* ------------------------------------------------- terminal and signals */

/* Set by the quit signals (SIGINT, SIGTERM, SIGHUP), with a byte to the
 * self-pipe to wake the poll. */
static volatile sig_atomic_t quit_signal;
static int sig_pipe[2] = {-1, -1};
/* The terminal as it was before curses, and what resets it (terminfo's
 * rmcup, cnorm, sgr0, rmkx), for the crash handler. */
static struct termios saved_tios;
static int have_tios;
static char reset_seq[256];
static size_t reset_len;
static volatile sig_atomic_t curses_on;
static SCREEN *screen;
static struct sigaction old_crash[NSIG];

static const int crash_signals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGABRT};

/* SIGINT, SIGTERM, SIGHUP: end the loop (the terminal is restored there). */
static void
on_quit_signal(int sig)
{
  int saved = errno;
  char c = (char)sig;

  quit_signal = sig;
  if (sig_pipe[1] >= 0 && write(sig_pipe[1], &c, 1) < 0) {
    /* The pipe is full: the loop is awake anyway. */
  }
  errno = saved;
}

/* A crash: reset the terminal with async-signal-safe calls only, then hand
 * the signal to whoever had it before (ASan's report, or the default). */
static void
on_crash(int sig, siginfo_t *info, void *uctx)
{
  (void)uctx;
  if (curses_on) {
    if (reset_len > 0 && write(STDOUT_FILENO, reset_seq, reset_len) < 0) {
      /* Nothing more can be done from here. */
    }
    if (have_tios)
      tcsetattr(STDIN_FILENO, TCSANOW, &saved_tios);
    curses_on = 0;
  }
  sigaction(sig, &old_crash[sig], NULL);
  /* A fault returns and faults again under the old handler; a signal that
   * was sent (kill, abort) is sent again. */
  if (!info || info->si_code <= 0)
    raise(sig);
}

/* Ends curses once (atexit, and the normal way out). */
static void
term_restore(void)
{
  if (curses_on) {
    endwin();
    curses_on = 0;
  }
}

/* Appends a terminfo string to the crash handler's reset sequence. */
static void
reset_add(const char *cap)
{
  char *s = tigetstr(cap);
  size_t n;

  if (!s || s == (char *)-1)
    return;
  n = strlen(s);
  if (reset_len + n < sizeof reset_seq) {
    memcpy(reset_seq + reset_len, s, n);
    reset_len += n;
  }
}

/* Installs the signal handlers (after curses, whose own they replace). */
static void
signals_install(void)
{
  struct sigaction sa;

  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_quit_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGHUP, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_crash;
  sa.sa_flags = SA_SIGINFO | SA_RESETHAND;
  sigemptyset(&sa.sa_mask);
  for (size_t i = 0; i < sizeof crash_signals / sizeof *crash_signals; i++)
    sigaction(crash_signals[i], &sa, &old_crash[crash_signals[i]]);
}

/* Starts curses on the terminal; returns -1 (with why printed) when the
 * terminal cannot do it. */
static int
term_start(struct top *t)
{
  if (tcgetattr(STDIN_FILENO, &saved_tios) == 0)
    have_tios = 1;
  screen = newterm(NULL, stdout, stdin);
  if (!screen) {
    fprintf(stderr, "tend top: cannot drive the terminal \"%s\"\n",
            getenv("TERM") ? getenv("TERM") : "");
    return -1;
  }
  set_term(screen);
  curses_on = 1;
  atexit(term_restore);
  cbreak();
  noecho();
  nonl();
  keypad(stdscr, TRUE);
  nodelay(stdscr, TRUE);
  set_escdelay(25);
  curs_set(0);
  t->colour = has_colors() && !(getenv("NO_COLOR") && *getenv("NO_COLOR"));
  if (t->colour) {
    start_color();
    t->default_colours = use_default_colors() == OK;
  }
  reset_add("sgr0");
  reset_add("cnorm");
  reset_add("rmkx");
  reset_add("rmcup");
  return 0;
}

/* ---------------------------------------------------------------- helpers */

/* Monotonic milliseconds, for timers (wall time: events_now_ms). */
static int64_t
now_ms(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sets the status line (printf-style). */
static void __attribute__((format(printf, 3, 4)))
say(struct top *t, int err, const char *fmt, ...)
{
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(t->status, sizeof t->status, fmt, ap);
  va_end(ap);
  t->status_err = err;
  t->dirty = 1;
}

/* Percent-encodes a name for a path (new string). */
static char *
escape(const char *name)
{
  char *e = curl_easy_escape(NULL, name, 0);
  char *s = xstrdup(e ? e : "");

  curl_free(e);
  return s;
}

/* --------------------------------------------------------------- requests */

/* libcurl write callback: a stream's events, or a body. */
static size_t
on_data(char *ptr, size_t size, size_t nmemb, void *ud)
{
  struct req *r = ud;
  size_t n = size * nmemb;

  if (!r->status)
    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &r->status);
  if (r->parser && r->status == 200)
    sse_parser_feed(r->parser, ptr, n);
  else if (r->body.len < 64u * 1024 * 1024)
    buf_add(&r->body, ptr, n);
  return n;
}

/* Starts a request (a stream when parser is given, which it takes). */
static struct req *
req_start(struct top *t, enum req_kind kind, const char *method,
          const char *path, const char *body, struct sse_parser *parser,
          uint64_t last_event_id)
{
  struct req *r = xcalloc(1, sizeof *r);
  char *h;

  r->t = t;
  r->kind = kind;
  r->parser = parser;
  r->easy = cli_conn_easy_new(t->url, path, t->token, &r->headers);
  if (parser) {
    r->headers = curl_slist_append(r->headers, "Accept: text/event-stream");
    if (last_event_id) {
      h = xasprintf("Last-Event-ID: %" PRIu64, last_event_id);
      r->headers = curl_slist_append(r->headers, h);
      free(h);
    }
    /* Heartbeats come every 15 s: silence for 45 s means a dead peer. */
    curl_easy_setopt(r->easy, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(r->easy, CURLOPT_LOW_SPEED_TIME, 45L);
  } else {
    curl_easy_setopt(r->easy, CURLOPT_TIMEOUT, 30L);
  }
  if (strcmp(method, "POST") == 0) {
    r->headers =
        curl_slist_append(r->headers, "Content-Type: application/json");
    curl_easy_setopt(r->easy, CURLOPT_COPYPOSTFIELDS, body ? body : "{}");
  }
  curl_easy_setopt(r->easy, CURLOPT_HTTPHEADER, r->headers);
  curl_easy_setopt(r->easy, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(r->easy, CURLOPT_WRITEDATA, r);
  curl_easy_setopt(r->easy, CURLOPT_PRIVATE, r);
  r->next = t->reqs;
  if (t->reqs)
    t->reqs->prev = r;
  t->reqs = r;
  curl_multi_add_handle(t->multi, r->easy);
  return r;
}

/* Ends a request, done or not, and forgets it. NULL is a no-op. */
static void
req_free(struct top *t, struct req *r)
{
  if (!r)
    return;
  curl_multi_remove_handle(t->multi, r->easy);
  curl_easy_cleanup(r->easy);
  curl_slist_free_all(r->headers);
  sse_parser_free(r->parser);
  buf_free(&r->body);
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
  j = json_loadb(r->body.data ? r->body.data : "", r->body.len, 0, NULL);
  if (json_is_string(json_object_get(j, "error")))
    snprintf(out, cap, "%s", json_string_value(json_object_get(j, "error")));
  else
    snprintf(out, cap, "the daemon answered HTTP %ld", r->status);
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
  r->t->out_delay = RETRY_MIN_MS;
}

/* Follows the shown runner's output from the last seq shown. */
static void
output_stream_start(struct top *t)
{
  char *esc = escape(t->out_name);
  char *path = xasprintf("/api/v1/runners/%s/output/stream?after=%" PRIu64, esc,
                         t->out_last);
  struct req *r;

  r = req_start(t, REQ_OUTPUT, "GET", path, NULL, NULL, t->out_last);
  r->parser = sse_parser_new(on_output_event, r);
  t->out_req = r;
  t->out_retry_at = 0;
  free(path);
  free(esc);
}

/* Asks for the page of output after the last seq shown. */
static void
output_page_start(struct top *t)
{
  char *esc = escape(t->out_name);
  char *path = xasprintf("/api/v1/runners/%s/output?after=%" PRIu64 "&limit=%d",
                         esc, t->out_last, PAGE);

  t->page_req = req_start(t, REQ_PAGE, "GET", path, NULL, NULL, 0);
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
  req_free(t, t->page_req);
  req_free(t, t->out_req);
  top_out_clear(t->out);
  free(t->out_name);
  t->out_name = name ? xstrdup(name) : NULL;
  t->out_last = output_seq > BACKLOG ? (uint64_t)(output_seq - BACKLOG) : 0;
  t->out_retry_at = 0;
  t->out_delay = RETRY_MIN_MS;
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

  if (rc != CURLE_OK || r->status != 200) {
    refusal(r, rc, why, sizeof why);
    say(t, 1, "%s: output: %s", t->out_name, why);
    t->out_retry_at = now_ms() + t->out_delay;
    if (t->out_delay < RETRY_MAX_MS)
      t->out_delay *= 2;
    return;
  }
  page = json_loadb(r->body.data ? r->body.data : "", r->body.len, 0, NULL);
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
static void
select_row(struct top *t, int i)
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
static void
rows_rebuild(struct top *t)
{
  int want = -1, first_runner = -1;

  top_view_rows_free(t->rows, t->nrows);
  t->nrows = t->tree ? top_view_rows(t->tree, t->filter, events_now_ms(),
                                     &t->rows)
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
    select_row(t, first_runner >= 0 ? first_runner : 0);
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
  t->tree_req = req_start(t, REQ_TREE, "GET", "/api/v1/tree", NULL, NULL, 0);
  t->next_tree_poll = now_ms() + (t->events_up ? IDLE_POLL_MS : POLL_MS);
}

/* The tree came. */
static void
tree_done(struct top *t, struct req *r, CURLcode rc)
{
  json_t *tree;
  char why[256];

  if (rc != CURLE_OK || r->status != 200) {
    refusal(r, rc, why, sizeof why);
    say(t, 1, "%s", why);
    return;
  }
  tree = json_loadb(r->body.data ? r->body.data : "", r->body.len, 0, NULL);
  if (!json_is_object(tree)) {
    json_decref(tree);
    say(t, 1, "the daemon sent a tree that is not JSON");
    return;
  }
  if (t->status_err && strncmp(t->status, "no daemon", 9) == 0)
    t->status[0] = '\0';
  json_decref(t->tree);
  t->tree = tree;
  rows_rebuild(t);
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
  r->t->events_delay = RETRY_MIN_MS;
}

/* Follows the event stream from now on. */
static void
events_start(struct top *t)
{
  struct req *r =
      req_start(t, REQ_EVENTS, "GET", "/api/v1/events/stream", NULL, NULL, 0);

  r->parser = sse_parser_new(on_event, r);
  t->events_req = r;
  t->events_retry_at = 0;
}

/* ---------------------------------------------------------------- actions */

/* POSTs an action on the selected node; the answer goes to the status
 * line. kind is "runners" or "groups". */
static void
action(struct top *t, const char *kind, const char *name, const char *verb,
       const char *body)
{
  char *esc = escape(name);
  char *path = xasprintf("/api/v1/%s/%s/%s", kind, esc, verb);
  struct req *r = req_start(t, REQ_ACTION, "POST", path, body, NULL, 0);

  r->what = xasprintf("%s: %s", name, verb);
  say(t, 0, "%s ...", r->what);
  free(path);
  free(esc);
}

/* An action's answer. */
static void
action_done(struct top *t, struct req *r, CURLcode rc)
{
  char why[256];

  if (rc == CURLE_OK && r->status == 200) {
    say(t, 0, "%s: done", r->what);
  } else {
    refusal(r, rc, why, sizeof why);
    say(t, 1, "%s: %s", r->what, why);
  }
  t->tree_stale = 1;
}

/* The selected row, or NULL. */
static const struct top_row *
selected(struct top *t)
{
  return t->sel >= 0 && (size_t)t->sel < t->nrows ? &t->rows[t->sel] : NULL;
}

/* s, x, r on the selection: runners start, stop and restart; a group only
 * restarts (the API has no group start or stop). */
static void
key_action(struct top *t, const char *verb)
{
  const struct top_row *row = selected(t);

  if (!row) {
    say(t, 1, "nothing selected");
    return;
  }
  if (row->is_group && strcmp(verb, "restart") != 0) {
    say(t, 1, "%s is a group: r restarts it; %s works on a runner", row->name,
        verb);
    return;
  }
  action(t, row->is_group ? "groups" : "runners", row->name, verb, "{}");
}

/* ------------------------------------------------------------ the loop */

/* Handles the requests that finished. */
static void
requests_done(struct top *t)
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
    if (!r->status)
      curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &r->status);
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
      t->events_retry_at = now_ms() + t->events_delay;
      if (t->events_delay < RETRY_MAX_MS)
        t->events_delay *= 2;
      break;
    case REQ_OUTPUT:
      if (rc == CURLE_OK && r->status == 404) {
        say(t, 1, "%s: no such runner any more", t->out_name);
        break;
      }
      t->out_retry_at = now_ms() + t->out_delay;
      if (t->out_delay < RETRY_MAX_MS)
        t->out_delay *= 2;
      break;
    }
    req_free(t, r);
  }
  if (t->events_req && t->events_req->status == 200)
    t->events_up = 1;
}

/* Starts what is due: tree fetches and polls, stream reconnects. */
static void
timers(struct top *t, int64_t now)
{
  if (!t->tree_req && (t->tree_stale || now >= t->next_tree_poll))
    tree_fetch(t);
  if (!t->events_req && now >= t->events_retry_at)
    events_start(t);
  if (t->out_name && !t->page_req && !t->out_req && t->out_retry_at &&
      now >= t->out_retry_at)
    output_stream_start(t);
}

/* Milliseconds until something is due (at most a second, for the clock). */
static long
poll_timeout(struct top *t, int64_t now)
{
  int64_t due = now + 1000 - events_now_ms() % 1000;

  if (t->dirty && t->last_draw + REDRAW_MS < due)
    due = t->last_draw + REDRAW_MS;
  if (!t->tree_req && t->next_tree_poll < due)
    due = t->next_tree_poll;
  if (!t->events_req && t->events_retry_at < due)
    due = t->events_retry_at;
  if (t->out_retry_at && t->out_retry_at < due)
    due = t->out_retry_at;
  return due <= now ? 0 : (long)(due - now);
}

/* ---------------------------------------------------------------- drawing */

/* A colour pair for fg on bg (-1: default), made on first use; 0 when the
 * terminal has no colours or no pair is left. */
static int
pair_for(struct top *t, int fg, int bg)
{
  if (!t->colour)
    return 0;
  if (!t->default_colours) {
    fg = fg < 0 ? COLOR_WHITE : fg;
    bg = bg < 0 ? COLOR_BLACK : bg;
  }
  if (fg >= COLORS || bg >= COLORS)
    return 0;
  for (int i = 0; i < t->npairs; i++)
    if (t->pairs[i].fg == fg && t->pairs[i].bg == bg)
      return i + 1;
  if (t->npairs + 1 >= COLOR_PAIRS || t->npairs + 1 >= 256)
    return 0;
  if (init_pair((short)(t->npairs + 1), (short)fg, (short)bg) != OK)
    return 0;
  t->pairs[t->npairs].fg = (short)fg;
  t->pairs[t->npairs].bg = (short)bg;
  return ++t->npairs;
}

/* The curses attributes of a style. */
static attr_t
style_attr(struct top *t, const struct top_style *st)
{
  attr_t a = 0;
  int fg = st->fg, bg = st->bg, bright = 0, bg_bright = 0;

  if (st->flags & TOP_BOLD)
    a |= A_BOLD;
  if (st->flags & TOP_DIM)
    a |= A_DIM;
  if (st->flags & TOP_UNDERLINE)
    a |= A_UNDERLINE;
  if (st->flags & TOP_REVERSE)
    a |= A_REVERSE;
  if (st->flags & TOP_ITALIC)
    a |= A_ITALIC;
  if (COLORS < 256) {
    fg = top_view_colour8(fg, &bright);
    bg = top_view_colour8(bg, &bg_bright);
    if (bright)
      a |= A_BOLD;
  }
  if (fg >= 0 || bg >= 0)
    a |= (attr_t)COLOR_PAIR(pair_for(t, fg, bg));
  return a;
}

/* The attributes of a state's name. */
static attr_t
state_attr(struct top *t, const char *state)
{
  if (fsm_state_name_is(state, fsm_state_up))
    return (attr_t)COLOR_PAIR(pair_for(t, COLOR_GREEN, -1));
  if (strcmp(state, "failed") == 0)
    return (attr_t)COLOR_PAIR(pair_for(t, COLOR_RED, -1)) | A_BOLD;
  if (strcmp(state, "stopped") == 0)
    return A_DIM;
  return (attr_t)COLOR_PAIR(pair_for(t, COLOR_YELLOW, -1));
}

/* Draws text at (y, x), cut at column max_x. */
static void
put(int y, int x, const char *s, int max_x)
{
  size_t n;

  if (x >= max_x || y < 0)
    return;
  n = top_view_fit(s, strlen(s), (size_t)(max_x - x));
  mvaddnstr(y, x, s, (int)n);
}

/* The title line. */
static void
draw_title(struct top *t, int cols)
{
  char line[512];
  size_t runners = 0;

  for (size_t i = 0; i < t->nrows; i++)
    runners += !t->rows[i].is_group;
  snprintf(line, sizeof line, " tend top  %s  %zu runner%s%s%s%s", t->url,
           runners, runners == 1 ? "" : "s", t->filter[0] ? "  filter: " : "",
           t->filter, t->events_up ? "" : "  (polling)");
  attrset(A_REVERSE);
  mvhline(0, 0, ' ', cols);
  put(0, 0, line, cols);
  attrset(A_NORMAL);
}

/* The tree's heads and rows. */
static void
draw_tree(struct top *t, const struct top_layout *l, int cols)
{
  int name_w = 4, x_state, x_pid, x_up, x_rs, x_exit;

  for (size_t i = 0; i < t->nrows; i++) {
    int w = t->rows[i].depth * 2 + (int)strlen(t->rows[i].name);
    if (w > name_w)
      name_w = w;
  }
  if (name_w > cols / 3)
    name_w = cols / 3 > 4 ? cols / 3 : 4;
  x_state = name_w + 2;
  x_pid = x_state + 10;
  x_up = x_pid + 9;
  x_rs = x_up + 9;
  x_exit = x_rs + 10;
  attrset(A_BOLD);
  put(1, 0, "NAME", cols);
  put(1, x_state, "STATE", cols);
  put(1, x_pid, "PID", cols);
  put(1, x_up, "UPTIME", cols);
  put(1, x_rs, "RESTARTS", cols);
  put(1, x_exit, "LAST EXIT", cols);
  attrset(A_NORMAL);
  if (!t->tree) {
    put(l->tree_y, 0, "connecting ...", cols);
    return;
  }
  if (t->nrows == 0 && l->tree_h > 0)
    put(l->tree_y, 0, "(no node matches the filter)", cols);
  t->first = top_view_scroll(t->sel, t->first, l->tree_h, (int)t->nrows);
  for (int k = 0; k < l->tree_h; k++) {
    size_t i = (size_t)(t->first + k);
    const struct top_row *row;
    int y = l->tree_y + k, sel;
    char name[256];
    if (i >= t->nrows)
      break;
    row = &t->rows[i];
    sel = (int)i == t->sel;
    attrset(sel ? A_REVERSE : A_NORMAL);
    if (sel)
      mvhline(y, 0, ' ', cols);
    snprintf(name, sizeof name, "%*s%s", row->depth * 2, "", row->name);
    if (row->is_group)
      attron(A_BOLD);
    put(y, 0, name, name_w < cols ? name_w : cols);
    attrset(sel ? A_REVERSE : A_NORMAL);
    attron(state_attr(t, row->state));
    put(y, x_state, row->state, cols);
    attrset(sel ? A_REVERSE : A_NORMAL);
    put(y, x_pid, row->pid, cols);
    put(y, x_up, row->uptime, cols);
    put(y, x_rs, row->restarts, cols);
    put(y, x_exit, row->last_exit, cols);
    attrset(A_NORMAL);
  }
}

/* The separator and the output pane. */
static void
draw_output(struct top *t, const struct top_layout *l, int cols)
{
  char head[300];
  size_t count = top_out_count(t->out), start;
  uint64_t dropped = top_out_dropped(t->out);

  if (l->sep_y < 0)
    return;
  mvhline(l->sep_y, 0, ACS_HLINE, cols);
  if (t->out_name)
    snprintf(head, sizeof head, " %s %s ", t->out_name,
             t->follow ? "(following)" : "(paused: f follows)");
  else if (selected(t))
    snprintf(head, sizeof head,
             " %s: a group; select a runner for its "
             "output ",
             selected(t)->name);
  else
    snprintf(head, sizeof head, " output ");
  attron(A_BOLD);
  put(l->sep_y, 2, head, cols);
  attrset(A_NORMAL);
  t->out_h = l->out_h;
  if (t->follow || t->view_top < dropped)
    start = count > (size_t)l->out_h ? count - (size_t)l->out_h : 0;
  else
    start = (size_t)(t->view_top - dropped);
  if (start > count)
    start = count;
  for (int k = 0; k < l->out_h && start + (size_t)k < count; k++) {
    const struct top_line *line = top_out_line(t->out, start + (size_t)k);
    int x = 0;
    for (size_t s = 0; s < line->nsegs && x < cols; s++) {
      const struct top_seg *seg = &line->segs[s];
      size_t n =
          top_view_fit(line->text + seg->off, seg->len, (size_t)(cols - x));
      attrset(style_attr(t, &seg->st));
      mvaddnstr(l->out_y + k, x, line->text + seg->off, (int)n);
      x = getcurx(stdscr);
      if (n < seg->len)
        break;
    }
    attrset(A_NORMAL);
  }
}

/* The bottom line: a prompt, the help, or the last message. */
static void
draw_status(struct top *t, const struct top_layout *l, int cols)
{
  char line[512];

  curs_set(0);
  if (t->mode != IN_NONE) {
    snprintf(line, sizeof line, "%s%s",
             t->mode == IN_FILTER ? "filter: " : "signal (HUP, USR1, ...): ",
             t->input);
    put(l->status_y, 0, line, cols);
    curs_set(1);
    return;
  }
  if (t->help) {
    put(l->status_y, 0,
        "up/down j/k select  s start  x stop  r restart  S signal  f follow  "
        "PgUp/PgDn scroll  / filter  q quit",
        cols);
    return;
  }
  if (t->status[0]) {
    attrset(t->status_err
                ? (attr_t)COLOR_PAIR(pair_for(t, COLOR_RED, -1)) | A_BOLD
                : A_NORMAL);
    put(l->status_y, 0, t->status, cols);
    attrset(A_NORMAL);
    return;
  }
  attrset(A_DIM);
  put(l->status_y, 0, "? help  q quit", cols);
  attrset(A_NORMAL);
}

/* Draws the whole screen. */
static void
draw(struct top *t)
{
  struct top_layout l;
  int lines = LINES, cols = COLS;

  erase();
  top_view_layout(lines, (int)t->nrows, &l);
  draw_title(t, cols);
  draw_tree(t, &l, cols);
  draw_output(t, &l, cols);
  draw_status(t, &l, cols);
  if (t->mode != IN_NONE)
    move(l.status_y, getcurx(stdscr));
  refresh();
  t->dirty = 0;
  t->last_draw = now_ms();
  t->drawn_second = events_now_ms() / 1000;
}

/* ------------------------------------------------------------------ keys */

/* Pauses following, keeping the lines on screen where they are. */
static void
follow_off(struct top *t)
{
  size_t count = top_out_count(t->out);

  if (!t->follow)
    return;
  t->follow = 0;
  t->view_top = top_out_dropped(t->out) +
                (count > (size_t)t->out_h ? count - (size_t)t->out_h : 0);
}

/* Scrolls the output pane by delta lines (negative: back). */
static void
output_scroll(struct top *t, long delta)
{
  uint64_t dropped = top_out_dropped(t->out);
  uint64_t end = dropped + top_out_count(t->out);
  uint64_t bottom = end > (uint64_t)t->out_h ? end - (uint64_t)t->out_h : 0;

  follow_off(t);
  if (t->view_top < dropped)
    t->view_top = dropped;
  if (delta < 0)
    t->view_top = t->view_top - dropped > (uint64_t)-delta
                      ? t->view_top + (uint64_t)delta
                      : dropped;
  else
    t->view_top += (uint64_t)delta;
  if (t->view_top >= bottom) {
    t->view_top = bottom;
    t->follow = 1; /* back at the end: follow again */
  }
}

/* A key while a prompt (filter or signal) is open. */
static void
key_input(struct top *t, int ch)
{
  size_t n = strlen(t->input);

  if (ch == 27) { /* Esc */
    if (t->mode == IN_FILTER) {
      t->filter[0] = '\0';
      rows_rebuild(t);
    }
    t->mode = IN_NONE;
  } else if (ch == '\n' || ch == '\r' || ch == KEY_ENTER) {
    if (t->mode == IN_SIGNAL && n > 0 && t->signal_target) {
      json_t *body = json_pack("{s:s}", "signal", t->input);
      char *text = json_dumps(body, JSON_COMPACT);
      action(t, "runners", t->signal_target, "signal", text);
      free(text);
      json_decref(body);
    }
    t->mode = IN_NONE;
  } else if (ch == KEY_BACKSPACE || ch == 127 || ch == 8) {
    if (n > 0)
      t->input[n - 1] = '\0';
  } else if (ch == 21) { /* Ctrl-U */
    t->input[0] = '\0';
  } else if (ch >= 0x20 && ch < 0x7f && n + 1 < sizeof t->input) {
    t->input[n] = (char)ch;
    t->input[n + 1] = '\0';
  }
  if (t->mode == IN_FILTER) {
    snprintf(t->filter, sizeof t->filter, "%s", t->input);
    rows_rebuild(t);
  }
  t->dirty = 1;
}

/* One key. */
static void
key(struct top *t, int ch)
{
  const struct top_row *row;

  if (ch == KEY_RESIZE) {
    t->dirty = 1;
    return;
  }
  if (t->mode != IN_NONE) {
    key_input(t, ch);
    return;
  }
  t->dirty = 1;
  switch (ch) {
  case 'q':
  case 3: /* Ctrl-C, should it come as a key */
    t->quit = 1;
    break;
  case KEY_UP:
  case 'k':
    select_row(t, t->sel - 1);
    break;
  case KEY_DOWN:
  case 'j':
    select_row(t, t->sel + 1);
    break;
  case KEY_HOME:
    select_row(t, 0);
    break;
  case KEY_END:
    select_row(t, (int)t->nrows - 1);
    break;
  case KEY_PPAGE:
    output_scroll(t, -(long)(t->out_h > 1 ? t->out_h - 1 : 1));
    break;
  case KEY_NPAGE:
    output_scroll(t, t->out_h > 1 ? t->out_h - 1 : 1);
    break;
  case 's':
    key_action(t, "start");
    break;
  case 'x':
    key_action(t, "stop");
    break;
  case 'r':
    key_action(t, "restart");
    break;
  case 'S':
    row = selected(t);
    if (!row || row->is_group) {
      say(t, 1, "S sends a signal to a runner: select one");
      break;
    }
    free(t->signal_target);
    t->signal_target = xstrdup(row->name);
    t->input[0] = '\0';
    t->mode = IN_SIGNAL;
    break;
  case 'f':
    if (t->follow)
      follow_off(t);
    else
      t->follow = 1;
    break;
  case '/':
    snprintf(t->input, sizeof t->input, "%s", t->filter);
    t->mode = IN_FILTER;
    break;
  case '?':
    t->help = !t->help;
    break;
  case 27:
    t->help = 0;
    t->status[0] = '\0';
    break;
  default:
    break;
  }
}

/* Returns 1 when the terminal is gone (poll says hang-up or error, which
 * curl_multi_poll does not pass on). */
static int
stdin_gone(void)
{
  struct pollfd p = {.fd = STDIN_FILENO, .events = POLLIN};

  return poll(&p, 1, 0) > 0 && (p.revents & (POLLHUP | POLLERR | POLLNVAL));
}

/* Reads every key waiting. */
static void
keys(struct top *t)
{
  int ch;

  while (!t->quit && (ch = getch()) != ERR)
    key(t, ch);
}

/* ------------------------------------------------------------------ main */

/* Parses the options; returns 0, or 2 after printing why. */
static int
parse_args(int argc, char **argv, const char **config, const char **url,
           const char **token)
{
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (cli_conn_parse_opt(argc, argv, &i, config, url, token) <= 0) {
      fprintf(stderr, "tend %s: unexpected argument \"%s\"\n", argv[0], a);
      return CLI_USAGE;
    }
  }
  return 0;
}

/* Frees everything the view holds (the terminal is restored before). */
static void
top_free(struct top *t)
{
  while (t->reqs)
    req_free(t, t->reqs);
  if (t->multi)
    curl_multi_cleanup(t->multi);
  top_view_rows_free(t->rows, t->nrows);
  json_decref(t->tree);
  top_out_free(t->out);
  free(t->sel_name);
  free(t->out_name);
  free(t->signal_target);
  free(t->url);
  free(t->token);
}

int
top_main(int argc, char **argv)
{
  const char *config = NULL, *url = NULL, *token = NULL;
  struct top t;
  int r;

  r = parse_args(argc, argv, &config, &url, &token);
  if (r)
    return r;
  if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
    fprintf(stderr,
            "tend %s: needs a terminal (try tend status, or tend "
            "logs -f)\n",
            argv[0]);
    return CLI_USAGE;
  }
  memset(&t, 0, sizeof t);
  t.sel = -1;
  t.follow = 1;
  t.events_delay = t.out_delay = RETRY_MIN_MS;
  r = cli_conn_connect(config, url, token, &t.url, &t.token);
  if (r != CLI_OK)
    return r;
  setlocale(LC_ALL, "");
  if (pipe(sig_pipe) < 0) {
    fprintf(stderr, "tend top: pipe: %s\n", strerror(errno));
    top_free(&t);
    return 1;
  }
  fcntl(sig_pipe[0], F_SETFL, O_NONBLOCK);
  fcntl(sig_pipe[1], F_SETFL, O_NONBLOCK);
  curl_global_init(CURL_GLOBAL_DEFAULT);
  t.multi = curl_multi_init();
  t.out = top_out_new(OUT_LINES);
  if (term_start(&t) < 0) {
    r = CLI_USAGE;
    goto done;
  }
  signals_install();
  t.dirty = 1;
  while (!quit_signal && !t.quit) {
    struct curl_waitfd fds[2] = {
        {.fd = STDIN_FILENO, .events = CURL_WAIT_POLLIN},
        {.fd = sig_pipe[0], .events = CURL_WAIT_POLLIN},
    };
    int running;
    int64_t now;

    curl_multi_perform(t.multi, &running);
    requests_done(&t);
    now = now_ms();
    timers(&t, now);
    keys(&t);
    if (t.quit)
      break;
    if (events_now_ms() / 1000 != t.drawn_second && t.tree) {
      rows_rebuild(&t); /* the uptimes move on */
      t.drawn_second = events_now_ms() / 1000;
    }
    if (stdin_gone()) {
      /* The terminal hung up without a SIGHUP reaching us: poll would
       * report it forever. */
      break;
    }
    if (t.dirty && now - t.last_draw >= REDRAW_MS)
      draw(&t);
    curl_multi_poll(t.multi, fds, 2, (int)poll_timeout(&t, now_ms()), NULL);
    if (fds[1].revents) {
      char drain[64];
      while (read(sig_pipe[0], drain, sizeof drain) > 0) {
      }
    }
  }
  r = CLI_OK;
done:
  term_restore();
  if (screen) {
    delscreen(screen);
    screen = NULL;
  }
  top_free(&t);
  curl_global_cleanup();
  close(sig_pipe[0]);
  close(sig_pipe[1]);
  sig_pipe[0] = sig_pipe[1] = -1;
  return r;
}
