/* config_tree: the validator's walk of the tree; internal to the config
 * modules (config__* names, STYLE.md 2). */
#ifndef TEND_CONFIG_TREE_H
#define TEND_CONFIG_TREE_H

#include <jansson.h>

#include "src/config_ld.h"

/* Reads the whole tree from the main document doc (the loader's current
 * source) and the include folder, then checks every "after"; returns the
 * root (new, owned by the config once set as its root), or NULL when doc
 * is not an object. Errors go to ld. */
struct config_node *config__tree_read(struct config__ld *ld, json_t *doc);
/* Reads an "output" object of obj into out (which holds the inherited
 * values). */
void config__tree_output(struct config__ld *ld, json_t *obj,
                         struct config_output *out);
/* Reads "restart_limit" ({"max_restarts", "period_s"} or false) of any
 * node. */
void config__tree_restart_limit(struct config__ld *ld, json_t *obj,
                                struct config_node *n);
/* Reads "env_file" of any node; a runner's list starts with its
 * ancestors' files. */
void config__tree_env_files(struct config__ld *ld, json_t *obj,
                            struct config_node *n);

#endif
