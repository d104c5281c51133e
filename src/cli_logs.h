/* cli_logs: the client commands that print what the daemon recorded:
 * `tend logs` (runners' output, merged when several, filtered, followed)
 * and `tend events` (the event log). */
#ifndef TEND_CLI_LOGS_H
#define TEND_CLI_LOGS_H

#include "src/cli_conn.h"

/* tend logs [NAME...]: replays (and with -f follows) output. Returns the
 * exit code. */
int cli_logs_output(struct cli *c);
/* tend events: replays (and with -f follows) the event log. Returns the
 * exit code. */
int cli_logs_events(struct cli *c);
/* tend logs NAME with no daemon: reads the runner's output files from the
 * state folder. Returns the exit code. */
int cli_logs_offline(struct cli *c);

#endif
