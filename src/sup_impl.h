/* sup_impl: INTERNAL to the sup modules (src/sup.c, src/sup_apply.c).
 *
 * The supervisor's data (struct sup, its children and its step queue) and
 * the few shell functions the reload needs. Nothing outside src/sup*.c may
 * include this header: the rest of the daemon sees only src/sup.h and
 * src/sup_apply.h. */
#ifndef TEND_SUP_IMPL_H
#define TEND_SUP_IMPL_H

#include <stdint.h>

#include "src/sup.h"
#include "src/sup_fsm.h"
#include "src/sup_policy.h"

/* What the supervisor believes about a child, from the child's reports. */
enum child_state { CHILD_DOWN, CHILD_STARTING, CHILD_UP, CHILD_STOPPING };

struct child {
  const struct config_node *spec; /* a node of the sup's cfg; NULL once
                                     removed */
  actor_id id;
  struct runner *runner; /* exactly one of runner / group is set */
  struct sup *group;
  enum child_state state;
  struct sup_backoff backoff;
  int64_t started_ms; /* monotonic ms of the last start, for backoff */
  int held;           /* stopped by the user: not restarted by policy */
  int failed;         /* past its own restart_limit: left down */
  struct sup_window limit_window; /* its own recent restarts */
  char *why_next; /* why its next start happens (for its marker) */
};

enum step_op { STEP_START, STEP_STOP };

struct step {
  enum step_op op;
  const struct config_node *spec; /* names the child (indexes can shift) */
  int64_t delay_ms;
  int wait;
  int restart; /* a start that a restart plan makes (SUP_MSG_RESTART) */
};

struct sup {
  uv_loop_t *loop;
  /* A reference: every spec the supervisor holds (its own, its children's,
   * its queued steps' and the wait's) is a node of this config; a reload
   * moves them all to the new one at once (rebind()). A removed child's
   * runner or group holds the old config itself until it closes. */
  const struct config *cfg;
  const struct config_node *spec;
  actor_id self, parent;
  enum sup_fsm_state state; /* moved only by fire(), through the table */
  enum sup_fsm_state shown; /* the last published state (GIVING_UP is not) */
  struct child *children;
  size_t n_children;
  struct child *removed; /* left the config: stopping, then closed */
  size_t n_removed;
  struct sup_window window;
  int restarts;

  struct step *steps; /* a deque as a plain array: small in practice */
  size_t n_steps, cap_steps;
  int waiting; /* a step is in flight */
  const struct config_node *wait_for;
  enum step_op wait_op;
  char *give_up_reason; /* set only while GIVING_UP */

  /* close bookkeeping */
  int closing, pending_closes;
  void (*close_cb)(void *);
  void *close_arg;
};

/* Returns the child for spec, or NULL. */
struct child *sup_child_by_spec(struct sup *s, const struct config_node *spec);
/* Appends a plain step (not a restart) at the back (front = 0) or the
 * front (front = 1) of the queue. */
void sup_push_step(struct sup *s, int front, enum step_op op,
                   const struct config_node *spec, int64_t delay_ms, int wait);
/* Runs queued steps until one waits or the queue is empty. */
void sup_run_steps(struct sup *s);

#endif
