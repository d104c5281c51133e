/* reap: the daemon is a subreaper; this tells its own children (which
 * libuv reaps) from orphans adopted from finished process groups (which
 * tend reaps). */
#ifndef TEND_REAP_H
#define TEND_REAP_H

#include <sys/types.h>

/* Marks pid as a child libuv spawned and will reap (a readiness or health
 * probe): reap_orphans() leaves it alone until reap_disown(pid). */
void reap_own(pid_t pid);
void reap_disown(pid_t pid);
/* Returns 1 when pid was marked by reap_own. */
int reap_is_own(pid_t pid);

/* Reaps every exited child that is neither marked nor accepted by
 * is_libuv_child; stops at the first one that is, since libuv reaps it
 * and SIGCHLD comes again. Never calls waitpid(-1, ...), which would take
 * libuv's children from it (LIBRARY-NOTES.md, section 4). */
void reap_orphans(int (*is_libuv_child)(int pid));

#endif
