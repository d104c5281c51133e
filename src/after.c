/* after: the "after" triggers behind src/after.h.
 *
 * after_decide walks the config for runners whose "after" names the runner
 * whose run just ended; the shell turns each decision into a "triggered"
 * event and a user-style command through the door (tend_runner_cmd), so a
 * trigger is checked like a command from the API: it is not a crash and
 * does not count as a restart. */
#include "src/after.h"

#include <stdlib.h>
#include <string.h>

#include "src/log.h"
#include "src/xalloc.h"

struct decide_ctx {
  const char *exited;
  int success;
  after_state_fn state_of;
  struct after_fire *fires;
  size_t n;
};

int
after_succeeded(const struct tend_event *ev)
{
  return ev->has_status && ev->status == 0 && !ev->signal;
}

/* Adds node when its "after" matches the run that ended; recurses into
 * groups. */
static void
decide_node(const struct config_node *node, struct decide_ctx *c)
{
  if (node->is_group) {
    for (size_t i = 0; i < node->n_children; i++)
      decide_node(node->children[i], c);
    return;
  }
  if (!node->after.runner || strcmp(node->after.runner, c->exited) != 0)
    return;
  if (node->after.on == CONFIG_AFTER_SUCCESS && !c->success)
    return;
  c->fires = xrealloc(c->fires, (c->n + 1) * sizeof *c->fires);
  c->fires[c->n].node = node;
  c->fires[c->n].cmd = fsm_state_alive(c->state_of(node->name))
                           ? TEND_CMD_RESTART
                           : TEND_CMD_START;
  c->n++;
}

size_t
after_decide(const struct config_node *root, const struct tend_event *ev,
             after_state_fn state_of, struct after_fire **out)
{
  struct decide_ctx c = {
      .exited = ev->node, .success = after_succeeded(ev), .state_of = state_of};

  *out = NULL;
  if (!root || ev->type != EVENTS_STATE || ev->kind != EVENTS_KIND_RUNNER ||
      ev->to.runner != FSM_EXITED || !ev->node)
    return 0;
  decide_node(root, &c);
  *out = c.fires;
  return c.n;
}

/* A runner's state in the read model (stopped when it has none). */
static enum fsm_state
state_in_view(const char *name)
{
  const json_t *status = tend_node_status(name);
  const char *s = json_string_value(json_object_get(status, "state"));
  enum fsm_state st = FSM_STOPPED;

  if (s)
    fsm_state_parse(s, &st);
  return st;
}

void
after_on_event(void *ctx, const struct tend_event *ev)
{
  const struct config *cfg = tend_config();
  struct after_fire *fires;
  size_t n;

  (void)ctx;
  if (!cfg)
    return;
  n = after_decide(cfg->root, ev, state_in_view, &fires);
  for (size_t i = 0; i < n; i++) {
    const char *name = fires[i].node->name;
    char *cause = NULL;

    events_note(EVENTS_TRIGGERED, name, "%s %s after %s %s", name,
                fires[i].cmd == TEND_CMD_RESTART ? "restarts" : "starts",
                ev->node, after_succeeded(ev) ? "succeeded" : "exited");
    if (tend_runner_cmd(name, fires[i].cmd, 0, &cause) != 0) {
      log_debug("after: %s: %s", name, cause ? cause : "refused");
      free(cause);
    }
  }
  free(fires);
}
