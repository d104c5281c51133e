/* fuzz_jsonl: libFuzzer target for state/jsonl.c (the output chunk <-> JSON
 * line codec).
 *
 * The first input byte picks a mode (low two bits) and the chunk's fields:
 *   0  round trip: a chunk whose data is the rest of the input (after 24
 *      header bytes giving seq, ts and run when there are that many) is
 *      encoded, jansson must parse the line, the line holds no newline,
 *      jsonl_line_seq reads its seq back, and jsonl_decode_chunk gives back
 *      every field, the data byte for byte. Also: data vs data_b64 agrees
 *      with a reference UTF-8 validator, base64 round-trips, and
 *      jsonl_escape yields a JSON string equal to valid UTF-8 input;
 *   1  the rest straight into jsonl_decode_chunk; a line it accepts must
 *      survive encode -> decode unchanged (decode is a fixpoint);
 *   2  the rest straight into codec_base64_decode with the smallest output
 *      buffer its contract allows (ASan catches any overflow);
 *   3  the rest into jsonl_escape: the result must parse as a JSON string.
 * Every failure aborts, so that libFuzzer keeps the input. */
#include "src/codec.h"
#include "state/jsonl.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const streams[] = {"stdout", "stderr", "tend",
                                      "odd \"\\ \x01 \xc3\xa9"};
static const char *const extras[] = {
    NULL,
    "\"event\":\"start\",\"pid\":42",
    "\"code\":null,\"ok\":false",
    "\"k\":[1,{\"a\":\"b\"}],\"n\":-7",
};

/* Reports a broken property and aborts. */
static void
fail(const char *what, const char *line, size_t len)
{
  fprintf(stderr, "fuzz_jsonl: %s\n  line (%zu bytes): %.*s\n", what, len,
          (int)(len > 400 ? 400 : len), line ? line : "");
  abort();
}

/* Reads 8 bytes little-endian. */
static uint64_t
le64(const uint8_t *p)
{
  uint64_t v = 0;

  for (int i = 7; i >= 0; i--)
    v = v << 8 | p[i];
  return v;
}

/* A plain, slow UTF-8 validator (RFC 3629) to check the fast one against. */
static int
ref_utf8_valid(const uint8_t *s, size_t n)
{
  size_t i = 0;

  while (i < n) {
    uint8_t c = s[i];
    size_t k;
    uint32_t cp;

    if (c < 0x80) {
      i++;
      continue;
    }
    if (c >= 0xc2 && c <= 0xdf) {
      k = 1;
      cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
      k = 2;
      cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      k = 3;
      cp = c & 0x07;
    } else {
      return 0;
    }
    if (n - i <= k)
      return 0;
    for (size_t j = 1; j <= k; j++) {
      if ((s[i + j] & 0xc0) != 0x80)
        return 0;
      cp = cp << 6 | (s[i + j] & 0x3f);
    }
    if ((k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000) ||
        (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
      return 0;
    i += k + 1;
  }
  return 1;
}

/* Compares two optional strings. */
static int
same_str(const char *a, const char *b)
{
  if (!a || !b)
    return a == b;
  return strcmp(a, b) == 0;
}

/* Compares every field of two chunks; data byte for byte. */
static int
same_chunk(const struct jsonl_chunk *a, const struct jsonl_chunk *b)
{
  return a->seq == b->seq && a->ts == b->ts && a->run == b->run &&
         same_str(a->stream, b->stream) && a->partial == b->partial &&
         same_str(a->extra, b->extra) && a->len == b->len &&
         (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

/* Encodes c, checks the line's shape, decodes it and compares. */
static void
check_round_trip(const struct jsonl_chunk *c)
{
  struct buf line = BUF_ZERO;
  struct jsonl_chunk back = JSONL_CHUNK_ZERO;
  char *owned = NULL;
  json_error_t err;
  json_t *doc;

  jsonl_encode_chunk(&line, c);
  if (memchr(line.data, '\n', line.len) || memchr(line.data, '\r', line.len))
    fail("a raw line break in an encoded line", line.data, line.len);
  doc = json_loadb(line.data, line.len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL,
                   &err);
  if (!json_is_object(doc))
    fail("jansson rejects the encoded line", line.data, line.len);
  if (!json_object_get(doc, ref_utf8_valid((const uint8_t *)c->data, c->len)
                                ? "data"
                                : "data_b64"))
    fail("data/data_b64 disagrees with the reference UTF-8 check", line.data,
         line.len);
  json_decref(doc);
  if (jsonl_line_seq(line.data, line.len) != c->seq)
    fail("jsonl_line_seq misreads the seq", line.data, line.len);
  if (jsonl_decode_chunk(line.data, line.len, &back, &owned) != 0)
    fail("jsonl_decode_chunk rejects an encoded line", line.data, line.len);
  if (!same_chunk(c, &back))
    fail("decode(encode(chunk)) != chunk", line.data, line.len);
  free(owned);
  buf_free(&line);
}

/* Base64 both ways, padded and unpadded. */
static void
check_base64(const char *d, size_t n)
{
  size_t elen = CODEC_BASE64_LEN(n), dlen = 0;
  char *enc = malloc(elen + 1);
  char *dec = malloc(elen / 4 * 3 + 2);

  if (codec_base64_encode(enc, d, n) != elen)
    fail("base64: wrong encoded length", NULL, 0);
  if (codec_base64_decode(enc, elen, dec, &dlen) != 0 || dlen != n ||
      (n && memcmp(dec, d, n) != 0))
    fail("base64: decode(encode(x)) != x", enc, elen);
  while (elen > 0 && enc[elen - 1] == '=')
    elen--;
  if (codec_base64_decode(enc, elen, dec, &dlen) != 0 || dlen != n ||
      (n && memcmp(dec, d, n) != 0))
    fail("base64: unpadded decode differs", enc, elen);
  free(dec);
  free(enc);
}

/* jsonl_escape must produce one JSON string; lossless on valid UTF-8. */
static void
check_escape(const char *d, size_t n)
{
  struct buf out = BUF_ZERO;
  json_error_t err;
  json_t *s;

  jsonl_escape(&out, d, n);
  s = json_loadb(out.data, out.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
  if (!json_is_string(s))
    fail("jsonl_escape output is not a JSON string", out.data, out.len);
  if (jsonl_utf8_valid(d, n) &&
      (json_string_length(s) != n ||
       (n && memcmp(json_string_value(s), d, n) != 0)))
    fail("jsonl_escape changed valid UTF-8", out.data, out.len);
  json_decref(s);
  buf_free(&out);
}

/* Mode 0. */
static void
mode_round_trip(uint8_t flags, const uint8_t *p, size_t n)
{
  struct jsonl_chunk c = JSONL_CHUNK_ZERO;

  /* seq and run stay below 2^63: JSON integers are int64 for jansson. */
  if (n >= 24) {
    c.seq = le64(p) >> 1;
    c.ts = (int64_t)le64(p + 8);
    c.run = le64(p + 16) >> 1;
    p += 24;
    n -= 24;
  } else {
    c.seq = 1;
    c.ts = 1700000000000;
    c.run = 1;
  }
  c.stream = streams[(flags >> 2) & 3];
  c.partial = (flags >> 4) & 1;
  c.extra = extras[(flags >> 5) & 3];
  c.data = (const char *)p;
  c.len = n;
  if (jsonl_utf8_valid(c.data, n) != ref_utf8_valid(p, n))
    fail("jsonl_utf8_valid disagrees with the reference", c.data, n);
  check_round_trip(&c);
  check_base64(c.data, n);
  check_escape(c.data, n);
}

/* Mode 1. */
static void
mode_decode(const uint8_t *p, size_t n)
{
  struct jsonl_chunk c = JSONL_CHUNK_ZERO;
  char *owned = NULL;

  if (jsonl_decode_chunk((const char *)p, n, &c, &owned) != 0) {
    if (owned)
      fail("decode failed but returned a buffer", (const char *)p, n);
    return;
  }
  /* A stream name with a NUL is cut by strlen on both sides alike. */
  check_round_trip(&c);
  free(owned);
}

/* Mode 2. */
static void
mode_base64(const uint8_t *p, size_t n)
{
  size_t cap = CODEC_BASE64_DECODED_MAX(n), dlen = 0;
  char *out = malloc(cap);

  if (codec_base64_decode((const char *)p, n, out, &dlen) == 0 && dlen > cap)
    fail("base64 decode: length past the buffer", (const char *)p, n);
  free(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  uint8_t flags;
  char *copy;

  if (size == 0)
    return 0;
  flags = data[0];
  /* An exact-size heap copy, so that ASan sees any read past the end. */
  copy = malloc(size - 1 ? size - 1 : 1);
  memcpy(copy, data + 1, size - 1);
  switch (flags & 3) {
  case 0:
    mode_round_trip(flags, (const uint8_t *)copy, size - 1);
    break;
  case 1:
    mode_decode((const uint8_t *)copy, size - 1);
    break;
  case 2:
    mode_base64((const uint8_t *)copy, size - 1);
    break;
  default:
    check_escape(copy, size - 1);
    break;
  }
  free(copy);
  return 0;
}
