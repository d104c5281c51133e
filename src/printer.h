/* printer: the foreground terminal output of `tend up` (a pubsub
 * subscriber of every topic).
 *
 * Colour: on when stdout is a terminal, unless NO_COLOR is set to a
 * non-empty value (https://no-color.org); TEND_COLOR=always|never|auto
 * overrides both. With colour off (a pipe, a file, journald), tend's
 * stdout carries no escape sequence at all: tend adds none, and the
 * escape sequences and other control bytes in the children's output are
 * stripped from this view (the output log and the API keep every byte). */
#ifndef TEND_PRINTER_H
#define TEND_PRINTER_H

#include <stddef.h>
#include <uv.h>

#include "src/config.h"
#include "src/events.h"

struct printer;

/* Starts printing output and transitions to stdout (cfg borrowed). */
struct printer *printer_new(uv_loop_t *loop, const struct config *cfg);
/* Prints what is queued, unsubscribes; cb(arg) after its handles close. */
void printer_close(struct printer *p, void (*cb)(void *arg), void *arg);

/* Decides colour from whether stdout is a terminal and the values of
 * TEND_COLOR and NO_COLOR (NULL when unset). TEND_COLOR: "always" (or
 * "1", "yes", "on"), "never" (or "0", "no", "off"), "auto" or "" (the
 * default); any other value counts as "auto" and sets *bad. */
int printer_colour_wanted(int is_tty, const char *tend_color,
                          const char *no_color, int *bad);

/* The terminal's text of one event (after "tend | "), a new string, or
 * NULL for an event the terminal leaves out (a step inside one state):
 * "api: running --exit--> exited (exited with status 1)" for a transition,
 * "[node: ]type: message" for the rest. */
char *printer_event_text(const struct tend_event *ev);

/* Removes terminal controls from s in place, for a view without colour:
 * escape sequences (CSI such as colours and cursor moves, OSC such as
 * titles and links, and the other ESC forms) and control bytes other than
 * tab and newline. A carriage return inside a line keeps only what
 * follows it, as a terminal would show (a progress bar's last state); at
 * the end of a line it is dropped (CRLF). Returns the new length. */
size_t printer_strip_controls(char *s, size_t len);

#endif
