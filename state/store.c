/* store: an append-only JSON-lines log per name.
 *
 * Design. The current file is opened O_APPEND and each line goes out with
 * one writev (line + '\n'), so the hot path is one syscall and no copy.
 * The store remembers `size`, the length of the file up to its last whole
 * line: a short or failed write is completed or cut back to it with
 * ftruncate, so a torn line never stays in front of later ones (and when
 * even ftruncate fails, `dirty` makes the next write cut first).
 *
 * Memory: every appended line is a refcounted `struct line`, held by the
 * tail (the newest lines, bounded by bytes and count, for fast reads of
 * what live readers just missed) and, while the disk fails, also by the
 * backlog (a FIFO in seq order that store_retry writes out). Both are
 * rings of pointers with contiguous seqs, so finding a seq is arithmetic.
 *
 * Reading older lines goes to the files: the newest file whose first seq
 * is not past the wanted one is bisected on byte offsets (each probe reads
 * the seq at the start of the next line), then read forward in big blocks.
 *
 * What readers can get is exactly what the files (and the backlog) hold,
 * from `first` on: `first` is the first seq of the oldest kept file, found
 * at open and again after each rotation, and the tail drops what is older.
 * So a reader asking for a rotated-away seq gets the same answer from a
 * daemon that just rotated as from one that restarted since (issue 11:
 * the tail used to serve seqs the disk no longer had). The rings may have
 * holes (a line dropped at the backlog cap spends its seq), so a seq is
 * found by bisection, not by arithmetic.
 *
 * Recovery: at open (and whenever the file is reopened) trailing lines
 * that are torn or do not parse as a JSON object with an integer seq are
 * cut. Any JSON object with a seq is accepted, so the event log (whose
 * lines are events, not chunks) recovers the same way. */
#include "state/store.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "src/log.h"
#include "src/xalloc.h"
#include "state/jsonl.h"
#include "state/statedir.h"

#define SCAN_BLOCK ((size_t)16 << 10)
#define READ_BLOCK ((size_t)256 << 10)

/* One appended line, shared by the tail and the backlog. */
struct line {
  unsigned refs;
  uint64_t seq;
  size_t len;
  char *data; /* owned, no '\n' */
};

/* A FIFO of lines with contiguous seqs. */
struct ring {
  struct line **v;
  size_t cap, head, count, bytes;
};

struct store {
  char *dir, *name, *path; /* path: the current file's, for messages */
  int64_t max_bytes;
  int keep;
  int fd;       /* current file, -1 while closed by an error */
  int64_t size; /* current file length up to its last whole line */
  int dirty;    /* the file may hold bytes past size (cut before writing) */
  uint64_t last_seq, last_run;
  uint64_t first; /* oldest seq readers can get (last_seq + 1: none) */
  int64_t truncated, truncated_noted;
  int error;               /* negative errno while in the error state */
  int rotate_error;        /* last rotation failure, to log it once */
  int64_t rotate_retry_at; /* after a failed rotation: size to retry at */
  struct ring tail, backlog;
  uint64_t appended; /* bytes of lines taken since open (for /metrics) */
};

/* ------------------------------------------------------------ lines, rings */

/* Returns a new line holding data (stolen). */
static struct line *
line_new(uint64_t seq, char *data, size_t len)
{
  struct line *ln = xmalloc(sizeof *ln);
  ln->refs = 0;
  ln->seq = seq;
  ln->len = len;
  ln->data = data;
  return ln;
}

/* Drops one reference; frees the line with the last. */
static void
line_unref(struct line *ln)
{
  if (ln->refs > 1) {
    ln->refs--;
    return;
  }
  free(ln->data);
  free(ln);
}

/* The i-th oldest line of r. */
static struct line *
ring_at(const struct ring *r, size_t i)
{
  return r->v[(r->head + i) % r->cap];
}

/* Appends ln to r, taking a reference. */
static void
ring_push(struct ring *r, struct line *ln)
{
  if (r->count == r->cap) {
    size_t cap = r->cap ? r->cap * 2 : 64;
    struct line **v = xmalloc(cap * sizeof *v);
    for (size_t i = 0; i < r->count; i++)
      v[i] = ring_at(r, i);
    free(r->v);
    r->v = v;
    r->cap = cap;
    r->head = 0;
  }
  r->v[(r->head + r->count) % r->cap] = ln;
  r->count++;
  r->bytes += ln->len;
  ln->refs++;
}

/* Removes the oldest line of r, dropping its reference. */
static void
ring_pop(struct ring *r)
{
  struct line *ln = r->v[r->head];
  r->head = (r->head + 1) % r->cap;
  r->count--;
  r->bytes -= ln->len;
  line_unref(ln);
}

/* Empties r and frees its array. */
static void
ring_clear(struct ring *r)
{
  while (r->count)
    ring_pop(r);
  free(r->v);
  memset(r, 0, sizeof *r);
}

/* 1 when seq is within r's range (r may lack it when it fell in a hole:
 * reading then goes on from the next line r holds). */
static int
ring_covers(const struct ring *r, uint64_t seq)
{
  return r->count && ring_at(r, 0)->seq <= seq &&
         seq <= ring_at(r, r->count - 1)->seq;
}

/* The index of the oldest line of r with a seq >= seq (r->count: none). */
static size_t
ring_find(const struct ring *r, uint64_t seq)
{
  size_t lo = 0, hi = r->count;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (ring_at(r, mid)->seq < seq)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

/* ------------------------------------------------------------ file helpers */

/* 1 for errors that mean "the disk is in trouble now" (retry later), as
 * opposed to a wrong path. */
static int
disk_trouble(int err)
{
  switch (-err) {
  case EACCES:
  case EPERM:
  case EROFS:
  case ENOSPC:
  case EDQUOT:
  case EIO:
  case EFBIG:
  case EMFILE:
  case ENFILE:
  case ENOMEM:
    return 1;
  default:
    return 0;
  }
}

/* Opens the store's folder (creating it, mode 0700) through
 * statedir_open_dir: below the state folder no component is reached
 * through a symlink. Returns a new descriptor or -errno. It is opened for
 * each use and closed after, not held: a daemon with many runners on a
 * low descriptor limit must not spend one per log on it. */
static int
store_dir(const struct store *st)
{
  return statedir_open_dir(st->dir);
}

/* Reads len bytes at off (fewer at EOF); returns the count or -errno. */
static ssize_t
pread_full(int fd, char *buf, size_t len, int64_t off)
{
  size_t done = 0;
  while (done < len) {
    ssize_t n = pread(fd, buf + done, len - done, (off_t)(off + done));
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return -errno;
    if (n == 0)
      break;
    done += (size_t)n;
  }
  return (ssize_t)done;
}

/* The name of file i in the store's folder (0: the current file).
 * Rotated files end in a digit and current ones in ".jsonl", so no
 * runner's log can ever be another's rotated file (issue 13, item 9:
 * runner "x.1" used to share "x.1.jsonl" with x's first rotation). */
static char *
file_name(const char *name, int i)
{
  if (i == 0)
    return xasprintf("%s.jsonl", name);
  return xasprintf("%s.jsonl.%d", name, i);
}

char *
store_rotated_path(const char *dir, const char *name, int i)
{
  char *base = file_name(name, i);
  char *path = xasprintf("%s/%s", dir, base);
  free(base);
  return path;
}

/* Opens file i of the store read-only, never through a symlink. Returns
 * a descriptor or -errno. */
static int
open_file(const struct store *st, int i)
{
  char *path = store_rotated_path(st->dir, st->name, i);
  const char *base;
  int dfd = statedir_open_parent(path, &base), fd = -1, err = 0;

  if (dfd >= 0) { /* reading creates nothing, the folder included */
    fd = openat(dfd, base, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    err = errno;
    close(dfd);
  }
  free(path);
  return dfd < 0 ? dfd : fd < 0 ? -err : fd;
}

/* Finds where the line ending at end starts: just after the last '\n'
 * before end - 1 (end - 1 holds the line's own terminator, if any). */
static int
line_start(int fd, int64_t end, int64_t *start)
{
  char buf[SCAN_BLOCK];
  int64_t pos = end - 1;
  while (pos > 0) {
    size_t n = pos < (int64_t)sizeof buf ? (size_t)pos : sizeof buf;
    int64_t off = pos - (int64_t)n;
    ssize_t got = pread_full(fd, buf, n, off);
    if (got < 0)
      return (int)got;
    if ((size_t)got < n)
      return -EIO; /* the file shrank under us */
    char *nl = memrchr(buf, '\n', n);
    if (nl) {
      *start = off + (nl - buf) + 1;
      return 0;
    }
    pos = off;
  }
  *start = 0;
  return 0;
}

/* 0 when line is a JSON object with an integer "seq" >= 1 (its seq and
 * "run", 0 when absent, in *seq and *run), else -EINVAL. */
static int
check_line(const char *line, size_t len, uint64_t *seq, uint64_t *run)
{
  json_t *o = json_loadb(line, len, JSON_ALLOW_NUL, NULL);
  json_t *s = json_object_get(o, "seq"), *r = json_object_get(o, "run");
  int ok = json_is_integer(s) && json_integer_value(s) > 0;
  if (ok) {
    *seq = (uint64_t)json_integer_value(s);
    *run = json_is_integer(r) && json_integer_value(r) > 0
               ? (uint64_t)json_integer_value(r)
               : 0;
  }
  json_decref(o);
  return ok ? 0 : -EINVAL;
}

/* Finds the last valid line of fd: *end is where it ends (0: none) and
 * *seq, *run its values. With cut, what follows it is cut off and its
 * length added to *cut_bytes. */
static int
scan_file(int fd, int cut, int64_t *end, int64_t *cut_bytes, uint64_t *seq,
          uint64_t *run)
{
  struct stat sb;
  if (fstat(fd, &sb) < 0)
    return -errno;
  int64_t keep_end = sb.st_size;
  *seq = *run = 0;
  while (keep_end > 0) {
    int64_t start;
    int rc = line_start(fd, keep_end, &start);
    if (rc < 0)
      return rc;
    size_t len = (size_t)(keep_end - start);
    char *buf = xmalloc(len);
    ssize_t got = pread_full(fd, buf, len, start);
    int ok = got == (ssize_t)len && buf[len - 1] == '\n' &&
             check_line(buf, len - 1, seq, run) == 0;
    free(buf);
    if (got < 0)
      return (int)got;
    if (ok)
      break;
    keep_end = start;
  }
  if (cut && keep_end < sb.st_size) {
    if (ftruncate(fd, keep_end) < 0)
      return -errno;
    *cut_bytes += sb.st_size - keep_end;
  }
  *end = keep_end;
  return 0;
}

/* Raises last_seq / last_run to what a file's last line says. */
static void
note_found(struct store *st, uint64_t seq, uint64_t run)
{
  if (seq > st->last_seq)
    st->last_seq = seq;
  if (run > st->last_run)
    st->last_run = run;
}

/* Opens (creating) the current file for appending and cuts a torn end. */
static int
open_current(struct store *st)
{
  int dfd = store_dir(st), rc;
  if (dfd < 0)
    return dfd;
  char *base = file_name(st->name, 0);
  int fd = openat(dfd, base,
                  O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
  int err = errno;
  free(base);
  close(dfd);
  if (fd < 0)
    return -err;
  struct stat sb;
  if (fstat(fd, &sb) == 0 && (sb.st_mode & 077))
    fchmod(fd, sb.st_mode & 0700); /* a log of an older tend: 0644 */
  int64_t end = 0, cut = 0;
  uint64_t seq = 0, run = 0;
  rc = scan_file(fd, 1, &end, &cut, &seq, &run);
  if (rc < 0) {
    close(fd);
    return rc;
  }
  if (cut > 0) {
    st->truncated += cut;
    log_warn("%s: cut %lld bytes of a torn or unreadable last line", st->path,
             (long long)cut);
  }
  st->fd = fd;
  st->size = end;
  st->dirty = 0;
  note_found(st, seq, run);
  return 0;
}

/* Reads the last seq and run of file i without changing it. Returns 0
 * (also when it does not exist) or -errno. */
static int
peek_file(struct store *st, int i, int64_t *end)
{
  int fd = open_file(st, i);
  *end = 0;
  if (fd < 0)
    return fd == -ENOENT ? 0 : fd;
  int64_t cut = 0;
  uint64_t seq, run;
  int rc = scan_file(fd, 0, end, &cut, &seq, &run);
  close(fd);
  if (rc == 0)
    note_found(st, seq, run);
  return rc;
}

static uint64_t first_seq(const struct store *st, int i);

/* Finds the oldest seq readers can get: the first line of the oldest kept
 * file, else the oldest line waiting in the backlog, else the next seq. */
static void
find_first(struct store *st)
{
  for (int i = st->keep; i >= 0; i--) {
    uint64_t seq = first_seq(st, i);
    if (seq > 0) {
      st->first = seq;
      return;
    }
  }
  st->first =
      st->backlog.count ? ring_at(&st->backlog, 0)->seq : st->last_seq + 1;
}

/* ---------------------------------------------------------------- open */

struct store *
store_open(const char *dir, const char *name, int64_t max_bytes, int keep,
           char **cause)
{
  if (!dir || !*dir || !name || !*name || strchr(name, '/')) {
    *cause = xasprintf("store: bad log name '%s' in '%s'", name ? name : "",
                       dir ? dir : "");
    return NULL;
  }
  struct store *st = xcalloc(1, sizeof *st);
  st->dir = xstrdup(dir);
  st->name = xstrdup(name);
  st->path = store_rotated_path(dir, name, 0);
  st->max_bytes = max_bytes;
  st->keep = keep > 0 ? keep : 0;
  st->fd = -1;

  int64_t end;
  for (int i = 1; i <= st->keep; i++) {
    int rc = peek_file(st, i, &end);
    if (rc < 0) {
      char *path = store_rotated_path(dir, name, i);
      *cause = xasprintf("%s: %s", path, strerror(-rc));
      free(path);
      goto fail;
    }
  }
  int rc = open_current(st);
  if (rc < 0 && disk_trouble(rc)) {
    /* Learn the seq from what is readable, write later. */
    int rrc = peek_file(st, 0, &end);
    if (rrc < 0) {
      *cause = xasprintf("%s: %s", st->path, strerror(-rrc));
      goto fail;
    }
    st->size = end;
    st->error = rc;
    log_warn("%s: %s; keeping lines in memory until it is writable", st->path,
             strerror(-rc));
  } else if (rc < 0) {
    *cause = xasprintf("%s: %s", st->path, strerror(-rc));
    goto fail;
  }
  find_first(st);
  return st;
fail:
  store_close(st);
  return NULL;
}

void
store_close(struct store *st)
{
  if (!st)
    return;
  if (st->backlog.count)
    log_warn("%s: %zu lines (%zu bytes) never reached the disk", st->path,
             st->backlog.count, st->backlog.bytes);
  if (st->fd >= 0)
    close(st->fd);
  ring_clear(&st->tail);
  ring_clear(&st->backlog);
  free(st->dir);
  free(st->name);
  free(st->path);
  free(st);
}

uint64_t
store_last_seq(const struct store *st)
{
  return st->last_seq;
}

uint64_t
store_first_seq(const struct store *st)
{
  return st->first;
}

uint64_t
store_last_run(const struct store *st)
{
  return st->last_run;
}

int64_t
store_truncated_bytes(const struct store *st)
{
  return st->truncated;
}

char *
store_take_recovery_note(struct store *st)
{
  int64_t cut = st->truncated - st->truncated_noted;
  if (cut <= 0)
    return NULL;
  st->truncated_noted = st->truncated;
  return xasprintf("%s: cut %lld bytes of a torn or unreadable last line",
                   st->path, (long long)cut);
}

size_t
store_backlog_bytes(const struct store *st)
{
  return st->backlog.bytes;
}

int
store_error(const struct store *st)
{
  return st->error;
}

/* --------------------------------------------------------------- writing */

/* Shifts the files one step older (.keep-1 -> .keep, ..., current -> .1)
 * and opens a new current file. On failure the current file goes on
 * growing, and the failure is logged once and retried later. */
static void
rotate(struct store *st)
{
  int rc = 0;
  char *cur = file_name(st->name, 0);
  int dfd = store_dir(st);
  if (dfd < 0)
    rc = dfd;
  /* renameat replaces a symlink at the target, never writes through it. */
  for (int i = st->keep - 1; i >= 1 && rc == 0; i--) {
    char *from = file_name(st->name, i), *to = file_name(st->name, i + 1);
    if (renameat(dfd, from, dfd, to) < 0 && errno != ENOENT)
      rc = -errno;
    free(from);
    free(to);
  }
  if (rc == 0 && st->keep > 0) {
    char *to = file_name(st->name, 1);
    if (renameat(dfd, cur, dfd, to) < 0)
      rc = -errno;
    free(to);
  } else if (rc == 0 && unlinkat(dfd, cur, 0) < 0) {
    rc = -errno;
  }
  free(cur);
  if (dfd >= 0)
    close(dfd);
  if (rc < 0) {
    if (rc != st->rotate_error)
      log_warn("%s: cannot rotate: %s", st->path, strerror(-rc));
    st->rotate_error = rc;
    st->rotate_retry_at = st->size + st->max_bytes / 16 + 1;
    return;
  }
  st->rotate_error = 0;
  st->rotate_retry_at = 0;
  close(st->fd);
  st->fd = -1;
  rc = open_current(st);
  if (rc < 0)
    log_warn("%s: cannot reopen after rotation: %s", st->path, strerror(-rc));
  /* The oldest file is gone: so are its lines, for every reader. */
  find_first(st);
  while (st->tail.count && ring_at(&st->tail, 0)->seq < st->first)
    ring_pop(&st->tail);
}

/* Writes ln + '\n' at the end of the current file, rotating first when it
 * would pass max_bytes. On failure nothing of the line stays in the file
 * (or `dirty` says it must be cut before the next write). */
static int
write_line(struct store *st, const struct line *ln)
{
  int rc;
  if (st->fd < 0 && (rc = open_current(st)) < 0)
    return rc;
  if (st->dirty) {
    if (ftruncate(st->fd, st->size) < 0)
      return -errno;
    st->dirty = 0;
  }
  int64_t total = (int64_t)ln->len + 1;
  if (st->max_bytes > 0 && st->size > 0 && st->size + total > st->max_bytes &&
      st->size >= st->rotate_retry_at) {
    rotate(st);
    if (st->fd < 0 && (rc = open_current(st)) < 0)
      return rc;
  }
  int64_t done = 0;
  while (done < total) {
    struct iovec v[2];
    int nv = 0;
    if (done < (int64_t)ln->len)
      v[nv++] = (struct iovec){ln->data + done, ln->len - (size_t)done};
    v[nv++] = (struct iovec){(char *)"\n", 1};
    ssize_t n = writev(st->fd, v, nv);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      rc = n < 0 ? -errno : -EIO;
      if (done > 0 && ftruncate(st->fd, st->size) < 0)
        st->dirty = 1;
      return rc;
    }
    done += n;
  }
  st->size += total;
  return 0;
}

/* Keeps ln in the tail, dropping the oldest lines past its bounds. */
static void
tail_push(struct store *st, struct line *ln)
{
  ring_push(&st->tail, ln);
  while (st->tail.count > 1 && (st->tail.count > STORE_TAIL_LINES ||
                                st->tail.bytes > STORE_TAIL_BYTES))
    ring_pop(&st->tail);
}

/* Appends a new line (stolen): see store_append. */
static int
append_line(struct store *st, struct line *ln)
{
  if (ln->seq != st->last_seq + 1) {
    line_unref(ln);
    return -EINVAL;
  }
  int queued = st->error || st->backlog.count;
  if (queued && st->backlog.bytes + ln->len > STORE_BACKLOG_MAX) {
    /* Memory is bounded: past the cap the line is dropped, but its seq is
     * spent, so the log stays appendable and readers see a gap rather
     * than a store stuck on a seq it will never get. */
    line_unref(ln);
    if (st->first == st->last_seq + 1)
      st->first++; /* nothing readable yet: it starts after the hole */
    st->last_seq++;
    return -ENOBUFS;
  }
  int rc = queued ? (st->error ? st->error : -EIO) : write_line(st, ln);
  st->last_seq = ln->seq;
  st->appended += ln->len + 1;
  if (rc < 0) {
    if (!st->error)
      log_warn("%s: %s; keeping lines in memory until it is writable", st->path,
               strerror(-rc));
    st->error = rc;
    ring_push(&st->backlog, ln);
  }
  tail_push(st, ln);
  return rc;
}

int
store_append(struct store *st, uint64_t seq, const char *line, size_t len)
{
  char *copy = xmalloc(len ? len : 1);
  memcpy(copy, line, len);
  return append_line(st, line_new(seq, copy, len));
}

int
store_append_take(struct store *st, uint64_t seq, char *line, size_t len)
{
  /* Give back the slack of an encoder buffer: the tail holds it a while
   * (shrinking in place costs no copy). */
  line = xrealloc(line, len ? len : 1);
  return append_line(st, line_new(seq, line, len));
}

int
store_retry(struct store *st)
{
  int rc;
  if (st->fd < 0 && (rc = open_current(st)) < 0) {
    st->error = rc;
    return rc;
  }
  while (st->backlog.count) {
    rc = write_line(st, ring_at(&st->backlog, 0));
    if (rc < 0) {
      st->error = rc;
      return rc;
    }
    ring_pop(&st->backlog);
  }
  if (st->error)
    log_info("%s: writable again", st->path);
  st->error = 0;
  return 0;
}

/* --------------------------------------------------------------- reading */

/* Reads lines forward from an offset, in big blocks. */
struct reader {
  int fd;
  int64_t off, end; /* next file offset to read; where to stop */
  char *buf;
  size_t cap, pos, len, scanned; /* scanned: bytes after pos without '\n' */
};

/* Sets *line to the next whole line (borrowed until the next call).
 * Returns 1, 0 at the end (a last line without '\n' is not returned), or
 * -errno. */
static int
reader_next(struct reader *r, const char **line, size_t *len)
{
  for (;;) {
    char *from = r->buf + r->pos + r->scanned;
    char *nl = memchr(from, '\n', r->len - r->pos - r->scanned);
    if (nl) {
      *line = r->buf + r->pos;
      *len = (size_t)(nl - *line);
      r->pos = (size_t)(nl - r->buf) + 1;
      r->scanned = 0;
      return 1;
    }
    r->scanned = r->len - r->pos;
    if (r->off >= r->end)
      return 0;
    memmove(r->buf, r->buf + r->pos, r->len - r->pos);
    r->len -= r->pos;
    r->pos = 0;
    if (r->len == r->cap) {
      r->cap *= 2;
      r->buf = xrealloc(r->buf, r->cap);
    }
    size_t want = r->cap - r->len;
    if ((int64_t)want > r->end - r->off)
      want = (size_t)(r->end - r->off);
    ssize_t got = pread_full(r->fd, r->buf + r->len, want, r->off);
    if (got < 0)
      return (int)got;
    if (got == 0)
      return 0;
    r->len += (size_t)got;
    r->off += got;
  }
}

/* The seq of the line starting at off (0 when unreadable). */
static uint64_t
seq_at(int fd, int64_t off)
{
  char buf[48];
  ssize_t n = pread_full(fd, buf, sizeof buf, off);
  return n > 0 ? jsonl_line_seq(buf, (size_t)n) : 0;
}

/* The first line start at or after off and before hi (hi when none). */
static int64_t
next_line_start(int fd, int64_t off, int64_t hi)
{
  char buf[SCAN_BLOCK];
  if (off == 0)
    return 0;
  for (int64_t pos = off - 1; pos < hi;) {
    size_t n = hi - pos < (int64_t)sizeof buf ? (size_t)(hi - pos) : sizeof buf;
    ssize_t got = pread_full(fd, buf, n, pos);
    if (got <= 0)
      return hi;
    char *nl = memchr(buf, '\n', (size_t)got);
    if (nl)
      return pos + (nl - buf) + 1;
    pos += got;
  }
  return hi;
}

/* The offset of a line start at or before the first line with seq >=
 * from, found by bisection (lines are in seq order). */
static int64_t
bisect(int fd, int64_t end, uint64_t from)
{
  int64_t lo = 0, hi = end;
  while (hi - lo > (int64_t)READ_BLOCK) {
    int64_t s = next_line_start(fd, lo + (hi - lo) / 2, hi);
    if (s >= hi)
      break;
    uint64_t seq = seq_at(fd, s);
    if (seq == 0)
      break; /* not one of ours: read forward from lo */
    if (seq >= from)
      hi = s;
    else
      lo = s;
  }
  return lo;
}

/* The seq of the first line of file i (0 when missing or empty). */
static uint64_t
first_seq(const struct store *st, int i)
{
  int fd = open_file(st, i);
  if (fd < 0)
    return 0;
  uint64_t seq = seq_at(fd, 0);
  close(fd);
  return seq;
}

/* Delivers lines of file i with seq >= *from while n < limit; returns the
 * new n and moves *from past the last line delivered. */
static size_t
read_file(const struct store *st, int i, uint64_t *from, size_t n, size_t limit,
          store_line_cb cb, void *ctx)
{
  int fd = open_file(st, i);
  if (fd < 0)
    return n;
  struct stat sb;
  int64_t end = fstat(fd, &sb) == 0 ? sb.st_size : 0;
  if (i == 0 && st->size < end)
    end = st->size; /* never past the last whole line we know of */
  struct reader r = {.fd = fd, .end = end, .cap = READ_BLOCK};
  r.off = bisect(fd, end, *from);
  r.buf = xmalloc(r.cap);
  const char *line = NULL;
  size_t len = 0;
  while (n < limit && reader_next(&r, &line, &len) > 0) {
    uint64_t seq = jsonl_line_seq(line, len);
    if (seq < *from)
      continue;
    cb(ctx, seq, line, len);
    *from = seq + 1;
    n++;
  }
  free(r.buf);
  close(fd);
  return n;
}

/* Delivers lines of ring r from *from on while n < limit. */
static size_t
read_ring(const struct ring *r, uint64_t *from, size_t n, size_t limit,
          store_line_cb cb, void *ctx)
{
  for (size_t i = ring_find(r, *from); i < r->count && n < limit; i++) {
    const struct line *ln = ring_at(r, i);
    cb(ctx, ln->seq, ln->data, ln->len);
    *from = ln->seq + 1;
    n++;
  }
  return n;
}

size_t
store_read_after(struct store *st, uint64_t after, size_t limit,
                 store_line_cb cb, void *ctx)
{
  uint64_t from = after + 1 > st->first ? after + 1 : st->first;
  size_t n = 0;
  if (limit == 0 || from > st->last_seq)
    return 0;
  if (!ring_covers(&st->tail, from)) {
    /* Start at the newest file that begins at or before from. */
    int start = -1;
    for (int i = 0; i <= st->keep; i++) {
      uint64_t first = first_seq(st, i);
      if (first == 0)
        continue;
      start = i;
      if (first <= from)
        break;
    }
    for (int i = start; i >= 0 && n < limit; i--)
      n = read_file(st, i, &from, n, limit, cb, ctx);
  }
  while (n < limit && from <= st->last_seq) {
    if (ring_covers(&st->tail, from))
      n = read_ring(&st->tail, &from, n, limit, cb, ctx);
    else if (ring_covers(&st->backlog, from))
      n = read_ring(&st->backlog, &from, n, limit, cb, ctx);
    else
      break;
  }
  return n;
}

uint64_t
store_bytes_appended(const struct store *st)
{
  return st->appended;
}
