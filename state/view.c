/* view: the read model behind state/view.h. One status object per node
 * name, updated in place by each "state" event (and the probes' events),
 * folded from the typed event: no JSON is parsed here. */
#include "state/view.h"

#include <string.h>

#include "src/config.h"
#include "src/xalloc.h"

#define VIEW_HISTORY 10

struct view {
  json_t *nodes; /* name -> status object */
};

struct view *
view_new(void)
{
  struct view *v = xcalloc(1, sizeof *v);
  v->nodes = json_object();
  return v;
}

void
view_free(struct view *v)
{
  if (!v)
    return;
  json_decref(v->nodes);
  free(v);
}

/* Keeps the last VIEW_HISTORY runs that ended on their own (the restart
 * history of state.json and the API). */
static void
remember_exit(json_t *status, json_t *last)
{
  json_t *history = json_object_get(status, "history");
  if (!history) {
    history = json_array();
    json_object_set_new(status, "history", history);
  }
  json_array_append(history, last);
  while (json_array_size(history) > VIEW_HISTORY)
    json_array_remove(history, 0);
}

/* Folds the probes' events: "waiting" (why the readiness check has not
 * passed yet) and "health" (the liveness probe: ok, failing N of M, or
 * unhealthy, with the last error). Both belong to one run: the next
 * transition clears "waiting", a new run clears "health". */
static void
apply_probe(struct view *v, const struct tend_event *ev)
{
  json_t *status = json_object_get(v->nodes, ev->node);
  json_t *health, *last_error;
  const char *state;

  if (!status)
    return;
  if (ev->type == EVENTS_READY_WAITING) {
    if (ev->reason)
      json_object_set_new(status, "waiting", json_string(ev->reason));
    return;
  }
  state = ev->type == EVENTS_HEALTH_OK       ? "ok"
          : ev->type == EVENTS_HEALTH_FAILED ? "failing"
                                             : "unhealthy";
  if (ev->error) {
    last_error = json_string(ev->error);
  } else {
    /* A passing check keeps the last error of the previous failures. */
    json_t *old = json_object_get(status, "health");
    last_error = json_incref(old ? json_object_get(old, "last_error") : NULL);
    if (!last_error)
      last_error = json_null();
  }
  health = json_pack("{s:s, s:i, s:i, s:o, s:I}", "state", state, "failures",
                     ev->failures, "of", ev->of, "last_error", last_error,
                     "since", (json_int_t)ev->ts);
  json_object_set_new(status, "health", health);
}

/* The last_exit object of a transition that tells how a run ended, or
 * NULL: {"status"|"signal"|"spawn_error", "reason", "ts"}. */
static json_t *
last_exit_of(const struct tend_event *ev)
{
  json_t *last;

  if (!ev->has_status && !ev->signal && !ev->spawn_error)
    return NULL;
  last = json_object();
  if (ev->has_status && !ev->signal)
    json_object_set_new(last, "status", json_integer(ev->status));
  if (ev->signal)
    json_object_set_new(last, "signal",
                        json_string(config_signal_name(ev->signal)));
  if (ev->spawn_error)
    json_object_set_new(last, "spawn_error", json_string(ev->spawn_error));
  if (ev->reason)
    json_object_set_new(last, "reason", json_string(ev->reason));
  json_object_set_new(last, "ts", json_integer((json_int_t)ev->ts));
  return last;
}

void
view_apply(struct view *v, const struct tend_event *ev)
{
  int runner = ev->kind == EVENTS_KIND_RUNNER;
  json_t *status, *last;

  if (!ev->node)
    return;
  if (ev->type == EVENTS_READY_WAITING || ev->type == EVENTS_HEALTH_OK ||
      ev->type == EVENTS_HEALTH_FAILED || ev->type == EVENTS_UNHEALTHY) {
    apply_probe(v, ev);
    return;
  }
  if (ev->type != EVENTS_STATE)
    return;
  status = json_object_get(v->nodes, ev->node);
  if (!status) {
    status = json_pack("{s:n, s:i, s:i, s:n, s:n}", "pid", "run", 0, "restarts",
                       0, "last_exit", "next_start_ms");
    json_object_set_new(v->nodes, ev->node, status);
  }
  json_object_set_new(status, "state",
                      json_string(events_state_name(ev->kind, ev->to)));
  json_object_del(status, "waiting");
  if (runner && ev->to.runner == FSM_STARTING &&
      ev->from.runner != FSM_STARTING)
    json_object_del(status, "health"); /* a new run: no verdict yet */
  json_object_set_new(status, "since", json_integer((json_int_t)ev->ts));
  if (runner)
    json_object_set_new(status, "run", json_integer((json_int_t)ev->run));
  json_object_set_new(status, "restarts", json_integer(ev->restarts));
  if (ev->reason)
    json_object_set_new(status, "reason", json_string(ev->reason));
  if (!runner || !fsm_state_alive(ev->to.runner))
    json_object_set_new(status, "pid", json_null());
  else if (ev->pid > 0)
    json_object_set_new(status, "pid", json_integer(ev->pid));
  if (runner && ev->to.runner == FSM_BACKOFF && ev->next_start_ms > 0)
    json_object_set_new(status, "next_start_ms",
                        json_integer((json_int_t)ev->next_start_ms));
  else if (!runner || ev->to.runner != FSM_BACKOFF)
    json_object_set_new(status, "next_start_ms", json_null());
  last = last_exit_of(ev);
  if (last) {
    json_object_set_new(status, "last_exit", last);
    if (runner && ev->to.runner == FSM_EXITED)
      remember_exit(status, last);
  }
}

void
view_restore(struct view *v, const char *name, const json_t *saved)
{
  static const char *const keep[] = {"run", "restarts", "last_exit", "history",
                                     "since"};
  json_t *status =
      json_pack("{s:s, s:n, s:i, s:i, s:n, s:n}", "state", "stopped", "pid",
                "run", 0, "restarts", 0, "last_exit", "next_start_ms");

  for (size_t i = 0; i < sizeof keep / sizeof *keep; i++) {
    json_t *val = json_object_get(saved, keep[i]);
    if (!val || json_is_null(val))
      continue;
    if ((i < 2 || i == 4) && !json_is_integer(val))
      continue; /* a hand-edited or foreign file: keep the defaults */
    if (i == 2 && !json_is_object(val))
      continue;
    if (i == 3 && !json_is_array(val))
      continue;
    json_object_set_new(status, keep[i], json_deep_copy(val));
  }
  json_object_set_new(v->nodes, name, status);
}

const json_t *
view_status(const struct view *v, const char *name)
{
  return json_object_get(v->nodes, name);
}

void
view_forget(struct view *v, const char *name)
{
  json_object_del(v->nodes, name);
}
