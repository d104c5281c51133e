/* bench_jsonl: throughput of jsonl_encode_chunk on the bench's inputs
 * (base64 text in 76-column lines, "y\n" lines, UTF-8 text, binary), in
 * 1 MiB chunks as a runner flushes them. Not built by make; run:
 *
 *   make unit-bins && cc -std=c11 -D_GNU_SOURCE -O2 -I. \
 *     -o build/bench_jsonl bench/bench_jsonl.c build/release/libtend.a \
 *     -ljansson && build/bench_jsonl
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "state/jsonl.h"

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
  struct jsonl_buf out = JSONL_BUF_ZERO;
  size_t bytes_out = 0;
  double t0 = now();
  for (size_t done = 0, seq = 1; done < TOTAL; done += CHUNK, seq++) {
    struct jsonl_chunk c = {.seq = seq, .ts = 1763779200123, .run = 1,
                            .stream = "stdout", .data = buf, .len = CHUNK};
    out.len = 0;
    jsonl_encode_chunk(&out, &c);
    bytes_out += out.len;
  }
  double dt = now() - t0;
  printf("%-12s %8.0f MB/s in, %6.2f bytes out per byte in\n", name,
         (double)TOTAL / dt / 1e6, (double)bytes_out / (double)TOTAL);
  jsonl_buf_free(&out);
}

int
main(void)
{
  char *buf = malloc(CHUNK);
  srand(1);
  /* base64 text, 76 columns. */
  char raw[57];
  for (size_t i = 0; i < CHUNK;) {
    for (int k = 0; k < 57; k++)
      raw[k] = (char)rand();
    char line[80];
    size_t n = jsonl_base64_encode(line, raw, 57);
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
