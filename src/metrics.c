/* metrics: Prometheus text helpers, process metrics and event counters
 * behind src/metrics.h.
 *
 * The process numbers come from /proc/self/stat (one read: CPU time, start
 * time, RSS, VSZ), /proc/stat's btime, a count of /proc/self/fd and
 * getrlimit: a scrape costs a few small reads and no allocation worth the
 * name. The watch counters live in a small table fed by the event bus,
 * so they outlive the watch objects (which a restart of the runner or a
 * reload re-creates). */
#include "src/metrics.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "runners/fsm.h"
#include "src/config.h"
#include "src/events.h"
#include "src/pubsub.h"
#include "src/registry.h"
#include "src/sup.h"
#include "src/xalloc.h"
#include "state/store.h"
#include "state/view.h"

/* ------------------------------------------------------------------ text */

/* Appends n bytes to the growing, NUL-terminated buffer. */
static void
add(char **buf, size_t *len, const char *s, size_t n)
{
  *buf = xrealloc(*buf, *len + n + 1);
  memcpy(*buf + *len, s, n);
  *len += n;
  (*buf)[*len] = '\0';
}

/* Appends a NUL-terminated string. */
static void
adds(char **buf, size_t *len, const char *s)
{
  add(buf, len, s, strlen(s));
}

/* Escapes backslash and newline (and, in label values, the double quote),
 * as the text format asks. */
static char *
escape(const char *s, int quote)
{
  size_t n = 0;
  char *out, *o;

  for (const char *p = s; *p; p++)
    n += (*p == '\\' || *p == '\n' || (quote && *p == '"')) ? 2 : 1;
  out = o = xmalloc(n + 1);
  for (const char *p = s; *p; p++) {
    if (*p == '\\' || (quote && *p == '"')) {
      *o++ = '\\';
      *o++ = *p;
    } else if (*p == '\n') {
      *o++ = '\\';
      *o++ = 'n';
    } else {
      *o++ = *p;
    }
  }
  *o = '\0';
  return out;
}

char *
metrics_escape_label(const char *value)
{
  return escape(value, 1);
}

void
metrics_family(char **buf, size_t *len, const char *name, const char *type,
               const char *help)
{
  char *h = escape(help, 0);

  adds(buf, len, "# HELP ");
  adds(buf, len, name);
  adds(buf, len, " ");
  adds(buf, len, h);
  adds(buf, len, "\n# TYPE ");
  adds(buf, len, name);
  adds(buf, len, " ");
  adds(buf, len, type);
  adds(buf, len, "\n");
  free(h);
}

void
metrics_sample(char **buf, size_t *len, const char *name,
               const char *const *labels, double value)
{
  char num[64];

  adds(buf, len, name);
  if (labels && labels[0]) {
    adds(buf, len, "{");
    for (size_t i = 0; labels[i] && labels[i + 1]; i += 2) {
      char *v = escape(labels[i + 1], 1);
      if (i > 0)
        adds(buf, len, ",");
      adds(buf, len, labels[i]);
      adds(buf, len, "=\"");
      adds(buf, len, v);
      adds(buf, len, "\"");
      free(v);
    }
    adds(buf, len, "}");
  }
  /* Whole numbers print as integers (counters stay exact up to 2^53). */
  if (isfinite(value) && value == floor(value) && fabs(value) < 9.0e15)
    snprintf(num, sizeof num, " %.0f\n", value);
  else
    snprintf(num, sizeof num, " %.15g\n", value);
  adds(buf, len, num);
}

/* --------------------------------------------------------------- process */

int
metrics_parse_stat(const char *stat, long ticks_per_s, long page_size,
                   double boot_time, struct metrics_process *p)
{
  /* The command name may hold spaces and ')': the fields start after the
   * last ')'. Then field 3 (state) is index 0. */
  const char *s = stat ? strrchr(stat, ')') : NULL;
  unsigned long long v[22];
  int n = 0;

  if (!s || ticks_per_s <= 0)
    return -EINVAL;
  s++;
  while (n < 22) {
    char *end;
    while (*s == ' ')
      s++;
    if (n == 0) { /* the state letter */
      if (!*s)
        return -EINVAL;
      s++;
      v[n++] = 0;
      continue;
    }
    errno = 0;
    v[n] = strtoull(s, &end, 10);
    if (end == s || errno)
      return -EINVAL;
    s = end;
    n++;
  }
  /* utime 14, stime 15, starttime 22, vsize 23, rss 24 (proc(5)). */
  p->cpu_seconds = (double)(v[11] + v[12]) / (double)ticks_per_s;
  p->start_time = boot_time + (double)v[19] / (double)ticks_per_s;
  p->virtual_bytes = v[20];
  p->resident_bytes = v[21] * (unsigned long long)page_size;
  return 0;
}

double
metrics_parse_btime(const char *proc_stat)
{
  const char *s = proc_stat;

  while (s && *s) {
    if (strncmp(s, "btime ", 6) == 0)
      return strtod(s + 6, NULL);
    s = strchr(s, '\n');
    if (s)
      s++;
  }
  return 0;
}

/* Reads a small /proc file into buf (NUL-terminated); 0 or -errno. */
static int
read_small(const char *path, char *buf, size_t cap)
{
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  size_t n = 0;

  if (fd < 0)
    return -errno;
  while (n + 1 < cap) {
    ssize_t r = read(fd, buf + n, cap - 1 - n);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0)
      break;
    n += (size_t)r;
  }
  buf[n] = '\0';
  close(fd);
  return 0;
}

void
metrics_process_read(struct metrics_process *p)
{
  char text[8192];
  double btime = 0;
  struct rlimit rl;
  DIR *dir;

  memset(p, 0, sizeof *p);
  if (read_small("/proc/stat", text, sizeof text) == 0)
    btime = metrics_parse_btime(text);
  if (read_small("/proc/self/stat", text, sizeof text) == 0)
    metrics_parse_stat(text, sysconf(_SC_CLK_TCK), sysconf(_SC_PAGESIZE), btime,
                       p);
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
    p->max_fds = rl.rlim_cur == RLIM_INFINITY ? 0 : (uint64_t)rl.rlim_cur;
  dir = opendir("/proc/self/fd");
  if (dir) {
    struct dirent *e;
    while ((e = readdir(dir)) != NULL)
      if (e->d_name[0] != '.')
        p->open_fds++;
    p->open_fds--; /* the directory's own fd */
    closedir(dir);
  }
}

void
metrics_process_text(char **buf, size_t *len, const struct metrics_process *p)
{
  metrics_family(buf, len, "process_cpu_seconds_total", "counter",
                 "User and system CPU time the daemon spent, in seconds.");
  metrics_sample(buf, len, "process_cpu_seconds_total", NULL, p->cpu_seconds);
  metrics_family(buf, len, "process_resident_memory_bytes", "gauge",
                 "Resident memory size of the daemon in bytes.");
  metrics_sample(buf, len, "process_resident_memory_bytes", NULL,
                 (double)p->resident_bytes);
  metrics_family(buf, len, "process_virtual_memory_bytes", "gauge",
                 "Virtual memory size of the daemon in bytes.");
  metrics_sample(buf, len, "process_virtual_memory_bytes", NULL,
                 (double)p->virtual_bytes);
  metrics_family(buf, len, "process_open_fds", "gauge",
                 "File descriptors the daemon has open.");
  metrics_sample(buf, len, "process_open_fds", NULL, (double)p->open_fds);
  metrics_family(buf, len, "process_max_fds", "gauge",
                 "The daemon's limit of open file descriptors (soft "
                 "RLIMIT_NOFILE).");
  metrics_sample(buf, len, "process_max_fds", NULL, (double)p->max_fds);
  metrics_family(buf, len, "process_start_time_seconds", "gauge",
                 "Start time of the daemon since the unix epoch, in "
                 "seconds.");
  metrics_sample(buf, len, "process_start_time_seconds", NULL, p->start_time);
}

/* --------------------------------------------------------- event counts */

/* Counts per node; a handful of watched runners, so a plain array. */
static struct watch_counts {
  char *node;
  uint64_t fires, pauses;
} * counts;
static size_t n_counts;

/* The counts of node, or NULL. */
static struct watch_counts *
counts_find(const char *node)
{
  for (size_t i = 0; i < n_counts; i++)
    if (strcmp(counts[i].node, node) == 0)
      return &counts[i];
  return NULL;
}

void
metrics_note_event(void *ctx, const json_t *ev)
{
  const char *type = json_string_value(json_object_get(ev, "type"));
  const char *node = json_string_value(json_object_get(ev, "node"));
  struct watch_counts *c;
  int fired, paused;

  (void)ctx;
  if (!type || !node)
    return;
  fired = strcmp(type, "watch_fired") == 0;
  paused = strcmp(type, "watch_paused") == 0;
  if (!fired && !paused)
    return;
  c = counts_find(node);
  if (!c) {
    counts = xrealloc(counts, (n_counts + 1) * sizeof *counts);
    c = &counts[n_counts++];
    c->node = xstrdup(node);
    c->fires = c->pauses = 0;
  }
  c->fires += (uint64_t)fired;
  c->pauses += (uint64_t)paused;
}

void
metrics_watch_counts(const char *runner, uint64_t *fires, uint64_t *pauses)
{
  const struct watch_counts *c = counts_find(runner);

  *fires = c ? c->fires : 0;
  *pauses = c ? c->pauses : 0;
}

void
metrics_reset(void)
{
  for (size_t i = 0; i < n_counts; i++)
    free(counts[i].node);
  free(counts);
  counts = NULL;
  n_counts = 0;
}

/* ------------------------------------------------------------------ */
/* The tree's families                                                 */

/* One family over the tree: what to emit for each node. */
struct metrics_walk {
  char **buf;
  size_t *len;
  const struct metrics_source *src;
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
  metrics_sample(w->buf, w->len, w->name,
                 (const char *[]){n->is_group ? "group" : "runner", n->name,
                                  NULL},
                 v);
}

static void
m_runner_state(struct metrics_walk *w, const struct config_node *n)
{
  const char *state = node_state(w, n);

  if (n->is_group)
    return;
  for (int i = 0; i < FSM_N_STATES; i++) {
    const char *name = fsm_state_name((enum fsm_state)i);
    metrics_sample(w->buf, w->len, w->name,
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

  if (!n->is_group)
    return;
  for (size_t i = 0; (name = sup_group_state_name(i)) != NULL; i++)
    metrics_sample(w->buf, w->len, w->name,
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
  restarts = w->src->sup ? sup_group_restarts(w->src->sup, n->name) : -1;
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
     "Times the restart-loop guard paused the runner's watch.",
     m_watch_pauses},
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
metrics_text(char **buf, size_t *len, const struct metrics_source *src)
{
  struct metrics_process proc;

  metrics_family(buf, len, "tend_build_info", "gauge",
                 "Always 1; the version of the running daemon.");
  metrics_sample(buf, len, "tend_build_info",
                 (const char *[]){"version", src->version, NULL}, 1);
  for (size_t i = 0; i < sizeof tree_families / sizeof *tree_families; i++) {
    const struct tree_family *f = &tree_families[i];
    struct metrics_walk w = {buf, len, src, f->name};

    metrics_family(buf, len, f->name, f->type, f->help);
    walk_tree(&w, f, src->root);
  }
  metrics_family(buf, len, "tend_events_total", "counter",
                 "Events emitted (state transitions and daemon notes).");
  metrics_sample(buf, len, "tend_events_total", NULL,
                 (double)events_last_seq());
  metrics_family(buf, len, "tend_pubsub_subscriptions", "gauge",
                 "Internal pubsub subscriptions: the terminal printer, the "
                 "API's tree cache, one per open HTTP stream (see "
                 "tend_http_sse_subscribers for the streams alone).");
  metrics_sample(buf, len, "tend_pubsub_subscriptions", NULL,
                 (double)pubsub_count());
  metrics_process_read(&proc);
  metrics_process_text(buf, len, &proc);
}
