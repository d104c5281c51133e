/* sup_apply: a reload applied to the running supervisor tree (the
 * config_diff change list). The supervisor itself is src/sup.h. */
#ifndef TEND_SUP_APPLY_H
#define TEND_SUP_APPLY_H

#include <stddef.h>

#include <jansson.h>

#include "src/config.h"

struct sup;

/* Applies a reload to the root supervisor: changes[0..n) is
 * config_diff(old, cfg), where old is the config the tree runs now (the
 * caller keeps old alive until this returns). REMOVE stops a child and
 * forgets it (closed once stopped), ADD creates one (started when its group
 * runs), CHANGE restarts a runner that is up; every other node is a
 * survivor and keeps running on its new spec. The tree then runs cfg, and
 * references to old remain only where something still uses it (a removed
 * child until it closes, a probe until it ends). A tree that does not run
 * old aborts: the diff and the tree cannot disagree. */
void sup_apply(struct sup *sup, const struct config *cfg,
               const struct config_change *changes, size_t n);
/* Describes the running subtree (new): {"name", "kind": "group", "id",
 * "children": [...], "stopping": [ids of removed children not yet
 * closed]}, each child with its actor "id" and "bound" (its spec is the
 * node of that name in the supervisor's config). For tests and debugging:
 * the tree the supervisors hold, not the config. */
json_t *sup_apply_tree_json(const struct sup *sup);

#endif
