/* outbuf: a runner's pending output, cut into line-aligned chunks (pure, no
 * libuv; DESIGN.md "Data flow", issue 3 "Buffer and flush").
 *
 * stdout and stderr have separate buffers so that a partial line of one
 * never mixes with the other. The total is bounded: the caller stops
 * reading the pipes while outbuf_full() and cuts chunks on its flush timer
 * (or at once when full). */
#ifndef TEND_OUTBUF_H
#define TEND_OUTBUF_H

#include <stddef.h>

#define OUTBUF_DEFAULT_BOUND ((size_t)1 << 20) /* 1 MiB */

enum outbuf_stream { OUTBUF_STDOUT, OUTBUF_STDERR };

struct outbuf;

/* A piece of output ready to be flushed. data is a new malloc'd buffer
 * (free it with outbuf_chunks_free, or steal it and set data to NULL);
 * partial is 1 when data does not end with '\n'. */
struct outbuf_chunk {
  enum outbuf_stream stream;
  char *data;
  size_t len;
  int partial;
};

/* Returns a new empty buffer bounded by bound bytes (0: the default). */
struct outbuf *outbuf_new(size_t bound);
/* Frees the buffer and its pending bytes (NULL is a no-op). */
void outbuf_free(struct outbuf *ob);

/* Appends bytes read from stream. May go over the bound by one read; the
 * caller stops reading while outbuf_full(). */
void outbuf_append(struct outbuf *ob, enum outbuf_stream stream,
                   const char *data, size_t len);
/* Zero-copy variant of append for a libuv alloc_cb / read_cb pair: returns
 * room for at least min bytes at the end of stream's buffer (*avail set to
 * the room actually there). The pointer is valid until the next call on ob;
 * outbuf_commit(ob, stream, n) then accounts for the n bytes written. */
char *outbuf_reserve(struct outbuf *ob, enum outbuf_stream stream, size_t min,
                     size_t *avail);
/* Accounts for n bytes written into the room given by outbuf_reserve. */
void outbuf_commit(struct outbuf *ob, enum outbuf_stream stream, size_t n);

/* Marks stream's pipe as closed (EOF): its partial last line goes out at
 * the next cut, without waiting for the other stream. The mark is cleared
 * by the next bytes appended to stream (the pipe of a new run). */
void outbuf_eof(struct outbuf *ob, enum outbuf_stream stream);

/* Bytes pending in both streams. */
size_t outbuf_pending(const struct outbuf *ob);
/* Returns 1 when pending >= bound (stop reading), else 0. */
int outbuf_full(const struct outbuf *ob);
/* Returns 1 when a non-final outbuf_cut would yield a chunk now. */
int outbuf_cuttable(const struct outbuf *ob);

/* Cuts what can be flushed now into chunks: a new array of *n chunks (NULL
 * when *n is 0), freed with outbuf_chunks_free. Each stream yields at most
 * one chunk holding all its complete lines; the chunks come in the order
 * their oldest byte arrived. A partial last line stays pending unless final
 * (child exited, EOF) or the partial lines pending alone reach the bound
 * (then the longest are emitted, partial=1, until the rest is under the
 * bound: a line longer than the buffer never hangs the reader). */
struct outbuf_chunk *outbuf_cut(struct outbuf *ob, int final, size_t *n);
/* Frees chunks returned by outbuf_cut (NULL data entries are skipped). */
void outbuf_chunks_free(struct outbuf_chunk *chunks, size_t n);

#endif
