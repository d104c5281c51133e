/* reap: a small set of pids that libuv owns besides the runners' leaders
 * (those are known to src/tend.c). Probes are few and short-lived, so a
 * linear array is enough. */
#include "src/reap.h"

#include "src/xalloc.h"

#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

static pid_t *own;
static size_t n_own, cap_own;

void
reap_own(pid_t pid)
{
  if (n_own == cap_own) {
    cap_own = cap_own ? cap_own * 2 : 16;
    own = xrealloc(own, cap_own * sizeof *own);
  }
  own[n_own++] = pid;
}

void
reap_disown(pid_t pid)
{
  for (size_t i = 0; i < n_own; i++)
    if (own[i] == pid) {
      own[i] = own[--n_own];
      break;
    }
  if (n_own == 0) {
    free(own);
    own = NULL;
    cap_own = 0;
  }
}

int
reap_is_own(pid_t pid)
{
  for (size_t i = 0; i < n_own; i++)
    if (own[i] == pid)
      return 1;
  return 0;
}

void
reap_orphans(int (*is_libuv_child)(int pid))
{
  for (;;) {
    siginfo_t si;
    memset(&si, 0, sizeof si);
    if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) != 0 ||
        si.si_pid == 0)
      return;
    if (reap_is_own(si.si_pid) || (is_libuv_child && is_libuv_child(si.si_pid)))
      return; /* libuv reaps it; we run again on the next SIGCHLD */
    waitpid(si.si_pid, NULL, WNOHANG);
  }
}
