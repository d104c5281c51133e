/* sup_policy: the supervisor's restart decisions as pure functions.
 *
 * Design: everything OTP's `supervisor` decides when a child ends lives here,
 * over plain data, so it can be tested without a loop or a clock:
 *   - the restart type and the exit kind say whether to restart at all
 *     (permanent: always, transient: only after an abnormal exit,
 *     temporary: never; a shutdown is never restarted);
 *   - the strategy says which children the restart covers;
 *   - the child's own restart limit (a window of its own restarts) says
 *     whether it fails alone, like supervisord's FATAL: a crash loop stays
 *     isolated and its siblings keep running;
 *   - the intensity window (timestamps of recent restarts, owned by the
 *     supervisor; only when the group sets "intensity") says whether one
 *     more restart is allowed or the group gives up and escalates to its
 *     parent.
 * A verdict other than RESTART leaves the window untouched, so a child that
 * is ignored never uses up the group's restart budget. The window never
 * holds more than max_restarts stamps: it is pruned before every decision
 * and a restart that would exceed the budget is not recorded. */
#include "src/sup_policy.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>

#include "src/enumname.h"
#include "src/log.h"
#include "src/xalloc.h"

/* The JSON names of exit kinds and verdicts ("?" when out of range). */
ENUMNAME_NAME_FN(sup_exit, enum sup_exit, SUP_EXIT_MAP, ENUMNAME_PICK2, "?")
ENUMNAME_NAME_FN(sup_verdict, enum sup_verdict, SUP_VERDICT_MAP, ENUMNAME_PICK2,
                 "?")

/* Releases the window's stamps and leaves it empty and reusable. */
void
sup_window_free(struct sup_window *w)
{
  if (!w)
    return;
  free(w->stamps);
  w->stamps = NULL;
  w->n = w->cap = 0;
}

/* Returns 1 when a child of this restart type is restarted after exit. */
static int
wants_restart(enum config_restart restart, enum sup_exit exit)
{
  if (exit == SUP_EXIT_SHUTDOWN)
    return 0;
  switch (restart) {
  case CONFIG_RESTART_PERMANENT:
    return 1;
  case CONFIG_RESTART_TRANSIENT:
    return exit == SUP_EXIT_ABNORMAL;
  case CONFIG_RESTART_TEMPORARY:
    return 0;
  }
  return 0;
}

/* Drops the stamps that have left the window (now - t >= period), keeping
 * the order of the rest. Filtering rather than trimming a prefix keeps the
 * window right even if the caller's clock ever stepped backwards. */
static void
window_prune(struct sup_window *w, int64_t now_ms, int64_t period_ms)
{
  size_t kept = 0;
  for (size_t i = 0; i < w->n; i++) {
    /* now - t computed so that a far-future or far-past stamp cannot
     * overflow: compare t against now - period instead. */
    int64_t t = w->stamps[i];
    int inside;
    if (period_ms <= 0)
      inside = 0;
    else if (now_ms < INT64_MIN + period_ms)
      inside = 1; /* now - period would underflow: every t is newer */
    else
      inside = t > now_ms - period_ms;
    if (inside)
      w->stamps[kept++] = t;
  }
  w->n = kept;
}

/* Appends one restart stamp to the window. */
static void
window_record(struct sup_window *w, int64_t now_ms)
{
  if (w->n == w->cap) {
    w->cap = w->cap ? w->cap * 2 : 4;
    w->stamps = xrealloc(w->stamps, w->cap * sizeof *w->stamps);
  }
  w->stamps[w->n++] = now_ms;
}

/* Decides what a group does when one child's run ends (see the header). */
struct sup_decision
sup_decide(const struct sup_input *in, struct sup_window *w)
{
  struct sup_decision d = {SUP_VERDICT_IGNORE, in->exited, in->exited};

  TEND_ASSERT(in->n_children > 0 && in->exited < in->n_children);
  if (!wants_restart(in->restart, in->exit))
    return d;

  /* The child's own limit first: it fails alone, the group's budget is
   * not spent on it. */
  if (in->limit_window && in->limit_max_restarts >= 0) {
    window_prune(in->limit_window, in->now_ms, in->limit_period_ms);
    if (in->limit_window->n + 1 > (size_t)in->limit_max_restarts) {
      d.verdict = SUP_VERDICT_FAIL;
      return d;
    }
  }
  /* OTP: more than MaxR restarts within MaxT gives up, so with the restart
   * being decided counted, n + 1 > max_restarts is one too many. A group
   * without intensity never gives up. */
  if (in->max_restarts >= 0) {
    window_prune(w, in->now_ms, in->period_ms);
    if (w->n + 1 > (size_t)in->max_restarts) {
      d.verdict = SUP_VERDICT_GIVE_UP;
      d.first = 0;
      d.last = in->n_children - 1;
      return d;
    }
    window_record(w, in->now_ms);
  }
  if (in->limit_window && in->limit_max_restarts >= 0)
    window_record(in->limit_window, in->now_ms);

  d.verdict = SUP_VERDICT_RESTART;
  switch (in->strategy) {
  case CONFIG_STRATEGY_ONE_FOR_ONE:
    d.first = d.last = in->exited;
    break;
  case CONFIG_STRATEGY_ONE_FOR_ALL:
    d.first = 0;
    d.last = in->n_children - 1;
    break;
  case CONFIG_STRATEGY_REST_FOR_ONE:
    d.first = in->exited;
    d.last = in->n_children - 1;
    break;
  }
  return d;
}

/* Returns the next backoff delay and advances the attempt counter. */
int64_t
sup_backoff_next(struct sup_backoff *b, int64_t initial_ms, int64_t max_ms,
                 int64_t reset_ms, int64_t run_ms)
{
  int64_t delay;

  if (run_ms >= reset_ms || b->attempt < 0)
    b->attempt = 0;
  if (initial_ms <= 0) {
    delay = 0;
  } else if (b->attempt >= 63 || initial_ms > (INT64_MAX >> b->attempt)) {
    /* initial << attempt would overflow: it is past any cap anyway. */
    delay = max_ms;
  } else {
    delay = initial_ms << b->attempt;
    if (delay > max_ms)
      delay = max_ms;
  }
  if (delay < 0)
    delay = 0;
  if (b->attempt < INT_MAX)
    b->attempt++;
  return delay;
}

/* Classifies how a child's run ended; the success-code check is done here
 * (not through config_success_code) so the policy depends only on the spec
 * struct. A NULL spec or an empty list means {0}. */
enum sup_exit
sup_classify(const struct config_node *spec, int spawn_failed, int by_request,
             int64_t status, int term_signal)
{
  if (spawn_failed)
    return SUP_EXIT_ABNORMAL;
  if (by_request)
    return SUP_EXIT_SHUTDOWN;
  if (term_signal != 0)
    return SUP_EXIT_ABNORMAL;
  if (!spec || !spec->success_codes || spec->n_success_codes == 0)
    return status == 0 ? SUP_EXIT_NORMAL : SUP_EXIT_ABNORMAL;
  for (size_t i = 0; i < spec->n_success_codes; i++)
    if ((int64_t)spec->success_codes[i] == status)
      return SUP_EXIT_NORMAL;
  return SUP_EXIT_ABNORMAL;
}
