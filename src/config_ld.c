/* config_ld: the loader's state and the tools every part of the validator
 * uses (src/config_ld.h): the JSON path stack, errors with their
 * file:line:col, typed getters that report a wrong type at the value, the
 * unknown-key check with its "did you mean", and small string and path
 * helpers.
 *
 * Design. The validator keeps the current JSON path as a stack of segments
 * whose keys are borrowed from the jansson documents (or are literals); the
 * documents live until the load ends. An error records its source, its
 * position (src/config_pos.c maps the path to line:col; the index of a file
 * is built on its first error, so N errors cost N short walks, not N
 * scans), the display form of its path and its message. The files of the
 * "include" folder are sources of their own: their errors carry their own
 * file name and positions, while their paths are written from the root of
 * the merged tree ("children[3].cmd"), like every other path. At the end
 * the errors are sorted by file and position (then discovery), so the user
 * reads them in document order.
 *
 * Internal to the config modules: the names are config__* (STYLE.md 2). */
#include "src/config_ld.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "src/config_pos.h"
#include "src/enumname.h"
#include "src/strmap.h"
#include "src/xalloc.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* The largest number of seconds accepted (CONFIG__MS_MAX in ms). */
#define SECONDS_MAX 1e9

/* ------------------------------------------------------------------------ */
/* Small strings and paths                                                   */
/* ------------------------------------------------------------------------ */

/* jansson quotes the raw text near a syntax error, which may hold a line
 * break or another control character: blank those in place, so that the
 * error stays on its one line (found by tests/fuzz/fuzz_config). */
const char *
config__je_text(json_error_t *je)
{
  for (char *c = je->text; *c; c++)
    if ((unsigned char)*c < 0x20 || *c == 0x7f)
      *c = ' ';
  return je->text;
}

/* Returns rel resolved against the absolute folder base, lexically
 * normalised ("." and ".." folded, no doubled or trailing slash) (new). The
 * folders need not exist: a cwd may be created by an earlier step. */
char *
config__path_resolve(const char *base, const char *rel)
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

/* Reads a whole file; returns 0 and *text (new, NUL-terminated) or -errno. */
int
config__read_file(const char *path, char **text, size_t *len)
{
  FILE *f = fopen(path, "rb");
  if (!f)
    return -errno;
  struct buf b = BUF_ZERO;
  char chunk[8192];
  size_t n;
  while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
    buf_add(&b, chunk, n);
  int err = ferror(f) ? -EIO : 0;
  fclose(f);
  if (err) {
    buf_free(&b);
    return err;
  }
  *len = b.len;
  *text = buf_steal(&b, NULL);
  return 0;
}

/* Frees a NULL-terminated array of strings. */
void
config__strv_free(char **v)
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
    {"environment", "env"},
    {"command", "cmd"},
    {"working_dir", "cwd"},
    {"workdir", "cwd"},
    {"directory", "cwd"},
    {"autorestart", "restart"},
    {"restart_policy", "restart"},
    {"depends_on", "after"},
    {"stopsignal", "stop"},
    {"stop_signal", "stop"},
    {"processes", "children"},
    {"programs", "children"},
    {"services", "children"},
    {"env_files", "env_file"},
    {"startretries", "restart_limit"},
    {"max_memory_restart", "max_memory"},
    {"readiness_probe", "ready"},
    {"liveness_probe", "health"},
    {"healthcheck", "health"},
    {"tty", "pty"},
    {"is_tty", "pty"},
};

const char *
config__closest(const char *s, const char *const *cands, size_t n)
{
  const char *best = NULL;
  size_t best_d = SIZE_MAX, len = strlen(s);

  /* What other tools call a key (and misspellings of that) first. */
  for (size_t i = 0; i < COUNT(key_synonyms); i++) {
    size_t d = edit_distance(s, key_synonyms[i][0]);
    if (d <= (strlen(key_synonyms[i][0]) <= 5 ? 0u : 2u) &&
        enumname_index(cands, n, key_synonyms[i][1]) >= 0)
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
/* The loader's state and error collection                                   */
/* ------------------------------------------------------------------------ */

/* Releases the loader's state (not the config). */
void
config__ld_free(struct config__ld *ld)
{
  for (size_t i = 0; i < ld->n_srcs; i++) {
    free(ld->srcs[i].disp);
    if (ld->srcs[i].own_text)
      free(ld->srcs[i].text);
    json_decref(ld->srcs[i].doc);
    config_pos_index_free(ld->srcs[i].ix);
  }
  free(ld->srcs);
  free(ld->path);
  for (size_t i = 0; i < ld->n_errs; i++) {
    free(ld->errs[i].path);
    free(ld->errs[i].message);
  }
  free(ld->errs);
  for (size_t i = 0; i < ld->n_warns; i++) {
    free(ld->warns[i].path);
    free(ld->warns[i].message);
  }
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

/* Returns s quoted as JSON; the string lives until the load ends. */
const char *
config__q(struct config__ld *ld, const char *s)
{
  ld->scratch = xgrow(ld->scratch, &ld->cap_scratch, ld->n_scratch + 1,
                      sizeof *ld->scratch);
  return ld->scratch[ld->n_scratch++] = config_pos_quote(s);
}

/* Enters an object key (key non-NULL) or an array index. */
void
config__push(struct config__ld *ld, const char *key, size_t idx)
{
  ld->path = xgrow(ld->path, &ld->cap_path, ld->depth + 1, sizeof *ld->path);
  ld->path[ld->depth].key = key;
  ld->path[ld->depth].idx = idx;
  ld->depth++;
}

/* Leaves the innermost path segment. */
void
config__pop(struct config__ld *ld)
{
  ld->depth--;
}

/* Returns a copy of the current path (keys borrowed). */
struct config_pos_seg *
config__path_copy(const struct config__ld *ld)
{
  struct config_pos_seg *s = xmalloc((ld->depth ? ld->depth : 1) * sizeof *s);
  memcpy(s, ld->path, ld->depth * sizeof *s);
  return s;
}

/* Finds where segs points in source src. */
void
config__position(struct config__ld *ld, size_t src,
                 const struct config_pos_seg *segs, size_t n, int at_key,
                 int *line, int *col)
{
  struct config__src *s = &ld->srcs[src];
  size_t base = s->base <= n ? s->base : n;
  size_t off = 0;
  if (!s->ix)
    s->ix = config_pos_index_new(s->text, s->len);
  /* segs is NULL for an error at the root (NULL + 0 is UB). */
  config_pos_find(s->ix, segs ? segs + base : NULL, n - base, at_key, &off);
  config_pos_line_col(s->ix, off, line, col);
}

/* Records one error of source src (path and message taken; path NULL for
 * an error that has none, such as a syntax error). */
void
config__add(struct config__ld *ld, size_t src, int line, int col, char *path,
            char *message)
{
  ld->errs = xgrow(ld->errs, &ld->cap_errs, ld->n_errs + 1, sizeof *ld->errs);
  ld->errs[ld->n_errs] =
      (struct config__cerr){src, ld->n_errs, line, col, path, message, 0};
  ld->n_errs++;
}

/* Records an error about the value at segs (or its key when at_key): its
 * position, its path's display form and the formatted message. */
static void __attribute__((format(printf, 6, 0)))
verr(struct config__ld *ld, size_t src, const struct config_pos_seg *segs,
     size_t n, int at_key, const char *fmt, va_list ap)
{
  int line, col;
  struct buf msg = BUF_ZERO;
  config__position(ld, src, segs, n, at_key, &line, &col);
  buf_vaddf(&msg, fmt, ap);
  config__add(ld, src, line, col, config_pos_path_format(segs, n),
              buf_steal(&msg, NULL));
}

/* Reports an error about the value at the current path. */
void
config__err(struct config__ld *ld, int at_key, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  verr(ld, ld->cur, ld->path, ld->depth, at_key, fmt, ap);
  va_end(ap);
}

/* Reports an error about obj[key] (its value, or its key when at_key). */
void
config__err_key(struct config__ld *ld, const char *key, int at_key,
                const char *fmt, ...)
{
  va_list ap;
  config__push(ld, key, 0);
  va_start(ap, fmt);
  verr(ld, ld->cur, ld->path, ld->depth, at_key, fmt, ap);
  va_end(ap);
  config__pop(ld);
}

/* Reports an error about the value at segs in source src. */
void
config__err_at(struct config__ld *ld, size_t src,
               const struct config_pos_seg *segs, size_t n, const char *fmt,
               ...)
{
  va_list ap;
  va_start(ap, fmt);
  verr(ld, src, segs, n, 0, fmt, ap);
  va_end(ap);
}

/* Reports an error at obj[key][i]. */
void
config__err_idx(struct config__ld *ld, const char *key, size_t i,
                const char *fmt, ...)
{
  va_list ap;
  config__push(ld, key, 0);
  config__push(ld, NULL, i);
  va_start(ap, fmt);
  verr(ld, ld->cur, ld->path, ld->depth, 0, fmt, ap);
  va_end(ap);
  config__pop(ld);
  config__pop(ld);
}

/* Records a `tend check` finding about obj[key] (or obj[key][idx] when
 * idx >= 0): a warning, or an error of a file the config names when
 * is_error. */
void
config__note(struct config__ld *ld, const char *key, long idx, int is_error,
             const char *fmt, ...)
{
  va_list ap;
  int line, col;
  struct buf msg = BUF_ZERO;

  config__push(ld, key, 0);
  if (idx >= 0)
    config__push(ld, NULL, (size_t)idx);
  config__position(ld, ld->cur, ld->path, ld->depth, 0, &line, &col);
  va_start(ap, fmt);
  buf_vaddf(&msg, fmt, ap);
  va_end(ap);
  ld->warns =
      xgrow(ld->warns, &ld->cap_warns, ld->n_warns + 1, sizeof *ld->warns);
  ld->warns[ld->n_warns] =
      (struct config__cerr){ld->cur,
                            ld->n_warns,
                            line,
                            col,
                            config_pos_path_format(ld->path, ld->depth),
                            buf_steal(&msg, NULL),
                            !is_error};
  ld->n_warns++;
  if (idx >= 0)
    config__pop(ld);
  config__pop(ld);
  if (is_error)
    ld->n_check_errors++;
}

/* Orders errors by file, then position, then discovery. */
static int
cerr_cmp(const void *a, const void *b)
{
  const struct config__cerr *x = a, *y = b;
  if (x->src != y->src)
    return x->src < y->src ? -1 : 1;
  if (x->line != y->line)
    return x->line < y->line ? -1 : 1;
  if (x->col != y->col)
    return x->col < y->col ? -1 : 1;
  return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Sorts the n records of v, then moves them into *out (new: the paths and
 * messages change hands, the records are emptied), each named with its
 * file. */
void
config__errors_take(struct config__ld *ld, struct config__cerr *v, size_t n,
                    struct config_errors *out)
{
  out->v = n ? xcalloc(n, sizeof *out->v) : NULL;
  out->n = n;
  if (n > 0)
    qsort(v, n, sizeof *v, cerr_cmp);
  for (size_t i = 0; i < n; i++) {
    out->v[i].file = xstrdup(ld->srcs[v[i].src].disp);
    out->v[i].line = v[i].line;
    out->v[i].col = v[i].col;
    out->v[i].path = v[i].path;
    out->v[i].message = v[i].message;
    out->v[i].warning = v[i].warning;
    v[i].path = v[i].message = NULL;
  }
}

/* Adds a source; returns its index. The display name is taken. */
size_t
config__add_src(struct config__ld *ld, char *disp, char *text, size_t len,
                int own, size_t base)
{
  ld->srcs = xgrow(ld->srcs, &ld->cap_srcs, ld->n_srcs + 1, sizeof *ld->srcs);
  struct config__src *s = &ld->srcs[ld->n_srcs];
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
int
config__get_int(struct config__ld *ld, json_t *obj, const char *key,
                int64_t min, int64_t max, int64_t *out)
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
    config__err_key(ld, key, 0, "expected an integer >= %" PRId64, min);
  else
    config__err_key(ld, key, 0,
                    "expected an integer between %" PRId64 " and %" PRId64, min,
                    max);
  return -1;
}

/* Reads a number of seconds (> 0, or >= 0 when zero_ok) as milliseconds. */
int
config__get_seconds(struct config__ld *ld, json_t *obj, const char *key,
                    int zero_ok, int64_t *ms)
{
  json_t *v = json_object_get(obj, key);
  if (!v)
    return 0;
  double d = json_is_number(v) ? json_number_value(v) : -1;
  if (!json_is_number(v) || d < 0 || (!zero_ok && d == 0)) {
    config__err_key(ld, key, 0,
                    zero_ok ? "expected a number >= 0"
                            : "expected a number > 0");
    return -1;
  }
  if (d > SECONDS_MAX) {
    config__err_key(ld, key, 0, "expected a number <= %.0f", SECONDS_MAX);
    return -1;
  }
  int64_t v_ms = (int64_t)llround(d * 1000.0);
  if (!zero_ok && v_ms < 1)
    v_ms = 1;
  *ms = v_ms;
  return 1;
}

/* Reads true or false. */
int
config__get_bool(struct config__ld *ld, json_t *obj, const char *key, int *out)
{
  json_t *v = json_object_get(obj, key);
  if (!v)
    return 0;
  if (!json_is_boolean(v)) {
    config__err_key(ld, key, 0, "expected true or false");
    return -1;
  }
  *out = json_is_true(v);
  return 1;
}

/* Reads a string (borrowed from the document); non-empty when required. */
int
config__get_string(struct config__ld *ld, json_t *obj, const char *key,
                   int nonempty, const char **out)
{
  json_t *v = json_object_get(obj, key);
  if (!v)
    return 0;
  if (!json_is_string(v)) {
    config__err_key(ld, key, 0, "expected a string");
    return -1;
  }
  if (nonempty && json_string_length(v) == 0) {
    config__err_key(ld, key, 0, "expected a non-empty string");
    return -1;
  }
  *out = json_string_value(v);
  return 1;
}

/* Reads an object. */
int
config__get_object(struct config__ld *ld, json_t *obj, const char *key,
                   json_t **out)
{
  json_t *v = json_object_get(obj, key);
  if (!v)
    return 0;
  if (!json_is_object(v)) {
    config__err_key(ld, key, 0, "expected an object");
    return -1;
  }
  *out = v;
  return 1;
}

/* Reads one of the strings in names; *out is its index. */
int
config__get_choice(struct config__ld *ld, json_t *obj, const char *key,
                   const char *const *names, size_t n, int *out)
{
  json_t *v = json_object_get(obj, key);
  if (!v)
    return 0;
  int i =
      json_is_string(v) ? enumname_index(names, n, json_string_value(v)) : -1;
  if (i < 0) {
    struct buf b = BUF_ZERO;
    for (size_t k = 0; k < n; k++)
      buf_addf(&b, "%s%s", k ? ", " : "", names[k]);
    config__err_key(ld, key, 0, "expected one of %s", b.data);
    buf_free(&b);
    return -1;
  }
  *out = i;
  return 1;
}

/* Reads an array of strings (non-empty strings; a non-empty array when
 * required); relative ones are resolved against the config's folder when
 * resolve. *out is NULL-terminated. */
int
config__get_strings(struct config__ld *ld, json_t *obj, const char *key,
                    int nonempty_list, int resolve, char ***out, size_t *n_out)
{
  json_t *v = json_object_get(obj, key);
  if (!v)
    return 0;
  if (!json_is_array(v) || (nonempty_list && json_array_size(v) == 0)) {
    config__err_key(ld, key, 0,
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
      config__err_idx(ld, key, i, "expected a non-empty string");
      bad = 1;
      continue;
    }
    list[k++] = resolve
                    ? config__path_resolve(ld->cfg->dir, json_string_value(e))
                    : xstrdup(json_string_value(e));
  }
  config__strv_free(*out);
  *out = list;
  *n_out = k;
  return bad ? -1 : 1;
}

/* Keys that start with "//" are comments (npm's convention; JSON has no
 * comments), allowed on every object and otherwise ignored. */
int
config__is_comment_key(const char *key)
{
  return key[0] == '/' && key[1] == '/';
}

/* Reports each key of obj that is not in known, suggesting a near one. */
void
config__check_keys(struct config__ld *ld, json_t *obj, const char *const *known,
                   size_t n)
{
  const char *key;
  json_t *v;
  json_object_foreach(obj, key, v)
  {
    if (enumname_index(known, n, key) >= 0 || config__is_comment_key(key))
      continue;
    const char *near = config__closest(key, known, n);
    if (near)
      config__err_key(ld, key, 1, "unknown key %s (did you mean \"%s\"?)",
                      config__q(ld, key), near);
    else
      config__err_key(ld, key, 1, "unknown key %s", config__q(ld, key));
  }
}
