/* config_diff: old config vs new config -> the ordered actions of a live
 * reload (a pure function of two loaded trees), and the two settings a
 * reload cannot change in place (the state folder, the HTTP listener).
 *
 * The names keep the config_ prefix they had when this was part of
 * src/config.c: config_diff, config_change_kind_name, config_fixed_change,
 * config_http_change. */
#ifndef TEND_CONFIG_DIFF_H
#define TEND_CONFIG_DIFF_H

#include <stddef.h>

#include "src/config.h"

/* Returns why b cannot be applied to a running daemon that loaded a (new
 * message), or NULL: the state folder is fixed for the daemon's life.
 * Pure. */
char *config_fixed_change(const struct config *a, const struct config *b);
/* Returns a note (new) when b's http settings differ from a's, or NULL:
 * the listener is bound once, so the rest of b is applied and the note
 * says http is not. Pure. */
char *config_http_change(const struct config *a, const struct config *b);

/* Live reload: old tree vs new tree -> ordered actions (a pure function). */
#define CONFIG_CHANGE_MAP(X)                                                   \
  X(REMOVE, "remove") /* stop old_node (and its subtree) and forget it */      \
  X(CHANGE, "change") /* a surviving runner's spec changed: restart it */      \
  X(GROUP, "group")   /* a surviving group's strategy, intensity or the        \
                         order of its children changed */                      \
  X(ADD, "add")       /* start new_node (and its subtree) */                   \
  X(ROOT, "root")     /* root-only settings changed (name, on_give_up, http,   \
                         state_dir, output, include) */

enum config_change_kind {
#define X(N, S) CONFIG__ENUM(CONFIG_CHANGE_, N, S)
  CONFIG_CHANGE_MAP(X)
#undef X
};
/* Returns the name of a change kind ("?" out of range). */
const char *config_change_kind_name(enum config_change_kind k);

struct config_change {
  enum config_change_kind kind;
  const struct config_node *old_node; /* borrowed from old, NULL for ADD */
  const struct config_node *new_node; /* borrowed from new, NULL for REMOVE */
};

/* Compares two loaded configs. Nodes are matched by name (the roots always
 * match each other). The result lists, in this order:
 *  - REMOVE for each node that is gone, changed kind (group <-> runner) or
 *    moved to another parent; only the topmost such node of a subtree (a
 *    removed group stops its descendants); children before parents, in
 *    reverse config order (the stop order);
 *  - CHANGE for surviving runners whose spec_json differs;
 *  - GROUP for surviving groups whose strategy, intensity or restart_limit
 *    changed or whose surviving children changed relative order;
 *  - ADD for each new, re-kinded or moved node; only the topmost of a new
 *    subtree (starting a group starts its children); parents before
 *    children, in config order (the start order). new_node->index gives the
 *    place among its siblings;
 *  - at most one ROOT (old root, new root).
 * Nodes inside a removed or added subtree produce nothing else. Returns the
 * number of changes and sets *out (new array, caller frees with free(); NULL
 * when there are none). */
size_t config_diff(const struct config *old_cfg, const struct config *new_cfg,
                   struct config_change **out);

#endif
