/* portowner: who listens on a local TCP port, for the "address already in
 * use" message: "(tend daemon pid 812 for /home/a/web/tend.json)" when the
 * holder is another tend daemon, "(pid 812, nginx)" for anything else.
 *
 * The lookup reads /proc only (no external tool): the listening socket's
 * inode from /proc/net/tcp and tcp6, the process holding that inode among
 * /proc/<pid>/fd, and, when that process also holds a file named
 * daemon.lock, the daemon.json beside it (tend writes its own pid and
 * config path there). Processes of other users cannot be inspected without
 * privileges: then there is simply no description. */
#ifndef TEND_PORTOWNER_H
#define TEND_PORTOWNER_H

#include "runners/procnet.h"

/* Socket state "listen" in /proc/net/tcp. */
#define PORTOWNER_TCP_LISTEN PROCNET_LISTEN

/* Parses one line of /proc/net/tcp or /proc/net/tcp6 into the local port,
 * the socket state and its inode, with procnet_parse_line. Returns 0, or
 * -EINVAL for the header line and anything malformed. */
int portowner_parse_line(const char *line, unsigned *port, unsigned *state,
                         unsigned long *inode);

/* Words the holder: " (tend daemon pid N for CONFIG)" when config is not
 * NULL, " (tend daemon pid N)" when comm is "tend", else " (pid N, COMM)"
 * (" (pid N)" without a comm). Returns a new string. */
char *portowner_format(long pid, const char *comm, const char *config);

/* Looks up the process listening on TCP port (IPv4 or IPv6) and returns
 * its description as portowner_format words it (new), or NULL when it
 * cannot be found. Reads /proc: cheap, but meant for error paths. */
char *portowner_describe(int port);

#endif
