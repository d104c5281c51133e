/* recover: start-up recovery after a daemon that was SIGKILLed: the process
 * groups it left behind are found through state.json and /proc (checked
 * against start times so that a recycled pid is never hit) and stopped. */
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

/* Stops every process of the groups listed in a state.json document
 * ("process_groups": {name: {"pgid", "start"}}): TERM, then KILL after
 * grace_ms. Returns a new JSON array of what was found:
 * [{"runner","pgid","pids":[...]}]. Blocks for at most grace_ms: it runs
 * once, before the loop starts. */
json_t *recover_orphans(const json_t *state, int grace_ms);

/* Stops the leftovers state.json does not name: live processes (other
 * than this one and its ancestors) whose environment holds
 * TEND_STATE_DIR=state_dir, as every child of a daemon on that state dir
 * does. Call it only while holding the state dir's lock. TERM (the group
 * of a group leader), then KILL after grace_ms. Returns a new array in
 * recover_orphans' shape: [{"runner","pgid","pids":[...]}]. */
json_t *recover_strays(const char *state_dir, int grace_ms);

#endif
