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

#include "src/buf.h"
#include "src/events.h"
#include "src/xalloc.h"

/* ------------------------------------------------------------------ text */

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
metrics_family(struct buf *out, const char *name, const char *type,
               const char *help)
{
  char *h = escape(help, 0);

  buf_adds(out, "# HELP ");
  buf_adds(out, name);
  buf_adds(out, " ");
  buf_adds(out, h);
  buf_adds(out, "\n# TYPE ");
  buf_adds(out, name);
  buf_adds(out, " ");
  buf_adds(out, type);
  buf_adds(out, "\n");
  free(h);
}

void
metrics_sample(struct buf *out, const char *name, const char *const *labels,
               double value)
{
  char num[64];

  buf_adds(out, name);
  if (labels && labels[0]) {
    buf_adds(out, "{");
    for (size_t i = 0; labels[i] && labels[i + 1]; i += 2) {
      char *v = escape(labels[i + 1], 1);
      if (i > 0)
        buf_adds(out, ",");
      buf_adds(out, labels[i]);
      buf_adds(out, "=\"");
      buf_adds(out, v);
      buf_adds(out, "\"");
      free(v);
    }
    buf_adds(out, "}");
  }
  /* Whole numbers print as integers (counters stay exact up to 2^53). */
  if (isfinite(value) && value == floor(value) && fabs(value) < 9.0e15)
    snprintf(num, sizeof num, " %.0f\n", value);
  else
    snprintf(num, sizeof num, " %.15g\n", value);
  buf_adds(out, num);
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
  char text[8192] = ""; /* the analyzer does not see read() fill it */
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
metrics_process_text(struct buf *out, const struct metrics_process *p)
{
  metrics_family(out, "process_cpu_seconds_total", "counter",
                 "User and system CPU time the daemon spent, in seconds.");
  metrics_sample(out, "process_cpu_seconds_total", NULL, p->cpu_seconds);
  metrics_family(out, "process_resident_memory_bytes", "gauge",
                 "Resident memory size of the daemon in bytes.");
  metrics_sample(out, "process_resident_memory_bytes", NULL,
                 (double)p->resident_bytes);
  metrics_family(out, "process_virtual_memory_bytes", "gauge",
                 "Virtual memory size of the daemon in bytes.");
  metrics_sample(out, "process_virtual_memory_bytes", NULL,
                 (double)p->virtual_bytes);
  metrics_family(out, "process_open_fds", "gauge",
                 "File descriptors the daemon has open.");
  metrics_sample(out, "process_open_fds", NULL, (double)p->open_fds);
  metrics_family(out, "process_max_fds", "gauge",
                 "The daemon's limit of open file descriptors (soft "
                 "RLIMIT_NOFILE).");
  metrics_sample(out, "process_max_fds", NULL, (double)p->max_fds);
  metrics_family(out, "process_start_time_seconds", "gauge",
                 "Start time of the daemon since the unix epoch, in "
                 "seconds.");
  metrics_sample(out, "process_start_time_seconds", NULL, p->start_time);
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
metrics_note_event(void *ctx, const struct tend_event *ev)
{
  const char *node = ev->node;
  struct watch_counts *c;
  int fired, paused;

  (void)ctx;
  if (!node)
    return;
  fired = ev->type == EVENTS_WATCH_FIRED;
  paused = ev->type == EVENTS_WATCH_PAUSED;
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
