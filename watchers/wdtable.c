/* wdtable: the inotify service's table of watched folders (see wdtable.h).
 *
 * DESIGN
 *
 * Every folder is a `struct wdtable_dir` {wd, absolute path, a snapshot of
 * its entries (name, type, inode, size, mtime, ctime), the generation of
 * the last scan that visited it}, kept in an array (order does not matter:
 * a drop moves the last entry into the hole, which is why loops that drop
 * look at the same index again) and indexed by wd and by path. The
 * kernel's wd is the identity of a folder's inode: inotify_add_watch() on
 * an inode already watched returns the same wd, which is how a rescan
 * notices that a known folder now lives under another path. A folder left
 * unwatched by the watch limit has wd -1 and is counted in n_polled.
 *
 * Snapshots are sorted by name, so a lookup is a binary search and two
 * snapshots compare in one merge pass (inotify.c's report_diff). */
#include "watchers/wdtable.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "src/strmap.h"
#include "src/xalloc.h"

/* ---------------------------------------------------------------- paths */

/* Returns 1 when path is dir or lies below it (both absolute). */
int
wdtable_path_under(const char *path, const char *dir)
{
  size_t n = strlen(dir);

  if (n == 1 && dir[0] == '/')
    return path[0] == '/';
  return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* Returns 1 when path's parent folder is dir. */
int
wdtable_path_child_of(const char *path, const char *dir)
{
  const char *slash = strrchr(path, '/');
  size_t n;

  if (slash == NULL)
    return 0;
  n = (size_t)(slash - path);
  if (n == 0)
    return strcmp(dir, "/") == 0 && path[1] != '\0';
  return strlen(dir) == n && strncmp(path, dir, n) == 0;
}

/* Returns dir + "/" + name (new). */
char *
wdtable_path_join(const char *dir, const char *name)
{
  if (strcmp(dir, "/") == 0)
    return xasprintf("/%s", name);
  return xasprintf("%s/%s", dir, name);
}

/* ---------------------------------------------------------- the wd table */

/* Sets up an empty table for the inotify instance fd (see wdtable.h). */
void
wdtable_init(struct wdtable *t, int fd)
{
  *t = (struct wdtable){.fd = fd};
  t->by_wd = strmap_new();
  t->by_path = strmap_new();
}

/* Frees every entry and the indexes, leaving the kernel watches alone. */
void
wdtable_fini(struct wdtable *t)
{
  while (t->n_dirs > 0)
    wdtable_drop(t, t->dirs[t->n_dirs - 1], 0);
  free(t->dirs);
  strmap_free(t->by_wd);
  strmap_free(t->by_path);
  *t = (struct wdtable){.fd = -1};
}

/* Returns the wdir watched as wd, or NULL. */
struct wdtable_dir *
wdtable_by_wd(const struct wdtable *t, int wd)
{
  char key[16];

  snprintf(key, sizeof key, "%d", wd);
  return strmap_get(t->by_wd, key);
}

/* Returns the wdir at path, or NULL. */
struct wdtable_dir *
wdtable_by_path(const struct wdtable *t, const char *path)
{
  return strmap_get(t->by_path, path);
}

/* Sets d's wd, keeping the index and the polled count right. */
void
wdtable_set_wd(struct wdtable *t, struct wdtable_dir *d, int wd)
{
  char key[16];

  if (d->wd >= 0) {
    snprintf(key, sizeof key, "%d", d->wd);
    if (strmap_get(t->by_wd, key) == d)
      strmap_del(t->by_wd, key);
  } else
    t->n_polled--;
  d->wd = wd;
  if (wd >= 0) {
    snprintf(key, sizeof key, "%d", wd);
    strmap_set(t->by_wd, key, d);
  } else
    t->n_polled++;
}

/* Returns a new wdir for path (not yet watched: wd -1, counted polled). */
struct wdtable_dir *
wdtable_add(struct wdtable *t, const char *path)
{
  struct wdtable_dir *d = xcalloc(1, sizeof *d);

  d->wd = -1;
  t->n_polled++;
  d->path = xstrdup(path);
  if (t->n_dirs == t->cap_dirs) {
    t->cap_dirs = t->cap_dirs == 0 ? 64 : t->cap_dirs * 2;
    t->dirs = xrealloc(t->dirs, t->cap_dirs * sizeof *t->dirs);
  }
  d->idx = t->n_dirs;
  t->dirs[t->n_dirs++] = d;
  strmap_set(t->by_path, path, d);
  return d;
}

/* Frees a snapshot. */
void
wdtable_entries_free(struct wdtable_entry *ents, size_t n)
{
  for (size_t i = 0; i < n; i++)
    free(ents[i].name);
  free(ents);
}

/* Removes d from the table and frees it; with rm, also removes its kernel
 * watch (not needed when the folder is gone: IN_IGNORED follows). */
void
wdtable_drop(struct wdtable *t, struct wdtable_dir *d, int rm)
{
  if (d->wd >= 0 && rm)
    inotify_rm_watch(t->fd, d->wd);
  wdtable_set_wd(t, d, -1);
  t->n_polled--;
  if (strmap_get(t->by_path, d->path) == d)
    strmap_del(t->by_path, d->path);
  t->dirs[d->idx] = t->dirs[--t->n_dirs];
  t->dirs[d->idx]->idx = d->idx;
  wdtable_entries_free(d->ents, d->n_ents);
  free(d->path);
  free(d);
}

/* Moves d to path; a different wdir already there is dropped. */
void
wdtable_set_path(struct wdtable *t, struct wdtable_dir *d, const char *path)
{
  struct wdtable_dir *other = wdtable_by_path(t, path);

  if (other != NULL && other != d)
    wdtable_drop(t, other, 1);
  if (strmap_get(t->by_path, d->path) == d)
    strmap_del(t->by_path, d->path);
  free(d->path);
  d->path = xstrdup(path);
  strmap_set(t->by_path, d->path, d);
}

/* Collects the wdirs at or below path (new array, *n entries). */
static struct wdtable_dir **
dirs_under(struct wdtable *t, const char *path, size_t *n)
{
  struct wdtable_dir **out = xmalloc((t->n_dirs + 1) * sizeof *out);

  *n = 0;
  for (size_t i = 0; i < t->n_dirs; i++)
    if (wdtable_path_under(t->dirs[i]->path, path))
      out[(*n)++] = t->dirs[i];
  return out;
}

/* Drops every wdir at or below path. */
void
wdtable_drop_subtree(struct wdtable *t, const char *path, int rm)
{
  size_t n;
  struct wdtable_dir **list = dirs_under(t, path, &n);

  for (size_t i = 0; i < n; i++)
    wdtable_drop(t, list[i], rm);
  free(list);
}

/* Renames the wdirs at or below from to the same places below to. */
void
wdtable_rewrite_prefix(struct wdtable *t, const char *from, const char *to)
{
  size_t n, flen = strlen(from);
  struct wdtable_dir **list = dirs_under(t, from, &n);

  /* Unindex them all first so that renames inside the set never collide
   * with each other. */
  for (size_t i = 0; i < n; i++)
    if (strmap_get(t->by_path, list[i]->path) == list[i])
      strmap_del(t->by_path, list[i]->path);
  for (size_t i = 0; i < n; i++) {
    char *p = xasprintf("%s%s", to, list[i]->path + flen);
    free(list[i]->path);
    list[i]->path = p;
  }
  for (size_t i = 0; i < n; i++) {
    struct wdtable_dir *other = wdtable_by_path(t, list[i]->path);
    if (other != NULL && other != list[i]) {
      /* A stale entry at the destination (the old folder there is gone). */
      int in_list = 0;
      for (size_t j = 0; j < n; j++)
        in_list |= list[j] == other;
      if (!in_list)
        wdtable_drop(t, other, 1);
    }
    strmap_set(t->by_path, list[i]->path, list[i]);
  }
  free(list);
}

/* -------------------------------------------------------------- snapshots */

/* Orders entries by name. */
static int
entry_cmp(const void *a, const void *b)
{
  return strcmp(((const struct wdtable_entry *)a)->name,
                ((const struct wdtable_entry *)b)->name);
}

/* Fills e from st (e->name untouched). */
static void
entry_from_stat(struct wdtable_entry *e, const struct stat *st)
{
  e->ino = st->st_ino;
  e->size = st->st_size;
  e->mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
  e->ctime_ns = (int64_t)st->st_ctim.tv_sec * 1000000000 + st->st_ctim.tv_nsec;
  e->mode = st->st_mode & S_IFMT;
}

/* Returns the index of name in d's snapshot, or -(insertion point) - 1. */
static long
entry_find(const struct wdtable_dir *d, const char *name)
{
  size_t lo = 0, hi = d->n_ents;

  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = strcmp(d->ents[mid].name, name);
    if (c == 0)
      return (long)mid;
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return -(long)lo - 1;
}

/* Removes name from d's snapshot. */
void
wdtable_snap_remove(struct wdtable_dir *d, const char *name)
{
  long i = entry_find(d, name);

  if (i < 0)
    return;
  free(d->ents[i].name);
  memmove(&d->ents[i], &d->ents[i + 1],
          (d->n_ents - (size_t)i - 1) * sizeof *d->ents);
  d->n_ents--;
}

/* Re-reads name's metadata into d's snapshot after an event, so that a
 * later rescan reports only what happened after it. */
void
wdtable_snap_update(struct wdtable_dir *d, const char *name)
{
  struct stat st;
  char *path = wdtable_path_join(d->path, name);
  int ok = lstat(path, &st) == 0;
  long i;

  free(path);
  if (!ok) {
    wdtable_snap_remove(d, name);
    return;
  }
  i = entry_find(d, name);
  if (i < 0) {
    size_t at = (size_t)(-i - 1);
    d->ents = xrealloc(d->ents, (d->n_ents + 1) * sizeof *d->ents);
    memmove(&d->ents[at + 1], &d->ents[at], (d->n_ents - at) * sizeof *d->ents);
    d->n_ents++;
    d->ents[at].name = xstrdup(name);
    i = (long)at;
  }
  entry_from_stat(&d->ents[i], &st);
}

/* Returns 1 when d's snapshot already holds name as the very inode that
 * is at path now. */
int
wdtable_snap_knows(const struct wdtable_dir *d, const char *name,
                   const char *path)
{
  long i = entry_find(d, name);
  struct stat st;

  if (i < 0 || lstat(path, &st) != 0)
    return 0;
  return d->ents[i].ino == st.st_ino &&
         d->ents[i].mode == (st.st_mode & S_IFMT);
}

/* Reads the entries of the open folder dfd into a new sorted array. */
struct wdtable_entry *
wdtable_read_entries(int dfd, size_t *n)
{
  DIR *dir = fdopendir(dfd);
  struct wdtable_entry *ents = NULL;
  size_t cap = 0;
  struct dirent *de;

  *n = 0;
  if (dir == NULL) {
    close(dfd);
    return NULL;
  }
  while ((de = readdir(dir)) != NULL) {
    struct stat st;
    if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
      continue;
    if (fstatat(dirfd(dir), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
      continue; /* deleted meanwhile */
    if (*n == cap) {
      cap = cap == 0 ? 32 : cap * 2;
      ents = xrealloc(ents, cap * sizeof *ents);
    }
    ents[*n].name = xstrdup(de->d_name);
    entry_from_stat(&ents[*n], &st);
    (*n)++;
  }
  closedir(dir);
  if (*n > 1)
    qsort(ents, *n, sizeof *ents, entry_cmp);
  return ents;
}

/* Reports the differences between two snapshots of path; see wdtable.h. */
void
wdtable_diff(const char *path, const struct wdtable_entry *old, size_t n_old,
             const struct wdtable_entry *cur, size_t n_cur, wdtable_diff_cb cb,
             void *ctx)
{
  size_t i = 0, j = 0;

  while (i < n_old || j < n_cur) {
    int c = i == n_old ? 1 : j == n_cur ? -1 : strcmp(old[i].name, cur[j].name);
    char *p = wdtable_path_join(path, c <= 0 ? old[i].name : cur[j].name);
    if (c < 0) {
      cb(ctx, INOTIFY_DELETED, p, old[i].mode == S_IFDIR);
      i++;
    } else if (c > 0) {
      cb(ctx, INOTIFY_CREATED, p, cur[j].mode == S_IFDIR);
      j++;
    } else {
      if (old[i].mode != cur[j].mode) {
        cb(ctx, INOTIFY_DELETED, p, old[i].mode == S_IFDIR);
        cb(ctx, INOTIFY_CREATED, p, cur[j].mode == S_IFDIR);
      } else if (cur[j].mode != S_IFDIR &&
                 (old[i].ino != cur[j].ino || old[i].size != cur[j].size ||
                  old[i].mtime_ns != cur[j].mtime_ns ||
                  old[i].ctime_ns != cur[j].ctime_ns))
        cb(ctx, INOTIFY_MODIFIED, p, 0);
      i++;
      j++;
    }
    free(p);
  }
}
