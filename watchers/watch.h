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
 * The timing, temp-file, guard and path-list decisions are the pure
 * functions of burst.h, tested without a loop. */
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
typedef void (*watch_paused_cb)(void *ctx, const char *const *paths, size_t n,
                                const char *reason);
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

#endif
