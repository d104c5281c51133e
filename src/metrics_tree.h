/* metrics_tree: the whole text of GET /metrics: build info, one family
 * per fact over the supervision tree (runner and group states and
 * restarts from the read model, output-log numbers from the registry,
 * watch counts), the event and pubsub counts and the process_* families.
 * The text helpers and the counters are src/metrics.c's; this module is
 * the walk, kept apart so that the pure helpers link alone. */
#ifndef TEND_METRICS_TREE_H
#define TEND_METRICS_TREE_H

#include <stddef.h>

struct buf;

struct config_node;
struct registry;
struct sup;
struct view;

/* What GET /metrics reports on (every pointer borrowed). The group
 * facts come from the supervisor through function pointers
 * (sup_group_state_name, sup_group_restarts), so that this module does
 * not link the supervision tree. */
struct metrics_tree {
  const char *version;            /* tend_build_info's label */
  const struct config_node *root; /* the applied tree */
  const struct view *view;        /* states and restarts of the nodes */
  const struct registry *reg;     /* the runners' output logs */
  const struct sup *sup;          /* the root supervisor, or NULL */
  /* The i-th group state's name, NULL after the last; NULL: no samples
   * of tend_group_state. */
  const char *(*group_state_name)(size_t i);
  /* A group's restart count, or -1 (then the view's count is used). */
  int (*group_restarts)(const struct sup *sup, const char *name);
};

/* Appends the whole /metrics text: build info, one family per fact over
 * the tree (runner and group states and restarts, output logs, watches),
 * the event and pubsub counts and the process_* families. */
void metrics_tree_text(struct buf *out, const struct metrics_tree *src);

#endif
