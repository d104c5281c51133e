/* sup_apply: a reload applied to the running supervisor tree.
 *
 * DESIGN
 * Runs config_diff's change list (the one the config_applied event shows)
 * on the tree of supervisors in place: removes stop and leave, adds are
 * created, changed runners restart, survivors are rebound to their new
 * specs (and so are their queued steps). It works on struct sup through
 * the internal src/sup_impl.h; the running supervisor (queue, plans, the
 * group state table) is src/sup.c.
 */
#include "src/sup_apply.h"

#include <stdlib.h>
#include <string.h>

#include "runners/runner.h"
#include "src/log.h"
#include "src/strmap.h"
#include "src/sup_impl.h"
#include "src/tend.h"
#include "src/xalloc.h"

/* ------------------------------------------------------------------ */
/* Reload: the config_diff change list, applied                         */

/* The change list that the config_applied event shows is the one thing
 * applied: REMOVE stops and forgets a child, ADD creates one, CHANGE
 * restarts a runner; every other node of the new tree is a survivor (same
 * name, kind and parent) and is rebound to its new spec. The removes go
 * first over the whole tree, so that a node moved to another group has
 * left its old place (and its name in the registry) before it is created
 * in the new one. A survivor the tree does not hold, or a child the list
 * neither keeps nor removes, means the tree and the diff disagree: a
 * broken invariant, so it aborts. */

/* The ADD and CHANGE entries of a change list, by node name. */
struct diff_index {
  struct strmap *adds;    /* new name -> change */
  struct strmap *changes; /* name -> change */
};

/* Returns the supervisor (s or one below it) that runs group spec. */
static struct sup *
sup_of_spec(struct sup *s, const struct config_node *spec)
{
  if (s->spec == spec)
    return s;
  for (size_t i = 0; i < s->n_children; i++) {
    struct sup *g = s->children[i].group;
    struct sup *found = g ? sup_of_spec(g, spec) : NULL;
    if (found)
      return found;
  }
  return NULL;
}

/* REMOVE: stops child c of s and moves it to the removed list (closed once
 * it answers); its queued steps go, and so does a wait for it. Its runner
 * or group holds its own reference to the old config until it closes. */
static void
remove_child(struct sup *s, struct child *c)
{
  struct child gone = *c;
  size_t out = 0;

  for (size_t i = 0; i < s->n_steps; i++)
    if (s->steps[i].spec != gone.spec)
      s->steps[out++] = s->steps[i];
  s->n_steps = out;
  if (s->waiting && s->wait_for == gone.spec)
    s->waiting = 0;
  actor_unregister(gone.spec->name);
  gone.spec = NULL; /* nothing reads it: the old config may go first */
  memmove(c, c + 1,
          (size_t)(s->children + s->n_children - (c + 1)) * sizeof *c);
  s->n_children--;
  s->removed = xrealloc(s->removed, (s->n_removed + 1) * sizeof *s->removed);
  s->removed[s->n_removed++] = gone;
  actor_send(gone.id, SUP_MSG_STOP, s->self, 0, NULL, NULL);
}

/* Points the queued steps and the wait at from to to. */
static void
remap_spec(struct sup *s, const struct config_node *from,
           const struct config_node *to)
{
  for (size_t i = 0; i < s->n_steps; i++)
    if (s->steps[i].spec == from)
      s->steps[i].spec = to;
  if (s->waiting && s->wait_for == from)
    s->wait_for = to;
}

/* Returns the change of kind k (ADD or CHANGE) listed for node, or NULL. */
static const struct config_change *
change_of(const struct diff_index *ix, enum config_change_kind k,
          const struct config_node *node)
{
  const struct config_change *ch =
      strmap_get(k == CONFIG_CHANGE_ADD ? ix->adds : ix->changes, node->name);
  return ch && ch->new_node == node ? ch : NULL;
}

/* Creates the child for an added spec ns (started when the group is live
 * and ns is a group or autostarts). */
static void
add_child(struct sup *s, struct child *c, const struct config *cfg,
          const struct config_node *ns, int live)
{
  c->spec = ns;
  if (ns->is_group) {
    c->group = sup_new(s->loop, cfg, ns, s->self);
    c->id = sup_id(c->group);
  } else {
    c->runner = runner_new(s->loop, cfg, ns, s->self, tend_runner_env());
    c->id = runner_id(c->runner);
  }
  if (live && (ns->is_group || ns->autostart))
    sup_push_step(s, 0, STEP_START, ns, 0, 0);
}

/* Rebinds s (its removes done) to spec of cfg: survivors take their new
 * specs in the new order, added children are created, changed runners
 * restart. parent_live: every ancestor is running or starting. A group
 * that is not live (stopping, stopped, failed, or below one that stops, as
 * during the daemon's shutdown) starts nothing: new children wait for its
 * next start, changed ones run the new spec then. */
static void
rebind(struct sup *s, const struct config *cfg, const struct config_node *spec,
       const struct diff_index *ix, int parent_live)
{
  struct child *old = s->children;
  size_t n_old = s->n_children;
  int *taken = xcalloc(n_old ? n_old : 1, sizeof *taken);
  struct child *now =
      xcalloc(spec->n_children ? spec->n_children : 1, sizeof *now);
  int live = parent_live && sup_fsm_state_live(s->state);

  if (strcmp(s->spec->name, spec->name) != 0) {
    /* Only the root is renamed in place (a ROOT change). */
    actor_unregister(s->spec->name);
    actor_register(spec->name, s->self);
  }
  s->spec = spec;
  config_ref(cfg);
  config_unref(s->cfg);
  s->cfg = cfg;
  for (size_t i = 0; i < spec->n_children; i++) {
    const struct config_node *ns = spec->children[i];
    struct child *c = &now[i];
    size_t j = 0;

    if (change_of(ix, CONFIG_CHANGE_ADD, ns)) {
      add_child(s, c, cfg, ns, live);
      continue;
    }
    while (j < n_old && (taken[j] || strcmp(old[j].spec->name, ns->name)))
      j++;
    TEND_ASSERT(j < n_old && old[j].spec->is_group == ns->is_group);
    taken[j] = 1;
    *c = old[j];
    remap_spec(s, c->spec, ns);
    c->spec = ns;
    if (c->group) {
      rebind(c->group, cfg, ns, ix, live);
      continue;
    }
    runner_rebind(c->runner, cfg, ns);
    if (change_of(ix, CONFIG_CHANGE_CHANGE, ns) && live &&
        (c->state == CHILD_UP || c->state == CHILD_STARTING)) {
      sup_push_step(s, 0, STEP_STOP, ns, 0, 1);
      sup_push_step(s, 0, STEP_START, ns, 0, 0);
    }
  }
  for (size_t j = 0; j < n_old; j++)
    TEND_ASSERT(taken[j]); /* kept by neither the diff nor the new tree */
  free(taken);
  free(old);
  s->children = now;
  s->n_children = spec->n_children;
  sup_run_steps(s);
}

void
sup_apply(struct sup *s, const struct config *cfg,
          const struct config_change *changes, size_t n)
{
  struct diff_index ix = {strmap_new(), strmap_new()};

  for (size_t i = 0; i < n; i++) {
    const struct config_change *ch = &changes[i];
    if (ch->kind == CONFIG_CHANGE_REMOVE) {
      struct sup *g = sup_of_spec(s, ch->old_node->parent);
      struct child *c = g ? sup_child_by_spec(g, ch->old_node) : NULL;
      TEND_ASSERT(c != NULL); /* the tree runs the diff's old config */
      remove_child(g, c);
    } else if (ch->kind == CONFIG_CHANGE_ADD) {
      strmap_set(ix.adds, ch->new_node->name, (void *)ch);
    } else if (ch->kind == CONFIG_CHANGE_CHANGE) {
      strmap_set(ix.changes, ch->new_node->name, (void *)ch);
    }
  }
  rebind(s, cfg, cfg->root, &ix, 1);
  strmap_free(ix.adds);
  strmap_free(ix.changes);
}

/* Appends the description of s (see sup_apply_tree_json). */
static json_t *
tree_json(const struct sup *s)
{
  json_t *kids = json_array(), *stopping = json_array();

  for (size_t i = 0; i < s->n_children; i++) {
    const struct child *c = &s->children[i];
    json_t *node = c->group ? tree_json(c->group)
                            : json_pack("{s:s, s:s}", "name", c->spec->name,
                                        "kind", "runner");
    json_object_set_new(node, "id", json_integer((json_int_t)c->id));
    json_object_set_new(
        node, "bound",
        json_boolean(config_find(s->cfg, c->spec->name) == c->spec));
    json_array_append_new(kids, node);
  }
  for (size_t i = 0; i < s->n_removed; i++)
    json_array_append_new(stopping, json_integer((json_int_t)s->removed[i].id));
  return json_pack("{s:s, s:s, s:o, s:o}", "name", s->spec->name, "kind",
                   "group", "children", kids, "stopping", stopping);
}

json_t *
sup_apply_tree_json(const struct sup *s)
{
  json_t *doc = tree_json(s);
  json_object_set_new(doc, "id", json_integer((json_int_t)s->self));
  return doc;
}
