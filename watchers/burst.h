/* burst: the pure rules of a watch's bursts (see watch.h for the behaviour).
 *
 * When a burst fires (debounce with a cap on the total wait), whether a
 * fired burst is linked to its runner and whether linked bursts in a row
 * trip the loop guard, which paths are temporary files, which pass the
 * include and exclude globs, and the changed-path list handed to the run
 * (TEND_CHANGED_PATHS, capped, and TEND_CHANGED_PATHS_FILE). watch.c owns
 * the loop, the timers and the state these functions are given; reload.c
 * shares the debounce rule; runner.c builds the run's environment with the
 * path list. Everything here except burst_paths_file_write() is pure,
 * tested without a loop. */
#ifndef TEND_BURST_H
#define TEND_BURST_H

#include <stddef.h>
#include <stdint.h>

#include "watchers/inotify.h"

/* Pure: given the times (ms) of a burst's first and last change, returns 0
 * when the burst should fire at now_ms, else the ms to wait. The burst
 * fires debounce_ms after its last change, but never later than max_wait_ms
 * after its first (max_wait_ms <= 0: no cap). */
int64_t burst_debounce_wait(int64_t first_ms, int64_t last_ms, int64_t now_ms,
                            int64_t debounce_ms, int64_t max_wait_ms);
/* Pure: returns 1 when the linked bursts fired (in a row) at
 * times[0..n) (ms) hold more than max_restarts within the period_ms ending
 * at now_ms. max_restarts 0 never trips. */
int burst_loop_tripped(const int64_t *times, size_t n, int64_t now_ms,
                       int max_restarts, int64_t period_ms);
/* Pure: returns 1 when a burst whose first change came at first_ms, firing
 * at now_ms, is linked to the runner: one of starts[0..n_starts) lies at
 * most follow_ms before first_ms, or one of exits[0..n_exits) (runs that
 * ended on their own) lies within [first_ms, now_ms]. */
int burst_linked(int64_t first_ms, int64_t now_ms, const int64_t *starts,
                 size_t n_starts, const int64_t *exits, size_t n_exits,
                 int64_t follow_ms);

/* Flags of one path in a burst (see burst_path_fold). */
#define BURST_PATH_SEEN 1u    /* it changed in this burst */
#define BURST_PATH_CREATED 2u /* its first change made it appear */
#define BURST_PATH_GONE 4u    /* its last change made it disappear */
/* Pure: folds one change of a path into its flags (0 before its first
 * change): kind CREATED makes it appear, DELETED disappear, MOVED appear
 * as the new name and disappear when moved_away (the old name). */
unsigned burst_path_fold(unsigned flags, enum inotify_kind kind,
                         int moved_away);
/* Pure: returns 1 for a temporary path: created and removed in one burst. */
int burst_path_transient(unsigned flags);

/* Pure: joins paths with newlines (new string). */
char *burst_paths_join(const char *const *paths, size_t n);
/* Pure: returns the value of TEND_CHANGED_PATHS for the newline-separated
 * list joined (new string): the list itself when it is shorter than cap
 * bytes; else as many whole lines as fit with a last line
 * "...(K more; see TEND_CHANGED_PATHS_FILE)", cap bytes at most with the
 * NUL. cap must leave room for the marker (>= 64). */
char *burst_paths_env(const char *joined, size_t cap);
/* Writes joined and a newline to file, atomically: a temp file in the same
 * folder, renamed over it (mode 0644). No fsync: the file is for the run
 * that reads it, not for recovery. Creates file's folder when missing.
 * Returns 0 or -errno with *cause (new). */
int burst_paths_file_write(const char *file, const char *joined, char **cause);
/* Pure: returns 1 when rel or one of its parent folders matches one of
 * globs[0..n). */
int burst_path_matches(const char *rel, char *const *globs, size_t n);
/* Pure: returns 1 when rel (relative to the watched folder) passes the
 * include and exclude globs as described in watch.h (Filters). */
int burst_path_selected(const char *rel, char *const *include, size_t n_include,
                        char *const *exclude, size_t n_exclude);

#endif
