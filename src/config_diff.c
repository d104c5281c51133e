/* config_diff: old tree vs new tree -> the actions of a live reload
 * (src/config_diff.h).
 *
 * Design. Pure: nodes are matched by name (same name, same kind, same
 * parent), the old tree is walked for the stops and the new one for the
 * rest, one list per kind, and the lists are joined in the order the
 * caller applies them: stops (children before parents), changes, groups,
 * starts (parents before children), the root. Nothing is copied: the
 * changes borrow the nodes of both configs. */
#include "src/config_diff.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "src/enumname.h"
#include "src/strmap.h"
#include "src/xalloc.h"

ENUMNAME_NAME_FN(config_change_kind, enum config_change_kind, CONFIG_CHANGE_MAP,
                 ENUMNAME_PICK2, "?")

struct diff {
  struct strmap *old_by, *new_by;
  const struct config_node *old_root, *new_root;
  struct config_change *lists[5]; /* one list per kind, in output order */
  size_t n[5], cap[5];
};

/* Indexes a subtree by name. */
static void
diff_index(struct strmap *m, const struct config_node *n)
{
  if (n->name)
    strmap_set(m, n->name, (void *)n);
  for (size_t i = 0; i < n->n_children; i++)
    diff_index(m, n->children[i]);
}

/* Returns 1 when both nodes hang under the same parent (roots match roots,
 * whatever their names). */
static int
same_parent(const struct config_node *a, const struct config_node *b)
{
  if (!a->parent || !b->parent)
    return !a->parent && !b->parent;
  if (!a->parent->parent || !b->parent->parent)
    return !a->parent->parent && !b->parent->parent;
  return strcmp(a->parent->name, b->parent->name) == 0;
}

/* Returns the counterpart of n in the other tree when n survives there
 * (same name, same kind, same parent), else NULL. */
static const struct config_node *
diff_match(const struct diff *d, const struct config_node *n, int n_is_old)
{
  if (!n->parent)
    return n_is_old ? d->new_root : d->old_root;
  const struct config_node *m =
      strmap_get(n_is_old ? d->new_by : d->old_by, n->name);
  if (!m || m->is_group != n->is_group || !same_parent(n, m))
    return NULL;
  return m;
}

/* Appends one change to the list of its kind. */
static void
diff_push(struct diff *d, enum config_change_kind k,
          const struct config_node *o, const struct config_node *n)
{
  d->lists[k] = xgrow(d->lists[k], &d->cap[k], d->n[k] + 1, sizeof **d->lists);
  d->lists[k][d->n[k]].kind = k;
  d->lists[k][d->n[k]].old_node = o;
  d->lists[k][d->n[k]].new_node = n;
  d->n[k]++;
}

/* Lists the topmost gone nodes of the old tree, in config order. */
static void
diff_old(struct diff *d, const struct config_node *o, int covered)
{
  int gone = !diff_match(d, o, 1);
  if (gone && !covered)
    diff_push(d, CONFIG_CHANGE_REMOVE, o, NULL);
  for (size_t i = 0; i < o->n_children; i++)
    diff_old(d, o->children[i], covered || gone);
}

/* Returns 1 when the children both groups keep appear in another order. */
static int
diff_reordered(const struct diff *d, const struct config_node *o,
               const struct config_node *n)
{
  size_t i = 0, j = 0;
  for (;;) {
    while (i < o->n_children && !diff_match(d, o->children[i], 1))
      i++;
    while (j < n->n_children && !diff_match(d, n->children[j], 0))
      j++;
    if (i >= o->n_children || j >= n->n_children)
      return 0; /* both run out together: survivors are the same set */
    if (strcmp(o->children[i]->name, n->children[j]->name) != 0)
      return 1;
    i++;
    j++;
  }
}

/* Lists the changes of the new tree: ADD for the topmost new nodes, CHANGE
 * and GROUP for survivors outside any new subtree. */
static void
diff_new(struct diff *d, const struct config_node *n, int covered)
{
  const struct config_node *o = diff_match(d, n, 0);
  if (!covered && !o) {
    diff_push(d, CONFIG_CHANGE_ADD, NULL, n);
  } else if (!covered && !n->is_group) {
    if (strcmp(o->spec_json ? o->spec_json : "",
               n->spec_json ? n->spec_json : "") != 0)
      diff_push(d, CONFIG_CHANGE_CHANGE, o, n);
  } else if (!covered) {
    if (o->strategy != n->strategy || o->max_restarts != n->max_restarts ||
        o->period_ms != n->period_ms ||
        o->limit_max_restarts != n->limit_max_restarts ||
        o->limit_period_ms != n->limit_period_ms || diff_reordered(d, o, n))
      diff_push(d, CONFIG_CHANGE_GROUP, o, n);
  }
  for (size_t i = 0; i < n->n_children; i++)
    diff_new(d, n->children[i], covered || !o);
}

/* Compares two optional strings. */
static int
str_eq(const char *a, const char *b)
{
  return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* Returns 1 when two http settings differ in what needs a restart. */
static int
http_differs(const struct config_http *a, const struct config_http *b)
{
  if (a->enabled != b->enabled || !str_eq(a->host, b->host) ||
      a->port != b->port || a->allow_remote != b->allow_remote ||
      !str_eq(a->tls_cert, b->tls_cert) || !str_eq(a->tls_key, b->tls_key) ||
      a->n_hosts != b->n_hosts)
    return 1;
  for (size_t i = 0; i < a->n_hosts; i++)
    if (!str_eq(a->hosts[i], b->hosts[i]))
      return 1;
  return 0;
}

char *
config_fixed_change(const struct config *a, const struct config *b)
{
  if (!str_eq(a->state_dir, b->state_dir))
    return xasprintf("%s: state_dir changed (%s -> %s); restart tend to move "
                     "it",
                     b->file, a->state_dir, b->state_dir);
  return NULL;
}

char *
config_http_change(const struct config *a, const struct config *b)
{
  if (http_differs(&a->http, &b->http))
    return xasprintf("%s: http changed; the API keeps its address until tend "
                     "restarts (the rest of the edit is applied)",
                     b->file);
  return NULL;
}

/* Returns 1 when a root-only setting differs. */
static int
diff_root(const struct config *a, const struct config *b)
{
  return !str_eq(a->root->name, b->root->name) ||
         a->on_give_up != b->on_give_up || http_differs(&a->http, &b->http) ||
         !str_eq(a->state_dir, b->state_dir) ||
         a->output.max_bytes != b->output.max_bytes ||
         a->output.keep != b->output.keep ||
         !str_eq(a->include_dir, b->include_dir);
}

/* Walks the old tree for stops, the new one for the rest, then orders
 * the lists as documented in config.h. */
size_t
config_diff(const struct config *old_cfg, const struct config *new_cfg,
            struct config_change **out)
{
  struct diff d;
  memset(&d, 0, sizeof d);
  d.old_by = strmap_new();
  d.new_by = strmap_new();
  d.old_root = old_cfg->root;
  d.new_root = new_cfg->root;
  diff_index(d.old_by, old_cfg->root);
  diff_index(d.new_by, new_cfg->root);

  diff_old(&d, old_cfg->root, 0);
  diff_new(&d, new_cfg->root, 0);
  if (diff_root(old_cfg, new_cfg))
    diff_push(&d, CONFIG_CHANGE_ROOT, old_cfg->root, new_cfg->root);

  size_t total = 0, k = 0;
  for (int i = 0; i < 5; i++)
    total += d.n[i];
  struct config_change *all = total ? xmalloc(total * sizeof *all) : NULL;
  /* The REMOVEs were found in config order; stops go in reverse. */
  for (size_t i = d.n[CONFIG_CHANGE_REMOVE]; i > 0; i--)
    all[k++] = d.lists[CONFIG_CHANGE_REMOVE][i - 1];
  for (int kind = CONFIG_CHANGE_CHANGE; kind <= CONFIG_CHANGE_ROOT; kind++)
    for (size_t i = 0; i < d.n[kind]; i++)
      all[k++] = d.lists[kind][i];
  for (int i = 0; i < 5; i++)
    free(d.lists[i]);
  strmap_free(d.old_by);
  strmap_free(d.new_by);
  *out = all;
  return total;
}
