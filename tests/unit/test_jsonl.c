/* Unit tests for state/jsonl.c: exact escapes and key order, the UTF-8
 * validator against a reference decoder (exhaustive up to three bytes) and
 * jansson, base64 vectors, and a round-trip property over random byte
 * strings (NUL, controls, quotes, 2-4 byte UTF-8, invalid bytes) checked
 * both with jsonl_decode_chunk and with jansson. */
#include <criterion/criterion.h>

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "state/jsonl.h"

/* The buffer as a NUL-terminated string (for cr_assert_str_eq). */
static const char *
cstr(struct buf *b)
{
  buf_reserve(b, 1);
  b->data[b->len] = '\0';
  return b->data;
}

Test(jsonl, escape_exact)
{
  struct buf b = BUF_ZERO;
  const char in[] = "a\"b\\c\n\t\r\b\f\x01\x1f\x7f/\xc3\xa9\xf0\x9f\x98\x80";
  jsonl_escape(&b, in, sizeof in - 1);
  cr_assert_str_eq(cstr(&b), "\"a\\\"b\\\\c\\n\\t\\r\\b\\f\\u0001\\u001f"
                             "\x7f/\xc3\xa9\xf0\x9f\x98\x80\"");
  b.len = 0;
  jsonl_escape(&b, "x\0y", 3);
  cr_assert_str_eq(cstr(&b), "\"x\\u0000y\"");
  b.len = 0;
  jsonl_escape(&b, "bad\xff\xc0", 5); /* lossy for text fields */
  cr_assert_str_eq(cstr(&b), "\"bad\xef\xbf\xbd\xef\xbf\xbd\"");
  b.len = 0;
  jsonl_escape(&b, "", 0);
  cr_assert_str_eq(cstr(&b), "\"\"");
  buf_free(&b);
  buf_free(&b);
}

Test(jsonl, encode_key_order_and_markers)
{
  struct buf b = BUF_ZERO;
  struct jsonl_chunk c = {.seq = 12,
                          .ts = 1763779200123,
                          .run = 3,
                          .stream = "stdout",
                          .data = "line 1\nline 2\n",
                          .len = 14};
  jsonl_encode_chunk(&b, &c);
  cr_assert_str_eq(cstr(&b), "{\"seq\":12,\"ts\":1763779200123,\"run\":3,"
                             "\"stream\":\"stdout\",\"data\":\"line 1\\nline "
                             "2\\n\"}");
  b.len = 0;
  struct jsonl_chunk m = {.seq = 13,
                          .ts = 5,
                          .run = 3,
                          .stream = "tend",
                          .extra = "\"event\":\"start\",\"pid\":4242",
                          .data = "started (pid 4242)\n",
                          .len = 19};
  jsonl_encode_chunk(&b, &m);
  cr_assert_str_eq(cstr(&b),
                   "{\"seq\":13,\"ts\":5,\"run\":3,\"stream\":\"tend\","
                   "\"event\":\"start\",\"pid\":4242,"
                   "\"data\":\"started (pid 4242)\\n\"}");
  b.len = 0;
  struct jsonl_chunk p = {.seq = 1,
                          .ts = -7,
                          .run = 1,
                          .stream = "stderr",
                          .data = "\xff\x00z",
                          .len = 3,
                          .partial = 1};
  jsonl_encode_chunk(&b, &p);
  cr_assert_str_eq(cstr(&b), "{\"seq\":1,\"ts\":-7,\"run\":1,\"stream\":"
                             "\"stderr\",\"partial\":true,\"data_b64\":"
                             "\"/wB6\"}");
  buf_free(&b);
}

Test(jsonl, numbers)
{
  struct buf b = BUF_ZERO;
  jsonl_append_u64(&b, 0);
  buf_add(&b, " ", 1);
  jsonl_append_u64(&b, UINT64_MAX);
  buf_add(&b, " ", 1);
  jsonl_append_i64(&b, INT64_MIN);
  buf_add(&b, " ", 1);
  jsonl_append_i64(&b, 42);
  cr_assert_str_eq(cstr(&b), "0 18446744073709551615 -9223372036854775808 42");
  buf_free(&b);
}

/* A reference validator written the slow, obvious way: decode the code
 * point, then check its range, its shortest form and surrogates. */
static int
ref_utf8_valid(const unsigned char *s, size_t n)
{
  size_t i = 0;
  while (i < n) {
    unsigned c = s[i], need, cp, min;
    if (c < 0x80) {
      i++;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      need = 1, cp = c & 0x1F, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
      need = 2, cp = c & 0x0F, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
      need = 3, cp = c & 0x07, min = 0x10000;
    } else {
      return 0;
    }
    if (n - i < need + 1)
      return 0;
    for (unsigned k = 1; k <= need; k++) {
      if ((s[i + k] & 0xC0) != 0x80)
        return 0;
      cp = cp << 6 | (s[i + k] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
      return 0;
    i += need + 1;
  }
  return 1;
}

Test(jsonl, utf8_known_cases)
{
  struct {
    const char *s;
    int valid;
  } cases[] = {
      {"plain ascii", 1},
      {"\xc3\xa9", 1},
      {"\xe2\x82\xac", 1},
      {"\xf0\x9f\x98\x80", 1},
      {"\xf4\x8f\xbf\xbf", 1}, /* U+10FFFF */
      {"\xed\x9f\xbf", 1},     /* U+D7FF */
      {"\xee\x80\x80", 1},     /* U+E000 */
      {"\xc0\x80", 0},         /* overlong NUL */
      {"\xc1\xbf", 0},         /* overlong */
      {"\xe0\x80\x80", 0},     /* overlong */
      {"\xe0\x9f\xbf", 0},     /* overlong */
      {"\xf0\x80\x80\x80", 0}, /* overlong */
      {"\xf0\x8f\xbf\xbf", 0}, /* overlong */
      {"\xed\xa0\x80", 0},     /* surrogate D800 */
      {"\xed\xbf\xbf", 0},     /* surrogate DFFF */
      {"\xf4\x90\x80\x80", 0}, /* U+110000 */
      {"\xf5\x80\x80\x80", 0},
      {"\xff", 0},
      {"\x80", 0}, /* stray continuation */
      {"\xc3", 0}, /* truncated */
      {"\xe2\x82", 0},
      {"\xf0\x9f\x98", 0},
      {"abcdefgh\xc3\xa9ijklmnop\xe2\x82\xac", 1},
      {"abcdefghijklmnopq\xe2\x28\xa1", 0},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    cr_assert_eq(jsonl_utf8_valid(cases[i].s, strlen(cases[i].s)),
                 cases[i].valid, "case %zu", i);
  cr_assert(jsonl_utf8_valid("a\0b", 3), "NUL is valid UTF-8");
  cr_assert(jsonl_utf8_valid("", 0));
}

/* Every sequence of one to three bytes, and every 4-byte lead with every
 * second byte, against the reference. */
Test(jsonl, utf8_exhaustive_against_reference)
{
  unsigned char s[4];
  for (unsigned a = 0; a < 256; a++) {
    s[0] = (unsigned char)a;
    cr_assert_eq(jsonl_utf8_valid((char *)s, 1), ref_utf8_valid(s, 1));
    for (unsigned b = 0; b < 256; b++) {
      s[1] = (unsigned char)b;
      if (jsonl_utf8_valid((char *)s, 2) != ref_utf8_valid(s, 2))
        cr_assert_fail("2 bytes %02x %02x", a, b);
      for (unsigned c = 0; c < 256; c++) {
        s[2] = (unsigned char)c;
        if (jsonl_utf8_valid((char *)s, 3) != ref_utf8_valid(s, 3))
          cr_assert_fail("3 bytes %02x %02x %02x", a, b, c);
      }
      for (unsigned c = 0x7f; c <= 0xc0; c += 0x41) {
        s[2] = (unsigned char)c;
        s[3] = 0x80;
        if (jsonl_utf8_valid((char *)s, 4) != ref_utf8_valid(s, 4))
          cr_assert_fail("4 bytes %02x %02x %02x 80", a, b, c);
      }
    }
  }
}

/* A random string drawn from pieces that stress the encoder. */
static size_t
random_bytes(unsigned char *s, size_t max)
{
  static const char *const pieces[] = {
      "\0",
      "\"",
      "\\",
      "\n",
      "\t",
      "\r",
      "\b",
      "\f",
      "\x01",
      "\x1f",
      "\x7f",
      "/",
      "\xc3\xa9",
      "\xe2\x82\xac",
      "\xf0\x9f\x98\x80",
      "\xf4\x8f\xbf\xbf",
      "\xed\x9f\xbf",
      "plain text ",
      "0123456789abcdef",
      "\xff",
      "\xc0\x80",
      "\xed\xa0\x80",
      "\x80",
      "\xf4\x90\x80\x80",
      "\xe2\x82",
  };
  static const size_t plen[] = {1, 1, 1, 1, 1,  1,  1, 1, 1, 1, 1, 1, 2,
                                3, 4, 4, 3, 11, 16, 1, 2, 3, 1, 4, 2};
  size_t n = 0, want = (size_t)rand() % max;
  /* Half the strings are valid UTF-8 (no invalid pieces). */
  int valid_only = rand() % 2;
  size_t npieces = valid_only ? 19 : sizeof plen / sizeof plen[0];
  while (n < want) {
    size_t k = (size_t)rand() % npieces;
    if (rand() % 4 == 0) {
      s[n++] = (unsigned char)rand();
      continue;
    }
    if (n + plen[k] > max)
      break;
    memcpy(s + n, pieces[k], plen[k]);
    n += plen[k];
  }
  return n;
}

Test(jsonl, round_trip_property_with_jansson)
{
  srand(4242);
  unsigned char in[600];
  struct buf b = BUF_ZERO;
  for (int round = 0; round < 20000; round++) {
    size_t n = random_bytes(in, sizeof in);
    struct jsonl_chunk c = {.seq = (uint64_t)round + 1,
                            .ts = 1763779200000 + round,
                            .run = (uint64_t)(round % 7),
                            .stream = round % 3 ? "stdout" : "stderr",
                            .data = (const char *)in,
                            .len = n,
                            .partial = round % 5 == 0};
    b.len = 0;
    jsonl_encode_chunk(&b, &c);
    cr_assert_null(memchr(b.data, '\n', b.len), "one line");
    int valid = ref_utf8_valid(in, n);
    cr_assert_eq(jsonl_utf8_valid((char *)in, n), valid);
    cr_assert_eq(jsonl_line_seq(b.data, b.len), c.seq);

    struct jsonl_chunk d;
    char *owned;
    cr_assert_eq(jsonl_decode_chunk(b.data, b.len, &d, &owned), 0,
                 "round %d: %.*s", round, (int)b.len, b.data);
    cr_assert_eq(d.seq, c.seq);
    cr_assert_eq(d.ts, c.ts);
    cr_assert_eq(d.run, c.run);
    cr_assert_str_eq(d.stream, c.stream);
    cr_assert_eq(d.partial, c.partial);
    cr_assert_null(d.extra);
    cr_assert_eq(d.len, n);
    cr_assert_arr_eq(d.data, in, n);
    free(owned);

    /* jansson, the reference parser, reads the same data. */
    json_error_t err;
    json_t *o = json_loadb(b.data, b.len, JSON_ALLOW_NUL, &err);
    cr_assert_not_null(o, "jansson: %s", err.text);
    json_t *data = json_object_get(o, "data");
    json_t *b64 = json_object_get(o, "data_b64");
    cr_assert_eq(data != NULL, valid, "data iff valid UTF-8");
    cr_assert_eq(b64 != NULL, !valid);
    if (valid) {
      cr_assert_eq(json_string_length(data), n);
      cr_assert_arr_eq(json_string_value(data), in, n);
    }
    const char *keys[] = {"seq", "ts", "run", "stream"};
    const char *key;
    json_t *v;
    size_t at = 0;
    json_object_foreach(o, key, v)
    {
      if (at < 4)
        cr_assert_str_eq(key, keys[at]);
      at++;
    }
    json_decref(o);
  }
  buf_free(&b);
}

/* Long inputs cross the encoder's reservation blocks; dense escapes ("y\n")
 * and long plain runs take its two fast paths. */
Test(jsonl, round_trip_long_inputs)
{
  srand(777);
  size_t cap = 60000;
  unsigned char *in = malloc(cap);
  struct buf b = BUF_ZERO;
  for (int round = 0; round < 300; round++) {
    size_t n;
    if (round % 3 == 0) {
      n = random_bytes(in, cap);
    } else {
      n = (size_t)rand() % cap;
      for (size_t i = 0; i < n; i++)
        in[i] = round % 3 == 1 ? (i % 2 ? '\n' : 'y')
                               : (rand() % 70 ? 'a' + i % 26 : '\n');
    }
    struct jsonl_chunk c = {.seq = 1,
                            .ts = 2,
                            .run = 3,
                            .stream = "stdout",
                            .data = (const char *)in,
                            .len = n};
    b.len = 0;
    jsonl_encode_chunk(&b, &c);
    struct jsonl_chunk d;
    char *owned;
    cr_assert_eq(jsonl_decode_chunk(b.data, b.len, &d, &owned), 0);
    cr_assert_eq(d.len, n);
    cr_assert_arr_eq(d.data, in, n);
    free(owned);
  }
  buf_free(&b);
  free(in);
}

Test(jsonl, decode_extra_members_come_back)
{
  struct buf b = BUF_ZERO;
  const char *extra = "\"event\":\"exit\",\"status\":1,\"why\":{\"a\":[1,"
                      "true,null,\"\\u0000\\\"\"]}";
  struct jsonl_chunk m = {.seq = 20,
                          .ts = 9,
                          .run = 3,
                          .stream = "tend",
                          .extra = extra,
                          .data = "exited\n",
                          .len = 7};
  jsonl_encode_chunk(&b, &m);
  struct jsonl_chunk d;
  char *owned;
  cr_assert_eq(jsonl_decode_chunk(b.data, b.len, &d, &owned), 0);
  cr_assert_str_eq(d.extra, extra);
  cr_assert_str_eq(d.stream, "tend");
  cr_assert_eq(d.len, 7);
  free(owned);
  buf_free(&b);
}

Test(jsonl, decode_rejects)
{
  const char *bad[] = {
      "",
      "not json",
      "[1,2]",
      "{\"seq\":1,\"ts\":1,\"run\":1,\"stream\":\"stdout\",\"data\":\"tor",
      "{\"ts\":1,\"run\":1,\"stream\":\"stdout\",\"data\":\"x\"}",
      "{\"seq\":-1,\"ts\":1,\"run\":1,\"stream\":\"stdout\",\"data\":\"x\"}",
      "{\"seq\":1,\"ts\":1,\"run\":1,\"stream\":\"stdout\"}",
      "{\"seq\":1,\"ts\":1,\"run\":1,\"stream\":\"stdout\",\"data\":\"x\","
      "\"data_b64\":\"eA==\"}",
      "{\"seq\":1,\"ts\":1,\"run\":1,\"stream\":\"stdout\",\"data_b64\":\"*\"}",
      "{\"seq\":1,\"ts\":1,\"run\":1,\"stream\":3,\"data\":\"x\"}",
      "{\"seq\":1,\"ts\":1,\"run\":1,\"stream\":\"o\",\"partial\":1,"
      "\"data\":\"x\"}",
      "{\"seq\":1,\"seq\":2,\"ts\":1,\"run\":1,\"stream\":\"o\",\"data\":"
      "\"x\"}",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    struct jsonl_chunk d;
    char *owned = (char *)"sentinel";
    cr_assert_eq(jsonl_decode_chunk(bad[i], strlen(bad[i]), &d, &owned),
                 -EINVAL, "case %zu", i);
    cr_assert_null(owned);
  }
  /* Any key order and spacing is accepted. */
  const char *ok = "{ \"data\" : \"hi\", \"stream\":\"stderr\", \"run\":2, "
                   "\"ts\":3, \"seq\":4, \"partial\":false }";
  struct jsonl_chunk d;
  char *owned;
  cr_assert_eq(jsonl_decode_chunk(ok, strlen(ok), &d, &owned), 0);
  cr_assert_eq(d.seq, 4);
  cr_assert_eq(d.partial, 0);
  cr_assert_eq(d.len, 2);
  free(owned);
}

Test(jsonl, line_seq)
{
  cr_assert_eq(jsonl_line_seq("{\"seq\":812,\"ts\":1}", 19), 812);
  const char *other = "{\"ts\":1, \"seq\": 77}";
  cr_assert_eq(jsonl_line_seq(other, strlen(other)), 77);
  cr_assert_eq(jsonl_line_seq("{\"ts\":1}", 8), 0);
  cr_assert_eq(jsonl_line_seq("{\"seq\":", 7), 0);
  cr_assert_eq(jsonl_line_seq("{\"seq\":99999999999999999999}", 28), 0);
  /* Stops at the given length even without a terminator. */
  cr_assert_eq(jsonl_line_seq("{\"seq\":12345", 9), 12);
}

/* The printer's fast path: encode -> peek gives back the exact bytes of
 * every valid-UTF-8 chunk, the stream name, and "binary" for the rest. */
Test(jsonl, peek_chunk_round_trip)
{
  srand(777);
  unsigned char in[600];
  struct buf b = BUF_ZERO, out = BUF_ZERO;
  for (int round = 0; round < 20000; round++) {
    size_t n = random_bytes(in, sizeof in);
    const char *stream = NULL;
    size_t stream_len = 0;
    struct jsonl_chunk c = {
        .seq = (uint64_t)round + 1,
        .ts = 1763779200000 + round,
        .run = 1,
        .stream = round % 3 ? "stdout" : "tend",
        .data = (const char *)in,
        .len = n,
        .partial = round % 5 == 0,
        .extra = round % 3 ? NULL : "\"event\":\"start\",\"pid\":7"};
    b.len = 0;
    out.len = 0;
    jsonl_encode_chunk(&b, &c);
    int rc = jsonl_peek_chunk(b.data, b.len, &out, &stream, &stream_len);
    cr_assert_eq(stream_len, strlen(c.stream));
    cr_assert(memcmp(stream, c.stream, stream_len) == 0);
    if (jsonl_utf8_valid((const char *)in, n)) {
      cr_assert_eq(rc, 0, "round %d", round);
      cr_assert_eq(out.len, n, "round %d", round);
      cr_assert(n == 0 || memcmp(out.data, in, n) == 0, "round %d", round);
    } else {
      cr_assert_eq(rc, 1, "round %d", round);
    }
  }
  cr_assert_eq(jsonl_peek_chunk("{\"seq\":1}", 9, &out, &(const char *){0},
                                &(size_t){0}),
               -EINVAL);
  buf_free(&b);
  buf_free(&out);
}
