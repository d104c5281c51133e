/* recover: orphan process groups of a SIGKILLed daemon.
 *
 * A group is ours when a live process has pgrp == session == the recorded
 * pgid (our children lead their own session) and started no earlier than
 * the recorded leader. Both must match, so an unrelated process that got a
 * recycled pid is never signalled. */
#include "state/recover.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "src/xalloc.h"

int
recover_parse_stat(const char *line, int *pgrp, int *session,
                   unsigned long long *start)
{
  /* The command name (field 2) may hold spaces and parens: skip to the
   * last ')'. Then: state ppid pgrp session tty tpgid flags minflt cminflt
   * majflt cmajflt utime stime cutime cstime priority nice threads
   * itrealvalue starttime. */
  const char *p = strrchr(line, ')');
  char state;
  int ppid;

  if (!p)
    return -EINVAL;
  if (sscanf(p + 1,
             " %c %d %d %d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d "
             "%*d %*d %*d %llu",
             &state, &ppid, pgrp, session, start) != 5)
    return -EINVAL;
  return 0;
}

/* Reads /proc/PID/stat into buf. Returns 0 or -errno. */
static int
read_stat(int pid, char *buf, size_t size)
{
  char path[64];
  FILE *f;
  size_t n;

  snprintf(path, sizeof path, "/proc/%d/stat", pid);
  f = fopen(path, "re");
  if (!f)
    return -errno;
  n = fread(buf, 1, size - 1, f);
  fclose(f);
  buf[n] = '\0';
  return 0;
}

unsigned long long
recover_proc_start(int pid)
{
  char buf[1024];
  int pgrp, session;
  unsigned long long start;

  if (read_stat(pid, buf, sizeof buf) != 0 ||
      recover_parse_stat(buf, &pgrp, &session, &start) != 0)
    return 0;
  return start;
}

/* Tells whether a /proc/PID/stat line is a zombie (or a dead task): it
 * cannot be signalled, and only its parent (PID 1 after our death, which
 * may reap late) can make it go. */
static int
stat_is_dead(const char *line)
{
  const char *p = strrchr(line, ')');
  char state = '\0';
  if (p && sscanf(p + 1, " %c", &state) == 1)
    return state == 'Z' || state == 'X' || state == 'x';
  return 0;
}

/* Lists the live pids of a recorded group (pgid + leader start time).
 * Zombies are left out: a group of zombies is stopped already. */
static json_t *
group_members(int pgid, unsigned long long start)
{
  json_t *pids = json_array();
  DIR *d = opendir("/proc");
  struct dirent *de;
  char buf[1024];

  if (!d)
    return pids;
  while ((de = readdir(d)) != NULL) {
    int pid = atoi(de->d_name), pgrp, session;
    unsigned long long st;
    if (pid <= 0 || read_stat(pid, buf, sizeof buf) != 0)
      continue;
    if (recover_parse_stat(buf, &pgrp, &session, &st) != 0 ||
        stat_is_dead(buf))
      continue;
    if (pgrp == pgid && session == pgid && st >= start)
      json_array_append_new(pids, json_integer(pid));
  }
  closedir(d);
  return pids;
}

/* Sleeps for ms milliseconds (start-up only, before the loop runs). */
static void
sleep_ms(int ms)
{
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* Tells whether a found group (from recover_orphans) still has a live
 * member; groups is the state's table, for the leader's start time. */
static int
group_has_live(const json_t *g, const json_t *groups)
{
  int pgid = (int)json_integer_value(json_object_get(g, "pgid"));
  const json_t *rec = json_object_get(
      groups, json_string_value(json_object_get(g, "runner")));
  json_t *pids = group_members(
      pgid, (unsigned long long)json_integer_value(
                json_object_get(rec, "start")));
  int live = json_array_size(pids) > 0;
  json_decref(pids);
  return live;
}

json_t *
recover_orphans(const json_t *state, int grace_ms)
{
  json_t *found = json_array();
  json_t *groups = json_object_get(state, "process_groups");
  const char *name;
  json_t *g;
  int waited = 0;

  json_object_foreach(groups, name, g) {
    int pgid = (int)json_integer_value(json_object_get(g, "pgid"));
    unsigned long long start =
        (unsigned long long)json_integer_value(json_object_get(g, "start"));
    json_t *pids;
    if (pgid <= 1)
      continue;
    pids = group_members(pgid, start);
    if (json_array_size(pids) == 0) {
      json_decref(pids);
      continue;
    }
    kill(-pgid, SIGTERM);
    json_array_append_new(found, json_pack("{s:s, s:i, s:o}", "runner", name,
                                           "pgid", pgid, "pids", pids));
  }
  /* Wait for them to go, then KILL what is left. A group counts as gone
   * when only zombies are left in it: kill(-pgid, 0) would still succeed
   * until PID 1 reaps them, which can take seconds. */
  while (json_array_size(found) > 0 && waited < grace_ms) {
    size_t i;
    int left = 0;
    json_array_foreach(found, i, g) {
      int pgid = (int)json_integer_value(json_object_get(g, "pgid"));
      if (kill(-pgid, 0) == 0 && group_has_live(g, groups))
        left = 1;
    }
    if (!left)
      break;
    sleep_ms(20);
    waited += 20;
  }
  {
    size_t i;
    json_array_foreach(found, i, g) {
      int pgid = (int)json_integer_value(json_object_get(g, "pgid"));
      if (group_has_live(g, groups))
        kill(-pgid, SIGKILL);
    }
  }
  return found;
}
