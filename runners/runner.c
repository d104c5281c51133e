/* runner: the runner actor.
 *
 * DESIGN
 * A runner owns at most one run at a time: a child process started with
 * uv_spawn(UV_PROCESS_DETACHED), so that it leads its own session and
 * process group, plus its stdout and stderr pipes. The run's handles live in
 * a separate struct run that is freed only after its last close callback
 * (the libuv handle rule), so a runner can start the next run while the old
 * one's handles are still closing.
 *
 * A run ends when three things are true, in any order: libuv reaped the
 * leader (exit_cb), both pipes reached EOF, and the process group is empty
 * (leftover grandchildren are signalled, then killed). Only then is the exit
 * reported, so output is never lost and no restart overlaps leftovers. The
 * group is signalled only while it is known to exist (group_alive), so a
 * recycled pgid is never hit.
 *
 * A runner with "pty" runs on a pseudo-terminal instead (runners/pty.c):
 * run->out is then the pty's master (one stream, "pty", whose EIO when
 * the last slave fd closes is its EOF), run->err stays unused, and the
 * child is spawned without UV_PROCESS_DETACHED because setsid(1) --ctty
 * makes its session and group (pgid == pid all the same). Until setsid
 * has run, the group does not exist yet: signal_group falls back to the
 * leader alone. The master is announced to the door for input/resize.
 *
 * Output: bytes collect in an outbuf; a flush (at most 100 ms after the
 * first unflushed byte, or at once when the buffer is full) cuts chunks,
 * stamps them with the next seq, appends them to the runner's log and
 * publishes them on "output/<name>". When the buffer stays full (the log
 * cannot keep up), reading stops until it drains: the pipe slows the child.
 *
 * States and transitions are the pure table in runners/fsm.c; fire() looks
 * up the step, records the transition as an event and performs the action.
 */
#include "runners/runner.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runners/cmdpath.h"
#include "runners/dotenv.h"
#include "runners/fsm.h"
#include "runners/memory.h"
#include "runners/health.h"
#include "runners/outbuf.h"
#include "runners/pty.h"
#include "runners/ready.h"
#include "src/events.h"
#include "src/log.h"
#include "src/pubsub.h"
#include "src/sup.h"
#include "src/sup_policy.h"
#include "src/tend.h"
#include "src/xalloc.h"
#include "state/jsonl.h"
#include "state/recover.h"
#include "state/store.h"
#include "watchers/watch.h"

#define FLUSH_DELAY_MS 100
/* A terminal's output is flushed sooner, partial lines included: a prompt
 * or a key's echo must not wait for a newline. */
#define PTY_FLUSH_DELAY_MS 20
#define OUTBUF_BOUND (1024 * 1024)
#define READ_BUF_SIZE (64 * 1024)
#define GROUP_POLL_MAX_MS 50
#define EOF_GRACE_MS 1000
#define STORE_RETRY_MS 1000

struct run {
  struct runner *runner; /* NULL once the runner let go of this run */
  uv_process_t proc;
  uv_pipe_t out, err;     /* a pty run: out is the master, err unused */
  uv_timer_t group_timer; /* polls for an empty group, then EOF grace */
  int pty;                /* runs on a pseudo-terminal (runners/pty.c) */
  int want_eofs;          /* streams to reach EOF: 2, or 1 on a pty */
  int open_handles;
  int closing;
  int pid;
  int leader_exited;
  int64_t exit_status;
  int term_signal;
  int eofs;
  int group_alive;    /* the pgid (== pid) is known to be ours */
  int64_t poll_ms;
  int64_t empty_since; /* loop ms when the group was found empty */
};

struct runner {
  uv_loop_t *loop;
  const struct config *cfg;       /* a reference (config_ref) */
  const struct config_node *spec; /* a node of cfg */
  actor_id self, parent;
  enum fsm_state state;
  struct run *run;
  uv_timer_t timer;       /* backoff, stop timeout */
  uv_timer_t flush_timer; /* output flush deadline */
  uv_timer_t retry_timer; /* store write retry after a disk error */
  uv_timer_t mem_timer;   /* max_memory samples while a run is alive */
  struct memory_watch mem;
  char *limit_kill;       /* why tend ended the current run (max_memory) */
  struct ready *ready;
  struct health *health;  /* liveness probe of the current run */
  /* References to the configs the probes' specs came from: a reload can
   * rebind the runner while a probe still reads its old spec. */
  const struct config *ready_cfg, *health_cfg;
  char *fail_reason;      /* tend is ending this run: ready timeout, unhealthy */
  struct outbuf *ob;
  struct store *store;
  struct jsonl_buf enc;
  char *topic;
  int reading_paused;
  int out_pty;            /* the last run's output is a terminal's */

  uint64_t seq, runs;
  int restarts;
  int64_t since_ms;       /* wall clock of the last transition */
  int64_t started_mono;   /* loop time of the last spawn */
  int64_t pending_delay;  /* backoff of the start in progress */
  int stop_requested;
  int policy_restart;     /* the start in progress is a restart by policy */
  char *spawn_error;
  int last_status, last_signal, has_last_exit;
  int store_error;

  struct watch *watch;
  char *changed_paths;    /* every changed path, one per line, for the run
                             a change caused */
  char *start_why;        /* why the start in progress happens */
  int start_queued;       /* on_busy queue: start again after this run */

  int open_handles;
  void (*close_cb)(void *);
  void *close_arg;
};

static void fire(struct runner *r, enum fsm_event ev, const char *reason);
static void run_check_done(struct run *run);
static void flush_output(struct runner *r, int final);
static void pause_reading(struct runner *r);
static void on_flush_timer(uv_timer_t *t);
static void on_retry_timer(uv_timer_t *t);
static void on_timer(uv_timer_t *t);
static void probes_start(struct runner *r);
static void probes_stop(struct runner *r);
static void terminate_run(struct runner *r, const char *reason);

/* Returns the loop's monotonic time in ms. */
static int64_t
loop_ms(uv_loop_t *loop)
{
  uv_update_time(loop);
  return (int64_t)uv_now(loop);
}

/* Appends one encoded line to the log and publishes it. The seq is taken
 * whether or not the disk write succeeds: the store keeps a backlog. */
static void
emit_line(struct runner *r, const struct jsonl_chunk *chunk)
{
  char *line;
  size_t len;
  int rc;

  jsonl_encode_chunk(&r->enc, chunk);
  /* Publishing only queues for subscribers (nothing runs before the append
   * below returns), so the log still has the chunk before anyone reads it. */
  pubsub_publish(r->topic, chunk->seq, r->enc.data, r->enc.len);
  line = jsonl_buf_steal(&r->enc, &len);
  if (!r->store) {
    free(line);
    return;
  }
  rc = store_append_take(r->store, chunk->seq, line, len);
  if (rc < 0 && !r->store_error) {
    r->store_error = rc;
    events_note("persist_error", r->spec->name,
                "cannot write output of %s: %s", r->spec->name,
                strerror(-rc));
    if (!uv_is_active((uv_handle_t *)&r->retry_timer))
      uv_timer_start(&r->retry_timer, on_retry_timer, STORE_RETRY_MS, 0);
  }
}

/* Writes a lifecycle marker ("stream":"tend") in the output sequence. */
static void
emit_marker(struct runner *r, const char *extra, const char *text)
{
  struct jsonl_chunk c = {0};

  flush_output(r, 0);
  c.seq = ++r->seq;
  c.ts = events_now_ms();
  c.run = r->runs;
  c.stream = "tend";
  c.data = text;
  c.len = strlen(text);
  c.extra = extra;
  emit_line(r, &c);
}

/* How long output may wait before a flush. */
static uint64_t
flush_delay(const struct runner *r)
{
  return r->out_pty ? PTY_FLUSH_DELAY_MS : FLUSH_DELAY_MS;
}

/* Flushes pending output as chunks. final: the run ended (partial lines
 * go out too, as they always do on a pty). */
static void
flush_output(struct runner *r, int final)
{
  size_t n = 0;
  struct outbuf_chunk *chunks;
  int64_t ts;

  uv_timer_stop(&r->flush_timer);
  if (outbuf_pending(r->ob) == 0)
    return;
  chunks = outbuf_cut(r->ob, final || r->out_pty, &n);
  ts = events_now_ms();
  for (size_t i = 0; i < n; i++) {
    struct jsonl_chunk c = {0};
    c.seq = ++r->seq;
    c.ts = ts;
    c.run = r->runs;
    c.stream = chunks[i].stream == OUTBUF_STDERR ? "stderr"
               : r->out_pty                        ? "pty"
                                                   : "stdout";
    c.data = chunks[i].data;
    c.len = chunks[i].len;
    c.partial = chunks[i].partial;
    if (r->ready)
      ready_feed(r->ready, c.data, c.len);
    emit_line(r, &c);
  }
  outbuf_chunks_free(chunks, n);
  /* The disk is behind: hold the child back until the backlog is written
   * (on_retry_timer resumes). Checked here, not only when the buffer is
   * full, because timer flushes of a child writing under 1 MiB per flush
   * would otherwise grow the backlog to its cap and lose lines. */
  if (r->store && store_backlog_bytes(r->store) >= OUTBUF_BOUND)
    pause_reading(r);
  /* A partial line still pending waits for more bytes or the next flush. */
  if (outbuf_pending(r->ob) > 0 && !final)
    uv_timer_start(&r->flush_timer, on_flush_timer, flush_delay(r), 0);
}

/* Fires the delayed flush. */
static void
on_flush_timer(uv_timer_t *t)
{
  flush_output(t->data, 0);
}

/* Returns which output stream a pipe of run carries. */
static enum outbuf_stream
stream_of(const struct run *run, const uv_handle_t *h)
{
  return h == (const uv_handle_t *)&run->err ? OUTBUF_STDERR : OUTBUF_STDOUT;
}

/* Lets libuv read straight into the output buffer (no copy). */
static void
on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
  struct run *run = h->data;
  size_t avail = 0, pending, limit;
  char *room;
  (void)suggested;
  if (!run->runner) {
    static char discard[4096];
    *buf = uv_buf_init(discard, sizeof discard);
    return;
  }
  room = outbuf_reserve(run->runner->ob, stream_of(run, h), READ_BUF_SIZE,
                        &avail);
  /* One read may take all the room, but never much past the bound: a pipe
   * whose writer keeps up returns as much as asked, which made 2 MiB
   * chunks of a 1 MiB buffer. */
  pending = outbuf_pending(run->runner->ob);
  limit = pending < OUTBUF_BOUND ? OUTBUF_BOUND - pending : 0;
  if (limit < READ_BUF_SIZE)
    limit = READ_BUF_SIZE;
  if (avail > limit)
    avail = limit;
  *buf = uv_buf_init(room, (unsigned)avail);
}

/* Stops reading both pipes until the output buffer drains. */
static void
pause_reading(struct runner *r)
{
  /* After the leader's exit the pipes drain to EOF whatever the backlog:
   * what is left is bounded by the pipe buffers, and it must not be lost. */
  if (r->reading_paused || !r->run || r->run->leader_exited)
    return;
  r->reading_paused = 1;
  uv_read_stop((uv_stream_t *)&r->run->out);
  uv_read_stop((uv_stream_t *)&r->run->err);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf);

/* Resumes reading the pipes that have not reached EOF. */
static void
resume_reading(struct runner *r)
{
  struct run *run = r->run;
  if (!r->reading_paused || !run)
    return;
  r->reading_paused = 0;
  if (run->eofs >= run->want_eofs)
    return; /* a pty's EIO does not clear "readable" as an EOF does */
  if (!uv_is_closing((uv_handle_t *)&run->out) &&
      uv_is_readable((uv_stream_t *)&run->out))
    uv_read_start((uv_stream_t *)&run->out, on_alloc, on_read);
  if (!uv_is_closing((uv_handle_t *)&run->err) &&
      uv_is_readable((uv_stream_t *)&run->err))
    uv_read_start((uv_stream_t *)&run->err, on_alloc, on_read);
}

/* Retries writing the store's backlog after a disk error. */
static void
on_retry_timer(uv_timer_t *t)
{
  struct runner *r = t->data;
  if (!r->store)
    return;
  if (store_retry(r->store) == 0) {
    if (r->store_error)
      events_note("persist_ok", r->spec->name,
                  "output of %s is written again", r->spec->name);
    r->store_error = 0;
    resume_reading(r);
    return;
  }
  uv_timer_start(&r->retry_timer, on_retry_timer, STORE_RETRY_MS, 0);
}

/* Reads child output into the buffer; flushes when full; pauses the pipe
 * when even a flush cannot make room (backpressure). */
static void
on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
  struct run *run = s->data;
  struct runner *r = run->runner;

  (void)buf;
  if (n < 0) {
    uv_read_stop(s);
    if (r)
      outbuf_eof(r->ob, stream_of(run, (uv_handle_t *)s));
    run->eofs++;
    run_check_done(run);
    return;
  }
  if (n == 0 || !r)
    return;
  outbuf_commit(r->ob, stream_of(run, (uv_handle_t *)s), (size_t)n);
  if (outbuf_full(r->ob)) {
    flush_output(r, 0);
    if (outbuf_full(r->ob) ||
        (r->store && store_backlog_bytes(r->store) >= OUTBUF_BOUND))
      pause_reading(r);
  } else if (!uv_is_active((uv_handle_t *)&r->flush_timer)) {
    uv_timer_start(&r->flush_timer, on_flush_timer, flush_delay(r), 0);
  }
}

/* Frees a run after its last handle closed. */
static void
on_run_handle_closed(uv_handle_t *h)
{
  struct run *run = h->data;
  if (--run->open_handles == 0)
    free(run);
}

/* Closes every handle of a run; it frees itself after the last one. */
static void
run_close(struct run *run)
{
  if (run->closing)
    return;
  run->closing = 1;
  uv_close((uv_handle_t *)&run->proc, on_run_handle_closed);
  uv_close((uv_handle_t *)&run->out, on_run_handle_closed);
  uv_close((uv_handle_t *)&run->err, on_run_handle_closed);
  uv_close((uv_handle_t *)&run->group_timer, on_run_handle_closed);
}

/* Reaps exited members of a run's group that were reparented to tend (the
 * daemon is a subreaper) and tells whether any member is left. Only valid
 * after the leader was reaped by libuv, so it never steals libuv's child. */
static int
group_has_members(struct run *run)
{
  if (!run->group_alive)
    return 0;
  while (waitpid(-run->pid, NULL, WNOHANG) > 0)
    ;
  if (kill(-run->pid, 0) == -1 && errno == ESRCH) {
    run->group_alive = 0;
    return 0;
  }
  return 1;
}

/* Signals the run's process group while it is known to be ours. */
static void
signal_group(struct run *run, int signo)
{
  if (!run || !run->group_alive)
    return;
  if (kill(-run->pid, signo) == 0 || errno != ESRCH)
    return;
  /* A pty run makes its group in setsid(1), a moment after the spawn:
   * until then only the leader itself can be signalled. */
  if (run->pty && !run->leader_exited && kill(run->pid, signo) == 0)
    return;
  run->group_alive = 0;
}

static void on_group_timer(uv_timer_t *t);

/* Decides whether the run is over: leader reaped, group empty, pipes at
 * EOF (or the EOF grace passed, for pipes held by escaped processes). */
static void
run_check_done(struct run *run)
{
  struct runner *r = run->runner;
  char text[160], extra[96];
  int64_t now;

  if (!r || run->closing || !run->leader_exited)
    return;
  if (group_has_members(run)) {
    if (!uv_is_active((uv_handle_t *)&run->group_timer)) {
      run->poll_ms = run->poll_ms ? run->poll_ms * 2 : 1;
      if (run->poll_ms > GROUP_POLL_MAX_MS)
        run->poll_ms = GROUP_POLL_MAX_MS;
      uv_timer_start(&run->group_timer, on_group_timer,
                     (uint64_t)run->poll_ms, 0);
    }
    return;
  }
  now = loop_ms(r->loop);
  if (run->eofs < run->want_eofs) {
    if (!run->empty_since)
      run->empty_since = now;
    if (now - run->empty_since < EOF_GRACE_MS) {
      if (!uv_is_active((uv_handle_t *)&run->group_timer))
        uv_timer_start(&run->group_timer, on_group_timer, EOF_GRACE_MS, 0);
      return;
    }
    log_warn("%s: output pipe still held open by a process outside its "
             "group; closing it",
             r->spec->name);
  }
  uv_timer_stop(&r->timer);
  uv_timer_stop(&r->mem_timer);
  r->reading_paused = 0;
  flush_output(r, 1);
  r->has_last_exit = 1;
  r->last_status = (int)run->exit_status;
  r->last_signal = run->term_signal;
  if (run->term_signal) {
    snprintf(text, sizeof text, "exited on signal %s\n",
             config_signal_name(run->term_signal));
    snprintf(extra, sizeof extra, "\"event\":\"exit\",\"signal\":\"%s\"",
             config_signal_name(run->term_signal));
  } else if (r->spec->shell &&
             (run->exit_status == 127 || run->exit_status == 126)) {
    /* sh's own codes for a command it could not find or run: the spawn
     * failure of a string cmd (sh printed which one on stderr). */
    snprintf(text, sizeof text, "exited with status %d (%s)\n",
             (int)run->exit_status,
             run->exit_status == 127 ? "sh: command not found"
                                     : "sh: command not executable");
    snprintf(extra, sizeof extra, "\"event\":\"exit\",\"status\":%d",
             (int)run->exit_status);
  } else {
    snprintf(text, sizeof text, "exited with status %d\n",
             (int)run->exit_status);
    snprintf(extra, sizeof extra, "\"event\":\"exit\",\"status\":%d",
             (int)run->exit_status);
  }
  emit_marker(r, extra, text);
  tend_note_group(r->spec->name, 0, 0);
  if (run->pty)
    tend_forget_pty(r->spec->name);
  r->run = NULL;
  run->runner = NULL;
  run_close(run);
  text[strcspn(text, "\n")] = '\0';
  if (r->limit_kill) {
    /* tend ended this run for a limit: say so, not just the signal. */
    char *why = xasprintf("%s (%s)", r->limit_kill, text);
    fire(r, FSM_EV_EXIT, why);
    free(why);
    return;
  }
  fire(r, FSM_EV_EXIT, text);
}

/* Samples the run's group memory; past max_memory for MEMORY_GRACE_MS,
 * ends the run like a crash: stop signal, then KILL after the timeout. */
static void
on_mem_timer(uv_timer_t *t)
{
  struct runner *r = t->data;
  struct run *run = r->run;
  int64_t rss, now;
  char have[32], limit[32];

  if (!run || run->leader_exited || !run->group_alive || r->limit_kill ||
      r->state == FSM_STOPPING)
    return;
  rss = memory_group_rss(run->pid);
  now = loop_ms(r->loop);
  if (!memory_over(&r->mem, rss, r->spec->max_memory, now, MEMORY_GRACE_MS))
    return;
  uv_timer_stop(&r->mem_timer);
  memory_format(rss, have, sizeof have);
  memory_format(r->spec->max_memory, limit, sizeof limit);
  r->limit_kill = xasprintf("memory: %s over max_memory %s for %d s", have,
                            limit, MEMORY_GRACE_MS / 1000);
  events_emit(json_pack("{s:s, s:s, s:s, s:I, s:I, s:s}", "type",
                        "memory_limit", "node", r->spec->name, "runner",
                        r->spec->name, "rss", (json_int_t)rss, "max_memory",
                        (json_int_t)r->spec->max_memory, "message",
                        r->limit_kill));
  signal_group(run, r->spec->stop_timeout_ms == 0 ? SIGKILL
                                                   : r->spec->stop_signal);
  /* on_timer SIGKILLs a run that is still there in a live state. */
  uv_timer_start(&r->timer, on_timer, (uint64_t)r->spec->stop_timeout_ms, 0);
}

/* Polls the group again (or ends the EOF grace). */
static void
on_group_timer(uv_timer_t *t)
{
  run_check_done(t->data);
}

/* libuv reaped the leader: remember how it ended, clean up leftovers. */
static void
on_leader_exit(uv_process_t *proc, int64_t status, int term_signal)
{
  struct run *run = proc->data;
  struct runner *r = run->runner;

  run->leader_exited = 1;
  run->exit_status = status;
  run->term_signal = term_signal;
  if (r && r->run == run)
    resume_reading(r); /* held back by a full buffer or disk: drain now */
  if (r && group_has_members(run) && r->state != FSM_STOPPING) {
    /* Leftovers of a run that ended on its own: stop them like a stop. */
    signal_group(run, r->spec->stop_signal);
    uv_timer_start(&r->timer, on_timer, (uint64_t)r->spec->stop_timeout_ms, 0);
  }
  run_check_done(run);
}

/* Frees a NULL-terminated string array. */
static void
free_strv(char **v)
{
  for (char **p = v; p && *p; p++)
    free(*p);
  free(v);
}

/* A growable NULL-terminated "KEY=VALUE" list. */
struct envlist {
  char **v;
  size_t n, cap;
};

/* Sets kv ("KEY=VALUE", taken) in the list, replacing the same key. */
static void
env_set_take(struct envlist *l, char *kv)
{
  size_t klen = strcspn(kv, "=");
  for (size_t i = 0; i < l->n; i++) {
    if (strncmp(l->v[i], kv, klen) == 0 && l->v[i][klen] == '=') {
      free(l->v[i]);
      l->v[i] = kv;
      return;
    }
  }
  if (l->n + 2 > l->cap) {
    l->cap = l->cap ? l->cap * 2 : 64;
    l->v = xrealloc(l->v, l->cap * sizeof *l->v);
  }
  l->v[l->n++] = kv;
  l->v[l->n] = NULL;
}

/* Returns the file that holds the changed paths of r's run (new):
 * <state_dir>/changed/<name>.txt. */
static char *
changed_file(const struct runner *r)
{
  return xasprintf("%s/changed/%s.txt", r->cfg->state_dir, r->spec->name);
}

/* Hands the changed paths to the run: the whole list in a file, replaced
 * atomically per run, and TEND_CHANGED_PATHS capped at 32 KiB with a
 * marker line naming the file. A run no change caused gets neither, and a
 * stale file is removed. */
static void
changed_env(struct runner *r, struct envlist *l)
{
  char *file = changed_file(r), *value, *cause = NULL;

  if (!r->changed_paths) {
    unlink(file);
    free(file);
    return;
  }
  value = watch_paths_env(r->changed_paths, WATCH_ENV_CAP);
  env_set_take(l, xasprintf("TEND_CHANGED_PATHS=%s", value));
  free(value);
  if (watch_paths_file_write(file, r->changed_paths, &cause) == 0) {
    env_set_take(l, xasprintf("TEND_CHANGED_PATHS_FILE=%s", file));
  } else {
    log_warn("%s: changed paths file: %s", r->spec->name, cause);
    free(cause);
  }
  free(file);
}

/* Builds the child's environment, each layer overriding the one before:
 * the daemon's (without TEND_*), the env_file files (read now, so that an
 * edit applies at the next start), the spec's env, then the TEND_* facts.
 * Returns a new NULL-terminated array, or NULL with *cause (new) when an
 * env_file cannot be read or parsed ("file:line: message"). */
static char **
build_env(struct runner *r, char **cause)
{
  uv_env_item_t *items = NULL;
  int n_items = 0;
  struct envlist l = {NULL, 0, 0};

  *cause = NULL;
  l.cap = 64;
  l.v = xcalloc(l.cap, sizeof *l.v);
  uv_os_environ(&items, &n_items);
  for (int i = 0; i < n_items; i++)
    if (strncmp(items[i].name, "TEND_", 5) != 0)
      env_set_take(&l, xasprintf("%s=%s", items[i].name, items[i].value));
  uv_os_free_environ(items, n_items);
  if (r->spec->pty) /* a default: env_file and env may say otherwise */
    env_set_take(&l, xstrdup("TERM=" PTY_TERM));
  for (char **f = r->spec->env_files; f && *f; f++) {
    char **vars = NULL;
    if (dotenv_load(*f, &vars, cause) < 0) {
      free_strv(l.v);
      return NULL;
    }
    for (char **e = vars; *e; e++)
      if (strncmp(*e, "TEND_", 5) != 0)
        env_set_take(&l, xstrdup(*e));
    dotenv_free(vars);
  }
  for (char **e = r->spec->env; e && *e; e++)
    env_set_take(&l, xstrdup(*e));
  env_set_take(&l, xasprintf("TEND_RUNNER=%s", r->spec->name));
  env_set_take(&l, xasprintf("TEND_RUN=%llu", (unsigned long long)r->runs));
  /* Marks the process (and what it starts) as ours for the recovery after
   * a SIGKILL of the daemon (state/recover.c, recover_strays). */
  env_set_take(&l, xasprintf("TEND_STATE_DIR=%s", r->cfg->state_dir));
  changed_env(r, &l);
  return l.v;
}

/* Returns the value of name in a "KEY=VALUE" array (borrowed), or NULL. */
static const char *
env_get(char **env, const char *name)
{
  size_t len = strlen(name);
  for (char **e = env; e && *e; e++)
    if (strncmp(*e, name, len) == 0 && (*e)[len] == '=')
      return *e + len + 1;
  return NULL;
}


static void on_ready(void *ctx, int ok, const char *why);
static void ask_parent(struct runner *r, enum tend_cmd cmd);

/* The command could not start: keeps why (taken) for the status and the
 * exit event, writes the marker and fires SPAWN_FAILED. run (not yet
 * started, no handles) is freed when given. */
static void
spawn_failed(struct runner *r, struct run *run, char *why)
{
  free(run);
  free(r->spawn_error);
  r->spawn_error = why;
  {
    char *text = xasprintf("spawn failed: %s\n", why);
    json_t *extra = json_pack("{s:s, s:s}", "event", "spawn_failed",
                              "error", why);
    char *ex = json_dumps(extra, JSON_COMPACT);
    /* The marker's extra members go inside the chunk object as is. */
    size_t len = strlen(ex);
    ex[len - 1] = '\0';
    emit_marker(r, ex + 1, text);
    free(ex);
    json_decref(extra);
    text[strlen(text) - 1] = '\0';
    fire(r, FSM_EV_SPAWN_FAILED, text);
    free(text);
  }
}

/* Starts the child. Fires SPAWNED, SPAWNED_PROBE or SPAWN_FAILED. */
static void
do_spawn(struct runner *r)
{
  struct run *run = xcalloc(1, sizeof *run);
  uv_process_options_t opt = {0};
  uv_stdio_container_t io[3];
  struct stat st;
  char **env, **pty_argv = NULL;
  int rc, master = -1, slave = -1;
  char text[512], extra[64];

  free(r->spawn_error);
  r->spawn_error = NULL;
  free(r->fail_reason);
  r->fail_reason = NULL;
  r->runs++;
  if (r->policy_restart)
    r->restarts++;
  r->policy_restart = 0;
  free(r->limit_kill);
  r->limit_kill = NULL;
  r->mem = (struct memory_watch)MEMORY_WATCH_ZERO;
  r->started_mono = loop_ms(r->loop);
  /* libuv reports a missing cwd as ENOENT, like a missing command: look
   * first, so the message says which. */
  {
    int serr = stat(r->spec->cwd, &st) != 0 ? errno : 0;
    if (serr == ENOENT || serr == ENOTDIR) {
      spawn_failed(r, run, xasprintf("cwd %s does not exist", r->spec->cwd));
      return;
    }
    if (serr || !S_ISDIR(st.st_mode)) {
      spawn_failed(r, run, serr ? xasprintf("cwd %s: %s", r->spec->cwd,
                                            strerror(serr))
                                : xasprintf("cwd %s is not a directory",
                                            r->spec->cwd));
      return;
    }
  }
  {
    char *cause = NULL;
    env = build_env(r, &cause);
    if (!env) {
      spawn_failed(r, run, xasprintf("env_file %s", cause));
      free(cause);
      return;
    }
  }
  if (r->spec->pty) {
    char *cause = NULL;
    const char *setsid = pty_setsid_path();
    if (!setsid) {
      free_strv(env);
      spawn_failed(r, run,
                   xstrdup("pty: setsid(1) from util-linux is not "
                           "installed (it gives the command its terminal)"));
      return;
    }
    if (pty_open(r->spec->pty_cols, r->spec->pty_rows, &master, &slave,
                 &cause) < 0) {
      free_strv(env);
      spawn_failed(r, run, cause);
      return;
    }
    pty_argv = pty_wrap_argv(setsid, r->spec->argv);
  }
  run->runner = r;
  run->group_alive = 0;
  run->pty = r->spec->pty;
  run->want_eofs = run->pty ? 1 : 2;
  uv_pipe_init(r->loop, &run->out, 0);
  uv_pipe_init(r->loop, &run->err, 0);
  uv_timer_init(r->loop, &run->group_timer);
  run->proc.data = run->out.data = run->err.data = run->group_timer.data =
      run;
  run->open_handles = 4;
  if (run->pty) {
    /* The slave is the child's terminal on all three; the daemon reads
     * and writes the master (opened as run->out below). */
    for (int i = 0; i < 3; i++) {
      io[i].flags = UV_INHERIT_FD;
      io[i].data.fd = slave;
    }
  } else {
    io[0].flags = UV_IGNORE;
    io[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
    io[1].data.stream = (uv_stream_t *)&run->out;
    io[2].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
    io[2].data.stream = (uv_stream_t *)&run->err;
  }
  opt.exit_cb = on_leader_exit;
  opt.file = pty_argv ? pty_argv[0] : r->spec->argv[0];
  opt.args = pty_argv ? pty_argv : r->spec->argv;
  opt.env = env;
  opt.cwd = r->spec->cwd;
  /* Not detached on a pty: setsid(1) makes the session (pty.c says why). */
  opt.flags = run->pty ? 0 : UV_PROCESS_DETACHED;
  opt.stdio_count = 3;
  opt.stdio = io;
  rc = uv_spawn(r->loop, &run->proc, &opt);
  free(pty_argv);
  if (slave >= 0)
    close(slave); /* the child has its copies; EOF comes when they close */
  if (master >= 0 && rc != 0)
    close(master);
  if (master >= 0 && rc == 0) {
    /* The master belongs to run->out from here: run_close closes it. */
    int prc = uv_pipe_open(&run->out, master);
    if (prc != 0) {
      /* Cannot read the terminal (it does not happen with a fresh fd):
       * the run is ended at once and its exit reported as usual. */
      close(master);
      log_error("%s: cannot read the pty: %s", r->spec->name,
                uv_strerror(prc));
      kill(run->proc.pid, SIGKILL);
      run->want_eofs = 0;
    }
  }
  if (rc != 0) {
    /* The handle is initialised but inactive; the pipes may be open. */
    int err = rc;
    run->runner = NULL;
    run_close(run);
    /* execvp says EACCES for a directory too: look at what it found. */
    if (rc == UV_EACCES || rc == UV_ENOENT) {
      int found = cmdpath_find(r->spec->argv[0], env_get(env, "PATH"),
                               r->spec->cwd, NULL);
      if (found < 0)
        err = found;
      else if (rc == UV_ENOENT)
        err = 1; /* the file is there: what exec missed is inside it */
    }
    free_strv(env);
    spawn_failed(r, NULL,
                 err == 1 ? xasprintf("%s: exists, but its #! interpreter "
                                      "was not found",
                                      r->spec->argv[0])
                          : cmdpath_describe(r->spec->argv[0], err));
    return;
  }
  free_strv(env);
  run->pid = run->proc.pid;
  run->group_alive = 1;
  if (r->watch) /* the loop guard links changes that follow a start */
    watch_note_start(r->watch, r->started_mono);
  if (r->spec->max_memory > 0)
    uv_timer_start(&r->mem_timer, on_mem_timer, MEMORY_SAMPLE_MS,
                   MEMORY_SAMPLE_MS);
  tend_note_group(r->spec->name, run->pid, recover_proc_start(run->pid));
  r->run = run;
  r->reading_paused = 0;
  r->out_pty = run->pty;
  if (run->want_eofs > 0)
    uv_read_start((uv_stream_t *)&run->out, on_alloc, on_read);
  if (run->pty && run->want_eofs > 0)
    tend_register_pty(r->spec->name, (uv_stream_t *)&run->out);
  else if (!run->pty)
    uv_read_start((uv_stream_t *)&run->err, on_alloc, on_read);
  {
    /* The marker says why this run exists: what the supervisor or the
     * user asked, the files that changed, the backoff waited. */
    int n = snprintf(text, sizeof text, "started (pid %d)", run->pid);
    const char *sep = ": ";
    if (r->start_why && n < (int)sizeof text) {
      n += snprintf(text + n, sizeof text - (size_t)n, "%s%s", sep,
                    r->start_why);
      sep = "; ";
    }
    if (r->changed_paths && n < (int)sizeof text) {
      n += snprintf(text + n, sizeof text - (size_t)n, "%sfiles changed",
                    sep);
      sep = "; ";
    }
    if (r->pending_delay > 0 && n < (int)sizeof text)
      n += snprintf(text + n, sizeof text - (size_t)n,
                    "%safter %lld ms backoff", sep,
                    (long long)r->pending_delay);
    if (n >= (int)sizeof text - 1)
      n = (int)sizeof text - 2;
    text[n] = '\n';
    text[n + 1] = '\0';
    free(r->start_why);
    r->start_why = NULL;
    free(r->changed_paths); /* only the run the change caused sees them */
    r->changed_paths = NULL;
  }
  snprintf(extra, sizeof extra, "\"event\":\"start\",\"pid\":%d", run->pid);
  emit_marker(r, extra, text);
  r->pending_delay = 0;
  probes_start(r);
  if (r->spec->ready != CONFIG_READY_NONE) {
    fire(r, FSM_EV_SPAWNED_PROBE, NULL);
  } else {
    char why[48];
    snprintf(why, sizeof why, "pid %d", run->pid);
    fire(r, FSM_EV_SPAWNED, why);
  }
}

/* The readiness probe's verdict. */
static void
on_ready(void *ctx, int ok, const char *why)
{
  struct runner *r = ctx;
  r->ready = NULL; /* the probe frees itself after calling back */
  config_unref(r->ready_cfg);
  r->ready_cfg = NULL;
  fire(r, ok ? FSM_EV_READY_OK : FSM_EV_READY_FAILED, why);
}

/* ------------------------------------------------------------------ */
/* Probes: the readiness check (ready.c) and the liveness probe          */
/* (health.c) live with the run; a failed one ends the run as a crash.   */

/* The liveness probe gave up on the run. */
static void
on_unhealthy(void *ctx, const char *why)
{
  struct runner *r = ctx;
  r->health = NULL; /* the probe frees itself after calling back */
  config_unref(r->health_cfg);
  r->health_cfg = NULL;
  fire(r, FSM_EV_UNHEALTHY, why);
}

/* Starts the liveness probe of a run that was just spawned. */
static void
probes_start(struct runner *r)
{
  if (r->run && r->spec->health.kind != CONFIG_PROBE_NONE) {
    r->health = health_start(r->loop, r->spec, r->run->pid, on_unhealthy, r);
    config_unref(r->health_cfg); /* none: the last probe was stopped */
    r->health_cfg = config_ref(r->cfg);
  }
}

/* Cancels the readiness check and the liveness probe, if running. */
static void
probes_stop(struct runner *r)
{
  ready_cancel(r->ready);
  r->ready = NULL;
  health_stop(r->health);
  r->health = NULL;
  /* A finished probe reads no spec any more (it only closes handles). */
  config_unref(r->ready_cfg);
  config_unref(r->health_cfg);
  r->ready_cfg = r->health_cfg = NULL;
}

/* Ends a run that failed a check: the stop signal to its group, SIGKILL
 * after stop.timeout_ms (on_timer), and its exit is then reported as a
 * crash with this reason, so the restart policy applies. */
static void
terminate_run(struct runner *r, const char *reason)
{
  probes_stop(r);
  free(r->fail_reason);
  r->fail_reason = xstrdup(reason ? reason : "failed check");
  if (!r->run)
    return;
  if (r->spec->stop_timeout_ms == 0) {
    signal_group(r->run, SIGKILL);
  } else {
    signal_group(r->run, r->spec->stop_signal);
    uv_timer_start(&r->timer, on_timer, (uint64_t)r->spec->stop_timeout_ms,
                   0);
  }
  run_check_done(r->run);
}

/* The backoff or stop timer fired. */
static void
on_timer(uv_timer_t *t)
{
  struct runner *r = t->data;
  if (r->state == FSM_BACKOFF)
    fire(r, FSM_EV_BACKOFF_DONE, NULL);
  else if (r->state == FSM_STOPPING)
    fire(r, FSM_EV_STOP_TIMEOUT, "stop timeout");
  else if (r->run) /* leftovers of a run that ended on its own */
    signal_group(r->run, SIGKILL);
}

/* Publishes a transition as an event (the read model and the terminal
 * printer follow it). */
static void
record_transition(struct runner *r, enum fsm_state from, enum fsm_event ev,
                  const char *reason)
{
  json_t *e;

  r->since_ms = events_now_ms();
  e = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:i}", "type", "state",
                "node", r->spec->name, "kind", "runner", "from",
                fsm_state_name(from), "to", fsm_state_name(r->state), "event",
                fsm_event_name(ev), "run", (json_int_t)r->runs, "restarts",
                r->restarts);
  json_object_set_new(e, "runner", json_string(r->spec->name));
  /* The new state's "can" travels with it, so a client that folds events
   * into its tree needs no list of states of its own (ui/web/model.js). */
  json_object_set_new(e, "can", fsm_can_json(r->state));
  if (reason)
    json_object_set_new(e, "reason", json_string(reason));
  if (r->run)
    json_object_set_new(e, "pid", json_integer(r->run->pid));
  if (ev == FSM_EV_SPAWN_FAILED && r->spawn_error)
    json_object_set_new(e, "spawn_error", json_string(r->spawn_error));
  if (ev == FSM_EV_EXIT) { /* a run ended: how */
    if (r->has_last_exit && r->last_signal)
      json_object_set_new(e, "signal",
                          json_string(config_signal_name(r->last_signal)));
    else if (r->has_last_exit)
      json_object_set_new(e, "status", json_integer(r->last_status));
  }
  if (r->state == FSM_BACKOFF)
    json_object_set_new(e, "next_start_ms",
                        json_integer(events_now_ms() + r->pending_delay));
  events_emit(e);
}

/* Applies one event: the table gives the next state and the action. */
static void
fire(struct runner *r, enum fsm_event ev, const char *reason)
{
  struct fsm_step step = fsm_step(r->state, ev);
  enum fsm_state from = r->state;

  if (step.action == FSM_ACTION_INVALID) {
    log_debug("%s: %s ignored in %s", r->spec->name, fsm_event_name(ev),
              fsm_state_name(from));
    return;
  }
  r->state = step.next;
  if (ev == FSM_EV_EXIT && r->fail_reason && !r->stop_requested)
    reason = r->fail_reason; /* the run ended because tend ended it */
  if (from != step.next || ev == FSM_EV_SPAWNED_PROBE ||
      step.action == FSM_ACTION_TERMINATE)
    record_transition(r, from, ev, reason);
  switch (step.action) {
  case FSM_ACTION_SPAWN:
    uv_timer_stop(&r->timer);
    r->stop_requested = 0;
    do_spawn(r);
    break;
  case FSM_ACTION_ARM_BACKOFF:
    uv_timer_start(&r->timer, on_timer, (uint64_t)r->pending_delay, 0);
    break;
  case FSM_ACTION_CANCEL_BACKOFF:
    uv_timer_stop(&r->timer);
    if (ev == FSM_EV_STOP)
      actor_send(r->parent, SUP_MSG_STOPPED, r->self, 0, NULL, NULL);
    break;
  case FSM_ACTION_REPORT_STARTED:
    actor_send(r->parent, SUP_MSG_STARTED, r->self, 0, NULL, NULL);
    break;
  case FSM_ACTION_ARM_READY:
    r->ready = ready_start(r->loop, r->spec, r->run ? r->run->pid : 0,
                           on_ready, r);
    config_unref(r->ready_cfg); /* none: the last probe was stopped */
    r->ready_cfg = config_ref(r->cfg);
    break;
  case FSM_ACTION_TERMINATE:
    terminate_run(r, reason);
    break;
  case FSM_ACTION_SIGNAL_STOP:
    probes_stop(r);
    if (r->spec->stop_timeout_ms == 0) {
      signal_group(r->run, SIGKILL);
    } else {
      signal_group(r->run, r->spec->stop_signal);
      uv_timer_start(&r->timer, on_timer, (uint64_t)r->spec->stop_timeout_ms,
                     0);
    }
    if (r->run)
      run_check_done(r->run);
    break;
  case FSM_ACTION_KILL:
    signal_group(r->run, SIGKILL);
    break;
  case FSM_ACTION_REPORT_EXIT: {
    enum sup_exit kind;
    probes_stop(r);
    kind = sup_classify(r->spec,
                        ev == FSM_EV_SPAWN_FAILED || r->limit_kill != NULL,
                        r->stop_requested, r->last_status, r->last_signal);
    if (r->fail_reason)
      kind = SUP_EXIT_ABNORMAL; /* whatever status the kill left */
    if (r->watch && ev != FSM_EV_SPAWN_FAILED && !r->stop_requested)
      watch_note_exit(r->watch, loop_ms(r->loop));
    actor_send(r->parent, SUP_MSG_EXITED, r->self, kind,
               xstrdup(reason ? reason : "exited"), free);
    if (r->start_queued) {
      r->start_queued = 0;
      ask_parent(r, TEND_CMD_START);
    }
    break;
  }
  case FSM_ACTION_REPORT_STOPPED:
    probes_stop(r);
    actor_send(r->parent, SUP_MSG_STOPPED, r->self, 0, NULL, NULL);
    break;
  default:
    break;
  }
}

/* Asks the supervisor for a user-style command on this runner (a watch
 * or trigger action: not a crash, so it does not count as a restart). */
static void
ask_parent(struct runner *r, enum tend_cmd cmd)
{
  struct sup_user_cmd *uc = xcalloc(1, sizeof *uc);
  uc->child = xstrdup(r->spec->name);
  uc->cmd = (int)cmd;
  actor_send(r->parent, SUP_MSG_USER, r->self, 0, uc, sup_user_cmd_free);
}

/* The watch saw a burst of changes: act as the spec says. */
static void
on_watch_fire(void *ctx, const char *const *paths, size_t n)
{
  struct runner *r = ctx;
  const struct config_watch *w = &r->spec->watch;
  int alive = fsm_state_alive(r->state);
  json_t *ev, *list = json_array();

  for (size_t i = 0; i < n && i < WATCH_PATHS_MAX; i++)
    json_array_append_new(list, json_string(paths[i]));
  ev = json_pack("{s:s, s:s, s:o, s:I, s:s}", "type", "watch_fired", "node",
                 r->spec->name, "paths", list, "total", (json_int_t)n,
                 "action", config_watch_action_name(w->action));
  json_object_set_new(ev, "message", json_sprintf("%zu path(s) changed", n));
  events_emit(ev);
  free(r->changed_paths);
  r->changed_paths = watch_paths_join(paths, n);
  switch (w->action) {
  case CONFIG_WATCH_SIGNAL:
    free(r->changed_paths);
    r->changed_paths = NULL;
    if (r->run) {
      signal_group(r->run, w->signal);
      watch_note_start(r->watch, loop_ms(r->loop));
    }
    return;
  case CONFIG_WATCH_START:
    if (!alive) {
      ask_parent(r, TEND_CMD_START);
    } else if (r->spec->on_busy == CONFIG_ON_BUSY_QUEUE) {
      r->start_queued = 1;
    } else if (r->spec->on_busy == CONFIG_ON_BUSY_RESTART) {
      ask_parent(r, TEND_CMD_RESTART);
    } else {
      free(r->changed_paths);
      r->changed_paths = NULL;
    }
    break;
  case CONFIG_WATCH_RESTART:
    ask_parent(r, alive ? TEND_CMD_RESTART : TEND_CMD_START);
    break;
  }
}

/* The loop guard paused the watch: say so loudly. */
static void
on_watch_paused(void *ctx, const char *const *paths, size_t n,
                const char *reason)
{
  struct runner *r = ctx;
  json_t *list = json_array();
  for (size_t i = 0; i < n; i++)
    json_array_append_new(list, json_string(paths[i]));
  events_emit(json_pack(
      "{s:s, s:s, s:o, s:s, s:o}", "type", "watch_paused", "node",
      r->spec->name, "paths", list, "reason", reason, "message",
      json_sprintf("watch of %s paused: %s; resume with `tend resume %s`",
                   r->spec->name, reason, r->spec->name)));
}

/* An inotify overflow or watch-limit notice. */
static void
on_watch_notice(void *ctx, enum inotify_kind kind, const char *message)
{
  struct runner *r = ctx;
  events_emit(json_pack("{s:s, s:s, s:s, s:s}", "type", "watch_overflow",
                        "node", r->spec->name, "kind",
                        inotify_kind_name(kind), "message", message));
}

/* Creates the runner's watch when its spec has one. */
static void
watch_open(struct runner *r)
{
  struct watch_callbacks cbs = {on_watch_fire, on_watch_paused,
                                on_watch_notice, r};
  char *cause = NULL;

  if (!r->spec->watch.enabled || !tend_inotify())
    return;
  r->watch = watch_new(r->loop, tend_inotify(), &r->spec->watch,
                       r->cfg->state_dir, &cbs, &cause);
  if (!r->watch) {
    events_note("watch_error", r->spec->name, "watch of %s: %s",
                r->spec->name, cause ? cause : "cannot watch");
    free(cause);
    return;
  }
  tend_register_watch(r->spec->name, r->watch);
}

/* Closes the runner's watch (if any). */
static void
watch_drop(struct runner *r)
{
  if (!r->watch)
    return;
  tend_forget_watch(r->spec->name);
  watch_close(r->watch, NULL, NULL);
  r->watch = NULL;
}

void
runner_rebind(struct runner *r, const struct config *cfg,
              const struct config_node *spec)
{
  int watch_changed = strcmp(r->spec->spec_json, spec->spec_json) != 0;
  if (watch_changed && r->watch && watch_is_paused(r->watch))
    events_emit(json_pack("{s:s, s:s, s:s, s:s}", "type", "watch_resumed",
                          "node", r->spec->name, "reason", "config changed",
                          "message", "watch resumed: its runner's config "
                          "changed"));
  if (watch_changed)
    watch_drop(r);
  config_ref(cfg);
  config_unref(r->cfg);
  r->cfg = cfg;
  r->spec = spec;
  if (watch_changed || !r->watch)
    watch_open(r);
}

/* The runner's message handler. */
static void
runner_handle(void *state, actor_id self, const struct actor_msg *m)
{
  struct runner *r = state;
  (void)self;

  switch (m->type) {
  case SUP_MSG_RESTART:
  case SUP_MSG_START:
    r->policy_restart = m->type == SUP_MSG_RESTART;
    free(r->start_why);
    r->start_why = m->data ? xstrdup(m->data) : NULL;
    r->pending_delay = m->arg;
    if (m->arg > 0 && r->state != FSM_BACKOFF)
      fire(r, FSM_EV_START_LATER, NULL);
    else
      fire(r, FSM_EV_START, m->arg > 0 ? NULL : "start");
    break;
  case SUP_MSG_STOP:
    r->stop_requested = 1;
    fire(r, FSM_EV_STOP, "stop requested");
    break;
  case SUP_MSG_FAIL:
    fire(r, FSM_EV_FAIL, m->data ? (const char *)m->data
                                 : "supervisor gave up");
    break;
  case SUP_MSG_SIGNAL:
    if (r->run)
      signal_group(r->run, (int)m->arg);
    break;
  default:
    break;
  }
}

struct runner *
runner_new(uv_loop_t *loop, const struct config *cfg,
           const struct config_node *spec, actor_id parent)
{
  struct runner *r = xcalloc(1, sizeof *r);
  char *dir, *cause = NULL;

  r->loop = loop;
  r->cfg = config_ref(cfg);
  r->spec = spec;
  r->parent = parent;
  r->state = FSM_STOPPED;
  r->since_ms = events_now_ms();
  r->self = actor_spawn(runner_handle, r);
  actor_register(spec->name, r->self);
  r->topic = xasprintf("output/%s", spec->name);
  r->ob = outbuf_new(OUTBUF_BOUND);
  r->enc = (struct jsonl_buf)JSONL_BUF_ZERO;
  uv_timer_init(loop, &r->timer);
  uv_timer_init(loop, &r->flush_timer);
  uv_timer_init(loop, &r->retry_timer);
  uv_timer_init(loop, &r->mem_timer);
  r->timer.data = r->flush_timer.data = r->retry_timer.data = r;
  r->mem_timer.data = r;
  r->mem = (struct memory_watch)MEMORY_WATCH_ZERO;
  dir = xasprintf("%s/output", cfg->state_dir);
  r->store = store_open(dir, spec->name, spec->output.max_bytes,
                        spec->output.keep, &cause);
  if (!r->store) {
    events_note("persist_error", spec->name, "output log of %s: %s",
                spec->name, cause ? cause : "cannot open");
    free(cause);
  } else {
    tend_register_store(spec->name, r->store);
    r->seq = store_last_seq(r->store);
    r->runs = store_last_run(r->store);
    if (store_truncated_bytes(r->store) > 0) {
      /* runner and bytes: the fields formats.md gives this event. */
      long long cut = (long long)store_truncated_bytes(r->store);
      json_t *ev = json_pack("{s:s, s:s, s:s, s:I}", "type", "log_truncated",
                             "node", spec->name, "runner", spec->name,
                             "bytes", (json_int_t)cut);
      json_object_set_new(ev, "message",
                          json_sprintf("cut a torn last line (%lld bytes) "
                                       "from the output log of %s",
                                       cut, spec->name));
      events_emit(ev);
    }
  }
  free(dir);
  {
    /* A previous daemon's counters (state.json, through the read model):
     * runs continue from the highest of the log's and the saved one;
     * restarts are the supervisor's, and a daemon restart is not one. */
    const json_t *st = tend_node_status(spec->name);
    json_t *run = json_object_get(st, "run");
    json_t *restarts = json_object_get(st, "restarts");
    if (json_is_integer(run) && json_integer_value(run) > 0 &&
        (uint64_t)json_integer_value(run) > r->runs)
      r->runs = (uint64_t)json_integer_value(run);
    if (json_is_integer(restarts) && json_integer_value(restarts) > 0 &&
        json_integer_value(restarts) < INT_MAX)
      r->restarts = (int)json_integer_value(restarts);
  }
  watch_open(r);
  return r;
}

actor_id
runner_id(const struct runner *r)
{
  return r->self;
}

/* Counts closed runner handles; frees the runner after the last. */
static void
on_runner_handle_closed(uv_handle_t *h)
{
  struct runner *r = h->data;
  if (--r->open_handles > 0)
    return;
  tend_forget_store(r->spec->name);
  if (r->close_cb)
    r->close_cb(r->close_arg);
  outbuf_free(r->ob);
  store_close(r->store);
  jsonl_buf_free(&r->enc);
  free(r->topic);
  free(r->spawn_error);
  free(r->limit_kill);
  free(r->changed_paths);
  free(r->start_why);
  free(r->fail_reason);
  config_unref(r->cfg);
  free(r);
}

void
runner_close(struct runner *r, void (*cb)(void *arg), void *arg)
{
  r->close_cb = cb;
  r->close_arg = arg;
  actor_exit(r->self, ACTOR_REASON_NORMAL, "closed");
  watch_drop(r);
  {
    char *file = changed_file(r); /* the last change's paths: stale now */
    unlink(file);
    free(file);
  }
  probes_stop(r);
  if (r->run) {
    struct run *run = r->run;
    flush_output(r, 1);
    if (run->pty)
      tend_forget_pty(r->spec->name);
    signal_group(run, SIGKILL);
    run->runner = NULL;
    r->run = NULL;
    /* The process handle must not close before libuv reaped the child,
     * or it is never reaped; a killed child is reaped within a moment,
     * and closing stops libuv's tracking only of the handle. */
    run_close(run);
  }
  r->open_handles = 4;
  uv_close((uv_handle_t *)&r->mem_timer, on_runner_handle_closed);
  uv_close((uv_handle_t *)&r->timer, on_runner_handle_closed);
  uv_close((uv_handle_t *)&r->flush_timer, on_runner_handle_closed);
  uv_close((uv_handle_t *)&r->retry_timer, on_runner_handle_closed);
}
