/* store: an append-only JSON-lines log with rotation, recovery, an
 * in-memory tail and a backlog for disk trouble (issue 3, "Output on disk",
 * "Recovery", "Disk trouble").
 *
 * One store per log: <dir>/<name>.jsonl, rotated to <name>.jsonl.1 (the
 * newest rotated) .. <name>.jsonl.<keep> (a rotated name ends in a digit,
 * so it can never be another name's current file; tend before issue 13
 * used <name>.<i>.jsonl, which runner "x.1" could collide with, and its
 * rotated files are not read). Files are opened relative to the folder's
 * descriptor with O_NOFOLLOW (state/statedir.h). Used for each runner's output
 * (<state_dir>/output/<runner>) and for the event log (<state_dir>/events).
 * Every line is a JSON object whose "seq" is one more than the line before.
 * All functions run on the loop thread; writes are plain write(2) without
 * fsync (the page cache is the durability the design asks of output). */
#ifndef TEND_STORE_H
#define TEND_STORE_H

#include <stddef.h>
#include <stdint.h>

#define STORE_TAIL_BYTES ((size_t)4 << 20) /* in-memory tail bound */
#define STORE_TAIL_LINES ((size_t)20000)
#define STORE_BACKLOG_MAX ((size_t)16 << 20) /* hard cap, see store_append */

struct store;

/* Opens (creating dir with mkdir -p, mode 0700, and the file, mode 0600)
 * the log name in dir. Recovery: trailing lines of the current file that
 * are torn (no '\n') or do not parse as a JSON object with an integer
 * "seq" are cut off (ftruncate) and reported (store_truncated_bytes,
 * store_take_recovery_note); the last seq and the highest run are found
 * across the current and rotated files. max_bytes <= 0: never rotate;
 * keep: rotated files kept (0: none).
 *
 * Disk trouble (EACCES, EROFS, ENOSPC, EDQUOT, EIO...) while creating or
 * opening for writing does not fail the open: the store starts in the
 * error state (store_error), keeps appends in its backlog and store_retry
 * opens the file later. NULL with *cause (new) only when the log cannot be
 * read back (its seq would be unknown) or the path is wrong. */
struct store *store_open(const char *dir, const char *name, int64_t max_bytes,
                         int keep, char **cause);
/* The path of file i of the log name in dir (new): i == 0 is the current
 * file <dir>/<name>.jsonl, i >= 1 the i-th newest rotated one,
 * <dir>/<name>.jsonl.<i>. For readers without a store (tend logs
 * without a daemon). Pure. */
char *store_rotated_path(const char *dir, const char *name, int i);
/* Closes and frees the store; lines still in the backlog are lost (call
 * store_retry first). NULL is a no-op. */
void store_close(struct store *st);

/* The seq of the newest line appended (0 when none), on disk or not. */
uint64_t store_last_seq(const struct store *st);
/* The oldest seq a reader can still get: the first line of the oldest
 * kept file (or of the backlog); store_last_seq() + 1 when there is none.
 * Older seqs were rotated away (or dropped at the backlog cap). */
uint64_t store_first_seq(const struct store *st);
/* The highest "run" found in the log at open (0 when none): the runner
 * counts its starts on from there. */
uint64_t store_last_run(const struct store *st);
/* Bytes cut by recovery so far (0 when none). */
int64_t store_truncated_bytes(const struct store *st);
/* Returns a new message about the bytes recovery cut since the last call
 * ("<path>: cut N bytes of a torn or unreadable last line"), or NULL. */
char *store_take_recovery_note(struct store *st);

/* Appends line (len bytes, no '\n'; must be valid JSON starting with its
 * seq) as seq, which must be store_last_seq() + 1. Writes line + '\n'
 * with write(2); a short write is completed or cut back, so no torn line
 * stays in the file. The line is also kept in the in-memory tail.
 *
 * Returns 0 when written. On a write error (or while earlier lines wait in
 * the backlog) the line is kept in the backlog, behind the others, and
 * the error is returned as a negative errno: the line is taken all the
 * same (last_seq advances). -ENOBUFS: the backlog is at STORE_BACKLOG_MAX
 * and the line was dropped; its seq is spent (last_seq advances, readers
 * see a gap) so the log stays appendable. Apply backpressure through
 * store_backlog_bytes well before. -EINVAL: seq out of order (not
 * taken). */
int store_append(struct store *st, uint64_t seq, const char *line, size_t len);
/* The same, taking line (a malloc'd buffer, e.g. from buf_steal):
 * the store frees it, whatever the result. Saves a copy on the hot path. */
int store_append_take(struct store *st, uint64_t seq, char *line, size_t len);
/* Bytes of lines taken since the store was opened (newlines included). */
uint64_t store_bytes_appended(const struct store *st);
/* Writes the backlog (reopening the file when needed). Returns 0 when the
 * backlog is empty afterwards (the error state is then cleared), else the
 * negative errno that stopped it. */
int store_retry(struct store *st);
/* Bytes waiting in the backlog (for backpressure). */
size_t store_backlog_bytes(const struct store *st);
/* The last write error (negative errno) while the store is in the error
 * state, else 0. */
int store_error(const struct store *st);

/* Receives one line (borrowed for the call, no '\n'). The callback must
 * not append to or close the store. */
typedef void (*store_line_cb)(void *ctx, uint64_t seq, const char *line,
                              size_t len);
/* Calls cb for lines with seq > after, oldest first, at most limit of
 * them: from the tail when it holds seq after + 1, else from the files
 * (rotated ones first, found by bisection on seq), then from the tail or
 * the backlog for what is not on disk. Returns how many. Lines older than
 * store_first_seq() are gone: reading starts there, whether the tail still
 * held them or not, so the answer depends only on what is kept (the same
 * before and after a restart). The caller sees a gap as a first seq past
 * after + 1 (or a jump between two seqs, after a line was dropped). */
size_t store_read_after(struct store *st, uint64_t after, size_t limit,
                        store_line_cb cb, void *ctx);

#endif
