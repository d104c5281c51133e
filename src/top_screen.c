/* top_screen: curses drawing and keys of `tend top` (see top_screen.h).
 * Colour pairs are made on first use (at most 255); a terminal without
 * colours gets attributes only. */
#include "src/top_screen.h"

#include "src/events.h"
#include "src/xalloc.h"
#include "runners/fsm.h"

#include <curses.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- drawing */

/* A colour pair for fg on bg (-1: default), made on first use; 0 when the
 * terminal has no colours or no pair is left. */
static int
pair_for(struct top *t, int fg, int bg)
{
  if (!t->colour)
    return 0;
  if (!t->default_colours) {
    fg = fg < 0 ? COLOR_WHITE : fg;
    bg = bg < 0 ? COLOR_BLACK : bg;
  }
  if (fg >= COLORS || bg >= COLORS)
    return 0;
  for (int i = 0; i < t->npairs; i++)
    if (t->pairs[i].fg == fg && t->pairs[i].bg == bg)
      return i + 1;
  if (t->npairs + 1 >= COLOR_PAIRS || t->npairs + 1 >= 256)
    return 0;
  if (init_pair((short)(t->npairs + 1), (short)fg, (short)bg) != OK)
    return 0;
  t->pairs[t->npairs].fg = (short)fg;
  t->pairs[t->npairs].bg = (short)bg;
  return ++t->npairs;
}

/* The curses attributes of a style. */
static attr_t
style_attr(struct top *t, const struct top_style *st)
{
  attr_t a = 0;
  int fg = st->fg, bg = st->bg, bright = 0, bg_bright = 0;

  if (st->flags & TOP_BOLD)
    a |= A_BOLD;
  if (st->flags & TOP_DIM)
    a |= A_DIM;
  if (st->flags & TOP_UNDERLINE)
    a |= A_UNDERLINE;
  if (st->flags & TOP_REVERSE)
    a |= A_REVERSE;
  if (st->flags & TOP_ITALIC)
    a |= A_ITALIC;
  if (COLORS < 256) {
    fg = top_view_colour8(fg, &bright);
    bg = top_view_colour8(bg, &bg_bright);
    if (bright)
      a |= A_BOLD;
  }
  if (fg >= 0 || bg >= 0)
    a |= (attr_t)COLOR_PAIR(pair_for(t, fg, bg));
  return a;
}

/* The attributes of a state's name. */
static attr_t
state_attr(struct top *t, const char *state)
{
  if (fsm_state_name_is(state, fsm_state_up))
    return (attr_t)COLOR_PAIR(pair_for(t, COLOR_GREEN, -1));
  if (strcmp(state, "failed") == 0)
    return (attr_t)COLOR_PAIR(pair_for(t, COLOR_RED, -1)) | A_BOLD;
  if (strcmp(state, "stopped") == 0)
    return A_DIM;
  return (attr_t)COLOR_PAIR(pair_for(t, COLOR_YELLOW, -1));
}

/* Draws text at (y, x), cut at column max_x. */
static void
put(int y, int x, const char *s, int max_x)
{
  size_t n;

  if (x >= max_x || y < 0)
    return;
  n = top_view_fit(s, strlen(s), (size_t)(max_x - x));
  mvaddnstr(y, x, s, (int)n);
}

/* The title line. */
static void
draw_title(struct top *t, int cols)
{
  char line[512];
  size_t runners = 0;

  for (size_t i = 0; i < t->nrows; i++)
    runners += !t->rows[i].is_group;
  snprintf(line, sizeof line, " tend top  %s  %zu runner%s%s%s%s", t->url,
           runners, runners == 1 ? "" : "s", t->filter[0] ? "  filter: " : "",
           t->filter, t->events_up ? "" : "  (polling)");
  attrset(A_REVERSE);
  mvhline(0, 0, ' ', cols);
  put(0, 0, line, cols);
  attrset(A_NORMAL);
}

/* The tree's heads and rows. */
static void
draw_tree(struct top *t, const struct top_layout *l, int cols)
{
  int name_w = 4, x_state, x_pid, x_up, x_rs, x_exit;

  for (size_t i = 0; i < t->nrows; i++) {
    int w = t->rows[i].depth * 2 + (int)strlen(t->rows[i].name);
    if (w > name_w)
      name_w = w;
  }
  if (name_w > cols / 3)
    name_w = cols / 3 > 4 ? cols / 3 : 4;
  x_state = name_w + 2;
  x_pid = x_state + 10;
  x_up = x_pid + 9;
  x_rs = x_up + 9;
  x_exit = x_rs + 10;
  attrset(A_BOLD);
  put(1, 0, "NAME", cols);
  put(1, x_state, "STATE", cols);
  put(1, x_pid, "PID", cols);
  put(1, x_up, "UPTIME", cols);
  put(1, x_rs, "RESTARTS", cols);
  put(1, x_exit, "LAST EXIT", cols);
  attrset(A_NORMAL);
  if (!t->tree) {
    put(l->tree_y, 0, "connecting ...", cols);
    return;
  }
  if (t->nrows == 0 && l->tree_h > 0)
    put(l->tree_y, 0, "(no node matches the filter)", cols);
  t->first = top_view_scroll(t->sel, t->first, l->tree_h, (int)t->nrows);
  for (int k = 0; k < l->tree_h; k++) {
    size_t i = (size_t)(t->first + k);
    const struct top_row *row;
    int y = l->tree_y + k, sel;
    char name[256];
    if (i >= t->nrows)
      break;
    row = &t->rows[i];
    sel = (int)i == t->sel;
    attrset(sel ? A_REVERSE : A_NORMAL);
    if (sel)
      mvhline(y, 0, ' ', cols);
    snprintf(name, sizeof name, "%*s%s", row->depth * 2, "", row->name);
    if (row->is_group)
      attron(A_BOLD);
    put(y, 0, name, name_w < cols ? name_w : cols);
    attrset(sel ? A_REVERSE : A_NORMAL);
    attron(state_attr(t, row->state));
    put(y, x_state, row->state, cols);
    attrset(sel ? A_REVERSE : A_NORMAL);
    put(y, x_pid, row->pid, cols);
    put(y, x_up, row->uptime, cols);
    put(y, x_rs, row->restarts, cols);
    put(y, x_exit, row->last_exit, cols);
    attrset(A_NORMAL);
  }
}

/* The separator and the output pane. */
static void
draw_output(struct top *t, const struct top_layout *l, int cols)
{
  char head[300];
  size_t count = top_out_count(t->out), start;
  uint64_t dropped = top_out_dropped(t->out);

  if (l->sep_y < 0)
    return;
  mvhline(l->sep_y, 0, ACS_HLINE, cols);
  if (t->out_name)
    snprintf(head, sizeof head, " %s %s ", t->out_name,
             t->follow ? "(following)" : "(paused: f follows)");
  else if (top_api_selected(t))
    snprintf(head, sizeof head,
             " %s: a group; select a runner for its "
             "output ",
             top_api_selected(t)->name);
  else
    snprintf(head, sizeof head, " output ");
  attron(A_BOLD);
  put(l->sep_y, 2, head, cols);
  attrset(A_NORMAL);
  t->out_h = l->out_h;
  if (t->follow || t->view_top < dropped)
    start = count > (size_t)l->out_h ? count - (size_t)l->out_h : 0;
  else
    start = (size_t)(t->view_top - dropped);
  if (start > count)
    start = count;
  for (int k = 0; k < l->out_h && start + (size_t)k < count; k++) {
    const struct top_line *line = top_out_line(t->out, start + (size_t)k);
    int x = 0;
    for (size_t s = 0; s < line->nsegs && x < cols; s++) {
      const struct top_seg *seg = &line->segs[s];
      size_t n =
          top_view_fit(line->text + seg->off, seg->len, (size_t)(cols - x));
      attrset(style_attr(t, &seg->st));
      mvaddnstr(l->out_y + k, x, line->text + seg->off, (int)n);
      x = getcurx(stdscr);
      if (n < seg->len)
        break;
    }
    attrset(A_NORMAL);
  }
}

/* The bottom line: a prompt, the help, or the last message. */
static void
draw_status(struct top *t, const struct top_layout *l, int cols)
{
  char line[512];

  curs_set(0);
  if (t->mode != IN_NONE) {
    snprintf(line, sizeof line, "%s%s",
             t->mode == IN_FILTER ? "filter: " : "signal (HUP, USR1, ...): ",
             t->input);
    put(l->status_y, 0, line, cols);
    curs_set(1);
    return;
  }
  if (t->help) {
    put(l->status_y, 0,
        "up/down j/k select  s start  x stop  r restart  S signal  f follow  "
        "PgUp/PgDn scroll  / filter  q quit",
        cols);
    return;
  }
  if (t->status[0]) {
    attrset(t->status_err
                ? (attr_t)COLOR_PAIR(pair_for(t, COLOR_RED, -1)) | A_BOLD
                : A_NORMAL);
    put(l->status_y, 0, t->status, cols);
    attrset(A_NORMAL);
    return;
  }
  attrset(A_DIM);
  put(l->status_y, 0, "? help  q quit", cols);
  attrset(A_NORMAL);
}

/* Draws the whole screen. */
void
top_screen_draw(struct top *t)
{
  struct top_layout l;
  int lines = LINES, cols = COLS;

  erase();
  top_view_layout(lines, (int)t->nrows, &l);
  draw_title(t, cols);
  draw_tree(t, &l, cols);
  draw_output(t, &l, cols);
  draw_status(t, &l, cols);
  if (t->mode != IN_NONE)
    move(l.status_y, getcurx(stdscr));
  refresh();
  t->dirty = 0;
  t->last_draw = top_api_now_ms();
  t->drawn_second = events_now_ms() / 1000;
}

/* ------------------------------------------------------------------ keys */

/* Pauses following, keeping the lines on screen where they are. */
static void
follow_off(struct top *t)
{
  size_t count = top_out_count(t->out);

  if (!t->follow)
    return;
  t->follow = 0;
  t->view_top = top_out_dropped(t->out) +
                (count > (size_t)t->out_h ? count - (size_t)t->out_h : 0);
}

/* Scrolls the output pane by delta lines (negative: back). */
static void
output_scroll(struct top *t, long delta)
{
  uint64_t dropped = top_out_dropped(t->out);
  uint64_t end = dropped + top_out_count(t->out);
  uint64_t bottom = end > (uint64_t)t->out_h ? end - (uint64_t)t->out_h : 0;

  follow_off(t);
  if (t->view_top < dropped)
    t->view_top = dropped;
  if (delta < 0)
    t->view_top = t->view_top - dropped > (uint64_t)-delta
                      ? t->view_top + (uint64_t)delta
                      : dropped;
  else
    t->view_top += (uint64_t)delta;
  if (t->view_top >= bottom) {
    t->view_top = bottom;
    t->follow = 1; /* back at the end: follow again */
  }
}

/* s, x, r on the selection: runners start, stop and restart; a group only
 * restarts (the API has no group start or stop). */
static void
key_action(struct top *t, const char *verb)
{
  const struct top_row *row = top_api_selected(t);

  if (!row) {
    top_api_say(t, 1, "nothing selected");
    return;
  }
  if (row->is_group && strcmp(verb, "restart") != 0) {
    top_api_say(t, 1, "%s is a group: r restarts it; %s works on a runner",
                row->name, verb);
    return;
  }
  top_api_action(t, row->is_group ? "groups" : "runners", row->name, verb,
                 "{}");
}

/* A key while a prompt (filter or signal) is open. */
static void
key_input(struct top *t, int ch)
{
  size_t n = strlen(t->input);

  if (ch == 27) { /* Esc */
    if (t->mode == IN_FILTER) {
      t->filter[0] = '\0';
      top_api_rows_rebuild(t);
    }
    t->mode = IN_NONE;
  } else if (ch == '\n' || ch == '\r' || ch == KEY_ENTER) {
    if (t->mode == IN_SIGNAL && n > 0 && t->signal_target) {
      json_t *body = json_pack("{s:s}", "signal", t->input);
      char *text = json_dumps(body, JSON_COMPACT);
      top_api_action(t, "runners", t->signal_target, "signal", text);
      free(text);
      json_decref(body);
    }
    t->mode = IN_NONE;
  } else if (ch == KEY_BACKSPACE || ch == 127 || ch == 8) {
    if (n > 0)
      t->input[n - 1] = '\0';
  } else if (ch == 21) { /* Ctrl-U */
    t->input[0] = '\0';
  } else if (ch >= 0x20 && ch < 0x7f && n + 1 < sizeof t->input) {
    t->input[n] = (char)ch;
    t->input[n + 1] = '\0';
  }
  if (t->mode == IN_FILTER) {
    snprintf(t->filter, sizeof t->filter, "%s", t->input);
    top_api_rows_rebuild(t);
  }
  t->dirty = 1;
}

/* One key. */
static void
key(struct top *t, int ch)
{
  const struct top_row *row;

  if (ch == KEY_RESIZE) {
    t->dirty = 1;
    return;
  }
  if (t->mode != IN_NONE) {
    key_input(t, ch);
    return;
  }
  t->dirty = 1;
  switch (ch) {
  case 'q':
  case 3: /* Ctrl-C, should it come as a key */
    t->quit = 1;
    break;
  case KEY_UP:
  case 'k':
    top_api_select_row(t, t->sel - 1);
    break;
  case KEY_DOWN:
  case 'j':
    top_api_select_row(t, t->sel + 1);
    break;
  case KEY_HOME:
    top_api_select_row(t, 0);
    break;
  case KEY_END:
    top_api_select_row(t, (int)t->nrows - 1);
    break;
  case KEY_PPAGE:
    output_scroll(t, -(long)(t->out_h > 1 ? t->out_h - 1 : 1));
    break;
  case KEY_NPAGE:
    output_scroll(t, t->out_h > 1 ? t->out_h - 1 : 1);
    break;
  case 's':
    key_action(t, "start");
    break;
  case 'x':
    key_action(t, "stop");
    break;
  case 'r':
    key_action(t, "restart");
    break;
  case 'S':
    row = top_api_selected(t);
    if (!row || row->is_group) {
      top_api_say(t, 1, "S sends a signal to a runner: select one");
      break;
    }
    free(t->signal_target);
    t->signal_target = xstrdup(row->name);
    t->input[0] = '\0';
    t->mode = IN_SIGNAL;
    break;
  case 'f':
    if (t->follow)
      follow_off(t);
    else
      t->follow = 1;
    break;
  case '/':
    snprintf(t->input, sizeof t->input, "%s", t->filter);
    t->mode = IN_FILTER;
    break;
  case '?':
    t->help = !t->help;
    break;
  case 27:
    t->help = 0;
    t->status[0] = '\0';
    break;
  default:
    break;
  }
}

/* Reads every key waiting. */
void
top_screen_keys(struct top *t)
{
  int ch;

  while (!t->quit && (ch = getch()) != ERR)
    key(t, ch);
}
