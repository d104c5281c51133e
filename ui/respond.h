/* respond: response headers, request-head bounds and the page reader for
 * ui/http.c (see respond.c). */
#ifndef TEND_RESPOND_H
#define TEND_RESPOND_H

#include <microhttpd.h>

struct page;

/* A request target (path and query) longer than this gets 414, a header
 * block larger than this 431 (our JSON error with our headers). */
#define RESPOND_MAX_TARGET (8 * 1024)
#define RESPOND_MAX_HEADERS (32 * 1024)

/* Adds the headers every response carries: X-Content-Type-Options,
 * Content-Security-Policy, Referrer-Policy, X-Frame-Options. */
void respond_add_common_headers(struct MHD_Response *r);
/* Checks the request head against RESPOND_MAX_TARGET and
 * RESPOND_MAX_HEADERS: returns 0, 414 or 431. */
int respond_head_too_large(struct MHD_Connection *conn, const char *url);
/* Returns 1 when a declared Content-Length is over ROUTES_MAX_BODY. */
int respond_body_too_large(struct MHD_Connection *conn);
/* A header's value for routes.c (ctx is the connection), or NULL. */
const char *respond_req_header(void *ctx, const char *name);
/* A raw query argument for routes.c (ctx is the connection), or NULL. */
const char *respond_req_query(void *ctx, const char *name);
/* Turns Nagle's algorithm off on a connection (SSE events leave at once). */
void respond_nodelay(struct MHD_Connection *conn);
/* A response that sends page (taken: freed with the response) as MHD asks
 * for it, one store batch at most per call. NULL on failure (page not
 * taken). */
struct MHD_Response *respond_page(struct page *page);

#endif
