/* statedir: the state folder, checked once and then reached through its
 * descriptor (see statedir.h).
 *
 * Design. The daemon registers the folder at start-up (statedir_open);
 * from then on the registry is read-only, so the threadpool's state.json
 * writer may use it too. A folder below the registered one is opened one
 * component at a time with openat(O_NOFOLLOW | O_DIRECTORY): a symlink
 * planted there fails with ELOOP instead of leading elsewhere. The state
 * folder itself may be a symlink the user chose (its target is what the
 * ownership check looks at). */
#include "state/statedir.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "src/xalloc.h"

static struct {
  char *path; /* as configured (absolute), no trailing '/' */
  int fd;
} reg = {NULL, -1};

char *
statedir_problem(const char *path, const struct stat *sb, uid_t euid)
{
  if (!S_ISDIR(sb->st_mode))
    return xasprintf("state_dir %s is not a directory", path);
  if (sb->st_uid != euid)
    return xasprintf("state_dir %s is owned by uid %u, not by tend's user "
                     "(uid %u): another user could plant files there; use a "
                     "folder of your own",
                     path, (unsigned)sb->st_uid, (unsigned)euid);
  if (sb->st_mode & (S_IWGRP | S_IWOTH))
    return xasprintf("state_dir %s is writable by group or others (mode "
                     "%04o): another user could plant files there; run "
                     "chmod go-w %s",
                     path, (unsigned)(sb->st_mode & 07777), path);
  return NULL;
}

int
statedir_mkdir_p(const char *path)
{
  char *p = xstrdup(path);
  int rc = 0;

  for (char *s = p + 1;; s++) {
    if (*s != '/' && *s != '\0')
      continue;
    char c = *s;
    *s = '\0';
    if (mkdir(p, 0700) != 0 && errno != EEXIST) {
      rc = -errno;
      break;
    }
    *s = c;
    if (!c)
      break;
  }
  free(p);
  return rc;
}

int
statedir_open(const char *path, char **cause)
{
  struct stat sb;
  char *why;
  int rc = statedir_mkdir_p(path), fd;

  if (rc == 0 && (fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
    rc = -errno;
  if (rc != 0) {
    *cause = xasprintf("state_dir %s: %s", path, strerror(-rc));
    return rc;
  }
  if (fstat(fd, &sb) != 0) {
    rc = -errno;
    *cause = xasprintf("state_dir %s: %s", path, strerror(-rc));
    close(fd);
    return rc;
  }
  if ((why = statedir_problem(path, &sb, geteuid())) != NULL) {
    *cause = why;
    close(fd);
    return -EPERM;
  }
  statedir_close();
  reg.path = xstrdup(path);
  for (size_t n = strlen(reg.path); n > 1 && reg.path[n - 1] == '/'; n--)
    reg.path[n - 1] = '\0';
  reg.fd = fd;
  return 0;
}

int
statedir_fd(void)
{
  return reg.fd;
}

void
statedir_close(void)
{
  if (reg.fd >= 0)
    close(reg.fd);
  reg.fd = -1;
  free(reg.path);
  reg.path = NULL;
}

/* The part of dir below the registered folder ("" for the folder
 * itself), or NULL when dir is not inside it. */
static const char *
below_registered(const char *dir)
{
  size_t n;

  if (!reg.path)
    return NULL;
  n = strlen(reg.path);
  if (strncmp(dir, reg.path, n) != 0)
    return NULL;
  if (dir[n] == '\0')
    return dir + n;
  if (dir[n] == '/')
    return dir + n + 1;
  return NULL;
}

/* Opens dir (see statedir_open_dir); creates missing folders when asked. */
static int
open_dir(const char *dir, int create)
{
  const char *rel = below_registered(dir);
  char *copy, *seg, *save = NULL;
  int fd;

  if (!rel) {
    int rc = create ? statedir_mkdir_p(dir) : 0;
    if (rc != 0)
      return rc;
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    return fd < 0 ? -errno : fd;
  }
  fd = fcntl(reg.fd, F_DUPFD_CLOEXEC, 0);
  if (fd < 0)
    return -errno;
  copy = xstrdup(rel);
  for (seg = strtok_r(copy, "/", &save); seg;
       seg = strtok_r(NULL, "/", &save)) {
    int next;
    if (strcmp(seg, ".") == 0)
      continue;
    if (create && mkdirat(fd, seg, 0700) != 0 && errno != EEXIST) {
      int err = -errno;
      close(fd);
      free(copy);
      return err;
    }
    next = openat(fd, seg, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (next < 0) {
      int err = errno == ENOTDIR ? -ELOOP : -errno;
      /* O_NOFOLLOW | O_DIRECTORY on a symlink gives ENOTDIR or ELOOP. */
      struct stat sb;
      if (err == -ELOOP && fstatat(fd, seg, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
          !S_ISLNK(sb.st_mode))
        err = -ENOTDIR;
      close(fd);
      free(copy);
      return err;
    }
    close(fd);
    fd = next;
  }
  free(copy);
  return fd;
}

int
statedir_open_dir(const char *dir)
{
  return open_dir(dir, 1);
}

int
statedir_open_parent(const char *path, const char **base)
{
  const char *slash = strrchr(path, '/');
  char *dir;
  int fd;

  if (!slash) {
    *base = path;
    fd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    return fd < 0 ? -errno : fd;
  }
  *base = slash + 1;
  dir = slash == path ? xstrdup("/") : xstrndup(path, (size_t)(slash - path));
  fd = open_dir(dir, 0);
  free(dir);
  return fd;
}
