/* snapshot: atomic replacement of small JSON files (LIBRARY-NOTES.md 5).
 * A reader sees either the old file or the new one, never a torn one, even
 * after power loss (the rename is made durable by fsync of the folder).
 * Every step is relative to the folder's descriptor (state/statedir.h):
 * the temp file is created O_EXCL | O_NOFOLLOW, the rename replaces a
 * symlink instead of following it, and loading never follows one. */
#include "state/snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "src/xalloc.h"
#include "state/statedir.h"

/* Creates a temp file next to base in dirfd (O_EXCL | O_NOFOLLOW, so
 * nothing planted there is written through); its name goes to *tmp
 * (new). Returns the descriptor or -errno. */
static int
open_temp(int dirfd, const char *base, int mode, char **tmp)
{
  static unsigned long counter;
  unsigned long n = __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED);
  struct timespec ts;

  for (int tries = 0; tries < 100; tries++) {
    int fd;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    *tmp = xasprintf("%s.tmp.%d.%lu.%lx", base, (int)getpid(), n,
                     (unsigned long)ts.tv_nsec ^ (unsigned long)tries << 20);
    fd = openat(dirfd, *tmp,
                O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                (mode_t)mode);
    if (fd >= 0 || errno != EEXIST)
      return fd >= 0 ? fd : -errno;
    free(*tmp);
    *tmp = NULL;
  }
  return -EEXIST;
}

int
snapshot_save_text(const char *text, size_t len, const char *path, int mode)
{
  const char *base;
  char *tmp = NULL;
  int dirfd = statedir_open_parent(path, &base);
  int fd = -1, rc = 0;
  size_t done = 0;

  if (dirfd < 0)
    return dirfd;
  fd = open_temp(dirfd, base, mode & 0777, &tmp);
  if (fd < 0) {
    rc = fd;
    goto fail;
  }
  fchmod(fd, (mode_t)mode); /* whatever the umask */
  while (done < len) {
    ssize_t n = write(fd, text + done, len - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      rc = n < 0 ? -errno : -EIO;
      break;
    }
    done += (size_t)n;
  }
  if (rc == 0 && fsync(fd) != 0)
    rc = -errno;
  if (close(fd) != 0 && rc == 0)
    rc = -errno;
  /* renameat replaces whatever is at base, a symlink included, without
   * following it. */
  if (rc == 0 && renameat(dirfd, tmp, dirfd, base) != 0)
    rc = -errno;
  if (rc != 0) {
    unlinkat(dirfd, tmp, 0);
    goto fail;
  }
  fsync(dirfd); /* persist the rename */
fail:
  free(tmp);
  close(dirfd);
  return rc;
}

int
snapshot_save_mode(const json_t *doc, const char *path, int mode)
{
  char *text = json_dumps(doc, JSON_INDENT(2));
  int rc;

  if (!text)
    return -ENOMEM;
  rc = snapshot_save_text(text, strlen(text), path, mode);
  free(text);
  return rc;
}

int
snapshot_save(const json_t *doc, const char *path)
{
  return snapshot_save_mode(doc, path, 0600);
}

json_t *
snapshot_load(const char *path, int *err)
{
  const char *base;
  int dirfd = statedir_open_parent(path, &base), fd;
  FILE *f;
  json_error_t je;
  json_t *doc;

  if (dirfd < 0) {
    *err = dirfd;
    return NULL;
  }
  fd = openat(dirfd, base, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  close(dirfd);
  if (fd < 0 || !(f = fdopen(fd, "r"))) {
    *err = -errno;
    if (fd >= 0)
      close(fd);
    return NULL;
  }
  doc = json_loadf(f, 0, &je);
  fclose(f);
  if (!doc)
    *err = -EINVAL;
  return doc;
}
