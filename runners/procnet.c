/* procnet: which process holds a listening TCP port (see procnet.h).
 *
 * The first half is pure text parsing; the second half reads /proc. The
 * check walks /proc once for the group's members (cheap: a stat read per
 * process, fds only of the members); naming the holder needs a walk over
 * every process's fds, so its answer is cached per listening inode. */
#include "runners/procnet.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "src/buf.h"

/* ------------------------------------------------------------------ */
/* Pure parsers                                                          */

int
procnet_parse_line(const char *line, struct procnet_sock *out)
{
  char local[72];
  unsigned port, state;
  unsigned long inode;
  int n;

  /* "  0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000
   *  00000000  1000  0 12345 ..." (tcp6 has 32 hex digits of address). */
  n = sscanf(line,
             " %*u: %71[0-9A-Fa-f]:%x %*[0-9A-Fa-f]:%*x %x %*x:%*x %*x:%*x "
             "%*x %*u %*u %lu",
             local, &port, &state, &inode);
  if (n != 4 || port > 65535 || (strlen(local) != 8 && strlen(local) != 32))
    return -EINVAL;
  out->port = (int)port;
  out->state = (int)state;
  out->inode = inode;
  return 0;
}

size_t
procnet_listen_inodes(const char *text, int port, unsigned long *inodes,
                      size_t n, size_t max)
{
  const char *p = text;

  while (p && *p) {
    const char *eol = strchr(p, '\n');
    size_t len = eol ? (size_t)(eol - p) : strlen(p);
    char line[512];
    struct procnet_sock s;

    if (len < sizeof line) {
      memcpy(line, p, len);
      line[len] = '\0';
      if (procnet_parse_line(line, &s) == 0 && s.port == port &&
          s.state == PROCNET_LISTEN && s.inode != 0 && n < max)
        inodes[n++] = s.inode;
    }
    p = eol ? eol + 1 : NULL;
  }
  return n;
}

int
procnet_parse_stat(const char *text, int *pgrp, char *comm, size_t comm_size)
{
  const char *open = strchr(text, '(');
  const char *close = strrchr(text, ')'); /* comm may hold ')' itself */
  char state;
  int ppid, group;
  size_t len;

  if (!open || !close || close < open)
    return -EINVAL;
  if (sscanf(close + 1, " %c %d %d", &state, &ppid, &group) != 3)
    return -EINVAL;
  *pgrp = group;
  if (comm && comm_size > 0) {
    len = (size_t)(close - open - 1);
    if (len >= comm_size)
      len = comm_size - 1;
    memcpy(comm, open + 1, len);
    comm[len] = '\0';
  }
  return 0;
}

unsigned long
procnet_socket_inode(const char *link)
{
  char *end;
  unsigned long inode;

  if (strncmp(link, "socket:[", 8) != 0 || !isdigit((unsigned char)link[8]))
    return 0;
  errno = 0;
  inode = strtoul(link + 8, &end, 10);
  if (errno || end[0] != ']' || end[1] != '\0')
    return 0;
  return inode;
}

/* ------------------------------------------------------------------ */
/* Reads of /proc                                                        */

/* Reads a /proc file whole (less than 64 MiB; a read error ends it);
 * returns a new string or NULL when it cannot be opened. */
static char *
read_proc(const char *path)
{
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  struct buf b = BUF_ZERO;

  if (fd < 0)
    return NULL;
  (void)buf_read_fd(&b, fd, (64u << 20) - 1);
  close(fd);
  return buf_steal(&b, NULL);
}

/* Tells whether pid has one of inodes open. */
static int
pid_holds(int pid, const unsigned long *inodes, size_t n)
{
  char path[64], link[64];
  DIR *dir;
  struct dirent *e;
  int found = 0;

  snprintf(path, sizeof path, "/proc/%d/fd", pid);
  dir = opendir(path);
  if (!dir)
    return 0;
  while (!found && (e = readdir(dir)) != NULL) {
    char fdpath[64 + sizeof e->d_name];
    ssize_t len;
    unsigned long inode;
    if (!isdigit((unsigned char)e->d_name[0]))
      continue;
    snprintf(fdpath, sizeof fdpath, "%s/%s", path, e->d_name);
    len = readlink(fdpath, link, sizeof link - 1);
    if (len <= 0)
      continue;
    link[len] = '\0';
    inode = procnet_socket_inode(link);
    for (size_t i = 0; inode && i < n; i++)
      if (inode == inodes[i])
        found = 1;
  }
  closedir(dir);
  return found;
}

/* Walks /proc: with pgid > 0, looks only at that group's members; with
 * pgid 0, at every process. Returns the pid holding one of inodes (comm
 * filled), or 0. */
static int
find_holder(int pgid, const unsigned long *inodes, size_t n, char *comm,
            size_t comm_size)
{
  DIR *proc = opendir("/proc");
  struct dirent *e;
  int holder = 0;

  if (!proc)
    return 0;
  while (!holder && (e = readdir(proc)) != NULL) {
    char path[64], name[64], *stat;
    int pid, pgrp;
    if (!isdigit((unsigned char)e->d_name[0]))
      continue;
    pid = atoi(e->d_name);
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    stat = read_proc(path);
    if (!stat)
      continue;
    if (procnet_parse_stat(stat, &pgrp, name, sizeof name) == 0 &&
        (pgid <= 0 || pgrp == pgid) && pid_holds(pid, inodes, n)) {
      holder = pid;
      snprintf(comm, comm_size, "%s", name);
    }
    free(stat);
  }
  closedir(proc);
  return holder;
}

int
procnet_check(int port, int pgid, struct procnet_cache *cache, char *why,
              size_t why_size)
{
  static const char *const tables[] = {"/proc/net/tcp", "/proc/net/tcp6"};
  unsigned long inodes[PROCNET_MAX_INODES];
  size_t n = 0;
  char comm[64];
  int pid;

  if (pgid <= 0)
    return 1;
  for (size_t i = 0; i < 2; i++) {
    char *text = read_proc(tables[i]);
    if (text)
      n = procnet_listen_inodes(text, port, inodes, n, PROCNET_MAX_INODES);
    free(text);
  }
  if (n == 0) {
    snprintf(why, why_size,
             "port %d accepts connections but no listening "
             "socket is visible in /proc/net/tcp",
             port);
    return 0;
  }
  if (find_holder(pgid, inodes, n, comm, sizeof comm))
    return 1;
  if (cache->inode != inodes[0]) {
    cache->inode = inodes[0];
    pid = find_holder(0, inodes, n, comm, sizeof comm);
    if (pid)
      snprintf(cache->holder, sizeof cache->holder, " (pid %d, %s)", pid, comm);
    else
      cache->holder[0] = '\0';
  }
  snprintf(why, why_size, "port %d is held by another process%s", port,
           cache->holder);
  return 0;
}
