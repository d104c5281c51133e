/* xalloc: allocation that cannot fail (out of memory aborts with a message). */
#ifndef TEND_XALLOC_H
#define TEND_XALLOC_H

#include <stddef.h>

void *xmalloc(size_t size);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *ptr, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* Makes room for need elements of size bytes in a growable array p of
 * *cap elements (doubling, from 8); returns the array (maybe moved). */
void *xgrow(void *p, size_t *cap, size_t need, size_t size);
/* Returns a new string formatted like printf. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
