/* dotenv: parses env files (the syntax is in dotenv.h).
 *
 * The parser walks the whole buffer rather than line by line, because a
 * quoted value may span lines; each entry remembers the line it started on
 * for its error messages. Keys are checked like shell names, so that a
 * typo such as "PORT : 80" or "my-var=1" is an error, not a variable the
 * child can never read. */
#include "runners/dotenv.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "src/buf.h"
#include "src/xalloc.h"

/* The parser's cursor. */
struct cur {
  const char *p, *end;
  int line;
  const char *file;
};

/* Sets *cause to "file:line: message". Always returns -EINVAL. */
static int __attribute__((format(printf, 4, 5)))
fail(char **cause, const char *file, int line, const char *fmt, ...)
{
  va_list ap;
  char msg[200];
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  *cause = xasprintf("%s:%d: %s", file, line, msg);
  return -EINVAL;
}

/* Skips spaces and tabs. */
static void
skip_blank(struct cur *c)
{
  while (c->p < c->end && (*c->p == ' ' || *c->p == '\t'))
    c->p++;
}

/* Skips the rest of the line and its newline. */
static void
skip_line(struct cur *c)
{
  while (c->p < c->end && *c->p != '\n')
    c->p++;
  if (c->p < c->end) {
    c->p++;
    c->line++;
  }
}

/* Returns 1 when the rest of the line holds only blanks, a comment or a
 * carriage return. */
static int
rest_is_empty(struct cur *c)
{
  skip_blank(c);
  if (c->p < c->end && *c->p == '\r')
    c->p++;
  return c->p >= c->end || *c->p == '\n' || *c->p == '#';
}

/* Returns 1 for characters that may start (first) or continue a name. */
static int
name_char(char ch, int first)
{
  return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || ch == '_' ||
         (!first && ch >= '0' && ch <= '9');
}

/* Reads a quoted value (c->p at the opening quote) into v. */
static int
read_quoted(struct cur *c, struct buf *v, char **cause)
{
  char q = *c->p++;
  int start = c->line;

  while (c->p < c->end && *c->p != q) {
    char ch = *c->p++;
    if (ch == '\n')
      c->line++;
    if (ch == '\\' && q == '"' && c->p < c->end) {
      char e = *c->p;
      const char *out = NULL;
      switch (e) {
      case 'n':
        out = "\n";
        break;
      case 't':
        out = "\t";
        break;
      case 'r':
        out = "\r";
        break;
      case '"':
        out = "\"";
        break;
      case '\\':
        out = "\\";
        break;
      case '$':
        out = "$";
        break;
      default:
        break;
      }
      if (out) {
        buf_add(v, out, 1);
        c->p++;
        continue;
      }
    }
    buf_add(v, &ch, 1);
  }
  if (c->p >= c->end)
    return fail(cause, c->file, start, "unterminated %s quote",
                q == '"' ? "double" : "single");
  c->p++; /* the closing quote */
  if (!rest_is_empty(c))
    return fail(cause, c->file, c->line,
                "unexpected text after the closing quote");
  return 0;
}

/* Reads an unquoted value: the rest of the line without a trailing
 * " #comment" and trailing blanks. */
static void
read_plain(struct cur *c, struct buf *v)
{
  const char *s = c->p, *e;
  while (c->p < c->end && *c->p != '\n') {
    if (*c->p == '#' && c->p > s && (c->p[-1] == ' ' || c->p[-1] == '\t'))
      break;
    c->p++;
  }
  e = c->p;
  while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
    e--;
  buf_add(v, s, (size_t)(e - s));
}

/* Adds or replaces KEY=value in the list. */
static void
put_var(char ***vars, size_t *n, const char *key, size_t klen, const char *val)
{
  char *kv = xasprintf("%.*s=%s", (int)klen, key, val);
  for (size_t i = 0; i < *n; i++) {
    if (strncmp((*vars)[i], key, klen) == 0 && (*vars)[i][klen] == '=') {
      free((*vars)[i]);
      (*vars)[i] = kv;
      return;
    }
  }
  *vars = xrealloc(*vars, (*n + 2) * sizeof **vars);
  (*vars)[(*n)++] = kv;
  (*vars)[*n] = NULL;
}

int
dotenv_parse(const char *text, size_t len, const char *file, char ***vars,
             char **cause)
{
  struct cur c = {text, text + len, 1, file ? file : "env"};
  char **out = xcalloc(1, sizeof *out);
  size_t n = 0;
  struct buf v = BUF_ZERO;
  int rc = 0;

  *vars = NULL;
  *cause = NULL;
  if (memchr(text, '\0', len)) {
    const char *z = memchr(text, '\0', len);
    int line = 1;
    for (const char *p = text; p < z; p++)
      line += *p == '\n';
    rc = fail(cause, c.file, line, "NUL byte (not a text file?)");
    goto done;
  }
  while (c.p < c.end) {
    const char *key;
    size_t klen;

    skip_blank(&c);
    if (c.p >= c.end)
      break;
    if (*c.p == '\n' || *c.p == '\r' || *c.p == '#') {
      skip_line(&c);
      continue;
    }
    if (c.end - c.p > 7 && strncmp(c.p, "export", 6) == 0 &&
        (c.p[6] == ' ' || c.p[6] == '\t')) {
      c.p += 6;
      skip_blank(&c);
    }
    key = c.p;
    if (!name_char(*c.p, 1)) {
      rc = fail(cause, c.file, c.line,
                "expected KEY=value (a name of letters, digits and _)");
      goto done;
    }
    while (c.p < c.end && name_char(*c.p, 0))
      c.p++;
    klen = (size_t)(c.p - key);
    skip_blank(&c);
    if (c.p >= c.end || *c.p != '=') {
      rc = fail(cause, c.file, c.line, "expected '=' after %.*s",
                (int)(klen > 64 ? 64 : klen), key);
      goto done;
    }
    c.p++;
    skip_blank(&c);
    v.len = 0;
    buf_add(&v, "", 0);
    if (c.p < c.end && (*c.p == '"' || *c.p == '\'')) {
      rc = read_quoted(&c, &v, cause);
      if (rc < 0)
        goto done;
    } else {
      read_plain(&c, &v);
    }
    put_var(&out, &n, key, klen, v.data);
    skip_line(&c);
  }
done:
  buf_free(&v);
  if (rc < 0) {
    dotenv_free(out);
    return rc;
  }
  *vars = out;
  return 0;
}

int
dotenv_load(const char *path, char ***vars, char **cause)
{
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  struct stat st;
  struct buf text = BUF_ZERO;
  int rc;

  *vars = NULL;
  *cause = NULL;
  if (fd < 0) {
    rc = -errno;
    *cause = xasprintf("%s: %s", path,
                       rc == -ENOENT ? "does not exist" : strerror(-rc));
    return rc;
  }
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    *cause = xasprintf("%s: not a regular file", path);
    return -EINVAL;
  }
  if (st.st_size > DOTENV_MAX_BYTES) {
    close(fd);
    *cause = xasprintf("%s: larger than %d bytes", path, DOTENV_MAX_BYTES);
    return -EFBIG;
  }
  /* A read error ends the text: what came before it is parsed. */
  (void)buf_read_fd(&text, fd, (size_t)st.st_size);
  close(fd);
  rc = dotenv_parse(text.data ? text.data : "", text.len, path, vars, cause);
  buf_free(&text);
  return rc;
}

void
dotenv_free(char **vars)
{
  for (char **p = vars; p && *p; p++)
    free(*p);
  free(vars);
}
