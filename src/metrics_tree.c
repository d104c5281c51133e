/* metrics_tree: the families of GET /metrics over the tree
 * (src/metrics_tree.h).
 *
 * Prometheus wants each family's samples together, so the writer loops
 * family by family (a static table: name, type, help and what each node
 * gives), walking the whole tree for each, groups first, in config order.
 */
#include "src/metrics_tree.h"

#include <string.h>

#include "runners/fsm.h"
#include "src/config.h"
#include "src/events.h"
#include "src/metrics.h"
#include "src/pubsub.h"
#include "src/registry.h"
#include "state/store.h"
#include "state/view.h"

/* One family over the tree: what to emit for each node. */
struct metrics_walk {
  struct buf *out;
  const struct metrics_tree *src;
  const char *name; /* the family's name */
};

/* A family of /metrics whose samples come from the nodes of the tree. */
struct tree_family {
  const char *name, *type, *help;
  void (*fn)(struct metrics_walk *w, const struct config_node *n);
};

/* A node's state in the read model ("stopped" before its first event). */
static const char *
node_state(const struct metrics_walk *w, const struct config_node *n)
{
  const char *s = json_string_value(
      json_object_get(view_status(w->src->view, n->name), "state"));
  return s ? s : "stopped";
}

/* A node's restart count in the read model. */
static double
node_restarts(const struct metrics_walk *w, const struct config_node *n)
{
  return (double)json_integer_value(
      json_object_get(view_status(w->src->view, n->name), "restarts"));
}

/* Emits one sample labelled with the node (runner=... or group=...). */
static void
node_sample(struct metrics_walk *w, const struct config_node *n, double v)
{
  metrics_sample(
      w->out, w->name,
      (const char *[]){n->is_group ? "group" : "runner", n->name, NULL}, v);
}

static void
m_runner_state(struct metrics_walk *w, const struct config_node *n)
{
  const char *state = node_state(w, n);

  if (n->is_group)
    return;
  for (int i = 0; i < FSM_N_STATES; i++) {
    const char *name = fsm_state_name((enum fsm_state)i);
    metrics_sample(w->out, w->name,
                   (const char *[]){"runner", n->name, "state", name, NULL},
                   strcmp(state, name) == 0);
  }
}

static void
m_runner_restarts(struct metrics_walk *w, const struct config_node *n)
{
  if (!n->is_group)
    node_sample(w, n, node_restarts(w, n));
}

static void
m_group_state(struct metrics_walk *w, const struct config_node *n)
{
  const char *state = node_state(w, n), *name;

  if (!n->is_group || !w->src->group_state_name)
    return;
  for (size_t i = 0; (name = w->src->group_state_name(i)) != NULL; i++)
    metrics_sample(w->out, w->name,
                   (const char *[]){"group", n->name, "state", name, NULL},
                   strcmp(state, name) == 0);
}

static void
m_group_restarts(struct metrics_walk *w, const struct config_node *n)
{
  int restarts;

  if (!n->is_group)
    return;
  /* From the supervisor: the read model learns a group's count only when
   * the group changes state. */
  restarts = w->src->sup && w->src->group_restarts
                 ? w->src->group_restarts(w->src->sup, n->name)
                 : -1;
  node_sample(w, n, restarts >= 0 ? restarts : node_restarts(w, n));
}

/* One output-store number of a runner (0 before it has a store). */
static void
m_store(struct metrics_walk *w, const struct config_node *n,
        double (*get)(const struct store *))
{
  const struct store *st;

  if (n->is_group)
    return;
  st = w->src->reg ? registry_store(w->src->reg, n->name) : NULL;
  node_sample(w, n, st ? get(st) : 0);
}

static double
st_chunks(const struct store *st)
{
  return (double)store_last_seq(st);
}

static double
st_bytes(const struct store *st)
{
  return (double)store_bytes_appended(st);
}

static double
st_first(const struct store *st)
{
  return (double)store_first_seq(st);
}

static double
st_failing(const struct store *st)
{
  return store_error(st) != 0;
}

static double
st_backlog(const struct store *st)
{
  return (double)store_backlog_bytes(st);
}

static void
m_chunks(struct metrics_walk *w, const struct config_node *n)
{
  m_store(w, n, st_chunks);
}

static void
m_bytes(struct metrics_walk *w, const struct config_node *n)
{
  m_store(w, n, st_bytes);
}

static void
m_first(struct metrics_walk *w, const struct config_node *n)
{
  m_store(w, n, st_first);
}

static void
m_failing(struct metrics_walk *w, const struct config_node *n)
{
  m_store(w, n, st_failing);
}

static void
m_backlog(struct metrics_walk *w, const struct config_node *n)
{
  m_store(w, n, st_backlog);
}

/* Watch counters of runners that have a watch. */
static void
m_watch(struct metrics_walk *w, const struct config_node *n, int pauses)
{
  uint64_t fires, paused;

  if (n->is_group || !n->watch.enabled)
    return;
  metrics_watch_counts(n->name, &fires, &paused);
  node_sample(w, n, (double)(pauses ? paused : fires));
}

static void
m_watch_fires(struct metrics_walk *w, const struct config_node *n)
{
  m_watch(w, n, 0);
}

static void
m_watch_pauses(struct metrics_walk *w, const struct config_node *n)
{
  m_watch(w, n, 1);
}

static const struct tree_family tree_families[] = {
    {"tend_runner_state", "gauge",
     "1 for the runner's current state, 0 for the others.", m_runner_state},
    {"tend_runner_restarts_total", "counter",
     "Starts of the runner after its first (by its supervisor, a user or a "
     "watch).",
     m_runner_restarts},
    {"tend_group_state", "gauge",
     "1 for the group's current state, 0 for the others.", m_group_state},
    {"tend_group_restarts_total", "counter",
     "Restarts of the group's children by the group (those that count "
     "towards its intensity).",
     m_group_restarts},
    {"tend_output_chunks_total", "counter",
     "Output chunks of the runner (its newest seq).", m_chunks},
    {"tend_output_bytes_total", "counter",
     "Bytes of output log lines written (or queued) since the daemon "
     "started.",
     m_bytes},
    {"tend_output_first_seq", "gauge",
     "The oldest output seq still kept; older ones were rotated away.",
     m_first},
    {"tend_output_write_failing", "gauge",
     "1 while the runner's output log cannot be written (lines wait in "
     "memory), else 0.",
     m_failing},
    {"tend_output_backlog_bytes", "gauge",
     "Bytes of output waiting in memory for the disk.", m_backlog},
    {"tend_watch_fires_total", "counter",
     "Bursts of file changes that fired the runner's watch.", m_watch_fires},
    {"tend_watch_pauses_total", "counter",
     "Times the restart-loop guard paused the runner's watch.", m_watch_pauses},
};

/* Calls w's family function for every node, groups first, in config
 * order. */
static void
walk_tree(struct metrics_walk *w, const struct tree_family *f,
          const struct config_node *n)
{
  f->fn(w, n);
  for (size_t i = 0; n->is_group && i < n->n_children; i++)
    walk_tree(w, f, n->children[i]);
}

void
metrics_tree_text(struct buf *out, const struct metrics_tree *src)
{
  struct metrics_process proc;

  metrics_family(out, "tend_build_info", "gauge",
                 "Always 1; the version of the running daemon.");
  metrics_sample(out, "tend_build_info",
                 (const char *[]){"version", src->version, NULL}, 1);
  for (size_t i = 0; i < sizeof tree_families / sizeof *tree_families; i++) {
    const struct tree_family *f = &tree_families[i];
    struct metrics_walk w = {out, src, f->name};

    metrics_family(out, f->name, f->type, f->help);
    walk_tree(&w, f, src->root);
  }
  metrics_family(out, "tend_events_total", "counter",
                 "Events emitted (state transitions and daemon notes).");
  metrics_sample(out, "tend_events_total", NULL, (double)events_last_seq());
  metrics_family(out, "tend_pubsub_subscriptions", "gauge",
                 "Internal pubsub subscriptions: the terminal printer, the "
                 "API's tree cache, one per open HTTP stream (see "
                 "tend_http_sse_subscribers for the streams alone).");
  metrics_sample(out, "tend_pubsub_subscriptions", NULL,
                 (double)pubsub_count());
  metrics_process_read(&proc);
  metrics_process_text(out, &proc);
}
