/* apply: a reload of tend.json, from the file to the running tree.
 *
 * Load and validate the file; on errors keep running and publish
 * config_error; else compute config_diff once and use that one change
 * list twice: as the config_applied event and as what the supervision
 * tree does (sup_apply). The replaced config is let go with config_unref:
 * it is freed when the last runner, probe or supervisor that still points
 * into it lets go. (watchers/reload.c only notices that the file changed.) */
#ifndef TEND_APPLY_H
#define TEND_APPLY_H

#include <jansson.h>

#include "src/config.h"

struct sup;
struct reload;

/* Reloads (*cfg)->file into the tree under root. *cfg is the applied
 * config (one reference, the caller's); on success it is replaced by the
 * new one, and the old reference dropped. watcher (may be NULL) follows a
 * changed include folder. *config_error holds the last reload's errors
 * (new text, NULL after a good reload). Returns 0 (also when nothing
 * changed), or -EINVAL with *cause (new): the errors, after publishing
 * config_error. */
int apply_reload(struct config **cfg, struct sup *root, struct reload *watcher,
                 char **config_error, struct config_errors *errs);
/* The change list as the config_applied event's "changes" (new):
 * {"remove": [names], "change": [...], "group": [...], "add": [...],
 * "root": bool}. Pure. */
json_t *apply_changes_json(const struct config_change *changes, size_t n);
/* The reload watcher's callback (watchers/reload.h reload_cb): tend.json
 * or a file of the include folder changed on disk; reloads through the
 * door (tend_reload). */
void apply_on_file_changed(void *ctx);

#endif
