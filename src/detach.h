/* detach: `tend up -d`, the daemon in the background. */
#ifndef TEND_DETACH_H
#define TEND_DETACH_H

/* Starts `tend up -c file` as a daemon of its own session, with its output
 * in <state_dir>/daemon.log, and returns once its tree is up (0) or has
 * failed, or the daemon exited (1; the log's tail is printed). */
int detach_up(const char *file);

/* Returns how a root state reads for `tend up -d`: 1 up, -1 failed, 0 not
 * yet. Pure. */
int detach_settled(const char *root_state);

#endif
