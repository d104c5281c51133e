/* Unit tests for src/top_view.c: the SGR parser, the output pane's
 * terminal-like line buffer (escapes dropped, lines split, CR, UTF-8 cut
 * between chunks), the tree's rows under a filter, the layout and the
 * scrolling of `tend top`. */
#include <criterion/criterion.h>

#include "src/top_view.h"

#include <locale.h>
#include <stdlib.h>
#include <string.h>

/* Line i of o as a NUL-terminated string (static buffer). */
static const char *
text(const struct top_out *o, size_t i)
{
  static char buf[8192];
  const struct top_line *l = top_out_line(o, i);

  cr_assert_not_null(l, "line %zu of %zu", i, top_out_count(o));
  if (l->len)
    memcpy(buf, l->text, l->len);
  buf[l->len] = '\0';
  return buf;
}

/* Feeds a string literal. */
static void
feed(struct top_out *o, const char *s)
{
  top_out_feed(o, s, strlen(s));
}

static void
setup_locale(void)
{
  setlocale(LC_ALL, "C.UTF-8");
}

TestSuite(top_view, .init = setup_locale);

/* ------------------------------------------------------------------ SGR */

Test(top_view, sgr_basic_colours_and_reset)
{
  struct top_style st = TOP_STYLE_ZERO;

  top_view_sgr(&st, "1;31", 4);
  cr_assert_eq(st.fg, 1);
  cr_assert_eq(st.bg, -1);
  cr_assert_eq(st.flags, TOP_BOLD);
  top_view_sgr(&st, "44", 2);
  cr_assert_eq(st.bg, 4);
  cr_assert_eq(st.fg, 1, "a new code keeps the others");
  top_view_sgr(&st, "22;39", 5);
  cr_assert_eq(st.flags, 0);
  cr_assert_eq(st.fg, -1);
  cr_assert_eq(st.bg, 4);
  top_view_sgr(&st, "", 0); /* ESC [ m is a reset */
  cr_assert_eq(st.fg, -1);
  cr_assert_eq(st.bg, -1);
  cr_assert_eq(st.flags, 0);
}

Test(top_view, sgr_bright_256_and_truecolour)
{
  struct top_style st = TOP_STYLE_ZERO;

  top_view_sgr(&st, "92;103", 6);
  cr_assert_eq(st.fg, 10);
  cr_assert_eq(st.bg, 11);
  top_view_sgr(&st, "38;5;208", 8);
  cr_assert_eq(st.fg, 208);
  top_view_sgr(&st, "48:5:17", 7);
  cr_assert_eq(st.bg, 17);
  top_view_sgr(&st, "38;2;255;0;0", 12);
  cr_assert_eq(st.fg, 16 + 36 * 5, "pure red in the cube");
  top_view_sgr(&st, "38:2::0:255:0", 13);
  cr_assert_eq(st.fg, 16 + 6 * 5, "colon form with a colour space");
  /* Codes after an extended colour still apply. */
  top_view_sgr(&st, "38;5;1;4", 8);
  cr_assert_eq(st.fg, 1);
  cr_assert_eq(st.flags & TOP_UNDERLINE, TOP_UNDERLINE);
  /* A truncated one changes nothing and does not read past the end. */
  st = (struct top_style)TOP_STYLE_ZERO;
  top_view_sgr(&st, "38;5", 4);
  cr_assert_eq(st.fg, -1);
  top_view_sgr(&st, "38;5;999", 8);
  cr_assert_eq(st.fg, -1);
}

Test(top_view, colour8_maps_down)
{
  int bright;

  cr_assert_eq(top_view_colour8(-1, &bright), -1);
  cr_assert_eq(top_view_colour8(3, &bright), 3);
  cr_assert_eq(bright, 0);
  cr_assert_eq(top_view_colour8(9, &bright), 1);
  cr_assert_eq(bright, 1);
  cr_assert_eq(top_view_colour8(16 + 36 * 5, &bright), 1); /* red */
  cr_assert_eq(bright, 1);
  cr_assert_eq(top_view_colour8(16 + 5, &bright), 4); /* blue */
  cr_assert_eq(top_view_colour8(232, &bright), 0);    /* near black */
  cr_assert_eq(top_view_colour8(255, &bright), 7);    /* near white */
  cr_assert_eq(bright, 1);
}

/* ----------------------------------------------------------- the output */

Test(top_view, lines_split_and_styles_kept)
{
  struct top_out *o = top_out_new(10);
  const struct top_line *l;

  feed(o, "plain \033[31mred\033[0m after\nsecond");
  cr_assert_eq(top_out_count(o), 2);
  cr_assert_str_eq(text(o, 0), "plain red after");
  l = top_out_line(o, 0);
  cr_assert_eq(l->nsegs, 3);
  cr_assert_eq(l->segs[0].st.fg, -1);
  cr_assert_eq(l->segs[1].st.fg, 1);
  cr_assert_eq(l->segs[1].off, 6);
  cr_assert_eq(l->segs[1].len, 3);
  cr_assert_eq(l->segs[2].st.fg, -1);
  cr_assert_eq(l->cols, 15);
  /* The open line grows with the next chunk. */
  feed(o, " half\n");
  cr_assert_eq(top_out_count(o), 2);
  cr_assert_str_eq(text(o, 1), "second half");
  /* An empty line is a line. */
  feed(o, "\n");
  cr_assert_eq(top_out_count(o), 3);
  cr_assert_str_eq(text(o, 2), "");
  top_out_free(o);
}

Test(top_view, style_carries_over_lines_and_chunks)
{
  struct top_out *o = top_out_new(10);

  feed(o, "\033[3");
  feed(o, "2mgreen\nstill");
  cr_assert_str_eq(text(o, 0), "green");
  cr_assert_eq(top_out_line(o, 0)->segs[0].st.fg, 2);
  cr_assert_eq(top_out_line(o, 1)->segs[0].st.fg, 2);
  top_out_free(o);
}

Test(top_view, other_escapes_and_controls_dropped)
{
  struct top_out *o = top_out_new(10);

  /* Clear screen, cursor moves, a title (OSC with BEL and with ST), a
   * private mode, a charset switch, DCS, BEL and backspace. */
  feed(o, "\033[2J\033[H\033[10;20Ha\033]0;title\007b\033]2;t2\033\\c"
          "\033[?25ld\033(Be\033Pqdata\033\\f\a\bg\033[1mh");
  cr_assert_eq(top_out_count(o), 1);
  cr_assert_str_eq(text(o, 0), "abcdefgh");
  /* A private-mode "m" is not an SGR. */
  cr_assert_eq(top_out_line(o, 0)->segs[top_out_line(o, 0)->nsegs - 1].st.flags,
               TOP_BOLD);
  feed(o, "\033[>4;2mi");
  cr_assert_str_eq(text(o, 0), "abcdefghi");
  cr_assert_eq(top_out_line(o, 0)->segs[top_out_line(o, 0)->nsegs - 1].st.fg,
               -1);
  top_out_free(o);
}

Test(top_view, runaway_sequence_ends_at_newline)
{
  struct top_out *o = top_out_new(10);

  feed(o, "\033]0;never terminated\nvisible\n");
  cr_assert_eq(top_out_count(o), 2);
  cr_assert_str_eq(text(o, 0), "");
  cr_assert_str_eq(text(o, 1), "visible");
  top_out_free(o);
}

Test(top_view, carriage_return_starts_the_line_again)
{
  struct top_out *o = top_out_new(10);

  feed(o, "10%\r20%\r");
  cr_assert_str_eq(text(o, 0), "20%");
  feed(o, "30%");
  cr_assert_str_eq(text(o, 0), "30%");
  feed(o, "\r\nnext\r\n");
  cr_assert_eq(top_out_count(o), 2);
  cr_assert_str_eq(text(o, 0), "30%", "CR LF is a plain line end");
  cr_assert_str_eq(text(o, 1), "next");
  top_out_free(o);
}

Test(top_view, tabs_expand)
{
  struct top_out *o = top_out_new(10);

  feed(o, "a\tb\t\tc\n");
  cr_assert_str_eq(text(o, 0), "a       b               c");
  top_out_free(o);
}

Test(top_view, utf8_joined_and_bad_bytes_replaced)
{
  struct top_out *o = top_out_new(10);
  const char e_acute[] = "\xc3\xa9";

  top_out_feed(o, "caf\xc3", 4);
  top_out_feed(o, e_acute + 1, 1);
  feed(o, " \xe4\xb8\xad\n");
  cr_assert_str_eq(text(o, 0), "caf\xc3\xa9 \xe4\xb8\xad");
  cr_assert_eq(top_out_line(o, 0)->cols, 7, "the CJK character is wide");
  /* A lone continuation byte, a cut sequence, an overlong form, C1. */
  feed(o, "a\x80"
          "b\xe4\xb8"
          "c\xc0\xaf"
          "d\xc2\x9b"
          "e\n");
  cr_assert_str_eq(text(o, 1), "a?b?c?d"
                               "e");
  top_out_free(o);
}

Test(top_view, ring_keeps_the_last_lines)
{
  struct top_out *o = top_out_new(3);

  feed(o, "1\n2\n3\n4\n5");
  cr_assert_eq(top_out_count(o), 3);
  cr_assert_str_eq(text(o, 0), "3");
  cr_assert_str_eq(text(o, 2), "5");
  cr_assert_eq(top_out_dropped(o), 2);
  top_out_clear(o);
  cr_assert_eq(top_out_count(o), 0);
  cr_assert_eq(top_out_dropped(o), 0);
  feed(o, "\033[31");
  top_out_clear(o);
  feed(o, "mx");
  cr_assert_str_eq(text(o, 0), "mx", "clear resets the parser");
  top_out_free(o);
}

Test(top_view, notes_are_lines_of_their_own)
{
  struct top_out *o = top_out_new(10);
  struct top_style dim = TOP_STYLE_ZERO;

  dim.flags = TOP_DIM;
  feed(o, "\033[32mpartial");
  top_out_note(o, "[tend] exited\n", &dim);
  feed(o, "next\n");
  cr_assert_eq(top_out_count(o), 3);
  cr_assert_str_eq(text(o, 0), "partial");
  cr_assert_str_eq(text(o, 1), "[tend] exited");
  cr_assert_eq(top_out_line(o, 1)->segs[0].st.flags, TOP_DIM);
  cr_assert_eq(top_out_line(o, 1)->segs[0].st.fg, -1);
  cr_assert_str_eq(text(o, 2), "next");
  cr_assert_eq(top_out_line(o, 2)->segs[0].st.fg, 2, "child style kept");
  top_out_free(o);
}

Test(top_view, long_lines_are_capped)
{
  struct top_out *o = top_out_new(2);
  char *big = malloc(10000);

  memset(big, 'x', 10000);
  top_out_feed(o, big, 10000);
  feed(o, "\nok\n");
  cr_assert_leq(top_out_line(o, 0)->len, 4096);
  cr_assert_str_eq(text(o, 1), "ok");
  free(big);
  top_out_free(o);
}

Test(top_view, fit_counts_columns)
{
  cr_assert_eq(top_view_fit("hello", 5, 3), 3);
  cr_assert_eq(top_view_fit("hello", 5, 10), 5);
  /* A wide character that does not fit whole is left out. */
  cr_assert_eq(top_view_fit("a\xe4\xb8\xad", 4, 2), 1);
  cr_assert_eq(top_view_fit("a\xe4\xb8\xad", 4, 3), 4);
  cr_assert_eq(top_view_fit("\xc3\xa9t\xc3\xa9", 5, 2), 3);
}

/* ------------------------------------------------------------- the tree */

static json_t *
sample_tree(void)
{
  return json_loads(
      "{\"name\":\"dev\",\"kind\":\"group\",\"state\":\"running\","
      "\"restarts\":0,\"since\":1000,\"children\":["
      " {\"name\":\"api\",\"kind\":\"runner\",\"state\":\"running\","
      "  \"pid\":42,\"restarts\":2,\"since\":1000,\"output_seq\":812,"
      "  \"last_exit\":{\"status\":1}},"
      " {\"name\":\"backend\",\"kind\":\"group\",\"state\":\"running\","
      "  \"restarts\":0,\"children\":["
      "   {\"name\":\"Worker\",\"kind\":\"runner\",\"state\":\"stopped\","
      "    \"pid\":null,\"restarts\":0,\"since\":1000,"
      "    \"last_exit\":{\"signal\":\"TERM\"}}]}]}",
      0, NULL);
}

Test(top_view, rows_flatten_the_tree)
{
  json_t *tree = sample_tree();
  struct top_row *rows;
  size_t n = top_view_rows(tree, NULL, 1000 + 125000, &rows);

  cr_assert_eq(n, 4);
  cr_assert_str_eq(rows[0].name, "dev");
  cr_assert_eq(rows[0].depth, 0);
  cr_assert(rows[0].is_group);
  cr_assert_str_eq(rows[1].name, "api");
  cr_assert_eq(rows[1].depth, 1);
  cr_assert_not(rows[1].is_group);
  cr_assert_str_eq(rows[1].pid, "42");
  cr_assert_str_eq(rows[1].restarts, "2");
  cr_assert_str_eq(rows[1].uptime, "2m05s");
  cr_assert_str_eq(rows[1].last_exit, "status 1");
  cr_assert_eq(rows[1].output_seq, 812);
  cr_assert_str_eq(rows[3].name, "Worker");
  cr_assert_eq(rows[3].depth, 2);
  cr_assert_str_eq(rows[3].pid, "-");
  cr_assert_str_eq(rows[3].uptime, "-", "a stopped runner has no uptime");
  cr_assert_str_eq(rows[3].last_exit, "signal TERM");
  top_view_rows_free(rows, n);
  json_decref(tree);
}

Test(top_view, filter_keeps_matching_names_any_case)
{
  json_t *tree = sample_tree();
  struct top_row *rows;
  size_t n = top_view_rows(tree, "WORK", 0, &rows);

  cr_assert_eq(n, 1);
  cr_assert_str_eq(rows[0].name, "Worker");
  cr_assert_eq(rows[0].depth, 2, "the depth stays the tree's");
  top_view_rows_free(rows, n);
  n = top_view_rows(tree, "e", 0, &rows);
  cr_assert_eq(n, 3); /* dev, backend, Worker */
  top_view_rows_free(rows, n);
  n = top_view_rows(tree, "nothing", 0, &rows);
  cr_assert_eq(n, 0);
  top_view_rows_free(rows, n);
  cr_assert(top_view_match("api", ""));
  cr_assert(top_view_match("api", NULL));
  cr_assert_not(top_view_match(NULL, "a"));
  json_decref(tree);
}

Test(top_view, rows_of_junk_are_safe)
{
  json_t *junk = json_loads("{\"children\":[1,\"x\",{}]}", 0, NULL);
  struct top_row *rows;
  size_t n = top_view_rows(junk, NULL, 0, &rows);

  cr_assert_eq(n, 2);
  cr_assert_str_eq(rows[0].name, "?");
  cr_assert_str_eq(rows[0].state, "?");
  top_view_rows_free(rows, n);
  json_decref(junk);
}

Test(top_view, durations)
{
  char b[16];

  top_view_duration(42000, b, sizeof b);
  cr_assert_str_eq(b, "42s");
  top_view_duration(187000, b, sizeof b);
  cr_assert_str_eq(b, "3m07s");
  top_view_duration(7500000, b, sizeof b);
  cr_assert_str_eq(b, "2h05m");
  top_view_duration(4 * 86400000LL + 3 * 3600000LL, b, sizeof b);
  cr_assert_str_eq(b, "4d03h");
  top_view_duration(-5, b, sizeof b);
  cr_assert_str_eq(b, "0s");
}

/* ----------------------------------------------------------- the screen */

Test(top_view, layout_gives_the_tree_what_it_needs)
{
  struct top_layout l;

  top_view_layout(40, 5, &l);
  cr_assert_eq(l.tree_y, 2);
  cr_assert_eq(l.tree_h, 5);
  cr_assert_eq(l.sep_y, 7);
  cr_assert_eq(l.out_y, 8);
  cr_assert_eq(l.out_h, 31);
  cr_assert_eq(l.status_y, 39);
  cr_assert_eq(l.out_y + l.out_h, l.status_y, "nothing overlaps");
  /* A big tree gets half. */
  top_view_layout(40, 100, &l);
  cr_assert_eq(l.tree_h, 18);
  cr_assert_eq(l.out_h, 18);
  cr_assert_eq(l.out_y + l.out_h, l.status_y);
  /* An empty one still gets a row (for "connecting" or "no match"). */
  top_view_layout(20, 0, &l);
  cr_assert_eq(l.tree_h, 1);
}

Test(top_view, layout_of_tiny_screens)
{
  struct top_layout l;

  for (int lines = 0; lines < 8; lines++) {
    top_view_layout(lines, 10, &l);
    cr_assert_geq(l.tree_h, 0);
    cr_assert_geq(l.out_h, 0);
    if (l.tree_h > 0)
      cr_assert_leq(l.tree_y + l.tree_h, l.status_y);
    if (l.out_h > 0)
      cr_assert_leq(l.out_y + l.out_h, l.status_y);
  }
  top_view_layout(5, 10, &l);
  cr_assert_eq(l.out_h, 0);
  cr_assert_eq(l.sep_y, -1);
}

Test(top_view, scroll_keeps_the_selection_visible)
{
  cr_assert_eq(top_view_scroll(3, 0, 10, 5), 0, "everything fits");
  cr_assert_eq(top_view_scroll(12, 0, 10, 30), 3);
  cr_assert_eq(top_view_scroll(5, 3, 10, 30), 3, "no needless move");
  cr_assert_eq(top_view_scroll(1, 3, 10, 30), 1);
  cr_assert_eq(top_view_scroll(29, 25, 10, 30), 20);
  cr_assert_eq(top_view_scroll(-1, 25, 10, 30), 0);
  cr_assert_eq(top_view_scroll(5, 28, 10, 30), 5);
  cr_assert_eq(top_view_scroll(0, 0, 0, 30), 0);
}
