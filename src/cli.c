/* cli: the client commands over the HTTP API (issue 4; docs/api.md).
 *
 * Each command is one row of a static table (name, handler, arguments,
 * allowed options). A command finds the daemon (--url / TEND_URL, else
 * <state_dir>/daemon.json of -c FILE or ./tend.json; the token from
 * TEND_TOKEN or <state_dir>/token), makes its requests with libcurl and
 * prints the result. Finding the daemon and making requests live in
 * cli_conn.c; `logs` and `events` (replay, follow, merge) in cli_logs.c.
 *
 * Exit codes (cli.h): 0 ok, 1 the daemon refused (its {"error"} printed),
 * 2 usage, 3 no daemon reachable. */
#include "src/cli.h"

#include "src/buf.h"
#include "src/cli_conn.h"
#include "src/cli_logs.h"
#include "src/events.h"
#include "src/printer.h"
#include "src/top_view.h"
#include "src/xalloc.h"
#include "runners/fsm.h"

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
static int cmd_reload(struct cli *c);
static int cmd_resume(struct cli *c);
static int cmd_down(struct cli *c);

static const struct cmd commands[] = {
    {.name = "status",
     .fn = cmd_status,
     .opts = OPT_JSON | OPT_NAMES | OPT_CHECK,
     .usage = "status [--json|--names] the tree: state, pid, restarts, uptime\n"
              "                               (--names: one name per line)",
     .help =
         "The tree: every group and runner with its state, pid, run number,\n"
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
     .usage =
         "start NAME              start a runner or a group (all: the tree)",
     .help = "Starts a stopped or failed runner, or a group (its children in\n"
             "order); \"all\" is the whole tree. Exit 0 also when it is\n"
             "already running (with a note).\n"},
    {.name = "stop",
     .fn = cmd_stop,
     .min_args = 1,
     .max_args = 1,
     .usage =
         "stop NAME               stop a runner or a group (all: the tree)",
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
     .fn = cli_logs_output,
     .min_args = 0,
     .max_args = CLI_MAX_ARGS,
     .opts = OPT_JSON | OPT_FOLLOW | OPT_LINES | OPT_LOGS,
     .usage = "logs [-f] [-n N] [OPTIONS] [NAME...]\n"
              "                               output of runners (-f: follow)",
     .help =
         "Output, from the files the daemon keeps (when no daemon runs,\n"
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
     .fn = cli_logs_events,
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
     .help =
         "Stops every runner (in reverse start order) and then the daemon,\n"
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

/* -------------------------------------------------------------- status */

const char *
cli_state_colour(const char *state)
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
    r->col[7] =
        xasprintf("spawn failed: %s",
                  json_string_value(json_object_get(le, "spawn_error")));
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

  if (cli_conn_call(c, "GET", "/api/v1/daemon", NULL, &d) != CLI_OK)
    return 0;
  err = json_string_value(json_object_get(d, "config_error"));
  if (err && *err) {
    cli_conn_say("the last edit of %s was rejected; the tree runs the config "
                 "before it:",
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
  int r = cli_conn_call(c, "GET", "/api/v1/tree", NULL, &tree);

  if (r != CLI_OK)
    return r;
  if (!tree) {
    cli_conn_say("the daemon sent a tree that is not JSON");
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
  table_add(&t, tree, 0, events_now_ms());
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
        printf("%s%s\033[0m%*s", cli_state_colour(v), v,
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
  char *esc = cli_conn_escape(name);
  char *path = xasprintf("/api/v1/%s/%s/%s", kind, esc, action);
  json_t *j = NULL;
  int r = cli_conn_call(c, "POST", path, body, &j);

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
  char *esc = cli_conn_escape(c->args[0]);
  char *path = xasprintf("/api/v1/runners/%s/%s", esc, action);
  json_t *j = NULL;
  long refused = 0;
  int r = cli_conn_call_ex(c, "POST", path, "{}", &j, &refused);
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
    cli_conn_print_refusal(refused, text, text ? strlen(text) : 0);
    free(text);
  }
  json_decref(j);
  free(path);
  free(esc);
  return r;
}

/* start/stop/restart NAME: a runner, else a group of that name ("all":
 * the whole tree). */
static int
node_action(struct cli *c, const char *action, const char *done)
{
  char *esc = cli_conn_escape(c->args[0]);
  char *rpath = xasprintf("/api/v1/runners/%s", esc);
  long rs = cli_conn_probe(c, rpath), refused = 0;
  int r;

  free(rpath);
  free(esc);
  if (rs < 0)
    return CLI_UNREACHABLE;
  if (rs != 404)
    return runner_action(c, action, done);
  {
    char *e = cli_conn_escape(c->args[0]);
    char *path = xasprintf("/api/v1/groups/%s/%s", e, action);
    json_t *j = NULL;
    r = cli_conn_call_ex(c, "POST", path, "{}", &j, &refused);
    free(path);
    free(e);
    json_decref(j);
  }
  if (r == CLI_REFUSED && refused == 404)
    cli_conn_say("no runner or group named \"%s\"", c->args[0]);
  else if (r == CLI_REFUSED)
    cli_conn_say("the daemon refused to %s %s (HTTP %ld)", action, c->args[0],
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
  int r = cli_conn_call(c, "POST", "/api/v1/daemon/stop", "{}", &j);
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
      cli_conn_quiet(1);
      gone = cli_conn_probe(c, "/healthz") < 0;
      cli_conn_quiet(0);
    }
    if (gone)
      break;
    usleep(50 * 1000);
    waited += 50;
    if (waited % 10000 == 0)
      cli_conn_say(
          "still stopping after %lld s (runners get their stop.timeout_ms)",
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
  int r = cli_conn_call(c, "POST", "/api/v1/reload", "{}", &j);

  json_decref(j);
  if (r == CLI_OK)
    printf("config applied\n");
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
  cli_conn_say("%s", why);
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
  case 's':
    break;
  case 'm':
    v *= 60;
    break;
  case 'h':
    v *= 3600;
    break;
  case 'd':
    v *= 86400;
    break;
  default:
    return -1;
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
    int taken;

    if (only_args || a[0] != '-' || a[1] == '\0') {
      if (c->nargs >= cmd->max_args)
        return usage_error(cmd, "too many arguments");
      c->args[c->nargs++] = a;
      continue;
    }
    if (strcmp(a, "--") == 0) {
      only_args = 1;
    } else if ((taken = cli_conn_parse_opt(argc, argv, &i, &c->config,
                                           &c->url_opt, &c->token_opt))) {
      if (taken < 0)
        return usage_error(cmd, a[2] == 'u'   ? "--url needs a URL"
                                : a[2] == 't' ? "--token needs a token"
                                              : "-c needs a file");
    } else if ((cmd->opts & OPT_LOGS) &&
               (strcmp(a, "-t") == 0 || strcmp(a, "--timestamps") == 0)) {
      c->timestamps = 1;
    } else if ((cmd->opts & OPT_LOGS) &&
               (strcmp(a, "--since") == 0 || strncmp(a, "--since=", 8) == 0)) {
      val = a[7] == '=' ? a + 8 : (++i < argc ? argv[i] : NULL);
      int64_t ms;
      if (parse_duration_ms(val, &ms) < 0)
        return usage_error(cmd, "--since needs a duration: 30s, 10m, 2h, 1d");
      c->since_ms = events_now_ms() - ms;
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
    } else if ((cmd->opts & OPT_LOGS) && (strcmp(a, "--stream") == 0 ||
                                          strncmp(a, "--stream=", 9) == 0)) {
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
    cli_conn_say("unknown command %s", name);
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
  r = cli_conn_find(&c);
  if (r == CLI_UNREACHABLE && cmd->fn == cli_logs_output && !c.url_opt &&
      c.nargs == 1) {
    cli_conn_quiet(0);
    r = cli_logs_offline(&c);
  } else if (r == CLI_OK) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    c.curl = curl_easy_init();
    if (!c.curl) {
      cli_conn_say("libcurl failed to start");
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
