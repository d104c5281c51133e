/* top_view: the pure half of `tend top` (issue 12): the tree flattened into
 * rows under a filter, the screen's layout, scrolling, and the output pane's
 * line buffer, which reads a child's bytes as a terminal would (SGR colour
 * codes become styles, every other escape sequence and control character
 * is dropped, a lone CR starts the line again).
 *
 * Nothing here touches the terminal or the network, so src/top.c only
 * draws what this computes, and tests/unit/test_top_view.c checks it. */
#ifndef TEND_TOP_VIEW_H
#define TEND_TOP_VIEW_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------ the styles */

#define TOP_BOLD 0x01u
#define TOP_DIM 0x02u
#define TOP_UNDERLINE 0x04u
#define TOP_REVERSE 0x08u
#define TOP_ITALIC 0x10u

/* A character style: fg and bg are -1 (the terminal's default) or an index
 * of the 256-colour palette (0-7 normal, 8-15 bright, 16-255 the cube and
 * the greys; 24-bit colours are mapped into it). */
struct top_style {
  int16_t fg, bg;
  uint8_t flags; /* TOP_* */
};

#define TOP_STYLE_ZERO                                                         \
  {                                                                            \
    .fg = -1, .bg = -1, .flags = 0                                             \
  }

/* Applies one SGR parameter list (the text between "ESC [" and "m", such
 * as "1;31" or "38;5;208" or "" for a reset) to st. */
void top_view_sgr(struct top_style *st, const char *params, size_t n);

/* Maps a palette index (0-255) to one of the 8 basic colours for terminals
 * with fewer colours; *bright is set for 8-15 and light shades. */
int top_view_colour8(int colour, int *bright);

/* ------------------------------------------------------ the output pane */

/* A run of text in one style: bytes [off, off + len) of its line. */
struct top_seg {
  struct top_style st;
  size_t off, len;
};

/* One line of output: valid UTF-8 with no control characters, in runs. */
struct top_line {
  char *text;
  size_t len, cols; /* bytes, and columns on the screen */
  struct top_seg *segs;
  size_t nsegs, cap_segs, cap_text;
};

struct top_out;

/* A buffer of the last max_lines lines (new; top_out_free). */
struct top_out *top_out_new(size_t max_lines);
/* Frees it. NULL is a no-op. */
void top_out_free(struct top_out *o);
/* Forgets every line and the parser's state (another runner). */
void top_out_clear(struct top_out *o);
/* Feeds n bytes a child wrote (any split: an escape sequence or a UTF-8
 * character cut between two calls is joined). */
void top_out_feed(struct top_out *o, const char *bytes, size_t n);
/* Adds text as lines of their own in style st (tend's markers): an open
 * line of the child's is closed first; the child's style is kept. */
void top_out_note(struct top_out *o, const char *text,
                  const struct top_style *st);
/* Lines held; the last may be open (the child has not ended it yet). */
size_t top_out_count(const struct top_out *o);
/* Line i, 0 the oldest (borrowed until the next feed, note or clear). */
const struct top_line *top_out_line(const struct top_out *o, size_t i);
/* Lines dropped from the front since the last clear (for a view that
 * keeps its place while new lines arrive). */
uint64_t top_out_dropped(const struct top_out *o);

/* The number of bytes of text[0, len) that fit in cols columns, whole
 * characters only. */
size_t top_view_fit(const char *text, size_t len, size_t cols);

/* ------------------------------------------------------------- the tree */

/* One row of the tree view. */
struct top_row {
  int depth;
  int is_group;
  char *name;
  char state[16];
  char pid[16];
  char uptime[16];
  char restarts[16];
  char last_exit[48];
  int64_t output_seq; /* the runner's newest seq (may lag), or 0 */
};

/* Flattens tree (the API's GET /api/v1/tree) into rows, parents before
 * children, keeping only nodes whose name contains filter (any case; NULL
 * or "" keeps all). Uptime is computed at now_ms. Returns the row count;
 * *rows is new (top_view_rows_free). */
size_t top_view_rows(json_t *tree, const char *filter, int64_t now_ms,
                     struct top_row **rows);
/* Frees rows. */
void top_view_rows_free(struct top_row *rows, size_t n);
/* Returns 1 when name contains filter, case-insensitively. */
int top_view_match(const char *name, const char *filter);
/* Formats a duration as "42s", "3m07s", "2h05m", "4d03h". */
void top_view_duration(int64_t ms, char *out, size_t cap);

/* ----------------------------------------------------------- the screen */

/* Where things go on a screen of lines rows: the title (row 0), the
 * column heads (row 1), tree_h rows of the tree from tree_y, a separator
 * at sep_y, out_h lines of output from out_y, the status line last. On a
 * very small screen out_h (and then tree_h) may be 0. */
struct top_layout {
  int tree_y, tree_h;
  int sep_y;
  int out_y, out_h;
  int status_y;
};

/* Lays out a screen of lines rows for a tree of nrows rows: the tree gets
 * what it needs up to half of the space, the output the rest. */
void top_view_layout(int lines, int nrows, struct top_layout *l);

/* The first row to show so that sel stays visible in a window of height
 * rows over n rows, moving as little as possible from first. */
int top_view_scroll(int sel, int first, int height, int n);

#endif
