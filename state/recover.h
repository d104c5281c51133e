/* recover: start-up recovery after a daemon that was SIGKILLed: the process
 * groups it left behind are found through state.json and /proc (checked
 * against the exact start time, the boot id and the environment so that
 * a recycled pid is never hit) and stopped. */
#ifndef TEND_RECOVER_H
#define TEND_RECOVER_H

#include <jansson.h>

/* Returns the start time (clock ticks since boot, /proc/PID/stat field 22)
 * of pid, or 0 when it does not exist. */
unsigned long long recover_proc_start(int pid);

/* Parses the pgrp, session and start time out of one /proc/PID/stat
 * line. Returns 0 or -EINVAL. Pure. */
int recover_parse_stat(const char *line, int *pgrp, int *session,
                       unsigned long long *start);

/* A group as state.json recorded it. */
struct recover_record {
  int pgid;
  unsigned long long start; /* the leader's start, /proc/PID/stat field 22 */
  const char *boot_id;      /* recorded with it (NULL: none recorded) */
  const char *boot_now;     /* this boot's (NULL: unknown) */
};

/* What /proc says now of the process whose pid is the recorded pgid. */
struct recover_seen {
  int alive; /* exists and is not a zombie */
  int pgrp, session;
  unsigned long long start;
  int has_env; /* its environment holds TEND_STATE_DIR=<this state dir> */
};

/* This boot's id (/proc/sys/kernel/random/boot_id, read once), or NULL.
 * state.json records it next to the process groups. */
const char *recover_boot_id(void);

/* Why the group rec is not ours to stop, given what was seen of its
 * leader (a static string), or NULL when it is: same boot, leader alive,
 * leading its own session, started at exactly the recorded tick, with
 * this state dir's TEND_STATE_DIR. Pure. */
const char *recover_judge(const struct recover_record *rec,
                          const struct recover_seen *seen);

/* Stops every process of the groups listed in a state.json document
 * ("boot_id", "process_groups": {name: {"pgid", "start"}}) that
 * recover_judge finds ours (state_dir: this daemon's, for the
 * TEND_STATE_DIR check): TERM, then KILL after grace_ms. Returns a new
 * JSON array of what was stopped: [{"runner","pgid","pids":[...]}], and
 * in *skipped (new) the groups that still had a live process but were
 * left alone: [{"runner","pgid","reason"}]. Blocks for at most grace_ms:
 * it runs once, before the loop starts. */
json_t *recover_orphans(const json_t *state, const char *state_dir,
                        int grace_ms, json_t **skipped);

/* Stops the leftovers state.json does not name: live processes (other
 * than this one and its ancestors) whose environment holds
 * TEND_STATE_DIR=state_dir, as every child of a daemon on that state dir
 * does. Call it only while holding the state dir's lock. TERM (the group
 * of a group leader), then KILL after grace_ms. Returns a new array in
 * recover_orphans' shape: [{"runner","pgid","pids":[...]}]. */
json_t *recover_strays(const char *state_dir, int grace_ms);

#endif
