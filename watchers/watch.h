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
 * Loop guard. The runner reports each restart the watch caused with
 * watch_note_restart(); more than loop_max_restarts within loop_period_ms
 * pauses the watch: it stops firing and tells the paused callback which
 * paths kept firing, until watch_resume(). loop_max_restarts 0 disables it.
 *
 * The timing and guard decisions are pure functions, tested without a
 * loop. */
#ifndef TEND_WATCH_H
#define TEND_WATCH_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "src/config.h"
#include "watchers/inotify.h"

/* At most this many paths are passed per fire (and kept in status). */
#define WATCH_PATHS_MAX 100

/* Called once per burst: paths (borrowed, absolute, distinct, in order of
 * first change) holds n <= WATCH_PATHS_MAX of the total distinct paths
 * that changed (total > n means the list was truncated). */
typedef void (*watch_fire_cb)(void *ctx, const char *const *paths, size_t n,
                              size_t total);
/* Called when the loop guard pauses the watch, with the paths that kept
 * firing (borrowed). */
typedef void (*watch_paused_cb)(void *ctx, const char *const *paths,
                                size_t n);
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

/* Records a restart caused by the watch at now_ms (any monotonic clock in
 * ms). Returns 1 when it trips the loop guard: the watch is then paused and
 * the paused callback has run. */
int watch_note_restart(struct watch *w, int64_t now_ms);
/* Unpauses the watch and forgets the restart history. */
void watch_resume(struct watch *w);
/* Returns 1 while the loop guard holds the watch paused. */
int watch_is_paused(const struct watch *w);
/* Returns the watch's status (new reference):
 * {"paused":false,"paths":[paths that kept firing, while paused],
 *  "roots":[watched paths],"fires":3,
 *  "last_fire":null|{"ts":ms,"paths":[...],"total":n},
 *  "notices":[{"kind":"overflow"|"limit","message":"...","ts":ms}]} */
json_t *watch_status_json(const struct watch *w);

/* Pure: given the times (ms) of a burst's first and last change, returns 0
 * when the burst should fire at now_ms, else the ms to wait. The burst
 * fires debounce_ms after its last change, but never later than max_wait_ms
 * after its first (max_wait_ms <= 0: no cap). */
int64_t watch_debounce_wait(int64_t first_ms, int64_t last_ms, int64_t now_ms,
                            int64_t debounce_ms, int64_t max_wait_ms);
/* Pure: returns 1 when the restarts at times[0..n) (ms) hold more than
 * max_restarts within the period_ms ending at now_ms. max_restarts 0 never
 * trips. */
int watch_loop_tripped(const int64_t *times, size_t n, int64_t now_ms,
                       int max_restarts, int64_t period_ms);
/* Pure: returns 1 when rel (relative to the watched folder) passes the
 * include and exclude globs as described above. */
int watch_path_selected(const char *rel, char *const *include,
                        size_t n_include, char *const *exclude,
                        size_t n_exclude);

#endif
