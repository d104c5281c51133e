/* procnet: which process holds a listening TCP port, read from /proc.
 *
 * A tcp probe that only connects is fooled by a port another process
 * holds. The kernel lists listening sockets (state 0A) with their inode in
 * /proc/net/tcp and /proc/net/tcp6, and each process's open sockets appear
 * as /proc/PID/fd/N -> "socket:[INODE]"; a port is the runner's when one
 * of its listening sockets is open in a process of the runner's process
 * group (/proc/PID/stat's pgrp).
 *
 * The parsers are pure (unit-tested on captured text); procnet_check()
 * does the reads. Everything is synchronous but reads only procfs, which
 * lives in memory; it runs only after a connect to the port succeeded. */
#ifndef TEND_PROCNET_H
#define TEND_PROCNET_H

#include <stddef.h>

#define PROCNET_LISTEN 0x0A
#define PROCNET_MAX_INODES 16

/* One socket line of /proc/net/tcp or /proc/net/tcp6. */
struct procnet_sock {
  int port;            /* local port */
  int state;           /* PROCNET_LISTEN for a listening socket */
  unsigned long inode; /* 0 for sockets being torn down */
};

/* Parses one line of /proc/net/tcp{,6}; returns 0, or -EINVAL for the
 * header and anything malformed. */
int procnet_parse_line(const char *line, struct procnet_sock *out);
/* Collects the inodes of the listening sockets on port from the whole text
 * of /proc/net/tcp{,6}; appends to inodes (up to max), returns the new
 * count. */
size_t procnet_listen_inodes(const char *text, int port, unsigned long *inodes,
                             size_t n, size_t max);
/* Parses /proc/PID/stat: the process group and the command name (comm,
 * which may hold spaces and parentheses). Returns 0 or -EINVAL. */
int procnet_parse_stat(const char *text, int *pgrp, char *comm,
                       size_t comm_size);
/* Returns the inode of an fd link "socket:[INODE]", or 0 for any other. */
unsigned long procnet_socket_inode(const char *link);

/* Remembers the last holder found, so that a probe retrying every 50 ms
 * scans every process's fds only when the listening socket changed. */
struct procnet_cache {
  unsigned long inode;
  char holder[96];
};
#define PROCNET_CACHE_ZERO                                                     \
  {                                                                            \
    0,                                                                         \
    {                                                                          \
      0                                                                        \
    }                                                                          \
  }

/* Tells whether the listening socket on port belongs to a process of the
 * process group pgid: 1 yes; 0 no, with why filled ("port 6379 is held by
 * another process (pid 42, redis-server)", or "nothing listens on ...").
 * pgid <= 0 means "any process" (no check). */
int procnet_check(int port, int pgid, struct procnet_cache *cache, char *why,
                  size_t why_size);

#endif
