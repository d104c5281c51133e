/* glob: shell-style matching of relative paths (see glob.h for the syntax).
 *
 * Design: a small backtracking matcher over the pattern and the path. `*`
 * tries every split inside the current path component; a `**` component
 * tries every component boundary of the rest of the path. Patterns are a
 * few dozen bytes and paths a few components, so the backtracking stays
 * cheap: as in git's wildmatch, a `*` that ran out of text (or hit a '/')
 * tells the outer wildcards to stop retrying, which bounds the work on
 * patterns like "*a*a*a*b". There is no compiled form and no allocation.
 * A malformed class
 * (an unterminated '[') is read as a literal '[' like fnmatch(3) does. */
#include "watchers/glob.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>

#include "src/xalloc.h"

/* Returns 1 when c belongs to the named POSIX class, 0 otherwise (also for
 * an unknown name, which so matches nothing). */
static int
named_class_match(const char *name, size_t len, unsigned char c)
{
  static const struct {
    const char *name;
    int (*fn)(int);
  } classes[] = {
      {"alnum", isalnum}, {"alpha", isalpha}, {"blank", isblank},
      {"cntrl", iscntrl}, {"digit", isdigit}, {"graph", isgraph},
      {"lower", islower}, {"print", isprint}, {"punct", ispunct},
      {"space", isspace}, {"upper", isupper}, {"xdigit", isxdigit},
  };

  for (size_t i = 0; i < sizeof classes / sizeof classes[0]; i++)
    if (strlen(classes[i].name) == len &&
        memcmp(classes[i].name, name, len) == 0)
      return classes[i].fn(c) != 0;
  return 0;
}

/* Matches c against the class starting at p (which points at '['). Returns
 * 1 or 0 and sets *end past the closing ']'; returns -1 when the class is
 * unterminated. A class never matches '/'. */
static int
class_match(const char *p, char c, const char **end)
{
  int negate = 0, found = 0;
  const char *q = p + 1;

  if (*q == '!' || *q == '^') {
    negate = 1;
    q++;
  }
  /* A ']' right after the opening (or the negation) is a member. */
  for (int first = 1; first || *q != ']'; first = 0) {
    unsigned char lo, hi;

    if (*q == '\0')
      return -1;
    if (q[0] == '[' && q[1] == ':') {
      const char *close = strstr(q + 2, ":]");
      if (close != NULL) {
        if (named_class_match(q + 2, (size_t)(close - q - 2), (unsigned char)c))
          found = 1;
        q = close + 2;
        continue;
      }
    }
    if (*q == '\\' && q[1] != '\0')
      q++;
    lo = (unsigned char)*q++;
    hi = lo;
    if (q[0] == '-' && q[1] != ']' && q[1] != '\0') {
      q++;
      if (*q == '\\' && q[1] != '\0')
        q++;
      hi = (unsigned char)*q++;
    }
    if ((unsigned char)c >= lo && (unsigned char)c <= hi)
      found = 1;
  }
  *end = q + 1;
  if (c == '/')
    return 0;
  return found != negate;
}

/* Returns 1 when the "**" at pat is a whole path component. */
static int
is_globstar(const char *pat, const char *start)
{
  return pat[0] == '*' && pat[1] == '*' && (pat == start || pat[-1] == '/') &&
         (pat[2] == '/' || pat[2] == '\0');
}

/* Results of match_from(): besides match / no match, the two abort codes
 * cut the backtracking short (see the block comment at the top). */
#define M_MATCH 1
#define M_NOMATCH 0
#define M_ABORT_ALL (-1)         /* no earlier wildcard can help */
#define M_ABORT_TO_GLOBSTAR (-2) /* only an earlier "**" can help */

/* The matcher proper: pattern suffix pat against path suffix s; start is
 * the beginning of the whole pattern (to tell component boundaries). */
static int
match_from(const char *pat, const char *start, const char *s)
{
  for (;;) {
    const char *end;
    int r;

    switch (*pat) {
    case '\0':
      return *s == '\0';
    case '*':
      if (is_globstar(pat, start)) {
        if (pat[2] == '\0')
          return M_MATCH; /* "a/" + "**": everything below */
        /* "**" + "/rest": rest at this or any later component. */
        for (const char *t = s;; t++) {
          r = match_from(pat + 3, start, t);
          if (r == M_MATCH || r == M_ABORT_ALL)
            return r;
          t = strchr(t, '/');
          if (t == NULL)
            return M_ABORT_ALL;
        }
      }
      while (*pat == '*')
        pat++;
      for (const char *t = s;; t++) {
        r = match_from(pat, start, t);
        if (r != M_NOMATCH)
          return r;
        if (*t == '\0')
          return M_ABORT_ALL;
        if (*t == '/')
          return M_ABORT_TO_GLOBSTAR;
      }
    case '?':
      if (*s == '\0' || *s == '/')
        return M_NOMATCH;
      pat++;
      s++;
      break;
    case '[':
      if (*s == '\0')
        return M_NOMATCH;
      r = class_match(pat, *s, &end);
      if (r < 0) {
        if (*s != '[')
          return M_NOMATCH;
        pat++;
        s++;
        break;
      }
      if (r == 0)
        return M_NOMATCH;
      pat = end;
      s++;
      break;
    case '\\':
      if (pat[1] == '\0')
        return *s == '\\' && s[1] == '\0';
      if (*s != pat[1])
        return M_NOMATCH;
      pat += 2;
      s++;
      break;
    default:
      if (*s != *pat)
        return M_NOMATCH;
      pat++;
      s++;
      break;
    }
  }
}

/* Returns 1 when path matches pattern as a whole. */
int
glob_match(const char *pattern, const char *path)
{
  return match_from(pattern, pattern, path) == M_MATCH;
}

/* Checks pattern's syntax; see glob.h. */
int
glob_check(const char *pattern, char **cause)
{
  for (const char *p = pattern; *p != '\0'; p++) {
    const char *end;

    if (*p == '\\') {
      if (p[1] == '\0') {
        if (cause != NULL)
          *cause = xasprintf("glob \"%s\": trailing backslash", pattern);
        return -EINVAL;
      }
      p++;
    } else if (*p == '[') {
      if (class_match(p, 'a', &end) < 0) {
        if (cause != NULL)
          *cause = xasprintf("glob \"%s\": unterminated '[' at offset %zu",
                             pattern, (size_t)(p - pattern));
        return -EINVAL;
      }
      p = end - 1;
    }
  }
  return 0;
}
