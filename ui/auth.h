/* auth: the API token, the UI's cookie and the Origin rule (issue 4).
 *
 * Every request except GET /healthz carries either "Authorization: Bearer
 * <token>" or the cookie that GET /?token=<token> sets. Requests that
 * change state and come with the cookie (a browser) must also carry an
 * Origin that matches the Host they were sent to, so that another site
 * cannot drive the daemon through the user's browser. Tokens are compared
 * in constant time. Everything here but auth_token_load is pure. */
#ifndef TEND_AUTH_H
#define TEND_AUTH_H

#include <stddef.h>

/* Bytes of randomness in a new token (hex-encoded: twice as many chars). */
#define AUTH_TOKEN_BYTES 32

#define AUTH_RESULT_MAP(X)                                                     \
  X(OK, "ok")                  /* authenticated */                             \
  X(MISSING, "missing token")  /* neither header nor cookie */                 \
  X(BAD, "wrong token")        /* a token that does not match */               \
  X(ORIGIN, "origin mismatch") /* cookie without a matching Origin */

enum auth_result {
#define X(N, S) AUTH_##N,
  AUTH_RESULT_MAP(X)
#undef X
};
/* Returns the message for a result ("wrong token", ...). */
const char *auth_result_name(enum auth_result r);

/* What auth_check looks at; every string is borrowed and may be NULL. */
struct auth_input {
  const char *authorization; /* the Authorization header */
  const char *cookie;        /* the Cookie header */
  const char *origin;        /* the Origin header */
  const char *host;          /* the Host header */
  int state_changing;        /* 1 for POST */
};

/* Returns 1 when given equals expected, in time that depends only on the
 * lengths (never on where they differ). NULL given is never equal. */
int auth_token_equal(const char *expected, const char *given);

/* Finds cookie name in a Cookie header ("a=1; b=2"): returns a pointer to
 * its value (borrowed from header) and its length in *len, or NULL. */
const char *auth_cookie_find(const char *header, const char *name, size_t *len);

/* Returns the token of "Bearer <token>" (scheme case-insensitive), or NULL
 * when the header uses another scheme. */
const char *auth_bearer(const char *header);

/* Returns 1 when origin is exactly "http://" + host (case-insensitive). */
int auth_origin_ok(const char *origin, const char *host);

/* The cookie name for a daemon on port ("tend_token_7070"): cookies are
 * shared across ports of a host, so two daemons must not share a name.
 * Writes into out (cap bytes). */
void auth_cookie_name(int port, char *out, size_t cap);

/* Decides whether a request may proceed. A present Authorization header
 * wins over the cookie (and is then the only thing checked). */
enum auth_result auth_check(const char *token, const char *cookie_name,
                            const struct auth_input *in);

/* Returns 1 when s can be a token: 16 to 256 chars of [A-Za-z0-9_-]. */
int auth_token_valid(const char *s);

/* Reads <state_dir>/token, or creates it (mode 0600, AUTH_TOKEN_BYTES from
 * getrandom, hex) when absent. Returns 0 and *token (new), or a negative
 * errno with *cause (new). */
int auth_token_load(const char *state_dir, char **token, char **cause);

#endif
