/* after: the "after" triggers. A runner whose spec says
 * "after": {"runner": X, "on": "exit"|"success"} is started (or restarted,
 * when it is alive) each time X's run ends (on success only: with status
 * 0). The decision is a pure function of one typed event, the config and
 * the states of the runners (after_decide); after_on_event is the shell
 * that acts on it, an events listener. */
#ifndef TEND_AFTER_H
#define TEND_AFTER_H

#include <stddef.h>

#include "runners/fsm.h"
#include "src/config.h"
#include "src/events.h"
#include "src/tend.h"

/* One runner to act on: start it, or restart it when it is alive. */
struct after_fire {
  const struct config_node *node; /* borrowed from the config */
  enum tend_cmd cmd;              /* TEND_CMD_START or TEND_CMD_RESTART */
};

/* Returns a runner's current state. */
typedef enum fsm_state (*after_state_fn)(const char *name);

/* Decides which runners under root ev starts or restarts, in config order:
 * their number, and in *out a new array (caller frees; NULL when none).
 * Only the end of a runner's run (a "state" event to "exited") fires
 * anything. Pure but for state_of. */
size_t after_decide(const struct config_node *root, const struct tend_event *ev,
                    after_state_fn state_of, struct after_fire **out);

/* Returns 1 when ev is a run that ended with status 0. */
int after_succeeded(const struct tend_event *ev);

/* An events_listener (src/events.h): runs the triggers of ev against the
 * running config, announcing each with a "triggered" event. Register it
 * after the read model's listener, which it reads the states from. */
void after_on_event(void *ctx, const struct tend_event *ev);

#endif
