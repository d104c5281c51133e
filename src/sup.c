/* sup: the supervisor actor.
 *
 * DESIGN
 * A supervisor owns its children (runner or sup objects, for freeing only)
 * and talks to them through actor messages. All of its work is a queue of
 * steps, "start child i" and "stop child i", executed one at a time: a step
 * that waits sends its message and blocks the queue until the child answers
 * (started, exited or stopped). Ordered start (waiting for readiness),
 * reverse-order stop and the restart plans of the three strategies are all
 * just step sequences. When a child's run ends on its own, sup_decide()
 * (src/sup_policy.c) says what to do; its plan is pushed to the FRONT of the
 * queue so that it preempts what was pending (a start of a child that is
 * already up, or a stop of one already down, is a no-op when reached).
 *
 * A group is itself a child of its parent: it reports STARTED once every
 * child it started is up, STOPPED once all are down, and EXITED (abnormal)
 * when it gives up after too many restarts (only a group that sets
 * "intensity" ever does).
 *
 * A runner that restarts too often by its own "restart_limit" fails alone
 * (SUP_VERDICT_FAIL): the group marks it failed, sends it SUP_MSG_FAIL and
 * leaves it down (strategy plans skip it) until the user starts it or the
 * group itself is started again. Starts that a restart plan makes are sent
 * as SUP_MSG_RESTART, so that the runner counts them as restarts.
 *
 * A reload (sup_apply) runs config_diff's change list, the same one the
 * config_applied event shows; it lives in src/sup_apply.c, on the data
 * of src/sup_impl.h (internal to the sup modules). Each supervisor holds a
 * reference to the config its specs come from (config_ref), and so does
 * each runner, so a replaced config is freed once the last of them moved
 * on or closed.
 *
 * The group's own state is the table's (src/sup_fsm.c): this file only
 * fires events (fire()) and runs the actions the table names
 * (run_action()); nothing else writes s->state. A refused event is
 * ignored with a debug log. GIVING_UP is not published: s->shown is the
 * last state the events showed, and a move is published only when it
 * changes. The child's state here (enum child_state) and the step queue
 * are the shell's bookkeeping, not the group's state.
 */
#include "src/sup.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "runners/runner.h"
#include "src/events.h"
#include "src/log.h"
#include "src/sup_impl.h"
#include "src/tend.h"
#include "src/xalloc.h"

/* Sets why child c starts next (text copied; NULL clears). */
static void
set_why(struct child *c, const char *why)
{
  free(c->why_next);
  c->why_next = why ? xstrdup(why) : NULL;
}

static void sup_handle(void *state, actor_id self, const struct actor_msg *m);
static enum sup_fsm_action fire(struct sup *s, enum sup_fsm_event ev,
                                const char *reason);

/* Returns the monotonic clock in milliseconds. */
static int64_t
mono_ms(uv_loop_t *loop)
{
  uv_update_time(loop);
  return (int64_t)uv_now(loop);
}

/* Publishes the group's move from the state it showed to to. */
static void
publish(struct sup *s, enum sup_fsm_state to, const char *event,
        const char *reason)
{
  struct tend_event ev = {.type = EVENTS_STATE,
                          .node = s->spec->name,
                          .kind = EVENTS_KIND_GROUP,
                          .from.group = s->shown,
                          .to.group = to,
                          .event = event,
                          .reason = reason,
                          .restarts = s->restarts};

  s->shown = to;
  events_emit(&ev);
}

struct sup *
sup_new(uv_loop_t *loop, const struct config *cfg,
        const struct config_node *spec, actor_id parent)
{
  struct sup *s = xcalloc(1, sizeof *s);

  s->loop = loop;
  s->cfg = config_ref(cfg);
  s->spec = spec;
  s->parent = parent;
  s->state = s->shown = SUP_FSM_STOPPED;
  s->self = actor_spawn(sup_handle, s);
  actor_register(spec->name, s->self);
  {
    /* The restarts this group made under a previous daemon. */
    json_t *restarts =
        json_object_get(tend_node_status(spec->name), "restarts");
    if (json_is_integer(restarts) && json_integer_value(restarts) > 0 &&
        json_integer_value(restarts) < INT_MAX)
      s->restarts = (int)json_integer_value(restarts);
  }
  s->n_children = spec->n_children;
  s->children =
      xcalloc(spec->n_children ? spec->n_children : 1, sizeof *s->children);
  for (size_t i = 0; i < spec->n_children; i++) {
    struct child *c = &s->children[i];
    c->spec = spec->children[i];
    if (c->spec->is_group) {
      c->group = sup_new(loop, cfg, c->spec, s->self);
      c->id = sup_id(c->group);
    } else {
      c->runner = runner_new(loop, cfg, c->spec, s->self, tend_runner_env());
      c->id = runner_id(c->runner);
    }
  }
  return s;
}

actor_id
sup_id(const struct sup *s)
{
  return s->self;
}

void
sup_user_cmd_free(void *p)
{
  struct sup_user_cmd *cmd = p;
  if (!cmd)
    return;
  free(cmd->child);
  free(cmd);
}

/* Returns the child whose actor id is id, or NULL. */
static struct child *
child_by_id(struct sup *s, actor_id id)
{
  for (size_t i = 0; i < s->n_children; i++)
    if (s->children[i].id == id)
      return &s->children[i];
  return NULL;
}

struct child *
sup_child_by_spec(struct sup *s, const struct config_node *spec)
{
  for (size_t i = 0; i < s->n_children; i++)
    if (s->children[i].spec == spec)
      return &s->children[i];
  return NULL;
}

/* Returns the child called name, or NULL. */
static struct child *
child_by_name(struct sup *s, const char *name)
{
  for (size_t i = 0; i < s->n_children; i++)
    if (strcmp(s->children[i].spec->name, name) == 0)
      return &s->children[i];
  return NULL;
}

/* Appends a step at the back (front = 0) or front (front = 1). */
static void
push_step_full(struct sup *s, int front, const struct step *stp)
{
  struct step st = *stp;

  if (s->n_steps == s->cap_steps) {
    s->cap_steps = s->cap_steps ? s->cap_steps * 2 : 8;
    s->steps = xrealloc(s->steps, s->cap_steps * sizeof *s->steps);
  }
  if (front) {
    memmove(s->steps + 1, s->steps, s->n_steps * sizeof *s->steps);
    s->steps[0] = st;
  } else {
    s->steps[s->n_steps] = st;
  }
  s->n_steps++;
}

void
sup_push_step(struct sup *s, int front, enum step_op op,
              const struct config_node *spec, int64_t delay_ms, int wait)
{
  struct step st = {op, spec, delay_ms, wait, 0};
  push_step_full(s, front, &st);
}

/* Inserts a plan (an array of steps) at the front, keeping its order. */
static void
push_plan_front(struct sup *s, const struct step *plan, size_t n)
{
  for (size_t i = n; i-- > 0;)
    push_step_full(s, 1, &plan[i]);
}

/* Forgets that a child failed by its restart limit: a fresh budget (and,
 * for one that had failed, a fresh backoff). */
static void
clear_failed(struct child *c)
{
  if (c->failed)
    c->backoff = (struct sup_backoff)SUP_BACKOFF_ZERO;
  c->failed = 0;
  sup_window_free(&c->limit_window);
}

/* Returns 1 when a start of spec is queued. */
static int
start_queued(const struct sup *s, const struct config_node *spec)
{
  for (size_t i = 0; i < s->n_steps; i++)
    if (s->steps[i].op == STEP_START && s->steps[i].spec == spec)
      return 1;
  return 0;
}

/* Sends a message to the parent, or nothing at the root without parent. */
static void
tell_parent(struct sup *s, int type, int64_t arg, const char *text)
{
  if (s->parent == ACTOR_NONE)
    return;
  actor_send(s->parent, type, s->self, arg, text ? xstrdup(text) : NULL, free);
}

/* Called when the queue ran dry: settles the group's own state (STARTING
 * is up, STOPPING is down, GIVING_UP has failed). */
static void
queue_done(struct sup *s)
{
  fire(s, SUP_FSM_EV_QUEUE_EMPTY, s->give_up_reason);
}

/* Executes queued steps until one has to wait or the queue is empty. */
void
sup_run_steps(struct sup *s)
{
  while (!s->waiting && s->n_steps > 0) {
    struct step st = s->steps[0];
    struct child *c;

    memmove(s->steps, s->steps + 1, (s->n_steps - 1) * sizeof *s->steps);
    s->n_steps--;
    c = sup_child_by_spec(s, st.spec);
    if (!c)
      continue;
    if (st.op == STEP_START) {
      if (c->state == CHILD_UP || c->state == CHILD_STARTING)
        continue;
      c->state = CHILD_STARTING;
      c->held = 0;
      c->started_ms = mono_ms(s->loop) + st.delay_ms;
      actor_send(c->id, st.restart ? SUP_MSG_RESTART : SUP_MSG_START, s->self,
                 st.delay_ms, c->why_next, free);
      c->why_next = NULL;
    } else {
      /* Sent even to a child that is down: a runner in backoff or exited
       * still needs the stop to settle (it answers at once). */
      actor_send(c->id, SUP_MSG_STOP, s->self, 0, NULL, NULL);
      c->state = CHILD_STOPPING;
    }
    if (st.wait || st.op == STEP_STOP) {
      s->waiting = 1;
      s->wait_for = st.spec;
      s->wait_op = st.op;
    }
  }
  if (!s->waiting && s->n_steps == 0)
    queue_done(s);
}

/* Builds and queues the restart plan that policy chose for child index
 * exited: stop the live ones of [first, last] in reverse, then start them
 * in order (temporary siblings stay stopped, as in OTP). */
static void
plan_restart(struct sup *s, size_t exited, size_t first, size_t last,
             int64_t delay_ms, const char *reason, int in_start)
{
  for (size_t i = first; i <= last; i++) {
    char *why = i == exited
                    ? xasprintf("restart after %s", reason ? reason : "exit")
                    : xasprintf("%s restart: %s exited",
                                config_strategy_name(s->spec->strategy),
                                s->children[exited].spec->name);
    set_why(&s->children[i], why);
    free(why);
  }
  size_t cap = 2 * (last - first + 1);
  struct step *plan = xcalloc(cap, sizeof *plan);
  size_t n = 0;
  int ordered = s->spec->strategy != CONFIG_STRATEGY_ONE_FOR_ONE;

  for (size_t i = last + 1; i-- > first;) {
    if (i == exited)
      continue;
    plan[n++] = (struct step){STEP_STOP, s->children[i].spec, 0, 1, 0};
  }
  for (size_t i = first; i <= last; i++) {
    const struct config_node *spec = s->children[i].spec;
    if (i != exited && !spec->is_group &&
        spec->restart == CONFIG_RESTART_TEMPORARY)
      continue;
    if (i != exited && (s->children[i].held || s->children[i].failed))
      continue;
    /* A child with a readiness check that died before it was ready holds
     * back the children after it again (the check says they depend on
     * it), whatever the strategy. */
    plan[n++] =
        (struct step){STEP_START, spec, i == exited ? delay_ms : 0,
                      ordered || (i == exited && in_start && !spec->is_group &&
                                  spec->ready != CONFIG_READY_NONE),
                      1};
  }
  push_plan_front(s, plan, n);
  free(plan);
}

/* Returns the restart type policy uses for a child (groups: permanent). */
static enum config_restart
restart_type(const struct child *c)
{
  return c->spec->is_group ? CONFIG_RESTART_PERMANENT : c->spec->restart;
}

/* A child's run ended on its own: ask policy what to do. */
static void
child_exited(struct sup *s, struct child *c, enum sup_exit kind,
             const char *reason, int in_start)
{
  size_t idx = (size_t)(c - s->children);
  struct sup_input in;
  struct sup_decision d;
  int64_t now = mono_ms(s->loop);

  c->state = CHILD_DOWN;
  if (fire(s, SUP_FSM_EV_CHILD_EXIT, NULL) != SUP_FSM_ACTION_DECIDE)
    return; /* the group is not live: the exit was asked for */
  if (c->held || start_queued(s, c->spec))
    return; /* the user stopped it, or a pending plan restarts it anyway */
  in = (struct sup_input){
      .strategy = s->spec->strategy,
      .max_restarts = s->spec->max_restarts,
      .period_ms = s->spec->period_ms,
      .n_children = s->n_children,
      .exited = idx,
      .restart = restart_type(c),
      .exit = kind,
      .now_ms = now,
      /* A group child gave up: escalation goes on only while the parents
       * set intensity. A group without it keeps the failed child group
       * failed, as a runner past its restart_limit, so that a failure
       * stays isolated (and a group is never restarted in a tight loop). */
      .limit_max_restarts = c->spec->is_group
                                ? (s->spec->max_restarts < 0 ? 0 : -1)
                                : c->spec->limit_max_restarts,
      .limit_period_ms = c->spec->limit_period_ms,
      .limit_window = &c->limit_window,
  };
  d = sup_decide(&in, &s->window);
  log_debug("%s: child %s exited (%s): %s", s->spec->name, c->spec->name,
            sup_exit_name(kind), sup_verdict_name(d.verdict));
  if (d.verdict == SUP_VERDICT_IGNORE)
    return;
  if (d.verdict == SUP_VERDICT_FAIL) {
    char *why = xasprintf("restart_limit: more than %d restarts in %g s "
                          "(last: %s)",
                          c->spec->limit_max_restarts,
                          (double)c->spec->limit_period_ms / 1000.0,
                          reason ? reason : "exited");
    c->failed = 1;
    if (c->spec->is_group) {
      free(why); /* it is failed already: it gave up */
      return;
    }
    actor_send(c->id, SUP_MSG_FAIL, s->self, 0, why, free);
    return;
  }
  if (d.verdict == SUP_VERDICT_GIVE_UP) {
    char *why =
        xasprintf("more than %d restarts in %g s (last: %s: %s)",
                  s->spec->max_restarts, (double)s->spec->period_ms / 1000.0,
                  c->spec->name, reason ? reason : "exited");
    fire(s, SUP_FSM_EV_GIVE_UP, why);
    free(why);
    return;
  }
  s->restarts++;
  {
    int64_t run_ms = now - c->started_ms;
    int64_t delay = 0;
    if (!c->spec->is_group)
      delay = sup_backoff_next(&c->backoff, c->spec->backoff_initial_ms,
                               c->spec->backoff_max_ms,
                               c->spec->backoff_reset_ms, run_ms);
    plan_restart(s, idx, d.first, d.last, delay, reason, in_start);
  }
}

/* Counts a closed removed child (or a closed child of a closing group). */
static void on_child_closed(void *arg);

/* Closes a child object (runner or group) and forgets it. */
static void
close_child(struct sup *s, struct child *c)
{
  s->pending_closes++;
  if (c->group)
    sup_close(c->group, on_child_closed, s);
  else
    runner_close(c->runner, on_child_closed, s);
}

/* A removed child answered its stop: close it. */
static void
close_removed(struct sup *s, actor_id id)
{
  for (size_t i = 0; i < s->n_removed; i++) {
    if (s->removed[i].id != id)
      continue;
    close_child(s, &s->removed[i]);
    free(s->removed[i].why_next);
    sup_window_free(&s->removed[i].limit_window);
    s->removed[i] = s->removed[--s->n_removed];
    return;
  }
}

/* Handles a child's report: it clears the wait when it is the awaited one. */
static void
child_report(struct sup *s, const struct actor_msg *m)
{
  struct child *c = child_by_id(s, m->from);
  int awaited;

  if (!c) {
    if (m->type == SUP_MSG_STOPPED)
      close_removed(s, m->from);
    return;
  }
  awaited = s->waiting && s->wait_for == c->spec;
  switch (m->type) {
  case SUP_MSG_STARTED:
    if (c->state == CHILD_STARTING)
      c->state = CHILD_UP;
    if (awaited && s->wait_op == STEP_START)
      s->waiting = 0;
    fire(s, SUP_FSM_EV_CHILD_UP, NULL);
    break;
  case SUP_MSG_STOPPED:
    c->state = CHILD_DOWN;
    if (awaited && s->wait_op == STEP_STOP)
      s->waiting = 0;
    fire(s, SUP_FSM_EV_CHILD_DOWN, NULL);
    break;
  case SUP_MSG_EXITED:
    if (awaited && s->wait_op == STEP_STOP)
      break; /* its STOPPED answer follows */
    if (awaited)
      s->waiting = 0;
    child_exited(s, c, (enum sup_exit)m->arg, m->data,
                 awaited && s->wait_op == STEP_START);
    break;
  }
  sup_run_steps(s);
}

/* Queues a start of every child in order, each waited for until it is up
 * (children without autostart wait for the user). */
static void
start_all(struct sup *s)
{
  for (size_t i = 0; i < s->n_children; i++) {
    const struct config_node *spec = s->children[i].spec;
    clear_failed(&s->children[i]);
    if (!spec->is_group && !spec->autostart)
      continue;
    sup_push_step(s, 0, STEP_START, spec, 0, 1);
  }
  sup_run_steps(s);
}

/* Drops the queue and stops every child in reverse order. */
static void
stop_all(struct sup *s)
{
  s->n_steps = 0;
  /* A child still starting (waiting for its readiness) is not waited for:
   * its stop comes in reverse order like the others'. */
  if (s->waiting && s->wait_op == STEP_START)
    s->waiting = 0;
  for (size_t i = s->n_children; i-- > 0;)
    sup_push_step(s, 0, STEP_STOP, s->children[i].spec, 0, 1);
  sup_run_steps(s);
}

/* Stops every child in reverse order and then starts them in order (the
 * user's restart of the group). */
static void
restart_all(struct sup *s)
{
  s->n_steps = 0;
  for (size_t i = 0; i < s->n_children; i++)
    clear_failed(&s->children[i]);
  for (size_t i = s->n_children; i-- > 0;)
    sup_push_step(s, 0, STEP_STOP, s->children[i].spec, 0, 1);
  for (size_t i = 0; i < s->n_children; i++) {
    const struct config_node *spec = s->children[i].spec;
    if (!spec->is_group && !spec->autostart &&
        s->children[i].state == CHILD_DOWN)
      continue;
    sup_push_step(s, 0, STEP_START, spec, 0, 1);
  }
  sup_run_steps(s);
}

/* Sets whether the user holds every child (held: no restart by policy). */
static void
hold_all(struct sup *s, int held)
{
  for (size_t i = 0; i < s->n_children; i++) {
    s->children[i].held = held;
    if (!held)
      clear_failed(&s->children[i]);
  }
}

/* Forgets the restarts of the group's intensity window. */
static void
reset_window(struct sup *s)
{
  sup_window_free(&s->window);
  s->window = (struct sup_window)SUP_WINDOW_ZERO;
}

/* The group gave up: its runners are marked failed and its parent sees it
 * exit abnormally. */
static void
report_failed(struct sup *s, const char *why)
{
  for (size_t i = 0; i < s->n_children; i++)
    if (s->children[i].runner)
      actor_send(s->children[i].id, SUP_MSG_FAIL, s->self, 0, NULL, NULL);
  events_note(EVENTS_GIVE_UP, s->spec->name, "%s", why ? why : "");
  tell_parent(s, SUP_MSG_EXITED, SUP_EXIT_ABNORMAL, why);
}

/* Runs the action of a transition (DECIDE is the caller's: it holds the
 * exit). reason is the one the event was fired with. */
static void
run_action(struct sup *s, enum sup_fsm_action action, const char *reason)
{
  switch (action) {
  case SUP_FSM_ACTION_INVALID:
  case SUP_FSM_ACTION_NONE:
  case SUP_FSM_ACTION_DECIDE:
    break;
  case SUP_FSM_ACTION_USER_START_AFRESH:
    hold_all(s, 0);
    /* fall through */
  case SUP_FSM_ACTION_START_AFRESH:
    reset_window(s);
    start_all(s);
    break;
  case SUP_FSM_ACTION_USER_START_ALL:
    hold_all(s, 0);
    /* fall through */
  case SUP_FSM_ACTION_START_ALL:
    start_all(s);
    break;
  case SUP_FSM_ACTION_HOLD_STOP_ALL:
    hold_all(s, 1);
    /* fall through */
  case SUP_FSM_ACTION_STOP_ALL:
    stop_all(s);
    break;
  case SUP_FSM_ACTION_ACK_STOPPED:
  case SUP_FSM_ACTION_REPORT_STOPPED:
    tell_parent(s, SUP_MSG_STOPPED, 0, NULL);
    break;
  case SUP_FSM_ACTION_RESTART_ALL:
    restart_all(s);
    break;
  case SUP_FSM_ACTION_CHILD_CMD:
    sup_run_steps(s); /* the command's steps are queued already */
    break;
  case SUP_FSM_ACTION_GIVE_UP: {
    /* Every child is stopped in reverse; the empty queue then fails the
     * group (GIVING_UP --queue_empty--> FAILED). The reason is copied
     * before the old one goes: it may be that very text. */
    char *why = xstrdup(reason ? reason : "gave up");

    s->n_steps = 0;
    free(s->give_up_reason);
    s->give_up_reason = why;
    for (size_t i = s->n_children; i-- > 0;)
      sup_push_step(s, 0, STEP_STOP, s->children[i].spec, 0, 1);
    break;
  }
  case SUP_FSM_ACTION_REPORT_STARTED:
    tell_parent(s, SUP_MSG_STARTED, 0, NULL);
    break;
  case SUP_FSM_ACTION_REPORT_FAILED:
    report_failed(s, reason);
    break;
  case SUP_FSM_N_ACTIONS:
    break;
  }
}

/* Fires ev at the group: the table (src/sup_fsm.c) gives the next state
 * and the action; the move is logged as `name: FROM --event--> TO`,
 * published when the state the group shows changes, and the action run.
 * A refused event changes nothing and is logged at debug level. Returns
 * the action (SUP_FSM_ACTION_INVALID when refused). */
static enum sup_fsm_action
fire(struct sup *s, enum sup_fsm_event ev, const char *reason)
{
  struct sup_fsm_step st = sup_fsm_step(s->state, ev);
  char *owned = NULL;

  if (st.action == SUP_FSM_ACTION_INVALID) {
    log_debug("%s: %s ignored in state %s", s->spec->name,
              sup_fsm_event_name(ev), sup_fsm_state_name(s->state));
    return st.action;
  }
  if (st.next != s->state)
    log_debug("%s: %s --%s--> %s", s->spec->name, sup_fsm_state_name(s->state),
              sup_fsm_event_name(ev), sup_fsm_state_name(st.next));
  if (s->state == SUP_FSM_GIVING_UP && st.next != SUP_FSM_GIVING_UP) {
    /* Leaving GIVING_UP: its reason lives until this event is done (it
     * may be the reason it was fired with). */
    owned = s->give_up_reason;
    s->give_up_reason = NULL;
  }
  s->state = st.next;
  if (sup_fsm_state_published(st.next) && st.next != s->shown)
    publish(s, st.next, sup_fsm_action_word(st.action), reason);
  run_action(s, st.action, reason);
  free(owned);
  return st.action;
}

/* Applies a user command to one child, or to the whole group (child NULL:
 * start, stop, or else restart). */
static void
user_cmd(struct sup *s, const struct sup_user_cmd *cmd)
{
  struct child *c;

  if (!cmd->child) {
    if (cmd->cmd == TEND_CMD_STOP)
      fire(s, SUP_FSM_EV_USER_STOP, NULL); /* the tree, not the daemon */
    else if (cmd->cmd == TEND_CMD_START)
      fire(s, SUP_FSM_EV_USER_START, NULL);
    else
      fire(s, SUP_FSM_EV_USER_RESTART, "restart requested");
    return;
  }
  c = child_by_name(s, cmd->child);
  if (!c)
    return;
  set_why(c,
          cmd->cmd == TEND_CMD_START ? "start requested" : "restart requested");
  if (cmd->cmd == TEND_CMD_START || cmd->cmd == TEND_CMD_RESTART)
    clear_failed(c);
  switch (cmd->cmd) {
  case TEND_CMD_START:
    c->held = 0;
    sup_push_step(s, 0, STEP_START, c->spec, 0, 0);
    break;
  case TEND_CMD_STOP:
    c->held = 1;
    sup_push_step(s, 1, STEP_STOP, c->spec, 0, 1);
    break;
  case TEND_CMD_RESTART:
    c->held = 0;
    sup_push_step(s, 1, STEP_START, c->spec, 0, 0);
    sup_push_step(s, 1, STEP_STOP, c->spec, 0, 1);
    break;
  default:
    break;
  }
  fire(s,
       cmd->cmd == TEND_CMD_STOP ? SUP_FSM_EV_USER_CHILD_STOP
                                 : SUP_FSM_EV_USER_CHILD_START,
       "child started by the user");
}

/* The supervisor's message handler. */
static void
sup_handle(void *state, actor_id self, const struct actor_msg *m)
{
  struct sup *s = state;
  (void)self;

  switch (m->type) {
  case SUP_MSG_START:
  case SUP_MSG_RESTART:
    fire(s, SUP_FSM_EV_START, NULL);
    break;
  case SUP_MSG_STOP:
    fire(s, SUP_FSM_EV_STOP, NULL);
    break;
  case SUP_MSG_STARTED:
  case SUP_MSG_STOPPED:
  case SUP_MSG_EXITED:
    child_report(s, m);
    break;
  case SUP_MSG_USER:
    user_cmd(s, m->data);
    break;
  default:
    break;
  }
}

/* Counts one closed child; frees the supervisor after the last once it
 * is closing itself. */
static void
on_child_closed(void *arg)
{
  struct sup *s = arg;
  if (--s->pending_closes > 0 || !s->closing)
    return;
  if (s->close_cb)
    s->close_cb(s->close_arg);
  sup_window_free(&s->window);
  for (size_t i = 0; i < s->n_children; i++) {
    free(s->children[i].why_next);
    sup_window_free(&s->children[i].limit_window);
  }
  for (size_t i = 0; i < s->n_removed; i++) {
    free(s->removed[i].why_next);
    sup_window_free(&s->removed[i].limit_window);
  }
  free(s->steps);
  free(s->children);
  free(s->removed);
  free(s->give_up_reason);
  config_unref(s->cfg);
  free(s);
}
void
sup_close(struct sup *s, void (*cb)(void *arg), void *arg)
{
  s->closing = 1;
  s->close_cb = cb;
  s->close_arg = arg;
  s->pending_closes++; /* held until every child was asked */
  actor_exit(s->self, ACTOR_REASON_NORMAL, "closed");
  for (size_t i = 0; i < s->n_children; i++)
    close_child(s, &s->children[i]);
  for (size_t i = 0; i < s->n_removed; i++) {
    close_child(s, &s->removed[i]);
    free(s->removed[i].why_next);
    sup_window_free(&s->removed[i].limit_window);
  }
  s->n_removed = 0;
  on_child_closed(s);
}

const char *
sup_group_state_name(size_t i)
{
  return i < INT_MAX ? sup_fsm_published_name((int)i) : NULL;
}

int
sup_group_restarts(const struct sup *s, const char *name)
{
  if (strcmp(s->spec->name, name) == 0)
    return s->restarts;
  for (size_t i = 0; i < s->n_children; i++) {
    int n;
    if (s->children[i].group &&
        (n = sup_group_restarts(s->children[i].group, name)) >= 0)
      return n;
  }
  return -1;
}
