/* auth: token comparison, cookie and Authorization parsing, the Origin rule,
 * and the token file (issue 4).
 *
 * Design: the decisions (auth_check and its helpers) are pure functions
 * over header strings, so the whole policy is unit-tested without a
 * server; ui/routes.c feeds them the request's headers. The only I/O is
 * auth_token_load, which reads or creates <state_dir>/token once at start.
 * The token file is written like every state file: a temporary file in the
 * same folder, fsync, rename, so a crash never leaves half a token. */
#include "ui/auth.h"

#include "src/log.h"
#include "src/xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const result_names[] = {
#define X(N, S) S,
    AUTH_RESULT_MAP(X)
#undef X
};

/* Returns the message for a result. */
const char *
auth_result_name(enum auth_result r)
{
  if ((size_t)r >= sizeof result_names / sizeof result_names[0])
    return "?";
  return result_names[r];
}

/* Compares in constant time over the expected token's length: the loop
 * always runs the same number of steps and never branches on the bytes. */
int
auth_token_equal(const char *expected, const char *given)
{
  size_t elen, glen;
  unsigned char diff;

  if (!expected || !given)
    return 0;
  elen = strlen(expected);
  glen = strlen(given);
  diff = (unsigned char)(elen != glen);
  for (size_t i = 0; i < elen; i++) {
    /* Past the end of given, compare against 0 (never equal to a token
     * byte) without reading out of bounds. */
    unsigned char g = i < glen ? (unsigned char)given[i] : 0;
    diff |= (unsigned char)((unsigned char)expected[i] ^ g);
  }
  return elen > 0 && diff == 0;
}

/* Skips spaces and tabs. */
static const char *
skip_ws(const char *p)
{
  while (*p == ' ' || *p == '\t')
    p++;
  return p;
}

/* Walks "name=value; name2=value2" pairs (RFC 6265 cookie-string). */
const char *
auth_cookie_find(const char *header, const char *name, size_t *len)
{
  size_t nlen;
  const char *p = header;

  if (!header || !name)
    return NULL;
  nlen = strlen(name);
  while (*p) {
    const char *key, *eq, *end;

    p = skip_ws(p);
    key = p;
    end = strchr(p, ';');
    if (!end)
      end = p + strlen(p);
    eq = memchr(key, '=', (size_t)(end - key));
    if (eq) {
      const char *kend = eq;
      while (kend > key && (kend[-1] == ' ' || kend[-1] == '\t'))
        kend--;
      if ((size_t)(kend - key) == nlen && memcmp(key, name, nlen) == 0) {
        const char *v = skip_ws(eq + 1);
        const char *vend = end;
        while (vend > v && (vend[-1] == ' ' || vend[-1] == '\t'))
          vend--;
        /* A quoted value (allowed by RFC 6265) loses its quotes. */
        if (vend - v >= 2 && v[0] == '"' && vend[-1] == '"') {
          v++;
          vend--;
        }
        if (len)
          *len = (size_t)(vend - v);
        return v;
      }
    }
    p = *end ? end + 1 : end;
  }
  return NULL;
}

/* Returns what follows "Bearer " (any case, one or more spaces). */
const char *
auth_bearer(const char *header)
{
  const char *p;

  if (!header)
    return NULL;
  p = skip_ws(header);
  if (strncasecmp(p, "Bearer", 6) != 0 || (p[6] != ' ' && p[6] != '\t'))
    return NULL;
  return skip_ws(p + 6);
}

/* Compares origin with "http://" + host without building a string. */
int
auth_origin_ok(const char *origin, const char *host)
{
  static const char scheme[] = "http://";

  if (!origin || !host || !*host)
    return 0;
  if (strncasecmp(origin, scheme, sizeof scheme - 1) != 0)
    return 0;
  return strcasecmp(origin + sizeof scheme - 1, host) == 0;
}

/* Names the cookie after the port. */
void
auth_cookie_name(int port, char *out, size_t cap)
{
  snprintf(out, cap, "tend_token_%d", port);
}

/* Compares a token that is not NUL-terminated (a cookie value). */
static int
token_equal_n(const char *expected, const char *given, size_t glen)
{
  char buf[260];

  if (glen >= sizeof buf)
    return 0;
  memcpy(buf, given, glen);
  buf[glen] = '\0';
  return auth_token_equal(expected, buf);
}

/* The policy: Bearer first, then the cookie plus Origin for POST. */
enum auth_result
auth_check(const char *token, const char *cookie_name,
           const struct auth_input *in)
{
  const char *cookie;
  size_t clen = 0;

  if (in->authorization) {
    const char *bearer = auth_bearer(in->authorization);
    return auth_token_equal(token, bearer) ? AUTH_OK : AUTH_BAD;
  }
  cookie = auth_cookie_find(in->cookie, cookie_name, &clen);
  if (!cookie)
    return AUTH_MISSING;
  if (!token_equal_n(token, cookie, clen))
    return AUTH_BAD;
  if (in->state_changing && !auth_origin_ok(in->origin, in->host))
    return AUTH_ORIGIN;
  return AUTH_OK;
}

/* Tokens are plain URL- and header-safe words. */
int
auth_token_valid(const char *s)
{
  size_t n = 0;

  if (!s)
    return 0;
  for (; s[n]; n++) {
    char c = s[n];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
          (c >= '0' && c <= '9') || c == '_' || c == '-'))
      return 0;
  }
  return n >= 16 && n <= 256;
}

/* Reads an existing token file; fixes its mode if others could read it. */
static int
token_read(const char *path, char **token, char **cause)
{
  char buf[300];
  ssize_t n;
  struct stat st;
  int fd = open(path, O_RDONLY | O_CLOEXEC);

  if (fd < 0)
    return -errno;
  if (fstat(fd, &st) == 0 && (st.st_mode & 077)) {
    log_warn("%s was readable by others; setting mode 0600", path);
    if (fchmod(fd, 0600) != 0)
      log_warn("chmod %s: %s", path, strerror(errno));
  }
  n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n < 0) {
    int err = errno;
    *cause = xasprintf("%s: %s", path, strerror(err));
    return -err;
  }
  while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' ||
                   buf[n - 1] == ' ' || buf[n - 1] == '\t'))
    n--;
  buf[n] = '\0';
  if (!auth_token_valid(buf)) {
    *cause = xasprintf("%s: not a valid token (16 to 256 characters of "
                       "A-Z a-z 0-9 _ -); delete it to get a new one",
                       path);
    return -EINVAL;
  }
  *token = xstrdup(buf);
  return 0;
}

/* Creates a new random token file atomically (temp file, fsync, rename). */
static int
token_create(const char *dir, const char *path, char **token, char **cause)
{
  unsigned char raw[AUTH_TOKEN_BYTES];
  char hex[2 * AUTH_TOKEN_BYTES + 2];
  size_t got = 0;
  char *tmp;
  int fd, err;

  while (got < sizeof raw) {
    ssize_t n = getrandom(raw + got, sizeof raw - got, 0);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      err = errno;
      *cause = xasprintf("getrandom: %s", strerror(err));
      return -err;
    }
    got += (size_t)n;
  }
  for (size_t i = 0; i < sizeof raw; i++)
    snprintf(hex + 2 * i, 3, "%02x", raw[i]);
  hex[2 * sizeof raw] = '\n';
  hex[2 * sizeof raw + 1] = '\0';

  tmp = xasprintf("%s/.token.tmp.XXXXXX", dir);
  fd = mkostemp(tmp, O_CLOEXEC); /* mode 0600 */
  if (fd < 0) {
    err = errno;
    *cause = xasprintf("%s: %s", dir, strerror(err));
    free(tmp);
    return -err;
  }
  err = 0;
  errno = 0;
  if (write(fd, hex, 2 * sizeof raw + 1) != (ssize_t)(2 * sizeof raw + 1))
    err = errno ? errno : EIO;
  else if (fsync(fd) != 0)
    err = errno;
  if (close(fd) != 0 && !err)
    err = errno;
  if (!err && rename(tmp, path) != 0)
    err = errno;
  if (err) {
    unlink(tmp);
    free(tmp);
    *cause = xasprintf("%s: %s", path, strerror(err));
    return -err;
  }
  free(tmp);
  fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    fsync(fd); /* persist the rename */
    close(fd);
  }
  hex[2 * sizeof raw] = '\0';
  *token = xstrdup(hex);
  return 0;
}

/* Reads the token, creating the folder and the file on first start. */
int
auth_token_load(const char *state_dir, char **token, char **cause)
{
  char *path = xasprintf("%s/token", state_dir);
  char *why = NULL;
  int r;

  *token = NULL;
  r = token_read(path, token, &why);
  if (r == -ENOENT) {
    if (mkdir(state_dir, 0700) != 0 && errno != EEXIST) {
      r = -errno;
      why = xasprintf("%s: %s", state_dir, strerror(errno));
    } else {
      r = token_create(state_dir, path, token, &why);
    }
  } else if (r < 0 && !why) {
    why = xasprintf("%s: %s", path, strerror(-r));
  }
  free(path);
  if (r < 0)
    *cause = why;
  else
    free(why);
  return r;
}
