/* treejson: the JSON of the tree's nodes (src/treejson.h).
 *
 * A node's object starts from the read model's status (state/view.c:
 * folded from events, seeded from state.json) and gets the defaults a
 * node has before its first event, so that every field the API documents
 * is always there (docs/formats.md). Groups drop the process facts the
 * view keeps per node; runners get their config facts and what they
 * announced in the registry.
 */
#include "src/treejson.h"

#include "src/config.h"
#include "src/registry.h"
#include "state/store.h"
#include "state/view.h"
#include "watchers/watch.h"

json_t *
treejson_node(const struct config_node *n, int recursive,
              const struct view *view, const struct registry *reg)
{
  const json_t *status = view_status(view, n->name);
  json_t *out = json_pack("{s:s, s:s}", "name", n->name, "kind",
                          n->is_group ? "group" : "runner");

  if (status)
    json_object_update(out, (json_t *)status);
  if (!json_object_get(out, "state"))
    json_object_set_new(out, "state", json_string("stopped"));
  if (n->is_group) {
    json_t *children = json_array();
    json_object_set_new(out, "strategy",
                        json_string(config_strategy_name(n->strategy)));
    /* Process facts belong to runners; the view keeps them per node. */
    json_object_del(out, "pid");
    json_object_del(out, "run");
    json_object_del(out, "last_exit");
    json_object_del(out, "next_start_ms");
    if (!json_object_get(out, "restarts"))
      json_object_set_new(out, "restarts", json_integer(0));
    if (recursive)
      for (size_t i = 0; i < n->n_children; i++)
        json_array_append_new(children,
                              treejson_node(n->children[i], 1, view, reg));
    else
      for (size_t i = 0; i < n->n_children; i++)
        json_array_append_new(children, json_string(n->children[i]->name));
    json_object_set_new(out, "children", children);
  } else {
    struct store *st = registry_store(reg, n->name);
    const char *const defaults[] = {"pid", "last_exit", "next_start_ms"};
    for (size_t i = 0; i < 3; i++)
      if (!json_object_get(out, defaults[i]))
        json_object_set_new(out, defaults[i], json_null());
    if (!json_object_get(out, "run"))
      json_object_set_new(out, "run", json_integer(0));
    if (!json_object_get(out, "restarts"))
      json_object_set_new(out, "restarts", json_integer(0));
    json_object_set_new(out, "output_seq",
                        json_integer(st ? (json_int_t)store_last_seq(st) : 0));
    json_object_set_new(out, "autostart", json_boolean(n->autostart));
    json_object_set_new(out, "restart",
                        json_string(config_restart_name(n->restart)));
    {
      struct watch *w = registry_watch(reg, n->name);
      json_object_set_new(out, "watch", w ? watch_status_json(w) : json_null());
    }
    if (n->pty) {
      /* The live terminal's size, else the one the next run gets. */
      struct registry_pty *p = registry_pty(reg, n->name);
      json_object_set_new(out, "pty",
                          json_pack("{s:i, s:i}", "cols",
                                    p ? p->cols : n->pty_cols, "rows",
                                    p ? p->rows : n->pty_rows));
    } else {
      json_object_set_new(out, "pty", json_null());
    }
    /* What a user may ask of it now, from the predicates the API checks:
     * the web UI enables its buttons from this, not a list of its own. */
    json_object_set_new(out, "can",
                        fsm_can_json(treejson_runner_state(view, n->name)));
  }
  return out;
}

enum fsm_state
treejson_runner_state(const struct view *view, const char *name)
{
  const json_t *status = view_status(view, name);
  enum fsm_state st = FSM_STOPPED;
  const char *s =
      status ? json_string_value(json_object_get(status, "state")) : NULL;
  if (s)
    fsm_state_parse(s, &st);
  return st;
}
