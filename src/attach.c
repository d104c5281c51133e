/* attach: `tend attach NAME`, the user's terminal on a pty runner.
 *
 * DESIGN. A client of the HTTP API only, on one thread: libcurl's multi
 * interface carries every request, and poll() watches stdin and a
 * self-pipe that the signal handlers write to (the shape of src/top.c).
 *
 *   - output: GET .../output/stream from the runner's newest seq, the
 *     "pty" chunks written to the terminal byte for byte, tend's markers
 *     (started, exited) as a note on a line of their own; reconnected with
 *     Last-Event-ID when it drops, so nothing is shown twice or lost;
 *   - input: the bytes read from the raw terminal go to POST .../input as
 *     the raw body. One input request is in flight at a time and the keys
 *     typed meanwhile wait in a buffer and go in the next one, so the
 *     program reads them in the order typed (separate connections could
 *     overtake each other);
 *   - size: POST .../resize with the terminal's size at start, on SIGWINCH
 *     and when a new run starts (a new run has a new pty of the configured
 *     size). The runner takes the size of the last terminal attached, as
 *     tmux does with its latest client.
 *
 * Ctrl-] (ATTACH_DETACH_KEY) detaches: keys typed before it are sent, the
 * runner goes on. The terminal is put in raw mode (cfmakeraw) and restored
 * on every way out: the detach, a daemon that refuses the runner, SIGTERM,
 * SIGHUP, an atexit handler, and the crash signals (the handler only calls
 * tcsetattr, which is async-signal-safe, then re-raises). */
#include "src/attach.h"

#include "src/buf.h"
#include "src/cli.h"
#include "src/cli_conn.h"
#include "src/codec.h"
#include "src/xalloc.h"
#include "ui/sse.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define RETRY_MIN_MS 250
#define RETRY_MAX_MS 5000
/* Keys buffered while the daemon does not take them (then dropped). */
#define PENDING_MAX (64 * 1024)

/* One request in flight. */
struct req {
  struct cli_conn_req x; /* the handle and the answer */
};

struct att {
  char *url, *token, *name, *esc;
  CURLM *multi;
  struct req *out, *in, *size;
  struct buf pending; /* keys not sent yet */
  int size_dirty;
  uint64_t last; /* seq of the last chunk shown */
  int64_t retry_at;
  unsigned delay;
  int quit, code;
  int refused_note; /* an input refusal was shown; not again until ok */
};

/* ---------------------------------------------------- terminal, signals */

static struct termios saved_tios;
static volatile sig_atomic_t raw_on;
static volatile sig_atomic_t quit_signal, winch;
static int sig_pipe[2] = {-1, -1};
static const int crash_signals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGABRT};

/* Gives the terminal back as it was (async-signal-safe). */
static void
term_restore(void)
{
  if (raw_on) {
    tcsetattr(STDIN_FILENO, TCSANOW, &saved_tios);
    raw_on = 0;
  }
}

/* Wakes the loop from a signal handler. */
static void
wake(void)
{
  int saved = errno;
  if (sig_pipe[1] >= 0 && write(sig_pipe[1], "x", 1) < 0) {
    /* full: the loop is awake anyway */
  }
  errno = saved;
}

/* SIGTERM, SIGHUP, SIGINT, SIGQUIT: end the loop. */
static void
on_quit_signal(int sig)
{
  quit_signal = sig;
  wake();
}

/* SIGWINCH: send the new size. */
static void
on_winch(int sig)
{
  (void)sig;
  winch = 1;
  wake();
}

/* A crash: restore the terminal, then let the signal do what it does. */
static void
on_crash(int sig)
{
  term_restore();
  signal(sig, SIG_DFL);
  raise(sig);
}

/* Installs the handlers above. */
static void
signals_install(void)
{
  struct sigaction sa;

  memset(&sa, 0, sizeof sa);
  sigemptyset(&sa.sa_mask);
  sa.sa_handler = on_quit_signal;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGHUP, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGQUIT, &sa, NULL);
  sa.sa_handler = on_winch;
  sigaction(SIGWINCH, &sa, NULL);
  sa.sa_handler = on_crash;
  for (size_t i = 0; i < sizeof crash_signals / sizeof *crash_signals; i++)
    sigaction(crash_signals[i], &sa, NULL);
  signal(SIGPIPE, SIG_IGN);
}

/* Puts the terminal in raw mode: every byte, Ctrl-C and Ctrl-Z included,
 * goes to the runner. Returns 0 or -1. */
static int
term_raw(void)
{
  struct termios raw;

  if (tcgetattr(STDIN_FILENO, &saved_tios) != 0)
    return -1;
  raw = saved_tios;
  cfmakeraw(&raw);
  raw.c_cc[VMIN] = 1;
  raw.c_cc[VTIME] = 0;
  raw_on = 1;
  atexit(term_restore);
  if (tcsetattr(STDIN_FILENO, TCSANOW, &raw) != 0) {
    raw_on = 0;
    return -1;
  }
  return 0;
}

/* Writes all of buf to fd (the terminal). */
static void
write_all(int fd, const char *buf, size_t n)
{
  while (n > 0) {
    ssize_t w = write(fd, buf, n);
    if (w < 0 && errno == EINTR)
      continue;
    if (w < 0) {
      if (errno == EAGAIN) {
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        poll(&p, 1, 100);
        continue;
      }
      return;
    }
    buf += w;
    n -= (size_t)w;
  }
}

/* Writes a note on a line of its own: "\r\n[tend: text]\r\n". */
static void __attribute__((format(printf, 1, 2))) note(const char *fmt, ...)
{
  char text[512], line[600];
  va_list ap;
  int n;

  va_start(ap, fmt);
  vsnprintf(text, sizeof text, fmt, ap);
  va_end(ap);
  n = snprintf(line, sizeof line, "\r\n[tend: %s]\r\n", text);
  if (n > (int)sizeof line - 1)
    n = (int)sizeof line - 1;
  write_all(STDOUT_FILENO, line, (size_t)n);
}

/* ---------------------------------------------------------------- pure */

long
attach_find_detach(const char *buf, size_t n)
{
  const char *p = memchr(buf, ATTACH_DETACH_KEY, n);
  return p ? (long)(p - buf) : -1;
}

char *
attach_chunk_bytes(const json_t *chunk, const char *name, size_t *len,
                   int *started)
{
  const char *stream = json_string_value(json_object_get(chunk, "stream"));
  const char *event = json_string_value(json_object_get(chunk, "event"));
  json_t *data = json_object_get(chunk, "data");
  json_t *b64 = json_object_get(chunk, "data_b64");
  char *out;

  *len = 0;
  *started = 0;
  if (!stream)
    return NULL;
  if (strcmp(stream, "pty") == 0) {
    if (json_is_string(data)) {
      *len = json_string_length(data);
      out = xmalloc(*len + 1);
      memcpy(out, json_string_value(data), *len);
      return *len ? out : (free(out), NULL);
    }
    if (json_is_string(b64)) {
      size_t n = json_string_length(b64);
      out = xmalloc(CODEC_BASE64_DECODED_MAX(n));
      if (codec_base64_decode(json_string_value(b64), n, out, len) < 0 ||
          *len == 0) {
        free(out);
        *len = 0;
        return NULL;
      }
      return out;
    }
    return NULL;
  }
  if (strcmp(stream, "tend") == 0 && json_is_string(data)) {
    const char *text = json_string_value(data);
    size_t n = strcspn(text, "\r\n");
    out = xasprintf("\r\n[tend: %s: %.*s]\r\n", name, (int)n, text);
    *len = strlen(out);
    *started = event && strcmp(event, "start") == 0;
    return out;
  }
  return NULL;
}

/* ------------------------------------------------------------ requests */

/* Makes a request (not started). body/len: a POST's body; json: its type
 * (else raw bytes). */
static struct req *
req_new(struct att *a, const char *path, const char *body, size_t len, int json)
{
  struct req *r = xcalloc(1, sizeof *r);

  cli_conn_req_init(&r->x, a->url, path, a->token, 1024 * 1024);
  if (body) {
    r->x.headers = curl_slist_append(
        r->x.headers, json ? "Content-Type: application/json"
                           : "Content-Type: application/octet-stream");
    curl_easy_setopt(r->x.easy, CURLOPT_POSTFIELDSIZE, (long)len);
    curl_easy_setopt(r->x.easy, CURLOPT_COPYPOSTFIELDS, body);
    curl_easy_setopt(r->x.easy, CURLOPT_TIMEOUT, 30L);
  }
  curl_easy_setopt(r->x.easy, CURLOPT_PRIVATE, r);
  return r;
}

/* Ends a request and frees it. NULL is a no-op. */
static void
req_free(struct att *a, struct req *r)
{
  if (!r)
    return;
  cli_conn_req_cleanup(&r->x, a->multi);
  free(r);
}

/* Starts a request on the multi handle. */
static void
req_start(struct att *a, struct req *r)
{
  curl_easy_setopt(r->x.easy, CURLOPT_HTTPHEADER, r->x.headers);
  curl_multi_add_handle(a->multi, r->x.easy);
}

/* The daemon's {"error"} of a refused request, or a short why (new). */
static char *
refusal(const struct req *r)
{
  json_t *v = r->x.body.data ? json_loads(r->x.body.data, 0, NULL) : NULL;
  const char *e = json_string_value(json_object_get(v, "error"));
  char *s = e ? xstrdup(e) : xasprintf("HTTP %ld", r->x.status);
  json_decref(v);
  return s;
}

/* Returns the monotonic clock in ms. */
static int64_t
now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sends the terminal's size (when no resize is in flight). */
static void
send_size(struct att *a)
{
  struct winsize ws;
  char body[64], *path;

  if (a->size)
    return;
  a->size_dirty = 0;
  if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) != 0 || ws.ws_col == 0 ||
      ws.ws_row == 0)
    return;
  snprintf(body, sizeof body, "{\"cols\":%u,\"rows\":%u}", (unsigned)ws.ws_col,
           (unsigned)ws.ws_row);
  path = xasprintf("/api/v1/runners/%s/resize", a->esc);
  a->size = req_new(a, path, body, strlen(body), 1);
  free(path);
  req_start(a, a->size);
}

/* Sends the keys typed so far (when no input is in flight). */
static void
send_input(struct att *a)
{
  char *path;

  if (a->in || a->pending.len == 0)
    return;
  path = xasprintf("/api/v1/runners/%s/input", a->esc);
  a->in = req_new(a, path, a->pending.data, a->pending.len, 0);
  free(path);
  a->pending.len = 0;
  req_start(a, a->in);
}

/* One event of the output stream. */
static void
on_event(void *ctx, const char *id, const char *event, const char *data,
         size_t len)
{
  struct att *a = ctx;
  json_t *chunk;
  json_t *seq;
  uint64_t s;
  size_t n;
  int started;
  char *bytes;

  if (event && strcmp(event, "message") != 0)
    return; /* a gap notice: a terminal shows what comes */
  chunk = json_loadb(data, len, JSON_ALLOW_NUL, NULL);
  seq = json_object_get(chunk, "seq");
  if (json_is_integer(seq))
    s = (uint64_t)json_integer_value(seq);
  else if (!id || sscanf(id, "%" SCNu64, &s) != 1)
    s = a->last + 1;
  if (chunk && s > a->last) {
    a->last = s;
    bytes = attach_chunk_bytes(chunk, a->name, &n, &started);
    if (bytes)
      write_all(STDOUT_FILENO, bytes, n);
    free(bytes);
    if (started)
      a->size_dirty = 1;
  }
  json_decref(chunk);
}

/* Connects the output stream from the last seq shown. */
static void
stream_start(struct att *a)
{
  char *path = xasprintf("/api/v1/runners/%s/output/stream", a->esc);

  a->out = req_new(a, path, NULL, 0, 0);
  free(path);
  cli_conn_req_stream(&a->out->x, (int64_t)a->last);
  a->out->x.parser = sse_parser_new(on_event, a);
  req_start(a, a->out);
}

/* Handles the requests that finished. */
static void
requests_done(struct att *a)
{
  CURLMsg *m;
  int left;

  while ((m = curl_multi_info_read(a->multi, &left)) != NULL) {
    struct req *r = NULL;
    if (m->msg != CURLMSG_DONE)
      continue;
    curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
    if (!r->x.status)
      curl_easy_getinfo(r->x.easy, CURLINFO_RESPONSE_CODE, &r->x.status);
    if (r == a->out) {
      if (r->x.status == 404 || r->x.status == 401 || r->x.status == 403) {
        char *why = refusal(r);
        note("%s", why);
        free(why);
        a->quit = 1;
        a->code = CLI_REFUSED;
      } else {
        if (a->delay == RETRY_MIN_MS)
          note("the daemon closed the stream; reconnecting");
        a->retry_at = now_ms() + a->delay;
        a->delay = a->delay * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : a->delay * 2;
      }
      a->out = NULL;
    } else if (r == a->in) {
      if (m->data.result != CURLE_OK || r->x.status != 200) {
        char *why = m->data.result != CURLE_OK
                        ? xstrdup(curl_easy_strerror(m->data.result))
                        : refusal(r);
        if (!a->refused_note)
          note("input not taken: %s", why);
        a->refused_note = 1;
        free(why);
      } else {
        a->refused_note = 0;
      }
      a->in = NULL;
    } else if (r == a->size) {
      a->size = NULL;
    }
    req_free(a, r);
  }
}

/* Reads the keys waiting on stdin; Ctrl-] ends the loop. */
static void
keys(struct att *a)
{
  char buf[4096];
  ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
  long at;

  if (n < 0 && (errno == EINTR || errno == EAGAIN))
    return;
  if (n <= 0) {
    a->quit = 1; /* the terminal is gone */
    return;
  }
  at = attach_find_detach(buf, (size_t)n);
  if (at >= 0) {
    n = at;
    a->quit = 1;
  }
  if (a->pending.len + (size_t)n <= PENDING_MAX)
    buf_add(&a->pending, buf, (size_t)n);
}

/* Sends what is still pending before leaving (a detach key read with keys
 * before it): one blocking request, bounded by its timeout. */
static void
flush_input(struct att *a)
{
  struct req *r;
  char *path;

  while (a->in) { /* let the one in flight land first: order */
    int running;
    curl_multi_perform(a->multi, &running);
    requests_done(a);
    if (a->in)
      curl_multi_poll(a->multi, NULL, 0, 100, NULL);
  }
  if (a->pending.len == 0)
    return;
  path = xasprintf("/api/v1/runners/%s/input", a->esc);
  r = req_new(a, path, a->pending.data, a->pending.len, 0);
  free(path);
  curl_easy_setopt(r->x.easy, CURLOPT_HTTPHEADER, r->x.headers);
  curl_easy_perform(r->x.easy);
  a->pending.len = 0;
  cli_conn_req_cleanup(&r->x, NULL);
  free(r);
}

/* ---------------------------------------------------------------- main */

/* GET /api/v1/runners/NAME: checks that it has a pty and takes its newest
 * seq. Returns CLI_OK, or an exit code after saying why. */
static int
check_runner(struct att *a)
{
  char *path = xasprintf("/api/v1/runners/%s", a->esc);
  struct req *r = req_new(a, path, NULL, 0, 0);
  json_t *v = NULL, *seq;
  CURLcode rc;
  int code = CLI_OK;

  free(path);
  curl_easy_setopt(r->x.easy, CURLOPT_HTTPHEADER, r->x.headers);
  curl_easy_setopt(r->x.easy, CURLOPT_TIMEOUT, 30L);
  rc = curl_easy_perform(r->x.easy);
  if (rc != CURLE_OK) {
    fprintf(stderr, "tend attach: %s: %s\n", a->url, curl_easy_strerror(rc));
    code = CLI_UNREACHABLE;
    goto done;
  }
  curl_easy_getinfo(r->x.easy, CURLINFO_RESPONSE_CODE, &r->x.status);
  if (r->x.status != 200) {
    char *why = refusal(r);
    fprintf(stderr, "tend attach: %s\n", why);
    free(why);
    code = CLI_REFUSED;
    goto done;
  }
  v = json_loads(r->x.body.data ? r->x.body.data : "", 0, NULL);
  if (!json_is_object(json_object_get(v, "pty"))) {
    fprintf(stderr,
            "tend attach: %s does not run on a terminal: attach needs "
            "\"pty\": true in its config (tend logs -f %s follows its "
            "output)\n",
            a->name, a->name);
    code = CLI_REFUSED;
    goto done;
  }
  seq = json_object_get(v, "output_seq");
  a->last = json_is_integer(seq) ? (uint64_t)json_integer_value(seq) : 0;
done:
  json_decref(v);
  req_free(a, r);
  return code;
}

/* Parses the options; returns 0, or CLI_USAGE after printing why. */
static int
parse_args(int argc, char **argv, const char **config, const char **url,
           const char **token, const char **name)
{
  for (int i = 1; i < argc; i++) {
    const char *s = argv[i];
    int taken = cli_conn_parse_opt(argc, argv, &i, config, url, token);
    if (taken > 0)
      continue;
    if (taken == 0 && s[0] != '-' && !*name)
      *name = s;
    else {
      fprintf(stderr, "tend attach: unexpected argument \"%s\"\n", s);
      return CLI_USAGE;
    }
  }
  if (!*name) {
    fprintf(stderr, "usage: tend attach [-c FILE] NAME\n");
    return CLI_USAGE;
  }
  return 0;
}

/* Frees what the session holds. */
static void
att_free(struct att *a)
{
  req_free(a, a->out);
  req_free(a, a->in);
  req_free(a, a->size);
  if (a->multi)
    curl_multi_cleanup(a->multi);
  buf_free(&a->pending);
  free(a->url);
  free(a->token);
  free(a->esc);
}

int
attach_main(int argc, char **argv)
{
  const char *config = NULL, *url = NULL, *token = NULL, *name = NULL;
  struct att a;
  int r;

  r = parse_args(argc, argv, &config, &url, &token, &name);
  if (r)
    return r;
  memset(&a, 0, sizeof a);
  a.delay = RETRY_MIN_MS;
  a.name = (char *)name;
  r = cli_conn_connect(config, url, token, &a.url, &a.token);
  if (r != CLI_OK)
    return r;
  curl_global_init(CURL_GLOBAL_DEFAULT);
  a.esc = cli_conn_escape(name);
  r = check_runner(&a);
  if (r != CLI_OK)
    goto done;
  /* After the check, so that a runner without a pty says so first. */
  if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
    fprintf(stderr,
            "tend attach: needs a terminal (tend logs -f %s "
            "follows the output)\n",
            name);
    r = CLI_USAGE;
    goto done;
  }
  if (pipe2(sig_pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
    fprintf(stderr, "tend attach: pipe: %s\n", strerror(errno));
    r = 1;
    goto done;
  }
  a.multi = curl_multi_init();
  signals_install();
  if (term_raw() < 0) {
    fprintf(stderr, "tend attach: cannot set the terminal: %s\n",
            strerror(errno));
    r = CLI_USAGE;
    goto done;
  }
  note("attached to %s; Ctrl-] detaches", name);
  a.size_dirty = 1;
  a.code = CLI_OK;
  while (!a.quit && !quit_signal) {
    struct pollfd fds[2] = {{.fd = STDIN_FILENO, .events = POLLIN},
                            {.fd = sig_pipe[0], .events = POLLIN}};
    int running, timeout;
    int64_t now = now_ms();

    if (!a.out && now >= a.retry_at)
      stream_start(&a);
    if (winch) {
      winch = 0;
      a.size_dirty = 1;
    }
    if (a.size_dirty)
      send_size(&a);
    send_input(&a);
    curl_multi_perform(a.multi, &running);
    requests_done(&a);
    if (a.quit)
      break;
    /* libcurl's sockets and ours in one wait: curl_multi_poll takes the
     * extra fds, so keys and output are both served at once. */
    {
      struct curl_waitfd w[2] = {
          {.fd = STDIN_FILENO, .events = CURL_WAIT_POLLIN},
          {.fd = sig_pipe[0], .events = CURL_WAIT_POLLIN}};
      timeout = a.out ? 1000 : (int)(a.retry_at - now_ms());
      if (timeout < 0)
        timeout = 0;
      if (timeout > 1000)
        timeout = 1000;
      curl_multi_poll(a.multi, w, 2, timeout, NULL);
      fds[0].revents = (short)(w[0].revents ? POLLIN : 0);
      fds[1].revents = (short)(w[1].revents ? POLLIN : 0);
    }
    if (fds[1].revents) {
      char drain[64];
      while (read(sig_pipe[0], drain, sizeof drain) > 0) {
      }
    }
    if (fds[0].revents) {
      struct pollfd p = {.fd = STDIN_FILENO, .events = POLLIN};
      /* A hung-up terminal reads 0 (keys() quits on it). */
      if (poll(&p, 1, 0) > 0)
        keys(&a);
    }
  }
  if (!quit_signal)
    flush_input(&a);
  r = a.code;
  term_restore();
  if (r == CLI_OK)
    fprintf(stderr, "\r\ntend: detached from %s (it goes on running)\n", name);
done:
  term_restore();
  att_free(&a);
  curl_global_cleanup();
  if (sig_pipe[0] >= 0) {
    close(sig_pipe[0]);
    close(sig_pipe[1]);
    sig_pipe[0] = sig_pipe[1] = -1;
  }
  return r;
}
