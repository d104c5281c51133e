/* stamp: the child process of every benchmark in bench/. It records when it
 * starts (and, in crash mode, when it exits) as monotonic nanoseconds, so
 * that the bench can time any supervisor from the outside, the same way for
 * each tool: the first thing the process does after exec is the timestamp.
 *
 * Usage:
 *   stamp FILE pause        append "S pid ns" to FILE, then wait for a signal
 *                           (an idle runner, like `sleep`; SIGTERM kills it)
 *   stamp FILE crash        append "S pid ns", then "E pid ns", exit 1
 *   stamp FILE once         append "S pid ns", exit 0
 *   stamp FILE gen KIND N   append "S pid ns", then write N bytes to stdout
 *                           in 128 KiB writes: KIND b64 (random bytes in
 *                           base64, 76-column lines) or yes ("y\n" lines)
 *   stamp - tick MS         print "T ns" to stdout every MS milliseconds
 *
 * Invoked as `run` with no arguments (a runit service's ./run is a symlink
 * to this binary), it reads "FILE MODE [ARGS]" from ./stamp.args, so runsv
 * starts it directly like every other tool, without a shell in between.
 *
 * Lines are appended with one write(2) on an O_APPEND descriptor, so many
 * children can share one FILE. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define BLOCK ((size_t)128 << 10)
#define B64_RAW ((size_t)48 << 20)

/* Returns CLOCK_MONOTONIC in nanoseconds (Python's time.monotonic_ns). */
static long long
now_ns(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Appends "K pid ns" to path; a stamp that cannot be written is fatal. */
static void
stamp(const char *path, char kind)
{
  char line[64];
  int len, fd;

  len = snprintf(line, sizeof line, "%c %d %lld\n", kind, (int)getpid(),
                 now_ns());
  fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0 || write(fd, line, (size_t)len) != len) {
    perror(path);
    _exit(2);
  }
  close(fd);
}

/* Writes all of buf to stdout, retrying on short writes. */
static void
write_all(const char *buf, size_t len)
{
  while (len > 0) {
    ssize_t n = write(STDOUT_FILENO, buf, len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      perror("stamp: write");
      _exit(2);
    }
    buf += n;
    len -= (size_t)n;
  }
}

/* Builds the repeating payload: base64 of random bytes in 76-column lines,
 * or "y\n" lines; returns its length (a multiple of the line length). */
static size_t
payload(const char *kind, char **out)
{
  static const char tab[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  unsigned char *raw;
  char *buf, *p;
  size_t i, col = 0;

  if (strcmp(kind, "yes") == 0) {
    buf = malloc(BLOCK);
    for (i = 0; buf && i < BLOCK; i += 2)
      memcpy(buf + i, "y\n", 2);
    *out = buf;
    return buf ? BLOCK : 0;
  }
  raw = malloc(B64_RAW);
  buf = malloc(B64_RAW / 3 * 4 + B64_RAW / 57 + 2);
  if (!raw || !buf)
    return 0;
  for (i = 0; i < B64_RAW;) {
    ssize_t n = getrandom(raw + i, B64_RAW - i, 0);
    if (n <= 0)
      return 0;
    i += (size_t)n;
  }
  p = buf;
  for (i = 0; i + 3 <= B64_RAW; i += 3) {
    uint32_t v =
        (uint32_t)raw[i] << 16 | (uint32_t)raw[i + 1] << 8 | raw[i + 2];
    *p++ = tab[v >> 18];
    *p++ = tab[(v >> 12) & 63];
    *p++ = tab[(v >> 6) & 63];
    *p++ = tab[v & 63];
    col += 4;
    if (col == 76) {
      *p++ = '\n';
      col = 0;
    }
  }
  free(raw);
  /* Cut after the last full line, so the payload repeats as whole lines. */
  while (p > buf && p[-1] != '\n')
    p--;
  *out = buf;
  return (size_t)(p - buf);
}

/* Writes total bytes of the payload to stdout in BLOCK-sized writes. */
static int
gen(const char *path, const char *kind, long long total)
{
  char *buf;
  size_t len = payload(kind, &buf), off = 0;

  if (len == 0) {
    fprintf(stderr, "stamp: cannot build payload %s\n", kind);
    return 2;
  }
  stamp(path, 'S');
  while (total > 0) {
    size_t n = BLOCK;
    if (n > len - off)
      n = len - off;
    if ((long long)n > total)
      n = (size_t)total;
    if ((long long)n == total && buf[off + n - 1] != '\n') {
      /* End on a line boundary: a line-based logger (svlogd) holds a
       * partial last line until EOF, which a supervised pipe never sees. */
      char last = buf[off + n - 1];
      buf[off + n - 1] = '\n';
      write_all(buf + off, n);
      buf[off + n - 1] = last;
    } else {
      write_all(buf + off, n);
    }
    total -= (long long)n;
    off = (off + n) % len;
  }
  free(buf);
  return 0;
}

/* Prints a monotonic timestamp line every ms milliseconds, forever. */
static _Noreturn void
tick(long ms)
{
  char line[64];
  struct timespec gap = {ms / 1000, (ms % 1000) * 1000000L};

  for (;;) {
    int len = snprintf(line, sizeof line, "T %lld\n", now_ns());
    write_all(line, (size_t)len);
    nanosleep(&gap, NULL);
  }
}

/* Runs one mode; argv[0] is FILE, argv[1] the mode. */
static int
run_mode(int argc, char **argv)
{
  const char *path = argv[0], *mode = argv[1];

  if (strcmp(mode, "pause") == 0) {
    stamp(path, 'S');
    for (;;)
      pause();
  }
  if (strcmp(mode, "crash") == 0) {
    stamp(path, 'S');
    stamp(path, 'E');
    return 1;
  }
  if (strcmp(mode, "once") == 0) {
    stamp(path, 'S');
    return 0;
  }
  if (strcmp(mode, "gen") == 0 && argc == 4)
    return gen(path, argv[2], atoll(argv[3]));
  if (strcmp(mode, "tick") == 0 && argc == 3)
    tick(atol(argv[2]));
  fprintf(stderr, "stamp: bad mode %s\n", mode);
  return 2;
}

/* Reads up to 4 words from ./stamp.args (the runit case). */
static int
args_from_file(char **words, char *buf, size_t size)
{
  FILE *f = fopen("stamp.args", "r");
  int n = 0;
  char *save = NULL, *w;

  if (!f || !fgets(buf, (int)size, f)) {
    perror("stamp.args");
    return -1;
  }
  fclose(f);
  for (w = strtok_r(buf, " \t\n", &save); w && n < 4;
       w = strtok_r(NULL, " \t\n", &save))
    words[n++] = w;
  return n;
}

int
main(int argc, char **argv)
{
  char buf[512], *words[4];
  int n;

  /* The children of some supervisors inherit an ignored SIGTERM; a runner
   * must die on it like sleep(1) does. */
  signal(SIGTERM, SIG_DFL);
  signal(SIGINT, SIG_DFL);
  if (argc >= 3)
    return run_mode(argc - 1, argv + 1);
  if (argc == 1 && (n = args_from_file(words, buf, sizeof buf)) >= 2)
    return run_mode(n, words);
  fprintf(stderr, "usage: stamp FILE pause|crash|once|gen KIND N|tick MS\n");
  return 2;
}
