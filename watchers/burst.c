/* burst: the pure rules of a watch's bursts (see burst.h).
 *
 * Every function but burst_paths_file_write() is a function of its
 * arguments: the times, flags and lists live in watch.c's struct watch (and
 * reload.c's reloader), so the rules can be tested one by one. */
#include "watchers/burst.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "src/xalloc.h"
#include "watchers/glob.h"

/* Returns when the burst should fire; see burst.h. */
int64_t
burst_debounce_wait(int64_t first_ms, int64_t last_ms, int64_t now_ms,
                    int64_t debounce_ms, int64_t max_wait_ms)
{
  int64_t deadline = last_ms + (debounce_ms > 0 ? debounce_ms : 0);

  if (max_wait_ms > 0 && first_ms + max_wait_ms < deadline)
    deadline = first_ms + max_wait_ms;
  return now_ms >= deadline ? 0 : deadline - now_ms;
}

/* Returns 1 when the restarts trip the loop guard; see burst.h. */
int
burst_loop_tripped(const int64_t *times, size_t n, int64_t now_ms,
                   int max_restarts, int64_t period_ms)
{
  size_t recent = 0;

  if (max_restarts <= 0)
    return 0;
  for (size_t i = 0; i < n; i++)
    if (times[i] > now_ms - period_ms && times[i] <= now_ms)
      recent++;
  return recent > (size_t)max_restarts;
}

/* Returns 1 when the burst is linked to the runner; see burst.h. */
int
burst_linked(int64_t first_ms, int64_t now_ms, const int64_t *starts,
             size_t n_starts, const int64_t *exits, size_t n_exits,
             int64_t follow_ms)
{
  for (size_t i = 0; i < n_starts; i++)
    if (starts[i] <= first_ms && first_ms - starts[i] <= follow_ms)
      return 1;
  for (size_t i = 0; i < n_exits; i++)
    if (exits[i] >= first_ms && exits[i] <= now_ms)
      return 1;
  return 0;
}

/* Folds one change into a path's flags; see burst.h. */
unsigned
burst_path_fold(unsigned flags, enum inotify_kind kind, int moved_away)
{
  int appeared =
      kind == INOTIFY_CREATED || (kind == INOTIFY_MOVED && !moved_away);
  int removed =
      kind == INOTIFY_DELETED || (kind == INOTIFY_MOVED && moved_away);

  if (!(flags & BURST_PATH_SEEN))
    flags = BURST_PATH_SEEN | (appeared ? BURST_PATH_CREATED : 0u);
  if (removed)
    flags |= BURST_PATH_GONE;
  else
    flags &= ~BURST_PATH_GONE;
  return flags;
}

/* Returns 1 for a path created and removed within the burst. */
int
burst_path_transient(unsigned flags)
{
  return (flags & BURST_PATH_CREATED) && (flags & BURST_PATH_GONE);
}

/* Joins paths with newlines; see burst.h. */
char *
burst_paths_join(const char *const *paths, size_t n)
{
  size_t len = 0, at = 0;
  char *out;

  for (size_t i = 0; i < n; i++)
    len += strlen(paths[i]) + 1;
  out = xmalloc(len + 1);
  for (size_t i = 0; i < n; i++) {
    size_t l = strlen(paths[i]);
    if (i > 0)
      out[at++] = '\n';
    memcpy(out + at, paths[i], l);
    at += l;
  }
  out[at] = '\0';
  return out;
}

/* Returns the number of lines in s (0 for ""). */
static size_t
count_lines(const char *s)
{
  size_t n = *s != '\0';

  for (; *s != '\0'; s++)
    if (*s == '\n' && s[1] != '\0')
      n++;
  return n;
}

/* Returns TEND_CHANGED_PATHS for joined, capped; see burst.h. */
char *
burst_paths_env(const char *joined, size_t cap)
{
  size_t len = strlen(joined), lines = count_lines(joined), shown = 0;
  size_t cut = 0, room;
  int reserve;
  char *out;

  if (len < cap)
    return xstrdup(joined);
  /* Room for the marker with the largest count it can show. */
  reserve =
      snprintf(NULL, 0, "\n...(%zu more; see TEND_CHANGED_PATHS_FILE)", lines);
  room = cap - 1 > (size_t)reserve ? cap - 1 - (size_t)reserve : 0;
  for (const char *p = joined; *p != '\0';) {
    const char *nl = strchr(p, '\n');
    size_t end = nl != NULL ? (size_t)(nl - joined) : len;
    if (end > room)
      break;
    cut = end;
    shown++;
    if (nl == NULL)
      break;
    p = nl + 1;
  }
  out = xmalloc(cut + (size_t)reserve + 1);
  memcpy(out, joined, cut);
  snprintf(out + cut, (size_t)reserve + 1,
           "%s...(%zu more; see TEND_CHANGED_PATHS_FILE)",
           shown > 0 ? "\n" : "", lines - shown);
  return out;
}

/* Returns 1 when rel or one of its parent folders matches a glob. */
int
burst_path_matches(const char *rel, char *const *globs, size_t n)
{
  size_t len = strlen(rel);
  char *buf;
  int hit = 0;

  if (n == 0)
    return 0;
  buf = xstrdup(rel);
  for (size_t i = 0; i <= len && !hit; i++) {
    if (rel[i] != '/' && rel[i] != '\0')
      continue;
    buf[i] = '\0';
    for (size_t g = 0; g < n && !hit; g++)
      hit = glob_match(globs[g], buf);
    buf[i] = rel[i];
  }
  free(buf);
  return hit;
}

/* Returns 1 when rel passes the include and exclude globs. */
int
burst_path_selected(const char *rel, char *const *include, size_t n_include,
                    char *const *exclude, size_t n_exclude)
{
  if (burst_path_matches(rel, exclude, n_exclude))
    return 0;
  return n_include == 0 || burst_path_matches(rel, include, n_include);
}

/* ------------------------------------------------------ changed-path file */

/* Writes all of buf to fd; returns 0 or -errno. */
static int
write_all(int fd, const char *buf, size_t len)
{
  while (len > 0) {
    ssize_t w = write(fd, buf, len);
    if (w < 0 && errno == EINTR)
      continue;
    if (w < 0)
      return -errno;
    buf += w;
    len -= (size_t)w;
  }
  return 0;
}

/* Writes the changed paths file atomically; see burst.h. */
int
burst_paths_file_write(const char *file, const char *joined, char **cause)
{
  const char *slash = strrchr(file, '/');
  char *dir = slash != NULL && slash != file
                  ? xstrndup(file, (size_t)(slash - file))
                  : xstrdup(slash != NULL ? "/" : ".");
  char *tmp = xasprintf("%s.tmp.XXXXXX", file);
  int fd, rc = 0;

  fd = mkostemp(tmp, O_CLOEXEC);
  if (fd < 0 && errno == ENOENT && mkdir(dir, 0700) == 0) {
    free(tmp); /* a failed mkostemp may have filled in the X's */
    tmp = xasprintf("%s.tmp.XXXXXX", file);
    fd = mkostemp(tmp, O_CLOEXEC);
  }
  if (fd < 0) {
    rc = -errno;
    goto fail;
  }
  if ((rc = write_all(fd, joined, strlen(joined))) == 0 &&
      (rc = write_all(fd, "\n", 1)) == 0 && fchmod(fd, 0600) != 0)
    rc = -errno;
  if (close(fd) != 0 && rc == 0)
    rc = -errno;
  if (rc == 0 && rename(tmp, file) != 0)
    rc = -errno;
  if (rc != 0)
    unlink(tmp);
fail:
  if (rc != 0 && cause != NULL)
    *cause = xasprintf("%s: %s", file, strerror(-rc));
  free(tmp);
  free(dir);
  return rc;
}
