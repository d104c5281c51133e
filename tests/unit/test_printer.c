/* Unit tests for src/printer.c's pure helpers: the colour decision
 * (TEND_COLOR, NO_COLOR, a terminal or not), the stripping of terminal
 * controls from the plain view, and the text of a typed event. */
#include <criterion/criterion.h>

#include "src/printer.h"

#include <stdlib.h>
#include <string.h>

/* Strips a copy of in and returns it (caller frees). */
static char *
strip(const char *in, size_t len)
{
  char *s = malloc(len + 1);
  size_t n;

  memcpy(s, in, len);
  n = printer_strip_controls(s, len);
  cr_assert_leq(n, len);
  s[n] = '\0';
  return s;
}

#define STRIPS_TO(in, want)                                                    \
  do {                                                                         \
    char *got_ = strip(in, sizeof(in) - 1);                                    \
    cr_assert_str_eq(got_, want, "input %s", #in);                             \
    free(got_);                                                                \
  } while (0)

Test(printer_colour, terminal_default)
{
  int bad;
  cr_assert_eq(printer_colour_wanted(1, NULL, NULL, &bad), 1);
  cr_assert_eq(bad, 0);
  cr_assert_eq(printer_colour_wanted(0, NULL, NULL, &bad), 0);
}

Test(printer_colour, no_color_only_when_not_empty)
{
  int bad;
  cr_assert_eq(printer_colour_wanted(1, NULL, "1", &bad), 0);
  cr_assert_eq(printer_colour_wanted(1, NULL, "false", &bad), 0);
  cr_assert_eq(printer_colour_wanted(1, NULL, "", &bad), 1);
}

Test(printer_colour, tend_color_overrides)
{
  int bad;
  cr_assert_eq(printer_colour_wanted(0, "always", NULL, &bad), 1);
  cr_assert_eq(printer_colour_wanted(0, "1", "1", &bad), 1);
  cr_assert_eq(printer_colour_wanted(1, "never", NULL, &bad), 0);
  cr_assert_eq(printer_colour_wanted(1, "off", NULL, &bad), 0);
  cr_assert_eq(printer_colour_wanted(1, "auto", "1", &bad), 0);
  cr_assert_eq(printer_colour_wanted(1, "", NULL, &bad), 1);
  cr_assert_eq(bad, 0);
  cr_assert_eq(printer_colour_wanted(1, "purple", NULL, &bad), 1);
  cr_assert_eq(bad, 1);
  cr_assert_eq(printer_colour_wanted(0, "purple", NULL, &bad), 0);
}

Test(printer_strip, plain_text_untouched)
{
  STRIPS_TO("hello\tworld\n", "hello\tworld\n");
  STRIPS_TO("caf\xc3\xa9 \xe2\x9c\x93\n", "caf\xc3\xa9 \xe2\x9c\x93\n");
  STRIPS_TO("", "");
}

Test(printer_strip, colours_and_cursor_moves)
{
  STRIPS_TO("\033[31mred\033[0m plain\n", "red plain\n");
  STRIPS_TO("\033[1;38;5;208mx\033[m\n", "x\n");
  STRIPS_TO("\033[38:2:1:2:3my\n", "y\n");
  STRIPS_TO("a\033[2K\033[1Gb\033[?25l\033[?25h\n", "ab\n");
}

Test(printer_strip, strings_and_short_forms)
{
  /* OSC title (BEL), OSC 8 link (ST), DCS, a charset designation, RIS. */
  STRIPS_TO("\033]0;title\007text\n", "text\n");
  STRIPS_TO("\033]8;;http://x\033\\link\033]8;;\033\\\n", "link\n");
  STRIPS_TO("\033Pq#0\033\\after\n", "after\n");
  STRIPS_TO("\033(Bx\033cy\n", "xy\n");
}

Test(printer_strip, unterminated_sequences_do_not_swallow_lines)
{
  STRIPS_TO("\033]0;no end\nnext line\n", "\nnext line\n");
  STRIPS_TO("text\033", "text");
  STRIPS_TO("text\033[", "text");
  STRIPS_TO("text\033[12", "text");
}

Test(printer_strip, control_bytes)
{
  STRIPS_TO("bell\007 back\b nul\0 del\177\n", "bell back nul del\n");
  STRIPS_TO("crlf\r\nnext\r\n", "crlf\nnext\n");
  STRIPS_TO("end\r", "end");
}

Test(printer_strip, carriage_return_keeps_the_last_state)
{
  STRIPS_TO("10%\r50%\r100%\n", "100%\n");
  STRIPS_TO("one\ntwo\rTWO\nthree\n", "one\nTWO\nthree\n");
  STRIPS_TO("a\r\r\nb\n", "a\nb\n");
}

/* ------------------------------------------------------------------ */
/* The terminal's text of a typed event                                 */

Test(printer_event, transition_in_s6_style)
{
  struct tend_event ev = {.type = EVENTS_STATE,
                          .node = "api",
                          .kind = EVENTS_KIND_RUNNER,
                          .from.runner = FSM_RUNNING,
                          .to.runner = FSM_EXITED,
                          .event = "exit",
                          .reason = "exited with status 1"};
  char *s = printer_event_text(&ev);

  cr_assert_str_eq(s, "api: running --exit--> exited (exited with status 1)");
  free(s);
  ev.reason = NULL;
  ev.kind = EVENTS_KIND_GROUP;
  ev.from.group = SUP_FSM_STARTING;
  ev.to.group = SUP_FSM_RUNNING;
  ev.event = "started";
  s = printer_event_text(&ev);
  cr_assert_str_eq(s, "api: starting --started--> running");
  free(s);
}

Test(printer_event, a_step_inside_one_state_is_left_out)
{
  struct tend_event ev = {.type = EVENTS_STATE,
                          .node = "api",
                          .kind = EVENTS_KIND_RUNNER,
                          .from.runner = FSM_STARTING,
                          .to.runner = FSM_STARTING,
                          .event = "spawned_probe"};

  cr_assert_null(printer_event_text(&ev));
}

Test(printer_event, other_types_say_their_message)
{
  struct tend_event give_up = {
      .type = EVENTS_GIVE_UP, .node = "web", .message = "too many restarts"};
  struct tend_event started = {.type = EVENTS_DAEMON_STARTED};
  char *s = printer_event_text(&give_up);

  cr_assert_str_eq(s, "web: give_up: too many restarts");
  free(s);
  s = printer_event_text(&started);
  cr_assert_str_eq(s, "daemon_started");
  free(s);
}
