/* config: tend.json -> a validated spec tree, and old tree vs new tree ->
 * the actions of a live reload.
 *
 * Design. Loading is three steps. jansson parses the text (duplicate keys
 * rejected). A validator then walks the whole document once, building the
 * spec tree and collecting every error instead of stopping at the first.
 * jansson keeps no positions for values, so each error's JSON path is mapped
 * back to line:col by a small tokenizer over the raw text (config_locate):
 * on a file's first error it indexes every value's offset and every line
 * start, so each further error costs a short walk, not a rescan.
 * The errors are sorted by file and position before they are joined, so the
 * user reads them in document order.
 *
 * The validator keeps the current JSON path as a stack of segments whose
 * keys are borrowed from the jansson documents (or are literals); the
 * documents live until the load ends. The files of the "include" folder are
 * sources of their own: their errors carry their own file name and
 * positions, while their paths are written from the root of the merged tree
 * ("children[3].cmd"), like every other path.
 *
 * config_diff is pure: nodes are matched by name, and the result lists the
 * stops before the starts so the caller can apply it in order.
 *
 * Ownership: a struct config owns every string and node below it; a node's
 * parent pointer is borrowed. */
#include "src/config.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <regex.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runners/cmdpath.h"
#include "runners/dotenv.h"
#include "runners/pty.h"
#include "src/strmap.h"
#include "src/xalloc.h"
#include "watchers/glob.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* The largest duration accepted, so that now + duration cannot overflow. */
#define MS_MAX INT64_C(1000000000000)
#define SECONDS_MAX 1e9

/* ------------------------------------------------------------------------ */
/* Enum names (X-macros) and signals                                         */
/* ------------------------------------------------------------------------ */

#define X(N, S) S,
static const char *const strategy_names[] = {CONFIG_STRATEGY_MAP(X)};
static const char *const restart_names[] = {CONFIG_RESTART_MAP(X)};
static const char *const give_up_names[] = {CONFIG_GIVE_UP_MAP(X)};
static const char *const ready_names[] = {CONFIG_READY_MAP(X)};
static const char *const probe_names[] = {CONFIG_PROBE_MAP(X)};
static const char *const watch_action_names[] = {CONFIG_WATCH_ACTION_MAP(X)};
static const char *const on_busy_names[] = {CONFIG_ON_BUSY_MAP(X)};
static const char *const after_on_names[] = {CONFIG_AFTER_ON_MAP(X)};
static const char *const change_names[] = {CONFIG_CHANGE_MAP(X)};
#undef X

/* Returns names[v], or "?" outside the table. */
static const char *
name_of(const char *const *names, size_t n, int v)
{
  return v >= 0 && (size_t)v < n ? names[v] : "?";
}

/* Returns the index of s in names, or -EINVAL. */
static int
index_of(const char *const *names, size_t n, const char *s)
{
  for (size_t i = 0; s && i < n; i++)
    if (strcmp(names[i], s) == 0)
      return (int)i;
  return -EINVAL;
}

/* Returns the JSON name of a strategy. */
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

const char *
config_strategy_name(enum config_strategy v)
{
  return name_of(strategy_names, COUNT(strategy_names), (int)v);
}

/* Parses a strategy name; 0 or -EINVAL. */
int
config_strategy_parse(const char *s, enum config_strategy *out)
{
  int i = index_of(strategy_names, COUNT(strategy_names), s);
  if (i < 0)
    return i;
  *out = (enum config_strategy)i;
  return 0;
}

/* Returns the JSON name of a restart type. */
const char *
config_restart_name(enum config_restart v)
{
  return name_of(restart_names, COUNT(restart_names), (int)v);
}

/* Parses a restart type; 0 or -EINVAL. */
int
config_restart_parse(const char *s, enum config_restart *out)
{
  int i = index_of(restart_names, COUNT(restart_names), s);
  if (i < 0)
    return i;
  *out = (enum config_restart)i;
  return 0;
}

/* Returns the JSON name of an on_give_up policy. */
const char *
config_give_up_name(enum config_give_up v)
{
  return name_of(give_up_names, COUNT(give_up_names), (int)v);
}

/* Parses an on_give_up policy; 0 or -EINVAL. */
int
config_give_up_parse(const char *s, enum config_give_up *out)
{
  int i = index_of(give_up_names, COUNT(give_up_names), s);
  if (i < 0)
    return i;
  *out = (enum config_give_up)i;
  return 0;
}

/* Returns the JSON name of a readiness probe kind. */
const char *
config_ready_name(enum config_ready v)
{
  return name_of(ready_names, COUNT(ready_names), (int)v);
}

/* Returns the JSON name of a liveness probe kind. */
const char *
config_probe_name(enum config_probe v)
{
  return name_of(probe_names, COUNT(probe_names), (int)v);
}

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

/* Returns the JSON name of a watch action ("signal" without the signal). */
const char *
config_watch_action_name(enum config_watch_action v)
{
  return name_of(watch_action_names, COUNT(watch_action_names), (int)v);
}

/* Returns the JSON name of an on_busy policy. */
const char *
config_on_busy_name(enum config_on_busy v)
{
  return name_of(on_busy_names, COUNT(on_busy_names), (int)v);
}

/* Parses an on_busy policy; 0 or -EINVAL. */
int
config_on_busy_parse(const char *s, enum config_on_busy *out)
{
  int i = index_of(on_busy_names, COUNT(on_busy_names), s);
  if (i < 0)
    return i;
  *out = (enum config_on_busy)i;
  return 0;
}

/* Returns the JSON name of an "after" condition. */
const char *
config_after_on_name(enum config_after_on v)
{
  return name_of(after_on_names, COUNT(after_on_names), (int)v);
}

/* Parses an "after" condition; 0 or -EINVAL. */
int
config_after_on_parse(const char *s, enum config_after_on *out)
{
  int i = index_of(after_on_names, COUNT(after_on_names), s);
  if (i < 0)
    return i;
  *out = (enum config_after_on)i;
  return 0;
}

/* Returns the name of a reload change kind. */
const char *
config_change_kind_name(enum config_change_kind k)
{
  return name_of(change_names, COUNT(change_names), (int)k);
}

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

/* ------------------------------------------------------------------------ */
/* Small strings and paths                                                   */
/* ------------------------------------------------------------------------ */

/* A growable NUL-terminated string. */
struct sbuf {
  char *s;
  size_t len, cap;
};
#define SBUF_ZERO {NULL, 0, 0}

/* Appends n bytes of p. */
static void
sbuf_add(struct sbuf *b, const char *p, size_t n)
{
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + n + 1)
      cap *= 2;
    b->s = xrealloc(b->s, cap);
    b->cap = cap;
  }
  memcpy(b->s + b->len, p, n);
  b->len += n;
  b->s[b->len] = '\0';
}

/* Appends a C string. */
static void
sbuf_adds(struct sbuf *b, const char *s)
{
  sbuf_add(b, s, strlen(s));
}

/* Appends printf-formatted text. */
static void __attribute__((format(printf, 2, 0)))
sbuf_vaddf(struct sbuf *b, const char *fmt, va_list ap)
{
  char small[256];
  va_list aq;
  va_copy(aq, ap);
  int n = vsnprintf(small, sizeof small, fmt, aq);
  va_end(aq);
  if (n < 0)
    return;
  if ((size_t)n < sizeof small) {
    sbuf_add(b, small, (size_t)n);
    return;
  }
  char *tmp = xmalloc((size_t)n + 1);
  vsnprintf(tmp, (size_t)n + 1, fmt, ap);
  sbuf_add(b, tmp, (size_t)n);
  free(tmp);
}

/* Appends printf-formatted text. */
static void __attribute__((format(printf, 2, 3)))
sbuf_addf(struct sbuf *b, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  sbuf_vaddf(b, fmt, ap);
  va_end(ap);
}

/* Returns the string built so far (new; "" when nothing was added). */
static char *
sbuf_take(struct sbuf *b)
{
  char *s = b->s ? b->s : xstrdup("");
  b->s = NULL;
  b->len = b->cap = 0;
  return s;
}

/* Returns s as a JSON string literal (new), so that user text in a message
 * can neither break the one-error-per-line format nor hide. */
static char *
quote_new(const char *s)
{
  struct sbuf b = SBUF_ZERO;
  sbuf_add(&b, "\"", 1);
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') {
      char esc[2] = {'\\', (char)c};
      sbuf_add(&b, esc, 2);
    } else if (c == '\n' || c == '\t' || c == '\r') {
      char esc[2] = {'\\', c == '\n' ? 'n' : c == '\t' ? 't' : 'r'};
      sbuf_add(&b, esc, 2);
    } else if (c < 0x20 || c == 0x7f) {
      sbuf_addf(&b, "\\u%04x", c);
    } else {
      sbuf_add(&b, (const char *)&c, 1);
    }
  }
  sbuf_add(&b, "\"", 1);
  return sbuf_take(&b);
}

/* jansson quotes the raw text near a syntax error, which may hold a line
 * break or another control character: blank those in place, so that the
 * error stays on its one line (found by tests/fuzz/fuzz_config). */
static const char *
je_text(json_error_t *je)
{
  for (char *c = je->text; *c; c++)
    if ((unsigned char)*c < 0x20 || *c == 0x7f)
      *c = ' ';
  return je->text;
}

/* Returns rel resolved against the absolute folder base, lexically
 * normalised ("." and ".." folded, no doubled or trailing slash) (new). The
 * folders need not exist: a cwd may be created by an earlier step. */
static char *
path_resolve(const char *base, const char *rel)
{
  char *joined = rel[0] == '/' ? xstrdup(rel) : xasprintf("%s/%s", base, rel);
  size_t n = strlen(joined);
  char *out = xmalloc(n + 2);
  size_t len = 0;
  char *save = NULL;
  for (char *part = strtok_r(joined, "/", &save); part;
       part = strtok_r(NULL, "/", &save)) {
    if (strcmp(part, ".") == 0)
      continue;
    if (strcmp(part, "..") == 0) {
      while (len > 0 && out[len - 1] != '/')
        len--;
      if (len > 0)
        len--; /* the slash before the dropped component */
      continue;
    }
    out[len++] = '/';
    size_t pl = strlen(part);
    memcpy(out + len, part, pl);
    len += pl;
  }
  if (len == 0)
    out[len++] = '/';
  out[len] = '\0';
  free(joined);
  return out;
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
    return path_resolve("/", dir);
  char *cwd = getcwd(NULL, 0);
  char *abs = path_resolve(cwd ? cwd : "/", dir && *dir ? dir : ".");
  free(cwd);
  return abs;
}

/* Reads a whole file; returns 0 and *text (new, NUL-terminated) or -errno. */
static int
read_file(const char *path, char **text, size_t *len)
{
  FILE *f = fopen(path, "rb");
  if (!f)
    return -errno;
  struct sbuf b = SBUF_ZERO;
  char chunk[8192];
  size_t n;
  while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
    sbuf_add(&b, chunk, n);
  int err = ferror(f) ? -EIO : 0;
  fclose(f);
  if (err) {
    free(b.s);
    return err;
  }
  *len = b.len;
  *text = sbuf_take(&b);
  return 0;
}

/* Makes room for need elements in a growable array. */
static void *
grow(void *p, size_t *cap, size_t need, size_t size)
{
  if (need <= *cap)
    return p;
  size_t c = *cap ? *cap * 2 : 8;
  while (c < need)
    c *= 2;
  *cap = c;
  return xrealloc(p, c * size);
}

/* Frees a NULL-terminated array of strings. */
static void
strv_free(char **v)
{
  if (!v)
    return;
  for (char **p = v; *p; p++)
    free(*p);
  free(v);
}

/* Edit distance of two short strings where swapping two neighbours counts
 * as one edit ("nmae" -> "name"); SIZE_MAX when a string is too long. */
static size_t
edit_distance(const char *a, const char *b)
{
  size_t la = strlen(a), lb = strlen(b);
  size_t d[33][33];
  if (la > 32 || lb > 32)
    return SIZE_MAX;
  for (size_t i = 0; i <= la; i++)
    d[i][0] = i;
  for (size_t j = 0; j <= lb; j++)
    d[0][j] = j;
  for (size_t i = 1; i <= la; i++) {
    for (size_t j = 1; j <= lb; j++) {
      size_t best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
      if (d[i - 1][j] + 1 < best)
        best = d[i - 1][j] + 1;
      if (d[i][j - 1] + 1 < best)
        best = d[i][j - 1] + 1;
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
          d[i - 2][j - 2] + 1 < best)
        best = d[i - 2][j - 2] + 1;
      d[i][j] = best;
    }
  }
  return d[la][lb];
}

/* Returns the candidate the user most likely meant by s, or NULL: a close
 * spelling, or the key with its unit left out ("timeout" -> "timeout_s"). */
/* Keys of supervisord, process-compose, docker compose and pm2 that tend
 * spells differently: {theirs, ours}. */
static const char *const key_synonyms[][2] = {
    {"environment", "env"},      {"command", "cmd"},
    {"working_dir", "cwd"},      {"workdir", "cwd"},
    {"directory", "cwd"},        {"autorestart", "restart"},
    {"restart_policy", "restart"}, {"depends_on", "after"},
    {"stopsignal", "stop"},      {"stop_signal", "stop"},
    {"processes", "children"},   {"programs", "children"},
    {"services", "children"},    {"env_files", "env_file"},
    {"startretries", "restart_limit"}, {"max_memory_restart", "max_memory"},
    {"readiness_probe", "ready"}, {"liveness_probe", "health"},
    {"healthcheck", "health"},   {"tty", "pty"},
    {"is_tty", "pty"},
};

static const char *
closest(const char *s, const char *const *cands, size_t n)
{
  const char *best = NULL;
  size_t best_d = SIZE_MAX, len = strlen(s);

  /* What other tools call a key (and misspellings of that) first. */
  for (size_t i = 0; i < COUNT(key_synonyms); i++) {
    size_t d = edit_distance(s, key_synonyms[i][0]);
    if (d <= (strlen(key_synonyms[i][0]) <= 5 ? 0u : 2u) &&
        index_of(cands, n, key_synonyms[i][1]) >= 0)
      return key_synonyms[i][1];
  }
  for (size_t i = 0; i < n; i++) {
    size_t d = edit_distance(s, cands[i]);
    size_t limit = strlen(cands[i]) <= 4 ? 1 : 2;
    if (d <= limit && d < len && d < best_d) {
      best = cands[i];
      best_d = d;
    }
  }
  for (size_t i = 0; !best && len >= 3 && i < n; i++)
    if (strncmp(cands[i], s, len) == 0 && cands[i][len] == '_')
      best = cands[i];
  return best;
}

/* ------------------------------------------------------------------------ */
/* Position locator: JSON path -> line:col in the raw text                   */
/* ------------------------------------------------------------------------ */

/* One step of a JSON path: an object key, or (key NULL) an array index. */
struct seg {
  const char *key;
  size_t idx;
};

/* A cursor over raw JSON text. The text was accepted by jansson before we
 * look at it, so the scanner can be forgiving: it only has to terminate. */
struct scan {
  const char *s;
  size_t len, i;
};

/* Skips white space. */
static void
scan_ws(struct scan *c)
{
  while (c->i < c->len && (c->s[c->i] == ' ' || c->s[c->i] == '\t' ||
                           c->s[c->i] == '\n' || c->s[c->i] == '\r'))
    c->i++;
}

/* Skips a string literal starting at its opening quote. */
static void
scan_string(struct scan *c)
{
  c->i++;
  while (c->i < c->len) {
    char ch = c->s[c->i++];
    if (ch == '\\' && c->i < c->len)
      c->i++;
    else if (ch == '"')
      return;
  }
}

/* Skips one value of any kind. */
static void
scan_value(struct scan *c)
{
  if (c->i >= c->len)
    return;
  char ch = c->s[c->i];
  if (ch == '"') {
    scan_string(c);
  } else if (ch == '{' || ch == '[') {
    int depth = 0;
    while (c->i < c->len) {
      ch = c->s[c->i];
      if (ch == '"') {
        scan_string(c);
        continue;
      }
      c->i++;
      if (ch == '{' || ch == '[')
        depth++;
      else if ((ch == '}' || ch == ']') && --depth == 0)
        return;
    }
  } else {
    while (c->i < c->len && !strchr(" \t\r\n,]}:", c->s[c->i]))
      c->i++;
  }
}

/* Reads four hex digits; returns their value or -1. */
static long
scan_hex4(struct scan *c)
{
  long v = 0;
  for (int k = 0; k < 4; k++) {
    if (c->i >= c->len)
      return -1;
    char h = c->s[c->i++];
    int d = h >= '0' && h <= '9'   ? h - '0'
            : h >= 'a' && h <= 'f' ? h - 'a' + 10
            : h >= 'A' && h <= 'F' ? h - 'A' + 10
                                   : -1;
    if (d < 0)
      return -1;
    v = v * 16 + d;
  }
  return v;
}

/* Encodes code point cp as UTF-8 into out; returns the byte count. */
static size_t
utf8_put(unsigned long cp, unsigned char *out)
{
  if (cp < 0x80) {
    out[0] = (unsigned char)cp;
    return 1;
  }
  if (cp < 0x800) {
    out[0] = (unsigned char)(0xC0 | (cp >> 6));
    out[1] = (unsigned char)(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    out[0] = (unsigned char)(0xE0 | (cp >> 12));
    out[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    out[2] = (unsigned char)(0x80 | (cp & 0x3F));
    return 3;
  }
  out[0] = (unsigned char)(0xF0 | (cp >> 18));
  out[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
  out[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
  out[3] = (unsigned char)(0x80 | (cp & 0x3F));
  return 4;
}

/* Reads the string literal at the cursor and reports whether its decoded
 * value equals key (escapes, \u and surrogate pairs included, because
 * jansson hands us decoded keys). */
static int
scan_key_equals(struct scan *c, const char *key)
{
  size_t k = 0;
  int same = 1;
  c->i++; /* the opening quote */
  while (c->i < c->len) {
    unsigned char buf[4];
    size_t n = 1;
    char ch = c->s[c->i++];
    if (ch == '"')
      break;
    buf[0] = (unsigned char)ch;
    if (ch == '\\' && c->i < c->len) {
      char e = c->s[c->i++];
      switch (e) {
      case 'b': buf[0] = '\b'; break;
      case 'f': buf[0] = '\f'; break;
      case 'n': buf[0] = '\n'; break;
      case 'r': buf[0] = '\r'; break;
      case 't': buf[0] = '\t'; break;
      case 'u': {
        long cp = scan_hex4(c);
        if (cp >= 0xD800 && cp < 0xDC00 && c->i + 6 <= c->len &&
            c->s[c->i] == '\\' && c->s[c->i + 1] == 'u') {
          c->i += 2;
          long lo = scan_hex4(c);
          if (lo >= 0xDC00 && lo < 0xE000)
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        }
        n = utf8_put(cp < 0 ? 0xFFFD : (unsigned long)cp, buf);
        break;
      }
      default: buf[0] = (unsigned char)e; break;
      }
    }
    for (size_t j = 0; j < n; j++) {
      if (same && key[k] != '\0' && (unsigned char)key[k] == buf[j])
        k++;
      else
        same = 0;
    }
  }
  return same && key[k] == '\0';
}

/* A position index of one raw JSON text, built in one pass the first time
 * an error in that text needs a position, so that locating N errors costs
 * N short walks instead of N scans of the whole file. */
struct pnode {
  size_t off;     /* the value's first byte */
  size_t key_off; /* its key's opening quote (object members), or SIZE_MAX */
  size_t first;   /* its members/elements: kids[first .. first + count) */
  size_t count;
};

struct textidx {
  const char *text;
  size_t len;
  struct pnode *nodes;
  size_t n_nodes, cap_nodes;
  size_t *kids;
  size_t n_kids, cap_kids;
  size_t *lines; /* offset of the first byte of each line */
  size_t n_lines, cap_lines;
};

/* Deeper nesting is skipped, not indexed (jansson stops at 2048). */
#define TEXTIDX_MAX_DEPTH 4096

/* Indexes the value at the cursor and everything inside it; returns its
 * node. Malformed text (config_locate takes any) ends a container early
 * rather than loop: every pass of the loop consumes input or stops. */
static size_t
textidx_value(struct textidx *ix, struct scan *c, size_t key_off, int depth)
{
  size_t me = ix->n_nodes;
  ix->nodes = grow(ix->nodes, &ix->cap_nodes, me + 1, sizeof *ix->nodes);
  ix->nodes[me].off = c->i;
  ix->nodes[me].key_off = key_off;
  ix->nodes[me].first = 0;
  ix->nodes[me].count = 0;
  ix->n_nodes++;
  if (c->i >= c->len)
    return me;
  char open = c->s[c->i];
  if ((open != '{' && open != '[') || depth >= TEXTIDX_MAX_DEPTH) {
    scan_value(c);
    return me;
  }
  size_t *list = NULL, n = 0, cap = 0;
  c->i++;
  for (;;) {
    size_t koff = SIZE_MAX;
    scan_ws(c);
    if (c->i >= c->len)
      break;
    if (c->s[c->i] == '}' || c->s[c->i] == ']') {
      c->i++;
      break;
    }
    if (open == '{') {
      if (c->s[c->i] != '"')
        break;
      koff = c->i;
      scan_string(c);
      scan_ws(c);
      if (c->i < c->len && c->s[c->i] == ':')
        c->i++;
      scan_ws(c);
    }
    size_t before = c->i;
    size_t kid = textidx_value(ix, c, koff, depth + 1);
    list = grow(list, &cap, n + 1, sizeof *list);
    list[n++] = kid;
    scan_ws(c);
    if (c->i < c->len && c->s[c->i] == ',')
      c->i++;
    else if (c->i == before)
      break;
  }
  ix->kids = grow(ix->kids, &ix->cap_kids, ix->n_kids + n + 1,
                  sizeof *ix->kids);
  if (n)
    memcpy(ix->kids + ix->n_kids, list, n * sizeof *list);
  ix->nodes[me].first = ix->n_kids;
  ix->nodes[me].count = n;
  ix->n_kids += n;
  free(list);
  return me;
}

/* Returns a new index of text (the line table and every value). */
static struct textidx *
textidx_new(const char *text, size_t len)
{
  struct textidx *ix = xcalloc(1, sizeof *ix);
  struct scan c = {text, len, 0};
  ix->text = text;
  ix->len = len;
  ix->lines = grow(ix->lines, &ix->cap_lines, 1, sizeof *ix->lines);
  ix->lines[ix->n_lines++] = 0;
  for (size_t i = 0; i < len; i++)
    if (text[i] == '\n') {
      ix->lines =
          grow(ix->lines, &ix->cap_lines, ix->n_lines + 1, sizeof *ix->lines);
      ix->lines[ix->n_lines++] = i + 1;
    }
  scan_ws(&c);
  textidx_value(ix, &c, SIZE_MAX, 0);
  return ix;
}

/* Frees an index. NULL is a no-op. */
static void
textidx_free(struct textidx *ix)
{
  if (!ix)
    return;
  free(ix->nodes);
  free(ix->kids);
  free(ix->lines);
  free(ix);
}

/* Finds the value at segs. Returns 0 and its byte offset (its key's offset
 * when at_key), or -ENOENT and the offset of the deepest container found,
 * which is still a useful place to point at. */
static int
textidx_find(const struct textidx *ix, const struct seg *segs, size_t n,
             int at_key, size_t *off)
{
  size_t cur = 0;
  for (size_t d = 0; d < n; d++) {
    const struct pnode *p = &ix->nodes[cur];
    char open = p->off < ix->len ? ix->text[p->off] : '\0';
    size_t found = SIZE_MAX;
    if (segs[d].key && open == '{') {
      for (size_t k = 0; k < p->count && found == SIZE_MAX; k++) {
        size_t kid = ix->kids[p->first + k];
        struct scan c = {ix->text, ix->len, ix->nodes[kid].key_off};
        if (scan_key_equals(&c, segs[d].key))
          found = kid;
      }
    } else if (!segs[d].key && open == '[' && segs[d].idx < p->count) {
      found = ix->kids[p->first + segs[d].idx];
    }
    if (found == SIZE_MAX) {
      *off = p->off;
      return -ENOENT;
    }
    if (at_key && segs[d].key && d + 1 == n) {
      *off = ix->nodes[found].key_off;
      return 0;
    }
    cur = found;
  }
  *off = ix->nodes[cur].off;
  return 0;
}

/* Converts a byte offset to a 1-based line and column; like jansson, a
 * column counts characters (UTF-8 continuation bytes do not count). */
static void
textidx_position(const struct textidx *ix, size_t off, int *line, int *col)
{
  size_t lo = 0, hi = ix->n_lines; /* the last line start <= off */
  while (hi - lo > 1) {
    size_t mid = lo + (hi - lo) / 2;
    if (ix->lines[mid] <= off)
      lo = mid;
    else
      hi = mid;
  }
  int cl = 1;
  for (size_t i = ix->lines[lo]; i < off && i < ix->len; i++)
    if (((unsigned char)ix->text[i] & 0xC0) != 0x80)
      cl++;
  *line = (int)lo + 1;
  *col = cl;
}

/* Frees segments whose keys were allocated by path_parse. */
static void
segs_free_keys(struct seg *segs, size_t n)
{
  for (size_t i = 0; i < n; i++)
    free((char *)segs[i].key);
  free(segs);
}

/* Splits a textual path ("a.b[2][\"c.d\"]") into segments with new keys;
 * returns 0 or -EINVAL. */
static int
path_parse(const char *p, struct seg **out, size_t *out_n)
{
  struct seg *segs = NULL;
  size_t n = 0, cap = 0;
  if (strcmp(p, "(root)") == 0)
    p = "";
  while (*p) {
    struct seg sg = {NULL, 0};
    if (*p == '[') {
      p++;
      if (*p == '"') {
        struct sbuf k = SBUF_ZERO;
        for (p++; *p && *p != '"'; p++) {
          if (*p == '\\' && p[1])
            p++;
          sbuf_add(&k, p, 1);
        }
        if (p[0] != '"' || p[1] != ']') {
          free(k.s);
          goto bad;
        }
        p += 2;
        sg.key = sbuf_take(&k);
      } else {
        char *end;
        if (*p < '0' || *p > '9')
          goto bad;
        errno = 0;
        unsigned long long v = strtoull(p, &end, 10);
        if (*end != ']' || errno)
          goto bad;
        sg.idx = (size_t)v;
        p = end + 1;
      }
    } else {
      if (n > 0) {
        if (*p != '.')
          goto bad;
        p++;
      }
      size_t len = strcspn(p, ".[");
      if (len == 0)
        goto bad;
      sg.key = xstrndup(p, len);
      p += len;
    }
    if (n == cap) {
      cap = cap ? cap * 2 : 8;
      segs = xrealloc(segs, cap * sizeof *segs);
    }
    segs[n++] = sg;
  }
  *out = segs;
  *out_n = n;
  return 0;
bad:
  segs_free_keys(segs, n);
  return -EINVAL;
}

/* Parses the textual path, indexes the text, and walks the index. */
int
config_locate(const char *text, size_t len, const char *path, int at_key,
              int *line, int *col)
{
  struct seg *segs;
  size_t n, off;
  if (path_parse(path ? path : "", &segs, &n) < 0)
    return -EINVAL;
  struct textidx *ix = textidx_new(text, len);
  int rc = textidx_find(ix, segs, n, at_key, &off);
  textidx_position(ix, off, line, col);
  textidx_free(ix);
  segs_free_keys(segs, n);
  return rc;
}

/* Appends the display form of a path: children[1].env["A.B"]. */
static void
path_format(struct sbuf *b, const struct seg *segs, size_t n)
{
  if (n == 0) {
    sbuf_adds(b, "(root)");
    return;
  }
  for (size_t i = 0; i < n; i++) {
    if (!segs[i].key) {
      sbuf_addf(b, "[%zu]", segs[i].idx);
      continue;
    }
    const char *k = segs[i].key;
    int plain = *k != '\0';
    for (const char *p = k; *p; p++)
      if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
            (*p >= '0' && *p <= '9') || *p == '_' || *p == '-'))
        plain = 0;
    if (plain) {
      if (i > 0)
        sbuf_add(b, ".", 1);
      sbuf_adds(b, k);
    } else {
      char *q = quote_new(k);
      sbuf_addf(b, "[%s]", q);
      free(q);
    }
  }
}

/* ------------------------------------------------------------------------ */
/* The loader's state and error collection                                   */
/* ------------------------------------------------------------------------ */

/* A file that takes part in a load: the main one or an included one. */
struct src {
  char *disp;    /* the file name shown in messages */
  char *text;    /* owned when own_text (include files) */
  size_t len;
  int own_text;
  size_t base;   /* leading path segments that are outside this file */
  json_t *doc;   /* new reference, or NULL */
  struct textidx *ix; /* built on the first error in this file */
};

struct cerr {
  size_t src, seq;
  int line, col;
  char *text; /* the whole line, without its newline */
};

/* Where a name was first used, to name it in a duplicate's message. */
struct use {
  size_t src;
  struct seg *segs; /* the path of its "name" (keys borrowed) */
  size_t n;
  struct config_node *node;
};

/* An "after" to check once every name of the tree is known. */
struct after_ref {
  struct config_node *node;
  size_t src;
  struct seg *segs; /* the path of after.runner (keys borrowed) */
  size_t n;
};

struct ld {
  struct config *cfg;
  char *disp_dir;      /* prefix of include display names */
  const char *include; /* the "include" value as written */
  struct src *srcs;
  size_t n_srcs, cap_srcs, cur;
  struct seg *path;
  size_t depth, cap_path;
  struct cerr *errs;
  size_t n_errs, cap_errs;
  struct cerr *warns; /* `tend check` findings (config.h, "warnings") */
  size_t n_warns, cap_warns;
  int n_check_errors;
  struct strmap *names; /* name -> index + 1 into uses */
  struct use *uses;
  size_t n_uses, cap_uses;
  struct after_ref *afters;
  size_t n_afters, cap_afters;
  char **scratch; /* strings freed when the load ends */
  size_t n_scratch, cap_scratch;
};

/* Returns s quoted as JSON; the string lives until the load ends. */
static const char *
ld_q(struct ld *ld, const char *s)
{
  ld->scratch = grow(ld->scratch, &ld->cap_scratch, ld->n_scratch + 1,
                     sizeof *ld->scratch);
  return ld->scratch[ld->n_scratch++] = quote_new(s);
}

/* Enters an object key (key non-NULL) or an array index. */
static void
ld_push(struct ld *ld, const char *key, size_t idx)
{
  ld->path = grow(ld->path, &ld->cap_path, ld->depth + 1, sizeof *ld->path);
  ld->path[ld->depth].key = key;
  ld->path[ld->depth].idx = idx;
  ld->depth++;
}

/* Leaves the innermost path segment. */
static void
ld_pop(struct ld *ld)
{
  ld->depth--;
}

/* Returns a copy of the current path (keys borrowed). */
static struct seg *
ld_path_copy(const struct ld *ld)
{
  struct seg *s = xmalloc((ld->depth ? ld->depth : 1) * sizeof *s);
  memcpy(s, ld->path, ld->depth * sizeof *s);
  return s;
}

/* Finds where segs points in source src. */
static void
ld_position(struct ld *ld, size_t src, const struct seg *segs, size_t n,
            int at_key, int *line, int *col)
{
  struct src *s = &ld->srcs[src];
  size_t base = s->base <= n ? s->base : n;
  size_t off = 0;
  if (!s->ix)
    s->ix = textidx_new(s->text, s->len);
  /* segs is NULL for an error at the root (NULL + 0 is UB). */
  textidx_find(s->ix, segs ? segs + base : NULL, n - base, at_key, &off);
  textidx_position(s->ix, off, line, col);
}

/* Records one finished error line (text taken). */
static void
ld_add(struct ld *ld, size_t src, int line, int col, char *text)
{
  ld->errs = grow(ld->errs, &ld->cap_errs, ld->n_errs + 1, sizeof *ld->errs);
  struct cerr *e = &ld->errs[ld->n_errs];
  e->src = src;
  e->seq = ld->n_errs;
  e->line = line;
  e->col = col;
  e->text = text;
  ld->n_errs++;
}

/* Records "file:line:col: path: message" for the value at segs (or its key
 * when at_key). */
static void __attribute__((format(printf, 6, 0)))
ld_verr(struct ld *ld, size_t src, const struct seg *segs, size_t n,
        int at_key, const char *fmt, va_list ap)
{
  int line, col;
  ld_position(ld, src, segs, n, at_key, &line, &col);
  struct sbuf b = SBUF_ZERO;
  sbuf_addf(&b, "%s:%d:%d: ", ld->srcs[src].disp, line, col);
  path_format(&b, segs, n);
  sbuf_adds(&b, ": ");
  sbuf_vaddf(&b, fmt, ap);
  ld_add(ld, src, line, col, sbuf_take(&b));
}

/* Reports an error about the value at the current path. */
static void __attribute__((format(printf, 3, 4)))
ld_err(struct ld *ld, int at_key, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  ld_verr(ld, ld->cur, ld->path, ld->depth, at_key, fmt, ap);
  va_end(ap);
}

/* Reports an error about obj[key] (its value, or its key when at_key). */
static void __attribute__((format(printf, 4, 5)))
ld_err_key(struct ld *ld, const char *key, int at_key, const char *fmt, ...)
{
  va_list ap;
  ld_push(ld, key, 0);
  va_start(ap, fmt);
  ld_verr(ld, ld->cur, ld->path, ld->depth, at_key, fmt, ap);
  va_end(ap);
  ld_pop(ld);
}

/* Reports an error about the value at segs in source src. */
static void __attribute__((format(printf, 5, 6)))
ld_err_at(struct ld *ld, size_t src, const struct seg *segs, size_t n,
          const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  ld_verr(ld, src, segs, n, 0, fmt, ap);
  va_end(ap);
}

/* Reports an error at obj[key][i]. */
static void __attribute__((format(printf, 4, 5)))
ld_err_idx(struct ld *ld, const char *key, size_t i, const char *fmt, ...)
{
  va_list ap;
  ld_push(ld, key, 0);
  ld_push(ld, NULL, i);
  va_start(ap, fmt);
  ld_verr(ld, ld->cur, ld->path, ld->depth, 0, fmt, ap);
  va_end(ap);
  ld_pop(ld);
  ld_pop(ld);
}

/* Records a `tend check` finding about obj[key] (or obj[key][idx] when
 * idx >= 0): a warning, or an error of a file the config names when
 * is_error. */
static void __attribute__((format(printf, 5, 6)))
ld_note(struct ld *ld, const char *key, long idx, int is_error,
        const char *fmt, ...)
{
  va_list ap;
  int line, col;
  struct sbuf b = SBUF_ZERO;

  ld_push(ld, key, 0);
  if (idx >= 0)
    ld_push(ld, NULL, (size_t)idx);
  ld_position(ld, ld->cur, ld->path, ld->depth, 0, &line, &col);
  sbuf_addf(&b, "%s:%d:%d: %s", ld->srcs[ld->cur].disp, line, col,
            is_error ? "" : "warning: ");
  path_format(&b, ld->path, ld->depth);
  sbuf_adds(&b, ": ");
  va_start(ap, fmt);
  sbuf_vaddf(&b, fmt, ap);
  va_end(ap);
  if (idx >= 0)
    ld_pop(ld);
  ld_pop(ld);
  ld->warns = grow(ld->warns, &ld->cap_warns, ld->n_warns + 1,
                   sizeof *ld->warns);
  ld->warns[ld->n_warns] = (struct cerr){ld->cur, ld->n_warns, line, col,
                                         sbuf_take(&b)};
  ld->n_warns++;
  if (is_error)
    ld->n_check_errors++;
}

/* Orders errors by file, then position, then discovery. */
static int
cerr_cmp(const void *a, const void *b)
{
  const struct cerr *x = a, *y = b;
  if (x->src != y->src)
    return x->src < y->src ? -1 : 1;
  if (x->line != y->line)
    return x->line < y->line ? -1 : 1;
  if (x->col != y->col)
    return x->col < y->col ? -1 : 1;
  return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Returns every error, sorted, one per line (new). */
static char *
ld_errors_join(struct ld *ld)
{
  struct sbuf b = SBUF_ZERO;
  qsort(ld->errs, ld->n_errs, sizeof *ld->errs, cerr_cmp);
  for (size_t i = 0; i < ld->n_errs; i++) {
    sbuf_adds(&b, ld->errs[i].text);
    sbuf_add(&b, "\n", 1);
  }
  return sbuf_take(&b);
}

/* Adds a source; returns its index. The display name is taken. */
static size_t
ld_add_src(struct ld *ld, char *disp, char *text, size_t len, int own,
           size_t base)
{
  ld->srcs = grow(ld->srcs, &ld->cap_srcs, ld->n_srcs + 1, sizeof *ld->srcs);
  struct src *s = &ld->srcs[ld->n_srcs];
  s->disp = disp;
  s->text = text;
  s->len = len;
  s->own_text = own;
  s->base = base;
  s->doc = NULL;
  s->ix = NULL;
  return ld->n_srcs++;
}

/* ------------------------------------------------------------------------ */
/* Typed getters: each reads obj[key], reports a type error at the value,    */
/* and returns 1 when set, 0 when absent, -1 on an error.                    */
/* ------------------------------------------------------------------------ */

/* Reads an integer in [min, max]. */
static int
get_int(struct ld *ld, json_t *obj, const char *key, int64_t min, int64_t max,
        int64_t *out)
{
  json_t *v = json_object_get(obj, key);
  if (!v)
    return 0;
  if (json_is_integer(v) && json_integer_value(v) >= min &&
      json_integer_value(v) <= max) {
    *out = (int64_t)json_integer_value(v);
    return 1;
  }
  if (max >= INT_MAX && (!json_is_integer(v) || json_integer_value(v) < min))
    ld_err_key(ld, key, 0, "expected an integer >= %" PRId64, min);
  else
    ld_err_key(ld, key, 0,
               "expected an integer between %" PRId64 " and %" PRId64, min,
               max);
  return -1;
}

/* Reads a number of seconds (> 0, or >= 0 when zero_ok) as milliseconds. */
static int
get_seconds(struct ld *ld, json_t *obj, const char *key, int zero_ok,
            int64_t *ms)
{
  json_t *v = json_object_get(obj, key);
  if (!v)
    return 0;
  double d = json_is_number(v) ? json_number_value(v) : -1;
  if (!json_is_number(v) || d < 0 || (!zero_ok && d == 0)) {
    ld_err_key(ld, key, 0, zero_ok ? "expected a number >= 0"
                                   : "expected a number > 0");
    return -1;
  }
  if (d > SECONDS_MAX) {
    ld_err_key(ld, key, 0, "expected a number <= %.0f", SECONDS_MAX);
    return -1;
  }
  int64_t v_ms = (int64_t)llround(d * 1000.0);
  if (!zero_ok && v_ms < 1)
    v_ms = 1;
  *ms = v_ms;
  return 1;
}

/* Reads true or false. */
static int
get_bool(struct ld *ld, json_t *obj, const char *key, int *out)
{
  json_t *v = json_object_get(obj, key);
  if (!v)
    return 0;
  if (!json_is_boolean(v)) {
    ld_err_key(ld, key, 0, "expected true or false");
    return -1;
  }
  *out = json_is_true(v);
  return 1;
}

/* Reads a string (borrowed from the document); non-empty when required. */
static int
get_string(struct ld *ld, json_t *obj, const char *key, int nonempty,
           const char **out)
{
  json_t *v = json_object_get(obj, key);
  if (!v)
    return 0;
  if (!json_is_string(v)) {
    ld_err_key(ld, key, 0, "expected a string");
    return -1;
  }
  if (nonempty && json_string_length(v) == 0) {
    ld_err_key(ld, key, 0, "expected a non-empty string");
    return -1;
  }
  *out = json_string_value(v);
  return 1;
}

/* Reads an object. */
static int
get_object(struct ld *ld, json_t *obj, const char *key, json_t **out)
{
  json_t *v = json_object_get(obj, key);
  if (!v)
    return 0;
  if (!json_is_object(v)) {
    ld_err_key(ld, key, 0, "expected an object");
    return -1;
  }
  *out = v;
  return 1;
}

/* Reads one of the strings in names; *out is its index. */
static int
get_choice(struct ld *ld, json_t *obj, const char *key,
           const char *const *names, size_t n, int *out)
{
  json_t *v = json_object_get(obj, key);
  if (!v)
    return 0;
  int i = json_is_string(v) ? index_of(names, n, json_string_value(v)) : -1;
  if (i < 0) {
    struct sbuf b = SBUF_ZERO;
    for (size_t k = 0; k < n; k++)
      sbuf_addf(&b, "%s%s", k ? ", " : "", names[k]);
    ld_err_key(ld, key, 0, "expected one of %s", b.s);
    free(b.s);
    return -1;
  }
  *out = i;
  return 1;
}

/* Reads an array of strings (non-empty strings; a non-empty array when
 * required); relative ones are resolved against the config's folder when
 * resolve. *out is NULL-terminated. */
static int
get_strings(struct ld *ld, json_t *obj, const char *key, int nonempty_list,
            int resolve, char ***out, size_t *n_out)
{
  json_t *v = json_object_get(obj, key);
  if (!v)
    return 0;
  if (!json_is_array(v) || (nonempty_list && json_array_size(v) == 0)) {
    ld_err_key(ld, key, 0,
               nonempty_list ? "expected a non-empty array of strings"
                             : "expected an array of strings");
    return -1;
  }
  size_t n = json_array_size(v), k = 0;
  char **list = xcalloc(n + 1, sizeof *list);
  int bad = 0;
  for (size_t i = 0; i < n; i++) {
    json_t *e = json_array_get(v, i);
    if (!json_is_string(e) || json_string_length(e) == 0) {
      ld_err_idx(ld, key, i, "expected a non-empty string");
      bad = 1;
      continue;
    }
    list[k++] = resolve ? path_resolve(ld->cfg->dir, json_string_value(e))
                        : xstrdup(json_string_value(e));
  }
  strv_free(*out);
  *out = list;
  *n_out = k;
  return bad ? -1 : 1;
}

/* Keys that start with "//" are comments (npm's convention; JSON has no
 * comments), allowed on every object and otherwise ignored. */
static int
is_comment_key(const char *key)
{
  return key[0] == '/' && key[1] == '/';
}

/* Reports each key of obj that is not in known, suggesting a near one. */
static void
check_keys(struct ld *ld, json_t *obj, const char *const *known, size_t n)
{
  const char *key;
  json_t *v;
  json_object_foreach(obj, key, v)
  {
    if (index_of(known, n, key) >= 0 || is_comment_key(key))
      continue;
    const char *near = closest(key, known, n);
    if (near)
      ld_err_key(ld, key, 1, "unknown key %s (did you mean \"%s\"?)",
                 ld_q(ld, key), near);
    else
      ld_err_key(ld, key, 1, "unknown key %s", ld_q(ld, key));
  }
}

/* ------------------------------------------------------------------------ */
/* Nodes                                                                     */
/* ------------------------------------------------------------------------ */

/* Where a node key may appear. */
enum { W_ANY = 1, W_GROUP = 2, W_RUNNER = 4, W_ROOT = 8 };

static const struct node_key {
  const char *key;
  unsigned where;
} node_keys[] = {
    {"$schema", W_ROOT}, /* for editors: the JSON Schema's URL; not used */
    {"name", W_ANY},
    {"children", W_GROUP},
    {"strategy", W_GROUP},
    {"intensity", W_GROUP},
    {"restart_limit", W_ANY},
    {"env_file", W_ANY},
    {"on_give_up", W_ROOT},
    {"state_dir", W_ROOT},
    {"http", W_ROOT},
    {"include", W_ROOT},
    {"output", W_ROOT | W_RUNNER},
    {"cmd", W_RUNNER},
    {"cwd", W_RUNNER},
    {"env", W_RUNNER},
    {"restart", W_RUNNER},
    {"backoff", W_RUNNER},
    {"stop", W_RUNNER},
    {"ready", W_RUNNER},
    {"health", W_RUNNER},
    {"autostart", W_RUNNER},
    {"success_codes", W_RUNNER},
    {"watch", W_RUNNER},
    {"after", W_RUNNER},
    {"on_busy", W_RUNNER},
    {"max_memory", W_RUNNER},
    {"pty", W_RUNNER},
};

static const char *const intensity_keys[] = {"max_restarts", "period_s"};
static const char *const limit_keys[] = {"max_restarts", "period_s"};
static const char *const http_keys[] = {"listen", "allow_remote", "hosts",
                                        "tls"};
static const char *const tls_keys[] = {"cert", "key"};
static const char *const output_keys[] = {"max_bytes", "keep"};
static const char *const backoff_keys[] = {"initial_ms", "max_ms",
                                           "reset_after_s"};
static const char *const stop_keys[] = {"signal", "timeout_ms"};
static const char *const ready_keys[] = {"tcp",    "exec",     "log",
                                         "http",   "status",   "timeout_s"};
static const char *const health_keys[] = {
    "http",      "tcp",      "exec",           "status",
    "every_s",   "timeout_s", "initial_delay_s", "failures"};
static const char *const watch_keys[] = {
    "paths",       "include", "exclude",    "gitignore", "debounce_ms",
    "max_wait_ms", "action",  "loop_limit", "postpone"};
static const char *const loop_keys[] = {"max_restarts", "period_s",
                                        "follow_ms"};
static const char *const after_keys[] = {"runner", "on"};
static const char *const pty_keys[] = {"cols", "rows"};

/* Returns a node with every default set. */
static struct config_node *
node_new(struct config_node *parent)
{
  struct config_node *n = xcalloc(1, sizeof *n);
  n->parent = parent;
  n->strategy = CONFIG_STRATEGY_ONE_FOR_ONE;
  n->max_restarts = -1;
  n->period_ms = 10000;
  n->limit_max_restarts = -1;
  n->limit_period_ms = 10000;
  n->restart = CONFIG_RESTART_PERMANENT;
  n->backoff_initial_ms = 100;
  n->backoff_max_ms = 30000;
  n->backoff_reset_ms = 10000;
  n->stop_signal = SIGTERM;
  n->stop_timeout_ms = 5000;
  n->ready = CONFIG_READY_NONE;
  n->ready_timeout_ms = 30000;
  n->autostart = 1;
  n->success_codes = xcalloc(1, sizeof *n->success_codes);
  n->n_success_codes = 1;
  n->output.max_bytes = INT64_C(64) << 20;
  n->output.keep = 3;
  n->watch.gitignore = 1;
  n->watch.debounce_ms = 150;
  n->watch.max_wait_ms = 2000;
  n->watch.action = CONFIG_WATCH_RESTART;
  n->watch.loop_max_restarts = 10;
  n->watch.loop_period_ms = 60000;
  n->watch.loop_follow_ms = 500;
  n->after.on = CONFIG_AFTER_SUCCESS;
  n->on_busy = CONFIG_ON_BUSY_QUEUE;
  n->health.kind = CONFIG_PROBE_NONE;
  n->health.every_ms = 10000;
  n->health.timeout_ms = 2000;
  n->health.failures = 3;
  return n;
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
  strv_free(n->argv);
  free(n->cwd);
  strv_free(n->env);
  strv_free(n->env_files);
  strv_free(n->ready_argv);
  free(n->ready_regex);
  free(n->ready_url);
  free(n->ready_status.codes);
  free(n->health.url);
  free(n->health.status.codes);
  strv_free(n->health.argv);
  free(n->success_codes);
  strs_free(n->watch.paths, n->watch.n_paths);
  strs_free(n->watch.include, n->watch.n_include);
  strs_free(n->watch.exclude, n->watch.n_exclude);
  free(n->after.runner);
  free(n);
}

/* Returns a deep copy of v without comment keys, so that editing a comment
 * never counts as a change of the spec. */
static json_t *
strip_comments(json_t *v)
{
  const char *key;
  json_t *item;
  size_t i;

  if (json_is_object(v)) {
    json_t *copy = json_object();
    json_object_foreach(v, key, item)
    {
      if (!is_comment_key(key))
        json_object_set_new(copy, key, strip_comments(item));
    }
    return copy;
  }
  if (json_is_array(v)) {
    json_t *copy = json_array();
    json_array_foreach(v, i, item)
        json_array_append_new(copy, strip_comments(item));
    return copy;
  }
  return json_incref(v);
}

/* Returns the canonical compact JSON of a node's own object (new): keys
 * sorted at every level, so key order never counts as a change; a group's
 * "children" are left out, they are nodes of their own. */
static char *
spec_dump(json_t *obj, int is_group)
{
  json_t *copy = strip_comments(obj);
  if (is_group)
    json_object_del(copy, "children");
  char *s = json_dumps(copy, JSON_COMPACT | JSON_SORT_KEYS);
  json_decref(copy);
  char *r = xstrdup(s ? s : "{}");
  free(s);
  return r;
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

/* Reads the node's name, checks it is unique in the whole tree, and
 * remembers where it was first used. */
static void
ld_name(struct ld *ld, json_t *obj, struct config_node *n, int is_root)
{
  json_t *v = json_object_get(obj, "name");
  const char *name = "root";
  if (!v && !is_root) {
    ld_err(ld, 0, "missing required key \"name\"");
    return;
  }
  if (v) {
    if (!json_is_string(v)) {
      ld_err_key(ld, "name", 0, "expected a string");
      return;
    }
    name = json_string_value(v);
    const char *why = config_name_problem(name);
    if (why) {
      ld_err_key(ld, "name", 0, "%s", why);
      return;
    }
  }
  n->name = xstrdup(name);
  uintptr_t at = (uintptr_t)strmap_get(ld->names, name);
  ld_push(ld, "name", 0);
  if (at) {
    const struct use *u = &ld->uses[at - 1];
    int line, col;
    struct sbuf where = SBUF_ZERO;
    ld_position(ld, u->src, u->segs, u->n, 0, &line, &col);
    path_format(&where, u->segs, u->n - 1);
    ld_err(ld, 0, "name %s is already used by %s (%s:%d:%d)", ld_q(ld, name),
           where.s, ld->srcs[u->src].disp, line, col);
    free(where.s);
  } else {
    ld->uses = grow(ld->uses, &ld->cap_uses, ld->n_uses + 1, sizeof *ld->uses);
    struct use *u = &ld->uses[ld->n_uses++];
    u->src = ld->cur;
    u->segs = ld_path_copy(ld);
    u->n = ld->depth;
    u->node = n;
    strmap_set(ld->names, name, (void *)(uintptr_t)ld->n_uses);
  }
  ld_pop(ld);
}

/* Reports keys that do not belong on this kind of node. allow is the set of
 * W_* that applies here. */
static void
check_node_keys(struct ld *ld, json_t *obj, unsigned allow, int is_root)
{
  const char *key;
  json_t *v;
  json_object_foreach(obj, key, v)
  {
    const struct node_key *k = NULL;
    if (is_comment_key(key))
      continue;
    for (size_t i = 0; i < COUNT(node_keys); i++)
      if (strcmp(node_keys[i].key, key) == 0)
        k = &node_keys[i];
    if (k && (k->where & allow))
      continue;
    const char *q = ld_q(ld, key);
    if (!k) {
      const char *cands[COUNT(node_keys)];
      size_t n = 0;
      for (size_t i = 0; i < COUNT(node_keys); i++)
        if (node_keys[i].where & allow)
          cands[n++] = node_keys[i].key;
      const char *near = closest(key, cands, n);
      if (near)
        ld_err_key(ld, key, 1, "unknown key %s (did you mean \"%s\"?)", q,
                   near);
      else
        ld_err_key(ld, key, 1, "unknown key %s", q);
    } else if (k->where & W_ROOT) {
      ld_err_key(ld, key, 1, "%s is allowed only on the root%s", q,
                 (k->where & W_RUNNER) ? " or on a runner" : "");
    } else if (k->where & W_GROUP) {
      ld_err_key(ld, key, 1,
                 "%s is a group key, but this node is a runner (it has "
                 "\"cmd\")",
                 q);
    } else if (is_root) {
      ld_err_key(ld, key, 1, "%s is a runner key, but the root must be a group",
                 q);
    } else {
      ld_err_key(ld, key, 1,
                 "%s is a runner key, but this node is a group (it has "
                 "\"children\")",
                 q);
    }
  }
}

/* Reads an "output" object into out (which holds the inherited values). */
static void
ld_output(struct ld *ld, json_t *obj, struct config_output *out)
{
  json_t *o;
  int64_t keep;
  if (get_object(ld, obj, "output", &o) <= 0)
    return;
  ld_push(ld, "output", 0);
  check_keys(ld, o, output_keys, COUNT(output_keys));
  get_int(ld, o, "max_bytes", 4096, INT64_MAX, &out->max_bytes);
  if (get_int(ld, o, "keep", 1, INT_MAX, &keep) > 0)
    out->keep = (int)keep;
  ld_pop(ld);
}

/* Splits "host:port" or "[v6]:port"; returns NULL and a new host, or why
 * the text is not an address. */
static const char *
listen_parse(const char *s, char **host, int *port)
{
  const char *h = s, *he, *p;
  if (s[0] == '[') {
    h = s + 1;
    he = strchr(h, ']');
    if (!he || he[1] != ':')
      return "expected \"[address]:port\" for an IPv6 address";
    p = he + 2;
  } else {
    he = strrchr(s, ':');
    if (!he)
      return "expected \"host:port\" or false";
    if (memchr(h, ':', (size_t)(he - h)))
      return "write an IPv6 address in brackets, e.g. \"[::1]:7070\"";
    p = he + 1;
  }
  if (he == h)
    return "expected a host before the port";
  size_t pl = strlen(p);
  if (pl == 0 || pl > 5 || strspn(p, "0123456789") != pl || atoi(p) > 65535)
    return "expected a port between 0 and 65535";
  char *hs = xstrndup(h, (size_t)(he - h));
  if (s[0] == '[') {
    struct in6_addr a6;
    if (inet_pton(AF_INET6, hs, &a6) != 1) {
      free(hs);
      return "expected an IPv6 address inside the brackets";
    }
  } else if (strspn(hs, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                        "0123456789.-") != strlen(hs)) {
    free(hs);
    return "expected a host name or an IPv4 address before the port";
  }
  *host = hs;
  *port = atoi(p);
  return NULL;
}

/* Returns 1 when host names this machine's loopback interface. */
static int
host_is_loopback(const char *host)
{
  struct in_addr a4;
  struct in6_addr a6;
  if (strcasecmp(host, "localhost") == 0)
    return 1;
  if (inet_pton(AF_INET, host, &a4) == 1)
    return (ntohl(a4.s_addr) >> 24) == 127;
  if (inet_pton(AF_INET6, host, &a6) == 1)
    return IN6_IS_ADDR_LOOPBACK(&a6) ||
           (IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127);
  return 0;
}

/* Reads the root's "http" object. */
static void
ld_http(struct ld *ld, json_t *obj)
{
  struct config_http *h = &ld->cfg->http;
  json_t *o;
  if (get_object(ld, obj, "http", &o) <= 0)
    return;
  ld_push(ld, "http", 0);
  check_keys(ld, o, http_keys, COUNT(http_keys));
  get_bool(ld, o, "allow_remote", &h->allow_remote);
  json_t *v = json_object_get(o, "listen");
  if (v && json_is_false(v)) {
    h->enabled = 0;
  } else if (v && json_is_string(v)) {
    char *host = NULL;
    int port = 0;
    const char *why = listen_parse(json_string_value(v), &host, &port);
    if (why) {
      ld_err_key(ld, "listen", 0, "%s", why);
    } else if (!host_is_loopback(host) && !h->allow_remote) {
      ld_err_key(ld, "listen", 0,
                 "%s is not a loopback address; set \"allow_remote\": true "
                 "to listen on it",
                 ld_q(ld, host));
      free(host);
    } else {
      free(h->host);
      h->host = host;
      h->port = port;
      h->listen_set = 1;
    }
  } else if (v) {
    ld_err_key(ld, "listen", 0, "expected \"host:port\" or false");
  }
  get_strings(ld, o, "hosts", 0, 0, &h->hosts, &h->n_hosts);
  json_t *tls;
  if (get_object(ld, o, "tls", &tls) > 0) {
    const char *cert = NULL, *key = NULL;
    ld_push(ld, "tls", 0);
    check_keys(ld, tls, tls_keys, COUNT(tls_keys));
    if (get_string(ld, tls, "cert", 1, &cert) == 0)
      ld_err(ld, 0, "\"cert\" is required (a PEM certificate file)");
    if (get_string(ld, tls, "key", 1, &key) == 0)
      ld_err(ld, 0, "\"key\" is required (a PEM private key file)");
    if (cert && key) {
      h->tls_cert = path_resolve(ld->cfg->dir, cert);
      h->tls_key = path_resolve(ld->cfg->dir, key);
    }
    ld_pop(ld);
  }
  ld_pop(ld);
}


/* Reads the keys only the root has (before its children, which inherit
 * "output"). */
static void
ld_root(struct ld *ld, json_t *obj)
{
  struct config *cfg = ld->cfg;
  const char *s;
  int choice;
  get_string(ld, obj, "$schema", 0, &s); /* checked, then ignored */
  if (get_choice(ld, obj, "on_give_up", give_up_names, COUNT(give_up_names),
                 &choice) > 0)
    cfg->on_give_up = (enum config_give_up)choice;
  if (get_string(ld, obj, "state_dir", 1, &s) > 0) {
    free(cfg->state_dir);
    cfg->state_dir = path_resolve(cfg->dir, s);
  }
  ld_http(ld, obj);
  if (get_string(ld, obj, "include", 1, &s) > 0) {
    cfg->include_dir = path_resolve(cfg->dir, s);
    ld->include = s;
  }
  ld_output(ld, obj, &cfg->output);
}

/* Reads a command: an array of strings (argv) or a string run by /bin/sh -c.
 * Returns 1 when set and valid. */
static int
ld_argv(struct ld *ld, json_t *obj, const char *key, char ***argv, int *shell)
{
  json_t *v = json_object_get(obj, key);
  if (!v)
    return 0;
  if (json_is_string(v)) {
    const char *s = json_string_value(v);
    if (s[strspn(s, " \t\r\n")] == '\0') {
      ld_err_key(ld, key, 0, "expected a non-empty command");
      return -1;
    }
    char **a = xcalloc(4, sizeof *a);
    a[0] = xstrdup("/bin/sh");
    a[1] = xstrdup("-c");
    a[2] = xstrdup(s);
    strv_free(*argv);
    *argv = a;
    if (shell)
      *shell = 1;
    return 1;
  }
  if (!json_is_array(v) || json_array_size(v) == 0) {
    ld_err_key(ld, key, 0,
               "expected a non-empty string or a non-empty array of strings");
    return -1;
  }
  size_t n = json_array_size(v);
  int bad = 0;
  for (size_t i = 0; i < n; i++) {
    json_t *e = json_array_get(v, i);
    if (!json_is_string(e)) {
      ld_err_idx(ld, key, i, "expected a string");
      bad = 1;
    } else if (i == 0 && json_string_length(e) == 0) {
      ld_err_idx(ld, key, i, "expected a non-empty program name");
      bad = 1;
    }
  }
  if (bad)
    return -1;
  char **a = xcalloc(n + 1, sizeof *a);
  for (size_t i = 0; i < n; i++)
    a[i] = xstrdup(json_string_value(json_array_get(v, i)));
  strv_free(*argv);
  *argv = a;
  if (shell)
    *shell = 0;
  return 1;
}

/* Reads "env": an object of string values, stored as "K=V". */
static void
ld_env(struct ld *ld, json_t *obj, struct config_node *n)
{
  json_t *o, *v;
  const char *key;
  if (get_object(ld, obj, "env", &o) <= 0)
    return;
  char **env = xcalloc(json_object_size(o) + 1, sizeof *env);
  size_t k = 0;
  ld_push(ld, "env", 0);
  json_object_foreach(o, key, v)
  {
    if (is_comment_key(key))
      continue;
    if (key[0] == '\0' || strchr(key, '=')) {
      ld_err_key(ld, key, 1, "invalid variable name %s", ld_q(ld, key));
    } else if (json_is_string(v)) {
      env[k++] = xasprintf("%s=%s", key, json_string_value(v));
    } else if (json_is_integer(v)) {
      ld_err_key(ld, key, 0, "expected a string (write \"%" JSON_INTEGER_FORMAT
                 "\")", json_integer_value(v));
    } else if (json_is_boolean(v)) {
      ld_err_key(ld, key, 0, "expected a string (write \"%s\")",
                 json_is_true(v) ? "true" : "false");
    } else {
      ld_err_key(ld, key, 0, "expected a string");
    }
  }
  ld_pop(ld);
  n->env = env;
}

/* Reads "backoff". */
static void
ld_backoff(struct ld *ld, json_t *obj, struct config_node *n)
{
  json_t *o;
  if (get_object(ld, obj, "backoff", &o) <= 0)
    return;
  ld_push(ld, "backoff", 0);
  check_keys(ld, o, backoff_keys, COUNT(backoff_keys));
  int has_init =
      get_int(ld, o, "initial_ms", 0, MS_MAX, &n->backoff_initial_ms) > 0;
  int64_t max;
  int rc = get_int(ld, o, "max_ms", 0, MS_MAX, &max);
  if (rc > 0 && has_init && max < n->backoff_initial_ms)
    ld_err_key(ld, "max_ms", 0,
               "expected an integer >= initial_ms (%" PRId64 ")",
               n->backoff_initial_ms);
  else if (rc > 0 && !has_init && max < n->backoff_initial_ms)
    n->backoff_initial_ms = max; /* a small cap lowers the default start */
  if (rc > 0)
    n->backoff_max_ms = max;
  else if (rc == 0 && n->backoff_initial_ms > n->backoff_max_ms)
    n->backoff_max_ms = n->backoff_initial_ms;
  get_seconds(ld, o, "reset_after_s", 1, &n->backoff_reset_ms);
  ld_pop(ld);
}

/* Reads "stop". */
static void
ld_stop(struct ld *ld, json_t *obj, struct config_node *n)
{
  json_t *o, *v;
  if (get_object(ld, obj, "stop", &o) <= 0)
    return;
  ld_push(ld, "stop", 0);
  check_keys(ld, o, stop_keys, COUNT(stop_keys));
  if ((v = json_object_get(o, "signal"))) {
    int sig = json_is_string(v) ? config_signal_parse(json_string_value(v))
                                : -EINVAL;
    if (!json_is_string(v))
      ld_err_key(ld, "signal", 0, "expected a signal name such as \"TERM\"");
    else if (sig < 0)
      ld_err_key(ld, "signal", 0,
                 "unknown signal %s (expected a name such as TERM, INT, "
                 "HUP, QUIT, KILL, USR1 or USR2)",
                 ld_q(ld, json_string_value(v)));
    else
      n->stop_signal = sig;
  }
  get_int(ld, o, "timeout_ms", 0, MS_MAX, &n->stop_timeout_ms);
  ld_pop(ld);
}

/* Reads a probe's "url": an absolute http:// or https:// URL with a host
 * (parsed by libcurl, which makes the request). Returns 1 when valid. */
static int
ld_url(struct ld *ld, json_t *obj, const char *key, char **out)
{
  const char *url;
  CURLU *u;
  CURLUcode rc;
  char *host = NULL;
  int ok = 0;

  if (get_string(ld, obj, key, 1, &url) <= 0)
    return -1;
  if (strncasecmp(url, "http://", 7) != 0 &&
      strncasecmp(url, "https://", 8) != 0) {
    ld_err_key(ld, key, 0, "expected an http:// or https:// URL, not %s",
               ld_q(ld, url));
    return -1;
  }
  u = curl_url();
  if (!u)
    abort();
  rc = curl_url_set(u, CURLUPART_URL, url, 0);
  if (rc != CURLUE_OK) {
    ld_err_key(ld, key, 0, "invalid URL %s: %s", ld_q(ld, url),
               curl_url_strerror(rc));
  } else if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
             !host[0]) {
    ld_err_key(ld, key, 0, "expected a URL with a host, not %s",
               ld_q(ld, url));
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
ld_http_status(struct ld *ld, json_t *obj, int is_http,
               struct config_http_status *st)
{
  json_t *v = json_object_get(obj, "status");
  size_t n;

  if (!v)
    return;
  if (!is_http) {
    ld_err_key(ld, "status", 1, "\"status\" applies to an \"http\" probe "
                                "only");
    return;
  }
  if (json_is_integer(v)) {
    if (json_integer_value(v) < 100 || json_integer_value(v) > 599) {
      ld_err_key(ld, "status", 0, "expected an HTTP status between 100 and "
                                  "599");
      return;
    }
    st->codes = xcalloc(1, sizeof *st->codes);
    st->codes[0] = (int)json_integer_value(v);
    st->n_codes = 1;
    return;
  }
  if (!json_is_array(v) || json_array_size(v) == 0) {
    ld_err_key(ld, "status", 0, "expected an HTTP status or a non-empty "
                                "array of them");
    return;
  }
  n = json_array_size(v);
  st->codes = xcalloc(n, sizeof *st->codes);
  for (size_t i = 0; i < n; i++) {
    json_t *e = json_array_get(v, i);
    if (!json_is_integer(e) || json_integer_value(e) < 100 ||
        json_integer_value(e) > 599) {
      ld_err_idx(ld, "status", i, "expected an HTTP status between 100 and "
                                  "599");
      continue;
    }
    st->codes[st->n_codes++] = (int)json_integer_value(e);
  }
}

/* Reads "ready": exactly one probe among tcp, exec, log and http. */
static void
ld_ready(struct ld *ld, json_t *obj, struct config_node *n)
{
  json_t *o;
  if (get_object(ld, obj, "ready", &o) <= 0)
    return;
  ld_push(ld, "ready", 0);
  check_keys(ld, o, ready_keys, COUNT(ready_keys));
  const char *first = NULL;
  const char *key;
  json_t *v;
  json_object_foreach(o, key, v)
  {
    if (strcmp(key, "tcp") && strcmp(key, "exec") && strcmp(key, "log") &&
        strcmp(key, "http"))
      continue;
    if (first) {
      ld_err_key(ld, key, 1,
                 "only one of \"tcp\", \"exec\", \"log\" or \"http\" may be "
                 "set (\"%s\" is already)",
                 first);
      continue;
    }
    first = key;
    if (strcmp(key, "tcp") == 0) {
      int64_t port;
      if (get_int(ld, o, "tcp", 1, 65535, &port) > 0) {
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
      if (get_string(ld, o, "log", 1, &re) > 0) {
        regex_t rx;
        const char *why = config_regex_unsafe(re);
        int rc = why ? 0 : regcomp(&rx, re, REG_EXTENDED | REG_NOSUB);
        if (why) {
          ld_err_key(ld, "log", 0, "regular expression rejected: %s", why);
        } else if (rc != 0) {
          char msg[256];
          regerror(rc, &rx, msg, sizeof msg);
          ld_err_key(ld, "log", 0, "invalid regular expression: %s", msg);
        } else {
          regfree(&rx);
          n->ready = CONFIG_READY_LOG;
          n->ready_regex = xstrdup(re);
        }
      }
    }
  }
  if (!first)
    ld_err(ld, 0,
           "expected exactly one of \"tcp\", \"exec\", \"log\" or \"http\"");
  ld_http_status(ld, o, first && !strcmp(first, "http"), &n->ready_status);
  get_seconds(ld, o, "timeout_s", 0, &n->ready_timeout_ms);
  ld_pop(ld);
}

/* Reads "health": a liveness probe, exactly one of http, tcp and exec,
 * with its schedule. */
static void
ld_health(struct ld *ld, json_t *obj, struct config_node *n)
{
  struct config_health *h = &n->health;
  const char *first = NULL, *key;
  json_t *o, *v;
  int64_t num;

  if (get_object(ld, obj, "health", &o) <= 0)
    return;
  ld_push(ld, "health", 0);
  check_keys(ld, o, health_keys, COUNT(health_keys));
  json_object_foreach(o, key, v)
  {
    if (strcmp(key, "tcp") && strcmp(key, "exec") && strcmp(key, "http"))
      continue;
    if (first) {
      ld_err_key(ld, key, 1,
                 "only one of \"http\", \"tcp\" or \"exec\" may be set "
                 "(\"%s\" is already)",
                 first);
      continue;
    }
    first = key;
    if (strcmp(key, "tcp") == 0) {
      if (get_int(ld, o, "tcp", 1, 65535, &num) > 0) {
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
    ld_err(ld, 0, "expected exactly one of \"http\", \"tcp\" or \"exec\"");
  ld_http_status(ld, o, first && !strcmp(first, "http"), &h->status);
  get_seconds(ld, o, "every_s", 0, &h->every_ms);
  get_seconds(ld, o, "timeout_s", 0, &h->timeout_ms);
  get_seconds(ld, o, "initial_delay_s", 1, &h->initial_delay_ms);
  if (get_int(ld, o, "failures", 1, 1000000, &num) > 0)
    h->failures = (int)num;
  ld_pop(ld);
}

/* Reads "success_codes": a non-empty array of exit statuses. */
static void
ld_success_codes(struct ld *ld, json_t *obj, struct config_node *n)
{
  json_t *v = json_object_get(obj, "success_codes");
  if (!v)
    return;
  if (!json_is_array(v) || json_array_size(v) == 0) {
    ld_err_key(ld, "success_codes", 0,
               "expected a non-empty array of integers between 0 and 255");
    return;
  }
  size_t len = json_array_size(v), k = 0;
  int *codes = xcalloc(len, sizeof *codes);
  for (size_t i = 0; i < len; i++) {
    json_t *e = json_array_get(v, i);
    if (!json_is_integer(e) || json_integer_value(e) < 0 ||
        json_integer_value(e) > 255)
      ld_err_idx(ld, "success_codes", i,
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
check_globs(struct ld *ld, json_t *obj, const char *key)
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
    ld_err_idx(ld, key, i, "invalid glob %s: %s", ld_q(ld, p), why);
    free(cause);
  }
}

/* Reads "watch". */
static void
ld_watch(struct ld *ld, json_t *obj, struct config_node *n)
{
  struct config_watch *w = &n->watch;
  json_t *o, *lo;
  const char *s;
  if (get_object(ld, obj, "watch", &o) <= 0)
    return;
  ld_push(ld, "watch", 0);
  check_keys(ld, o, watch_keys, COUNT(watch_keys));
  w->enabled = 1;
  if (get_strings(ld, o, "paths", 1, 1, &w->paths, &w->n_paths) == 0)
    ld_err(ld, 0, "missing required key \"paths\"");
  get_strings(ld, o, "include", 0, 0, &w->include, &w->n_include);
  get_strings(ld, o, "exclude", 0, 0, &w->exclude, &w->n_exclude);
  check_globs(ld, o, "include");
  check_globs(ld, o, "exclude");
  get_bool(ld, o, "gitignore", &w->gitignore);
  get_int(ld, o, "debounce_ms", 0, MS_MAX, &w->debounce_ms);
  get_int(ld, o, "max_wait_ms", 0, MS_MAX, &w->max_wait_ms);
  if (get_string(ld, o, "action", 0, &s) > 0) {
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
      ld_err_key(ld, "action", 0, "unknown signal %s", ld_q(ld, s + 7));
    } else {
      ld_err_key(ld, "action", 0,
                 "expected \"restart\", \"start\" or \"signal:<NAME>\" "
                 "(e.g. \"signal:HUP\")");
    }
  }
  if (get_object(ld, o, "loop_limit", &lo) > 0) {
    int64_t max;
    ld_push(ld, "loop_limit", 0);
    check_keys(ld, lo, loop_keys, COUNT(loop_keys));
    if (get_int(ld, lo, "max_restarts", 0, INT_MAX, &max) > 0)
      w->loop_max_restarts = (int)max;
    get_seconds(ld, lo, "period_s", 0, &w->loop_period_ms);
    get_int(ld, lo, "follow_ms", 0, MS_MAX, &w->loop_follow_ms);
    ld_pop(ld);
  }
  /* postpone: the runner waits for the first change, so it is not started
   * with its group (the same as autostart false, which it implies). */
  if (get_bool(ld, o, "postpone", &w->postpone) > 0 && w->postpone) {
    json_t *as = json_object_get(obj, "autostart");
    if (json_is_true(as))
      ld_err_key(ld, "postpone", 0,
                 "contradicts \"autostart\": true (a postponed runner "
                 "starts on the first change)");
    else if (w->action == CONFIG_WATCH_SIGNAL)
      ld_err_key(ld, "postpone", 0,
                 "needs the action \"restart\" or \"start\" (a signal "
                 "cannot start a runner)");
    n->autostart = 0;
  }
  ld_pop(ld);
}

/* Reads "after"; the runner it names is checked once the tree is known. */
static void
ld_after(struct ld *ld, json_t *obj, struct config_node *n)
{
  json_t *o;
  const char *s;
  int choice;
  if (get_object(ld, obj, "after", &o) <= 0)
    return;
  ld_push(ld, "after", 0);
  check_keys(ld, o, after_keys, COUNT(after_keys));
  int rc = get_string(ld, o, "runner", 1, &s);
  if (rc == 0)
    ld_err(ld, 0, "missing required key \"runner\"");
  if (rc > 0) {
    n->after.runner = xstrdup(s);
    ld_push(ld, "runner", 0);
    ld->afters = grow(ld->afters, &ld->cap_afters, ld->n_afters + 1,
                      sizeof *ld->afters);
    struct after_ref *a = &ld->afters[ld->n_afters++];
    a->node = n;
    a->src = ld->cur;
    a->segs = ld_path_copy(ld);
    a->n = ld->depth;
    ld_pop(ld);
  }
  if (get_choice(ld, o, "on", after_on_names, COUNT(after_on_names), &choice) >
      0)
    n->after.on = (enum config_after_on)choice;
  ld_pop(ld);
}

/* Reads "restart_limit": {"max_restarts", "period_s"} or false. */
static void
ld_restart_limit(struct ld *ld, json_t *obj, struct config_node *n)
{
  json_t *v = json_object_get(obj, "restart_limit");
  int64_t max;

  if (!v)
    return;
  if (json_is_false(v)) {
    n->limit_set = 1;
    n->limit_max_restarts = -1;
    return;
  }
  if (!json_is_object(v)) {
    ld_err_key(ld, "restart_limit", 0,
               "expected an object {\"max_restarts\", \"period_s\"} or "
               "false");
    return;
  }
  n->limit_set = 1;
  n->limit_max_restarts = 5;
  n->limit_period_ms = 10000;
  ld_push(ld, "restart_limit", 0);
  check_keys(ld, v, limit_keys, COUNT(limit_keys));
  if (get_int(ld, v, "max_restarts", 0, INT_MAX, &max) > 0)
    n->limit_max_restarts = (int)max;
  get_seconds(ld, v, "period_s", 0, &n->limit_period_ms);
  ld_pop(ld);
}

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

/* Reads "env_file" (a path or an array of paths, relative to the
 * config's folder); a runner's list starts with its ancestors' files. */
static void
ld_env_files(struct ld *ld, json_t *obj, struct config_node *n)
{
  json_t *v = json_object_get(obj, "env_file");
  char **own = NULL;
  size_t n_own = 0, total = 0, k = 0;

  /* A node that is neither a runner nor a group is read as both. */
  strv_free(n->env_files);
  n->env_files = NULL;
  if (v && json_is_string(v)) {
    if (json_string_length(v) == 0) {
      ld_err_key(ld, "env_file", 0, "expected a non-empty string");
    } else {
      own = xcalloc(2, sizeof *own);
      own[0] = path_resolve(ld->cfg->dir, json_string_value(v));
      n_own = 1;
    }
  } else if (v && json_is_array(v)) {
    get_strings(ld, obj, "env_file", 0, 1, &own, &n_own);
  } else if (v) {
    ld_err_key(ld, "env_file", 0, "expected a path or an array of paths");
  }
  if (n->is_group) {
    n->env_files = own;
    return;
  }
  for (const struct config_node *g = n->parent; g; g = g->parent)
    for (char **f = g->env_files; f && *f; f++)
      total++;
  n->env_files = xcalloc(total + n_own + 1, sizeof *n->env_files);
  /* Outermost first: count each ancestor's place from the top. */
  {
    const struct config_node *chain[64];
    size_t depth = 0;
    for (const struct config_node *g = n->parent; g && depth < 64;
         g = g->parent)
      chain[depth++] = g;
    while (depth-- > 0)
      for (char **f = chain[depth]->env_files; f && *f; f++)
        n->env_files[k++] = xstrdup(*f);
  }
  for (size_t i = 0; i < n_own; i++)
    n->env_files[k++] = own[i];
  free(own);
}

/* Reads "max_memory": bytes, or a string such as "200M". */
static void
ld_max_memory(struct ld *ld, json_t *obj, struct config_node *n)
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
    ld_err_key(ld, "max_memory", 0,
               "expected a size such as \"200M\", \"1.5G\" or a number "
               "of bytes > 0");
    return;
  }
  n->max_memory = bytes;
}

/* Reads "pty": true or false, or {"cols": N, "rows": N} (a pty of that
 * size; a missing one keeps its default). */
static void
ld_pty(struct ld *ld, json_t *obj, struct config_node *n)
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
    ld_err_key(ld, "pty", 0,
               "expected true, false or {\"cols\": 120, \"rows\": 40}");
    return;
  }
  n->pty = 1;
  ld_push(ld, "pty", 0);
  check_keys(ld, v, pty_keys, COUNT(pty_keys));
  if (get_int(ld, v, "cols", 1, 1000, &dim) > 0)
    n->pty_cols = (int)dim;
  if (get_int(ld, v, "rows", 1, 1000, &dim) > 0)
    n->pty_rows = (int)dim;
  ld_pop(ld);
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
ld_check_disk(struct ld *ld, json_t *obj, struct config_node *n)
{
  json_t *cmd = json_object_get(obj, "cmd");
  json_t *cwd = json_object_get(obj, "cwd");
  struct stat st;
  int cwd_ok = stat(n->cwd, &st) == 0 && S_ISDIR(st.st_mode);

  if (json_is_string(cwd) && !cwd_ok)
    ld_note(ld, "cwd", -1, 0, "cwd %s does not exist", ld_q(ld, n->cwd));
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
        ld_note(ld, "cmd", idx, 0, "%s", why);
        free(why);
      }
    }
    free(word);
  }
  if (n->pty && !pty_setsid_path())
    ld_note(ld, "pty", -1, 0,
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
        ld_note(ld, "env_file", -1, rc == -EINVAL, "env_file %s", cause);
      else
        ld_note(ld, "name", -1, rc == -EINVAL, "env_file (inherited) %s",
                cause);
    }
    free(cause);
  }
}

/* Reads the keys of a runner. */
static void
ld_runner(struct ld *ld, json_t *obj, struct config_node *n)
{
  const char *s;
  int choice;
  n->output = ld->cfg->output;
  n->cwd = xstrdup(ld->cfg->dir);
  ld_argv(ld, obj, "cmd", &n->argv, &n->shell);
  if (get_string(ld, obj, "cwd", 1, &s) > 0) {
    free(n->cwd);
    n->cwd = path_resolve(ld->cfg->dir, s);
  }
  ld_env(ld, obj, n);
  if (!n->env)
    n->env = xcalloc(1, sizeof *n->env);
  if (get_choice(ld, obj, "restart", restart_names, COUNT(restart_names),
                 &choice) > 0)
    n->restart = (enum config_restart)choice;
  ld_backoff(ld, obj, n);
  ld_stop(ld, obj, n);
  ld_ready(ld, obj, n);
  ld_health(ld, obj, n);
  get_bool(ld, obj, "autostart", &n->autostart);
  ld_success_codes(ld, obj, n);
  ld_output(ld, obj, &n->output);
  ld_watch(ld, obj, n);
  ld_after(ld, obj, n);
  if (get_choice(ld, obj, "on_busy", on_busy_names, COUNT(on_busy_names),
                 &choice) > 0)
    n->on_busy = (enum config_on_busy)choice;
  ld_restart_limit(ld, obj, n);
  ld_resolve_limit(n);
  ld_env_files(ld, obj, n);
  ld_max_memory(ld, obj, n);
  ld_pty(ld, obj, n);
  ld_check_disk(ld, obj, n);
}

/* Appends child to a group. */
static void
node_append(struct config_node *g, struct config_node *child)
{
  g->children =
      xrealloc(g->children, (g->n_children + 1) * sizeof *g->children);
  child->index = g->n_children;
  g->children[g->n_children++] = child;
}

static struct config_node *ld_node(struct ld *ld, json_t *obj,
                                   struct config_node *parent, int is_root);

/* Reads the keys of a group, its children included. */
static void
ld_group(struct ld *ld, json_t *obj, struct config_node *n)
{
  json_t *o, *children;
  int choice;
  if (get_choice(ld, obj, "strategy", strategy_names, COUNT(strategy_names),
                 &choice) > 0)
    n->strategy = (enum config_strategy)choice;
  ld_restart_limit(ld, obj, n);
  ld_env_files(ld, obj, n);
  if (get_object(ld, obj, "intensity", &o) > 0) {
    int64_t max;
    n->max_restarts = 5;
    ld_push(ld, "intensity", 0);
    check_keys(ld, o, intensity_keys, COUNT(intensity_keys));
    if (get_int(ld, o, "max_restarts", 0, INT_MAX, &max) > 0)
      n->max_restarts = (int)max;
    get_seconds(ld, o, "period_s", 0, &n->period_ms);
    ld_pop(ld);
  }
  children = json_object_get(obj, "children");
  if (!children)
    return;
  if (!json_is_array(children)) {
    ld_err_key(ld, "children", 0, "expected an array of nodes");
    return;
  }
  ld_push(ld, "children", 0);
  for (size_t i = 0; i < json_array_size(children); i++) {
    ld_push(ld, NULL, i);
    struct config_node *c = ld_node(ld, json_array_get(children, i), n, 0);
    ld_pop(ld);
    if (c)
      node_append(n, c);
  }
  ld_pop(ld);
}

/* Orders file names for the include folder. */
static int
name_cmp(const void *a, const void *b)
{
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Returns the include folder's *.json file names, sorted (new, NULL
 * terminated), or NULL with errno set. */
static char **
include_list(const char *dir)
{
  DIR *d = opendir(dir);
  if (!d)
    return NULL;
  char **names = NULL;
  size_t n = 0, cap = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    size_t len = strlen(e->d_name);
    struct stat st;
    if (e->d_name[0] == '.' || len <= 5 ||
        strcmp(e->d_name + len - 5, ".json") != 0)
      continue;
    char *full = xasprintf("%s/%s", dir, e->d_name);
    int is_file = stat(full, &st) == 0 && S_ISREG(st.st_mode);
    free(full);
    if (!is_file)
      continue;
    names = grow(names, &cap, n + 2, sizeof *names);
    names[n++] = xstrdup(e->d_name);
  }
  closedir(d);
  if (!names)
    names = xcalloc(1, sizeof *names);
  names[n] = NULL;
  qsort(names, n, sizeof *names, name_cmp);
  return names;
}

/* Loads each file of the include folder as one more child of the root.
 * first is the index the first of them takes in the merged children. */
static void
ld_includes(struct ld *ld, struct config_node *root, size_t first)
{
  const char *dir = ld->cfg->include_dir;
  char **names = include_list(dir);
  if (!names) {
    ld_err_key(ld, "include", 0, "cannot open folder %s: %s", ld_q(ld, dir),
               strerror(errno));
    return;
  }
  size_t inc_len = strlen(ld->include);
  while (inc_len > 1 && ld->include[inc_len - 1] == '/')
    inc_len--;
  for (size_t k = 0; names[k]; k++) {
    char *full = xasprintf("%s/%s", dir, names[k]);
    char *disp = ld->include[0] == '/'
                     ? xasprintf("%.*s/%s", (int)inc_len, ld->include, names[k])
                     : xasprintf("%s%.*s/%s", ld->disp_dir, (int)inc_len,
                                 ld->include, names[k]);
    char *text;
    size_t len;
    int rc = read_file(full, &text, &len);
    free(full);
    if (rc < 0) {
      ld_err_key(ld, "include", 0, "cannot read %s: %s", ld_q(ld, disp),
                 strerror(-rc));
      free(disp);
      continue;
    }
    size_t src = ld_add_src(ld, disp, text, len, 1, 2);
    json_error_t je;
    json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!doc) {
      ld_add(ld, src, je.line, je.column,
             xasprintf("%s:%d:%d: %s", disp, je.line, je.column,
                       je_text(&je)));
      continue;
    }
    ld->srcs[src].doc = doc;
    size_t saved = ld->cur;
    ld->cur = src;
    ld_push(ld, "children", 0);
    ld_push(ld, NULL, first + k);
    struct config_node *c = ld_node(ld, doc, root, 0);
    ld_pop(ld);
    ld_pop(ld);
    ld->cur = saved;
    if (c)
      node_append(root, c);
  }
  strv_free(names);
}

/* Reads one node (the current path points at it) and its subtree; returns
 * it, or NULL when obj is not even an object. */
static struct config_node *
ld_node(struct ld *ld, json_t *obj, struct config_node *parent, int is_root)
{
  if (!json_is_object(obj)) {
    ld_err(ld, 0,
           is_root ? "expected an object" : "expected an object (a runner or "
                                            "a group)");
    return NULL;
  }
  struct config_node *n = node_new(parent);
  int has_children = json_object_get(obj, "children") != NULL;
  int has_cmd = json_object_get(obj, "cmd") != NULL;
  unsigned allow = W_ANY;
  if (is_root) {
    allow |= W_ROOT | W_GROUP;
    n->is_group = 1;
  } else if (has_children && has_cmd) {
    ld_err(ld, 0,
           "a node is either a group (\"children\") or a runner (\"cmd\"), "
           "not both");
    allow |= W_GROUP | W_RUNNER;
    n->is_group = 1;
  } else if (has_children) {
    allow |= W_GROUP;
    n->is_group = 1;
  } else if (has_cmd) {
    allow |= W_RUNNER;
  } else {
    ld_err(ld, 0,
           "expected \"cmd\" (a runner) or \"children\" (a group)");
    allow |= W_GROUP | W_RUNNER;
  }
  check_node_keys(ld, obj, allow, is_root);
  ld_name(ld, obj, n, is_root);
  n->spec_json = spec_dump(obj, n->is_group);
  if (is_root)
    ld_root(ld, obj);
  if (allow & W_GROUP)
    ld_group(ld, obj, n);
  if (allow & W_RUNNER)
    ld_runner(ld, obj, n);
  if (is_root && ld->cfg->include_dir) {
    json_t *ch = json_object_get(obj, "children");
    ld_includes(ld, n, json_is_array(ch) ? json_array_size(ch) : 0);
  }
  return n;
}

/* Returns the node named name, via the table of first uses. */
static struct config_node *
ld_lookup(const struct ld *ld, const char *name)
{
  uintptr_t at = (uintptr_t)strmap_get(ld->names, name);
  return at ? ld->uses[at - 1].node : NULL;
}

/* Checks every "after" now that all names are known: the target must be
 * another runner, and following "after" must never come back. */
static void
ld_check_afters(struct ld *ld)
{
  for (size_t i = 0; i < ld->n_afters; i++) {
    struct after_ref *a = &ld->afters[i];
    const char *target = a->node->after.runner;
    struct config_node *t = ld_lookup(ld, target);
    struct sbuf msg = SBUF_ZERO;
    if (a->node->name && strcmp(target, a->node->name) == 0) {
      sbuf_adds(&msg, "a runner cannot run after itself");
    } else if (!t) {
      const char **cands = xmalloc((ld->n_uses + 1) * sizeof *cands);
      size_t n = 0;
      for (size_t k = 0; k < ld->n_uses; k++)
        if (!ld->uses[k].node->is_group)
          cands[n++] = ld->uses[k].node->name;
      const char *near = closest(target, cands, n);
      sbuf_addf(&msg, "unknown runner %s", ld_q(ld, target));
      if (near)
        sbuf_addf(&msg, " (did you mean \"%s\"?)", near);
      free(cands);
    } else if (t->is_group) {
      sbuf_addf(&msg, "%s is a group; \"after\" names a runner",
                ld_q(ld, target));
    } else {
      /* Walk the chain; it is short (at most one "after" per runner). */
      struct config_node *cur = t;
      size_t steps = 0;
      while (cur && cur != a->node && cur->after.runner &&
             steps++ <= ld->n_afters)
        cur = ld_lookup(ld, cur->after.runner);
      if (cur == a->node) {
        sbuf_addf(&msg, "\"after\" makes a cycle: %s", a->node->name);
        for (cur = t; cur && cur != a->node;
             cur = ld_lookup(ld, cur->after.runner))
          sbuf_addf(&msg, " -> %s", cur->name);
        sbuf_addf(&msg, " -> %s", a->node->name);
      }
    }
    if (msg.s)
      ld_err_at(ld, a->src, a->segs, a->n, "%s", msg.s);
    free(msg.s);
  }
}

/* ------------------------------------------------------------------------ */
/* Load, free, lookups                                                       */
/* ------------------------------------------------------------------------ */

/* Sets out to 16 hex digits of the FNV-1a hash of the canonical dump of the
 * whole document, the included files merged in as the root's children. */
static void
ld_hash(struct ld *ld, char out[17])
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

/* Releases the loader's state (not the config). */
static void
ld_free(struct ld *ld)
{
  for (size_t i = 0; i < ld->n_srcs; i++) {
    free(ld->srcs[i].disp);
    if (ld->srcs[i].own_text)
      free(ld->srcs[i].text);
    json_decref(ld->srcs[i].doc);
    textidx_free(ld->srcs[i].ix);
  }
  free(ld->srcs);
  free(ld->path);
  for (size_t i = 0; i < ld->n_errs; i++)
    free(ld->errs[i].text);
  free(ld->errs);
  for (size_t i = 0; i < ld->n_warns; i++)
    free(ld->warns[i].text);
  free(ld->warns);
  for (size_t i = 0; i < ld->n_uses; i++)
    free(ld->uses[i].segs);
  free(ld->uses);
  for (size_t i = 0; i < ld->n_afters; i++)
    free(ld->afters[i].segs);
  free(ld->afters);
  for (size_t i = 0; i < ld->n_scratch; i++)
    free(ld->scratch[i]);
  free(ld->scratch);
  strmap_free(ld->names);
  free(ld->disp_dir);
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
            char *dir_abs, struct config **out, char **errors)
{
  struct ld ld;
  struct config *cfg = xcalloc(1, sizeof *cfg);
  json_error_t je;
  int rc = 0;

  memset(&ld, 0, sizeof ld);
  cfg->file = file_abs;
  cfg->dir = dir_abs;
  {
    const char *base = strrchr(file_abs, '/');
    char *leaf = config_default_state_leaf(base ? base + 1 : file_abs);
    cfg->state_dir = path_resolve(dir_abs, leaf);
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
  ld.disp_dir = slash ? xstrndup(name, (size_t)(slash - name) + 1)
                      : xstrdup("");
  ld_add_src(&ld, xstrdup(name), (char *)text, len, 0, 0);

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
    ld_add(&ld, 0, je.line, je.column,
           xasprintf("%s:%d:%d: %s", name, je.line, je.column,
                     je_text(&je)));
  } else {
    ld.srcs[0].doc = doc;
    cfg->root = ld_node(&ld, doc, NULL, 1);
    ld_check_afters(&ld);
  }
  free(patched);
  for (size_t i = 0; i < n_big; i++) {
    /* What the validator said of the stand-in 0 is not about the file. */
    for (size_t k = 0; k < ld.n_errs;) {
      if (ld.errs[k].src == 0 && ld.errs[k].line == big[i].line &&
          ld.errs[k].col == big[i].col) {
        free(ld.errs[k].text);
        ld.errs[k] = ld.errs[--ld.n_errs];
      } else {
        k++;
      }
    }
  }
  for (size_t i = 0; i < n_big; i++)
    ld_add(&ld, 0, big[i].line, big[i].col,
           xasprintf("%s:%d:%d: integer too big (at most %lld)", name,
                     big[i].line, big[i].col, (long long)INT64_MAX));

  if (ld.n_errs > 0) {
    if (errors)
      *errors = ld_errors_join(&ld);
    config_free(cfg);
    cfg = NULL;
    rc = -EINVAL;
  } else {
    ld_hash(&ld, cfg->hash);
    cfg->by_name = strmap_new();
    for (size_t i = 0; i < ld.n_uses; i++)
      strmap_set(cfg->by_name, ld.uses[i].node->name, ld.uses[i].node);
    if (errors)
      *errors = NULL;
    if (ld.n_warns > 0) {
      struct sbuf b = SBUF_ZERO;
      qsort(ld.warns, ld.n_warns, sizeof *ld.warns, cerr_cmp);
      for (size_t i = 0; i < ld.n_warns; i++) {
        sbuf_adds(&b, ld.warns[i].text);
        sbuf_add(&b, "\n", 1);
      }
      cfg->warnings = sbuf_take(&b);
      cfg->n_check_errors = ld.n_check_errors;
    }
  }
  *out = cfg;
  ld_free(&ld);
  return rc;
}

/* Reads the file, then loads it with messages named as the user wrote it. */
int
config_load(const char *path, struct config **out, char **errors)
{
  char *text;
  size_t len;
  int rc = read_file(path, &text, &len);
  *out = NULL;
  if (rc < 0) {
    if (errors)
      *errors = xasprintf("%s: %s\n", path, strerror(-rc));
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
config_load_buffer(const char *text, size_t len, const char *name,
                   const char *dir, struct config **out, char **errors)
{
  if (!name)
    name = "tend.json";
  char *d = path_absolute(dir);
  const char *base = strrchr(name, '/');
  char *file = path_resolve(d, base ? base + 1 : name);
  return load_common(text, len, name, file, d, out, errors);
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
  case 'k': case 'K': mult = INT64_C(1) << 10; end++; break;
  case 'm': case 'M': mult = INT64_C(1) << 20; end++; break;
  case 'g': case 'G': mult = INT64_C(1) << 30; end++; break;
  case 't': case 'T': mult = INT64_C(1) << 40; end++; break;
  case 'b': case 'B': case '\0': break;
  default: return -EINVAL;
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
    ".",      ":",       "[",      "alias",    "bg",      "break",
    "case",   "cd",      "command", "continue", "do",     "done",
    "echo",   "elif",    "else",   "esac",     "eval",    "exec",
    "exit",   "export",  "false",  "fg",       "fi",      "for",
    "getopts", "hash",   "if",     "jobs",     "kill",    "local",
    "printf", "pwd",     "read",   "readonly", "return",  "set",
    "shift",  "test",    "then",   "times",    "trap",    "true",
    "type",   "ulimit",  "umask",  "unalias",  "unset",   "until",
    "wait",   "while",   "{",      "}",        "!",       "time",
    "ulimit", "source",
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
    fprintf(stderr, "tend: fatal: %s:%d: config_free of a config with %d "
            "more holder(s)\n", __FILE__, __LINE__, cfg->refs);
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
  free(cfg->warnings);
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

/* ------------------------------------------------------------------------ */
/* Diff                                                                      */
/* ------------------------------------------------------------------------ */

struct diff {
  struct strmap *old_by, *new_by;
  const struct config_node *old_root, *new_root;
  struct config_change *lists[5]; /* one list per kind, in output order */
  size_t n[5], cap[5];
};

/* Indexes a subtree by name. */
static void
diff_index(struct strmap *m, const struct config_node *n)
{
  if (n->name)
    strmap_set(m, n->name, (void *)n);
  for (size_t i = 0; i < n->n_children; i++)
    diff_index(m, n->children[i]);
}

/* Returns 1 when both nodes hang under the same parent (roots match roots,
 * whatever their names). */
static int
same_parent(const struct config_node *a, const struct config_node *b)
{
  if (!a->parent || !b->parent)
    return !a->parent && !b->parent;
  if (!a->parent->parent || !b->parent->parent)
    return !a->parent->parent && !b->parent->parent;
  return strcmp(a->parent->name, b->parent->name) == 0;
}

/* Returns the counterpart of n in the other tree when n survives there
 * (same name, same kind, same parent), else NULL. */
static const struct config_node *
diff_match(const struct diff *d, const struct config_node *n, int n_is_old)
{
  if (!n->parent)
    return n_is_old ? d->new_root : d->old_root;
  const struct config_node *m =
      strmap_get(n_is_old ? d->new_by : d->old_by, n->name);
  if (!m || m->is_group != n->is_group || !same_parent(n, m))
    return NULL;
  return m;
}

/* Appends one change to the list of its kind. */
static void
diff_push(struct diff *d, enum config_change_kind k,
          const struct config_node *o, const struct config_node *n)
{
  d->lists[k] = grow(d->lists[k], &d->cap[k], d->n[k] + 1, sizeof **d->lists);
  d->lists[k][d->n[k]].kind = k;
  d->lists[k][d->n[k]].old_node = o;
  d->lists[k][d->n[k]].new_node = n;
  d->n[k]++;
}

/* Lists the topmost gone nodes of the old tree, in config order. */
static void
diff_old(struct diff *d, const struct config_node *o, int covered)
{
  int gone = !diff_match(d, o, 1);
  if (gone && !covered)
    diff_push(d, CONFIG_CHANGE_REMOVE, o, NULL);
  for (size_t i = 0; i < o->n_children; i++)
    diff_old(d, o->children[i], covered || gone);
}

/* Returns 1 when the children both groups keep appear in another order. */
static int
diff_reordered(const struct diff *d, const struct config_node *o,
               const struct config_node *n)
{
  size_t i = 0, j = 0;
  for (;;) {
    while (i < o->n_children && !diff_match(d, o->children[i], 1))
      i++;
    while (j < n->n_children && !diff_match(d, n->children[j], 0))
      j++;
    if (i >= o->n_children || j >= n->n_children)
      return 0; /* both run out together: survivors are the same set */
    if (strcmp(o->children[i]->name, n->children[j]->name) != 0)
      return 1;
    i++;
    j++;
  }
}

/* Lists the changes of the new tree: ADD for the topmost new nodes, CHANGE
 * and GROUP for survivors outside any new subtree. */
static void
diff_new(struct diff *d, const struct config_node *n, int covered)
{
  const struct config_node *o = diff_match(d, n, 0);
  if (!covered && !o) {
    diff_push(d, CONFIG_CHANGE_ADD, NULL, n);
  } else if (!covered && !n->is_group) {
    if (strcmp(o->spec_json ? o->spec_json : "",
               n->spec_json ? n->spec_json : "") != 0)
      diff_push(d, CONFIG_CHANGE_CHANGE, o, n);
  } else if (!covered) {
    if (o->strategy != n->strategy || o->max_restarts != n->max_restarts ||
        o->period_ms != n->period_ms ||
        o->limit_max_restarts != n->limit_max_restarts ||
        o->limit_period_ms != n->limit_period_ms || diff_reordered(d, o, n))
      diff_push(d, CONFIG_CHANGE_GROUP, o, n);
  }
  for (size_t i = 0; i < n->n_children; i++)
    diff_new(d, n->children[i], covered || !o);
}

/* Compares two optional strings. */
static int
str_eq(const char *a, const char *b)
{
  return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* Returns 1 when two http settings differ in what needs a restart. */
static int
http_differs(const struct config_http *a, const struct config_http *b)
{
  if (a->enabled != b->enabled || !str_eq(a->host, b->host) ||
      a->port != b->port || a->allow_remote != b->allow_remote ||
      !str_eq(a->tls_cert, b->tls_cert) || !str_eq(a->tls_key, b->tls_key) ||
      a->n_hosts != b->n_hosts)
    return 1;
  for (size_t i = 0; i < a->n_hosts; i++)
    if (!str_eq(a->hosts[i], b->hosts[i]))
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

char *
config_fixed_change(const struct config *a, const struct config *b)
{
  if (!str_eq(a->state_dir, b->state_dir))
    return xasprintf("%s: state_dir changed (%s -> %s); restart tend to move "
                     "it",
                     b->file, a->state_dir, b->state_dir);
  return NULL;
}

char *
config_http_change(const struct config *a, const struct config *b)
{
  if (http_differs(&a->http, &b->http))
    return xasprintf("%s: http changed; the API keeps its address until tend "
                     "restarts (the rest of the edit is applied)",
                     b->file);
  return NULL;
}

/* Returns 1 when a root-only setting differs. */
static int
diff_root(const struct config *a, const struct config *b)
{
  return !str_eq(a->root->name, b->root->name) ||
         a->on_give_up != b->on_give_up ||
         http_differs(&a->http, &b->http) ||
         !str_eq(a->state_dir, b->state_dir) ||
         a->output.max_bytes != b->output.max_bytes ||
         a->output.keep != b->output.keep ||
         !str_eq(a->include_dir, b->include_dir);
}

/* Walks the old tree for stops, the new one for the rest, then orders
 * the lists as documented in config.h. */
size_t
config_diff(const struct config *old_cfg, const struct config *new_cfg,
            struct config_change **out)
{
  struct diff d;
  memset(&d, 0, sizeof d);
  d.old_by = strmap_new();
  d.new_by = strmap_new();
  d.old_root = old_cfg->root;
  d.new_root = new_cfg->root;
  diff_index(d.old_by, old_cfg->root);
  diff_index(d.new_by, new_cfg->root);

  diff_old(&d, old_cfg->root, 0);
  diff_new(&d, new_cfg->root, 0);
  if (diff_root(old_cfg, new_cfg))
    diff_push(&d, CONFIG_CHANGE_ROOT, old_cfg->root, new_cfg->root);

  size_t total = 0, k = 0;
  for (int i = 0; i < 5; i++)
    total += d.n[i];
  struct config_change *all = total ? xmalloc(total * sizeof *all) : NULL;
  /* The REMOVEs were found in config order; stops go in reverse. */
  for (size_t i = d.n[CONFIG_CHANGE_REMOVE]; i > 0; i--)
    all[k++] = d.lists[CONFIG_CHANGE_REMOVE][i - 1];
  for (int kind = CONFIG_CHANGE_CHANGE; kind <= CONFIG_CHANGE_ROOT; kind++)
    for (size_t i = 0; i < d.n[kind]; i++)
      all[k++] = d.lists[kind][i];
  for (int i = 0; i < 5; i++)
    free(d.lists[i]);
  strmap_free(d.old_by);
  strmap_free(d.new_by);
  *out = all;
  return total;
}
