/* memory: "max_memory" for a runner (pm2's max_memory_restart): the total
 * resident memory of the run's process group, sampled from /proc, and the
 * pure rule that decides when it has been over the limit long enough. */
#ifndef TEND_MEMORY_H
#define TEND_MEMORY_H

#include <stdint.h>

/* Sampling period and how long the group must stay over the limit. */
#define MEMORY_SAMPLE_MS 2000
#define MEMORY_GRACE_MS 10000

/* The watch of one run: when it was first seen over the limit. */
struct memory_watch {
  int64_t over_since; /* ms; -1 when the last sample was under */
};
#define MEMORY_WATCH_ZERO                                                      \
  {                                                                            \
    -1                                                                         \
  }

/* Folds one sample (rss bytes at now_ms) into w. Returns 1 when the group
 * has been over limit (rss > limit) in every sample for at least grace_ms,
 * else 0; a sample under the limit starts the count again. Pure. */
int memory_over(struct memory_watch *w, int64_t rss, int64_t limit,
                int64_t now_ms, int64_t grace_ms);

/* Parses one /proc/PID/stat line: the process group (field 5) and the
 * resident set in pages (field 24). Returns 0 or -EINVAL. Pure. */
int memory_parse_stat(const char *line, int *pgrp, int64_t *rss_pages);

/* Returns the total resident memory (bytes) of the processes whose
 * process group is pgid, from /proc; 0 when none is found. */
int64_t memory_group_rss(int pgid);

/* Formats bytes as "312.4 MiB" into buf. Pure. */
void memory_format(int64_t bytes, char *buf, int size);

#endif
