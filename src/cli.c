/* cli: the client commands over the HTTP API (issue 4; docs/api.md).
 *
 * Each command is one row of a static table (name, handler, arguments,
 * allowed options). A command finds the daemon (--url / TEND_URL, else
 * <state_dir>/daemon.json of -c FILE or ./tend.json; the token from
 * TEND_TOKEN or <state_dir>/token), makes its requests with libcurl and
 * prints the result. `logs -f` and `events -f` replay from the store page by
 * page, then follow the SSE stream; when the connection drops they reconnect
 * with Last-Event-ID = the last seq printed, and drop anything at or below
 * it, so the output has no gap and no repeat across reconnects.
 *
 * Exit codes (cli.h): 0 ok, 1 the daemon refused (its {"error"} printed),
 * 2 usage, 3 no daemon reachable. */
#include "src/cli.h"

#include "src/buf.h"
#include "src/config.h"
#include "src/locator.h"
#include "src/printer.h"
#include "src/top_view.h"
#include "state/store.h"
#include "src/xalloc.h"
#include "runners/fsm.h"
#include "ui/sse.h"

#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define OPT_JSON 1u
#define OPT_FOLLOW 2u
#define OPT_LINES 4u
#define OPT_NAMES 8u
#define OPT_LOGS 16u /* --since --grep --stream -t */
#define OPT_CHECK 32u

/* Names one command takes at most (tend logs a b c ...). */
#define CLI_MAX_ARGS 64

/* Items per page when replaying output or events. */
#define PAGE 1000

struct cli {
  const char *config;  /* -c FILE */
  const char *url_opt; /* --url */
  const char *token_opt; /* --token */
  int lines_set;       /* -n given */
  char *url;           /* base URL, no trailing slash */
  char *token;
  int json, follow, names, check;
  long daemon_pid; /* from daemon.json, when found there */
  long lines; /* -n; -1 = everything */
  int tty;
  const char *args[CLI_MAX_ARGS];
  int nargs;
  /* tend logs: filters and decorations */
  const char *prefix;   /* the runner's name, when several are merged */
  int prefix_colour;    /* its colour index */
  int timestamps;       /* -t */
  const char *stream_filter; /* --stream */
  regex_t grep;         /* --grep */
  int has_grep;
  int64_t since_ms;     /* --since: unix ms, 0 = no limit */
  json_t *collect;      /* collect_item's array */
  CURL *curl;
};

struct cmd {
  const char *name;
  int (*fn)(struct cli *c);
  int min_args, max_args;
  unsigned opts;
  const char *usage;
  const char *help; /* `tend help NAME`: what it does, its options */
};

static int cmd_status(struct cli *c);
static int cmd_start(struct cli *c);
static int cmd_stop(struct cli *c);
static int cmd_restart(struct cli *c);
static int cmd_signal(struct cli *c);
static int cmd_logs(struct cli *c);
static int cmd_events(struct cli *c);
static int cmd_reload(struct cli *c);
static int cmd_resume(struct cli *c);
static int cmd_down(struct cli *c);

static const struct cmd commands[] = {
    {.name = "status",
     .fn = cmd_status,
     .opts = OPT_JSON | OPT_NAMES | OPT_CHECK,
     .usage = "status [--json|--names] the tree: state, pid, restarts, uptime\n"
              "                               (--names: one name per line)",
     .help = "The tree: every group and runner with its state, pid, run number,\n"
             "restarts, uptime and last exit.\n"
             "  --json      the tree as the API returns it\n"
             "  --names     every name, one per line (for shell completion)\n"
             "  --check     exit 1 when the last edit of the config was "
             "rejected\n"
             "              (status always says so on stderr)\n"},
    {.name = "ps",
     .fn = cmd_status,
     .opts = OPT_JSON | OPT_NAMES | OPT_CHECK,
     .usage = "ps [--json|--names]     the same as status",
     .help = "The same as status.\n"},
    {.name = "start",
     .fn = cmd_start,
     .min_args = 1,
     .max_args = 1,
     .usage = "start NAME              start a runner or a group (all: the tree)",
     .help = "Starts a stopped or failed runner, or a group (its children in\n"
             "order); \"all\" is the whole tree. Exit 0 also when it is\n"
             "already running (with a note).\n"},
    {.name = "stop",
     .fn = cmd_stop,
     .min_args = 1,
     .max_args = 1,
     .usage = "stop NAME               stop a runner or a group (all: the tree)",
     .help = "Stops a runner (its whole process group: stop signal, then KILL\n"
             "after stop.timeout_ms), or a group (its children in reverse\n"
             "order); \"all\" is the whole tree (the daemon stays up: see\n"
             "tend down). A stopped node stays stopped until started. Exit 0\n"
             "also when it is already stopped.\n"},
    {.name = "restart",
     .fn = cmd_restart,
     .min_args = 1,
     .max_args = 1,
     .usage = "restart NAME            restart a runner or a group",
     .help = "Restarts a runner, or every child of a group.\n"},
    {.name = "signal",
     .fn = cmd_signal,
     .min_args = 2,
     .max_args = 2,
     .usage = "signal NAME SIG         send a signal (HUP, USR1, ...)",
     .help = "Sends SIG (HUP, INT, USR1, ... with or without SIG) to the\n"
             "runner's whole process group.\n"},
    {.name = "logs",
     .fn = cmd_logs,
     .min_args = 0,
     .max_args = CLI_MAX_ARGS,
     .opts = OPT_JSON | OPT_FOLLOW | OPT_LINES | OPT_LOGS,
     .usage = "logs [-f] [-n N] [OPTIONS] [NAME...]\n"
              "                               output of runners (-f: follow)",
     .help = "Output, from the files the daemon keeps (when no daemon runs,\n"
             "one runner's files are read directly). NAME is a runner or a\n"
             "group; with no NAME, or several, or a group, the runners' output\n"
             "is merged in time order, each line prefixed with its runner.\n"
             "  -f, --follow     keep printing new output; reconnects by itself,\n"
             "                   also to a daemon that restarted on another port\n"
             "  -n, --lines N    only the last N lines (with -f: 10 unless given;\n"
             "                   -n all for everything)\n"
             "  --since D        only output of the last D (30s, 10m, 2h, 1d)\n"
             "  --grep REGEX     only lines that match (POSIX extended regex)\n"
             "  --stream S       only stdout, stderr, pty (a terminal's "
             "output)\n"
             "                   or tend (tend's notes)\n"
             "  -t, --timestamps each line with the time it was read\n"
             "  --json           the raw records {seq, ts, run, stream, data}\n"
             "                   (with \"runner\" when several are merged)\n"},
    {.name = "events",
     .fn = cmd_events,
     .opts = OPT_JSON | OPT_FOLLOW | OPT_LINES,
     .usage = "events [-f] [-n N] [--json]\n"
              "                               the event log (-f: follow)",
     .help = "The event log: every state transition and daemon event.\n"
             "  -f, --follow     keep printing new events\n"
             "  -n, --lines N    only the last N (-n all for everything)\n"
             "  --json           the raw events\n"},
    {.name = "reload",
     .fn = cmd_reload,
     .usage = "reload                  re-read the config and apply it",
     .help = "Re-reads the config file and applies the difference (the daemon\n"
             "also does this by itself when the file changes).\n"},
    {.name = "down",
     .fn = cmd_down,
     .usage = "down                    stop the tree and the daemon",
     .help = "Stops every runner (in reverse start order) and then the daemon,\n"
             "and waits until it has exited: exit 0 once everything is "
             "stopped.\n"},
    {.name = "resume",
     .fn = cmd_resume,
     .min_args = 1,
     .max_args = 1,
     .usage = "resume NAME             resume a watch paused by the loop "
              "guard",
     .help = "Resumes a watch that the loop guard paused.\n"},
};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

/* ---------------------------------------------------------------- helpers */

/* Set while a follow looks for its daemon again: no message per try. */
static int quiet;

/* Prints "tend: message" to stderr. */
static void __attribute__((format(printf, 1, 2))) say(const char *fmt, ...)
{
  va_list ap;

  if (quiet)
    return;
  fputs("tend: ", stderr);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
}

/* Reads a small text file, trimmed; NULL when unreadable. */
static char *
read_trimmed(const char *path)
{
  FILE *f = fopen(path, "r");
  char line[512];
  size_t n;

  if (!f)
    return NULL;
  if (!fgets(line, sizeof line, f)) {
    fclose(f);
    return NULL;
  }
  fclose(f);
  n = strlen(line);
  while (n > 0 &&
         (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == ' '))
    line[--n] = '\0';
  return xstrdup(line);
}

CURL *
cli_easy_new(const char *base, const char *path, const char *token,
             struct curl_slist **headers)
{
  CURL *easy = curl_easy_init();
  char *url = xasprintf("%s%s", base, path);

  if (!easy) {
    fprintf(stderr, "tend: libcurl cannot make a handle\n");
    abort();
  }
  curl_easy_setopt(easy, CURLOPT_URL, url);
  free(url);
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT, 5L);
  if (token) {
    char *h = xasprintf("Authorization: Bearer %s", token);
    *headers = curl_slist_append(*headers, h);
    free(h);
  }
  return easy;
}

/* Strips trailing slashes from a base URL. */
static char *
base_url(const char *u)
{
  char *s = xstrdup(u);
  size_t n = strlen(s);

  while (n > 0 && s[n - 1] == '/')
    s[--n] = '\0';
  return s;
}

/* ------------------------------------------------------------ discovery */

/* The state folder of a config file: the loaded config's, or the default
 * one beside it when the file cannot be loaded (being edited, or absent). */
static char *
state_dir_of(const char *file)
{
  struct config *cfg = NULL;
  char *errors = NULL, *dir, *leaf;
  const char *slash;

  if (access(file, R_OK) == 0 && config_load(file, &cfg, &errors) == 0) {
    dir = xstrdup(cfg->state_dir);
    config_free(cfg);
    return dir;
  }
  free(errors);
  slash = strrchr(file, '/');
  leaf = config_default_state_leaf(slash ? slash + 1 : file);
  if (slash)
    dir = xasprintf("%.*s/%s", (int)(slash - file), file, leaf);
  else
    dir = xstrdup(leaf);
  free(leaf);
  return dir;
}

/* Loads <state>/daemon.json, or NULL. */
static json_t *
load_daemon_json(const char *state)
{
  char *path = xasprintf("%s/daemon.json", state);
  json_t *d = json_load_file(path, 0, NULL);

  free(path);
  if (d && !json_is_string(json_object_get(d, "url"))) {
    json_decref(d);
    d = NULL;
  }
  return d;
}

/* Finds the daemon's URL and token. Returns CLI_OK or an exit code. */
static int
find_daemon(struct cli *c)
{
  const char *env_url = getenv("TEND_URL");
  const char *env_tok = getenv("TEND_TOKEN");
  const char *file = c->config ? c->config : "tend.json";
  char *state = NULL, *path, config_abs[PATH_MAX];
  json_t *d;

  if (c->config && access(c->config, R_OK) != 0) {
    say("%s: %s", c->config, strerror(errno));
    return CLI_USAGE;
  }
  if (!realpath(file, config_abs))
    config_abs[0] = '\0';
  if (c->url_opt || (env_url && *env_url)) {
    c->url = base_url(c->url_opt ? c->url_opt : env_url);
  } else {
    state = state_dir_of(file);
    d = load_daemon_json(state);
    if (!d && config_abs[0]) {
      /* The file may name a state_dir that the running daemon refused. */
      char *alt = locator_find(config_abs);
      if (alt && (d = load_daemon_json(alt)) != NULL) {
        say("note: the daemon of %s keeps its state in %s, not %s as the "
            "file now says (restart tend to move it)",
            file, alt, state);
        free(state);
        state = alt;
      } else {
        free(alt);
      }
    }
    if (!d) {
      say("no daemon running for %s (no %s/daemon.json); start one with "
          "`tend up`, or pass --url",
          file, state);
      free(state);
      return CLI_UNREACHABLE;
    }
    json_int_t pid = json_integer_value(json_object_get(d, "pid"));
    c->daemon_pid = (long)pid;
    if (pid > 0 && kill((pid_t)pid, 0) != 0 && errno == ESRCH) {
      say("no daemon running for %s: the daemon (pid %lld) is gone and its "
          "%s/daemon.json is stale (it was killed); start one with `tend up`",
          file, (long long)pid, state);
      json_decref(d);
      free(state);
      return CLI_UNREACHABLE;
    }
    const char *runs = json_string_value(json_object_get(d, "config"));
    char runs_abs[PATH_MAX];
    if (runs && config_abs[0] && realpath(runs, runs_abs) &&
        strcmp(runs_abs, config_abs) != 0) {
      say("the daemon with state in %s runs %s, not %s: two configs share "
          "that state_dir; give each its own",
          state, runs, config_abs);
      json_decref(d);
      free(state);
      return CLI_UNREACHABLE;
    }
    c->url = base_url(json_string_value(json_object_get(d, "url")));
    json_decref(d);
  }
  if (c->token_opt) {
    c->token = xstrdup(c->token_opt);
  } else if (env_tok && *env_tok) {
    c->token = xstrdup(env_tok);
  } else {
    if (!state)
      state = state_dir_of(file);
    path = xasprintf("%s/token", state);
    c->token = read_trimmed(path);
    if (!c->token && !c->url_opt && !(env_url && *env_url))
      say("cannot read %s (%s); set TEND_TOKEN", path, strerror(errno));
    free(path);
  }
  free(state);
  return CLI_OK;
}

/* Finds the daemon as every client command does (cli.h). */
int
cli_connect(const char *config, const char *url, const char *token,
            char **url_out, char **token_out)
{
  struct cli c = {.config = config, .url_opt = url, .token_opt = token};
  int r = find_daemon(&c);

  *url_out = c.url;
  *token_out = c.token;
  return r;
}

/* ------------------------------------------------------------------ HTTP */

/* libcurl write callback: gathers a body. */
static size_t
on_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
  buf_add(ud, ptr, size * nmemb);
  return size * nmemb;
}

/* Sets the request up: URL, method, auth, body. Returns the header list
 * (caller frees). */
static struct curl_slist *
setup(struct cli *c, const char *method, const char *path, const char *body,
      const char *extra_header)
{
  struct curl_slist *h = NULL;
  char *url = xasprintf("%s%s", c->url, path);

  curl_easy_reset(c->curl);
  curl_easy_setopt(c->curl, CURLOPT_URL, url);
  free(url);
  curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT, 5L);
  if (c->token) {
    char *a = xasprintf("Authorization: Bearer %s", c->token);
    h = curl_slist_append(h, a);
    free(a);
  }
  if (extra_header)
    h = curl_slist_append(h, extra_header);
  if (strcmp(method, "POST") == 0) {
    h = curl_slist_append(h, "Content-Type: application/json");
    curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, body ? body : "");
  }
  curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, h);
  return h;
}

/* Prints the daemon's {"error"} (and "errors" lines) for a refusal. */
static void
print_refusal(long status, const char *body, size_t len)
{
  json_t *j = json_loadb(body ? body : "", len, 0, NULL);
  const char *msg = json_string_value(json_object_get(j, "error"));
  json_t *errors = json_object_get(j, "errors");
  size_t i;
  json_t *e;

  if (msg)
    say("%s", msg);
  else
    say("the daemon answered HTTP %ld", status);
  json_array_foreach(errors, i, e) if (json_is_string(e))
      fprintf(stderr, "  %s\n", json_string_value(e));
  json_decref(j);
}

/* One request. Returns CLI_OK with *out (new; NULL for a non-JSON body),
 * or CLI_REFUSED / CLI_UNREACHABLE after printing why. With refused_out,
 * a refusal is not printed: its HTTP status and body (new) are returned
 * there instead. */
static int
call_ex(struct cli *c, const char *method, const char *path, const char *body,
        json_t **out, long *refused_out)
{
  struct buf b = BUF_ZERO;
  struct curl_slist *h = setup(c, method, path, body, NULL);
  long status = 0;
  CURLcode rc;

  *out = NULL;
  curl_easy_setopt(c->curl, CURLOPT_TIMEOUT, 60L);
  curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &b);
  rc = curl_easy_perform(c->curl);
  curl_slist_free_all(h);
  if (rc != CURLE_OK) {
    say("no daemon reachable at %s: %s", c->url, curl_easy_strerror(rc));
    buf_free(&b);
    return CLI_UNREACHABLE;
  }
  curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
  if (status >= 400) {
    if (refused_out) {
      *refused_out = status;
      *out = json_loadb(b.data ? b.data : "", b.len, JSON_ALLOW_NUL, NULL);
    } else {
      print_refusal(status, b.data, b.len);
    }
    buf_free(&b);
    return CLI_REFUSED;
  }
  *out = json_loadb(b.data ? b.data : "", b.len, JSON_ALLOW_NUL, NULL);
  buf_free(&b);
  return CLI_OK;
}

/* call_ex that prints refusals. */
static int
call(struct cli *c, const char *method, const char *path, const char *body,
     json_t **out)
{
  return call_ex(c, method, path, body, out, NULL);
}

/* Percent-encodes a name for a path (new string). */
static char *
escape(struct cli *c, const char *name)
{
  char *e = curl_easy_escape(c->curl, name, 0);
  char *s = xstrdup(e ? e : "");

  curl_free(e);
  return s;
}

/* -------------------------------------------------------------- status */

static const char *
state_colour(const char *state)
{
  if (!state)
    return "";
  if (fsm_state_name_is(state, fsm_state_up))
    return "\033[32m";
  if (strcmp(state, "failed") == 0)
    return "\033[31m";
  if (strcmp(state, "stopped") == 0)
    return "\033[2m";
  return "\033[33m"; /* starting, stopping, exited, backoff */
}


static int64_t
now_ms(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#define NCOLS 8
struct row {
  char *col[NCOLS];
};

struct table {
  struct row *rows;
  size_t n, cap;
};

/* Formats an integer field, or "-" when absent or null. */
static char *
int_field(json_t *o, const char *key)
{
  json_t *v = json_object_get(o, key);

  if (!json_is_integer(v))
    return xstrdup("-");
  return xasprintf("%" JSON_INTEGER_FORMAT, json_integer_value(v));
}

/* Adds a node and its children, names indented by depth. */
static void
table_add(struct table *t, json_t *node, int depth, int64_t now)
{
  const char *state = json_string_value(json_object_get(node, "state"));
  const char *kind = json_string_value(json_object_get(node, "kind"));
  json_t *le = json_object_get(node, "last_exit");
  json_t *since = json_object_get(node, "since");
  json_t *children = json_object_get(node, "children");
  struct row *r;
  char up[32] = "-";
  size_t i;
  json_t *child;

  if (t->n == t->cap) {
    t->cap = t->cap ? t->cap * 2 : 16;
    t->rows = xrealloc(t->rows, t->cap * sizeof *t->rows);
  }
  r = &t->rows[t->n++];
  r->col[0] = xasprintf("%*s%s", depth * 2, "",
                        json_string_value(json_object_get(node, "name"))
                            ? json_string_value(json_object_get(node, "name"))
                            : "?");
  r->col[1] = xstrdup(kind ? kind : "?");
  /* A watch the loop guard paused is part of the runner's state: its
   * changes do nothing until `tend resume`. */
  if (json_is_true(json_object_get(json_object_get(node, "watch"), "paused")))
    r->col[2] = xasprintf("%s (watch paused)", state ? state : "?");
  else
    r->col[2] = xstrdup(state ? state : "?");
  r->col[3] = int_field(node, "pid");
  r->col[4] = int_field(node, "run");
  r->col[5] = int_field(node, "restarts");
  if (state && json_is_integer(since) &&
      fsm_state_name_is(state, fsm_state_alive))
    top_view_duration(now - json_integer_value(since), up, sizeof up);
  r->col[6] = xstrdup(up);
  if (json_is_integer(json_object_get(le, "status")))
    r->col[7] = xasprintf("status %" JSON_INTEGER_FORMAT,
                          json_integer_value(json_object_get(le, "status")));
  else if (json_is_string(json_object_get(le, "signal")))
    r->col[7] = xasprintf("signal %s",
                          json_string_value(json_object_get(le, "signal")));
  else if (json_is_string(json_object_get(le, "spawn_error")))
    r->col[7] = xasprintf("spawn failed: %s", json_string_value(
                                                  json_object_get(
                                                      le, "spawn_error")));
  else
    r->col[7] = xstrdup("-");
  json_array_foreach(children, i, child) table_add(t, child, depth + 1, now);
}

/* Prints the name of node and of every node below it, one per line (for
 * shell completion). */
static void
print_names(json_t *node)
{
  json_t *children = json_object_get(node, "children"), *child;
  const char *name = json_string_value(json_object_get(node, "name"));
  size_t i;

  if (name)
    puts(name);
  json_array_foreach(children, i, child) print_names(child);
}

/* Says on stderr when the daemon rejected the last edit of its config (it
 * runs the one before); returns 1 then. */
static int
config_rejected(struct cli *c)
{
  json_t *d = NULL;
  const char *err;
  int rejected = 0;

  if (call(c, "GET", "/api/v1/daemon", NULL, &d) != CLI_OK)
    return 0;
  err = json_string_value(json_object_get(d, "config_error"));
  if (err && *err) {
    say("the last edit of %s was rejected; the tree runs the config before "
        "it:",
        json_string_value(json_object_get(d, "config")));
    fprintf(stderr, "%s%s", err, err[strlen(err) - 1] == '\n' ? "" : "\n");
    rejected = 1;
  }
  json_decref(d);
  return rejected;
}

/* tend status: an aligned table, states coloured on a terminal. */
static int
cmd_status(struct cli *c)
{
  static const char *const heads[NCOLS] = {
      "NAME", "KIND", "STATE", "PID", "RUN", "RESTARTS", "UPTIME", "LAST EXIT"};
  size_t width[NCOLS];
  struct table t = {0};
  json_t *tree;
  int r = call(c, "GET", "/api/v1/tree", NULL, &tree);

  if (r != CLI_OK)
    return r;
  if (!tree) {
    say("the daemon sent a tree that is not JSON");
    return CLI_REFUSED;
  }
  if (c->names) {
    print_names(tree);
    json_decref(tree);
    return CLI_OK;
  }
  if (c->json) {
    char *s = json_dumps(tree, JSON_INDENT(2));
    puts(s ? s : "null");
    free(s);
    json_decref(tree);
    return CLI_OK;
  }
  table_add(&t, tree, 0, now_ms());
  for (int k = 0; k < NCOLS; k++) {
    width[k] = strlen(heads[k]);
    for (size_t i = 0; i < t.n; i++)
      if (strlen(t.rows[i].col[k]) > width[k])
        width[k] = strlen(t.rows[i].col[k]);
  }
  for (int k = 0; k < NCOLS; k++)
    printf("%-*s%s", k == NCOLS - 1 ? 0 : (int)width[k], heads[k],
           k == NCOLS - 1 ? "\n" : "  ");
  for (size_t i = 0; i < t.n; i++) {
    for (int k = 0; k < NCOLS; k++) {
      const char *v = t.rows[i].col[k];
      int last = k == NCOLS - 1;
      if (k == 2 && c->tty)
        printf("%s%s\033[0m%*s", state_colour(v), v,
               (int)(width[k] - strlen(v)), "");
      else
        printf("%-*s", last ? 0 : (int)width[k], v);
      fputs(last ? "\n" : "  ", stdout);
      free(t.rows[i].col[k]);
    }
  }
  free(t.rows);
  json_decref(tree);
  return config_rejected(c) && c->check ? CLI_REFUSED : CLI_OK;
}

/* ---------------------------------------------------------------- actions */

/* POSTs to /api/v1/<kind>/<name>/<action> with body. */
static int
post_action(struct cli *c, const char *kind, const char *name,
            const char *action, const char *body)
{
  char *esc = escape(c, name);
  char *path = xasprintf("/api/v1/%s/%s/%s", kind, esc, action);
  json_t *j = NULL;
  int r = call(c, "POST", path, body, &j);

  json_decref(j);
  free(path);
  free(esc);
  return r;
}

/* start/stop/restart on a runner, with a one-line confirmation. A start of
 * a runner that is already up, or a stop of one that is already down, is
 * not a failure (systemctl, pm2): exit 0 with a note. */
static int
runner_action(struct cli *c, const char *action, const char *done)
{
  char *esc = escape(c, c->args[0]);
  char *path = xasprintf("/api/v1/runners/%s/%s", esc, action);
  json_t *j = NULL;
  long refused = 0;
  int r = call_ex(c, "POST", path, "{}", &j, &refused);
  const char *msg = json_string_value(json_object_get(j, "error"));

  if (r == CLI_OK) {
    printf("%s: %s\n", c->args[0], done);
  } else if (r == CLI_REFUSED && refused == 409 &&
             strcmp(action, "restart") != 0 && msg &&
             strstr(msg, "is already")) {
    printf("%s: nothing to do (%s)\n", c->args[0], msg);
    r = CLI_OK;
  } else if (r == CLI_REFUSED) {
    char *text = json_dumps(j, JSON_COMPACT);
    print_refusal(refused, text, text ? strlen(text) : 0);
    free(text);
  }
  json_decref(j);
  free(path);
  free(esc);
  return r;
}

static long probe(struct cli *c, const char *path);

/* start/stop/restart NAME: a runner, else a group of that name ("all":
 * the whole tree). */
static int
node_action(struct cli *c, const char *action, const char *done)
{
  char *esc = escape(c, c->args[0]);
  char *rpath = xasprintf("/api/v1/runners/%s", esc);
  long rs = probe(c, rpath), refused = 0;
  int r;

  free(rpath);
  free(esc);
  if (rs < 0)
    return CLI_UNREACHABLE;
  if (rs != 404)
    return runner_action(c, action, done);
  {
    char *e = escape(c, c->args[0]);
    char *path = xasprintf("/api/v1/groups/%s/%s", e, action);
    json_t *j = NULL;
    r = call_ex(c, "POST", path, "{}", &j, &refused);
    free(path);
    free(e);
    json_decref(j);
  }
  if (r == CLI_REFUSED && refused == 404)
    say("no runner or group named \"%s\"", c->args[0]);
  else if (r == CLI_REFUSED)
    say("the daemon refused to %s %s (HTTP %ld)", action, c->args[0],
        refused);
  if (r == CLI_OK)
    printf("%s: group %s\n", c->args[0], done);
  return r;
}

static int
cmd_start(struct cli *c)
{
  return node_action(c, "start", "start requested");
}

static int
cmd_stop(struct cli *c)
{
  return node_action(c, "stop", "stop requested");
}

/* GETs path quietly: returns the HTTP status, or -1 when unreachable
 * (after printing why). */
static long
probe(struct cli *c, const char *path)
{
  struct buf b = BUF_ZERO;
  struct curl_slist *h = setup(c, "GET", path, NULL, NULL);
  long status = 0;
  CURLcode rc;

  curl_easy_setopt(c->curl, CURLOPT_TIMEOUT, 60L);
  curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &b);
  rc = curl_easy_perform(c->curl);
  curl_slist_free_all(h);
  buf_free(&b);
  if (rc != CURLE_OK) {
    say("no daemon reachable at %s: %s", c->url, curl_easy_strerror(rc));
    return -1;
  }
  curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
  return status;
}

/* restart NAME: a runner, or else a group of that name. */
static int
cmd_restart(struct cli *c)
{
  return node_action(c, "restart", "restart requested");
}

/* signal NAME SIG. */
static int
cmd_signal(struct cli *c)
{
  json_t *body = json_pack("{s:s}", "signal", c->args[1]);
  char *text = json_dumps(body, JSON_COMPACT);
  int r = post_action(c, "runners", c->args[0], "signal", text);

  if (r == CLI_OK)
    printf("%s: sent %s\n", c->args[0], c->args[1]);
  free(text);
  json_decref(body);
  return r;
}

/* resume NAME: resume a paused watch. */
static int
cmd_resume(struct cli *c)
{
  int r = post_action(c, "runners", c->args[0], "watch/resume", "{}");

  if (r == CLI_OK)
    printf("%s: watch resumed\n", c->args[0]);
  return r;
}

/* Returns 1 while pid is a process that has not exited (a zombie has: its
 * parent may be a reaper that never reaps). */
static int
pid_lives(long pid)
{
  char path[64], buf[512];
  FILE *f;
  size_t n;
  char *paren;

  if (kill((pid_t)pid, 0) != 0 && errno == ESRCH)
    return 0;
  snprintf(path, sizeof path, "/proc/%ld/stat", pid);
  if (!(f = fopen(path, "re")))
    return 0;
  n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  paren = strrchr(buf, ')');
  return !(paren && paren[1] == ' ' && paren[2] == 'Z');
}

/* down: asks the daemon to stop, then waits for it to be gone: its pid
 * when daemon.json named one (the daemon exits only once every runner is
 * stopped), else its API. */
static int
cmd_down(struct cli *c)
{
  json_t *j = NULL;
  int r = call(c, "POST", "/api/v1/daemon/stop", "{}", &j);
  long long waited = 0;

  json_decref(j);
  if (r != CLI_OK)
    return r;
  printf("stopping the tree...\n");
  fflush(stdout);
  for (;;) {
    int gone;
    if (c->daemon_pid > 0) {
      gone = !pid_lives(c->daemon_pid);
    } else {
      quiet = 1;
      gone = probe(c, "/healthz") < 0;
      quiet = 0;
    }
    if (gone)
      break;
    usleep(50 * 1000);
    waited += 50;
    if (waited % 10000 == 0)
      say("still stopping after %lld s (runners get their stop.timeout_ms)",
          waited / 1000);
  }
  printf("tend: stopped\n");
  return CLI_OK;
}

/* reload: errors come back one per line. */
static int
cmd_reload(struct cli *c)
{
  json_t *j = NULL;
  int r = call(c, "POST", "/api/v1/reload", "{}", &j);

  json_decref(j);
  if (r == CLI_OK)
    printf("config applied\n");
  return r;
}

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
    render_lines(c, o, chunk, raw.data ? raw.data : "", raw.len, is_tend, is_err);
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
  const char *type = json_string_value(json_object_get(ev, "type"));
  const char *node = json_string_value(json_object_get(ev, "node"));
  const char *msg = json_string_value(json_object_get(ev, "message"));
  const char *reason = json_string_value(json_object_get(ev, "reason"));
  char when[64];

  if (c->json) {
    char *s = json_dumps(ev, JSON_COMPACT);
    buf_addf(o, "%s\n", s ? s : "{}");
    free(s);
    return;
  }
  fmt_ts(json_object_get(ev, "ts"), when, sizeof when);
  buf_addf(o, "%s  ", when);
  if (type && strcmp(type, "state") == 0) {
    const char *to = json_string_value(json_object_get(ev, "to"));
    const char *evn = json_string_value(json_object_get(ev, "event"));
    buf_addf(o, "%s: %s --%s--> ", node ? node : "?",
             json_string_value(json_object_get(ev, "from"))
                 ? json_string_value(json_object_get(ev, "from"))
                 : "?",
             evn ? evn : "?");
    if (c->tty)
      buf_addf(o, "%s%s\033[0m", state_colour(to), to ? to : "?");
    else
      buf_addf(o, "%s", to ? to : "?");
    if (reason && *reason)
      buf_addf(o, " (%s)", reason);
  } else {
    buf_addf(o, "%s", type ? type : "event");
    if (node)
      buf_addf(o, " %s", node);
    if (msg && *msg)
      buf_addf(o, ": %s", msg);
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
    say("seqs %lld-%lld are gone (rotated away); continuing at seq %lld",
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
    int r = call(c, "GET", url, NULL, &page);

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
  int r = call(c, "GET", url, NULL, &page);

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
  int64_t retry_at;   /* follow_many: when to reconnect; 0 connected */
  unsigned delay_ms;
  int dead;           /* refused: not retried */
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

/* Looks for the daemon again before a reconnect: a daemon that restarted
 * may listen on another port, with another token. Keeps the old address
 * when none is found (or when the address was given by --url/TEND_URL). */
static void
rediscover(struct cli *c)
{
  const char *env_url = getenv("TEND_URL");
  char *url = c->url, *token = c->token;

  if (c->url_opt || (env_url && *env_url))
    return;
  c->url = NULL;
  c->token = NULL;
  quiet = 1;
  int r = find_daemon(c);
  quiet = 0;
  if (r == CLI_OK && c->url) {
    if (strcmp(c->url, url) != 0)
      say("the daemon is now at %s", c->url);
    free(url);
    free(token);
  } else {
    free(c->url);
    free(c->token);
    c->url = url;
    c->token = token;
  }
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
    struct curl_slist *h = setup(c, "GET", path, NULL, hdr);
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
      rediscover(c);
      token_retried = 1;
      if (c->token && strcmp(before, c->token) != 0) {
        free(before);
        continue;
      }
      free(before);
    }
    if (rc == CURLE_OK && f.status >= 400) {
      print_refusal(f.status, f.err.data, f.err.len);
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
      say("stream ended (%s); reconnecting from seq %" PRIu64,
          rc == CURLE_OK ? "closed by the daemon" : curl_easy_strerror(rc),
          f.last);
      warned = 1;
    }
    usleep(delay_ms * 1000u);
    if (delay_ms < 5000)
      delay_ms *= 2;
    rediscover(c);
  }
}

/* Connects one stream of follow_many. */
static void
stream_start(struct cli *c, CURLM *multi, struct follow *f)
{
  char *hdr;

  f->headers = NULL;
  f->easy = cli_easy_new(c->url, f->path, c->token, &f->headers);
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
        print_refusal(f->status, f->err.data, f->err.len);
        f->dead = 1;
        dead++;
        continue;
      }
      if (f->got)
        f->delay_ms = 250;
      if (!warned) {
        say("stream ended (%s); reconnecting",
            rc == CURLE_OK ? "closed by the daemon" : curl_easy_strerror(rc));
        warned = 1;
      }
      f->retry_at = now_ms() + f->delay_ms;
      if (f->delay_ms < 5000)
        f->delay_ms *= 2;
    }
    now = now_ms();
    int due = 0;
    for (size_t i = 0; i < n; i++)
      due |= !fs[i].dead && !fs[i].easy && fs[i].retry_at <= now;
    if (due) {
      rediscover(c);
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
  int r = call(c, "GET", "/api/v1/tree", NULL, &tree);

  if (r != CLI_OK)
    goto done;
  if (c->nargs == 0)
    add_runners(tree, names);
  for (int k = 0; k < c->nargs; k++) {
    json_t *node = tree_find(tree, c->args[k]);
    if (!node) {
      say("no runner or group named \"%s\"", c->args[k]);
      r = CLI_REFUSED;
      goto done;
    }
    add_runners(node, names);
  }
  fs = xcalloc(json_array_size(names) + 1, sizeof *fs);
  json_array_foreach(names, i, name)
  {
    char *esc = escape(c, json_string_value(name));
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
  char *esc = escape(c, name);
  char *path = xasprintf("/api/v1/runners/%s", esc);
  long status = probe(c, path);

  free(path);
  free(esc);
  return status == 200;
}

/* tend logs [-f] [-n N] [NAME...]: one runner as it wrote its output, else
 * logs_merged. */
static int
cmd_logs(struct cli *c)
{
  if (c->follow && !c->lines_set)
    c->lines = 10; /* tail -f */
  if (c->nargs != 1 || !is_runner(c, c->args[0]))
    return logs_merged(c);
  char *esc = escape(c, c->args[0]);
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
static int
logs_offline(struct cli *c)
{
  char *state = state_dir_of(c->config ? c->config : "tend.json");
  char *cur = xasprintf("%s/output/%s.jsonl", state, c->args[0]);
  struct buf o = BUF_ZERO;
  int found = 0;

  say("reading %s instead", cur);
  for (int i = 99; i >= 1; i--) {
    char *out_dir = xasprintf("%s/output", state);
    char *old = store_rotated_path(out_dir, c->args[0], i);
    free(out_dir);
    found |= read_output_file(c, old, &o);
    free(old);
  }
  found |= read_output_file(c, cur, &o);
  if (!found)
    say("no output recorded for \"%s\" in %s", c->args[0], state);
  if (c->lines >= 0)
    keep_last_lines(&o, c->lines);
  emit(&o);
  buf_free(&o);
  free(cur);
  free(state);
  if (found && c->follow)
    say("no daemon to follow");
  return found && !c->follow ? CLI_OK : CLI_UNREACHABLE;
}

/* tend events [-f] [-n N]. */
static int
cmd_events(struct cli *c)
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

/* ------------------------------------------------------------------ main */

/* Prints the usage lines of the client commands. */
void
cli_usage(FILE *f)
{
  for (size_t i = 0; i < N_COMMANDS; i++)
    fprintf(f, "  tend %s\n", commands[i].usage);
  fprintf(f, "  (client options: -c FILE, --url URL; env TEND_URL, "
             "TEND_TOKEN)\n");
}

/* Returns the command of that name, or NULL. */
static const struct cmd *
find_cmd(const char *name)
{
  for (size_t i = 0; i < N_COMMANDS; i++)
    if (strcmp(commands[i].name, name) == 0)
      return &commands[i];
  return NULL;
}

int
cli_help(const char *name, FILE *f)
{
  const struct cmd *cmd = find_cmd(name);

  if (!cmd)
    return -1;
  fprintf(f, "usage: tend %s\n\n%s", cmd->usage, cmd->help ? cmd->help : "");
  fprintf(f, "\nfinding the daemon (every client command):\n"
             "  -c, --config FILE  the daemon of FILE (default ./tend.json), "
             "through\n"
             "                     its state folder's daemon.json\n"
             "  --url URL          the daemon at URL (or TEND_URL)\n"
             "  --token TOKEN      the API token (or TEND_TOKEN; default: the "
             "state\n"
             "                     folder's token file)\n"
             "exit status: 0 ok, 1 refused by the daemon, 2 usage, 3 no "
             "daemon\n");
  return 0;
}

/* Returns 1 for a client command. */
int
cli_is_command(const char *cmd)
{
  return cmd && find_cmd(cmd) != NULL;
}

/* Prints a usage error for one command. */
static int
usage_error(const struct cmd *cmd, const char *why)
{
  say("%s", why);
  fprintf(stderr, "usage: tend %s\n", cmd->usage);
  return CLI_USAGE;
}

/* Parses a non-negative count. */
static int
parse_count(const char *s, long *out)
{
  char *end;
  long v;

  if (!s || !*s)
    return -1;
  errno = 0;
  v = strtol(s, &end, 10);
  if (errno || *end || v < 0)
    return -1;
  *out = v;
  return 0;
}

/* Parses "30s", "10m", "2h", "1d" or plain seconds into ms. */
static int
parse_duration_ms(const char *s, int64_t *out)
{
  char *end;
  double v;

  if (!s || !*s)
    return -1;
  errno = 0;
  v = strtod(s, &end);
  if (errno || end == s || v < 0)
    return -1;
  switch (*end) {
  case '\0':
  case 's': break;
  case 'm': v *= 60; break;
  case 'h': v *= 3600; break;
  case 'd': v *= 86400; break;
  default: return -1;
  }
  if (*end && end[1] != '\0')
    return -1;
  if (v > 1e10)
    return -1;
  *out = (int64_t)(v * 1000);
  return 0;
}

/* Parses options (anywhere on the line) and arguments for cmd. */
static int
parse_args(const struct cmd *cmd, struct cli *c, int argc, char **argv)
{
  int only_args = 0;

  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    const char *val = NULL;

    if (only_args || a[0] != '-' || a[1] == '\0') {
      if (c->nargs >= cmd->max_args)
        return usage_error(cmd, "too many arguments");
      c->args[c->nargs++] = a;
      continue;
    }
    if (strcmp(a, "--") == 0) {
      only_args = 1;
    } else if (strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0) {
      if (++i >= argc)
        return usage_error(cmd, "-c needs a file");
      c->config = argv[i];
    } else if (strncmp(a, "--config=", 9) == 0) {
      c->config = a + 9;
    } else if (strcmp(a, "--url") == 0) {
      if (++i >= argc)
        return usage_error(cmd, "--url needs a URL");
      c->url_opt = argv[i];
    } else if (strncmp(a, "--url=", 6) == 0) {
      c->url_opt = a + 6;
    } else if (strcmp(a, "--token") == 0) {
      if (++i >= argc)
        return usage_error(cmd, "--token needs a token");
      c->token_opt = argv[i];
    } else if (strncmp(a, "--token=", 8) == 0) {
      c->token_opt = a + 8;
    } else if ((cmd->opts & OPT_LOGS) &&
               (strcmp(a, "-t") == 0 || strcmp(a, "--timestamps") == 0)) {
      c->timestamps = 1;
    } else if ((cmd->opts & OPT_LOGS) &&
               (strcmp(a, "--since") == 0 || strncmp(a, "--since=", 8) == 0)) {
      val = a[7] == '=' ? a + 8 : (++i < argc ? argv[i] : NULL);
      int64_t ms;
      if (parse_duration_ms(val, &ms) < 0)
        return usage_error(cmd, "--since needs a duration: 30s, 10m, 2h, 1d");
      c->since_ms = now_ms() - ms;
    } else if ((cmd->opts & OPT_LOGS) &&
               (strcmp(a, "--grep") == 0 || strncmp(a, "--grep=", 7) == 0)) {
      val = a[6] == '=' ? a + 7 : (++i < argc ? argv[i] : NULL);
      if (!val)
        return usage_error(cmd, "--grep needs a regular expression");
      if (c->has_grep)
        regfree(&c->grep);
      int rc = regcomp(&c->grep, val, REG_EXTENDED | REG_NOSUB);
      if (rc != 0) {
        char why[256], msg[320];
        regerror(rc, &c->grep, why, sizeof why);
        snprintf(msg, sizeof msg, "--grep: %s", why);
        return usage_error(cmd, msg);
      }
      c->has_grep = 1;
    } else if ((cmd->opts & OPT_LOGS) &&
               (strcmp(a, "--stream") == 0 || strncmp(a, "--stream=", 9) == 0)) {
      val = a[8] == '=' ? a + 9 : (++i < argc ? argv[i] : NULL);
      if (!val || (strcmp(val, "stdout") && strcmp(val, "stderr") &&
                   strcmp(val, "pty") && strcmp(val, "tend")))
        return usage_error(cmd, "--stream needs stdout, stderr, pty or tend");
      c->stream_filter = val;
    } else if (strcmp(a, "--check") == 0 && (cmd->opts & OPT_CHECK)) {
      c->check = 1;
    } else if (strcmp(a, "--names") == 0 && (cmd->opts & OPT_NAMES)) {
      c->names = 1;
    } else if (strcmp(a, "--json") == 0 && (cmd->opts & OPT_JSON)) {
      c->json = 1;
    } else if ((strcmp(a, "-f") == 0 || strcmp(a, "--follow") == 0) &&
               (cmd->opts & OPT_FOLLOW)) {
      c->follow = 1;
    } else if ((cmd->opts & OPT_LINES) &&
               (strcmp(a, "-n") == 0 || strcmp(a, "--lines") == 0 ||
                strncmp(a, "--lines=", 8) == 0 ||
                (a[1] == 'n' && a[2] != '\0'))) {
      if (strcmp(a, "-n") == 0 || strcmp(a, "--lines") == 0)
        val = ++i < argc ? argv[i] : NULL;
      else
        val = a[1] == 'n' ? a + 2 : a + 8;
      if (val && strcmp(val, "all") == 0)
        c->lines = -1;
      else if (parse_count(val, &c->lines) < 0)
        return usage_error(cmd, "-n needs a count (0 or more) or \"all\"");
      c->lines_set = 1;
    } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
      cli_help(cmd->name, stdout);
      return -1;
    } else {
      char why[128];
      snprintf(why, sizeof why, "unknown option %.64s", a);
      return usage_error(cmd, why);
    }
  }
  if (c->nargs < cmd->min_args)
    return usage_error(cmd, "missing argument");
  return CLI_OK;
}

/* Runs one client command. */
int
cli_main(const char *name, int argc, char **argv)
{
  const struct cmd *cmd = find_cmd(name);
  struct cli c;
  int r;

  if (!cmd) {
    say("unknown command %s", name);
    cli_usage(stderr);
    return CLI_USAGE;
  }
  memset(&c, 0, sizeof c);
  c.lines = -1;
  {
    int bad = 0; /* an unknown TEND_COLOR counts as auto, as in tend up */
    c.tty = printer_colour_wanted(isatty(STDOUT_FILENO), getenv("TEND_COLOR"),
                                  getenv("NO_COLOR"), &bad);
  }
  r = parse_args(cmd, &c, argc, argv);
  if (r == -1)
    return CLI_OK; /* --help */
  if (r != CLI_OK)
    return r;
  r = find_daemon(&c);
  if (r == CLI_UNREACHABLE && cmd->fn == cmd_logs && !c.url_opt &&
      c.nargs == 1) {
    quiet = 0;
    r = logs_offline(&c);
  } else if (r == CLI_OK) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    c.curl = curl_easy_init();
    if (!c.curl) {
      say("libcurl failed to start");
      r = CLI_UNREACHABLE;
    } else {
      r = cmd->fn(&c);
      curl_easy_cleanup(c.curl);
    }
    curl_global_cleanup();
  }
  if (c.has_grep)
    regfree(&c.grep);
  free(c.url);
  free(c.token);
  return r;
}
