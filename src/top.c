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
 * What is drawn is computed by src/top_view.c (pure, unit-tested), drawn
 * and read from the keys by src/top_screen.c; the requests and the state
 * they fill live in src/top_api.c; this file owns the terminal, the
 * signals and the loop. Redraws are coalesced: a change marks the screen
 * dirty, and it is drawn at most every REDRAW_MS.
 *
 * The terminal is restored on every way out: q, Ctrl-C, SIGTERM and SIGHUP
 * end the loop and call endwin(); an atexit handler calls it too; and a
 * crash (SIGSEGV, SIGBUS, SIGFPE, SIGABRT) writes the terminal's own reset
 * strings (precomputed from terminfo: the handler only calls write and
 * tcsetattr, both async-signal-safe), restores the saved termios, then
 * gives the signal back to the previous handler (the sanitizers' report, or
 * the default core dump). */
#include "src/top.h"

#include "src/cli.h"
#include "src/cli_conn.h"
#include "src/events.h"
#include "src/top_api.h"
#include "src/top_screen.h"

#include <curl/curl.h>
#include <curses.h>
#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

/* Output lines kept for the selected runner. */
#define OUT_LINES 2000
/* At most one redraw per REDRAW_MS. */
#define REDRAW_MS 100

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
  const char *no_color;

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
  no_color = getenv("NO_COLOR");
  t->colour = has_colors() && !(no_color && *no_color);
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

/* ------------------------------------------------------------ the loop */

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

/* Returns 1 when the terminal is gone (poll says hang-up or error, which
 * curl_multi_poll does not pass on). */
static int
stdin_gone(void)
{
  struct pollfd p = {.fd = STDIN_FILENO, .events = POLLIN};

  return poll(&p, 1, 0) > 0 && (p.revents & (POLLHUP | POLLERR | POLLNVAL));
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
    top_api_req_free(t, t->reqs);
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
  t.events_delay = t.out_delay = TOP_API_RETRY_MIN_MS;
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
    top_api_requests_done(&t);
    now = top_api_now_ms();
    top_api_timers(&t, now);
    top_screen_keys(&t);
    if (t.quit)
      break;
    if (events_now_ms() / 1000 != t.drawn_second && t.tree) {
      top_api_rows_rebuild(&t); /* the uptimes move on */
      t.drawn_second = events_now_ms() / 1000;
    }
    if (stdin_gone()) {
      /* The terminal hung up without a SIGHUP reaching us: poll would
       * report it forever. */
      break;
    }
    if (t.dirty && now - t.last_draw >= REDRAW_MS)
      top_screen_draw(&t);
    curl_multi_poll(t.multi, fds, 2, (int)poll_timeout(&t, top_api_now_ms()),
                    NULL);
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
