/* recover: orphan process groups of a SIGKILLed daemon.
 *
 * A recorded group is ours only when its leader (pid == pgid) is alive,
 * leads its own session and group (as our children do), started at
 * exactly the recorded clock tick, during the recorded boot (the boot id
 * state.json holds), and carries TEND_STATE_DIR=<this state dir> in its
 * environment. Anything less and the group is left alone and reported
 * (issue 13, item 2: ">= the recorded start" killed an unrelated process
 * that got a recycled pid, and a crafted state.json could name any
 * group). Members are then the live processes of that group that started
 * no earlier than the leader.
 *
 * A child forked just before the daemon died is not in state.json yet
 * (the group is recorded after uv_spawn returns). Every child carries
 * TEND_STATE_DIR=<state dir> in its environment, and only one daemon runs
 * per state dir (the lock), so any other process that carries it once the
 * lock is ours is a leftover too: recover_strays finds those in
 * /proc/PID/environ. */
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

#define BOOT_ID_PATH "/proc/sys/kernel/random/boot_id"

const char *
recover_boot_id(void)
{
  static char id[64];
  static int done;

  if (!done) {
    FILE *f = fopen(BOOT_ID_PATH, "re");
    done = 1;
    if (f) {
      if (!fgets(id, sizeof id, f))
        id[0] = '\0';
      fclose(f);
      id[strcspn(id, "\n")] = '\0';
    }
  }
  return id[0] ? id : NULL;
}

const char *
recover_judge(const struct recover_record *rec, const struct recover_seen *seen)
{
  if (!rec->boot_id)
    return "state.json records no boot id (written by an older tend)";
  if (!rec->boot_now)
    return "the current boot id cannot be read";
  if (strcmp(rec->boot_id, rec->boot_now) != 0)
    return "it was recorded during another boot";
  if (!seen->alive)
    return "its leader is gone";
  if (seen->pgrp != rec->pgid || seen->session != rec->pgid)
    return "the process with that pid leads no session of its own";
  if (seen->start != rec->start)
    return "the process with that pid started at another time (a recycled "
           "pid)";
  if (!seen->has_env)
    return "the process with that pid does not carry this state dir's "
           "TEND_STATE_DIR";
  return NULL;
}

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
    if (recover_parse_stat(buf, &pgrp, &session, &st) != 0 || stat_is_dead(buf))
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

static ssize_t read_environ(int pid, char *buf, size_t size);
static int env_has(const char *env, size_t len, const char *entry,
                   const char *prefix, const char **found);

/* Fills *seen with what /proc says of pid now; entry is the
 * "TEND_STATE_DIR=..." string its environment must hold. */
static void
look_at(int pid, const char *entry, struct recover_seen *seen)
{
  char buf[1024];
  size_t cap = 256 * 1024;
  char *env;
  ssize_t n;

  memset(seen, 0, sizeof *seen);
  if (read_stat(pid, buf, sizeof buf) != 0 ||
      recover_parse_stat(buf, &seen->pgrp, &seen->session, &seen->start) != 0 ||
      stat_is_dead(buf))
    return;
  seen->alive = 1;
  env = xmalloc(cap);
  n = read_environ(pid, env, cap);
  seen->has_env = n > 0 && env_has(env, (size_t)n, entry, NULL, NULL);
  free(env);
}

/* Tells whether a found group (from recover_orphans) still has a live
 * member; groups is the state's table, for the leader's start time. */
static int
group_has_live(const json_t *g, const json_t *groups)
{
  int pgid = (int)json_integer_value(json_object_get(g, "pgid"));
  const json_t *rec =
      json_object_get(groups, json_string_value(json_object_get(g, "runner")));
  json_t *pids = group_members(pgid, (unsigned long long)json_integer_value(
                                         json_object_get(rec, "start")));
  int live = json_array_size(pids) > 0;
  json_decref(pids);
  return live;
}

json_t *
recover_orphans(const json_t *state, const char *state_dir, int grace_ms,
                json_t **skipped)
{
  json_t *found = json_array();
  json_t *groups = json_object_get(state, "process_groups");
  char *entry = xasprintf("TEND_STATE_DIR=%s", state_dir);
  const char *name;
  json_t *g;
  int waited = 0;

  *skipped = json_array();
  json_object_foreach(groups, name, g)
  {
    struct recover_record rec = {
        .pgid = (int)json_integer_value(json_object_get(g, "pgid")),
        .start =
            (unsigned long long)json_integer_value(json_object_get(g, "start")),
        .boot_id = json_string_value(json_object_get(state, "boot_id")),
        .boot_now = recover_boot_id()};
    struct recover_seen seen;
    const char *why;
    json_t *pids;
    if (rec.pgid <= 1)
      continue;
    pids = group_members(rec.pgid, rec.start);
    look_at(rec.pgid, entry, &seen);
    if (json_array_size(pids) == 0 && !seen.alive) {
      json_decref(pids);
      continue; /* nothing left there: nothing to decide */
    }
    if ((why = recover_judge(&rec, &seen)) != NULL) {
      json_decref(pids);
      json_array_append_new(*skipped,
                            json_pack("{s:s, s:i, s:s}", "runner", name, "pgid",
                                      rec.pgid, "reason", why));
      continue;
    }
    kill(-rec.pgid, SIGTERM);
    json_array_append_new(found, json_pack("{s:s, s:i, s:o}", "runner", name,
                                           "pgid", rec.pgid, "pids", pids));
  }
  free(entry);
  /* Wait for them to go, then KILL what is left. A group counts as gone
   * when only zombies are left in it: kill(-pgid, 0) would still succeed
   * until PID 1 reaps them, which can take seconds. */
  while (json_array_size(found) > 0 && waited < grace_ms) {
    size_t i;
    int left = 0;
    json_array_foreach(found, i, g)
    {
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
    json_array_foreach(found, i, g)
    {
      int pgid = (int)json_integer_value(json_object_get(g, "pgid"));
      if (group_has_live(g, groups))
        kill(-pgid, SIGKILL);
    }
  }
  return found;
}

/* Tells whether pid is this process or one of its ancestors (a daemon
 * started from a runner's shell must not stop its own parents). */
static int
is_self_or_ancestor(int pid)
{
  char buf[1024];
  int cur = (int)getpid();

  for (int depth = 0; cur > 1 && depth < 64; depth++) {
    const char *p;
    int ppid;
    if (cur == pid)
      return 1;
    if (read_stat(cur, buf, sizeof buf) != 0 || !(p = strrchr(buf, ')')) ||
        sscanf(p + 1, " %*c %d", &ppid) != 1)
      return 0;
    cur = ppid;
  }
  return 0;
}

/* Looks for name=value among the NUL-separated entries of an environment
 * block; returns the value of prefix (e.g. "TEND_RUNNER=") in *found
 * (borrowed from env) when asked. */
static int
env_has(const char *env, size_t len, const char *entry, const char *prefix,
        const char **found)
{
  int has = 0;
  size_t elen = strlen(entry), plen = prefix ? strlen(prefix) : 0;

  for (size_t i = 0; i < len;) {
    const char *e = env + i;
    size_t n = strnlen(e, len - i);
    if (n == elen && memcmp(e, entry, elen) == 0)
      has = 1;
    if (prefix && found && n > plen && memcmp(e, prefix, plen) == 0)
      *found = e + plen;
    i += n + 1;
  }
  return has;
}

/* Reads /proc/PID/environ (at most size - 1 bytes; a child's environment
 * is small). Returns its length or -1. */
static ssize_t
read_environ(int pid, char *buf, size_t size)
{
  char path[64];
  FILE *f;
  size_t n;

  snprintf(path, sizeof path, "/proc/%d/environ", pid);
  f = fopen(path, "re");
  if (!f)
    return -1;
  n = fread(buf, 1, size - 1, f);
  fclose(f);
  buf[n] = '\0';
  return (ssize_t)n;
}

/* Lists the live processes (not zombies, not us) whose environment holds
 * entry: [{"pid", "pgid", "runner"}]. */
static json_t *
find_strays(const char *entry)
{
  json_t *out = json_array();
  DIR *d = opendir("/proc");
  struct dirent *de;
  size_t cap = 256 * 1024;
  char *env = xmalloc(cap), stat[1024];

  if (!d) {
    free(env);
    return out;
  }
  while ((de = readdir(d)) != NULL) {
    int pid = atoi(de->d_name), pgrp, session;
    unsigned long long st;
    const char *runner = NULL;
    ssize_t n;
    if (pid <= 0 || read_stat(pid, stat, sizeof stat) != 0 ||
        recover_parse_stat(stat, &pgrp, &session, &st) != 0 ||
        stat_is_dead(stat))
      continue;
    n = read_environ(pid, env, cap);
    if (n <= 0 || !env_has(env, (size_t)n, entry, "TEND_RUNNER=", &runner))
      continue;
    if (is_self_or_ancestor(pid))
      continue;
    json_array_append_new(out,
                          json_pack("{s:i, s:i, s:s}", "pid", pid, "pgid", pgrp,
                                    "runner", runner ? runner : "?"));
  }
  closedir(d);
  free(env);
  return out;
}

/* Signals each stray: its whole group when it leads one (a child of ours
 * leads its own), else the process alone (an escaped grandchild's group
 * may hold others). */
static void
signal_strays(const json_t *strays, int signo)
{
  size_t i;
  json_t *s;

  json_array_foreach(strays, i, s)
  {
    int pid = (int)json_integer_value(json_object_get(s, "pid"));
    int pgid = (int)json_integer_value(json_object_get(s, "pgid"));
    kill(pgid == pid ? -pgid : pid, signo);
  }
}

/* Groups strays by runner for the report: [{"runner","pgid","pids"}]. */
static json_t *
strays_report(const json_t *strays)
{
  json_t *out = json_array();
  size_t i, j;
  json_t *s, *g;

  json_array_foreach(strays, i, s)
  {
    const char *runner = json_string_value(json_object_get(s, "runner"));
    json_t *into = NULL;
    json_array_foreach(out, j, g)
    {
      if (strcmp(json_string_value(json_object_get(g, "runner")), runner) == 0)
        into = g;
    }
    if (!into) {
      into = json_pack("{s:s, s:O, s:[]}", "runner", runner, "pgid",
                       json_object_get(s, "pgid"), "pids");
      json_array_append_new(out, into);
    }
    json_array_append(json_object_get(into, "pids"), json_object_get(s, "pid"));
  }
  return out;
}

json_t *
recover_strays(const char *state_dir, int grace_ms)
{
  char *entry = xasprintf("TEND_STATE_DIR=%s", state_dir);
  json_t *strays = find_strays(entry), *report;
  int waited = 0;

  if (json_array_size(strays) == 0) {
    free(entry);
    return strays;
  }
  report = strays_report(strays);
  signal_strays(strays, SIGTERM);
  while (waited < grace_ms) {
    json_t *left = find_strays(entry);
    size_t n = json_array_size(left);
    json_decref(left);
    if (n == 0)
      break;
    sleep_ms(20);
    waited += 20;
  }
  json_decref(strays);
  strays = find_strays(entry);
  signal_strays(strays, SIGKILL);
  json_decref(strays);
  free(entry);
  return report;
}
