/* config_pos: where a JSON path points in the raw text of a JSON document,
 * as a 1-based line:col (src/config_pos.h).
 *
 * Design. jansson keeps no positions for values, so the loader's errors,
 * which know the JSON path of what they are about, are mapped back to
 * line:col here. A forgiving tokenizer walks the raw text once and indexes
 * every value's offset (and its key's, for object members) and every line
 * start; each later lookup is a short walk down that index plus a binary
 * search of the lines. The text is usually one jansson has accepted, but
 * nothing here relies on it: any bytes give an answer, and every loop
 * consumes input or stops (tests/fuzz/fuzz_config_pos.c).
 *
 * Pure: no I/O, no globals. Ownership: an index borrows the text it was
 * built from; segments from config_pos_path_parse own their keys. */
#include "src/config_pos.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/buf.h"
#include "src/xalloc.h"

/* Returns s as a JSON string literal (new), so that user text in a message
 * can neither break the one-error-per-line format nor hide. */
char *
config_pos_quote(const char *s)
{
  struct buf b = BUF_ZERO;
  buf_add(&b, "\"", 1);
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') {
      char esc[2] = {'\\', (char)c};
      buf_add(&b, esc, 2);
    } else if (c == '\n' || c == '\t' || c == '\r') {
      char esc[2] = {'\\', c == '\n' ? 'n' : c == '\t' ? 't' : 'r'};
      buf_add(&b, esc, 2);
    } else if (c < 0x20 || c == 0x7f) {
      char esc[8];
      snprintf(esc, sizeof esc, "\\u%04x", c);
      buf_adds(&b, esc);
    } else {
      buf_add(&b, (const char *)&c, 1);
    }
  }
  buf_add(&b, "\"", 1);
  return buf_steal(&b, NULL);
}

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
      case 'b':
        buf[0] = '\b';
        break;
      case 'f':
        buf[0] = '\f';
        break;
      case 'n':
        buf[0] = '\n';
        break;
      case 'r':
        buf[0] = '\r';
        break;
      case 't':
        buf[0] = '\t';
        break;
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
      default:
        buf[0] = (unsigned char)e;
        break;
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

struct config_pos_index {
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
#define INDEX_MAX_DEPTH 4096

/* Indexes the value at the cursor and everything inside it; returns its
 * node. Malformed text (config_pos_locate takes any) ends a container early
 * rather than loop: every pass of the loop consumes input or stops. */
static size_t
index_value(struct config_pos_index *ix, struct scan *c, size_t key_off,
            int depth)
{
  size_t me = ix->n_nodes;
  ix->nodes = xgrow(ix->nodes, &ix->cap_nodes, me + 1, sizeof *ix->nodes);
  ix->nodes[me].off = c->i;
  ix->nodes[me].key_off = key_off;
  ix->nodes[me].first = 0;
  ix->nodes[me].count = 0;
  ix->n_nodes++;
  if (c->i >= c->len)
    return me;
  char open = c->s[c->i];
  if ((open != '{' && open != '[') || depth >= INDEX_MAX_DEPTH) {
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
    size_t kid = index_value(ix, c, koff, depth + 1);
    list = xgrow(list, &cap, n + 1, sizeof *list);
    list[n++] = kid;
    scan_ws(c);
    if (c->i < c->len && c->s[c->i] == ',')
      c->i++;
    else if (c->i == before)
      break;
  }
  ix->kids =
      xgrow(ix->kids, &ix->cap_kids, ix->n_kids + n + 1, sizeof *ix->kids);
  if (n)
    memcpy(ix->kids + ix->n_kids, list, n * sizeof *list);
  ix->nodes[me].first = ix->n_kids;
  ix->nodes[me].count = n;
  ix->n_kids += n;
  free(list);
  return me;
}

/* Returns a new index of text (the line table and every value). */
struct config_pos_index *
config_pos_index_new(const char *text, size_t len)
{
  struct config_pos_index *ix = xcalloc(1, sizeof *ix);
  struct scan c = {text, len, 0};
  ix->text = text;
  ix->len = len;
  ix->lines = xgrow(ix->lines, &ix->cap_lines, 1, sizeof *ix->lines);
  ix->lines[ix->n_lines++] = 0;
  for (size_t i = 0; i < len; i++)
    if (text[i] == '\n') {
      ix->lines =
          xgrow(ix->lines, &ix->cap_lines, ix->n_lines + 1, sizeof *ix->lines);
      ix->lines[ix->n_lines++] = i + 1;
    }
  scan_ws(&c);
  index_value(ix, &c, SIZE_MAX, 0);
  return ix;
}

/* Frees an index. NULL is a no-op. */
void
config_pos_index_free(struct config_pos_index *ix)
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
int
config_pos_find(const struct config_pos_index *ix,
                const struct config_pos_seg *segs, size_t n, int at_key,
                size_t *off)
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
void
config_pos_line_col(const struct config_pos_index *ix, size_t off, int *line,
                    int *col)
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

/* Frees segments whose keys were allocated by config_pos_path_parse. */
void
config_pos_segs_free(struct config_pos_seg *segs, size_t n)
{
  for (size_t i = 0; i < n; i++)
    free((char *)segs[i].key);
  free(segs);
}

/* Splits a textual path ("a.b[2][\"c.d\"]") into segments with new keys;
 * returns 0 or -EINVAL. */
int
config_pos_path_parse(const char *p, struct config_pos_seg **out, size_t *out_n)
{
  struct config_pos_seg *segs = NULL;
  size_t n = 0, cap = 0;
  if (strcmp(p, "(root)") == 0)
    p = "";
  while (*p) {
    struct config_pos_seg sg = {NULL, 0};
    if (*p == '[') {
      p++;
      if (*p == '"') {
        struct buf k = BUF_ZERO;
        for (p++; *p && *p != '"'; p++) {
          if (*p == '\\' && p[1])
            p++;
          buf_add(&k, p, 1);
        }
        if (p[0] != '"' || p[1] != ']') {
          buf_free(&k);
          goto bad;
        }
        p += 2;
        sg.key = buf_steal(&k, NULL);
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
  config_pos_segs_free(segs, n);
  return -EINVAL;
}

/* Parses the textual path, indexes the text, and walks the index. */
int
config_pos_locate(const char *text, size_t len, const char *path, int at_key,
                  int *line, int *col)
{
  struct config_pos_seg *segs;
  size_t n, off;
  if (config_pos_path_parse(path ? path : "", &segs, &n) < 0)
    return -EINVAL;
  struct config_pos_index *ix = config_pos_index_new(text, len);
  int rc = config_pos_find(ix, segs, n, at_key, &off);
  config_pos_line_col(ix, off, line, col);
  config_pos_index_free(ix);
  config_pos_segs_free(segs, n);
  return rc;
}

/* Builds the display form in a buffer, then hands it over. */
char *
config_pos_path_format(const struct config_pos_seg *segs, size_t n)
{
  struct buf b = BUF_ZERO;
  if (n == 0)
    return xstrdup("(root)");
  for (size_t i = 0; i < n; i++) {
    if (!segs[i].key) {
      char num[32];
      snprintf(num, sizeof num, "[%zu]", segs[i].idx);
      buf_adds(&b, num);
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
        buf_add(&b, ".", 1);
      buf_adds(&b, k);
    } else {
      char *q = config_pos_quote(k);
      buf_add(&b, "[", 1);
      buf_adds(&b, q);
      buf_add(&b, "]", 1);
      free(q);
    }
  }
  return buf_steal(&b, NULL);
}
