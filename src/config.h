/* config: tend.json -> a validated spec tree, with every error as a struct
 * config_error (read as "file:line:col: path: message"); config_diff(old,
 * new) -> actions is in src/config_diff.h (included below).
 *
 * The spec tree is plain data (public structs): a loaded config is never
 * mutated; a reload builds a new one and diffs it against the old. Enums that
 * appear in JSON are X-macros whose name and parse functions are generated
 * (src/enumname.h), so the strings and values cannot drift. */
#ifndef TEND_CONFIG_H
#define TEND_CONFIG_H

#include <stddef.h>
#include <stdint.h>

struct strmap;

#define CONFIG_STRATEGY_MAP(X)                                                 \
  X(ONE_FOR_ONE, "one_for_one")                                                \
  X(ONE_FOR_ALL, "one_for_all")                                                \
  X(REST_FOR_ONE, "rest_for_one")

#define CONFIG_RESTART_MAP(X)                                                  \
  X(PERMANENT, "permanent")                                                    \
  X(TRANSIENT, "transient")                                                    \
  X(TEMPORARY, "temporary")

#define CONFIG_GIVE_UP_MAP(X)                                                  \
  X(STAY, "stay")                                                              \
  X(EXIT, "exit")

#define CONFIG_READY_MAP(X)                                                    \
  X(NONE, "none")                                                              \
  X(TCP, "tcp")                                                                \
  X(EXEC, "exec")                                                              \
  X(LOG, "log")                                                                \
  X(HTTP, "http")

/* What a liveness probe ("health") checks. */
#define CONFIG_PROBE_MAP(X)                                                    \
  X(NONE, "none")                                                              \
  X(HTTP, "http")                                                              \
  X(TCP, "tcp")                                                                \
  X(EXEC, "exec")

#define CONFIG_WATCH_ACTION_MAP(X)                                             \
  X(RESTART, "restart")                                                        \
  X(SIGNAL, "signal")                                                          \
  X(START, "start")

#define CONFIG_ON_BUSY_MAP(X)                                                  \
  X(QUEUE, "queue")                                                            \
  X(RESTART, "restart")                                                        \
  X(IGNORE, "ignore")

#define CONFIG_AFTER_ON_MAP(X)                                                 \
  X(SUCCESS, "success")                                                        \
  X(EXIT, "exit")

#define CONFIG__ENUM(PREFIX, NAME, STR) PREFIX##NAME,
enum config_strategy {
#define X(N, S) CONFIG__ENUM(CONFIG_STRATEGY_, N, S)
  CONFIG_STRATEGY_MAP(X)
#undef X
};
enum config_restart {
#define X(N, S) CONFIG__ENUM(CONFIG_RESTART_, N, S)
  CONFIG_RESTART_MAP(X)
#undef X
};
enum config_give_up {
#define X(N, S) CONFIG__ENUM(CONFIG_GIVE_UP_, N, S)
  CONFIG_GIVE_UP_MAP(X)
#undef X
};
enum config_ready {
#define X(N, S) CONFIG__ENUM(CONFIG_READY_, N, S)
  CONFIG_READY_MAP(X)
#undef X
};
enum config_probe {
#define X(N, S) CONFIG__ENUM(CONFIG_PROBE_, N, S)
  CONFIG_PROBE_MAP(X)
#undef X
};

enum config_watch_action {
#define X(N, S) CONFIG__ENUM(CONFIG_WATCH_, N, S)
  CONFIG_WATCH_ACTION_MAP(X)
#undef X
};
enum config_on_busy {
#define X(N, S) CONFIG__ENUM(CONFIG_ON_BUSY_, N, S)
  CONFIG_ON_BUSY_MAP(X)
#undef X
};
enum config_after_on {
#define X(N, S) CONFIG__ENUM(CONFIG_AFTER_, N, S)
  CONFIG_AFTER_ON_MAP(X)
#undef X
};

/* name() returns the JSON string; parse() returns 0 or -EINVAL. */
const char *config_strategy_name(enum config_strategy v);
int config_strategy_parse(const char *s, enum config_strategy *out);
const char *config_restart_name(enum config_restart v);
int config_restart_parse(const char *s, enum config_restart *out);
const char *config_give_up_name(enum config_give_up v);
int config_give_up_parse(const char *s, enum config_give_up *out);
const char *config_ready_name(enum config_ready v);
const char *config_probe_name(enum config_probe v);
const char *config_watch_action_name(enum config_watch_action v);
const char *config_on_busy_name(enum config_on_busy v);
int config_on_busy_parse(const char *s, enum config_on_busy *out);
const char *config_after_on_name(enum config_after_on v);
int config_after_on_parse(const char *s, enum config_after_on *out);

/* Signal names, with or without "SIG", in any case ("TERM", "SIGHUP",
 * "kill"): the number, or -EINVAL (numbers are not accepted). */
int config_signal_parse(const char *name);
/* Returns "TERM" for SIGTERM, etc.; "?" when unknown. */
const char *config_signal_name(int signo);

/* A runner's restart limit when nothing sets one (config.h, config_node):
 * more than 5 restarts within 10 s and it fails on its own. */
#define CONFIG_LIMIT_DEFAULT_MAX 5
#define CONFIG_LIMIT_DEFAULT_PERIOD_MS 10000

struct config_output {
  int64_t max_bytes; /* rotate the .jsonl at this size (default 64 MiB) */
  int keep;          /* rotated files kept (default 3) */
};

struct config_watch {
  int enabled;  /* 1 when the runner has a "watch" key */
  char **paths; /* absolute, resolved against the config's folder */
  size_t n_paths;
  char **include; /* globs, relative to each watched path */
  size_t n_include;
  char **exclude;
  size_t n_exclude;
  int gitignore;                   /* default 1 */
  int64_t debounce_ms;             /* default 150 */
  int64_t max_wait_ms;             /* default 2000 */
  enum config_watch_action action; /* default restart */
  int signal;                      /* for action signal ("signal:HUP") */
  int loop_max_restarts;           /* default 10; 0 = guard off */
  int64_t loop_period_ms;          /* default 60000 */
  int64_t loop_follow_ms; /* default 500: a change this soon after a start
                             is linked to the runner (the loop guard) */
  int postpone;           /* default 0; 1: not started until the first change */
};

/* HTTP statuses a probe accepts: the listed codes, or 200..399 when none
 * are listed. */
struct config_http_status {
  int *codes; /* NULL = the default range */
  size_t n_codes;
};

/* Returns 1 when status is accepted by st. */
int config_http_status_ok(const struct config_http_status *st, int status);

/* A liveness probe: after `failures` failed checks in a row the run is
 * ended as a crash ("unhealthy: ..."). */
struct config_health {
  enum config_probe kind; /* default none */
  char *url;              /* http: http:// or https:// URL */
  struct config_http_status status;
  int port;                 /* tcp */
  char **argv;              /* exec: NULL-terminated (string = sh -c) */
  int64_t every_ms;         /* default 10000 */
  int64_t timeout_ms;       /* default 2000 */
  int64_t initial_delay_ms; /* default 0 */
  int failures;             /* default 3 */
};

struct config_after {
  char *runner; /* NULL when unset */
  enum config_after_on on;
};

struct config_node {
  char *name;
  int is_group;
  struct config_node *parent; /* borrowed; NULL for the root */
  size_t index;               /* position among the parent's children */
  /* Canonical compact JSON of this node's own spec (for a group: without
   * "children"). Two nodes with equal spec_json are unchanged by a reload. */
  char *spec_json;

  /* group */
  struct config_node **children;
  size_t n_children;
  enum config_strategy strategy; /* default one_for_one */
  int max_restarts;              /* "intensity": -1 when the group has
                                    none (the default: it never gives up);
                                    5 when "intensity" omits it */
  int64_t period_ms;             /* default 10000 */

  /* any node: "restart_limit". On a group, as written (limit_set 1 when
   * the group has the key): its runners inherit it. On a runner, the
   * effective limit: its own key, else the nearest ancestor's, else none
   * when its parent group sets "intensity" (OTP semantics), else 5 per
   * 10 s. limit_max_restarts -1: no limit ("restart_limit": false). */
  int limit_set;
  int limit_max_restarts;
  int64_t limit_period_ms;
  /* any node: "env_file", absolute, NULL-terminated. On a group, its own
   * files; on a runner, every file that applies, the outermost group's
   * first and its own last (never NULL for a loaded runner). */
  char **env_files;

  /* runner */
  char **argv; /* NULL-terminated; for a string cmd: sh -c CMD */
  int shell;   /* 1 when cmd was a string */
  char *cwd;   /* absolute */
  char **env;  /* NULL-terminated "KEY=VALUE" overrides (never NULL
                  for a loaded runner) */
  enum config_restart restart; /* default permanent */
  int64_t backoff_initial_ms;  /* default 100 */
  int64_t backoff_max_ms;      /* default 30000 */
  int64_t backoff_reset_ms;    /* default 10000 */
  int stop_signal;             /* default SIGTERM */
  int64_t stop_timeout_ms;     /* default 5000 */
  enum config_ready ready;     /* default none */
  int ready_port;              /* tcp */
  char **ready_argv;           /* exec: NULL-terminated (string = sh -c) */
  char *ready_regex;           /* log: POSIX extended regex */
  char *ready_url;             /* http: http:// or https:// URL */
  struct config_http_status ready_status; /* http */
  int64_t ready_timeout_ms;               /* default 30000 */
  int autostart;                          /* default 1 */
  int *success_codes; /* default {0}; never empty once loaded */
  size_t n_success_codes;
  struct config_output output; /* inherits the root's */
  struct config_watch watch;
  struct config_after after;
  enum config_on_busy on_busy; /* default queue */
  int64_t max_memory;          /* bytes; 0 = no limit (default) */
  struct config_health health; /* liveness probe */
  int pty;                     /* "pty": run on a pseudo-terminal */
  int pty_cols, pty_rows;      /* its size (default 120 x 40) */
};

struct config_http {
  int enabled;      /* "listen": false disables */
  char *host;       /* default "127.0.0.1"; IPv6 without brackets ("::1") */
  int port;         /* default 7070; 0 = pick a free port */
  int allow_remote; /* required for a non-loopback host */
  int listen_set;   /* "listen" was given: its port or nothing; else the
                       first free port from 7070 up (ui/http.c) */
  char **hosts;     /* "hosts": more names the Host header may carry */
  size_t n_hosts;
  char *tls_cert; /* "tls": {"cert", "key"}: PEM files (absolute), */
  char *tls_key;  /* or NULL: plain HTTP */
};

/* One error (or `tend check` finding) of a load, the parts of the line
 * "file:line:col: [warning: ]path: message". */
struct config_error {
  char *file;    /* the file name as the user wrote it (an included file:
                    the include folder as written, then its name) */
  int line, col; /* 1-based; 0 when the file could not be read */
  char *path;    /* the JSON path ("children[1].cmd", "(root)"), from the
                    root of the merged tree; NULL for a syntax error */
  char *message;
  int warning; /* 1 for a `tend check` warning */
};

/* An array of errors; CONFIG_ERRORS_ZERO is the empty one. */
struct config_errors {
  struct config_error *v;
  size_t n;
};
#define CONFIG_ERRORS_ZERO                                                     \
  {                                                                            \
    NULL, 0                                                                    \
  }

/* Returns one error as its line, without a newline (new). */
char *config_error_format(const struct config_error *e);
/* Returns every error as its line, each ending in "\n" (new; "" when
 * there are none). */
char *config_errors_join(const struct config_errors *errs);
/* Appends one error (the strings are copied; path may be NULL). */
void config_errors_add(struct config_errors *errs, const char *file, int line,
                       int col, const char *path, const char *message);
/* Frees the errors and empties the array. NULL is a no-op. */
void config_errors_free(struct config_errors *errs);

struct config {
  char *file; /* absolute path of tend.json */
  char *dir;  /* its folder */
  char *
      state_dir; /* absolute; default <dir>/.tend (config_default_state_leaf) */
  char *include_dir; /* absolute conf.d folder, or NULL */
  enum config_give_up on_give_up;
  struct config_http http;
  struct config_output output;
  struct config_node *root; /* always a group */
  char hash[17]; /* hex of a 64-bit hash of the file's canonical JSON */
  /* What `tend check` adds to a valid file, from a look at the disk:
   * warnings (a command not found, a missing cwd or env_file: `warning`
   * set) and errors (an env_file with a syntax error; n_check_errors
   * counts them), sorted by file and position. The daemon does not refuse
   * a file for them: they are checked again at each start of the runner. */
  struct config_errors notes;
  int n_check_errors;
  struct strmap *by_name; /* private: name -> node (config_find) */
  /* Holders besides the first (config_ref adds one, config_unref drops
   * one): 0 for a config that only its loader holds. A running daemon's
   * supervisors, runners and probes each hold one on the config their
   * specs come from, so a config replaced by a reload lives exactly as
   * long as something still points into it. */
  int refs;
};

/* Loads and validates path. On success returns 0 and *out (new), and
 * leaves *errors empty. On failure returns -EINVAL (or -errno when path
 * cannot be read), *out NULL, and *errors (new: config_errors_free): every
 * error found, sorted by file and position (jansson's syntax errors have
 * no path; an unreadable file gives one error without a position). The
 * file name is path as given, so the lines read like a compiler's. errors
 * may be NULL. */
int config_load_list(const char *path, struct config **out,
                     struct config_errors *errors);
/* Same from a buffer; name is the file name used in messages and dir the
 * folder relative paths resolve against (NULL: the working directory). An
 * "include" folder is still read from disk. */
int config_load_buffer_list(const char *text, size_t len, const char *name,
                            const char *dir, struct config **out,
                            struct config_errors *errors);
/* The same two with the errors joined (config_errors_join) into *errors
 * (new, NULL on success): for callers that want the text. */
int config_load(const char *path, struct config **out, char **errors);
int config_load_buffer(const char *text, size_t len, const char *name,
                       const char *dir, struct config **out, char **errors);
/* Returns why a ready.log pattern is refused before regcomp (patterns
 * that make glibc's regcomp take exponential time), or NULL. Pure. */
const char *config_regex_unsafe(const char *re);
/* Returns the default state folder's name for a config file name (new):
 * ".tend" for tend.json, ".tend-NAME" for NAME.json or NAME, so that two
 * configs in one folder never share a state folder. Pure. */
char *config_default_state_leaf(const char *file_name);
/* Parses a memory size: a positive integer of bytes, or a string of a
 * number with an optional fraction and a unit K, M, G or T (powers of
 * 1024; "KB", "KiB", "MB", ... and lower case too): "200M", "1.5G",
 * "1048576". Returns 0 and *bytes, or -EINVAL. Pure. */
int config_parse_size(const char *s, int64_t *bytes);
/* Returns the first word of a shell command (new) when it is a plain
 * command name or path that sh would look up (no quotes, '$', '=' or other
 * shell syntax, not a builtin or keyword), else NULL. Pure. */
char *config_shell_command_word(const char *cmd);
/* The longest node name. */
#define CONFIG_NAME_MAX 128
/* The one name rule, shared by the config and the API (ui/routes.c): a
 * name is 1..CONFIG_NAME_MAX characters of [A-Za-z0-9_.-], is not "."
 * and holds no "..", so it is one plain path segment that the API's path
 * check accepts and that no file name built from it can escape. Returns
 * why s breaks the rule (a static string), or NULL. Pure. */
const char *config_name_problem(const char *s);
/* Frees a config and its whole tree. NULL is a no-op. Only for a config
 * nobody shares: one that config_ref gave out is let go with config_unref
 * (config_free of a shared config aborts). */
void config_free(struct config *cfg);
/* Takes one more reference to cfg (NULL is a no-op); returns cfg. The
 * count is the one field of a loaded config that changes. */
const struct config *config_ref(const struct config *cfg);
/* Drops one reference; the last one frees the config. NULL is a no-op. */
void config_unref(const struct config *cfg);

/* Returns the node called name (borrowed), or NULL. */
struct config_node *config_find(const struct config *cfg, const char *name);
/* Returns 1 when status counts as a normal exit for node. */
int config_success_code(const struct config_node *node, int status);

/* The reload's diff (config_diff, config_change_kind_name,
 * config_fixed_change, config_http_change) lives in src/config_diff.h;
 * it is included here so that the callers of config.h keep building. */
#include "src/config_diff.h"

#endif
