/* bench_jsonl: throughput of the output pipeline's pure parts.
 *
 * Without arguments: jsonl_encode_chunk on the bench's inputs (base64 text
 * in 76-column lines, "y\n" lines, UTF-8 text, binary), in 1 MiB chunks
 * as a runner flushes them.
 *
 * With --stdin DIR: reads stdin the way a runner reads a child's pipe
 * (outbuf_reserve/commit, 64 KiB reads, a cut whenever the buffer is full
 * and at EOF), encodes each chunk and appends it to DIR/bench.jsonl
 * through the store, then prints MB/s. Compare its wall time with a plain
 * redirect of the same producer (issue 3's bench target, minus libuv):
 *
 *   time (yes | head -c 1G > /tmp/plain)
 *   time (yes | head -c 1G | build/bench_jsonl --stdin /tmp/bj)
 *
 * glibc's malloc trims and re-faults the heap for every 1 MiB chunk unless
 * told otherwise: MALLOC_MMAP_THRESHOLD_=4194304 MALLOC_TRIM_THRESHOLD_=
 * 16777216 in the environment (what mallopt at daemon start would set) cut
 * page faults 30x and the wall time of "y\n" lines by half here.
 *
 * Not built by make; build and run:
 *
 *   make unit-bins && cc -std=c11 -D_GNU_SOURCE -O2 -I. \
 *     -o build/bench_jsonl bench/bench_jsonl.c build/release/libtend.a \
 *     -ljansson && build/bench_jsonl
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <unistd.h>

#include "runners/outbuf.h"
#include "src/codec.h"
#include "state/jsonl.h"
#include "state/store.h"

#define TOTAL ((size_t)256 << 20)
#define CHUNK ((size_t)1 << 20)

/* Seconds on the monotonic clock. */
static double
now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Encodes TOTAL bytes of chunk-sized pieces of buf and prints MB/s. */
static void
run(const char *name, const char *buf)
{
  struct buf out = BUF_ZERO;
  size_t bytes_out = 0;
  double t0 = now();
  for (size_t done = 0, seq = 1; done < TOTAL; done += CHUNK, seq++) {
    struct jsonl_chunk c = {.seq = seq,
                            .ts = 1763779200123,
                            .run = 1,
                            .stream = "stdout",
                            .data = buf,
                            .len = CHUNK};
    out.len = 0;
    jsonl_encode_chunk(&out, &c);
    bytes_out += out.len;
  }
  double dt = now() - t0;
  printf("%-12s %8.0f MB/s in, %6.2f bytes out per byte in\n", name,
         (double)TOTAL / dt / 1e6, (double)bytes_out / (double)TOTAL);
  buf_free(&out);
}

/* Flushes every chunk ob yields into the store. */
static void
flush(struct outbuf *ob, struct store *st, int final, uint64_t *seq,
      size_t *chunks)
{
  size_t n;
  struct outbuf_chunk *c = outbuf_cut(ob, final, &n);
  for (size_t i = 0; i < n; i++) {
    struct buf line = BUF_ZERO;
    struct jsonl_chunk jc = {.seq = ++*seq,
                             .ts = 1763779200123,
                             .run = 1,
                             .stream = "stdout",
                             .data = c[i].data,
                             .len = c[i].len,
                             .partial = c[i].partial};
    jsonl_encode_chunk(&line, &jc);
    size_t len;
    char *text = buf_steal(&line, &len);
    if (store_append_take(st, *seq, text, len) < 0) {
      fprintf(stderr, "bench_jsonl: store error\n");
      exit(1);
    }
  }
  *chunks += n;
  outbuf_chunks_free(c, n);
}

/* Runs stdin through outbuf -> jsonl -> store in dir. */
static int
pipe_bench(const char *dir)
{
  char *cause = NULL;
  struct store *st = store_open(dir, "bench", 0, 0, &cause);
  if (!st) {
    fprintf(stderr, "bench_jsonl: %s\n", cause);
    return 1;
  }
  struct outbuf *ob = outbuf_new(0);
  uint64_t seq = store_last_seq(st);
  size_t chunks = 0, total = 0;
  double t0 = now();
  for (;;) {
    size_t avail;
    char *p = outbuf_reserve(ob, OUTBUF_STDOUT, 65536, &avail);
    ssize_t n = read(0, p, avail < 65536 ? avail : 65536);
    if (n <= 0)
      break;
    outbuf_commit(ob, OUTBUF_STDOUT, (size_t)n);
    total += (size_t)n;
    if (outbuf_full(ob))
      flush(ob, st, 0, &seq, &chunks);
  }
  flush(ob, st, 1, &seq, &chunks);
  double dt = now() - t0;
  printf("pipe: %zu bytes in %zu chunks, %.2f s, %.0f MB/s\n", total, chunks,
         dt, (double)total / dt / 1e6);
  outbuf_free(ob);
  store_close(st);
  return 0;
}

int
main(int argc, char **argv)
{
  if (argc == 3 && strcmp(argv[1], "--stdin") == 0)
    return pipe_bench(argv[2]);
  char *buf = malloc(CHUNK);
  srand(1);
  /* base64 text, 76 columns. */
  char raw[57];
  for (size_t i = 0; i < CHUNK;) {
    for (int k = 0; k < 57; k++)
      raw[k] = (char)rand();
    char line[80];
    size_t n = codec_base64_encode(line, raw, 57);
    line[n++] = '\n';
    size_t take = CHUNK - i < n ? CHUNK - i : n;
    memcpy(buf + i, line, take);
    i += take;
  }
  run("base64", buf);
  for (size_t i = 0; i < CHUNK; i += 2)
    memcpy(buf + i, "y\n", 2);
  run("yes", buf);
  memset(buf, 'a', CHUNK);
  for (size_t i = 0; i + 3 <= CHUNK; i += 3)
    memcpy(buf + i, "\xe2\x82\xac", 3);
  run("utf8-3byte", buf);
  for (size_t i = 0; i < CHUNK; i++)
    buf[i] = (char)rand();
  run("binary", buf);
  free(buf);
  return 0;
}
