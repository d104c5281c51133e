/* daemon: `tend up`: runs the tree of config_path in the foreground.
 * Returns the process exit status: 0 after a graceful stop, 1 when the
 * config is invalid or start-up fails, 3 when the root gave up with
 * on_give_up "exit". */
#ifndef TEND_DAEMON_H
#define TEND_DAEMON_H

int daemon_up(const char *config_path);

#endif
