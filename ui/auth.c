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

#include "src/codec.h"
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
auth_origin_ok(const char *origin, const char *host, int secure)
{
  const char *scheme = secure ? "https://" : "http://";
  size_t n = strlen(scheme);

  if (!origin || !host || !*host)
    return 0;
  if (strncasecmp(origin, scheme, n) != 0)
    return 0;
  return strcasecmp(origin + n, host) == 0;
}

/* Names the cookie after the port. */
void
auth_cookie_name(int port, char *out, size_t cap)
{
  snprintf(out, cap, "tend_session_%d", port);
}

/* ------------------------------------------------------ codes, sessions */

/* Copies a secret into a slot (it was checked to be a token word). */
static void
secret_copy(char *dst, const char *src)
{
  size_t n = strlen(src);

  if (n > AUTH_SECRET_HEX)
    n = AUTH_SECRET_HEX;
  memcpy(dst, src, n);
  dst[n] = '\0';
}

/* Remembers a code; a full table gives up the one that expires first. */
void
auth_code_add(struct auth_codes *c, const char *code, int64_t now_ms)
{
  size_t pick = 0;

  if (!auth_token_valid(code))
    return;
  for (size_t i = 0; i < AUTH_CODES_MAX; i++) {
    if (!c->e[i].code[0] || c->e[i].expires_ms <= now_ms) {
      pick = i;
      break;
    }
    if (c->e[i].expires_ms < c->e[pick].expires_ms)
      pick = i;
  }
  secret_copy(c->e[pick].code, code);
  c->e[pick].expires_ms = now_ms + AUTH_CODE_TTL_MS;
}

/* Every slot is compared (in constant time), so the answer's timing says
 * nothing about which slot or byte differed. */
int
auth_code_redeem(struct auth_codes *c, const char *given, int64_t now_ms)
{
  int found = 0;

  for (size_t i = 0; i < AUTH_CODES_MAX; i++) {
    if (!c->e[i].code[0])
      continue;
    if (c->e[i].expires_ms <= now_ms) {
      memset(&c->e[i], 0, sizeof c->e[i]);
      continue;
    }
    if (auth_token_equal(c->e[i].code, given) && !found) {
      memset(&c->e[i], 0, sizeof c->e[i]);
      found = 1;
    }
  }
  return found;
}

/* Remembers a session; a full table gives up the least recently used. */
void
auth_session_add(struct auth_sessions *s, const char *id, int64_t now_ms)
{
  size_t pick = 0;

  if (!auth_token_valid(id))
    return;
  for (size_t i = 0; i < AUTH_SESSIONS_MAX; i++) {
    if (!s->e[i].id[0]) {
      pick = i;
      break;
    }
    if (s->e[i].used_ms < s->e[pick].used_ms)
      pick = i;
  }
  secret_copy(s->e[pick].id, id);
  s->e[pick].used_ms = now_ms;
}

/* Compares a secret that is not NUL-terminated (a cookie value). */
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

/* Looks a cookie's session up among all slots. */
int
auth_session_valid(struct auth_sessions *s, const char *given, size_t len,
                   int64_t now_ms)
{
  int found = 0;

  if (!given)
    return 0;
  for (size_t i = 0; i < AUTH_SESSIONS_MAX; i++) {
    if (!s->e[i].id[0])
      continue;
    if (token_equal_n(s->e[i].id, given, len) && !found) {
      s->e[i].used_ms = now_ms;
      found = 1;
    }
  }
  return found;
}

/* Reads saved session ids; the line order is the order of use. */
size_t
auth_sessions_load(const char *path, struct auth_sessions *s)
{
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  struct stat st;
  FILE *f;
  char line[300];
  size_t n = 0;

  if (fd < 0)
    return 0;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
      (st.st_mode & 077)) {
    log_warn("%s is not a private file of ours; not trusting its sessions",
             path);
    close(fd);
    return 0;
  }
  f = fdopen(fd, "r");
  if (!f) {
    close(fd);
    return 0;
  }
  while (fgets(line, sizeof line, f) && n < AUTH_SESSIONS_MAX) {
    line[strcspn(line, "\r\n")] = '\0';
    if (!auth_token_valid(line))
      continue;
    auth_session_add(s, line, (int64_t)n - AUTH_SESSIONS_MAX);
    n++;
  }
  fclose(f);
  return n;
}

/* Writes the ids, least recently used first. */
int
auth_sessions_save(const char *path, const struct auth_sessions *s)
{
  char *tmp = xasprintf("%s.tmp.XXXXXX", path);
  int fd = mkostemp(tmp, O_CLOEXEC), err = 0;
  size_t order[AUTH_SESSIONS_MAX], n = 0;
  FILE *f;

  if (fd < 0) {
    err = -errno;
    free(tmp);
    return err;
  }
  for (size_t i = 0; i < AUTH_SESSIONS_MAX; i++)
    if (s->e[i].id[0])
      order[n++] = i;
  for (size_t i = 1; i < n; i++) /* insertion sort by last use */
    for (size_t j = i;
         j > 0 && s->e[order[j]].used_ms < s->e[order[j - 1]].used_ms; j--) {
      size_t t = order[j];
      order[j] = order[j - 1];
      order[j - 1] = t;
    }
  f = fdopen(fd, "w");
  if (!f) {
    close(fd);
    unlink(tmp);
    free(tmp);
    return -EIO;
  }
  for (size_t i = 0; i < n; i++)
    fprintf(f, "%s\n", s->e[order[i]].id);
  if (fclose(f) != 0 || rename(tmp, path) != 0) {
    err = -errno;
    unlink(tmp);
  }
  free(tmp);
  return err;
}

/* Reads the kernel's randomness. */
int
auth_random_hex(char *out, size_t nbytes)
{
  unsigned char raw[128];
  size_t got = 0;

  if (nbytes > sizeof raw)
    return -EINVAL;
  while (got < nbytes) {
    ssize_t n = getrandom(raw + got, nbytes - got, 0);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return -errno;
    }
    got += (size_t)n;
  }
  codec_hex_encode(out, raw, nbytes);
  return 0;
}

/* Compares host[0..n) with a name, ignoring case and the brackets of an
 * IPv6 literal on either side. */
static int
host_name_eq(const char *host, size_t n, const char *name)
{
  size_t m = strlen(name);

  if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
    host++;
    n -= 2;
  }
  if (m >= 2 && name[0] == '[' && name[m - 1] == ']') {
    name++;
    m -= 2;
  }
  return n > 0 && n == m && strncasecmp(host, name, n) == 0;
}

/* Splits "name[:port]" or "[v6][:port]" and matches the name. */
int
auth_host_allowed(const char *host, const char *const *names, size_t n)
{
  size_t len, hlen;
  const char *colon;

  if (!host)
    return 1;
  len = strlen(host);
  if (len == 0 || len > 260)
    return 0;
  if (host[0] == '[') {
    const char *close = strchr(host, ']');
    if (!close)
      return 0;
    hlen = (size_t)(close - host) + 1;
    colon = host[hlen] == ':' ? host + hlen : NULL;
    if (!colon && host[hlen])
      return 0;
  } else {
    colon = strchr(host, ':');
    hlen = colon ? (size_t)(colon - host) : len;
  }
  if (colon) {
    size_t digits = strlen(colon + 1);
    if (digits == 0 || digits > 5 || strspn(colon + 1, "0123456789") != digits)
      return 0;
  }
  for (size_t i = 0; i < hlen; i++) {
    char c = host[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
          (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_' ||
          c == ':' || c == '[' || c == ']'))
      return 0;
  }
  for (size_t i = 0; i < n; i++)
    if (names[i] && host_name_eq(host, hlen, names[i]))
      return 1;
  return 0;
}

/* The policy: Bearer first (the token only), then the cookie (a session
 * only) plus the same-origin proof for POST. */
enum auth_result
auth_check(const char *token, const char *cookie_name,
           struct auth_sessions *sessions, const struct auth_input *in,
           int64_t now_ms)
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
  if (!sessions || !auth_session_valid(sessions, cookie, clen, now_ms))
    return AUTH_BAD;
  if (in->state_changing) {
    if (in->origin) {
      if (!auth_origin_ok(in->origin, in->host, in->secure))
        return AUTH_ORIGIN;
    } else if (!in->sec_fetch_site ||
               strcasecmp(in->sec_fetch_site, "same-origin") != 0) {
      return AUTH_ORIGIN;
    }
  }
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

/* Reads an existing token file. One that is a symbolic link, not a
 * regular file, not the daemon user's, or open to others returns -EPERM
 * with *cause saying why: its token may have been chosen by someone else,
 * so the caller replaces it rather than trusting it. */
static int
token_read(const char *path, char **token, char **cause)
{
  char buf[300];
  ssize_t n;
  struct stat st;
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);

  if (fd < 0) {
    if (errno == ELOOP) {
      *cause = xasprintf("%s is a symbolic link", path);
      return -EPERM;
    }
    return -errno;
  }
  if (fstat(fd, &st) != 0) {
    int err = errno;
    close(fd);
    *cause = xasprintf("%s: %s", path, strerror(err));
    return -err;
  }
  if (!S_ISREG(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 077)) {
    close(fd);
    *cause =
        xasprintf("%s is %s", path,
                  !S_ISREG(st.st_mode)     ? "not a regular file"
                  : st.st_uid != geteuid() ? "owned by another user"
                                           : "readable or writable by others");
    return -EPERM;
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
  codec_hex_encode(hex, raw, sizeof raw);
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
  if (r == -EPERM) {
    log_warn("%s; not trusting it: writing a new token", why);
    free(why);
    why = NULL;
    r = token_create(state_dir, path, token, &why);
  } else if (r == -ENOENT) {
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
