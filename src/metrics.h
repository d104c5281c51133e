/* metrics: the Prometheus text exposition format (version 0.0.4) for
 * GET /metrics, the daemon's own process_* metrics, and the counters that
 * are folded from events (issue 11, item 12).
 *
 * The text helpers are pure: every family gets its HELP and TYPE lines
 * before its samples, label values are escaped as the format asks
 * (backslash, double quote, newline), and values print as integers when
 * they are whole. Writers keep each family's samples together (Prometheus
 * rejects a family that comes back after another one), so callers loop
 * family by family, not node by node. `promtool check metrics` is the
 * judge (tests/integration/test_metrics.py).
 *
 * Text goes to a growing buffer: *buf (may be NULL) is realloc'd and kept
 * NUL-terminated, *len is its length. */
#ifndef TEND_METRICS_H
#define TEND_METRICS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct buf;

/* Appends "# HELP name help" (help escaped) and "# TYPE name type". */
void metrics_family(struct buf *out, const char *name, const char *type,
                    const char *help);
/* Appends one sample: name{k1="v1",...} value. labels is NULL or a
 * NULL-terminated list of key, value, key, value... (values escaped). */
void metrics_sample(struct buf *out, const char *name,
                    const char *const *labels, double value);
/* Returns a label value escaped for the text format (new string). */
char *metrics_escape_label(const char *value);

/* The daemon process, as process_* metrics (the names of the Prometheus
 * client libraries, so that standard dashboards work). */
struct metrics_process {
  double cpu_seconds;      /* user + system */
  double start_time;       /* unix seconds */
  uint64_t resident_bytes; /* RSS */
  uint64_t virtual_bytes;  /* VSZ */
  uint64_t open_fds;
  uint64_t max_fds; /* soft RLIMIT_NOFILE */
};

/* Pure: fills cpu_seconds, start_time, resident_bytes and virtual_bytes
 * from the text of /proc/<pid>/stat, given the clock ticks per second,
 * the page size and the boot time (unix seconds, from metrics_parse_btime).
 * Returns 0, or -EINVAL when the text is not a stat line. */
int metrics_parse_stat(const char *stat, long ticks_per_s, long page_size,
                       double boot_time, struct metrics_process *p);
/* Pure: the "btime" of /proc/stat's text (0 when missing). */
double metrics_parse_btime(const char *proc_stat);
/* Reads the calling process's metrics from /proc/self and getrlimit (a
 * few small reads; fields that cannot be read stay 0). */
void metrics_process_read(struct metrics_process *p);
/* Appends the six process_* families. */
void metrics_process_text(struct buf *out, const struct metrics_process *p);

/* An events_listener (src/events.h) that counts "watch_fired" and
 * "watch_paused" events per node, for the daemon's lifetime (a watch that
 * is re-created by a restart or a reload does not reset them). */
struct tend_event;
void metrics_note_event(void *ctx, const struct tend_event *ev);
/* The counts of a runner's watch (0 when it never fired). */
void metrics_watch_counts(const char *runner, uint64_t *fires,
                          uint64_t *pauses);
/* Forgets every count (at shutdown). */
void metrics_reset(void);

#endif
