/* buf: the tree's one growable byte buffer, for text built piece by piece
 * (a response body, a page of rendered output, an encoded line).
 *
 * A plain value type: zero it with BUF_ZERO (or = {0}), append, then read
 * data[0..len) or take the bytes with buf_steal. After every buf_add* call
 * data is NUL-terminated (data[len] == '\0'), so text can be used as a C
 * string; bytes a caller writes itself into reserved room carry no NUL
 * until the next buf_add*. Allocation failure is fatal (xalloc). */
#ifndef TEND_BUF_H
#define TEND_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
  char *data; /* NULL until the first byte is added */
  size_t len, cap;
};
#define BUF_ZERO                                                               \
  {                                                                            \
    NULL, 0, 0                                                                 \
  }

/* Makes room for more bytes after b->len, plus a NUL after them. */
void buf_reserve(struct buf *b, size_t more);
/* Appends len bytes (s may be NULL when len is 0). */
void buf_add(struct buf *b, const void *s, size_t len);
/* Appends a C string. */
void buf_adds(struct buf *b, const char *s);
/* Appends printf-formatted text. */
void buf_addf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The same with a va_list (not consumed by the caller afterwards). */
void buf_vaddf(struct buf *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
/* Appends the bytes of standard base64 text s[0..len) (padding optional).
 * Returns 0, or -EINVAL (b unchanged) when s is not base64. */
int buf_add_base64(struct buf *b, const char *s, size_t len);
/* Appends what fd reads until end of file, at most max bytes (retrying
 * EINTR). Returns 0, or a negative errno from read (the bytes read before
 * it stay appended). Either way data is NUL-terminated when not NULL. */
int buf_read_fd(struct buf *b, int fd, size_t max);
/* Returns the bytes (new, caller frees; a "" of its own when b is empty),
 * *len (when not NULL) gets their count, and b is zeroed. */
char *buf_steal(struct buf *b, size_t *len);
/* Frees the bytes and zeroes b. NULL is a no-op. */
void buf_free(struct buf *b);

#endif
