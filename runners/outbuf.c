/* outbuf: per-runner pending output, cut into line-aligned chunks.
 *
 * Design. Each stream owns one growable buffer. Appends copy the bytes in
 * (or the pipe is read straight into the buffer through reserve/commit) and
 * run memrchr over the new bytes only, which keeps nl_end, the offset just
 * past the last newline, current: a cut then needs no scan at all. A cut
 * hands the stream's whole buffer to the chunk (no copy) and moves only the
 * partial last line, usually short, into a fresh buffer.
 *
 * Order between streams: a logical clock stamps each append. head_stamp is
 * the stamp of the stream's oldest pending byte, tail_stamp that of the
 * oldest byte of its partial last line (which becomes the head after a
 * cut), so chunks come out in the order their first byte arrived.
 *
 * Bound: complete lines can always be cut, so only partial lines can keep
 * the total at the bound. When the partial lines alone reach it, the
 * longest are emitted as partial chunks until the rest is under the bound,
 * so a reader that waits for !outbuf_full never hangs. Such a forced split
 * keeps an incomplete UTF-8 sequence at its end pending, so that both
 * halves of a long line of text stay valid text. */
#include "runners/outbuf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "src/xalloc.h"

#define NSTREAMS 2
#define MIN_CAP ((size_t)4096)

struct stream_buf {
  char *data;
  size_t len, cap;
  size_t nl_end;       /* offset just past the last '\n' (0: none) */
  uint64_t head_stamp; /* clock of the oldest pending byte */
  uint64_t tail_stamp; /* clock of the oldest byte after nl_end */
  size_t hint;         /* capacity to allocate when the buffer is empty */
  int eof;             /* the pipe closed: the partial line may go */
};

struct outbuf {
  struct stream_buf s[NSTREAMS];
  size_t bound;
  uint64_t clock;
};

struct outbuf *
outbuf_new(size_t bound)
{
  struct outbuf *ob = xcalloc(1, sizeof *ob);
  ob->bound = bound ? bound : OUTBUF_DEFAULT_BOUND;
  for (int i = 0; i < NSTREAMS; i++)
    ob->s[i].hint = MIN_CAP;
  return ob;
}

void
outbuf_free(struct outbuf *ob)
{
  if (!ob)
    return;
  for (int i = 0; i < NSTREAMS; i++)
    free(ob->s[i].data);
  free(ob);
}

/* Makes room for min more bytes, growing geometrically (or to the hint
 * learned from earlier cuts, so a flooding stream allocates once). */
static void
room(struct stream_buf *s, size_t min)
{
  if (s->cap - s->len >= min)
    return;
  size_t need = s->len + min;
  size_t cap = s->cap ? s->cap * 2 : s->hint;
  if (cap < need)
    cap = need;
  if (cap < MIN_CAP)
    cap = MIN_CAP;
  s->data = xrealloc(s->data, cap);
  s->cap = cap;
}

char *
outbuf_reserve(struct outbuf *ob, enum outbuf_stream stream, size_t min,
               size_t *avail)
{
  struct stream_buf *s = &ob->s[stream];
  room(s, min ? min : 1);
  if (avail)
    *avail = s->cap - s->len;
  return s->data + s->len;
}

void
outbuf_commit(struct outbuf *ob, enum outbuf_stream stream, size_t n)
{
  struct stream_buf *s = &ob->s[stream];
  if (n == 0)
    return;
  s->eof = 0; /* bytes again: a new run's pipe */
  uint64_t stamp = ++ob->clock;
  if (s->len == 0)
    s->head_stamp = stamp;
  if (s->len == s->nl_end)
    s->tail_stamp = stamp; /* the partial line, if any, starts here */
  const char *nl = memrchr(s->data + s->len, '\n', n);
  s->len += n;
  if (nl) {
    s->nl_end = (size_t)(nl - s->data) + 1;
    if (s->nl_end < s->len)
      s->tail_stamp = stamp;
  }
}

void
outbuf_append(struct outbuf *ob, enum outbuf_stream stream, const char *data,
              size_t len)
{
  if (len == 0)
    return;
  char *p = outbuf_reserve(ob, stream, len, NULL);
  memcpy(p, data, len);
  outbuf_commit(ob, stream, len);
}

void
outbuf_eof(struct outbuf *ob, enum outbuf_stream stream)
{
  ob->s[stream].eof = 1;
}

size_t
outbuf_pending(const struct outbuf *ob)
{
  return ob->s[OUTBUF_STDOUT].len + ob->s[OUTBUF_STDERR].len;
}

int
outbuf_full(const struct outbuf *ob)
{
  return outbuf_pending(ob) >= ob->bound;
}

/* Where to end a forced partial chunk of data[from..len) so that a UTF-8
 * sequence cut by the bound stays whole (the chunk then stays text, not
 * base64): len, or the start of an incomplete last sequence. */
static size_t
utf8_cut(const char *data, size_t from, size_t len)
{
  size_t p = len;
  while (p > from && len - p < 3 && ((unsigned char)data[p - 1] & 0xC0) == 0x80)
    p--;
  if (p == from)
    return len;
  unsigned char lead = (unsigned char)data[p - 1];
  size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;
  if (lead >= 0xC0 && len - (p - 1) < need)
    return p - 1;
  return len;
}

/* Decides how many bytes of each stream a cut emits (emit[i]). */
static void
plan_cut(const struct outbuf *ob, int final, size_t emit[NSTREAMS])
{
  size_t tails = 0;
  int forced[NSTREAMS] = {0};
  for (int i = 0; i < NSTREAMS; i++) {
    const struct stream_buf *s = &ob->s[i];
    emit[i] = final || s->eof ? s->len : s->nl_end;
    tails += s->len - emit[i];
  }
  /* Partial lines alone at the bound: release the longest first, at a
   * UTF-8 boundary the first time; every round emits at least a byte. */
  while (tails > 0 && tails >= ob->bound) {
    int best = 0;
    size_t best_tail = 0;
    for (int i = 0; i < NSTREAMS; i++) {
      size_t t = ob->s[i].len - emit[i];
      if (t > best_tail) {
        best_tail = t;
        best = i;
      }
    }
    const struct stream_buf *s = &ob->s[best];
    size_t e = forced[best] ? s->len : utf8_cut(s->data, emit[best], s->len);
    if (e == emit[best])
      e = s->len;
    forced[best] = 1;
    tails -= e - emit[best];
    emit[best] = e;
  }
}

int
outbuf_cuttable(const struct outbuf *ob)
{
  size_t emit[NSTREAMS];
  plan_cut(ob, 0, emit);
  for (int i = 0; i < NSTREAMS; i++)
    if (emit[i])
      return 1;
  return 0;
}

/* Moves the first e bytes of s into chunk c, keeping the rest pending. */
static void
take(struct stream_buf *s, size_t e, struct outbuf_chunk *c)
{
  size_t rest = s->len - e;
  c->data = s->data;
  c->len = e;
  c->partial = s->data[e - 1] != '\n';
  /* Remember how much piled up, decaying, to size the next buffer. */
  s->hint = s->len > s->hint / 2 ? s->len : s->hint / 2;
  if (s->hint < MIN_CAP)
    s->hint = MIN_CAP;
  if (rest == 0) {
    s->data = NULL;
    s->cap = s->len = s->nl_end = 0;
    return;
  }
  size_t cap = rest * 2 > s->hint ? rest * 2 : s->hint;
  s->data = xmalloc(cap);
  memcpy(s->data, c->data + e, rest);
  s->cap = cap;
  s->len = rest;
  s->nl_end = 0; /* rest is a partial line by construction */
  s->head_stamp = s->tail_stamp;
}

struct outbuf_chunk *
outbuf_cut(struct outbuf *ob, int final, size_t *n)
{
  size_t emit[NSTREAMS];
  int order[NSTREAMS];
  size_t count = 0;

  plan_cut(ob, final, emit);
  for (int i = 0; i < NSTREAMS; i++)
    if (emit[i])
      order[count++] = i;
  *n = count;
  if (count == 0)
    return NULL;
  if (count == 2 && ob->s[order[1]].head_stamp < ob->s[order[0]].head_stamp) {
    int t = order[0];
    order[0] = order[1];
    order[1] = t;
  }
  struct outbuf_chunk *chunks = xcalloc(count, sizeof *chunks);
  for (size_t k = 0; k < count; k++) {
    int i = order[k];
    chunks[k].stream = (enum outbuf_stream)i;
    take(&ob->s[i], emit[i], &chunks[k]);
  }
  return chunks;
}

void
outbuf_chunks_free(struct outbuf_chunk *chunks, size_t n)
{
  if (!chunks)
    return;
  for (size_t i = 0; i < n; i++)
    free(chunks[i].data);
  free(chunks);
}
