/* treejson: the JSON of the supervision tree's nodes as the API, the UI,
 * the CLI and state.json show them: the config's facts (kind, strategy,
 * restart, autostart, pty size) merged with the read model's status and
 * what the runners announced (output seq, watch), with "can" (what a user
 * may ask of a runner now, from runners/fsm.h). */
#ifndef TEND_TREEJSON_H
#define TEND_TREEJSON_H

#include <jansson.h>

#include "runners/fsm.h"

struct config_node;
struct registry;
struct view;

/* Builds the JSON of node n (new reference): for a group, its children as
 * full nodes when recursive, else as names. view and reg are borrowed. */
json_t *treejson_node(const struct config_node *n, int recursive,
                      const struct view *view, const struct registry *reg);
/* A runner's state in view (FSM_STOPPED before its first event). */
enum fsm_state treejson_runner_state(const struct view *view, const char *name);

#endif
