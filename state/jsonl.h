/* jsonl: output chunks <-> JSON lines (pure; docs: notes/formats.md).
 *
 * The write path is hand-made and single-pass: escaping, UTF-8 validation
 * and the choice between "data" and "data_b64" happen in one scan of the
 * bytes, without jansson. The read path (decode) uses jansson, since it
 * runs at recovery and in tests, not per byte of output. */
#ifndef TEND_JSONL_H
#define TEND_JSONL_H

#include "src/buf.h"

#include <stddef.h>
#include <stdint.h>

/* One chunk of a runner's output, or a lifecycle marker (stream "tend"). */
struct jsonl_chunk {
  uint64_t seq;
  int64_t ts;         /* unix milliseconds */
  uint64_t run;       /* the child's start count */
  const char *stream; /* "stdout" | "stderr" | "tend" */
  const char *data;   /* the bytes, any values, NUL included */
  size_t len;
  int partial; /* 1: data does not end at a line boundary */
  /* NULL, or raw JSON members without braces, inserted before "data",
   * e.g. "\"event\":\"start\",\"pid\":42". */
  const char *extra;
};
#define JSONL_CHUNK_ZERO                                                       \
  {                                                                            \
    0, 0, 0, NULL, NULL, 0, 0, NULL                                            \
  }

/* Appends one chunk as a JSON object, with NO trailing newline. Keys in
 * order: seq, ts, run, stream, partial (only when 1), the extra members,
 * then "data" (valid UTF-8, escaped) or "data_b64" (anything else). */
void jsonl_encode_chunk(struct buf *out, const struct jsonl_chunk *c);
/* Parses one line made by jsonl_encode_chunk (or any JSON object with
 * integer seq, ts, run, string stream and string data or data_b64).
 * Returns 0 with *out filled and *owned a new buffer (caller frees) that
 * out->data, out->stream and out->extra point into; or -EINVAL with
 * *owned NULL. Members other than the known ones come back in out->extra
 * (compact JSON, in order), NULL when there are none. */
int jsonl_decode_chunk(const char *line, size_t len, struct jsonl_chunk *out,
                       char **owned);

/* Returns 1 when s is valid UTF-8 (no overlongs, no surrogates, nothing
 * above U+10FFFF), else 0. NUL bytes are valid. */
int jsonl_utf8_valid(const char *s, size_t len);
/* Appends s as a quoted JSON string: '"', '\\' and control characters are
 * escaped (\n, \t, ... or \u00XX), valid UTF-8 passes as is, and each
 * byte of an invalid sequence becomes U+FFFD (lossy: chunk data takes the
 * lossless data_b64 path instead). */
void jsonl_escape(struct buf *out, const char *s, size_t len);

/* Appends the decimal form of v (no allocation, no locale). */
void jsonl_append_u64(struct buf *out, uint64_t v);
/* Appends the decimal form of v, with a '-' when negative. */
void jsonl_append_i64(struct buf *out, int64_t v);

/* Returns the "seq" of an encoded line fast (the lines written here start
 * with {"seq":N), or 0 when there is none. */
uint64_t jsonl_line_seq(const char *line, size_t len);

/* Fast path for lines written by jsonl_encode_chunk (its key order: the
 * data member last): unescapes the "data" string into out (appended) and
 * points *stream at the stream name inside line (*stream_len bytes).
 * Returns 0, 1 when the chunk carries "data_b64" (nothing appended), or
 * -EINVAL when the line is not in that form (use jsonl_decode_chunk). */
int jsonl_peek_chunk(const char *line, size_t len, struct buf *out,
                     const char **stream, size_t *stream_len);

#endif
