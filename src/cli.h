/* cli: the client commands, which drive a running daemon through its HTTP
 * API (issue 4): status, start, stop, restart, signal, logs, events,
 * reload, resume.
 *
 * The daemon is found through <state_dir>/daemon.json of the tend.json in
 * the current folder (or -c FILE), or --url / TEND_URL with TEND_TOKEN.
 * Exit codes: CLI_OK, CLI_REFUSED (the daemon said no; its message is
 * printed), CLI_USAGE, CLI_UNREACHABLE (no daemon answered). */
#ifndef TEND_CLI_H
#define TEND_CLI_H

#include <stdio.h>

#define CLI_OK 0
#define CLI_REFUSED 1
#define CLI_USAGE 2
#define CLI_UNREACHABLE 3

/* Returns 1 when cmd is one of the client commands. */
int cli_is_command(const char *cmd);

/* Runs client command cmd; argv holds the arguments after it (argv[argc]
 * need not be NULL). Returns the process exit code. */
int cli_main(const char *cmd, int argc, char **argv);

/* Prints the client commands' usage lines to f. */
void cli_usage(FILE *f);
/* Prints `tend help NAME` of a client command to f; -1 when NAME is not
 * one. */
int cli_help(const char *name, FILE *f);

/* The terminal colour (an SGR escape, borrowed) for a node's state: green
 * up, red failed, dim stopped, yellow on the way; "" for NULL. */
const char *cli_state_colour(const char *state);

#endif
