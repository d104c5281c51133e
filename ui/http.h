/* http: the API server: libmicrohttpd driven by the daemon's libuv loop, no
 * extra threads (issue 4; LIBRARY-NOTES.md section 1).
 *
 * http_start binds the configured address, creates or reads the token,
 * writes <state_dir>/daemon.json and serves ui/routes.c's table; SSE
 * connections are suspended while they have nothing to send and resumed
 * from the loop when their stream wakes. http_close ends every stream with
 * a clean end of stream, stops MHD and closes the loop handles. */
#ifndef TEND_HTTP_H
#define TEND_HTTP_H

#include <uv.h>

struct config;
struct http_server;

/* Idle connections (no request bytes, no response progress) are dropped
 * after this many seconds; TEND_HTTP_TIMEOUT_S overrides it (tests). */
#define HTTP_IDLE_TIMEOUT_S 30
/* A request's headers must be complete this many seconds after the
 * connection opened or its previous request ended, however slowly they
 * trickle in; TEND_HTTP_HEADER_TIMEOUT_S overrides it (tests). */
#define HTTP_HEADER_TIMEOUT_S 10
/* libmicrohttpd's buffer per connection: room for a head over our bounds,
 * so that the answer is ours. Touched memory only: the pool is mapped. A
 * head that overflows even this gets the library's own 431 (with our
 * headers, see MHD_queue_response in ui/respond.c). */
#define HTTP_CONN_MEMORY (128 * 1024)
/* Connections at once from one IP address (others are refused at once). */
#define HTTP_PER_IP_LIMIT 256
/* An SSE connection is exempt from the idle timeout while it waits for
 * data; one whose client accepts no bytes for this long is dropped. */
#define HTTP_STREAM_STALL_S 60
/* A comment line on every SSE stream this often. */
#define HTTP_HEARTBEAT_MS 15000
/* Without "listen" in the config, this many ports from the default (7070)
 * up are tried; the first free one is taken. */
#define HTTP_AUTO_PORTS 100

/* Starts the API on loop per cfg->http: listen host/port (port 0 = a free
 * port; "listen" not set = the first free port of HTTP_AUTO_PORTS from
 * cfg->http.port up), allow_remote for a non-loopback host. Creates
 * <state_dir>/token (0600) if absent and writes <state_dir>/daemon.json
 * atomically ({"pid","url","ui_url","listen","config"}); prints the API
 * and UI addresses to stderr. Returns 0 and *out (NULL when "listen" is
 * false), or a negative errno with *cause (new), e.g. "http.listen:
 * 127.0.0.1:7070: address already in use (tend daemon pid 812 for
 * /home/a/web/tend.json)". */
int http_start(uv_loop_t *loop, const struct config *cfg,
               struct http_server **out, char **cause);

/* Ends every SSE stream cleanly and closes; cb(arg) runs once every handle
 * is closed and srv is freed (at once when srv is NULL). Removes
 * daemon.json. */
void http_close(struct http_server *srv, void (*cb)(void *arg), void *arg);

/* The port actually bound (for tests and logs). */
int http_port(const struct http_server *srv);

#endif
