/* printer: the foreground terminal output of `tend up`, as one pubsub
 * subscriber (issue 3: "the terminal printer becomes one subscriber").
 *
 * Output lines are printed "name | line" with the names padded to one
 * width and coloured per runner on a TTY (foreman / overmind style); state
 * transitions as "tend | name: from --event--> to (reason)".
 *
 * Without colour (a pipe, a file, journald: see printer.h) the view is
 * plain text, one record per line: no escape sequence from tend, and the
 * children's escape sequences and control bytes stripped
 * (printer_strip_controls), because journald keeps a line holding ESC or
 * CR as binary data ("[N blob data]" in journalctl's text view, an array
 * of bytes in its JSON). The log on disk keeps every byte.
 *
 * The terminal must never stall the loop: on a TTY or a pipe, writes are
 * libuv stream writes and, past a backlog bound, further lines are counted
 * and skipped (everything is on disk anyway) with a note once it drains.
 * A regular file is written synchronously (it cannot block for long). */
#include "src/printer.h"

#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "src/events.h"
#include "src/log.h"
#include "src/pubsub.h"
#include "state/jsonl.h"
#include "src/xalloc.h"

#define QUEUE_ITEMS 65536
/* The printer may spend at most 1/PRINT_SHARE of the wall time printing
 * output (a token bucket, in ns, with a burst of PRINT_BURST_NS): a child
 * that floods must not make the terminal view the daemon's bottleneck.
 * What it skips is counted and said; all of it is in the log anyway. */
#define PRINT_SHARE 8
#define PRINT_BURST_NS (100 * 1000 * 1000LL)
#define BACKLOG_MAX (4u << 20)
#define DRAIN_BUDGET 4096

static const char *const palette[] = {"36", "33", "32", "35", "34",
                                      "96", "93", "92", "95", "94"};

struct printer {
  uv_loop_t *loop;
  const struct config *cfg;
  struct pubsub_sub *sub;
  uv_idle_t idle;
  union {
    uv_tty_t tty;
    uv_pipe_t pipe;
  } out;
  int stream_ok; /* out is a libuv stream (tty or pipe) */
  int colour;
  int width;
  unsigned long long skipped;
  unsigned long long skipped_bytes; /* output not shown (CPU budget) */
  int64_t bucket_ns;
  uint64_t bucket_at;
  int closing, open_handles;
  void (*close_cb)(void *);
  void *close_arg;
};

struct write_req {
  uv_write_t req;
  char *data;
};

/* Frees a finished write. */
static void
on_written(uv_write_t *req, int status)
{
  struct write_req *w = (struct write_req *)req;
  (void)status;
  free(w->data);
  free(w);
}

/* Writes text (taken: freed here) to the terminal, or skips it when the
 * terminal is too slow. */
static void
emit(struct printer *p, char *text, size_t len)
{
  if (!p->stream_ok) {
    fwrite(text, 1, len, stdout);
    fflush(stdout);
    free(text);
    return;
  }
  if (uv_stream_get_write_queue_size((uv_stream_t *)&p->out) > BACKLOG_MAX) {
    p->skipped++;
    free(text);
    return;
  }
  if (p->skipped) {
    char *note = xasprintf("tend | %llu lines not shown (terminal too slow; "
                           "all output is in %s/output)\n",
                           p->skipped, p->cfg->state_dir);
    p->skipped = 0;
    emit(p, note, strlen(note));
  }
  {
    struct write_req *w = xmalloc(sizeof *w);
    uv_buf_t buf = uv_buf_init(text, (unsigned)len);
    w->data = text;
    if (uv_write(&w->req, (uv_stream_t *)&p->out, &buf, 1, on_written) != 0) {
      free(text);
      free(w);
    }
  }
}

/* Returns the colour of a runner: stable per name. */
static const char *
colour_of(const char *name)
{
  unsigned h = 5381;
  for (; *name; name++)
    h = h * 33 + (unsigned char)*name;
  return palette[h % (sizeof palette / sizeof *palette)];
}

/* Prints every line of one output chunk (its JSON line) with the runner's
 * prefix. The encoder's fixed layout is read without a JSON parse: a
 * flooding child must not make the printer the daemon's bottleneck. */
static void
print_chunk(struct printer *p, const char *runner, const char *json,
            size_t json_len)
{
  struct buf data = BUF_ZERO;
  const char *stream = "", *s;
  size_t stream_len = 0, len;
  int is_err, is_tend, rc;
  struct buf text = BUF_ZERO;
  char prefix[192], *out;
  size_t prefix_len, out_len = 0;

  rc = jsonl_peek_chunk(json, json_len, &data, &stream, &stream_len);
  if (rc < 0) {
    buf_free(&data);
    return;
  }
  if (rc == 1)
    buf_add(&data, "[binary output: see the log]\n", 29);
  if (!p->colour)
    data.len = printer_strip_controls(data.data, data.len);
  is_err = stream_len == 6 && memcmp(stream, "stderr", 6) == 0;
  is_tend = stream_len == 4 && memcmp(stream, "tend", 4) == 0;
  s = data.data;
  len = data.len;
  if (p->colour)
    prefix_len = (size_t)snprintf(
        prefix, sizeof prefix, "\033[%sm%-*s\033[0m %s %s", colour_of(runner),
        p->width, runner, is_err ? "\033[31m|\033[0m" : "|",
        is_tend ? "\033[2m" : "");
  else
    prefix_len =
        (size_t)snprintf(prefix, sizeof prefix, "%-*s | ", p->width, runner);
  if (prefix_len >= sizeof prefix)
    prefix_len = sizeof prefix - 1;
  buf_reserve(&text, len + (len / 40 + 2) * (prefix_len + 8));
  while (len > 0) {
    const char *nl = memchr(s, '\n', len);
    size_t n = nl ? (size_t)(nl - s) : len;
    buf_add(&text, prefix, prefix_len);
    buf_add(&text, s, n);
    if (is_tend && p->colour)
      buf_add(&text, "\033[0m", 4);
    buf_add(&text, "\n", 1);
    if (!nl)
      break;
    s = nl + 1;
    len -= n + 1;
  }
  out = buf_steal(&text, &out_len);
  buf_free(&data);
  if (out_len)
    emit(p, out, out_len);
  else
    free(out);
}

/* Emits one line of tend's own (taken), plain when colour is off. */
static void
emit_line(struct printer *p, char *line)
{
  size_t len = strlen(line);

  if (!p->colour)
    len = printer_strip_controls(line, len);
  emit(p, line, len);
}

/* Prints one event: transitions in s6 style, the rest as messages. */
static void
print_event(struct printer *p, const struct tend_event *ev)
{
  const char *dim = p->colour ? "\033[1m" : "";
  const char *off = p->colour ? "\033[0m" : "";
  char *line = printer_event_text(ev);
  size_t i;
  json_t *e;

  if (!line)
    return;
  emit_line(p, xasprintf("%s%-*s%s | %s\n", dim, p->width, "tend", off, line));
  free(line);
  if (ev->type == EVENTS_STATE)
    return;
  json_array_foreach(ev->errors, i, e)
  {
    emit_line(p, xasprintf("%s%-*s%s |   %s\n", dim, p->width, "tend", off,
                           json_string_value(e)));
  }
}

char *
printer_event_text(const struct tend_event *ev)
{
  if (ev->type == EVENTS_STATE) {
    const char *from = events_state_name(ev->kind, ev->from);
    const char *to = events_state_name(ev->kind, ev->to);
    /* A step inside one state (starting --spawned_probe--> starting) is
     * for the event log, not for a person watching the terminal. */
    if (strcmp(from, to) == 0)
      return NULL;
    return xasprintf("%s: %s --%s--> %s%s%s%s", ev->node ? ev->node : "?", from,
                     ev->event ? ev->event : "?", to, ev->reason ? " (" : "",
                     ev->reason ? ev->reason : "", ev->reason ? ")" : "");
  }
  return xasprintf("%s%s%s%s%s", ev->node ? ev->node : "", ev->node ? ": " : "",
                   events_type_name(ev->type), ev->message ? ": " : "",
                   ev->message ? ev->message : "");
}

/* Says how much output the CPU budget kept off the terminal. */
static void
note_skipped(struct printer *p)
{
  char *note = xasprintf("tend | ... %llu bytes of output not shown (a "
                         "flood; the terminal view is limited to 1/%d of "
                         "the daemon's time; all of it is in %s/output)\n",
                         p->skipped_bytes, PRINT_SHARE, p->cfg->state_dir);
  p->skipped_bytes = 0;
  emit(p, note, strlen(note));
}

/* Drains the subscription in bounded batches. */
static void
on_idle(uv_idle_t *idle)
{
  struct printer *p = idle->data;
  struct pubsub_item item;
  int rc, budget = DRAIN_BUDGET;

  while (budget-- > 0 && (rc = pubsub_take(p->sub, &item)) != 0) {
    struct tend_event ev;
    json_t *obj;
    if (rc < 0) {
      p->skipped++;
      continue;
    }
    if (strncmp(item.topic, "output/", 7) == 0) {
      uint64_t now = uv_hrtime();
      p->bucket_ns += (int64_t)(now - p->bucket_at) / PRINT_SHARE;
      if (p->bucket_ns > PRINT_BURST_NS)
        p->bucket_ns = PRINT_BURST_NS;
      p->bucket_at = now;
      if (p->bucket_ns < 0) {
        p->skipped_bytes += item.len;
        continue;
      }
      if (p->skipped_bytes)
        note_skipped(p);
      print_chunk(p, item.topic + 7, item.json, item.len);
      p->bucket_ns -= (int64_t)(uv_hrtime() - now);
      continue;
    }
    obj = json_loadb(item.json, item.len, 0, NULL);
    if (obj && strcmp(item.topic, "events") == 0 &&
        events_from_json(obj, &ev) == 0)
      print_event(p, &ev);
    json_decref(obj);
  }
  if (budget >= 0)
    uv_idle_stop(idle);
}

static void on_closed(uv_handle_t *h);

/* pubsub notify: schedule a drain (never print inside publish). */
static void
on_notify(void *ctx)
{
  struct printer *p = ctx;
  if (!p->closing)
    uv_idle_start(&p->idle, on_idle);
}

/* Returns the longest node name under node. */
static int
longest_name(const struct config_node *node)
{
  int w = (int)strlen(node->name);
  for (size_t i = 0; i < node->n_children; i++) {
    int c = longest_name(node->children[i]);
    if (c > w)
      w = c;
  }
  return w;
}

struct printer *
printer_new(uv_loop_t *loop, const struct config *cfg)
{
  struct printer *p = xcalloc(1, sizeof *p);
  uv_handle_type kind = uv_guess_handle(STDOUT_FILENO);

  p->loop = loop;
  p->cfg = config_ref(cfg); /* a reload may replace it meanwhile */
  p->width = longest_name(cfg->root);
  if (p->width < 4)
    p->width = 4;
  {
    int bad = 0;
    const char *tc = getenv("TEND_COLOR");
    p->colour =
        printer_colour_wanted(kind == UV_TTY, tc, getenv("NO_COLOR"), &bad);
    if (bad)
      log_warn("TEND_COLOR=%s: not always, never or auto; using auto", tc);
  }
  uv_idle_init(loop, &p->idle);
  p->idle.data = p;
  p->open_handles = 1;
  if (kind == UV_TTY && uv_tty_init(loop, &p->out.tty, STDOUT_FILENO, 0) == 0) {
    p->stream_ok = 1;
    p->open_handles++;
    ((uv_handle_t *)&p->out)->data = p;
  } else if (kind == UV_NAMED_PIPE) {
    uv_pipe_init(loop, &p->out.pipe, 0);
    ((uv_handle_t *)&p->out)->data = p;
    p->open_handles++;
    if (uv_pipe_open(&p->out.pipe, STDOUT_FILENO) == 0)
      p->stream_ok = 1;
    else
      uv_close((uv_handle_t *)&p->out.pipe, on_closed);
  }
  p->bucket_ns = PRINT_BURST_NS;
  p->bucket_at = uv_hrtime();
  p->sub = pubsub_subscribe("*", QUEUE_ITEMS, on_notify, p);
  return p;
}

/* Counts closed handles; frees the printer after the last. */
static void
on_closed(uv_handle_t *h)
{
  struct printer *p = h->data;
  if (--p->open_handles > 0)
    return;
  if (p->close_cb)
    p->close_cb(p->close_arg);
  config_unref(p->cfg);
  free(p);
}

void
printer_close(struct printer *p, void (*cb)(void *arg), void *arg)
{
  /* Print what is still queued, then let go. */
  on_idle(&p->idle);
  if (p->skipped_bytes)
    note_skipped(p);
  p->closing = 1;
  p->close_cb = cb;
  p->close_arg = arg;
  pubsub_unsubscribe(p->sub);
  p->sub = NULL;
  uv_close((uv_handle_t *)&p->idle, on_closed);
  if (p->stream_ok)
    uv_close((uv_handle_t *)&p->out, on_closed);
}

/* Compares s with any of the words in a NULL-terminated list. */
static int
word_in(const char *s, const char *const *words)
{
  for (; *words; words++)
    if (strcmp(s, *words) == 0)
      return 1;
  return 0;
}

int
printer_colour_wanted(int is_tty, const char *tend_color, const char *no_color,
                      int *bad)
{
  static const char *const on[] = {"always", "1", "yes", "on", NULL};
  static const char *const off[] = {"never", "0", "no", "off", NULL};
  static const char *const autos[] = {"auto", "", NULL};

  *bad = 0;
  if (tend_color) {
    if (word_in(tend_color, on))
      return 1;
    if (word_in(tend_color, off))
      return 0;
    if (!word_in(tend_color, autos))
      *bad = 1;
  }
  if (no_color && *no_color)
    return 0;
  return is_tty;
}

/* Returns 1 when s[i] exists and lies in [lo, hi]. */
static int
byte_in(const char *s, size_t len, size_t i, unsigned lo, unsigned hi)
{
  return i < len && (unsigned char)s[i] >= lo && (unsigned char)s[i] <= hi;
}

/* Returns the index after the escape sequence that starts at s[i] (an
 * ESC). An unterminated sequence ends at the end of the text, or, for a
 * string (OSC, DCS, ...), at the end of the line, so that a stray ESC
 * never swallows the rest of the output. */
static size_t
skip_escape(const char *s, size_t len, size_t i)
{
  unsigned char c;

  if (++i >= len)
    return i;
  c = (unsigned char)s[i++];
  if (c == '[') { /* CSI: parameters, intermediates, one final byte */
    while (byte_in(s, len, i, 0x20, 0x3f))
      i++;
    return byte_in(s, len, i, 0x40, 0x7e) ? i + 1 : i;
  }
  if (c == ']' || c == 'P' || c == 'X' || c == '^' || c == '_') {
    /* A string up to BEL or ST (ESC backslash). */
    for (; i < len && s[i] != '\n'; i++) {
      if (s[i] == '\a')
        return i + 1;
      if (s[i] == '\033' && i + 1 < len && s[i + 1] == '\\')
        return i + 2;
    }
    return i;
  }
  /* ESC, intermediates (0x20-0x2f), a final byte (0x30-0x7e). */
  i--;
  while (byte_in(s, len, i, 0x20, 0x2f))
    i++;
  return byte_in(s, len, i, 0x30, 0x7e) ? i + 1 : i;
}

size_t
printer_strip_controls(char *s, size_t len)
{
  size_t i = 0, w = 0, line = 0;

  while (i < len) {
    unsigned char c = (unsigned char)s[i];
    if (c >= 0x20 && c != 0x7f) {
      s[w++] = s[i++];
      continue;
    }
    if (c == '\n') {
      s[w++] = s[i++];
      line = w;
    } else if (c == '\t') {
      s[w++] = s[i++];
    } else if (c == 0x1b) {
      i = skip_escape(s, len, i);
    } else if (c == '\r') {
      i++;
      /* Overwritten from the start of the line, unless it ends one. */
      if (i < len && s[i] != '\n' && s[i] != '\r')
        w = line;
    } else {
      i++; /* BEL, backspace, NUL, DEL, ... */
    }
  }
  return w;
}
