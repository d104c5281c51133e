/* config_runner: a runner's own keys (src/config_runner.h): the command,
 * cwd, env, restart type, backoff, stop, readiness and liveness probes,
 * success codes, watch, after, on_busy, max_memory, pty; and `tend
 * check`'s look at the disk (commands that will not be found, missing
 * folders and env files).
 *
 * Called by src/config_tree.c for every runner, after the keys any node
 * may have were checked; reports through the loader's state
 * (src/config_ld.h). The key tables below are read by
 * tests/schema/configsrc.py, which compares them with the docs. */
#include "src/config_runner.h"

#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <regex.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "runners/cmdpath.h"
#include "runners/dotenv.h"
#include "runners/pty.h"
#include "src/config_pos.h"
#include "src/config_tree.h"
#include "src/enumname.h"
#include "src/xalloc.h"
#include "watchers/glob.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))
/* The names of an X-macro enum and how many, for config__get_choice. */
#define CHOICES(MAP)                                                           \
  ENUMNAME_LIST(MAP, ENUMNAME_PICK2), ENUMNAME_COUNT(MAP, ENUMNAME_PICK2)

static const char *const backoff_keys[] = {"initial_ms", "max_ms",
                                           "reset_after_s"};
static const char *const stop_keys[] = {"signal", "timeout_ms"};
static const char *const ready_keys[] = {"tcp",  "exec",   "log",
                                         "http", "status", "timeout_s"};
static const char *const health_keys[] = {"http",
                                          "tcp",
                                          "exec",
                                          "status",
                                          "every_s",
                                          "timeout_s",
                                          "initial_delay_s",
                                          "failures"};
static const char *const watch_keys[] = {
    "paths",       "include", "exclude",    "gitignore", "debounce_ms",
    "max_wait_ms", "action",  "loop_limit", "postpone"};
static const char *const loop_keys[] = {"max_restarts", "period_s",
                                        "follow_ms"};
static const char *const after_keys[] = {"runner", "on"};
static const char *const pty_keys[] = {"cols", "rows"};

/* Sets a runner's effective restart limit (config.h, "restart_limit"):
 * its own, the nearest ancestor's, none under a group with intensity,
 * else the default. */
static void
ld_resolve_limit(struct config_node *n)
{
  if (n->limit_set)
    return;
  for (const struct config_node *g = n->parent; g; g = g->parent) {
    if (g->limit_set) {
      n->limit_max_restarts = g->limit_max_restarts;
      n->limit_period_ms = g->limit_period_ms;
      return;
    }
  }
  if (n->parent && n->parent->max_restarts >= 0) {
    n->limit_max_restarts = -1; /* the group's intensity governs */
    return;
  }
  n->limit_max_restarts = CONFIG_LIMIT_DEFAULT_MAX;
  n->limit_period_ms = CONFIG_LIMIT_DEFAULT_PERIOD_MS;
}

/* Reads a command: an array of strings (argv) or a string run by /bin/sh -c.
 * Returns 1 when set and valid. */
static int
ld_argv(struct config__ld *ld, json_t *obj, const char *key, char ***argv,
        int *shell)
{
  json_t *v = json_object_get(obj, key);
  if (!v)
    return 0;
  if (json_is_string(v)) {
    const char *s = json_string_value(v);
    if (s[strspn(s, " \t\r\n")] == '\0') {
      config__err_key(ld, key, 0, "expected a non-empty command");
      return -1;
    }
    char **a = xcalloc(4, sizeof *a);
    a[0] = xstrdup("/bin/sh");
    a[1] = xstrdup("-c");
    a[2] = xstrdup(s);
    config__strv_free(*argv);
    *argv = a;
    if (shell)
      *shell = 1;
    return 1;
  }
  if (!json_is_array(v) || json_array_size(v) == 0) {
    config__err_key(
        ld, key, 0,
        "expected a non-empty string or a non-empty array of strings");
    return -1;
  }
  size_t n = json_array_size(v);
  int bad = 0;
  for (size_t i = 0; i < n; i++) {
    json_t *e = json_array_get(v, i);
    if (!json_is_string(e)) {
      config__err_idx(ld, key, i, "expected a string");
      bad = 1;
    } else if (i == 0 && json_string_length(e) == 0) {
      config__err_idx(ld, key, i, "expected a non-empty program name");
      bad = 1;
    }
  }
  if (bad)
    return -1;
  char **a = xcalloc(n + 1, sizeof *a);
  for (size_t i = 0; i < n; i++)
    a[i] = xstrdup(json_string_value(json_array_get(v, i)));
  config__strv_free(*argv);
  *argv = a;
  if (shell)
    *shell = 0;
  return 1;
}

/* Reads "env": an object of string values, stored as "K=V". */
static void
ld_env(struct config__ld *ld, json_t *obj, struct config_node *n)
{
  json_t *o, *v;
  const char *key;
  if (config__get_object(ld, obj, "env", &o) <= 0)
    return;
  char **env = xcalloc(json_object_size(o) + 1, sizeof *env);
  size_t k = 0;
  config__push(ld, "env", 0);
  json_object_foreach(o, key, v)
  {
    if (config__is_comment_key(key))
      continue;
    if (key[0] == '\0' || strchr(key, '=')) {
      config__err_key(ld, key, 1, "invalid variable name %s",
                      config__q(ld, key));
    } else if (json_is_string(v)) {
      env[k++] = xasprintf("%s=%s", key, json_string_value(v));
    } else if (json_is_integer(v)) {
      config__err_key(ld, key, 0,
                      "expected a string (write \"%" JSON_INTEGER_FORMAT "\")",
                      json_integer_value(v));
    } else if (json_is_boolean(v)) {
      config__err_key(ld, key, 0, "expected a string (write \"%s\")",
                      json_is_true(v) ? "true" : "false");
    } else {
      config__err_key(ld, key, 0, "expected a string");
    }
  }
  config__pop(ld);
  n->env = env;
}

/* Reads "backoff". */
static void
ld_backoff(struct config__ld *ld, json_t *obj, struct config_node *n)
{
  json_t *o;
  if (config__get_object(ld, obj, "backoff", &o) <= 0)
    return;
  config__push(ld, "backoff", 0);
  config__check_keys(ld, o, backoff_keys, COUNT(backoff_keys));
  int has_init = config__get_int(ld, o, "initial_ms", 0, CONFIG__MS_MAX,
                                 &n->backoff_initial_ms) > 0;
  int64_t max;
  int rc = config__get_int(ld, o, "max_ms", 0, CONFIG__MS_MAX, &max);
  if (rc > 0 && has_init && max < n->backoff_initial_ms)
    config__err_key(ld, "max_ms", 0,
                    "expected an integer >= initial_ms (%" PRId64 ")",
                    n->backoff_initial_ms);
  else if (rc > 0 && !has_init && max < n->backoff_initial_ms)
    n->backoff_initial_ms = max; /* a small cap lowers the default start */
  if (rc > 0)
    n->backoff_max_ms = max;
  else if (rc == 0 && n->backoff_initial_ms > n->backoff_max_ms)
    n->backoff_max_ms = n->backoff_initial_ms;
  config__get_seconds(ld, o, "reset_after_s", 1, &n->backoff_reset_ms);
  config__pop(ld);
}

/* Reads "stop". */
static void
ld_stop(struct config__ld *ld, json_t *obj, struct config_node *n)
{
  json_t *o, *v;
  if (config__get_object(ld, obj, "stop", &o) <= 0)
    return;
  config__push(ld, "stop", 0);
  config__check_keys(ld, o, stop_keys, COUNT(stop_keys));
  if ((v = json_object_get(o, "signal"))) {
    int sig =
        json_is_string(v) ? config_signal_parse(json_string_value(v)) : -EINVAL;
    if (!json_is_string(v))
      config__err_key(ld, "signal", 0,
                      "expected a signal name such as \"TERM\"");
    else if (sig < 0)
      config__err_key(ld, "signal", 0,
                      "unknown signal %s (expected a name such as TERM, INT, "
                      "HUP, QUIT, KILL, USR1 or USR2)",
                      config__q(ld, json_string_value(v)));
    else
      n->stop_signal = sig;
  }
  config__get_int(ld, o, "timeout_ms", 0, CONFIG__MS_MAX, &n->stop_timeout_ms);
  config__pop(ld);
}

/* Reads a probe's "url": an absolute http:// or https:// URL with a host
 * (parsed by libcurl, which makes the request). Returns 1 when valid. */
static int
ld_url(struct config__ld *ld, json_t *obj, const char *key, char **out)
{
  const char *url;
  CURLU *u;
  CURLUcode rc;
  char *host = NULL;
  int ok = 0;

  if (config__get_string(ld, obj, key, 1, &url) <= 0)
    return -1;
  if (strncasecmp(url, "http://", 7) != 0 &&
      strncasecmp(url, "https://", 8) != 0) {
    config__err_key(ld, key, 0, "expected an http:// or https:// URL, not %s",
                    config__q(ld, url));
    return -1;
  }
  u = curl_url();
  if (!u)
    abort();
  rc = curl_url_set(u, CURLUPART_URL, url, 0);
  if (rc != CURLUE_OK) {
    config__err_key(ld, key, 0, "invalid URL %s: %s", config__q(ld, url),
                    curl_url_strerror(rc));
  } else if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
             !host[0]) {
    config__err_key(ld, key, 0, "expected a URL with a host, not %s",
                    config__q(ld, url));
  } else {
    free(*out);
    *out = xstrdup(url);
    ok = 1;
  }
  curl_free(host);
  curl_url_cleanup(u);
  return ok ? 1 : -1;
}

/* Reads a probe's "status": an HTTP status or a non-empty array of them,
 * each 100..599. Only valid next to "http". */
static void
ld_http_status(struct config__ld *ld, json_t *obj, int is_http,
               struct config_http_status *st)
{
  json_t *v = json_object_get(obj, "status");
  size_t n;

  if (!v)
    return;
  if (!is_http) {
    config__err_key(ld, "status", 1,
                    "\"status\" applies to an \"http\" probe "
                    "only");
    return;
  }
  if (json_is_integer(v)) {
    if (json_integer_value(v) < 100 || json_integer_value(v) > 599) {
      config__err_key(ld, "status", 0,
                      "expected an HTTP status between 100 and "
                      "599");
      return;
    }
    st->codes = xcalloc(1, sizeof *st->codes);
    st->codes[0] = (int)json_integer_value(v);
    st->n_codes = 1;
    return;
  }
  if (!json_is_array(v) || json_array_size(v) == 0) {
    config__err_key(ld, "status", 0,
                    "expected an HTTP status or a non-empty "
                    "array of them");
    return;
  }
  n = json_array_size(v);
  st->codes = xcalloc(n, sizeof *st->codes);
  for (size_t i = 0; i < n; i++) {
    json_t *e = json_array_get(v, i);
    if (!json_is_integer(e) || json_integer_value(e) < 100 ||
        json_integer_value(e) > 599) {
      config__err_idx(ld, "status", i,
                      "expected an HTTP status between 100 and "
                      "599");
      continue;
    }
    st->codes[st->n_codes++] = (int)json_integer_value(e);
  }
}

/* Reads "ready": exactly one probe among tcp, exec, log and http. */
static void
ld_ready(struct config__ld *ld, json_t *obj, struct config_node *n)
{
  json_t *o;
  if (config__get_object(ld, obj, "ready", &o) <= 0)
    return;
  config__push(ld, "ready", 0);
  config__check_keys(ld, o, ready_keys, COUNT(ready_keys));
  const char *first = NULL;
  const char *key;
  json_t *v;
  json_object_foreach(o, key, v)
  {
    if (strcmp(key, "tcp") && strcmp(key, "exec") && strcmp(key, "log") &&
        strcmp(key, "http"))
      continue;
    if (first) {
      config__err_key(
          ld, key, 1,
          "only one of \"tcp\", \"exec\", \"log\" or \"http\" may be "
          "set (\"%s\" is already)",
          first);
      continue;
    }
    first = key;
    if (strcmp(key, "tcp") == 0) {
      int64_t port;
      if (config__get_int(ld, o, "tcp", 1, 65535, &port) > 0) {
        n->ready = CONFIG_READY_TCP;
        n->ready_port = (int)port;
      }
    } else if (strcmp(key, "exec") == 0) {
      if (ld_argv(ld, o, "exec", &n->ready_argv, NULL) > 0)
        n->ready = CONFIG_READY_EXEC;
    } else if (strcmp(key, "http") == 0) {
      if (ld_url(ld, o, "http", &n->ready_url) > 0)
        n->ready = CONFIG_READY_HTTP;
    } else {
      const char *re;
      if (config__get_string(ld, o, "log", 1, &re) > 0) {
        regex_t rx;
        const char *why = config_regex_unsafe(re);
        int rc = why ? 0 : regcomp(&rx, re, REG_EXTENDED | REG_NOSUB);
        if (why) {
          config__err_key(ld, "log", 0, "regular expression rejected: %s", why);
        } else if (rc != 0) {
          char msg[256];
          regerror(rc, &rx, msg, sizeof msg);
          config__err_key(ld, "log", 0, "invalid regular expression: %s", msg);
        } else {
          regfree(&rx);
          n->ready = CONFIG_READY_LOG;
          n->ready_regex = xstrdup(re);
        }
      }
    }
  }
  if (!first)
    config__err(
        ld, 0,
        "expected exactly one of \"tcp\", \"exec\", \"log\" or \"http\"");
  ld_http_status(ld, o, first && !strcmp(first, "http"), &n->ready_status);
  config__get_seconds(ld, o, "timeout_s", 0, &n->ready_timeout_ms);
  config__pop(ld);
}

/* Reads "health": a liveness probe, exactly one of http, tcp and exec,
 * with its schedule. */
static void
ld_health(struct config__ld *ld, json_t *obj, struct config_node *n)
{
  struct config_health *h = &n->health;
  const char *first = NULL, *key;
  json_t *o, *v;
  int64_t num;

  if (config__get_object(ld, obj, "health", &o) <= 0)
    return;
  config__push(ld, "health", 0);
  config__check_keys(ld, o, health_keys, COUNT(health_keys));
  json_object_foreach(o, key, v)
  {
    if (strcmp(key, "tcp") && strcmp(key, "exec") && strcmp(key, "http"))
      continue;
    if (first) {
      config__err_key(ld, key, 1,
                      "only one of \"http\", \"tcp\" or \"exec\" may be set "
                      "(\"%s\" is already)",
                      first);
      continue;
    }
    first = key;
    if (strcmp(key, "tcp") == 0) {
      if (config__get_int(ld, o, "tcp", 1, 65535, &num) > 0) {
        h->kind = CONFIG_PROBE_TCP;
        h->port = (int)num;
      }
    } else if (strcmp(key, "exec") == 0) {
      if (ld_argv(ld, o, "exec", &h->argv, NULL) > 0)
        h->kind = CONFIG_PROBE_EXEC;
    } else if (ld_url(ld, o, "http", &h->url) > 0) {
      h->kind = CONFIG_PROBE_HTTP;
    }
  }
  if (!first)
    config__err(ld, 0, "expected exactly one of \"http\", \"tcp\" or \"exec\"");
  ld_http_status(ld, o, first && !strcmp(first, "http"), &h->status);
  config__get_seconds(ld, o, "every_s", 0, &h->every_ms);
  config__get_seconds(ld, o, "timeout_s", 0, &h->timeout_ms);
  config__get_seconds(ld, o, "initial_delay_s", 1, &h->initial_delay_ms);
  if (config__get_int(ld, o, "failures", 1, 1000000, &num) > 0)
    h->failures = (int)num;
  config__pop(ld);
}

/* Reads "success_codes": a non-empty array of exit statuses. */
static void
ld_success_codes(struct config__ld *ld, json_t *obj, struct config_node *n)
{
  json_t *v = json_object_get(obj, "success_codes");
  if (!v)
    return;
  if (!json_is_array(v) || json_array_size(v) == 0) {
    config__err_key(ld, "success_codes", 0,
                    "expected a non-empty array of integers between 0 and 255");
    return;
  }
  size_t len = json_array_size(v), k = 0;
  int *codes = xcalloc(len, sizeof *codes);
  for (size_t i = 0; i < len; i++) {
    json_t *e = json_array_get(v, i);
    if (!json_is_integer(e) || json_integer_value(e) < 0 ||
        json_integer_value(e) > 255)
      config__err_idx(ld, "success_codes", i,
                      "expected an integer between 0 and 255");
    else
      codes[k++] = (int)json_integer_value(e);
  }
  free(n->success_codes);
  n->success_codes = codes;
  n->n_success_codes = k;
}

/* Reports each string of obj[key] that glob_check rejects, so a pattern
 * that would silently match literally is caught at load time. */
static void
check_globs(struct config__ld *ld, json_t *obj, const char *key)
{
  json_t *v = json_object_get(obj, key);
  for (size_t i = 0; json_is_array(v) && i < json_array_size(v); i++) {
    json_t *e = json_array_get(v, i);
    char *cause = NULL;
    if (!json_is_string(e) || glob_check(json_string_value(e), &cause) == 0)
      continue;
    /* The cause quotes the raw pattern ("glob \"p\": why"); quote it our
     * way so that no byte of it can break the one-error-per-line format. */
    const char *p = json_string_value(e);
    size_t pl = strlen(p);
    const char *why = "bad syntax";
    if (cause && strncmp(cause, "glob \"", 6) == 0 &&
        strncmp(cause + 6, p, pl) == 0 &&
        strncmp(cause + 6 + pl, "\": ", 3) == 0)
      why = cause + 6 + pl + 3;
    config__err_idx(ld, key, i, "invalid glob %s: %s", config__q(ld, p), why);
    free(cause);
  }
}

/* Reads "watch". */
static void
ld_watch(struct config__ld *ld, json_t *obj, struct config_node *n)
{
  struct config_watch *w = &n->watch;
  json_t *o, *lo;
  const char *s;
  if (config__get_object(ld, obj, "watch", &o) <= 0)
    return;
  config__push(ld, "watch", 0);
  config__check_keys(ld, o, watch_keys, COUNT(watch_keys));
  w->enabled = 1;
  if (config__get_strings(ld, o, "paths", 1, 1, &w->paths, &w->n_paths) == 0)
    config__err(ld, 0, "missing required key \"paths\"");
  config__get_strings(ld, o, "include", 0, 0, &w->include, &w->n_include);
  config__get_strings(ld, o, "exclude", 0, 0, &w->exclude, &w->n_exclude);
  check_globs(ld, o, "include");
  check_globs(ld, o, "exclude");
  config__get_bool(ld, o, "gitignore", &w->gitignore);
  config__get_int(ld, o, "debounce_ms", 0, CONFIG__MS_MAX, &w->debounce_ms);
  config__get_int(ld, o, "max_wait_ms", 0, CONFIG__MS_MAX, &w->max_wait_ms);
  if (config__get_string(ld, o, "action", 0, &s) > 0) {
    int sig;
    if (strcmp(s, "restart") == 0) {
      w->action = CONFIG_WATCH_RESTART;
    } else if (strcmp(s, "start") == 0) {
      w->action = CONFIG_WATCH_START;
    } else if (strncmp(s, "signal:", 7) == 0 &&
               (sig = config_signal_parse(s + 7)) > 0) {
      w->action = CONFIG_WATCH_SIGNAL;
      w->signal = sig;
    } else if (strncmp(s, "signal:", 7) == 0) {
      config__err_key(ld, "action", 0, "unknown signal %s",
                      config__q(ld, s + 7));
    } else {
      config__err_key(ld, "action", 0,
                      "expected \"restart\", \"start\" or \"signal:<NAME>\" "
                      "(e.g. \"signal:HUP\")");
    }
  }
  if (config__get_object(ld, o, "loop_limit", &lo) > 0) {
    int64_t max;
    config__push(ld, "loop_limit", 0);
    config__check_keys(ld, lo, loop_keys, COUNT(loop_keys));
    if (config__get_int(ld, lo, "max_restarts", 0, INT_MAX, &max) > 0)
      w->loop_max_restarts = (int)max;
    config__get_seconds(ld, lo, "period_s", 0, &w->loop_period_ms);
    config__get_int(ld, lo, "follow_ms", 0, CONFIG__MS_MAX, &w->loop_follow_ms);
    config__pop(ld);
  }
  /* postpone: the runner waits for the first change, so it is not started
   * with its group (the same as autostart false, which it implies). */
  if (config__get_bool(ld, o, "postpone", &w->postpone) > 0 && w->postpone) {
    json_t *as = json_object_get(obj, "autostart");
    if (json_is_true(as))
      config__err_key(ld, "postpone", 0,
                      "contradicts \"autostart\": true (a postponed runner "
                      "starts on the first change)");
    else if (w->action == CONFIG_WATCH_SIGNAL)
      config__err_key(ld, "postpone", 0,
                      "needs the action \"restart\" or \"start\" (a signal "
                      "cannot start a runner)");
    n->autostart = 0;
  }
  config__pop(ld);
}

/* Reads "after"; the runner it names is checked once the tree is known. */
static void
ld_after(struct config__ld *ld, json_t *obj, struct config_node *n)
{
  json_t *o;
  const char *s;
  int choice;
  if (config__get_object(ld, obj, "after", &o) <= 0)
    return;
  config__push(ld, "after", 0);
  config__check_keys(ld, o, after_keys, COUNT(after_keys));
  int rc = config__get_string(ld, o, "runner", 1, &s);
  if (rc == 0)
    config__err(ld, 0, "missing required key \"runner\"");
  if (rc > 0) {
    n->after.runner = xstrdup(s);
    config__push(ld, "runner", 0);
    ld->afters = xgrow(ld->afters, &ld->cap_afters, ld->n_afters + 1,
                       sizeof *ld->afters);
    struct config__after *a = &ld->afters[ld->n_afters++];
    a->node = n;
    a->src = ld->cur;
    a->segs = config__path_copy(ld);
    a->n = ld->depth;
    config__pop(ld);
  }
  if (config__get_choice(ld, o, "on", CHOICES(CONFIG_AFTER_ON_MAP), &choice) >
      0)
    n->after.on = (enum config_after_on)choice;
  config__pop(ld);
}

/* Reads "max_memory": bytes, or a string such as "200M". */
static void
ld_max_memory(struct config__ld *ld, json_t *obj, struct config_node *n)
{
  json_t *v = json_object_get(obj, "max_memory");
  int64_t bytes = 0;
  int ok;

  if (!v)
    return;
  if (json_is_integer(v))
    ok = json_integer_value(v) > 0 &&
         (bytes = (int64_t)json_integer_value(v)) > 0;
  else
    ok = json_is_string(v) &&
         config_parse_size(json_string_value(v), &bytes) == 0;
  if (!ok) {
    config__err_key(ld, "max_memory", 0,
                    "expected a size such as \"200M\", \"1.5G\" or a number "
                    "of bytes > 0");
    return;
  }
  n->max_memory = bytes;
}

/* Reads "pty": true or false, or {"cols": N, "rows": N} (a pty of that
 * size; a missing one keeps its default). */
static void
ld_pty(struct config__ld *ld, json_t *obj, struct config_node *n)
{
  json_t *v = json_object_get(obj, "pty");
  int64_t dim;

  n->pty_cols = 120;
  n->pty_rows = 40;
  if (!v)
    return;
  if (json_is_boolean(v)) {
    n->pty = json_is_true(v);
    return;
  }
  if (!json_is_object(v)) {
    config__err_key(ld, "pty", 0,
                    "expected true, false or {\"cols\": 120, \"rows\": 40}");
    return;
  }
  n->pty = 1;
  config__push(ld, "pty", 0);
  config__check_keys(ld, v, pty_keys, COUNT(pty_keys));
  if (config__get_int(ld, v, "cols", 1, 1000, &dim) > 0)
    n->pty_cols = (int)dim;
  if (config__get_int(ld, v, "rows", 1, 1000, &dim) > 0)
    n->pty_rows = (int)dim;
  config__pop(ld);
}

/* Returns the value of PATH the runner's child will search: its own env's,
 * else tend's (borrowed). */
static const char *
runner_path_env(const struct config_node *n)
{
  for (char **e = n->env; e && *e; e++)
    if (strncmp(*e, "PATH=", 5) == 0)
      return *e + 5;
  return getenv("PATH");
}

/* `tend check`'s look at the disk: a command that will not be found, a
 * cwd or an env_file that does not exist, an env_file that does not
 * parse. Nothing here makes the file invalid for the daemon. */
static void
ld_check_disk(struct config__ld *ld, json_t *obj, struct config_node *n)
{
  json_t *cmd = json_object_get(obj, "cmd");
  json_t *cwd = json_object_get(obj, "cwd");
  struct stat st;
  int cwd_ok = stat(n->cwd, &st) == 0 && S_ISDIR(st.st_mode);

  if (json_is_string(cwd) && !cwd_ok)
    config__note(ld, "cwd", -1, 0, "cwd %s does not exist",
                 config__q(ld, n->cwd));
  if (n->argv && n->argv[0] && cwd_ok) {
    char *word = NULL;
    const char *file = NULL;
    long idx = -1;
    if (n->shell && json_is_string(cmd)) {
      word = config_shell_command_word(json_string_value(cmd));
      file = word;
    } else if (json_is_array(cmd)) {
      file = n->argv[0];
      idx = 0;
    }
    if (file) {
      int rc = cmdpath_find(file, runner_path_env(n), n->cwd, NULL);
      if (rc < 0) {
        char *why = cmdpath_describe(file, rc);
        config__note(ld, "cmd", idx, 0, "%s", why);
        free(why);
      }
    }
    free(word);
  }
  if (n->pty && !pty_setsid_path())
    config__note(ld, "pty", -1, 0,
                 "setsid(1) from util-linux is not installed: a runner with "
                 "\"pty\" cannot start");
  for (size_t i = 0; n->env_files && n->env_files[i]; i++) {
    char **vars = NULL, *cause = NULL;
    json_t *ef = json_object_get(obj, "env_file");
    int rc = dotenv_load(n->env_files[i], &vars, &cause);
    dotenv_free(vars);
    if (rc < 0) {
      /* Point at the runner's own env_file when it has one, else at
       * its name (the file came from a group). */
      if (ef)
        config__note(ld, "env_file", -1, rc == -EINVAL, "env_file %s", cause);
      else
        config__note(ld, "name", -1, rc == -EINVAL, "env_file (inherited) %s",
                     cause);
    }
    free(cause);
  }
}

/* Reads the keys of a runner. */
void
config__runner_read(struct config__ld *ld, json_t *obj, struct config_node *n)
{
  const char *s;
  int choice;
  n->output = ld->cfg->output;
  n->cwd = xstrdup(ld->cfg->dir);
  ld_argv(ld, obj, "cmd", &n->argv, &n->shell);
  if (config__get_string(ld, obj, "cwd", 1, &s) > 0) {
    free(n->cwd);
    n->cwd = config__path_resolve(ld->cfg->dir, s);
  }
  ld_env(ld, obj, n);
  if (!n->env)
    n->env = xcalloc(1, sizeof *n->env);
  if (config__get_choice(ld, obj, "restart", CHOICES(CONFIG_RESTART_MAP),
                         &choice) > 0)
    n->restart = (enum config_restart)choice;
  ld_backoff(ld, obj, n);
  ld_stop(ld, obj, n);
  ld_ready(ld, obj, n);
  ld_health(ld, obj, n);
  config__get_bool(ld, obj, "autostart", &n->autostart);
  ld_success_codes(ld, obj, n);
  config__tree_output(ld, obj, &n->output);
  ld_watch(ld, obj, n);
  ld_after(ld, obj, n);
  if (config__get_choice(ld, obj, "on_busy", CHOICES(CONFIG_ON_BUSY_MAP),
                         &choice) > 0)
    n->on_busy = (enum config_on_busy)choice;
  config__tree_restart_limit(ld, obj, n);
  ld_resolve_limit(n);
  config__tree_env_files(ld, obj, n);
  ld_max_memory(ld, obj, n);
  ld_pty(ld, obj, n);
  ld_check_disk(ld, obj, n);
}
