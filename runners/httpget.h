/* httpget: one HTTP GET on the loop, for probes: its status code or why it
 * failed. libcurl's multi interface driven by libuv (uv_poll_t per socket,
 * one uv_timer_t), so nothing blocks the loop. The only user of libcurl
 * in the daemon. */
#ifndef TEND_HTTPGET_H
#define TEND_HTTPGET_H

#include <stdint.h>
#include <uv.h>

struct httpget;

/* Called once: status > 0 (any HTTP status, error NULL) or status 0 and
 * error (borrowed, valid during the call). The request frees itself
 * after the call. */
typedef void (*httpget_cb)(void *ctx, int status, const char *error);

/* Starts a GET of url (copied) that gives up after timeout_ms. Proxies
 * from the environment are ignored and redirects are not followed. */
struct httpget *httpget_start(uv_loop_t *loop, const char *url,
                              int64_t timeout_ms, httpget_cb cb, void *ctx);
/* Abandons a request without calling back; it frees itself once its
 * handles are closed. NULL is a no-op. */
void httpget_cancel(struct httpget *get);

#endif
