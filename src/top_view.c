/* top_view: the pure layout, filter and terminal-output parsing of
 * `tend top` (see top_view.h).
 *
 * DESIGN. The output pane must show a child's colours without letting the
 * child drive our terminal: a child that moves the cursor, clears the
 * screen or sets the window title would garble the UI. So the bytes go
 * through a small VT-style parser (ECMA-48's shape: text, ESC, CSI, OSC and
 * the other string controls) that keeps only what can be drawn: printable
 * UTF-8, and SGR (CSI ... m), which becomes a struct top_style. Everything
 * else is dropped. The parser's state lives in the buffer, so a sequence
 * or a UTF-8 character split between two chunks is joined, and a style
 * carries over line ends as it does on a terminal. A newline always ends
 * an escape sequence, so a runaway sequence (an OSC never terminated)
 * costs at most one line.
 *
 * Lines live in a ring of max_lines; each is one text buffer plus runs of
 * one style each, at most LINE_MAX_BYTES long (the rest is dropped: the
 * pane shows what fits on a screen line anyway). */
#include "src/top_view.h"

#include "src/xalloc.h"
#include "runners/fsm.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#define LINE_MAX_BYTES 4096
#define PARAMS_MAX 64

/* ------------------------------------------------------------------ SGR */

/* Maps a 0-255 channel to the 6 levels of the xterm colour cube. */
static int
cube_level(long v)
{
  if (v < 48)
    return 0;
  if (v < 115)
    return 1;
  return (int)((v - 35) / 40 > 5 ? 5 : (v - 35) / 40);
}

/* One number of an SGR list and whether a ':' joined it to the one
 * before (ITU T.416 sub-parameters: 38:2::R:G:B). */
struct sgr_tok {
  long v; /* -1 when empty */
  int colon;
};

/* Reads an extended colour (38/48) starting at toks[i] (the 38); returns
 * the index after what it used, and the colour (or -2 when malformed). */
static size_t
sgr_extended(const struct sgr_tok *toks, size_t n, size_t i, int *colour)
{
  size_t end = i + 1;

  *colour = -2;
  if (end < n && toks[end].colon) {
    /* Colon form: the group is every colon-joined token. */
    while (end < n && toks[end].colon)
      end++;
    size_t g = end - i; /* 38, mode, ... */
    if (g >= 3 && toks[i + 1].v == 5 && toks[i + 2].v >= 0 &&
        toks[i + 2].v <= 255)
      *colour = (int)toks[i + 2].v;
    else if (g >= 5 && toks[i + 1].v == 2)
      *colour = 16 + 36 * cube_level(toks[end - 3].v) +
                6 * cube_level(toks[end - 2].v) + cube_level(toks[end - 1].v);
    return end;
  }
  if (i + 2 < n && toks[i + 1].v == 5) {
    if (toks[i + 2].v >= 0 && toks[i + 2].v <= 255)
      *colour = (int)toks[i + 2].v;
    return i + 3;
  }
  if (i + 4 < n && toks[i + 1].v == 2) {
    *colour = 16 + 36 * cube_level(toks[i + 2].v) +
              6 * cube_level(toks[i + 3].v) + cube_level(toks[i + 4].v);
    return i + 5;
  }
  return n; /* malformed: the rest of the list is meaningless */
}

void
top_view_sgr(struct top_style *st, const char *params, size_t n)
{
  struct sgr_tok toks[PARAMS_MAX];
  size_t nt = 0, i = 0;

  /* Split at ';' and ':'; an empty field is -1 (0 where it means reset). */
  while (nt < PARAMS_MAX) {
    long v = -1;
    int colon = nt > 0 && i > 0 && params[i - 1] == ':';
    while (i < n && isdigit((unsigned char)params[i])) {
      v = (v < 0 ? 0 : v) * 10 + (params[i] - '0');
      if (v > 100000)
        v = 100000;
      i++;
    }
    toks[nt].v = v;
    toks[nt].colon = colon;
    nt++;
    if (i >= n || (params[i] != ';' && params[i] != ':'))
      break;
    i++;
  }
  for (i = 0; i < nt;) {
    long v = toks[i].v < 0 ? 0 : toks[i].v;
    int colour;
    if (v == 38 || v == 48) {
      i = sgr_extended(toks, nt, i, &colour);
      if (colour >= -1) {
        if (v == 38)
          st->fg = (int16_t)colour;
        else
          st->bg = (int16_t)colour;
      }
      continue;
    }
    i++;
    if (v == 0) {
      st->fg = st->bg = -1;
      st->flags = 0;
    } else if (v == 1) {
      st->flags |= TOP_BOLD;
    } else if (v == 2) {
      st->flags |= TOP_DIM;
    } else if (v == 3) {
      st->flags |= TOP_ITALIC;
    } else if (v == 4) {
      st->flags |= TOP_UNDERLINE;
    } else if (v == 7) {
      st->flags |= TOP_REVERSE;
    } else if (v == 22) {
      st->flags &= (uint8_t) ~(TOP_BOLD | TOP_DIM);
    } else if (v == 23) {
      st->flags &= (uint8_t)~TOP_ITALIC;
    } else if (v == 24) {
      st->flags &= (uint8_t)~TOP_UNDERLINE;
    } else if (v == 27) {
      st->flags &= (uint8_t)~TOP_REVERSE;
    } else if (v >= 30 && v <= 37) {
      st->fg = (int16_t)(v - 30);
    } else if (v == 39) {
      st->fg = -1;
    } else if (v >= 40 && v <= 47) {
      st->bg = (int16_t)(v - 40);
    } else if (v == 49) {
      st->bg = -1;
    } else if (v >= 90 && v <= 97) {
      st->fg = (int16_t)(v - 90 + 8);
    } else if (v >= 100 && v <= 107) {
      st->bg = (int16_t)(v - 100 + 8);
    }
    /* Anything else (blink, fonts, ...) is ignored. */
  }
}

int
top_view_colour8(int colour, int *bright)
{
  *bright = 0;
  if (colour < 0)
    return -1;
  if (colour < 8)
    return colour;
  if (colour < 16) {
    *bright = 1;
    return colour - 8;
  }
  if (colour < 232) {
    int c = colour - 16, r = c / 36, g = c / 6 % 6, b = c % 6;
    *bright = r == 5 || g == 5 || b == 5;
    return (r >= 3 ? 1 : 0) | (g >= 3 ? 2 : 0) | (b >= 3 ? 4 : 0);
  }
  if (colour < 256) {
    int level = colour - 232; /* 0 (near black) to 23 (near white) */
    *bright = (level >= 6 && level < 12) || level >= 18;
    return level < 12 ? 0 : 7;
  }
  return -1;
}

/* ------------------------------------------------------ the output pane */

enum pstate { P_TEXT, P_ESC, P_ESC_INTER, P_CSI, P_STRING, P_STRING_ESC };

struct top_out {
  struct top_line *lines; /* a ring of max */
  size_t max, head, count;
  uint64_t dropped;
  int open; /* the last line is still being written */
  int cr;   /* a CR came: the next character starts the line again */
  struct top_style st;
  enum pstate ps;
  char params[PARAMS_MAX];
  size_t np;
  int csi_private; /* intermediate or private bytes: not an SGR */
  size_t string_len;
  unsigned char u8[4];
  size_t nu8, need;
};

struct top_out *
top_out_new(size_t max_lines)
{
  struct top_out *o = xcalloc(1, sizeof *o);

  o->max = max_lines ? max_lines : 1;
  o->lines = xcalloc(o->max, sizeof *o->lines);
  o->st = (struct top_style)TOP_STYLE_ZERO;
  return o;
}

void
top_out_free(struct top_out *o)
{
  if (!o)
    return;
  for (size_t i = 0; i < o->max; i++) {
    free(o->lines[i].text);
    free(o->lines[i].segs);
  }
  free(o->lines);
  free(o);
}

void
top_out_clear(struct top_out *o)
{
  for (size_t i = 0; i < o->max; i++) {
    o->lines[i].len = o->lines[i].cols = o->lines[i].nsegs = 0;
  }
  o->head = o->count = 0;
  o->dropped = 0;
  o->open = o->cr = 0;
  o->st = (struct top_style)TOP_STYLE_ZERO;
  o->ps = P_TEXT;
  o->np = o->nu8 = o->need = 0;
}

size_t
top_out_count(const struct top_out *o)
{
  return o->count;
}

const struct top_line *
top_out_line(const struct top_out *o, size_t i)
{
  return i < o->count ? &o->lines[(o->head + i) % o->max] : NULL;
}

uint64_t
top_out_dropped(const struct top_out *o)
{
  return o->dropped;
}

/* Starts a new (open) line, dropping the oldest when the ring is full. */
static struct top_line *
line_new(struct top_out *o)
{
  struct top_line *l;

  if (o->count == o->max) {
    o->head = (o->head + 1) % o->max;
    o->count--;
    o->dropped++;
  }
  l = &o->lines[(o->head + o->count) % o->max];
  o->count++;
  l->len = l->cols = l->nsegs = 0;
  o->open = 1;
  return l;
}

/* The open line, started when there is none. */
static struct top_line *
line_open(struct top_out *o)
{
  if (!o->open || o->count == 0)
    return line_new(o);
  return &o->lines[(o->head + o->count - 1) % o->max];
}

/* Returns 1 when two styles draw the same. */
static int
style_eq(const struct top_style *a, const struct top_style *b)
{
  return a->fg == b->fg && a->bg == b->bg && a->flags == b->flags;
}

/* Appends one character (n bytes of UTF-8, width columns) in style st. */
static void
line_add(struct top_out *o, const char *s, size_t n, int width,
         const struct top_style *st)
{
  struct top_line *l = line_open(o);
  struct top_seg *last;

  if (o->cr) {
    l->len = l->cols = l->nsegs = 0;
    o->cr = 0;
  }
  if (l->len + n > LINE_MAX_BYTES)
    return;
  if (l->len + n > l->cap_text) {
    l->cap_text = l->cap_text ? l->cap_text * 2 : 128;
    while (l->cap_text < l->len + n)
      l->cap_text *= 2;
    l->text = xrealloc(l->text, l->cap_text);
  }
  memcpy(l->text + l->len, s, n);
  last = l->nsegs ? &l->segs[l->nsegs - 1] : NULL;
  if (last && style_eq(&last->st, st)) {
    last->len += n;
  } else {
    if (l->nsegs == l->cap_segs) {
      l->cap_segs = l->cap_segs ? l->cap_segs * 2 : 4;
      l->segs = xrealloc(l->segs, l->cap_segs * sizeof *l->segs);
    }
    l->segs[l->nsegs++] = (struct top_seg){.st = *st, .off = l->len, .len = n};
  }
  l->len += n;
  l->cols += (size_t)width;
}

/* Ends the open line (an empty one when none is open). */
static void
line_end(struct top_out *o)
{
  if (!o->open)
    line_new(o);
  o->open = 0;
  o->cr = 0;
}

/* The columns a code point takes: 1 for what the locale cannot tell. */
static int
cp_width(unsigned long cp)
{
  int w = wcwidth((wchar_t)cp);

  return w < 0 ? 1 : w;
}

/* Adds a complete UTF-8 character in o->u8 (or '?' for a bad one). */
static void
add_utf8(struct top_out *o)
{
  unsigned long cp;
  size_t n = o->nu8;
  const unsigned char *b = o->u8;

  if (n == 2)
    cp = (unsigned long)(b[0] & 0x1f) << 6 | (b[1] & 0x3f);
  else if (n == 3)
    cp = (unsigned long)(b[0] & 0x0f) << 12 |
         (unsigned long)(b[1] & 0x3f) << 6 | (b[2] & 0x3f);
  else
    cp = (unsigned long)(b[0] & 0x07) << 18 |
         (unsigned long)(b[1] & 0x3f) << 12 |
         (unsigned long)(b[2] & 0x3f) << 6 | (b[3] & 0x3f);
  o->nu8 = o->need = 0;
  /* Overlong forms, surrogates and values past U+10FFFF are not UTF-8. */
  if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) ||
      (n == 4 && cp < 0x10000) || (cp >= 0xd800 && cp <= 0xdfff) ||
      cp > 0x10ffff) {
    line_add(o, "?", 1, 1, &o->st);
    return;
  }
  if (cp < 0xa0)
    return; /* C1 controls */
  line_add(o, (const char *)b, n, cp_width(cp), &o->st);
}

/* One byte in text state. */
static void
feed_text(struct top_out *o, unsigned char c)
{
  if (o->need) {
    if ((c & 0xc0) == 0x80) {
      o->u8[o->nu8++] = c;
      if (o->nu8 == o->need)
        add_utf8(o);
      return;
    }
    o->nu8 = o->need = 0; /* cut short: a bad character, then c anew */
    line_add(o, "?", 1, 1, &o->st);
  }
  if (c == 0x1b) {
    o->ps = P_ESC;
  } else if (c == '\n') {
    line_end(o);
  } else if (c == '\r') {
    o->cr = 1;
  } else if (c == '\t') {
    struct top_line *l = line_open(o);
    size_t to = (l->cols / 8 + 1) * 8;
    if (o->cr)
      to = 8;
    for (size_t k = o->cr ? 0 : l->cols; k < to; k++)
      line_add(o, " ", 1, 1, &o->st);
  } else if (c < 0x20 || c == 0x7f) {
    /* Other controls (BEL, BS, ...) are dropped. */
  } else if (c < 0x80) {
    char ch = (char)c;
    line_add(o, &ch, 1, 1, &o->st);
  } else if ((c & 0xe0) == 0xc0 || (c & 0xf0) == 0xe0 || (c & 0xf8) == 0xf0) {
    o->u8[0] = c;
    o->nu8 = 1;
    o->need = (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : 4;
  } else {
    line_add(o, "?", 1, 1, &o->st);
  }
}

/* One byte, in whatever state the parser is. */
static void
feed_byte(struct top_out *o, unsigned char c)
{
  if (c == '\n' && o->ps != P_TEXT) {
    o->ps = P_TEXT; /* a newline ends any sequence */
    feed_text(o, c);
    return;
  }
  switch (o->ps) {
  case P_TEXT:
    feed_text(o, c);
    break;
  case P_ESC:
    if (c == '[') {
      o->ps = P_CSI;
      o->np = 0;
      o->csi_private = 0;
    } else if (c == ']' || c == 'P' || c == 'X' || c == '^' || c == '_') {
      o->ps = P_STRING;
      o->string_len = 0;
    } else if (c >= 0x20 && c <= 0x2f) {
      o->ps = P_ESC_INTER;
    } else if (c == 0x1b) {
      o->ps = P_ESC;
    } else {
      o->ps = P_TEXT; /* a two-byte sequence (ESC 7, ESC =, ...) */
    }
    break;
  case P_ESC_INTER:
    if (c < 0x20 || c > 0x2f)
      o->ps = c == 0x1b ? P_ESC : P_TEXT;
    break;
  case P_CSI:
    if (c >= 0x40 && c <= 0x7e) {
      if (c == 'm' && !o->csi_private)
        top_view_sgr(&o->st, o->params, o->np);
      o->ps = P_TEXT;
    } else if (c >= 0x30 && c <= 0x3f) {
      if (c == '<' || c == '=' || c == '>' || c == '?')
        o->csi_private = 1;
      if (o->np < PARAMS_MAX)
        o->params[o->np++] = (char)c;
      else
        o->csi_private = 1; /* too long to be an honest SGR */
    } else if (c >= 0x20 && c <= 0x2f) {
      o->csi_private = 1;
    } else if (c == 0x1b) {
      o->ps = P_ESC;
    } else if (c >= 0x80 || c == 0x18 || c == 0x1a) {
      o->ps = P_TEXT; /* CAN, SUB or junk cancel the sequence */
    }
    break;
  case P_STRING:
    if (c == 0x07)
      o->ps = P_TEXT;
    else if (c == 0x1b)
      o->ps = P_STRING_ESC;
    else if (++o->string_len > LINE_MAX_BYTES)
      o->ps = P_TEXT;
    break;
  case P_STRING_ESC:
    o->ps = P_TEXT;
    if (c != '\\') {
      o->ps = P_ESC; /* ESC cancels the string and starts a sequence */
      feed_byte(o, c);
    }
    break;
  }
}

void
top_out_feed(struct top_out *o, const char *bytes, size_t n)
{
  for (size_t i = 0; i < n; i++)
    feed_byte(o, (unsigned char)bytes[i]);
}

void
top_out_note(struct top_out *o, const char *text, const struct top_style *st)
{
  struct top_style child = o->st;
  enum pstate ps = o->ps;
  size_t nu8 = o->nu8, need = o->need;
  unsigned char u8[4];

  memcpy(u8, o->u8, sizeof u8);
  if (o->open)
    o->open = 0;
  o->cr = 0;
  o->ps = P_TEXT;
  o->nu8 = o->need = 0;
  o->st = *st;
  for (const char *p = text; *p; p++) {
    if (*p == 0x1b)
      continue; /* a note is plain text */
    feed_text(o, (unsigned char)*p);
  }
  if (o->open)
    line_end(o);
  o->st = child;
  o->ps = ps;
  o->nu8 = nu8;
  o->need = need;
  memcpy(o->u8, u8, sizeof u8);
}

size_t
top_view_fit(const char *text, size_t len, size_t cols)
{
  size_t i = 0, used = 0;

  while (i < len) {
    unsigned char c = (unsigned char)text[i];
    size_t n = c < 0x80             ? 1
               : (c & 0xe0) == 0xc0 ? 2
               : (c & 0xf0) == 0xe0 ? 3
                                    : 4;
    unsigned long cp = c;
    int w;

    if (i + n > len)
      break;
    if (n == 2)
      cp = (unsigned long)(c & 0x1f) << 6 | (text[i + 1] & 0x3f);
    else if (n == 3)
      cp = (unsigned long)(c & 0x0f) << 12 |
           (unsigned long)(text[i + 1] & 0x3f) << 6 | (text[i + 2] & 0x3f);
    else if (n == 4)
      cp = (unsigned long)(c & 0x07) << 18 |
           (unsigned long)(text[i + 1] & 0x3f) << 12 |
           (unsigned long)(text[i + 2] & 0x3f) << 6 | (text[i + 3] & 0x3f);
    w = cp_width(cp);
    if (used + (size_t)w > cols)
      break;
    used += (size_t)w;
    i += n;
  }
  return i;
}

/* ------------------------------------------------------------- the tree */

int
top_view_match(const char *name, const char *filter)
{
  size_t nl, fl;

  if (!filter || !*filter)
    return 1;
  if (!name)
    return 0;
  nl = strlen(name);
  fl = strlen(filter);
  for (size_t i = 0; i + fl <= nl; i++)
    if (strncasecmp(name + i, filter, fl) == 0)
      return 1;
  return 0;
}

void
top_view_duration(int64_t ms, char *out, size_t cap)
{
  long long s = ms < 0 ? 0 : (long long)(ms / 1000);

  if (s < 60)
    snprintf(out, cap, "%llds", s);
  else if (s < 3600)
    snprintf(out, cap, "%lldm%02llds", s / 60, s % 60);
  else if (s < 86400)
    snprintf(out, cap, "%lldh%02lldm", s / 3600, s % 3600 / 60);
  else
    snprintf(out, cap, "%lldd%02lldh", s / 86400, s % 86400 / 3600);
}

/* Formats an integer field, or "-" when absent or null. */
static void
int_field(json_t *node, const char *key, char *out, size_t cap)
{
  json_t *v = json_object_get(node, key);

  if (json_is_integer(v))
    snprintf(out, cap, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
  else
    snprintf(out, cap, "-");
}

/* Adds node (when it matches) and its children to the growing rows. */
static void
rows_add(json_t *node, int depth, const char *filter, int64_t now,
         struct top_row **rows, size_t *n, size_t *cap)
{
  const char *name = json_string_value(json_object_get(node, "name"));
  const char *kind = json_string_value(json_object_get(node, "kind"));
  const char *state = json_string_value(json_object_get(node, "state"));
  json_t *since = json_object_get(node, "since");
  json_t *le = json_object_get(node, "last_exit");
  json_t *kids = json_object_get(node, "children");
  size_t i;

  if (!json_is_object(node) || depth > 64)
    return;
  if (top_view_match(name, filter)) {
    struct top_row *r;
    if (*n == *cap) {
      *cap = *cap ? *cap * 2 : 16;
      *rows = xrealloc(*rows, *cap * sizeof **rows);
    }
    r = &(*rows)[(*n)++];
    memset(r, 0, sizeof *r);
    r->depth = depth;
    r->is_group = kind && strcmp(kind, "group") == 0;
    r->name = xstrdup(name ? name : "?");
    snprintf(r->state, sizeof r->state, "%s", state ? state : "?");
    int_field(node, "pid", r->pid, sizeof r->pid);
    int_field(node, "restarts", r->restarts, sizeof r->restarts);
    snprintf(r->uptime, sizeof r->uptime, "-");
    if (state && json_is_integer(since) &&
        fsm_state_name_is(state, fsm_state_alive))
      top_view_duration(now - json_integer_value(since), r->uptime,
                        sizeof r->uptime);
    if (json_is_integer(json_object_get(le, "status")))
      snprintf(r->last_exit, sizeof r->last_exit,
               "status %" JSON_INTEGER_FORMAT,
               json_integer_value(json_object_get(le, "status")));
    else if (json_is_string(json_object_get(le, "signal")))
      snprintf(r->last_exit, sizeof r->last_exit, "signal %s",
               json_string_value(json_object_get(le, "signal")));
    else
      snprintf(r->last_exit, sizeof r->last_exit, "-");
    r->output_seq = json_integer_value(json_object_get(node, "output_seq"));
  }
  for (i = 0; i < json_array_size(kids); i++) /* cppcheck: no foreach */
    rows_add(json_array_get(kids, i), depth + 1, filter, now, rows, n, cap);
}

size_t
top_view_rows(json_t *tree, const char *filter, int64_t now_ms,
              struct top_row **rows)
{
  size_t n = 0, cap = 0;

  *rows = NULL;
  rows_add(tree, 0, filter, now_ms, rows, &n, &cap);
  return n;
}

void
top_view_rows_free(struct top_row *rows, size_t n)
{
  for (size_t i = 0; i < n; i++)
    free(rows[i].name);
  free(rows);
}

/* ----------------------------------------------------------- the screen */

void
top_view_layout(int lines, int nrows, struct top_layout *l)
{
  int avail = lines - 4; /* title, heads, separator, status */

  memset(l, 0, sizeof *l);
  l->tree_y = 2;
  l->status_y = lines > 0 ? lines - 1 : 0;
  if (avail < 2) {
    /* No room for output: the tree only, between heads and status. */
    l->tree_h = lines - 3 > 0 ? lines - 3 : 0;
    l->sep_y = l->out_y = -1;
    return;
  }
  l->tree_h = nrows < 1 ? 1 : nrows;
  if (l->tree_h > avail / 2)
    l->tree_h = avail / 2 > 0 ? avail / 2 : 1;
  l->sep_y = l->tree_y + l->tree_h;
  l->out_y = l->sep_y + 1;
  l->out_h = avail - l->tree_h;
}

int
top_view_scroll(int sel, int first, int height, int n)
{
  if (height <= 0 || n <= height)
    return 0;
  if (sel < first)
    first = sel;
  if (sel >= first + height)
    first = sel - height + 1;
  if (first > n - height)
    first = n - height;
  return first < 0 ? 0 : first;
}
