/* wdtable: the watched folders of the inotify service, by wd and by path.
 *
 * The table is the inotify service's bookkeeping, kept apart from the
 * event decoding and the scans that use it (inotify.c): one entry per
 * folder with its kernel watch (or none: polled after the watch limit), its
 * absolute path and the snapshot of its entries a rescan compares against.
 * Renames rewrite paths here, IN_IGNORED and vanished subtrees drop entries
 * here. No callbacks, no loop: the table is plain data plus the one call
 * that removes a kernel watch (inotify_rm_watch on the fd it was given).
 *
 * The struct is public so that the service can embed it and walk `dirs`;
 * only the functions below change it. */
#ifndef TEND_WDTABLE_H
#define TEND_WDTABLE_H

#include <stddef.h>
#include <stdint.h>

#include "watchers/inotify.h"

/* One entry of a folder's snapshot. */
struct wdtable_entry {
  char *name;
  uint64_t ino;
  int64_t size;
  int64_t mtime_ns;
  int64_t ctime_ns;
  unsigned mode; /* S_IFMT bits only */
};

/* One watched (or polled) folder. */
struct wdtable_dir {
  int wd;                     /* -1: not watched (watch limit), polled */
  char *path;                 /* absolute, no trailing '/' */
  struct wdtable_entry *ents; /* sorted by name */
  size_t n_ents;
  unsigned gen; /* generation of the last scan that visited it */
  size_t idx;   /* position in dirs */
};

struct strmap;

struct wdtable {
  int fd; /* the inotify instance whose watches these are (borrowed) */
  struct wdtable_dir **dirs;
  size_t n_dirs, cap_dirs;
  struct strmap *by_wd;   /* "%d" -> dir */
  struct strmap *by_path; /* path -> dir */
  size_t n_polled;        /* entries with wd -1 */
};

/* Returns 1 when path is dir or lies below it (both absolute). */
int wdtable_path_under(const char *path, const char *dir);
/* Returns 1 when path's parent folder is dir. */
int wdtable_path_child_of(const char *path, const char *dir);
/* Returns dir + "/" + name (new). */
char *wdtable_path_join(const char *dir, const char *name);

/* Sets up an empty table whose watches belong to the inotify instance fd. */
void wdtable_init(struct wdtable *t, int fd);
/* Frees every entry (their kernel watches are left alone: the caller closes
 * the fd) and the indexes. */
void wdtable_fini(struct wdtable *t);

/* Returns the folder watched as wd (borrowed), or NULL. */
struct wdtable_dir *wdtable_by_wd(const struct wdtable *t, int wd);
/* Returns the folder at path (borrowed), or NULL. */
struct wdtable_dir *wdtable_by_path(const struct wdtable *t, const char *path);
/* Returns a new entry for path (borrowed: the table owns it), not yet
 * watched (wd -1, counted as polled). */
struct wdtable_dir *wdtable_add(struct wdtable *t, const char *path);
/* Sets d's wd (-1: none), keeping the wd index and the polled count. */
void wdtable_set_wd(struct wdtable *t, struct wdtable_dir *d, int wd);
/* Moves d to path; a different entry already there is dropped. */
void wdtable_set_path(struct wdtable *t, struct wdtable_dir *d,
                      const char *path);
/* Removes d and frees it; with rm, also removes its kernel watch (not
 * needed when the folder is gone: IN_IGNORED follows). The last entry of
 * dirs takes d's place. */
void wdtable_drop(struct wdtable *t, struct wdtable_dir *d, int rm);
/* Drops every entry at or below path. */
void wdtable_drop_subtree(struct wdtable *t, const char *path, int rm);
/* Renames the entries at or below from to the same places below to; a stale
 * entry in the way at the destination is dropped. */
void wdtable_rewrite_prefix(struct wdtable *t, const char *from,
                            const char *to);

/* Reads the entries of the open folder dfd (taken: closed) into a new
 * array sorted by name (*n entries). */
struct wdtable_entry *wdtable_read_entries(int dfd, size_t *n);
/* Frees a snapshot. */
void wdtable_entries_free(struct wdtable_entry *ents, size_t n);
/* Removes name from d's snapshot. */
void wdtable_snap_remove(struct wdtable_dir *d, const char *name);
/* Re-reads name's metadata into d's snapshot after an event (removing it
 * when it is gone), so that a later rescan reports only what happened
 * after it. */
void wdtable_snap_update(struct wdtable_dir *d, const char *name);
/* Returns 1 when d's snapshot already holds name as the very inode that is
 * at path now. */
int wdtable_snap_knows(const struct wdtable_dir *d, const char *name,
                       const char *path);
/* Receives one difference: path (borrowed) was CREATED, DELETED or
 * MODIFIED. */
typedef void (*wdtable_diff_cb)(void *ctx, enum inotify_kind kind,
                                const char *path, int is_dir);
/* Compares two sorted snapshots of the folder path and calls cb once per
 * entry that appeared, disappeared, changed type (a delete then a create)
 * or, for a file, changed inode, size, mtime or ctime. */
void wdtable_diff(const char *path, const struct wdtable_entry *old,
                  size_t n_old, const struct wdtable_entry *cur, size_t n_cur,
                  wdtable_diff_cb cb, void *ctx);

#endif
