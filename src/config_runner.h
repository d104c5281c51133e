/* config_runner: a runner's own keys; internal to the config modules
 * (config__* names, STYLE.md 2). */
#ifndef TEND_CONFIG_RUNNER_H
#define TEND_CONFIG_RUNNER_H

#include <jansson.h>

#include "src/config_ld.h"

/* Reads the keys of the runner n from obj (the current path points at
 * it), then looks at the disk for `tend check`. Errors go to ld. */
void config__runner_read(struct config__ld *ld, json_t *obj,
                         struct config_node *n);

#endif
