/* Unit tests for runners/outbuf.c: line-aligned cuts, partial lines kept or
 * released (final, bound), stream separation and order, the zero-copy
 * reserve/commit path, and a randomized property: every byte comes out once,
 * in order per stream, and a cut always brings a full buffer under its
 * bound. */
#include <criterion/criterion.h>

#include <stdlib.h>
#include <string.h>

#include "runners/outbuf.h"

#define OUT OUTBUF_STDOUT
#define ERR OUTBUF_STDERR

static void
put(struct outbuf *ob, enum outbuf_stream s, const char *text)
{
  outbuf_append(ob, s, text, strlen(text));
}

/* Asserts chunk k of chunks has the stream, text and partial flag. */
static void
expect(const struct outbuf_chunk *c, enum outbuf_stream s, const char *text,
       int partial)
{
  cr_assert_eq(c->stream, s);
  cr_assert_eq(c->len, strlen(text), "len %zu, want %zu ('%s')", c->len,
               strlen(text), text);
  cr_assert_arr_eq(c->data, text, c->len);
  cr_assert_eq(c->partial, partial);
}

Test(outbuf, empty_cut_is_null)
{
  struct outbuf *ob = outbuf_new(0);
  size_t n = 99;
  cr_assert_null(outbuf_cut(ob, 0, &n));
  cr_assert_eq(n, 0);
  cr_assert_null(outbuf_cut(ob, 1, &n));
  cr_assert_eq(n, 0);
  cr_assert_eq(outbuf_pending(ob), 0);
  cr_assert_not(outbuf_full(ob));
  outbuf_free(ob);
  outbuf_free(NULL);
  outbuf_chunks_free(NULL, 0);
}

Test(outbuf, complete_lines_cut_partial_kept)
{
  struct outbuf *ob = outbuf_new(0);
  size_t n;
  put(ob, OUT, "line 1\nline 2\nhal");
  cr_assert(outbuf_cuttable(ob));
  struct outbuf_chunk *c = outbuf_cut(ob, 0, &n);
  cr_assert_eq(n, 1);
  expect(&c[0], OUT, "line 1\nline 2\n", 0);
  outbuf_chunks_free(c, n);
  cr_assert_eq(outbuf_pending(ob), 3);
  cr_assert_not(outbuf_cuttable(ob));
  cr_assert_null(outbuf_cut(ob, 0, &n), "a partial line waits");
  put(ob, OUT, "f\n");
  c = outbuf_cut(ob, 0, &n);
  cr_assert_eq(n, 1);
  expect(&c[0], OUT, "half\n", 0);
  outbuf_chunks_free(c, n);
  cr_assert_eq(outbuf_pending(ob), 0);
  outbuf_free(ob);
}

Test(outbuf, final_releases_partial_lines)
{
  struct outbuf *ob = outbuf_new(0);
  size_t n;
  put(ob, OUT, "a\nno newline");
  put(ob, ERR, "err tail");
  struct outbuf_chunk *c = outbuf_cut(ob, 1, &n);
  cr_assert_eq(n, 2);
  expect(&c[0], OUT, "a\nno newline", 1);
  expect(&c[1], ERR, "err tail", 1);
  outbuf_chunks_free(c, n);
  cr_assert_eq(outbuf_pending(ob), 0);
  outbuf_free(ob);
}

Test(outbuf, eof_of_one_stream_releases_only_its_partial_line)
{
  struct outbuf *ob = outbuf_new(0);
  size_t n;
  put(ob, OUT, "out tail");
  put(ob, ERR, "err tail");
  outbuf_eof(ob, OUTBUF_STDOUT);
  cr_assert(outbuf_cuttable(ob));
  struct outbuf_chunk *c = outbuf_cut(ob, 0, &n);
  cr_assert_eq(n, 1);
  expect(&c[0], OUT, "out tail", 1);
  outbuf_chunks_free(c, n);
  cr_assert_eq(outbuf_pending(ob), 8, "stderr still open: it waits");
  /* A new run writes to stdout again: partial lines wait again. */
  put(ob, OUT, "new run");
  cr_assert_null(outbuf_cut(ob, 0, &n));
  c = outbuf_cut(ob, 1, &n);
  cr_assert_eq(n, 2);
  expect(&c[0], ERR, "err tail", 1);
  expect(&c[1], OUT, "new run", 1);
  outbuf_chunks_free(c, n);
  outbuf_free(ob);
}

Test(outbuf, streams_never_mix_and_come_in_arrival_order)
{
  struct outbuf *ob = outbuf_new(0);
  size_t n;
  put(ob, ERR, "e1 ");
  put(ob, OUT, "o1\n");
  put(ob, ERR, "still e1\n");
  struct outbuf_chunk *c = outbuf_cut(ob, 0, &n);
  cr_assert_eq(n, 2);
  expect(&c[0], ERR, "e1 still e1\n", 0);
  expect(&c[1], OUT, "o1\n", 0);
  outbuf_chunks_free(c, n);
  outbuf_free(ob);
}

/* The partial line left after a cut keeps the age of its first byte. */
Test(outbuf, order_follows_the_oldest_byte_of_a_kept_partial_line)
{
  struct outbuf *ob = outbuf_new(0);
  size_t n;
  put(ob, OUT, "a\n"); /* 1 */
  put(ob, ERR, "x");   /* 2: partial */
  put(ob, OUT, "b");   /* 3: partial */
  struct outbuf_chunk *c = outbuf_cut(ob, 0, &n);
  cr_assert_eq(n, 1);
  expect(&c[0], OUT, "a\n", 0);
  outbuf_chunks_free(c, n);
  put(ob, OUT, "\n"); /* completes "b" (born at 3) */
  put(ob, ERR, "\n"); /* completes "x" (born at 2) */
  c = outbuf_cut(ob, 0, &n);
  cr_assert_eq(n, 2);
  expect(&c[0], ERR, "x\n", 0);
  expect(&c[1], OUT, "b\n", 0);
  outbuf_chunks_free(c, n);

  /* The partial line starts inside an append that also ends a line. */
  put(ob, ERR, "e");      /* 6 */
  put(ob, OUT, "o1\no2"); /* 7: "o2" born at 7 */
  c = outbuf_cut(ob, 0, &n);
  cr_assert_eq(n, 1);
  expect(&c[0], OUT, "o1\n", 0);
  outbuf_chunks_free(c, n);
  put(ob, OUT, "\n");
  put(ob, ERR, "\n");
  c = outbuf_cut(ob, 0, &n);
  cr_assert_eq(n, 2);
  expect(&c[0], ERR, "e\n", 0);
  expect(&c[1], OUT, "o2\n", 0);
  outbuf_chunks_free(c, n);
  outbuf_free(ob);
}

Test(outbuf, line_longer_than_the_bound_is_released_partial)
{
  struct outbuf *ob = outbuf_new(16);
  size_t n;
  put(ob, OUT, "0123456789");
  cr_assert_not(outbuf_full(ob));
  cr_assert_null(outbuf_cut(ob, 0, &n));
  put(ob, OUT, "abcdefghij"); /* one read may pass the bound */
  cr_assert(outbuf_full(ob));
  cr_assert(outbuf_cuttable(ob));
  struct outbuf_chunk *c = outbuf_cut(ob, 0, &n);
  cr_assert_eq(n, 1);
  expect(&c[0], OUT, "0123456789abcdefghij", 1);
  outbuf_chunks_free(c, n);
  cr_assert_not(outbuf_full(ob));
  put(ob, OUT, "end\n");
  c = outbuf_cut(ob, 0, &n);
  cr_assert_eq(n, 1);
  expect(&c[0], OUT, "end\n", 0);
  outbuf_chunks_free(c, n);
  outbuf_free(ob);
}

Test(outbuf, full_stream_with_lines_cuts_at_the_last_line_when_it_can)
{
  struct outbuf *ob = outbuf_new(16);
  size_t n;
  put(ob, OUT, "0123456789\nabcdef"); /* 17 >= 16, tail 6 < 16 */
  cr_assert(outbuf_full(ob));
  struct outbuf_chunk *c = outbuf_cut(ob, 0, &n);
  cr_assert_eq(n, 1);
  expect(&c[0], OUT, "0123456789\n", 0);
  outbuf_chunks_free(c, n);
  cr_assert_not(outbuf_full(ob));

  put(ob, OUT, "ghijklmnopq\nrs"); /* tail "abcdef..q" was completed */
  c = outbuf_cut(ob, 0, &n);
  expect(&c[0], OUT, "abcdefghijklmnopq\n", 0);
  outbuf_chunks_free(c, n);

  put(ob, OUT, "0123456789abcdef\n"); /* partial line grows past the bound */
  put(ob, OUT, "0123456789abcdefXYZ");
  c = outbuf_cut(ob, 0, &n);
  cr_assert_eq(n, 1);
  expect(&c[0], OUT, "rs0123456789abcdef\n0123456789abcdefXYZ", 1);
  outbuf_chunks_free(c, n);
  cr_assert_eq(outbuf_pending(ob), 0);
  outbuf_free(ob);
}

/* Two half-lines that fill the buffer together: the longer is released,
 * so a reader waiting for !full never hangs. */
Test(outbuf, partial_lines_of_both_streams_at_the_bound)
{
  struct outbuf *ob = outbuf_new(16);
  size_t n;
  put(ob, OUT, "ooooooo");   /* 7 */
  put(ob, ERR, "eeeeeeeee"); /* 9 */
  cr_assert(outbuf_full(ob));
  struct outbuf_chunk *c = outbuf_cut(ob, 0, &n);
  cr_assert_eq(n, 1);
  expect(&c[0], ERR, "eeeeeeeee", 1);
  outbuf_chunks_free(c, n);
  cr_assert_not(outbuf_full(ob));
  cr_assert_eq(outbuf_pending(ob), 7);
  outbuf_free(ob);
}

/* A forced split never cuts a UTF-8 sequence in two. */
Test(outbuf, forced_split_keeps_utf8_sequences_whole)
{
  struct outbuf *ob = outbuf_new(16);
  size_t n;
  put(ob, OUT, "0123456789abcd\xe2\x82"); /* 16 bytes, half a euro sign */
  cr_assert(outbuf_full(ob));
  struct outbuf_chunk *c = outbuf_cut(ob, 0, &n);
  cr_assert_eq(n, 1);
  expect(&c[0], OUT, "0123456789abcd", 1);
  outbuf_chunks_free(c, n);
  cr_assert_eq(outbuf_pending(ob), 2);
  put(ob, OUT, "\xac\n");
  c = outbuf_cut(ob, 0, &n);
  expect(&c[0], OUT, "\xe2\x82\xac\n", 0);
  outbuf_chunks_free(c, n);

  put(ob, OUT, "0123456789a\xf0\x9f\x98\x80\xf0\x9f\x98"); /* 19 bytes */
  c = outbuf_cut(ob, 0, &n);
  expect(&c[0], OUT, "0123456789a\xf0\x9f\x98\x80", 1);
  outbuf_chunks_free(c, n);
  put(ob, OUT, "\x80");
  c = outbuf_cut(ob, 1, &n);
  expect(&c[0], OUT, "\xf0\x9f\x98\x80", 1);
  outbuf_chunks_free(c, n);

  /* Not UTF-8 at all: cut where the bound says. */
  put(ob, OUT, "0123456789abcde\x80\x80\x80\x80");
  c = outbuf_cut(ob, 0, &n);
  expect(&c[0], OUT, "0123456789abcde\x80\x80\x80\x80", 1);
  outbuf_chunks_free(c, n);
  /* A complete sequence at the end is not held back. */
  put(ob, OUT, "0123456789abcd\xc3\xa9");
  c = outbuf_cut(ob, 0, &n);
  expect(&c[0], OUT, "0123456789abcd\xc3\xa9", 1);
  outbuf_chunks_free(c, n);
  /* A lone lead byte as the whole tail: no progress possible, emit it. */
  outbuf_free(ob);
  ob = outbuf_new(1);
  put(ob, OUT, "\xe2");
  c = outbuf_cut(ob, 0, &n);
  cr_assert_eq(n, 1);
  expect(&c[0], OUT, "\xe2", 1);
  outbuf_chunks_free(c, n);
  cr_assert_eq(outbuf_pending(ob), 0);
  outbuf_free(ob);
}

Test(outbuf, reserve_commit_reads_in_place)
{
  struct outbuf *ob = outbuf_new(0);
  size_t avail = 0, n;
  char *p = outbuf_reserve(ob, ERR, 65536, &avail);
  cr_assert_geq(avail, 65536);
  memcpy(p, "abc\nde", 6);
  outbuf_commit(ob, ERR, 6);
  p = outbuf_reserve(ob, ERR, 1, &avail);
  outbuf_commit(ob, ERR, 0);
  cr_assert_eq(outbuf_pending(ob), 6);
  memcpy(p, "f\n", 2);
  outbuf_commit(ob, ERR, 2);
  struct outbuf_chunk *c = outbuf_cut(ob, 0, &n);
  cr_assert_eq(n, 1);
  expect(&c[0], ERR, "abc\ndef\n", 0);
  outbuf_chunks_free(c, n);
  outbuf_free(ob);
}

/* Appends random pieces (random newlines, random sizes around the bound) to
 * both streams, cuts at random, and checks what comes out against what went
 * in. */
Test(outbuf, random_property_every_byte_once_in_order)
{
  srand(12345);
  for (int round = 0; round < 200; round++) {
    size_t bound = 8 + (size_t)(rand() % 200);
    struct outbuf *ob = outbuf_new(bound);
    size_t cap = 200000;
    char *in[2] = {malloc(cap), malloc(cap)};
    char *got[2] = {malloc(cap), malloc(cap)};
    size_t in_len[2] = {0, 0}, got_len[2] = {0, 0};
    int ops = 50 + rand() % 300;
    for (int op = 0; op <= ops; op++) {
      int final = op == ops;
      if (!final && (rand() % 3)) {
        if (outbuf_full(ob))
          continue; /* the runner stops reading */
        int s = rand() % 2;
        size_t len = 1 + (size_t)(rand() % (int)(bound + 10));
        char piece[512];
        int nl_odds = 1 + rand() % 40;
        for (size_t i = 0; i < len; i++)
          piece[i] = rand() % nl_odds == 0 ? '\n'
                     : rand() % 5 == 0     ? (char)(0x80 + rand() % 0x7f)
                                           : (char)('a' + rand() % 26);
        memcpy(in[s] + in_len[s], piece, len);
        in_len[s] += len;
        outbuf_append(ob, (enum outbuf_stream)s, piece, len);
        continue;
      }
      int was_full = outbuf_full(ob);
      size_t n;
      struct outbuf_chunk *c = outbuf_cut(ob, final, &n);
      cr_assert_leq(n, 2);
      if (n == 2)
        cr_assert_neq(c[0].stream, c[1].stream);
      for (size_t k = 0; k < n; k++) {
        int s = (int)c[k].stream;
        cr_assert_gt(c[k].len, 0);
        cr_assert_eq(c[k].partial, c[k].data[c[k].len - 1] != '\n');
        if (c[k].partial && !final)
          cr_assert(was_full, "a partial chunk only when full");
        memcpy(got[s] + got_len[s], c[k].data, c[k].len);
        got_len[s] += c[k].len;
      }
      outbuf_chunks_free(c, n);
      cr_assert_not(outbuf_full(ob), "a cut always makes room");
      if (final)
        cr_assert_eq(outbuf_pending(ob), 0);
    }
    for (int s = 0; s < 2; s++) {
      cr_assert_eq(got_len[s], in_len[s]);
      cr_assert_arr_eq(got[s], in[s], in_len[s]);
      free(in[s]);
      free(got[s]);
    }
    outbuf_free(ob);
  }
}
