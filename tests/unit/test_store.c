/* Unit tests for state/store.c against real files in a scratch directory:
 * append and read back (tail and files give the same), rotation with keep,
 * seq continuity across reopen, torn and garbage line recovery, bisection
 * over a large file, and disk trouble (RLIMIT_FSIZE giving EFBIG, and a
 * full 64 KiB tmpfs when the test may mount one): the error is returned,
 * lines wait in the backlog in order, and store_retry writes them with no
 * gap once there is room. */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "state/jsonl.h"
#include "state/store.h"
#include "tests/unit/helpers.h"

static char scratch[64];

static void
setup(void)
{
  helpers_scratch_new(scratch, sizeof scratch, "store");
}

static void
teardown(void)
{
  char mnt[128];
  snprintf(mnt, sizeof mnt, "%s/mnt", scratch);
  umount2(mnt, MNT_DETACH); /* when a mount test failed half-way */
  helpers_rm_tree(scratch);
}

TestSuite(store, .init = setup, .fini = teardown);

/* Encodes chunk seq with data of size len (deterministic content). */
static void
make_line(struct buf *b, uint64_t seq, uint64_t run, size_t len)
{
  char data[4096];
  for (size_t i = 0; i < len && i < sizeof data; i++)
    data[i] = i + 1 == len ? '\n' : (char)('a' + (seq + i) % 26);
  struct jsonl_chunk c = {.seq = seq,
                          .ts = 1763779200000 + (int64_t)seq,
                          .run = run,
                          .stream = "stdout",
                          .data = data,
                          .len = len < sizeof data ? len : sizeof data};
  b->len = 0;
  jsonl_encode_chunk(b, &c);
}

/* Appends lines first..last with data sizes varying by seq. */
static int
append_range(struct store *st, uint64_t first, uint64_t last, size_t size)
{
  struct buf b = BUF_ZERO;
  int rc = 0;
  for (uint64_t s = first; s <= last; s++) {
    make_line(&b, s, 1 + s / 50, size + s % 7);
    rc = store_append(st, s, b.data, b.len);
    if (rc < 0)
      break;
  }
  buf_free(&b);
  return rc;
}

struct got {
  size_t n;
  uint64_t seq[50000];
  char *line[50000];
};

/* store_line_cb that keeps copies of the lines. */
static void
collect(void *ctx, uint64_t seq, const char *line, size_t len)
{
  struct got *g = ctx;
  cr_assert_lt(g->n, 50000);
  cr_assert_eq(jsonl_line_seq(line, len), seq);
  g->seq[g->n] = seq;
  g->line[g->n] = strndup(line, len);
  g->n++;
}

static struct got *
got_new(void)
{
  return calloc(1, sizeof(struct got));
}

static void
got_free(struct got *g)
{
  for (size_t i = 0; i < g->n; i++)
    free(g->line[i]);
  free(g);
}

/* Asserts that g holds exactly first..last, each as make_line wrote it. */
static void
expect_range(const struct got *g, uint64_t first, uint64_t last)
{
  cr_assert_eq(g->n, last - first + 1, "got %zu lines, want %llu..%llu", g->n,
               (unsigned long long)first, (unsigned long long)last);
  for (size_t i = 0; i < g->n; i++) {
    cr_assert_eq(g->seq[i], first + i);
    struct jsonl_chunk c;
    char *owned;
    cr_assert_eq(jsonl_decode_chunk(g->line[i], strlen(g->line[i]), &c, &owned),
                 0);
    cr_assert_eq(c.seq, first + i);
    free(owned);
  }
}

/* Reads a whole file into a new string (NULL when missing). */
static char *
slurp(const char *path, size_t *len)
{
  FILE *f = fopen(path, "rb");
  if (!f)
    return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *s = malloc((size_t)n + 1);
  cr_assert_eq(fread(s, 1, (size_t)n, f), (size_t)n);
  s[n] = '\0';
  fclose(f);
  *len = (size_t)n;
  return s;
}

/* Checks that a log file holds whole chunk lines with contiguous seqs;
 * returns the first seq (0 when empty) and sets *last. */
static uint64_t
check_file(const char *path, uint64_t *last)
{
  size_t len;
  char *s = slurp(path, &len);
  cr_assert_not_null(s, "%s missing", path);
  uint64_t first = 0, prev = 0;
  if (len)
    cr_assert_eq(s[len - 1], '\n', "%s ends with a torn line", path);
  for (char *p = s; p < s + len;) {
    char *nl = memchr(p, '\n', (size_t)(s + len - p));
    struct jsonl_chunk c;
    char *owned;
    cr_assert_eq(jsonl_decode_chunk(p, (size_t)(nl - p), &c, &owned), 0,
                 "%s: bad line", path);
    free(owned);
    if (!first)
      first = c.seq;
    else
      cr_assert_eq(c.seq, prev + 1, "%s: seq gap", path);
    prev = c.seq;
    p = nl + 1;
  }
  free(s);
  *last = prev;
  return first;
}

static char *
path_of(const char *name)
{
  static char buf[256];
  snprintf(buf, sizeof buf, "%s/%s", scratch, name);
  return buf;
}

Test(store, append_read_back_and_reopen)
{
  char *cause = NULL;
  struct store *st = store_open(scratch, "api", 0, 3, &cause);
  cr_assert_not_null(st, "%s", cause);
  cr_assert_eq(store_last_seq(st), 0);
  cr_assert_eq(store_last_run(st), 0);
  cr_assert_eq(append_range(st, 1, 100, 40), 0);
  cr_assert_eq(store_last_seq(st), 100);
  cr_assert_eq(store_error(st), 0);
  cr_assert_eq(store_append(st, 102, "{\"seq\":102}", 11), -EINVAL);
  cr_assert_eq(store_append(st, 100, "{\"seq\":100}", 11), -EINVAL);

  struct got *g = got_new();
  cr_assert_eq(store_read_after(st, 0, 1000, collect, g), 100);
  expect_range(g, 1, 100);
  got_free(g);
  g = got_new();
  cr_assert_eq(store_read_after(st, 100, 10, collect, g), 0);
  cr_assert_eq(store_read_after(st, 5, 0, collect, g), 0);
  got_free(g);
  store_close(st);

  uint64_t last;
  cr_assert_eq(check_file(path_of("api.jsonl"), &last), 1);
  cr_assert_eq(last, 100);

  st = store_open(scratch, "api", 0, 3, &cause);
  cr_assert_not_null(st);
  cr_assert_eq(store_last_seq(st), 100);
  cr_assert_eq(store_last_run(st), 3); /* run = 1 + seq / 50 */
  cr_assert_eq(store_truncated_bytes(st), 0);
  cr_assert_null(store_take_recovery_note(st));
  g = got_new();
  cr_assert_eq(store_read_after(st, 50, 10, collect, g), 10);
  expect_range(g, 51, 60);
  got_free(g);
  g = got_new();
  cr_assert_eq(store_read_after(st, 0, 1000, collect, g), 100);
  expect_range(g, 1, 100);
  got_free(g);
  cr_assert_eq(append_range(st, 101, 110, 40), 0);
  g = got_new();
  cr_assert_eq(store_read_after(st, 95, 1000, collect, g), 15,
               "files then tail");
  expect_range(g, 96, 110);
  got_free(g);
  store_close(st);
  store_close(NULL);
}

Test(store, append_take_owns_the_line)
{
  char *cause = NULL;
  struct store *st = store_open(scratch, "t", 0, 1, &cause);
  struct buf b = BUF_ZERO;
  make_line(&b, 1, 1, 10);
  size_t len;
  char *line = buf_steal(&b, &len);
  cr_assert_eq(store_append_take(st, 1, line, len), 0);
  make_line(&b, 5, 1, 10);
  line = buf_steal(&b, &len);
  cr_assert_eq(store_append_take(st, 5, line, len), -EINVAL); /* freed */
  struct got *g = got_new();
  cr_assert_eq(store_read_after(st, 0, 10, collect, g), 1);
  got_free(g);
  store_close(st);
}

Test(store, rotation_keeps_files_and_reads_across_them)
{
  char *cause = NULL;
  struct store *st = store_open(scratch, "web", 2000, 3, &cause);
  cr_assert_not_null(st, "%s", cause);
  cr_assert_eq(append_range(st, 1, 400, 60), 0);
  cr_assert_eq(store_error(st), 0);

  uint64_t first[4], last[4];
  const char *names[] = {"web.jsonl.3", "web.jsonl.2", "web.jsonl.1",
                         "web.jsonl"};
  for (int i = 0; i < 4; i++) {
    struct stat sb;
    cr_assert_eq(stat(path_of(names[i]), &sb), 0, "%s", names[i]);
    cr_assert_leq(sb.st_size, 2000, "%s too big", names[i]);
    first[i] = check_file(path_of(names[i]), &last[i]);
    if (i)
      cr_assert_eq(first[i], last[i - 1] + 1, "contiguous across files");
  }
  cr_assert_eq(last[3], 400);
  struct stat sb;
  cr_assert_neq(stat(path_of("web.jsonl.4"), &sb), 0, "keep = 3");

  /* The tail answers: compare with the files after a reopen. */
  struct got *tail = got_new();
  size_t nt = store_read_after(st, first[0] - 1, 100000, collect, tail);
  store_close(st);
  st = store_open(scratch, "web", 2000, 3, &cause);
  cr_assert_eq(store_last_seq(st), 400);
  struct got *files = got_new();
  size_t nf = store_read_after(st, first[0] - 1, 100000, collect, files);
  cr_assert_eq(nt, nf);
  expect_range(files, first[0], 400);
  for (size_t i = 0; i < nf; i++)
    cr_assert_str_eq(tail->line[i], files->line[i]);
  got_free(tail);
  got_free(files);

  /* Older than the oldest kept: reading starts at the oldest kept. */
  struct got *g = got_new();
  cr_assert_eq(store_read_after(st, 0, 5, collect, g), 5);
  expect_range(g, first[0], first[0] + 4);
  got_free(g);
  /* Every start point in every file, small limits. */
  for (uint64_t after = first[0] - 1; after < 400; after += 7) {
    g = got_new();
    size_t n = store_read_after(st, after, 3, collect, g);
    uint64_t want = 400 - after < 3 ? 400 - after : 3;
    cr_assert_eq(n, want);
    expect_range(g, after + 1, after + want);
    got_free(g);
  }
  store_close(st);
}

Test(store, keep_zero_drops_old_output)
{
  char *cause = NULL;
  struct store *st = store_open(scratch, "k", 1000, 0, &cause);
  cr_assert_eq(append_range(st, 1, 100, 60), 0);
  store_close(st);
  struct stat sb;
  cr_assert_neq(stat(path_of("k.jsonl.1"), &sb), 0);
  uint64_t last;
  uint64_t first = check_file(path_of("k.jsonl"), &last);
  cr_assert_gt(first, 1);
  cr_assert_eq(last, 100);
  st = store_open(scratch, "k", 1000, 0, &cause);
  cr_assert_eq(store_last_seq(st), 100);
  store_close(st);
}

Test(store, seq_continues_after_reopen_on_an_empty_current_file)
{
  char *cause = NULL;
  struct store *st = store_open(scratch, "r", 1000, 2, &cause);
  cr_assert_eq(append_range(st, 1, 30, 60), 0);
  store_close(st);
  /* Make the current file empty, as right after a rotation. */
  char *cur = path_of("r.jsonl");
  char one[256];
  snprintf(one, sizeof one, "%s/r.jsonl.1", scratch);
  cr_assert_eq(rename(cur, one), 0);
  st = store_open(scratch, "r", 1000, 2, &cause);
  cr_assert_eq(store_last_seq(st), 30, "seq from the rotated file");
  cr_assert_eq(append_range(st, 31, 31, 60), 0);
  store_close(st);
}

/* Writes raw bytes at the end of a file, as a crash mid-write would. */
static void
append_raw(const char *path, const char *bytes, size_t len)
{
  int fd = open(path, O_WRONLY | O_APPEND);
  cr_assert_geq(fd, 0);
  cr_assert_eq(write(fd, bytes, len), (ssize_t)len);
  close(fd);
}

Test(store, torn_last_line_is_cut_and_reported)
{
  char *cause = NULL;
  struct store *st = store_open(scratch, "db", 0, 3, &cause);
  cr_assert_eq(append_range(st, 1, 5, 30), 0);
  store_close(st);
  const char torn[] =
      "{\"seq\":6,\"ts\":1,\"run\":1,\"stream\":\"stdout\",\"da";
  append_raw(path_of("db.jsonl"), torn, sizeof torn - 1);

  st = store_open(scratch, "db", 0, 3, &cause);
  cr_assert_not_null(st);
  cr_assert_eq(store_truncated_bytes(st), (int64_t)(sizeof torn - 1));
  char *note = store_take_recovery_note(st);
  cr_assert_not_null(note);
  cr_assert_not_null(strstr(note, "db.jsonl"));
  cr_assert_not_null(strstr(note, "cut 45 bytes"), "%s", note);
  cr_assert_eq(sizeof torn - 1, 45);
  free(note);
  cr_assert_null(store_take_recovery_note(st));
  cr_assert_eq(store_last_seq(st), 5);
  cr_assert_eq(append_range(st, 6, 8, 30), 0);
  store_close(st);
  uint64_t last;
  cr_assert_eq(check_file(path_of("db.jsonl"), &last), 1);
  cr_assert_eq(last, 8);
}

Test(store, garbage_and_zeroed_tails_are_cut)
{
  char *cause = NULL;
  struct store *st = store_open(scratch, "g", 0, 3, &cause);
  cr_assert_eq(append_range(st, 1, 3, 30), 0);
  store_close(st);
  /* A whole line that is not JSON, then NULs as after a power loss. */
  append_raw(path_of("g.jsonl"), "not json at all\n", 16);
  char zeros[100] = {0};
  append_raw(path_of("g.jsonl"), zeros, sizeof zeros);
  st = store_open(scratch, "g", 0, 3, &cause);
  cr_assert_eq(store_truncated_bytes(st), 116);
  cr_assert_eq(store_last_seq(st), 3);
  cr_assert_eq(append_range(st, 4, 4, 30), 0);
  store_close(st);
  uint64_t last;
  cr_assert_eq(check_file(path_of("g.jsonl"), &last), 1);
  cr_assert_eq(last, 4);
}

Test(store, event_lines_recover_too)
{
  char *cause = NULL;
  struct store *st = store_open(scratch, "events", 0, 3, &cause);
  const char *e1 = "{\"seq\":1,\"ts\":5,\"type\":\"daemon_started\"}";
  const char *e2 = "{\"seq\":2,\"ts\":6,\"type\":\"state\",\"run\":4}";
  cr_assert_eq(store_append(st, 1, e1, strlen(e1)), 0);
  cr_assert_eq(store_append(st, 2, e2, strlen(e2)), 0);
  store_close(st);
  st = store_open(scratch, "events", 0, 3, &cause);
  cr_assert_eq(store_truncated_bytes(st), 0);
  cr_assert_eq(store_last_seq(st), 2);
  cr_assert_eq(store_last_run(st), 4);
  store_close(st);
}

Test(store, bisection_over_a_large_file)
{
  char *cause = NULL;
  struct store *st = store_open(scratch, "big", 0, 3, &cause);
  struct buf b = BUF_ZERO;
  srand(99);
  for (uint64_t s = 1; s <= 20000; s++) {
    make_line(&b, s, 1, 1 + (size_t)rand() % (s % 100 == 0 ? 4000 : 300));
    cr_assert_eq(store_append(st, s, b.data, b.len), 0);
  }
  buf_free(&b);
  store_close(st);
  st = store_open(scratch, "big", 0, 3, &cause);
  for (int k = 0; k < 300; k++) {
    uint64_t after = (uint64_t)rand() % 20000;
    struct got *g = got_new();
    size_t n = store_read_after(st, after, 2, collect, g);
    uint64_t want = 20000 - after < 2 ? 20000 - after : 2;
    cr_assert_eq(n, want);
    expect_range(g, after + 1, after + want);
    got_free(g);
  }
  store_close(st);
}

Test(store, bad_paths_fail_with_a_cause)
{
  char *cause = NULL;
  cr_assert_null(store_open(scratch, "a/b", 0, 3, &cause));
  cr_assert_not_null(cause);
  free(cause);
  cause = NULL;
  int fd = open(path_of("file"), O_CREAT | O_WRONLY, 0644);
  cr_assert_geq(fd, 0);
  close(fd);
  char sub[256];
  snprintf(sub, sizeof sub, "%s/file/deeper", scratch);
  cr_assert_null(store_open(sub, "x", 0, 3, &cause));
  cr_assert_not_null(strstr(cause, "deeper"), "%s", cause);
  free(cause);
}

/* The disk fills up (RLIMIT_FSIZE makes write fail with EFBIG once the
 * file would pass 4 KiB); lines wait in memory and go out in order later. */
Test(store, full_disk_backlog_and_retry_with_fsize_limit)
{
  char *cause = NULL;
  struct store *st = store_open(scratch, "full", 0, 3, &cause);
  cr_assert_not_null(st, "%s", cause);
  signal(SIGXFSZ, SIG_IGN);
  struct rlimit old, lim;
  getrlimit(RLIMIT_FSIZE, &old);
  lim = old;
  lim.rlim_cur = 4096;
  cr_assert_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);

  struct buf b = BUF_ZERO;
  uint64_t s = 1, first_err = 0;
  int rc = 0;
  for (; s <= 200; s++) {
    make_line(&b, s, 1, 100);
    rc = store_append(st, s, b.data, b.len);
    if (rc < 0 && !first_err)
      first_err = s;
    if (first_err)
      cr_assert_eq(rc, -EFBIG, "seq %llu: %d", (unsigned long long)s, rc);
  }
  cr_assert_gt(first_err, 1);
  cr_assert_eq(store_error(st), -EFBIG);
  cr_assert_eq(store_last_seq(st), 200);
  cr_assert_gt(store_backlog_bytes(st), 0);
  /* Nothing torn on disk; the backlog is still readable. */
  uint64_t last;
  cr_assert_eq(check_file(path_of("full.jsonl"), &last), 1);
  cr_assert_eq(last, first_err - 1);
  struct got *g = got_new();
  cr_assert_eq(store_read_after(st, 0, 1000, collect, g), 200);
  expect_range(g, 1, 200);
  got_free(g);
  cr_assert_eq(store_retry(st), -EFBIG, "still full");

  /* Space again: the backlog goes out in order, then appends go on. */
  cr_assert_eq(setrlimit(RLIMIT_FSIZE, &old), 0);
  cr_assert_eq(store_retry(st), 0);
  cr_assert_eq(store_error(st), 0);
  cr_assert_eq(store_backlog_bytes(st), 0);
  make_line(&b, 201, 1, 100);
  cr_assert_eq(store_append(st, 201, b.data, b.len), 0);
  buf_free(&b);
  store_close(st);
  cr_assert_eq(check_file(path_of("full.jsonl"), &last), 1);
  cr_assert_eq(last, 201);
  st = store_open(scratch, "full", 0, 3, &cause);
  g = got_new();
  cr_assert_eq(store_read_after(st, 0, 1000, collect, g), 201);
  expect_range(g, 1, 201);
  got_free(g);
  store_close(st);
}

Test(store, backlog_hard_cap_drops_but_stays_appendable)
{
  char *cause = NULL;
  struct store *st = store_open(scratch, "cap", 0, 3, &cause);
  signal(SIGXFSZ, SIG_IGN);
  struct rlimit old, lim;
  getrlimit(RLIMIT_FSIZE, &old);
  lim = old;
  lim.rlim_cur = 0;
  cr_assert_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
  size_t big = (size_t)1 << 20;
  char *line = malloc(big);
  memset(line, 'x', big);
  uint64_t s = 1;
  int rc;
  while ((rc = store_append(st, s, line, big)) != -ENOBUFS) {
    cr_assert_eq(rc, -EFBIG);
    s++;
  }
  /* The dropped line spends its seq: the next one is still accepted (a
   * gap readers can see, never a log stuck on a seq it cannot get). */
  cr_assert_eq(store_last_seq(st), s, "the dropped line's seq is spent");
  cr_assert_leq(store_backlog_bytes(st), STORE_BACKLOG_MAX);
  cr_assert_eq(store_append(st, s + 1, "{\"seq\":0}", 9), -ENOBUFS);
  cr_assert_eq(store_last_seq(st), s + 1);
  free(line);
  store_close(st);
}

/* A real full filesystem: a 64 KiB tmpfs (root only; skipped otherwise). */
Test(store, full_tmpfs_backlog_and_retry)
{
  char mnt[256];
  snprintf(mnt, sizeof mnt, "%s/mnt", scratch);
  cr_assert_eq(mkdir(mnt, 0755), 0);
  if (mount("tmpfs", mnt, "tmpfs", 0, "size=64k") < 0)
    cr_skip_test("cannot mount a tmpfs (%s): needs root", strerror(errno));
  char filler[300], dir[300];
  snprintf(filler, sizeof filler, "%s/filler", mnt);
  snprintf(dir, sizeof dir, "%s/output", mnt);
  char *cause = NULL;
  struct store *st = store_open(dir, "api", 0, 3, &cause);
  cr_assert_not_null(st, "%s", cause);
  cr_assert_eq(append_range(st, 1, 10, 200), 0);
  /* Fill the rest of the filesystem. */
  int fd = open(filler, O_WRONLY | O_CREAT, 0644);
  char block[4096];
  memset(block, 'f', sizeof block);
  while (write(fd, block, sizeof block) > 0)
    ;
  while (write(fd, block, 1) > 0)
    ;
  close(fd);

  struct buf b = BUF_ZERO;
  int rc = 0;
  uint64_t s = 11;
  for (; s <= 60; s++) {
    make_line(&b, s, 1, 200);
    rc = store_append(st, s, b.data, b.len);
    cr_assert(rc == 0 || rc == -ENOSPC, "rc %d", rc);
  }
  cr_assert_eq(rc, -ENOSPC);
  cr_assert_eq(store_error(st), -ENOSPC);
  cr_assert_gt(store_backlog_bytes(st), 0);
  char cur[320];
  snprintf(cur, sizeof cur, "%s/api.jsonl", dir);
  uint64_t last;
  cr_assert_eq(check_file(cur, &last), 1, "no torn line on a full disk");
  cr_assert_eq(store_retry(st), -ENOSPC);

  cr_assert_eq(unlink(filler), 0);
  cr_assert_eq(store_retry(st), 0);
  cr_assert_eq(store_backlog_bytes(st), 0);
  cr_assert_eq(append_range(st, 61, 62, 200), 0);
  store_close(st);
  cr_assert_eq(check_file(cur, &last), 1);
  cr_assert_eq(last, 62, "every line, in order, no gap");
  buf_free(&b);
  umount2(mnt, MNT_DETACH);
}

/* Opening on a full disk starts in the error state instead of failing. */
Test(store, open_on_a_full_disk_starts_in_error_state)
{
  char mnt[256];
  snprintf(mnt, sizeof mnt, "%s/mnt", scratch);
  cr_assert_eq(mkdir(mnt, 0755), 0);
  if (mount("tmpfs", mnt, "tmpfs", 0, "size=16k,nr_inodes=2") < 0)
    cr_skip_test("cannot mount a tmpfs (%s): needs root", strerror(errno));
  char filler[300];
  snprintf(filler, sizeof filler, "%s/filler", mnt);
  int fd = open(filler, O_WRONLY | O_CREAT, 0644); /* the last inode */
  cr_assert_geq(fd, 0);
  close(fd);
  char *cause = NULL;
  struct store *st = store_open(mnt, "ev", 0, 3, &cause);
  cr_assert_not_null(st, "%s", cause);
  cr_assert_eq(store_error(st), -ENOSPC);
  cr_assert_eq(store_last_seq(st), 0);
  const char *e1 = "{\"seq\":1,\"ts\":5,\"type\":\"persist_error\"}";
  cr_assert_eq(store_append(st, 1, e1, strlen(e1)), -ENOSPC);
  cr_assert_eq(store_retry(st), -ENOSPC);
  cr_assert_eq(unlink(filler), 0);
  cr_assert_eq(store_retry(st), 0);
  store_close(st);
  char cur[320];
  snprintf(cur, sizeof cur, "%s/ev.jsonl", mnt);
  size_t len;
  char *text = slurp(cur, &len);
  cr_assert_str_eq(text, "{\"seq\":1,\"ts\":5,\"type\":\"persist_error\"}\n");
  free(text);
  umount2(mnt, MNT_DETACH);
}

/* Issue 11: seqs rotated away are gone for every reader at once. The tail
 * still held them and served them until a restart; now the answer depends
 * only on the kept files, the same before and after a reopen. */
Test(store, rotated_away_seqs_are_gone_from_the_tail_too)
{
  char *cause = NULL;
  struct store *st = store_open(scratch, "rot", 2000, 1, &cause);
  cr_assert_not_null(st, "%s", cause);
  cr_assert_eq(store_first_seq(st), 1, "an empty log starts at 1");
  cr_assert_eq(append_range(st, 1, 200, 60), 0);
  uint64_t last1, last0;
  uint64_t first = check_file(path_of("rot.jsonl.1"), &last1);
  cr_assert_eq(check_file(path_of("rot.jsonl"), &last0), last1 + 1);
  cr_assert_gt(first, 2, "something was rotated away");
  cr_assert_eq(store_first_seq(st), first);

  for (int reopen = 0; reopen < 2; reopen++) {
    for (uint64_t after = 0; after < first; after += first / 3 + 1) {
      struct got *g = got_new();
      cr_assert_eq(store_read_after(st, after, 5, collect, g), 5);
      expect_range(g, first, first + 4);
      got_free(g);
    }
    struct got *g = got_new();
    store_read_after(st, 0, 100000, collect, g);
    expect_range(g, first, 200);
    got_free(g);
    store_close(st);
    st = store_open(scratch, "rot", 2000, 1, &cause);
    cr_assert_not_null(st, "%s", cause);
    cr_assert_eq(store_first_seq(st), first, "reopen %d", reopen);
  }
  store_close(st);
}

Test(store, first_seq_with_keep_zero_is_the_current_file)
{
  char *cause = NULL;
  struct store *st = store_open(scratch, "k0", 1000, 0, &cause);
  cr_assert_eq(append_range(st, 1, 100, 60), 0);
  uint64_t last;
  uint64_t first = check_file(path_of("k0.jsonl"), &last);
  cr_assert_gt(first, 1);
  cr_assert_eq(store_first_seq(st), first);
  struct got *g = got_new();
  cr_assert_eq(store_read_after(st, 0, 1000, collect, g), 100 - first + 1);
  expect_range(g, first, 100);
  got_free(g);
  store_close(st);
}

/* The hard cap drops a line but spends its seq: the rings then have a hole,
 * and reading across it must neither hang nor shift (the ring used to find
 * a seq by arithmetic, which looped forever on a read starting past the
 * hole). */
Test(store, reading_across_a_dropped_line, .timeout = 20)
{
  char *cause = NULL;
  struct store *st = store_open(scratch, "hole", 0, 3, &cause);
  signal(SIGXFSZ, SIG_IGN);
  struct rlimit old, lim;
  getrlimit(RLIMIT_FSIZE, &old);
  lim = old;
  lim.rlim_cur = 0;
  cr_assert_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
  size_t big = ((size_t)1 << 20) - 100;
  char *line = malloc(big);
  uint64_t s = 1;
  int rc;
  for (;; s++) {
    int n =
        snprintf(line, big, "{\"seq\":%llu,\"d\":\"", (unsigned long long)s);
    memset(line + n, 'x', big - (size_t)n - 2);
    memcpy(line + big - 2, "\"}", 2);
    rc = store_append(st, s, line, big);
    if (rc == -ENOBUFS)
      break;
    cr_assert_eq(rc, -EFBIG);
  }
  uint64_t dropped = s;
  char small[64];
  int n = snprintf(small, sizeof small, "{\"seq\":%llu}",
                   (unsigned long long)(dropped + 1));
  cr_assert_eq(store_append(st, dropped + 1, small, (size_t)n), -EFBIG);
  n = snprintf(small, sizeof small, "{\"seq\":%llu}",
               (unsigned long long)(dropped + 2));
  cr_assert_eq(store_append(st, dropped + 2, small, (size_t)n), -EFBIG);

  struct got *g = got_new();
  cr_assert_eq(store_read_after(st, dropped - 1, 10, collect, g), 2);
  cr_assert_eq(g->seq[0], dropped + 1, "the hole is skipped");
  got_free(g);
  g = got_new();
  cr_assert_eq(store_read_after(st, dropped, 10, collect, g), 2);
  cr_assert_eq(g->seq[0], dropped + 1, "not shifted past the hole");
  cr_assert_eq(g->seq[1], dropped + 2);
  got_free(g);
  g = got_new();
  cr_assert_eq(store_read_after(st, dropped + 1, 10, collect, g), 1);
  cr_assert_eq(g->seq[0], dropped + 2);
  got_free(g);
  g = got_new();
  cr_assert_eq(store_read_after(st, dropped - 3, 3, collect, g), 3);
  cr_assert_eq(g->seq[0], dropped - 2);
  cr_assert_eq(g->seq[1], dropped - 1);
  cr_assert_eq(g->seq[2], dropped + 1);
  got_free(g);
  cr_assert_eq(setrlimit(RLIMIT_FSIZE, &old), 0);
  free(line);
  store_close(st);
}

/* Issue 13, item 9: rotation never touches another log's file. Runner
 * "x.1" used to share x.1.jsonl with x's first rotated file. */
Test(store, rotated_files_never_share_a_name_with_another_log)
{
  char *cause = NULL;
  struct store *x1 = store_open(scratch, "x.1", 0, 3, &cause);
  struct store *x = store_open(scratch, "x", 1000, 3, &cause);
  uint64_t last;

  cr_assert_not_null(x1, "%s", cause);
  cr_assert_not_null(x, "%s", cause);
  cr_assert_eq(append_range(x1, 1, 3, 60), 0);
  cr_assert_eq(append_range(x, 1, 200, 60), 0);
  cr_assert_eq(check_file(path_of("x.1.jsonl"), &last), 1);
  cr_assert_eq(last, 3, "x.1's own log is intact");
  store_close(x);
  store_close(x1);
  char *p = store_rotated_path("/s/output", "x", 2);
  cr_assert_str_eq(p, "/s/output/x.jsonl.2");
  free(p);
  p = store_rotated_path("/s/output", "x", 0);
  cr_assert_str_eq(p, "/s/output/x.jsonl");
  free(p);
}

/* Issue 13, items 1 and 3: a symlink where a log goes is never written
 * through, and files are created 0600 whatever the umask. */
Test(store, symlinks_are_not_followed_and_files_are_private)
{
  char victim[128], *cause = NULL;
  struct stat sb;
  mode_t old = umask(0);

  snprintf(victim, sizeof victim, "%s/victim", scratch);
  int fd = open(victim, O_WRONLY | O_CREAT, 0600);
  cr_assert_eq(write(fd, "keep\n", 5), 5);
  close(fd);
  cr_assert_eq(symlink(victim, path_of("s.jsonl")), 0);
  cr_assert_null(store_open(scratch, "s", 0, 3, &cause));
  cr_assert(strstr(cause, "s.jsonl"), "%s", cause);
  free(cause);
  cause = NULL;
  cr_assert_eq(stat(victim, &sb), 0);
  cr_assert_eq(sb.st_size, 5, "the victim was not touched");

  struct store *st = store_open(scratch, "p", 0, 3, &cause);
  cr_assert_not_null(st, "%s", cause);
  cr_assert_eq(append_range(st, 1, 2, 60), 0);
  store_close(st);
  cr_assert_eq(stat(path_of("p.jsonl"), &sb), 0);
  cr_assert_eq(sb.st_mode & 07777, 0600);
  umask(old);
}
