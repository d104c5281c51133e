/* config: tend.json -> a validated spec tree (src/config.h).
 *
 * Design. Loading is three steps. jansson parses the text (duplicate keys
 * rejected). A validator then walks the whole document once, building the
 * spec tree and collecting every error instead of stopping at the first;
 * each error is mapped back to file:line:col from its JSON path. The
 * errors are handed out as an array, sorted by file and position, so the
 * user reads them in document order.
 *
 * The work is split by seam:
 *   src/config.c         the API: load (this file drives it), free, find,
 *                        errors, enum and signal names, pure value checks
 *   src/config_ld.c      the loader's state: path stack, errors, getters
 *   src/config_tree.c    the tree: node kinds, names, root, groups,
 *                        includes, "after"
 *   src/config_runner.c  a runner's keys and `tend check`'s disk look
 *   src/config_pos.c     JSON path -> line:col in the raw text (pure)
 *   src/config_diff.c    old tree vs new tree -> reload actions (pure)
 *
 * Ownership: a struct config owns every string and node below it; a node's
 * parent pointer is borrowed. */
#include "src/config.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "src/config_ld.h"
#include "src/config_pos.h"
#include "src/config_tree.h"
#include "src/enumname.h"
#include "src/strmap.h"
#include "src/xalloc.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* glibc's regcomp is exponential in some patterns (fuzzing found adjacent
 * repetition operators and nested counted repetitions); a config, or a
 * reload, must never stall the daemon, so such patterns are refused
 * before regcomp sees them. */
#define REGEX_MAX_LEN 512
#define REGEX_MAX_COPIES 1000

const char *
config_regex_unsafe(const char *re)
{
  /* most[d]: the largest number of copies a counted repetition ({m,n})
   * makes of any piece inside the group open at depth d (nested counted
   * repetitions multiply). */
  long most[64];
  long closed = 1; /* most[] of the group that just closed */
  int depth = 0, after_quant = 0;
  size_t len = strlen(re);

  if (len > REGEX_MAX_LEN)
    return "longer than 512 characters";
  most[0] = 1;
  for (size_t i = 0; i < len; i++) {
    char c = re[i];
    int quant = c == '*' || c == '+' || c == '?' || c == '{';

    if (quant && after_quant)
      return "adjacent repetition operators (e.g. a++ or a*{2})";
    after_quant = quant;
    if (c == '\\' && i + 1 < len) {
      i++;
      closed = 1;
    } else if (c == '[') { /* a bracket expression: skip to its end */
      size_t j = i + 1;
      if (j < len && (re[j] == '^' || re[j] == '!'))
        j++;
      if (j < len && re[j] == ']')
        j++;
      while (j < len && re[j] != ']')
        j++;
      i = j;
      closed = 1;
    } else if (c == '{') {
      const char *close = strchr(re + i, '}');
      const char *comma = strchr(re + i, ',');
      long lo = strtol(re + i + 1, NULL, 10), hi = lo, copies;
      if (!close)
        return NULL; /* malformed: regcomp says so */
      if (comma && comma < close)
        hi = comma + 1 == close ? lo : strtol(comma + 1, NULL, 10);
      if (lo > 255 || hi > 255)
        return "a counted repetition over 255";
      copies = (i > 0 && re[i - 1] == ')' ? closed : 1) * (hi > 1 ? hi : 1);
      if (copies > REGEX_MAX_COPIES)
        return "nested counted repetitions expand too far";
      if (copies > most[depth])
        most[depth] = copies;
      i = (size_t)(close - re);
    } else if (c == '(') {
      if (depth + 1 >= (int)(sizeof most / sizeof *most))
        return "groups nested too deep";
      most[++depth] = 1;
    } else if (c == ')' && depth > 0) {
      closed = most[depth--];
      if (closed > most[depth])
        most[depth] = closed;
    } else if (!quant) {
      closed = 1;
    }
  }
  return NULL;
}

/* The listed codes, or 200..399 when none are listed. */
int
config_http_status_ok(const struct config_http_status *st, int status)
{
  if (!st || st->n_codes == 0)
    return status >= 200 && status <= 399;
  for (size_t i = 0; i < st->n_codes; i++)
    if (st->codes[i] == status)
      return 1;
  return 0;
}

/* ------------------------------------------------------------------------ */
/* Enum names (generated from the X-macros of config.h) and signals          */
/* ------------------------------------------------------------------------ */

ENUMNAME_DEFINE(config_strategy, enum config_strategy, CONFIG_STRATEGY_MAP,
                ENUMNAME_PICK2, "?")
ENUMNAME_DEFINE(config_restart, enum config_restart, CONFIG_RESTART_MAP,
                ENUMNAME_PICK2, "?")
ENUMNAME_DEFINE(config_give_up, enum config_give_up, CONFIG_GIVE_UP_MAP,
                ENUMNAME_PICK2, "?")
ENUMNAME_NAME_FN(config_ready, enum config_ready, CONFIG_READY_MAP,
                 ENUMNAME_PICK2, "?")
ENUMNAME_NAME_FN(config_probe, enum config_probe, CONFIG_PROBE_MAP,
                 ENUMNAME_PICK2, "?")
/* A watch action's name is "signal" without the signal. */
ENUMNAME_NAME_FN(config_watch_action, enum config_watch_action,
                 CONFIG_WATCH_ACTION_MAP, ENUMNAME_PICK2, "?")
ENUMNAME_DEFINE(config_on_busy, enum config_on_busy, CONFIG_ON_BUSY_MAP,
                ENUMNAME_PICK2, "?")
ENUMNAME_DEFINE(config_after_on, enum config_after_on, CONFIG_AFTER_ON_MAP,
                ENUMNAME_PICK2, "?")

static const struct {
  const char *name;
  int signo;
} signals[] = {
    {"HUP", SIGHUP},       {"INT", SIGINT},   {"QUIT", SIGQUIT},
    {"ILL", SIGILL},       {"TRAP", SIGTRAP}, {"ABRT", SIGABRT},
    {"BUS", SIGBUS},       {"FPE", SIGFPE},   {"KILL", SIGKILL},
    {"USR1", SIGUSR1},     {"SEGV", SIGSEGV}, {"USR2", SIGUSR2},
    {"PIPE", SIGPIPE},     {"ALRM", SIGALRM}, {"TERM", SIGTERM},
    {"CHLD", SIGCHLD},     {"CONT", SIGCONT}, {"STOP", SIGSTOP},
    {"TSTP", SIGTSTP},     {"TTIN", SIGTTIN}, {"TTOU", SIGTTOU},
    {"URG", SIGURG},       {"XCPU", SIGXCPU}, {"XFSZ", SIGXFSZ},
    {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF}, {"WINCH", SIGWINCH},
    {"IO", SIGIO},         {"SYS", SIGSYS},
#ifdef SIGPWR
    {"PWR", SIGPWR},
#endif
};

/* Names are matched without case and with or without "SIG": users write
 * "TERM", "SIGTERM" and "term" and mean the same signal. */
int
config_signal_parse(const char *name)
{
  if (!name)
    return -EINVAL;
  if (strncasecmp(name, "SIG", 3) == 0)
    name += 3;
  for (size_t i = 0; i < COUNT(signals); i++)
    if (strcasecmp(signals[i].name, name) == 0)
      return signals[i].signo;
  return -EINVAL;
}

/* Returns a signal's name without "SIG", or "?". */
const char *
config_signal_name(int signo)
{
  for (size_t i = 0; i < COUNT(signals); i++)
    if (signals[i].signo == signo)
      return signals[i].name;
  return "?";
}

/* Returns the folder of the absolute path p (new). */
static char *
path_dirname(const char *p)
{
  const char *slash = strrchr(p, '/');
  if (!slash || slash == p)
    return xstrdup("/");
  return xstrndup(p, (size_t)(slash - p));
}

/* Returns dir made absolute against the working directory (new). */
static char *
path_absolute(const char *dir)
{
  if (dir && dir[0] == '/')
    return config__path_resolve("/", dir);
  char *cwd = getcwd(NULL, 0);
  char *abs = config__path_resolve(cwd ? cwd : "/", dir && *dir ? dir : ".");
  free(cwd);
  return abs;
}

/* Frees an array of n strings. */
static void
strs_free(char **v, size_t n)
{
  if (!v)
    return;
  for (size_t i = 0; i < n; i++)
    free(v[i]);
  free(v);
}

/* Frees a node and its subtree. */
static void
node_free(struct config_node *n)
{
  if (!n)
    return;
  for (size_t i = 0; i < n->n_children; i++)
    node_free(n->children[i]);
  free(n->children);
  free(n->name);
  free(n->spec_json);
  config__strv_free(n->argv);
  free(n->cwd);
  config__strv_free(n->env);
  config__strv_free(n->env_files);
  config__strv_free(n->ready_argv);
  free(n->ready_regex);
  free(n->ready_url);
  free(n->ready_status.codes);
  free(n->health.url);
  free(n->health.status.codes);
  config__strv_free(n->health.argv);
  free(n->success_codes);
  strs_free(n->watch.paths, n->watch.n_paths);
  strs_free(n->watch.include, n->watch.n_include);
  strs_free(n->watch.exclude, n->watch.n_exclude);
  free(n->after.runner);
  free(n);
}

const char *
config_name_problem(const char *s)
{
  size_t len = strlen(s);
  for (const char *p = s; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
          (*p >= '0' && *p <= '9') || *p == '_' || *p == '.' || *p == '-'))
      return "expected a name matching [A-Za-z0-9_.-]+";
  if (len == 0)
    return "expected a name matching [A-Za-z0-9_.-]+";
  /* The API refuses a path segment that is "." or holds "..": such a
   * name could be configured but never addressed. */
  if (strcmp(s, ".") == 0 || strstr(s, "..") != NULL)
    return "\".\" and names containing \"..\" are not valid names";
  if (len > CONFIG_NAME_MAX)
    return "expected a name of at most 128 characters";
  return NULL;
}

/* ------------------------------------------------------------------------ */
/* Load, free, lookups                                                       */
/* ------------------------------------------------------------------------ */

/* Sets out to 16 hex digits of the FNV-1a hash of the canonical dump of the
 * whole document, the included files merged in as the root's children. */
static void
ld_hash(struct config__ld *ld, char out[17])
{
  json_t *doc = json_incref(ld->srcs[0].doc);
  if (ld->n_srcs > 1) {
    json_t *merged = json_object(), *kids = json_array();
    json_t *ch = json_object_get(doc, "children");
    json_object_update(merged, doc);
    if (json_is_array(ch))
      json_array_extend(kids, ch);
    for (size_t i = 1; i < ld->n_srcs; i++)
      if (ld->srcs[i].doc)
        json_array_append(kids, ld->srcs[i].doc);
    json_object_set_new(merged, "children", kids);
    json_decref(doc);
    doc = merged;
  }
  char *s = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
  uint64_t h = UINT64_C(14695981039346656037);
  for (const char *p = s ? s : ""; *p; p++)
    h = (h ^ (unsigned char)*p) * UINT64_C(1099511628211);
  snprintf(out, 17, "%016" PRIx64, h);
  free(s);
  json_decref(doc);
}

/* An integer literal too big for jansson, at line:col of its first
 * character. */
struct big_number {
  int line, col;
};
#define BIG_NUMBERS_MAX 32

/* Overwrites, in text, the integer literal that ends at or just before
 * byte pos with "0" and spaces (same length, so positions stay), and says
 * where it began. Returns 0, or -1 when there is no literal there. */
static int
patch_big_number(char *text, size_t len, size_t pos, struct big_number *out)
{
  size_t end = pos > len ? len : pos, start;
  int line = 1, col = 1;

  while (end > 0 && !(text[end - 1] >= '0' && text[end - 1] <= '9'))
    end--;
  start = end;
  while (start > 0 && ((text[start - 1] >= '0' && text[start - 1] <= '9') ||
                       text[start - 1] == '-'))
    start--;
  if (start == end)
    return -1;
  for (size_t i = 0; i < start; i++) {
    if (text[i] == '\n') {
      line++;
      col = 1;
    } else if (((unsigned char)text[i] & 0xC0) != 0x80) {
      col++; /* jansson counts characters, not bytes */
    }
  }
  text[start] = '0';
  memset(text + start + 1, ' ', end - start - 1);
  out->line = line;
  out->col = col;
  return 0;
}

/* Loads text whose file is file_abs in folder dir_abs (both taken); name is
 * the file name shown in messages. */
static int
load_common(const char *text, size_t len, const char *name, char *file_abs,
            char *dir_abs, struct config **out, struct config_errors *errors)
{
  struct config__ld ld;
  struct config *cfg = xcalloc(1, sizeof *cfg);
  json_error_t je;
  int rc = 0;

  memset(&ld, 0, sizeof ld);
  cfg->file = file_abs;
  cfg->dir = dir_abs;
  {
    const char *base = strrchr(file_abs, '/');
    char *leaf = config_default_state_leaf(base ? base + 1 : file_abs);
    cfg->state_dir = config__path_resolve(dir_abs, leaf);
    free(leaf);
  }
  cfg->on_give_up = CONFIG_GIVE_UP_STAY;
  cfg->http.enabled = 1;
  cfg->http.host = xstrdup("127.0.0.1");
  cfg->http.port = 7070;
  cfg->output.max_bytes = INT64_C(64) << 20;
  cfg->output.keep = 3;
  ld.cfg = cfg;
  ld.names = strmap_new();
  const char *slash = strrchr(name, '/');
  ld.disp_dir =
      slash ? xstrndup(name, (size_t)(slash - name) + 1) : xstrdup("");
  config__add_src(&ld, xstrdup(name), (char *)text, len, 0, 0);

  struct big_number big[BIG_NUMBERS_MAX];
  size_t n_big = 0;
  char *patched = NULL;
  json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
  /* An integer too big for jansson stops its parser, which would hide
   * every other error of the file: note it at its start, read it as 0, and
   * parse again. */
  while (!doc && json_error_code(&je) == json_error_numeric_overflow &&
         n_big < BIG_NUMBERS_MAX) {
    if (!patched)
      patched = xstrndup(text, len);
    if (patch_big_number(patched, len, (size_t)je.position, &big[n_big]) != 0)
      break;
    n_big++;
    doc = json_loadb(patched, len, JSON_REJECT_DUPLICATES, &je);
  }
  if (!doc) {
    config__add(&ld, 0, je.line, je.column, NULL,
                xstrdup(config__je_text(&je)));
  } else {
    ld.srcs[0].doc = doc;
    cfg->root = config__tree_read(&ld, doc);
  }
  free(patched);
  if (n_big > 0) {
    /* What the validator said of a stand-in 0 is not about the file. */
    size_t kept = 0;
    for (size_t k = 0; k < ld.n_errs; k++) {
      int stand_in = 0;
      for (size_t i = 0; i < n_big && !stand_in; i++)
        stand_in = ld.errs[k].src == 0 && ld.errs[k].line == big[i].line &&
                   ld.errs[k].col == big[i].col;
      if (stand_in) {
        free(ld.errs[k].path);
        free(ld.errs[k].message);
      } else {
        ld.errs[kept++] = ld.errs[k];
      }
    }
    ld.n_errs = kept;
  }
  for (size_t i = 0; i < n_big; i++)
    config__add(
        &ld, 0, big[i].line, big[i].col, NULL,
        xasprintf("integer too big (at most %lld)", (long long)INT64_MAX));

  if (ld.n_errs > 0) {
    if (errors)
      config__errors_take(&ld, ld.errs, ld.n_errs, errors);
    config_free(cfg);
    cfg = NULL;
    rc = -EINVAL;
  } else {
    ld_hash(&ld, cfg->hash);
    cfg->by_name = strmap_new();
    for (size_t i = 0; i < ld.n_uses; i++)
      strmap_set(cfg->by_name, ld.uses[i].node->name, ld.uses[i].node);
    config__errors_take(&ld, ld.warns, ld.n_warns, &cfg->notes);
    cfg->n_check_errors = ld.n_check_errors;
  }
  *out = cfg;
  config__ld_free(&ld);
  return rc;
}

/* Reads the file, then loads it with messages named as the user wrote it. */
int
config_load_list(const char *path, struct config **out,
                 struct config_errors *errors)
{
  char *text;
  size_t len;
  int rc;

  if (errors)
    *errors = (struct config_errors)CONFIG_ERRORS_ZERO;
  *out = NULL;
  rc = config__read_file(path, &text, &len);
  if (rc < 0) {
    if (errors) {
      errors->v = xcalloc(1, sizeof *errors->v);
      errors->n = 1;
      errors->v[0].file = xstrdup(path);
      errors->v[0].message = xstrdup(strerror(-rc));
    }
    return rc;
  }
  /* Lexically absolute, not realpath: relative paths in the file are meant
   * against the folder the user sees it in, even through a symlink. */
  char *file = path_absolute(path);
  char *dir = path_dirname(file);
  rc = load_common(text, len, path, file, dir, out, errors);
  free(text);
  return rc;
}

/* Loads a buffer as if it were the file name in folder dir. */
int
config_load_buffer_list(const char *text, size_t len, const char *name,
                        const char *dir, struct config **out,
                        struct config_errors *errors)
{
  if (errors)
    *errors = (struct config_errors)CONFIG_ERRORS_ZERO;
  if (!name)
    name = "tend.json";
  char *d = path_absolute(dir);
  const char *base = strrchr(name, '/');
  char *file = config__path_resolve(d, base ? base + 1 : name);
  return load_common(text, len, name, file, d, out, errors);
}

/* Moves a list into its joined text (*errors new, or NULL when empty). */
static void
join_into(struct config_errors *list, char **errors)
{
  if (errors)
    *errors = list->n ? config_errors_join(list) : NULL;
  config_errors_free(list);
}

/* config_load_list, the errors joined. */
int
config_load(const char *path, struct config **out, char **errors)
{
  struct config_errors list = CONFIG_ERRORS_ZERO;
  int rc = config_load_list(path, out, &list);
  join_into(&list, errors);
  return rc;
}

/* config_load_buffer_list, the errors joined. */
int
config_load_buffer(const char *text, size_t len, const char *name,
                   const char *dir, struct config **out, char **errors)
{
  struct config_errors list = CONFIG_ERRORS_ZERO;
  int rc = config_load_buffer_list(text, len, name, dir, out, &list);
  join_into(&list, errors);
  return rc;
}

/* The parts that are there, in the order of a compiler's message. */
char *
config_error_format(const struct config_error *e)
{
  struct buf b = BUF_ZERO;
  buf_adds(&b, e->file ? e->file : "?");
  if (e->line != 0) /* 0: no position (a file that could not be read) */
    buf_addf(&b, ":%d:%d", e->line, e->col);
  buf_adds(&b, ": ");
  if (e->warning)
    buf_adds(&b, "warning: ");
  if (e->path)
    buf_addf(&b, "%s: ", e->path);
  buf_adds(&b, e->message ? e->message : "");
  return buf_steal(&b, NULL);
}

/* One line per error. */
char *
config_errors_join(const struct config_errors *errs)
{
  struct buf b = BUF_ZERO;
  for (size_t i = 0; errs && i < errs->n; i++) {
    char *line = config_error_format(&errs->v[i]);
    buf_adds(&b, line);
    buf_add(&b, "\n", 1);
    free(line);
  }
  return buf_steal(&b, NULL);
}

void
config_errors_add(struct config_errors *errs, const char *file, int line,
                  int col, const char *path, const char *message)
{
  struct config_error *e;

  errs->v = xrealloc(errs->v, (errs->n + 1) * sizeof *errs->v);
  e = &errs->v[errs->n++];
  e->file = xstrdup(file ? file : "?");
  e->line = line;
  e->col = col;
  e->path = path ? xstrdup(path) : NULL;
  e->message = xstrdup(message ? message : "");
  e->warning = 0;
}

/* Frees every string, then the array. */
void
config_errors_free(struct config_errors *errs)
{
  if (!errs)
    return;
  for (size_t i = 0; i < errs->n; i++) {
    free(errs->v[i].file);
    free(errs->v[i].path);
    free(errs->v[i].message);
  }
  free(errs->v);
  errs->v = NULL;
  errs->n = 0;
}

int
config_parse_size(const char *s, int64_t *bytes)
{
  char *end;
  double v;
  int64_t mult = 1;

  if (!s || !*s || !((*s >= '0' && *s <= '9') || *s == '.'))
    return -EINVAL;
  errno = 0;
  v = strtod(s, &end);
  if (errno || end == s || !(v > 0))
    return -EINVAL;
  while (*end == ' ')
    end++;
  switch (*end) {
  case 'k':
  case 'K':
    mult = INT64_C(1) << 10;
    end++;
    break;
  case 'm':
  case 'M':
    mult = INT64_C(1) << 20;
    end++;
    break;
  case 'g':
  case 'G':
    mult = INT64_C(1) << 30;
    end++;
    break;
  case 't':
  case 'T':
    mult = INT64_C(1) << 40;
    end++;
    break;
  case 'b':
  case 'B':
  case '\0':
    break;
  default:
    return -EINVAL;
  }
  if (mult > 1 && (*end == 'i' || *end == 'I'))
    end++;
  if (*end == 'b' || *end == 'B')
    end++;
  if (*end != '\0')
    return -EINVAL;
  /* A fraction of a byte makes no sense; 2^62 is past any machine. */
  if (v * (double)mult >= 4611686018427387904.0 ||
      (mult == 1 && v != (double)(int64_t)v))
    return -EINVAL;
  *bytes = (int64_t)(v * (double)mult);
  return *bytes > 0 ? 0 : -EINVAL;
}

/* Shell words that are not programs looked up in PATH. */
static const char *const shell_builtins[] = {
    ".",     ":",       "[",        "alias",   "bg",    "break",    "case",
    "cd",    "command", "continue", "do",      "done",  "echo",     "elif",
    "else",  "esac",    "eval",     "exec",    "exit",  "export",   "false",
    "fg",    "fi",      "for",      "getopts", "hash",  "if",       "jobs",
    "kill",  "local",   "printf",   "pwd",     "read",  "readonly", "return",
    "set",   "shift",   "test",     "then",    "times", "trap",     "true",
    "type",  "ulimit",  "umask",    "unalias", "unset", "until",    "wait",
    "while", "{",       "}",        "!",       "time",  "ulimit",   "source",
};

char *
config_shell_command_word(const char *cmd)
{
  const char *p = cmd, *start;
  char *word;

  while (*p == ' ' || *p == '\t' || *p == '\n')
    p++;
  start = p;
  while (*p && *p != ' ' && *p != '\t' && *p != '\n' && *p != ';' &&
         *p != '|' && *p != '&' && *p != ')' && *p != '>' && *p != '<') {
    char c = *p;
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
          (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.' ||
          c == '/' || c == '+' || c == ',' || c == '@' || c == ':'))
      return NULL; /* quotes, $, =, globs, ...: sh decides */
    p++;
  }
  if (p == start)
    return NULL;
  word = xstrndup(start, (size_t)(p - start));
  for (size_t i = 0; i < COUNT(shell_builtins); i++) {
    if (strcmp(word, shell_builtins[i]) == 0) {
      free(word);
      return NULL;
    }
  }
  return word;
}

/* Frees the tree, then the root-level strings. */
void
config_free(struct config *cfg)
{
  if (!cfg)
    return;
  if (cfg->refs > 0) {
    fprintf(stderr,
            "tend: fatal: %s:%d: config_free of a config with %d "
            "more holder(s)\n",
            __FILE__, __LINE__, cfg->refs);
    abort();
  }
  node_free(cfg->root);
  free(cfg->file);
  free(cfg->dir);
  free(cfg->state_dir);
  free(cfg->include_dir);
  free(cfg->http.host);
  for (size_t i = 0; i < cfg->http.n_hosts; i++)
    free(cfg->http.hosts[i]);
  free(cfg->http.hosts);
  free(cfg->http.tls_cert);
  free(cfg->http.tls_key);
  config_errors_free(&cfg->notes);
  strmap_free(cfg->by_name);
  free(cfg);
}

/* The count lives in the config itself, so a holder needs nothing but the
 * pointer it already has; the cast is the one write through it. */
const struct config *
config_ref(const struct config *cfg)
{
  if (cfg)
    ((struct config *)cfg)->refs++;
  return cfg;
}

/* Drops a holder; the last one frees. */
void
config_unref(const struct config *cfg)
{
  struct config *c = (struct config *)cfg;

  if (!c)
    return;
  if (c->refs > 0) {
    c->refs--;
    return;
  }
  config_free(c);
}

/* Searches a subtree for name (for configs built without the index). */
static struct config_node *
node_find(struct config_node *n, const char *name)
{
  if (!n)
    return NULL;
  if (n->name && strcmp(n->name, name) == 0)
    return n;
  for (size_t i = 0; i < n->n_children; i++) {
    struct config_node *f = node_find(n->children[i], name);
    if (f)
      return f;
  }
  return NULL;
}

/* Uses the name index of a loaded config, or walks a hand-built one. */
struct config_node *
config_find(const struct config *cfg, const char *name)
{
  if (!cfg || !name)
    return NULL;
  if (cfg->by_name)
    return strmap_get(cfg->by_name, name);
  return node_find(cfg->root, name);
}

/* An empty or missing list means the default {0}, as in sup_classify. */
int
config_success_code(const struct config_node *node, int status)
{
  if (!node || !node->success_codes || node->n_success_codes == 0)
    return status == 0;
  for (size_t i = 0; i < node->n_success_codes; i++)
    if (node->success_codes[i] == status)
      return 1;
  return 0;
}

char *
config_default_state_leaf(const char *file_name)
{
  size_t n = strlen(file_name);

  if (strcmp(file_name, "tend.json") == 0 || n == 0)
    return xstrdup(".tend");
  if (n > 5 && strcmp(file_name + n - 5, ".json") == 0)
    n -= 5;
  return xasprintf(".tend-%.*s", (int)n, file_name);
}
