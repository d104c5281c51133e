/* sup_policy: the supervisor's decisions as pure functions (DESIGN.md,
 * principle 3): OTP strategy x restart type x exit kind x intensity window
 * -> what to restart or whether to give up; plus per-child backoff.
 * No libuv, no clock: the caller passes "now". */
#ifndef TEND_SUP_POLICY_H
#define TEND_SUP_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "src/config.h"

/* How a child's run ended, as the supervisor sees it. */
#define SUP_EXIT_MAP(X)                                                        \
  X(NORMAL, "normal")     /* status in success_codes */                        \
  X(ABNORMAL, "abnormal") /* other status, a signal, spawn failure, a failed   \
                             group */                                          \
  X(SHUTDOWN, "shutdown") /* the supervisor (or the user) stopped it */

enum sup_exit {
#define X(N, S) SUP_EXIT_##N,
  SUP_EXIT_MAP(X)
#undef X
};
const char *sup_exit_name(enum sup_exit e);

#define SUP_VERDICT_MAP(X)                                                     \
  X(IGNORE, "ignore") /* nothing to do (e.g. temporary child, shutdown) */     \
  X(RESTART,                                                                   \
    "restart") /* stop [first..last] except exited, then start them */         \
  X(GIVE_UP, "give_up") /* intensity exceeded: stop all children, fail */      \
  X(FAIL, "fail")       /* the child's own restart_limit exceeded: it          \
                           fails alone, its siblings are untouched */

enum sup_verdict {
#define X(N, S) SUP_VERDICT_##N,
  SUP_VERDICT_MAP(X)
#undef X
};
const char *sup_verdict_name(enum sup_verdict v);

/* Timestamps (ms) of a group's recent restarts; plain data owned by the
 * supervisor. SUP_WINDOW_ZERO initialises; sup_window_free releases. */
struct sup_window {
  int64_t *stamps;
  size_t n, cap;
};
#define SUP_WINDOW_ZERO                                                        \
  {                                                                            \
    NULL, 0, 0                                                                 \
  }
void sup_window_free(struct sup_window *w);

struct sup_input {
  enum config_strategy strategy;
  int max_restarts;  /* intensity: more than this many restarts ... */
  int64_t period_ms; /* ... within this period gives up; a negative
                        max_restarts: the group has no intensity and
                        never gives up */
  size_t n_children;
  size_t exited; /* index of the child whose run ended */
  enum config_restart
      restart; /* that child's restart type (groups: permanent) */
  enum sup_exit exit;
  int64_t now_ms;
  /* The exited child's own restart limit (runners' "restart_limit"),
   * checked before the group's intensity: more than limit_max_restarts
   * restarts of this child within limit_period_ms and it fails alone.
   * No limit when limit_window is NULL or limit_max_restarts < 0. */
  int limit_max_restarts;
  int64_t limit_period_ms;
  struct sup_window *limit_window; /* the child's stamps, owned by the
                                      supervisor */
};

struct sup_decision {
  enum sup_verdict verdict;
  /* For RESTART: the children to restart, a contiguous range in start order:
   * one_for_one [exited, exited], one_for_all [0, n-1], rest_for_one
   * [exited, n-1]. The caller stops the live ones among them in reverse
   * order, then starts them in order (skipping temporary siblings, which
   * OTP never restarts). For GIVE_UP: [0, n-1], every child is stopped.
   * For IGNORE: [exited, exited], and nothing is to be done. */
  size_t first, last;
};

/* Decides what a group does when one child's run ends; in->exited must be
 * < in->n_children (aborts otherwise). A restart is counted
 * in w (only when the verdict is RESTART); a restart at time t is inside
 * the window while now - t < period_ms. The child's own limit comes first:
 * when counting the restart would make more than limit_max_restarts in its
 * limit_window, the verdict is FAIL ([exited, exited]; no window changes).
 * Then, when counting it would make more than max_restarts restarts inside
 * the group's window, the verdict is GIVE_UP (max_restarts 0: the first
 * restart gives up; negative: never) and it is not recorded. A RESTART is
 * recorded in both windows.
 * Restart types: permanent restarts after NORMAL and ABNORMAL, transient
 * only after ABNORMAL, temporary never; SHUTDOWN never restarts. */
struct sup_decision sup_decide(const struct sup_input *in,
                               struct sup_window *w);

/* Per-child exponential backoff state. */
struct sup_backoff {
  int attempt; /* consecutive quick failures so far */
};
#define SUP_BACKOFF_ZERO                                                       \
  {                                                                            \
    0                                                                          \
  }

/* Returns the delay (ms) before the next start of a child whose run lasted
 * run_ms. A run of at least reset_ms resets the sequence. The delays are
 * initial, 2*initial, 4*initial, ... capped at max_ms (no overflow);
 * initial_ms 0 gives 0. Each call counts one more attempt. */
int64_t sup_backoff_next(struct sup_backoff *b, int64_t initial_ms,
                         int64_t max_ms, int64_t reset_ms, int64_t run_ms);

/* Classifies a child's exit. spawn_failed: the command could not start,
 * or tend ended the run for a limit (max_memory): abnormal whatever the
 * status.
 * by_request: the stop was asked for (by the supervisor or the user).
 * status / term_signal as libuv reports them (term_signal 0: none). */
enum sup_exit sup_classify(const struct config_node *spec, int spawn_failed,
                           int by_request, int64_t status, int term_signal);

#endif
