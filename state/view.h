/* view: the read model. It folds the event stream into the current status
 * of every node (state, pid, run, restarts, last exit, ...), which the API,
 * the CLI and state.json show. The projection is pure: typed events
 * (struct tend_event) in, plain JSON status objects out. */
#ifndef TEND_VIEW_H
#define TEND_VIEW_H

#include <jansson.h>

#include "src/events.h"

struct view;

/* Returns a new, empty read model. */
struct view *view_new(void);
/* Frees it (NULL is a no-op). */
void view_free(struct view *v);
/* Folds one event into the model (events of other types are ignored). */
void view_apply(struct view *v, const struct tend_event *ev);
/* The status object of a node (borrowed; NULL when nothing is known);
 * last_exit is {"status"|"signal"|"spawn_error", "reason", "ts"}:
 * {"state","pid","run","restarts","since","last_exit","next_start_ms",
 *  "reason","history":[the last 10 exits, oldest first]}. */
const json_t *view_status(const struct view *v, const char *name);
/* Seeds a node's status from a previous daemon's state.json (status is
 * that node's object in its "tree"): run, restarts, last_exit and history
 * carry over, so the counters and the last exit survive a daemon restart;
 * the node itself is "stopped" until its first event. Pure. */
void view_restore(struct view *v, const char *name, const json_t *status);
/* Forgets a node (it left the config). */
void view_forget(struct view *v, const char *name);

#endif
