/* xalloc: allocation wrappers; allocation failure is fatal (STYLE.md 5). */
#include "src/xalloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Aborts the process: there is no sane way on from out-of-memory. */
static void __attribute__((noreturn)) oom(size_t size)
{
  fprintf(stderr, "tend: fatal: out of memory allocating %zu bytes\n", size);
  abort();
}

void *
xmalloc(size_t size)
{
  void *p = malloc(size ? size : 1);
  if (!p)
    oom(size);
  return p;
}

void *
xcalloc(size_t n, size_t size)
{
  void *p = calloc(n ? n : 1, size ? size : 1);
  if (!p)
    oom(n * size);
  return p;
}

void *
xrealloc(void *ptr, size_t size)
{
  void *p = realloc(ptr, size ? size : 1);
  if (!p)
    oom(size);
  return p;
}

char *
xstrdup(const char *s)
{
  return xstrndup(s, strlen(s));
}

char *
xstrndup(const char *s, size_t n)
{
  char *p = xmalloc(n + 1);
  memcpy(p, s, n);
  p[n] = '\0';
  return p;
}

char *
xasprintf(const char *fmt, ...)
{
  va_list ap;
  char *out;
  int n;

  va_start(ap, fmt);
  n = vasprintf(&out, fmt, ap);
  va_end(ap);
  if (n < 0)
    oom(0);
  return out;
}

void *
xgrow(void *p, size_t *cap, size_t need, size_t size)
{
  if (need <= *cap)
    return p;
  size_t c = *cap ? *cap * 2 : 8;
  while (c < need)
    c *= 2;
  *cap = c;
  return xrealloc(p, c * size);
}
