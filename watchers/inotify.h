/* inotify: the daemon's one inotify instance, shared by every subscriber.
 *
 * A service owns one inotify fd (non-blocking, close-on-exec) polled by a
 * uv_poll_t on the loop, and its own wd -> path table. Subscribers watch
 * folder trees (recursively) or single folders (non-recursively, e.g. the
 * config file's folder); trees may overlap, and each subscriber receives only
 * the changes under its root, in batches: one callback per drain of the
 * inotify queue, so changes that arrive together are delivered together, on
 * the loop iteration they were read.
 *
 * What the service takes care of: folders created, moved in, moved out,
 * renamed or deleted after the watch started (files created in a new folder
 * before its watch existed are found by a rescan and reported as synthetic
 * creates); cookie-paired renames; IN_Q_OVERFLOW and the watch limit
 * (ENOSPC), which are reported as distinct notices and followed by a rescan
 * that reports what changed since the last scan (compared against recorded
 * sizes, mtimes and inodes) instead of losing changes silently. Folders that
 * could not be watched because of the limit are polled every second.
 *
 * Callbacks may call inotify_watch, inotify_unwatch, inotify_rescan and
 * inotify_service_close; those take effect safely after the delivery. */
#ifndef TEND_INOTIFY_H
#define TEND_INOTIFY_H

#include <stddef.h>
#include <uv.h>

#define INOTIFY_KIND_MAP(X)                                                    \
  X(CREATED, "created")                                                        \
  X(MODIFIED, "modified")                                                      \
  X(DELETED, "deleted")                                                        \
  X(MOVED, "moved")                                                            \
  X(OVERFLOW, "overflow")                                                      \
  X(LIMIT, "limit")

enum inotify_kind {
#define X(N, S) INOTIFY_##N,
  INOTIFY_KIND_MAP(X)
#undef X
};

/* Returns "created", "modified", ... for kind. */
const char *inotify_kind_name(enum inotify_kind kind);

/* One change. Every pointer is borrowed for the duration of the callback. */
struct inotify_change {
  enum inotify_kind kind;
  /* Absolute path: the changed file or folder; for MOVED the new name; for
   * OVERFLOW the subscriber's root; for LIMIT the folder left unwatched. A
   * move whose other end is outside the subscriber's trees arrives as
   * CREATED (moved in) or DELETED (moved out). */
  const char *path;
  const char *from; /* MOVED: the old name; otherwise NULL */
  int is_dir;
  int synthetic;       /* found by a rescan, not reported by the kernel */
  const char *message; /* OVERFLOW and LIMIT: text for the user */
};

/* Receives the changes of one drain (n >= 1) for one subscriber. */
typedef void (*inotify_event_cb)(void *ctx, const struct inotify_change *chs,
                                 size_t n);
/* Asked before a folder strictly below a recursive subscriber's root is
 * watched; returns 0 to leave that folder and its subtree unwatched (for
 * ignored folders such as .git or node_modules, which would otherwise cost
 * watches). May be NULL: every folder is watched. */
typedef int (*inotify_want_dir_cb)(void *ctx, const char *path);

struct inotify_service;
struct inotify_sub;

struct inotify_stats {
  size_t watches;    /* folders with a kernel watch */
  size_t polled;     /* folders polled because of the watch limit */
  size_t subs;       /* live subscribers */
  size_t overflows;  /* IN_Q_OVERFLOW seen since start */
  size_t limit_hits; /* ENOSPC from inotify_add_watch since start */
};

/* Creates the service on loop. Returns NULL with *cause (new) on failure
 * (e.g. fs.inotify.max_user_instances reached). */
struct inotify_service *inotify_service_new(uv_loop_t *loop, char **cause);
/* Ends every subscription, closes the handles and the fd, frees the service
 * in the last close callback and then calls cb(arg) (cb may be NULL).
 * Subscriptions still open become invalid. */
void inotify_service_close(struct inotify_service *svc, void (*cb)(void *),
                           void *arg);
/* Returns counters for status and tests. */
void inotify_service_stats(const struct inotify_service *svc,
                           struct inotify_stats *out);

/* Watches the folder root (absolute; symlinks in it are resolved) and, when
 * recursive, every folder below it that want_dir accepts. The initial scan
 * reports nothing; changes after it go to cb(ctx, ...). Returns the
 * subscription, or NULL with *cause (new) when root is not an accessible
 * folder. When the watch limit is hit, the subscription still works (the
 * rest is polled) and a LIMIT change is delivered soon after. */
struct inotify_sub *inotify_watch(struct inotify_service *svc, const char *root,
                                  int recursive, inotify_event_cb cb,
                                  inotify_want_dir_cb want_dir, void *ctx,
                                  char **cause);
/* Ends a subscription: no callback follows, watches nobody else needs are
 * removed. NULL is a no-op. */
void inotify_unwatch(struct inotify_sub *sub);
/* Rescans the subscriber's tree now (e.g. after its want_dir answers
 * changed) and reports what differs from the last scan. */
void inotify_rescan(struct inotify_sub *sub);
/* Returns the resolved root (borrowed): reported paths start with it. */
const char *inotify_sub_root(const struct inotify_sub *sub);

#endif
