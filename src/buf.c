/* buf: the growable byte buffer (see buf.h). Capacity doubles from 256
 * bytes, so appending n bytes one at a time costs O(n). */
#include "src/buf.h"

#include "src/codec.h"
#include "src/xalloc.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void
buf_reserve(struct buf *b, size_t more)
{
  size_t need = b->len + more + 1;

  if (need <= b->cap)
    return;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < need)
    cap *= 2;
  b->data = xrealloc(b->data, cap);
  b->cap = cap;
}

void
buf_add(struct buf *b, const void *s, size_t len)
{
  buf_reserve(b, len);
  if (len)
    memcpy(b->data + b->len, s, len);
  b->len += len;
  b->data[b->len] = '\0';
}

void
buf_adds(struct buf *b, const char *s)
{
  buf_add(b, s, strlen(s));
}

void
buf_vaddf(struct buf *b, const char *fmt, va_list ap)
{
  va_list aq;
  int n;

  va_copy(aq, ap);
  n = vsnprintf(NULL, 0, fmt, aq);
  va_end(aq);
  if (n < 0)
    return;
  buf_reserve(b, (size_t)n);
  vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
  b->len += (size_t)n;
}

void
buf_addf(struct buf *b, const char *fmt, ...)
{
  va_list ap;

  va_start(ap, fmt);
  buf_vaddf(b, fmt, ap);
  va_end(ap);
}

int
buf_add_base64(struct buf *b, const char *s, size_t len)
{
  size_t n = 0;
  int r;

  buf_reserve(b, CODEC_BASE64_DECODED_MAX(len));
  r = codec_base64_decode(s, len, b->data + b->len, &n);
  if (r < 0) {
    b->data[b->len] = '\0';
    return r;
  }
  b->len += n;
  b->data[b->len] = '\0';
  return 0;
}

int
buf_read_fd(struct buf *b, int fd, size_t max)
{
  size_t got = 0;
  int err = 0;

  while (got < max) {
    size_t room;
    ssize_t r;

    buf_reserve(b, max - got < 4096 ? max - got : 4096);
    room = b->cap - b->len - 1;
    if (room > max - got)
      room = max - got;
    r = read(fd, b->data + b->len, room);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0) {
      err = -errno;
      break;
    }
    if (r == 0)
      break;
    b->len += (size_t)r;
    got += (size_t)r;
  }
  if (b->data)
    b->data[b->len] = '\0';
  return err;
}

char *
buf_steal(struct buf *b, size_t *len)
{
  char *data = b->data ? b->data : xstrdup("");

  if (len)
    *len = b->len;
  b->data = NULL;
  b->len = b->cap = 0;
  return data;
}

void
buf_free(struct buf *b)
{
  if (!b)
    return;
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}
