/* memory: the max_memory sampler (memory.h).
 *
 * Members of a process group cannot be listed directly, so a sample reads
 * /proc/<pid>/stat of every process: one small read each, which gives both
 * the group (field 5) and the resident pages (field 24). Only runners with
 * a limit sample, every MEMORY_SAMPLE_MS while a run is alive. */
#include "runners/memory.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int
memory_over(struct memory_watch *w, int64_t rss, int64_t limit, int64_t now_ms,
            int64_t grace_ms)
{
  if (limit <= 0 || rss <= limit) {
    w->over_since = -1;
    return 0;
  }
  if (w->over_since < 0)
    w->over_since = now_ms;
  return now_ms - w->over_since >= grace_ms;
}

int
memory_parse_stat(const char *line, int *pgrp, int64_t *rss_pages)
{
  /* The command name (field 2) may hold spaces and ')': the fields that
   * follow start after the last ')'. */
  const char *p = strrchr(line, ')');
  long long v = 0;
  int field = 2;

  if (!p)
    return -EINVAL;
  p++;
  while (*p && field < 24) {
    char *end;
    while (*p == ' ')
      p++;
    if (!*p)
      break;
    field++;
    if (field == 5 || field == 24) {
      errno = 0;
      v = strtoll(p, &end, 10);
      if (end == p || errno)
        return -EINVAL;
      if (field == 5)
        *pgrp = (int)v;
      else
        *rss_pages = v < 0 ? 0 : (int64_t)v;
      p = end;
      continue;
    }
    while (*p && *p != ' ')
      p++;
  }
  return field == 24 ? 0 : -EINVAL;
}

int64_t
memory_group_rss(int pgid)
{
  DIR *d = opendir("/proc");
  struct dirent *e;
  int64_t pages = 0;
  long page = sysconf(_SC_PAGESIZE);
  char path[300], buf[1024];

  if (!d)
    return 0;
  while ((e = readdir(d))) {
    int fd, pg = 0;
    ssize_t n;
    int64_t rss = 0;
    if (e->d_name[0] < '1' || e->d_name[0] > '9')
      continue;
    snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
      continue;
    n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
      continue;
    buf[n] = '\0';
    if (memory_parse_stat(buf, &pg, &rss) == 0 && pg == pgid)
      pages += rss;
  }
  closedir(d);
  return pages * (page > 0 ? page : 4096);
}

void
memory_format(int64_t bytes, char *buf, int size)
{
  if (bytes >= (INT64_C(1) << 30))
    snprintf(buf, (size_t)size, "%.1f GiB", (double)bytes / (1 << 30));
  else if (bytes >= (INT64_C(1) << 20))
    snprintf(buf, (size_t)size, "%.1f MiB", (double)bytes / (1 << 20));
  else
    snprintf(buf, (size_t)size, "%lld KiB", (long long)(bytes >> 10));
}
