/* top: `tend top` (alias `tend ui`), a full-screen terminal view of a
 * running daemon (issue 12): the tree with states, the selected runner's
 * live output, a filter, and keys that start, stop, restart and signal.
 * A client of the HTTP API and its SSE streams only (docs/api.md). */
#ifndef TEND_TOP_H
#define TEND_TOP_H

/* Runs the view; argv[0] is "top" or "ui", the rest its options (-c FILE,
 * --url URL, --token TOKEN). Returns the exit status: 0 after q or Ctrl-C,
 * 2 usage (or no terminal), 3 no daemon (cli.h's codes). */
int top_main(int argc, char **argv);

#endif
