/* auth: the API token, the browser's login codes and sessions, the Host
 * allow-list and the Origin rule (issues 4 and 13).
 *
 * Every request except GET /healthz carries either "Authorization: Bearer
 * <token>" (the CLI, scripts) or the session cookie a browser gets by
 * trading a one-time login code (GET /?code=...). The cookie holds a
 * session secret, never the token: the API refuses it as a Bearer token,
 * and it dies with the daemon. Requests that change state and come with
 * the cookie must also show that they come from the UI's own origin
 * (Origin, or else Sec-Fetch-Site: same-origin). Every request must name
 * an allowed Host (DNS rebinding). Secrets are compared in constant time.
 * Everything here but auth_token_load and auth_random_hex is pure: the
 * clock comes in as an argument. */
#ifndef TEND_AUTH_H
#define TEND_AUTH_H

#include <stddef.h>
#include <stdint.h>

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
  const char *authorization;  /* the Authorization header */
  const char *cookie;         /* the Cookie header */
  const char *origin;         /* the Origin header */
  const char *host;           /* the Host header */
  const char *sec_fetch_site; /* the Sec-Fetch-Site header */
  int state_changing;         /* 1 for POST */
  int secure;                 /* served over TLS: the origin is https:// */
};

/* Random secrets (login codes, session ids) are this many bytes, in hex. */
#define AUTH_SECRET_BYTES 32
#define AUTH_SECRET_HEX (2 * AUTH_SECRET_BYTES)
/* A login code is good for one use within this many milliseconds. */
#define AUTH_CODE_TTL_MS 60000
/* Login codes outstanding at once (the oldest goes first). */
#define AUTH_CODES_MAX 16
/* Browser sessions kept at once (the least recently used goes first). */
#define AUTH_SESSIONS_MAX 64

/* Outstanding login codes. Zero-initialise. */
struct auth_codes {
  struct {
    char code[AUTH_SECRET_HEX + 1]; /* "" = free slot */
    int64_t expires_ms;
  } e[AUTH_CODES_MAX];
};

/* Browser sessions. Zero-initialise. */
struct auth_sessions {
  struct {
    char id[AUTH_SECRET_HEX + 1]; /* "" = free slot */
    int64_t used_ms;
  } e[AUTH_SESSIONS_MAX];
};

/* Remembers a new login code (a valid token word) that expires
 * AUTH_CODE_TTL_MS after now_ms; a full table drops the code that expires
 * first. */
void auth_code_add(struct auth_codes *c, const char *code, int64_t now_ms);
/* Returns 1 when given is an outstanding, unexpired code, and forgets it
 * (single use); 0 otherwise. Expired codes are forgotten on the way. */
int auth_code_redeem(struct auth_codes *c, const char *given, int64_t now_ms);

/* Remembers a new session id; a full table drops the least recently used
 * session. */
void auth_session_add(struct auth_sessions *s, const char *id, int64_t now_ms);
/* Returns 1 when given[0..len) is a known session id (and marks it used). */
int auth_session_valid(struct auth_sessions *s, const char *given, size_t len,
                       int64_t now_ms);

/* Reads the sessions saved by auth_sessions_save (one id per line) into s,
 * when path is a regular file of the daemon's user with mode 0600 or
 * stricter (an untrusted or missing file gives no session). Returns how
 * many were read. */
size_t auth_sessions_load(const char *path, struct auth_sessions *s);
/* Saves the ids of s to path (mode 0600, temp file and rename), so that
 * browsers stay logged in across restarts of the daemon. Returns 0 or a
 * negative errno. */
int auth_sessions_save(const char *path, const struct auth_sessions *s);

/* Fills out with 2 * nbytes hex digits of getrandom and a NUL (out holds
 * 2 * nbytes + 1). Returns 0 or a negative errno. */
int auth_random_hex(char *out, size_t nbytes);

/* Returns 1 when a Host header names one of names[0..n) (case-insensitive),
 * with or without a ":port"; an IPv6 literal is written "[::1]" in the
 * header and may be given with or without brackets in names. A Host with
 * anything else (userinfo, a path, a bad port, trailing junk) is refused.
 * NULL host (HTTP/1.0 without Host) is allowed: browsers always send one. */
int auth_host_allowed(const char *host, const char *const *names, size_t n);

/* Returns 1 when given equals expected, in time that depends only on the
 * lengths (never on where they differ). NULL given is never equal. */
int auth_token_equal(const char *expected, const char *given);

/* Finds cookie name in a Cookie header ("a=1; b=2"): returns a pointer to
 * its value (borrowed from header) and its length in *len, or NULL. */
const char *auth_cookie_find(const char *header, const char *name, size_t *len);

/* Returns the token of "Bearer <token>" (scheme case-insensitive), or NULL
 * when the header uses another scheme. */
const char *auth_bearer(const char *header);

/* Returns 1 when origin is exactly "http://" + host ("https://" when
 * secure), case-insensitive. */
int auth_origin_ok(const char *origin, const char *host, int secure);

/* The session cookie's name for a daemon on port ("tend_session_7070"):
 * cookies are shared across ports of a host, so two daemons must not share
 * a name. Writes into out (cap bytes). */
void auth_cookie_name(int port, char *out, size_t cap);

/* Decides whether a request may proceed. A present Authorization header
 * wins over the cookie (and is then the only thing checked): it must carry
 * the token. The cookie must carry a session of sessions (never the token);
 * with state_changing, Origin must be the UI's own origin or, without an
 * Origin, Sec-Fetch-Site must be "same-origin". */
enum auth_result auth_check(const char *token, const char *cookie_name,
                            struct auth_sessions *sessions,
                            const struct auth_input *in, int64_t now_ms);

/* Returns 1 when s can be a token: 16 to 256 chars of [A-Za-z0-9_-]. */
int auth_token_valid(const char *s);

/* Reads <state_dir>/token, or creates it (mode 0600, AUTH_TOKEN_BYTES from
 * getrandom, hex) when absent. A token file that is not a regular file of
 * the daemon's user with mode 0600 (or stricter), or a symbolic link, is
 * not trusted (someone else may have chosen the token): it is replaced by
 * a new one, with a warning. Returns 0 and *token (new), or a negative
 * errno with *cause (new). */
int auth_token_load(const char *state_dir, char **token, char **cause);

#endif
