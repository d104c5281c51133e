/* view: the read model behind state/view.h. One status object per node
 * name, updated in place by each "state" event. */
#include "state/view.h"

#include <string.h>

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

/* Copies key from ev to status when present in ev. */
static void
copy_field(json_t *status, const json_t *ev, const char *key)
{
  json_t *val = json_object_get(ev, key);
  if (val)
    json_object_set(status, key, val);
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
apply_probe(struct view *v, const char *type, const char *name,
            const json_t *ev)
{
  json_t *status = json_object_get(v->nodes, name);
  json_t *health;
  const char *state;

  if (!status)
    return;
  if (strcmp(type, "ready_waiting") == 0) {
    json_object_set(status, "waiting", json_object_get(ev, "reason"));
    return;
  }
  state = strcmp(type, "health_ok") == 0       ? "ok"
          : strcmp(type, "health_failed") == 0 ? "failing"
                                               : "unhealthy";
  health = json_pack("{s:s, s:O?, s:O?, s:O?, s:O?}", "state", state,
                     "failures", json_object_get(ev, "failures"), "of",
                     json_object_get(ev, "of"), "last_error",
                     json_object_get(ev, "error"), "since",
                     json_object_get(ev, "ts"));
  if (!json_object_get(ev, "error")) {
    /* A passing check keeps the last error of the previous failures. */
    json_t *old = json_object_get(status, "health");
    json_object_set(health, "last_error",
                    old ? json_object_get(old, "last_error") : json_null());
  }
  json_object_set_new(status, "health", health);
}

void
view_apply(struct view *v, const json_t *ev)
{
  const char *type = json_string_value(json_object_get(ev, "type"));
  const char *name = json_string_value(json_object_get(ev, "node"));
  const char *to = json_string_value(json_object_get(ev, "to"));
  json_t *status;

  if (type && name &&
      (!strcmp(type, "ready_waiting") || !strcmp(type, "health_ok") ||
       !strcmp(type, "health_failed") || !strcmp(type, "unhealthy"))) {
    apply_probe(v, type, name, ev);
    return;
  }
  if (!type || strcmp(type, "state") != 0 || !name || !to)
    return;
  status = json_object_get(v->nodes, name);
  if (!status) {
    status = json_pack("{s:n, s:i, s:i, s:n, s:n}", "pid", "run", 0,
                       "restarts", 0, "last_exit", "next_start_ms");
    json_object_set_new(v->nodes, name, status);
  }
  json_object_set_new(status, "state", json_string(to));
  json_object_del(status, "waiting");
  if (!strcmp(to, "starting") &&
      strcmp(json_string_value(json_object_get(ev, "from")) ?: "", "starting"))
    json_object_del(status, "health"); /* a new run: no verdict yet */
  json_object_set(status, "since", json_object_get(ev, "ts"));
  copy_field(status, ev, "run");
  copy_field(status, ev, "restarts");
  copy_field(status, ev, "reason");
  if (!strcmp(to, "starting") || !strcmp(to, "running") ||
      !strcmp(to, "ready") || !strcmp(to, "stopping"))
    copy_field(status, ev, "pid");
  else
    json_object_set_new(status, "pid", json_null());
  if (!strcmp(to, "backoff"))
    copy_field(status, ev, "next_start_ms");
  else
    json_object_set_new(status, "next_start_ms", json_null());
  if (json_object_get(ev, "status") || json_object_get(ev, "signal") ||
      json_object_get(ev, "spawn_error")) {
    json_t *last = json_object();
    copy_field(last, ev, "status");
    copy_field(last, ev, "signal");
    copy_field(last, ev, "spawn_error");
    copy_field(last, ev, "reason");
    json_object_set(last, "ts", json_object_get(ev, "ts"));
    json_object_set_new(status, "last_exit", last);
    if (!strcmp(to, "exited"))
      remember_exit(status, last);
  }
}

void
view_restore(struct view *v, const char *name, const json_t *saved)
{
  static const char *const keep[] = {"run", "restarts", "last_exit",
                                     "history", "since"};
  json_t *status = json_pack("{s:s, s:n, s:i, s:i, s:n, s:n}", "state",
                             "stopped", "pid", "run", 0, "restarts", 0,
                             "last_exit", "next_start_ms");

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
