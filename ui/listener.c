/* listener: the API's listening socket (issue 4): the configured address
 * resolved and checked (loopback unless allowed), bound by us so that
 * "address in use" is our own clear error naming the holder
 * (ui/portowner.c), the first free port from 7070 up when "listen" is not
 * set, addresses worded for messages and URLs, the connection limit sized
 * to the fd limit, and the TLS PEM files read. ui/http.c hands the socket
 * to libmicrohttpd. */
#include "ui/listener.h"

#include "src/config.h"
#include "src/xalloc.h"
#include "ui/http.h"
#include "ui/portowner.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

/* Returns 1 for 127.0.0.0/8, ::1 and ::ffff:127.0.0.0/104. */
int
listener_is_loopback(const struct sockaddr *sa)
{
  if (sa->sa_family == AF_INET) {
    const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
    return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
  }
  if (sa->sa_family == AF_INET6) {
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
    if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr))
      return 1;
    return IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) &&
           in6->sin6_addr.s6_addr[12] == 127;
  }
  return 0;
}

/* Formats an address as "host:port" ("[::1]:7070" for IPv6); a wildcard
 * address becomes the loopback one when for_url. */
void
listener_format_addr(const struct sockaddr *sa, int port, int for_url,
                     char *out, size_t cap)
{
  char host[INET6_ADDRSTRLEN] = "?";

  if (sa->sa_family == AF_INET) {
    struct in_addr a = ((const struct sockaddr_in *)sa)->sin_addr;
    if (for_url && a.s_addr == htonl(INADDR_ANY))
      a.s_addr = htonl(INADDR_LOOPBACK);
    inet_ntop(AF_INET, &a, host, sizeof host);
    snprintf(out, cap, "%s:%d", host, port);
  } else {
    struct in6_addr a = ((const struct sockaddr_in6 *)sa)->sin6_addr;
    if (for_url && IN6_IS_ADDR_UNSPECIFIED(&a))
      a = in6addr_loopback;
    inet_ntop(AF_INET6, &a, host, sizeof host);
    snprintf(out, cap, "[%s]:%d", host, port);
  }
}

/* Resolves the configured host (IPv4 preferred) into *ss (port 0) and
 * checks that it may be served; errors name the config key. */
static int
resolve_listen(const struct config_http *h, struct sockaddr_storage *ss,
               socklen_t *sl, char **cause)
{
  struct addrinfo hints, *res = NULL, *ai, *pick = NULL;
  int r;

  memset(&hints, 0, sizeof hints);
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  r = getaddrinfo(h->host, "0", &hints, &res);
  if (r != 0) {
    *cause =
        xasprintf("http.listen: %s:%d: %s", h->host, h->port, gai_strerror(r));
    return -EINVAL;
  }
  for (ai = res; ai && !pick; ai = ai->ai_next)
    if (ai->ai_family == AF_INET)
      pick = ai;
  for (ai = res; ai && !pick; ai = ai->ai_next)
    if (ai->ai_family == AF_INET6)
      pick = ai;
  if (!pick) {
    freeaddrinfo(res);
    *cause = xasprintf("http.listen: %s:%d: no IPv4 or IPv6 address", h->host,
                       h->port);
    return -EINVAL;
  }
  memset(ss, 0, sizeof *ss);
  memcpy(ss, pick->ai_addr, pick->ai_addrlen);
  *sl = pick->ai_addrlen;
  freeaddrinfo(res);
  if (!listener_is_loopback((struct sockaddr *)ss) && !h->allow_remote) {
    *cause = xasprintf("http.listen: %s:%d: not a loopback address; set "
                       "\"http\": {\"allow_remote\": true} to serve other "
                       "hosts (anyone who can reach it needs only the token)",
                       h->host, h->port);
    return -EINVAL;
  }
  return 0;
}

/* Sets the port of an IPv4 or IPv6 address. */
static void
set_port(struct sockaddr_storage *ss, int port)
{
  if (ss->ss_family == AF_INET)
    ((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
  else
    ((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
}

/* Binds and listens on ss; returns the socket or -errno. */
static int
listen_on(const struct sockaddr_storage *ss, socklen_t sl)
{
  int fd, one = 1, r;

  fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -errno;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(fd, (const struct sockaddr *)ss, sl) != 0 ||
      listen(fd, SOMAXCONN) != 0) {
    r = -errno;
    close(fd);
    return r;
  }
  return fd;
}

/* Words a bind failure on ss:port, naming the holder of a busy port when
 * /proc tells (another tend daemon, most often). New string. */
static char *
bind_error(const struct sockaddr_storage *ss, int port, int err)
{
  char where[INET6_ADDRSTRLEN + 16];
  char *owner, *msg;

  listener_format_addr((const struct sockaddr *)ss, port, 0, where,
                       sizeof where);
  if (err != -EADDRINUSE)
    return xasprintf("%s: %s", where, strerror(-err));
  owner = portowner_describe(port);
  msg = xasprintf("%s: address already in use%s", where, owner ? owner : "");
  free(owner);
  return msg;
}

/* Binds the listening socket. With "listen" in the config, exactly that
 * address (port 0: any free port); without it, the first free port of
 * HTTP_AUTO_PORTS from the default one up, so that several projects' tend
 * daemons run side by side. Returns the socket with the address bound in
 * *ss and its port in *port, or -errno with *cause. */
int
listener_bind(const struct config_http *h, struct sockaddr_storage *ss,
              int *port, char **cause)
{
  socklen_t sl;
  int fd = -EADDRINUSE, r, tries = h->listen_set ? 1 : HTTP_AUTO_PORTS;
  char *first_busy = NULL;

  r = resolve_listen(h, ss, &sl, cause);
  if (r != 0)
    return r;
  for (int i = 0; i < tries && h->port + i <= 65535; i++) {
    set_port(ss, h->port + i);
    fd = listen_on(ss, sl);
    if (fd != -EADDRINUSE || h->listen_set)
      break;
    if (!first_busy)
      first_busy = bind_error(ss, h->port, fd);
  }
  if (fd < 0) {
    char *why = bind_error(ss, h->port, fd);
    if (h->listen_set)
      *cause = xasprintf("http.listen: %s", why);
    else if (fd == -EADDRINUSE)
      *cause = xasprintf("http: ports %d to %d on %s are all in use; set "
                         "\"http\": {\"listen\": \"%s:PORT\"} (port 0 "
                         "takes any free port)",
                         h->port, h->port + tries - 1, h->host, h->host);
    else
      *cause = xasprintf("http: %s", why);
    free(why);
    free(first_busy);
    return fd;
  }
  sl = sizeof *ss;
  getsockname(fd, (struct sockaddr *)ss, &sl);
  *port =
      ntohs(ss->ss_family == AF_INET ? ((struct sockaddr_in *)ss)->sin_port
                                     : ((struct sockaddr_in6 *)ss)->sin6_port);
  if (first_busy)
    fprintf(stderr, "tend: %s; took port %d instead\n", first_busy, *port);
  free(first_busy);
  return fd;
}

/* Room for many connections: raise the soft fd limit toward the hard one
 * (idle clients must not starve others), and size MHD's limit to it. */
unsigned int
listener_connection_limit(void)
{
  struct rlimit rl;
  rlim_t want = 65536;

  if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
    return 512;
  if (rl.rlim_cur < want && rl.rlim_cur != RLIM_INFINITY) {
    rlim_t raised =
        rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ? want : rl.rlim_max;
    if (raised > rl.rlim_cur) {
      rl.rlim_cur = raised;
      if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
        getrlimit(RLIMIT_NOFILE, &rl);
    }
  }
  if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > 4096 + 512)
    return 4096;
  return rl.rlim_cur > 1024 ? (unsigned int)(rl.rlim_cur - 512)
                            : (unsigned int)(rl.rlim_cur / 2);
}

/* Reads a whole PEM file (at most 1 MiB) for MHD's TLS options. Returns a
 * new string, or NULL with *cause. */
char *
listener_read_pem(const char *key, const char *path, char **cause)
{
  FILE *f = fopen(path, "re");
  char *buf;
  size_t n;

  if (!f) {
    *cause = xasprintf("http.tls.%s: %s: %s", key, path, strerror(errno));
    return NULL;
  }
  buf = xmalloc((1 << 20) + 1);
  n = fread(buf, 1, 1 << 20, f);
  if (ferror(f) || !feof(f) || n == 0) {
    *cause = xasprintf("http.tls.%s: %s: %s", key, path,
                       ferror(f) ? strerror(errno)
                       : n == 0  ? "empty file"
                                 : "larger than 1 MiB");
    fclose(f);
    free(buf);
    return NULL;
  }
  fclose(f);
  buf[n] = '\0';
  return buf;
}

/* Returns 1 for a wildcard listen host ("0.0.0.0", "::"): not a name any
 * browser should use (and "0.0.0.0" reaches loopback on some systems). */
int
listener_is_wildcard(const char *host)
{
  return !host || strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0 ||
         strcmp(host, "[::]") == 0;
}
