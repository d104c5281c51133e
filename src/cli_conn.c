/* cli_conn: how the client commands reach the daemon (see cli_conn.h).
 *
 * Discovery reads <state_dir>/daemon.json of the config (or --url /
 * TEND_URL) and the token (--token, TEND_TOKEN or <state_dir>/token); a
 * daemon.json whose pid is gone, or that names another config, is reported
 * as no daemon. Requests go through the one libcurl easy handle of the
 * struct cli, reset before each; tend top and tend attach make their own
 * handles with cli_conn_easy_new so every client shares the settings. */
#include "src/cli_conn.h"

#include "src/buf.h"
#include "src/cli.h"
#include "src/config.h"
#include "src/locator.h"
#include "src/xalloc.h"
#include "ui/sse.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---------------------------------------------------------------- helpers */

/* Set while a follow looks for its daemon again: no message per try. */
static int quiet;

void
cli_conn_quiet(int on)
{
  quiet = on;
}

void
cli_conn_say(const char *fmt, ...)
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
cli_conn_easy_new(const char *base, const char *path, const char *token,
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
char *
cli_conn_state_dir(const char *file)
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
int
cli_conn_find(struct cli *c)
{
  const char *env_url = getenv("TEND_URL");
  const char *env_tok = getenv("TEND_TOKEN");
  const char *file = c->config ? c->config : "tend.json";
  char *state = NULL, *path, config_abs[PATH_MAX];
  json_t *d;

  if (c->config && access(c->config, R_OK) != 0) {
    cli_conn_say("%s: %s", c->config, strerror(errno));
    return CLI_USAGE;
  }
  if (!realpath(file, config_abs))
    config_abs[0] = '\0';
  if (c->url_opt || (env_url && *env_url)) {
    c->url = base_url(c->url_opt ? c->url_opt : env_url);
  } else {
    state = cli_conn_state_dir(file);
    d = load_daemon_json(state);
    if (!d && config_abs[0]) {
      /* The file may name a state_dir that the running daemon refused. */
      char *alt = locator_find(config_abs);
      if (alt && (d = load_daemon_json(alt)) != NULL) {
        cli_conn_say(
            "note: the daemon of %s keeps its state in %s, not %s as the "
            "file now says (restart tend to move it)",
            file, alt, state);
        free(state);
        state = alt;
      } else {
        free(alt);
      }
    }
    if (!d) {
      cli_conn_say(
          "no daemon running for %s (no %s/daemon.json); start one with "
          "`tend up`, or pass --url",
          file, state);
      free(state);
      return CLI_UNREACHABLE;
    }
    json_int_t pid = json_integer_value(json_object_get(d, "pid"));
    c->daemon_pid = (long)pid;
    if (pid > 0 && kill((pid_t)pid, 0) != 0 && errno == ESRCH) {
      cli_conn_say(
          "no daemon running for %s: the daemon (pid %lld) is gone and its "
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
      cli_conn_say(
          "the daemon with state in %s runs %s, not %s: two configs share "
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
      state = cli_conn_state_dir(file);
    path = xasprintf("%s/token", state);
    c->token = read_trimmed(path);
    if (!c->token && !c->url_opt && !(env_url && *env_url))
      cli_conn_say("cannot read %s (%s); set TEND_TOKEN", path,
                   strerror(errno));
    free(path);
  }
  free(state);
  return CLI_OK;
}

/* Finds the daemon as every client command does (cli.h). */
int
cli_conn_connect(const char *config, const char *url, const char *token,
                 char **url_out, char **token_out)
{
  struct cli c = {.config = config, .url_opt = url, .token_opt = token};
  int r = cli_conn_find(&c);

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
struct curl_slist *
cli_conn_setup(struct cli *c, const char *method, const char *path,
               const char *body, const char *extra_header)
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
void
cli_conn_print_refusal(long status, const char *body, size_t len)
{
  json_t *j = json_loadb(body ? body : "", len, 0, NULL);
  const char *msg = json_string_value(json_object_get(j, "error"));
  json_t *errors = json_object_get(j, "errors");
  size_t i;
  json_t *e;

  if (msg)
    cli_conn_say("%s", msg);
  else
    cli_conn_say("the daemon answered HTTP %ld", status);
  json_array_foreach(errors, i, e) if (json_is_string(e))
      fprintf(stderr, "  %s\n", json_string_value(e));
  json_decref(j);
}

/* Makes one request on c->curl, its answer into b. Returns 0 with *status,
 * or -1 after printing why no daemon answered. */
static int
perform(struct cli *c, const char *method, const char *path, const char *body,
        struct buf *b, long *status)
{
  struct curl_slist *h = cli_conn_setup(c, method, path, body, NULL);
  CURLcode rc;

  curl_easy_setopt(c->curl, CURLOPT_TIMEOUT, 60L);
  curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, b);
  rc = curl_easy_perform(c->curl);
  curl_slist_free_all(h);
  if (rc != CURLE_OK) {
    cli_conn_say("no daemon reachable at %s: %s", c->url,
                 curl_easy_strerror(rc));
    return -1;
  }
  curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, status);
  return 0;
}

/* One request. Returns CLI_OK with *out (new; NULL for a non-JSON body),
 * or CLI_REFUSED / CLI_UNREACHABLE after printing why. With refused_out,
 * a refusal is not printed: its HTTP status and body (new) are returned
 * there instead. */
int
cli_conn_call_ex(struct cli *c, const char *method, const char *path,
                 const char *body, json_t **out, long *refused_out)
{
  struct buf b = BUF_ZERO;
  long status = 0;

  *out = NULL;
  if (perform(c, method, path, body, &b, &status) < 0) {
    buf_free(&b);
    return CLI_UNREACHABLE;
  }
  if (status >= 400) {
    if (refused_out) {
      *refused_out = status;
      *out = json_loadb(b.data ? b.data : "", b.len, JSON_ALLOW_NUL, NULL);
    } else {
      cli_conn_print_refusal(status, b.data, b.len);
    }
    buf_free(&b);
    return CLI_REFUSED;
  }
  *out = json_loadb(b.data ? b.data : "", b.len, JSON_ALLOW_NUL, NULL);
  buf_free(&b);
  return CLI_OK;
}

/* call_ex that prints refusals. */
int
cli_conn_call(struct cli *c, const char *method, const char *path,
              const char *body, json_t **out)
{
  return cli_conn_call_ex(c, method, path, body, out, NULL);
}

/* Percent-encodes a name for a path (new string). */
char *
cli_conn_escape(const char *name)
{
  char *e = curl_easy_escape(NULL, name, 0);
  char *s = xstrdup(e ? e : "");

  curl_free(e);
  return s;
}

/* GETs path quietly: returns the HTTP status, or -1 when unreachable
 * (after printing why). */
long
cli_conn_probe(struct cli *c, const char *path)
{
  struct buf b = BUF_ZERO;
  long status = 0;
  int r = perform(c, "GET", path, NULL, &b, &status);

  buf_free(&b);
  return r < 0 ? -1 : status;
}

/* Looks for the daemon again before a reconnect: a daemon that restarted
 * may listen on another port, with another token. Keeps the old address
 * when none is found (or when the address was given by --url/TEND_URL). */
void
cli_conn_rediscover(struct cli *c)
{
  const char *env_url = getenv("TEND_URL");
  char *url = c->url, *token = c->token;

  if (c->url_opt || (env_url && *env_url))
    return;
  c->url = NULL;
  c->token = NULL;
  cli_conn_quiet(1);
  int r = cli_conn_find(c);
  cli_conn_quiet(0);
  if (r == CLI_OK && c->url) {
    if (strcmp(c->url, url) != 0)
      cli_conn_say("the daemon is now at %s", c->url);
    free(url);
    free(token);
  } else {
    free(c->url);
    free(c->token);
    c->url = url;
    c->token = token;
  }
}

/* ------------------------------------------------------ multi requests */

/* libcurl write callback of a cli_conn_req: a stream's events, or a body. */
static size_t
on_req_data(char *ptr, size_t size, size_t nmemb, void *ud)
{
  struct cli_conn_req *r = ud;
  size_t n = size * nmemb;

  if (!r->status)
    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &r->status);
  if (r->parser && r->status == 200)
    sse_parser_feed(r->parser, ptr, n);
  else if (r->body.len < r->max_body)
    buf_add(&r->body, ptr, n);
  return n;
}

void
cli_conn_req_init(struct cli_conn_req *r, const char *base, const char *path,
                  const char *token, size_t max_body)
{
  r->easy = cli_conn_easy_new(base, path, token, &r->headers);
  r->max_body = max_body;
  curl_easy_setopt(r->easy, CURLOPT_WRITEFUNCTION, on_req_data);
  curl_easy_setopt(r->easy, CURLOPT_WRITEDATA, r);
}

void
cli_conn_req_stream(struct cli_conn_req *r, int64_t last)
{
  if (last >= 0) {
    char *h = xasprintf("Last-Event-ID: %" PRId64, last);
    r->headers = curl_slist_append(r->headers, h);
    free(h);
  }
  r->headers = curl_slist_append(r->headers, "Accept: text/event-stream");
  curl_easy_setopt(r->easy, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(r->easy, CURLOPT_LOW_SPEED_TIME, 45L);
}

void
cli_conn_req_cleanup(struct cli_conn_req *r, CURLM *multi)
{
  if (multi && r->easy)
    curl_multi_remove_handle(multi, r->easy);
  curl_easy_cleanup(r->easy);
  r->easy = NULL;
  curl_slist_free_all(r->headers);
  r->headers = NULL;
  sse_parser_free(r->parser);
  r->parser = NULL;
  buf_free(&r->body);
}

/* ------------------------------------------------------------- options */

int
cli_conn_parse_opt(int argc, char **argv, int *i, const char **config,
                   const char **url, const char **token)
{
  static const struct {
    const char *shrt, *lng;
  } opts[] = {{"-c", "--config"}, {NULL, "--url"}, {NULL, "--token"}};
  const char **vals[] = {config, url, token};
  const char *a = argv[*i];

  for (size_t k = 0; k < sizeof opts / sizeof *opts; k++) {
    size_t n = strlen(opts[k].lng);
    if ((opts[k].shrt && strcmp(a, opts[k].shrt) == 0) ||
        strcmp(a, opts[k].lng) == 0) {
      if (*i + 1 >= argc)
        return -1;
      *vals[k] = argv[++*i];
      return 1;
    }
    if (strncmp(a, opts[k].lng, n) == 0 && a[n] == '=') {
      *vals[k] = a + n + 1;
      return 1;
    }
  }
  return 0;
}
