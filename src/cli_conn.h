/* cli_conn: how the client commands reach the daemon: the client's
 * invocation (struct cli), discovery (daemon.json, the token, --url),
 * blocking requests on its libcurl handle, and the messages they print.
 * Shared by src/cli.c (the commands), src/cli_logs.c (logs and events),
 * and, for discovery and the handle settings, tend top and tend attach. */
#ifndef TEND_CLI_CONN_H
#define TEND_CLI_CONN_H

#include "src/buf.h"

#include <curl/curl.h>
#include <jansson.h>
#include <regex.h>
#include <stdint.h>

/* Names one command takes at most (tend logs a b c ...). */
#define CLI_MAX_ARGS 64

/* One client command's invocation: its options, then the daemon found. */
struct cli {
  const char *config;    /* -c FILE */
  const char *url_opt;   /* --url */
  const char *token_opt; /* --token */
  int lines_set;         /* -n given */
  char *url;             /* base URL, no trailing slash */
  char *token;
  int json, follow, names, check;
  long daemon_pid; /* from daemon.json, when found there */
  long lines;      /* -n; -1 = everything */
  int tty;
  const char *args[CLI_MAX_ARGS];
  int nargs;
  /* tend logs: filters and decorations */
  const char *prefix;        /* the runner's name, when several are merged */
  int prefix_colour;         /* its colour index */
  int timestamps;            /* -t */
  const char *stream_filter; /* --stream */
  regex_t grep;              /* --grep */
  int has_grep;
  int64_t since_ms; /* --since: unix ms, 0 = no limit */
  json_t *collect;  /* collect_item's array */
  CURL *curl;
};

/* Prints "tend: message" to stderr (nothing while quiet). */
void cli_conn_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Silences cli_conn_say (on = 1) or lets it speak again (on = 0). */
void cli_conn_quiet(int on);

/* The state folder of a config file: the loaded config's, or the default
 * one beside it when the file cannot be loaded (new). */
char *cli_conn_state_dir(const char *file);
/* Fills c->url, c->token and c->daemon_pid from c's options, TEND_URL /
 * TEND_TOKEN or daemon.json. Returns CLI_OK, or an exit code after
 * printing why. */
int cli_conn_find(struct cli *c);
/* Looks for the daemon again before a reconnect (it may have restarted on
 * another port, with another token); keeps the old address when none is
 * found, or when it was given by --url / TEND_URL. */
void cli_conn_rediscover(struct cli *c);
/* Finds the daemon the way the client commands do: --url (url) or
 * TEND_URL, else <state_dir>/daemon.json of config (NULL: ./tend.json);
 * the token from token, TEND_TOKEN or <state_dir>/token. Returns CLI_OK
 * with *url_out (new, no trailing slash) and *token_out (new, or NULL), or
 * an exit code after printing why to stderr (then both are NULL). */
int cli_conn_connect(const char *config, const char *url, const char *token,
                     char **url_out, char **token_out);
/* Takes argv[*i] when it is a connection option: -c/--config FILE,
 * --url URL, --token TOKEN, or their --name=value forms. Returns 1 with
 * the value stored (and *i past a separate value), 0 when argv[*i] is not
 * one, -1 when its value is missing. */
int cli_conn_parse_opt(int argc, char **argv, int *i, const char **config,
                       const char **url, const char **token);

/* Makes a libcurl handle for base + path with the settings every client
 * request shares (no signals, 5 s connect timeout) and, when token is not
 * NULL, its Authorization header appended to *headers (set them on the
 * handle yourself once complete). Aborts when libcurl cannot. */
CURL *cli_conn_easy_new(const char *base, const char *path, const char *token,
                        struct curl_slist **headers);

/* Sets a request up on c->curl (reset first): URL, method, auth, a POST's
 * JSON body, and extra_header when not NULL. Returns the header list,
 * already set on the handle (caller frees it after the request). */
struct curl_slist *cli_conn_setup(struct cli *c, const char *method,
                                  const char *path, const char *body,
                                  const char *extra_header);
struct sse_parser;

/* A request on a multi handle, the part tend top and tend attach share:
 * embed it in the caller's own request and point CURLOPT_PRIVATE there. */
struct cli_conn_req {
  CURL *easy;
  struct curl_slist *headers; /* set on the handle by the caller */
  struct buf body;            /* the answer (a stream's only when refused) */
  struct sse_parser *parser;  /* a stream's events, fed while status is 200 */
  long status;                /* the HTTP status, once known */
  size_t max_body;            /* body bytes kept at most */
};

/* Makes r's handle for base + path (cli_conn_easy_new), its answer going
 * to r: a stream's bytes to r->parser, anything else to r->body (the first
 * max_body bytes or so). */
void cli_conn_req_init(struct cli_conn_req *r, const char *base,
                       const char *path, const char *token, size_t max_body);
/* Makes r a stream: text/event-stream with Last-Event-ID: last (none when
 * last < 0, so the stream starts now), and a dead peer detected after 45 s
 * without a byte (the daemon's heartbeats come every 15 s). */
void cli_conn_req_stream(struct cli_conn_req *r, int64_t last);
/* Removes r's handle from multi (when not NULL) and frees what r holds;
 * r itself is the caller's. */
void cli_conn_req_cleanup(struct cli_conn_req *r, CURLM *multi);

/* One request on c->curl. Returns CLI_OK with *out (new; NULL for a
 * non-JSON body), or CLI_REFUSED / CLI_UNREACHABLE after printing why.
 * With refused_out, a refusal is not printed: its HTTP status and body
 * (new) are returned there instead. */
int cli_conn_call_ex(struct cli *c, const char *method, const char *path,
                     const char *body, json_t **out, long *refused_out);
/* cli_conn_call_ex that prints refusals. */
int cli_conn_call(struct cli *c, const char *method, const char *path,
                  const char *body, json_t **out);
/* GETs path, ignoring the body: returns the HTTP status, or -1 when
 * unreachable (after printing why). */
long cli_conn_probe(struct cli *c, const char *path);
/* Prints the daemon's {"error"} (and "errors" lines) of a refusal. */
void cli_conn_print_refusal(long status, const char *body, size_t len);
/* Percent-encodes a name for a path (new string). */
char *cli_conn_escape(const char *name);

#endif
