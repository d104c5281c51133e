/* daemon: `tend up`: runs the tree of config_path in the foreground.
 * Returns the process exit status: 0 after a graceful stop, 1 when the
 * config is invalid or start-up fails, 3 when the root gave up with
 * on_give_up "exit". */
#ifndef TEND_DAEMON_H
#define TEND_DAEMON_H

int daemon_up(const char *config_path);

/* 1 when the daemon logs and ignores signo: a signal it does not use
 * whose default action would end it and orphan every child (QUIT, USR1,
 * USR2, ALRM, VTALRM, PROF, IO, XCPU, XFSZ, PWR, STKFLT and the real-time
 * signals). Faults (SEGV, BUS, ILL, FPE, ABRT, SYS, TRAP) are not in it:
 * a real fault must still end the process. Pure. */
int daemon_signal_ignored(int signo);

#endif
