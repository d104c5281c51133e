/* portowner: the holder of a listening TCP port, found through /proc.
 *
 * The scan is bounded by what /proc holds (every fd of every process we
 * may inspect) and runs only when a bind failed, so it favours plainness
 * over speed. Nothing here can fail loudly: an unreadable file, a process
 * that exits mid-scan, or a daemon.json that is not ours all end in "no
 * description", and the caller prints the plain message. */
#include "ui/portowner.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runners/procnet.h"
#include "src/xalloc.h"

/* The line format is procnet's (runners/procnet.c), shared with the
 * runners' port probe. */
int
portowner_parse_line(const char *line, unsigned *port, unsigned *state,
                     unsigned long *inode)
{
  struct procnet_sock sock;

  if (procnet_parse_line(line, &sock) < 0)
    return -EINVAL;
  *port = (unsigned)sock.port;
  *state = (unsigned)sock.state;
  *inode = sock.inode;
  return 0;
}

char *
portowner_format(long pid, const char *comm, const char *config)
{
  if (config)
    return xasprintf(" (tend daemon pid %ld for %s)", pid, config);
  if (comm && strcmp(comm, "tend") == 0)
    return xasprintf(" (tend daemon pid %ld)", pid);
  if (comm && *comm)
    return xasprintf(" (pid %ld, %s)", pid, comm);
  return xasprintf(" (pid %ld)", pid);
}

/* Finds the inode of a socket listening on port in one /proc/net file;
 * returns it, or 0. */
static unsigned long
listen_inode(const char *table, int port)
{
  FILE *f = fopen(table, "re");
  char line[512];
  unsigned long found = 0;

  if (!f)
    return 0;
  while (!found && fgets(line, sizeof line, f)) {
    struct procnet_sock sock;
    if (procnet_parse_line(line, &sock) == 0 && sock.port == port &&
        sock.state == PROCNET_LISTEN && sock.inode != 0)
      found = sock.inode;
  }
  fclose(f);
  return found;
}

/* Returns 1 when the name is all digits (a /proc pid entry). */
static int
all_digits(const char *s)
{
  if (!*s)
    return 0;
  for (; *s; s++)
    if (!isdigit((unsigned char)*s))
      return 0;
  return 1;
}

/* Walks the fds of process pid: returns 1 when one is the socket named by
 * want ("socket:[N]"); when lock is not NULL, copies into it the target
 * of an fd whose path ends in "/daemon.lock". */
static int
scan_fds(const char *pid, const char *want, char *lock, size_t lock_cap)
{
  char path[64], target[PATH_MAX];
  DIR *dir;
  struct dirent *e;
  int hit = 0;

  snprintf(path, sizeof path, "/proc/%s/fd", pid);
  dir = opendir(path);
  if (!dir)
    return 0;
  while ((e = readdir(dir)) != NULL) {
    ssize_t n;
    if (!all_digits(e->d_name))
      continue;
    n = readlinkat(dirfd(dir), e->d_name, target, sizeof target - 1);
    if (n <= 0)
      continue;
    target[n] = '\0';
    if (want && strcmp(target, want) == 0)
      hit = 1;
    if (lock && n > 12 && strcmp(target + n - 12, "/daemon.lock") == 0 &&
        (size_t)n < lock_cap)
      memcpy(lock, target, (size_t)n + 1);
  }
  closedir(dir);
  return hit;
}

/* Reads /proc/<pid>/comm into buf ("" when unreadable). */
static void
read_comm(const char *pid, char *buf, size_t cap)
{
  char path[64];
  FILE *f;

  buf[0] = '\0';
  snprintf(path, sizeof path, "/proc/%s/comm", pid);
  f = fopen(path, "re");
  if (!f)
    return;
  if (fgets(buf, (int)cap, f))
    buf[strcspn(buf, "\n")] = '\0';
  fclose(f);
}

/* Reads the config path from the daemon.json beside lock when it names
 * pid (new), else NULL. */
static char *
daemon_config(const char *lock, long pid)
{
  char *path =
      xasprintf("%.*s/daemon.json", (int)(strrchr(lock, '/') - lock), lock);
  json_t *doc = json_load_file(path, 0, NULL);
  const char *config;
  char *out = NULL;

  free(path);
  if (!doc)
    return NULL;
  config = json_string_value(json_object_get(doc, "config"));
  if (config && json_integer_value(json_object_get(doc, "pid")) == pid)
    out = xstrdup(config);
  json_decref(doc);
  return out;
}

char *
portowner_describe(int port)
{
  unsigned long ino = listen_inode("/proc/net/tcp", port);
  char want[48], self[24], lock[PATH_MAX], comm[64];
  char *config, *out;
  DIR *proc;
  struct dirent *e;
  long pid = 0;

  if (!ino)
    ino = listen_inode("/proc/net/tcp6", port);
  if (!ino)
    return NULL;
  snprintf(want, sizeof want, "socket:[%lu]", ino);
  snprintf(self, sizeof self, "%ld", (long)getpid());
  proc = opendir("/proc");
  if (!proc)
    return NULL;
  while (!pid && (e = readdir(proc)) != NULL)
    if (all_digits(e->d_name) && strcmp(e->d_name, self) != 0 &&
        scan_fds(e->d_name, want, NULL, 0))
      pid = strtol(e->d_name, NULL, 10);
  closedir(proc);
  if (!pid)
    return NULL;
  snprintf(self, sizeof self, "%ld", pid);
  lock[0] = '\0';
  scan_fds(self, NULL, lock, sizeof lock);
  read_comm(self, comm, sizeof comm);
  config = lock[0] ? daemon_config(lock, pid) : NULL;
  out = portowner_format(pid, comm, config);
  free(config);
  return out;
}
