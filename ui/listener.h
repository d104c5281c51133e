/* listener: the API's listening socket and what goes with it (see
 * listener.c). */
#ifndef TEND_LISTENER_H
#define TEND_LISTENER_H

#include <stddef.h>
#include <sys/socket.h>

struct config_http;

/* Returns 1 for 127.0.0.0/8, ::1 and ::ffff:127.0.0.0/104. */
int listener_is_loopback(const struct sockaddr *sa);
/* Formats an address as "host:port" ("[::1]:7070" for IPv6) into out (cap
 * bytes); a wildcard address becomes the loopback one when for_url. */
void listener_format_addr(const struct sockaddr *sa, int port, int for_url,
                          char *out, size_t cap);
/* Binds the listening socket: with "listen" in the config exactly that
 * address (port 0: any free port), else the first free port of
 * HTTP_AUTO_PORTS from h->port up. Returns the socket, with the address in
 * *ss and the port bound in *port, or -errno with *cause (new). */
int listener_bind(const struct config_http *h, struct sockaddr_storage *ss,
                  int *port, char **cause);
/* Raises the soft fd limit toward the hard one and returns the number of
 * connections to allow at once. */
unsigned int listener_connection_limit(void);
/* Reads a whole PEM file (at most 1 MiB) named by http.tls.<key>. Returns a
 * new string, or NULL with *cause (new). */
char *listener_read_pem(const char *key, const char *path, char **cause);
/* Returns 1 for a wildcard listen host ("0.0.0.0", "::", NULL): not a name
 * any browser should use. */
int listener_is_wildcard(const char *host);

#endif
