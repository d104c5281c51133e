/* watch: one runner's watch subscription (the runner key "watch").
 *
 * A watch subscribes each of its paths (a folder, recursively; or a single
 * file, through its folder) to the inotify service, keeps the changes that
 * pass its filters (the always-ignored set and the state folder, .gitignore
 * when enabled, exclude globs, include globs), coalesces them over the
 * debounce window with a cap on the total wait, and calls the fire callback
 * once per burst with the distinct changed paths. With debounce_ms 0 it
 * fires on the loop iteration that read the change, without a timer hop.
 *
 * Filters. Globs match the path relative to the watched folder. A path is
 * excluded when it or one of its parent folders matches an exclude glob (so
 * "node_modules" excludes the whole folder, which is then not even watched),
 * and, when there are include globs, kept only when it or a parent folder
 * matches one (for example "**" + "/" + "*.c", "src" or "Makefile").
 *
 * Temporary files. A path whose first change in a burst created it (or
 * renamed something onto it) and whose last change removed it (or renamed
 * it away) is left out of the burst: editor and sed -i temp files, atomic
 * saves. A burst made only of such paths does not fire. A file that existed
 * before the burst and was deleted is a change like any other.
 *
 * Loop guard. The runner tells the watch when a run started (or got the
 * watch's signal) with watch_note_start() and when a run ended on its own
 * with watch_note_exit(). A burst is linked to the runner when its first
 * change came at most loop_follow_ms after such a start, or the run ended
 * on its own while the burst was collecting: what a command writing into
 * its own watched tree does, and what a person's edits, independent of the
 * runner's starts, do not do again and again. More than loop_max_restarts
 * linked bursts in a row within loop_period_ms pause the watch (the burst
 * that trips it does not fire): it stops firing and tells the paused
 * callback which paths kept firing and why, until watch_resume(). An
 * unlinked burst ends the streak. loop_max_restarts 0 disables the guard.
 *
 * The timing, temp-file, guard and path-list decisions are pure functions,
 * tested without a loop. */
#ifndef TEND_WATCH_H
#define TEND_WATCH_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "src/config.h"
#include "watchers/inotify.h"

/* At most this many paths are kept in status and loop-guard reports. */
#define WATCH_PATHS_MAX 100
/* TEND_CHANGED_PATHS is at most this long, its NUL included (32 KiB). */
#define WATCH_ENV_CAP 32768

/* Called once per burst: paths (borrowed, absolute, distinct, in order of
 * first change) holds every path that changed, temporary files left out
 * (n >= 1). */
typedef void (*watch_fire_cb)(void *ctx, const char *const *paths, size_t n);
/* Called when the loop guard pauses the watch, with the paths that kept
 * firing and a sentence saying why (both borrowed). */
typedef void (*watch_paused_cb)(void *ctx, const char *const *paths,
                                size_t n, const char *reason);
/* Called for an inotify notice (INOTIFY_OVERFLOW or INOTIFY_LIMIT) with its
 * message for the user (borrowed). */
typedef void (*watch_notice_cb)(void *ctx, enum inotify_kind kind,
                                const char *message);

struct watch_callbacks {
  watch_fire_cb fire;     /* required */
  watch_paused_cb paused; /* may be NULL */
  watch_notice_cb notice; /* may be NULL */
  void *ctx;
};

struct watch;

/* Creates a watch from cfg (copied) on svc. state_dir (absolute, may be
 * NULL) is never reported. Returns NULL with *cause (new) when a path
 * cannot be watched (missing, unreadable) or a glob is malformed. */
struct watch *watch_new(uv_loop_t *loop, struct inotify_service *svc,
                        const struct config_watch *cfg, const char *state_dir,
                        const struct watch_callbacks *cbs, char **cause);
/* Unsubscribes, then frees the watch after its timer closed and calls
 * cb(arg) (cb may be NULL). No callback of the watch runs after this call.
 * Safe from inside the watch's own callbacks. NULL is a no-op (cb is not
 * called). */
void watch_close(struct watch *w, void (*cb)(void *), void *arg);

/* Records that a run of the runner started, or got the watch's signal, at
 * now_ms (the loop's clock, uv_now). */
void watch_note_start(struct watch *w, int64_t now_ms);
/* Records that a run ended on its own (not stopped by tend) at now_ms. */
void watch_note_exit(struct watch *w, int64_t now_ms);
/* Unpauses the watch and forgets the loop guard's history. */
void watch_resume(struct watch *w);
/* Returns 1 while the loop guard holds the watch paused. */
int watch_is_paused(const struct watch *w);
/* Returns the watch's status (new reference):
 * {"paused":false,"paths":[paths that kept firing, while paused],
 *  "reason":null|"why it paused","paused_since":null|ms,
 *  "roots":[watched paths],"fires":3,
 *  "last_fire":null|{"ts":ms,"paths":[at most WATCH_PATHS_MAX],"total":n},
 *  "notices":[{"kind":"overflow"|"limit","message":"...","ts":ms}]} */
json_t *watch_status_json(const struct watch *w);

/* Pure: given the times (ms) of a burst's first and last change, returns 0
 * when the burst should fire at now_ms, else the ms to wait. The burst
 * fires debounce_ms after its last change, but never later than max_wait_ms
 * after its first (max_wait_ms <= 0: no cap). */
int64_t watch_debounce_wait(int64_t first_ms, int64_t last_ms, int64_t now_ms,
                            int64_t debounce_ms, int64_t max_wait_ms);
/* Pure: returns 1 when the linked bursts fired (in a row) at
 * times[0..n) (ms) hold more than max_restarts within the period_ms ending
 * at now_ms. max_restarts 0 never trips. */
int watch_loop_tripped(const int64_t *times, size_t n, int64_t now_ms,
                       int max_restarts, int64_t period_ms);
/* Pure: returns 1 when a burst whose first change came at first_ms, firing
 * at now_ms, is linked to the runner: one of starts[0..n_starts) lies at
 * most follow_ms before first_ms, or one of exits[0..n_exits) (runs that
 * ended on their own) lies within [first_ms, now_ms]. */
int watch_burst_linked(int64_t first_ms, int64_t now_ms,
                       const int64_t *starts, size_t n_starts,
                       const int64_t *exits, size_t n_exits,
                       int64_t follow_ms);

/* Flags of one path in a burst (see watch_path_fold). */
#define WATCH_PATH_SEEN 1u    /* it changed in this burst */
#define WATCH_PATH_CREATED 2u /* its first change made it appear */
#define WATCH_PATH_GONE 4u    /* its last change made it disappear */
/* Pure: folds one change of a path into its flags (0 before its first
 * change): kind CREATED makes it appear, DELETED disappear, MOVED appear
 * as the new name and disappear when moved_away (the old name). */
unsigned watch_path_fold(unsigned flags, enum inotify_kind kind,
                         int moved_away);
/* Pure: returns 1 for a temporary path: created and removed in one burst. */
int watch_path_transient(unsigned flags);

/* Pure: joins paths with newlines (new string). */
char *watch_paths_join(const char *const *paths, size_t n);
/* Pure: returns the value of TEND_CHANGED_PATHS for the newline-separated
 * list joined (new string): the list itself when it is shorter than cap
 * bytes; else as many whole lines as fit with a last line
 * "...(K more; see TEND_CHANGED_PATHS_FILE)", cap bytes at most with the
 * NUL. cap must leave room for the marker (>= 64). */
char *watch_paths_env(const char *joined, size_t cap);
/* Writes joined and a newline to file, atomically: a temp file in the same
 * folder, renamed over it (mode 0644). No fsync: the file is for the run
 * that reads it, not for recovery. Creates file's folder when missing.
 * Returns 0 or -errno with *cause (new). */
int watch_paths_file_write(const char *file, const char *joined,
                           char **cause);
/* Pure: returns 1 when rel (relative to the watched folder) passes the
 * include and exclude globs as described above. */
int watch_path_selected(const char *rel, char *const *include,
                        size_t n_include, char *const *exclude,
                        size_t n_exclude);

#endif
