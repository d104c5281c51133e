/* run: one run of a runner's command (runners/run.h).
 *
 * DESIGN
 * The child is started with uv_spawn(UV_PROCESS_DETACHED), so that it
 * leads its own session and process group, with its stdout and stderr on
 * two pipes. The run's handles live in this struct, which is freed only
 * after its last close callback (the libuv handle rule), so a runner can
 * start the next run while the old one's handles are still closing.
 *
 * A run ends when three things are true, in any order: libuv reaped the
 * leader (exit_cb), both pipes reached EOF, and the process group is empty
 * (the runner signals leftover grandchildren, then kills them). Only then
 * is it done, so output is never lost and no restart overlaps leftovers.
 * The group is signalled only while it is known to exist (group_alive),
 * so a recycled pgid is never hit.
 *
 * On a pty (runners/pty.c) the pty's master is the one stream ("out",
 * whose EIO when the last slave fd closes is its EOF), "err" stays unused,
 * and the child is spawned without UV_PROCESS_DETACHED because setsid(1)
 * --ctty makes its session and group (pgid == pid all the same). Until
 * setsid has run, the group does not exist yet: run_signal falls back to
 * the leader alone.
 */
#include "runners/run.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runners/childenv.h"
#include "runners/cmdpath.h"
#include "runners/output.h"
#include "runners/pty.h"
#include "src/config.h"
#include "src/log.h"
#include "src/xalloc.h"

#define GROUP_POLL_MAX_MS 50
#define EOF_GRACE_MS 1000

struct run {
  struct run_hooks hooks;
  struct output *out; /* the runner's; NULL once released */
  char *name;         /* the runner's, for logs */
  uv_loop_t *loop;
  uv_process_t proc;
  uv_pipe_t pout, perr;   /* a pty run: pout is the master, perr unused */
  uv_timer_t group_timer; /* polls for an empty group, then EOF grace */
  int pty;                /* runs on a pseudo-terminal (runners/pty.c) */
  int want_eofs;          /* streams to reach EOF: 2, or 1 on a pty */
  int open_handles;
  int closing;
  int released; /* the runner let go of this run */
  int reading_paused;
  int pid;
  int leader_exited;
  int64_t exit_status;
  int term_signal;
  int eofs;
  int group_alive; /* the pgid (== pid) is known to be ours */
  int64_t poll_ms;
  int64_t empty_since; /* loop ms when the group was found empty */
};

/* Returns which output stream a pipe of run carries. */
static enum outbuf_stream
stream_of(const struct run *run, const uv_handle_t *h)
{
  return h == (const uv_handle_t *)&run->perr ? OUTBUF_STDERR : OUTBUF_STDOUT;
}

/* Lets libuv read straight into the output buffer (no copy). */
static void
on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
  struct run *run = h->data;
  size_t avail = 0;
  char *room;

  (void)suggested;
  if (run->released) {
    static char discard[4096];
    *buf = uv_buf_init(discard, sizeof discard);
    return;
  }
  room = output_reserve(run->out, stream_of(run, h), &avail);
  *buf = uv_buf_init(room, (unsigned)avail);
}

/* Reads child output into the runner's output (which pauses the pipes
 * when even a flush cannot make room: backpressure). */
static void
on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
  struct run *run = s->data;

  (void)buf;
  if (n < 0) {
    uv_read_stop(s);
    if (!run->released)
      output_eof(run->out, stream_of(run, (uv_handle_t *)s));
    run->eofs++;
    run_check(run);
    return;
  }
  if (n == 0 || run->released)
    return;
  output_commit(run->out, stream_of(run, (uv_handle_t *)s), (size_t)n);
}

void
run_pause_reading(struct run *run)
{
  /* After the leader's exit the pipes drain to EOF whatever the backlog:
   * what is left is bounded by the pipe buffers, and it must not be lost. */
  if (run->reading_paused || run->leader_exited)
    return;
  run->reading_paused = 1;
  uv_read_stop((uv_stream_t *)&run->pout);
  uv_read_stop((uv_stream_t *)&run->perr);
}

void
run_resume_reading(struct run *run)
{
  if (!run->reading_paused)
    return;
  run->reading_paused = 0;
  if (run->eofs >= run->want_eofs)
    return; /* a pty's EIO does not clear "readable" as an EOF does */
  if (!uv_is_closing((uv_handle_t *)&run->pout) &&
      uv_is_readable((uv_stream_t *)&run->pout))
    uv_read_start((uv_stream_t *)&run->pout, on_alloc, on_read);
  if (!uv_is_closing((uv_handle_t *)&run->perr) &&
      uv_is_readable((uv_stream_t *)&run->perr))
    uv_read_start((uv_stream_t *)&run->perr, on_alloc, on_read);
}

/* Frees a run after its last handle closed. */
static void
on_run_handle_closed(uv_handle_t *h)
{
  struct run *run = h->data;
  if (--run->open_handles > 0)
    return;
  free(run->name);
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
  uv_close((uv_handle_t *)&run->pout, on_run_handle_closed);
  uv_close((uv_handle_t *)&run->perr, on_run_handle_closed);
  uv_close((uv_handle_t *)&run->group_timer, on_run_handle_closed);
}

void
run_release(struct run *run)
{
  run->released = 1;
  run->out = NULL;
  run_close(run);
}

/* Reaps exited members of a run's group that were reparented to tend (the
 * daemon is a subreaper) and tells whether any member is left. Only valid
 * after the leader was reaped by libuv, so it never steals libuv's child. */
int
run_has_members(struct run *run)
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

void
run_signal(struct run *run, int signo)
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

/* Polls the group again (or ends the EOF grace). */
static void
on_group_timer(uv_timer_t *t)
{
  run_check(t->data);
}

/* Decides whether the run is over: leader reaped, group empty, pipes at
 * EOF (or the EOF grace passed, for pipes held by escaped processes). */
void
run_check(struct run *run)
{
  int64_t now;

  if (run->released || run->closing || !run->leader_exited)
    return;
  if (run_has_members(run)) {
    if (!uv_is_active((uv_handle_t *)&run->group_timer)) {
      run->poll_ms = run->poll_ms ? run->poll_ms * 2 : 1;
      if (run->poll_ms > GROUP_POLL_MAX_MS)
        run->poll_ms = GROUP_POLL_MAX_MS;
      uv_timer_start(&run->group_timer, on_group_timer, (uint64_t)run->poll_ms,
                     0);
    }
    return;
  }
  uv_update_time(run->loop);
  now = (int64_t)uv_now(run->loop);
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
             run->name);
  }
  run->reading_paused = 0;
  run->hooks.done(run->hooks.ctx, run->exit_status, run->term_signal);
}

/* libuv reaped the leader: remember how it ended, let the runner clean up
 * leftovers. */
static void
on_leader_exit(uv_process_t *proc, int64_t status, int term_signal)
{
  struct run *run = proc->data;

  run->leader_exited = 1;
  run->exit_status = status;
  run->term_signal = term_signal;
  if (!run->released) {
    run_resume_reading(run); /* held back by a full buffer or disk: drain */
    run->hooks.leader_exit(run->hooks.ctx);
  }
  run_check(run);
}

/* Says why uv_spawn failed with rc (new): execvp says EACCES for a
 * directory too, so look at what it found. */
static char *
spawn_error(const struct config_node *spec, char **env, int rc)
{
  int err = rc;

  if (rc == UV_EACCES || rc == UV_ENOENT) {
    int found =
        cmdpath_find(spec->argv[0], childenv_get(env, "PATH"), spec->cwd, NULL);
    if (found < 0)
      err = found;
    else if (rc == UV_ENOENT)
      err = 1; /* the file is there: what exec missed is inside it */
  }
  return err == 1 ? xasprintf("%s: exists, but its #! interpreter was not "
                              "found",
                              spec->argv[0])
                  : cmdpath_describe(spec->argv[0], err);
}

/* Opens the pty of a run and wraps spec's argv in setsid(1): 0, or -1
 * with *why (new). */
static int
open_pty(const struct config_node *spec, int *master, int *slave, char ***argv,
         char **why)
{
  const char *setsid = pty_setsid_path();

  if (!setsid) {
    *why = xstrdup("pty: setsid(1) from util-linux is not installed (it "
                   "gives the command its terminal)");
    return -1;
  }
  if (pty_open(spec->pty_cols, spec->pty_rows, master, slave, why) < 0)
    return -1;
  *argv = pty_wrap_argv(setsid, spec->argv);
  return 0;
}

struct run *
run_spawn(uv_loop_t *loop, const struct config_node *spec, char **env,
          struct output *out, const struct run_hooks *hooks, char **why)
{
  struct run *run;
  uv_process_options_t opt = {0};
  uv_stdio_container_t io[3];
  char **pty_argv = NULL;
  int rc, master = -1, slave = -1;

  if (spec->pty && open_pty(spec, &master, &slave, &pty_argv, why) < 0)
    return NULL;
  run = xcalloc(1, sizeof *run);
  run->hooks = *hooks;
  run->out = out;
  run->name = xstrdup(spec->name);
  run->loop = loop;
  run->pty = spec->pty;
  run->want_eofs = run->pty ? 1 : 2;
  uv_pipe_init(loop, &run->pout, 0);
  uv_pipe_init(loop, &run->perr, 0);
  uv_timer_init(loop, &run->group_timer);
  run->proc.data = run->pout.data = run->perr.data = run->group_timer.data =
      run;
  run->open_handles = 4;
  if (run->pty) {
    /* The slave is the child's terminal on all three; the daemon reads
     * and writes the master (opened as run->pout below). */
    for (int i = 0; i < 3; i++) {
      io[i].flags = UV_INHERIT_FD;
      io[i].data.fd = slave;
    }
  } else {
    io[0].flags = UV_IGNORE;
    io[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
    io[1].data.stream = (uv_stream_t *)&run->pout;
    io[2].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
    io[2].data.stream = (uv_stream_t *)&run->perr;
  }
  opt.exit_cb = on_leader_exit;
  opt.file = pty_argv ? pty_argv[0] : spec->argv[0];
  opt.args = pty_argv ? pty_argv : spec->argv;
  opt.env = env;
  opt.cwd = spec->cwd;
  /* Not detached on a pty: setsid(1) makes the session (pty.c says why). */
  opt.flags = run->pty ? 0 : UV_PROCESS_DETACHED;
  opt.stdio_count = 3;
  opt.stdio = io;
  rc = uv_spawn(loop, &run->proc, &opt);
  free(pty_argv);
  if (slave >= 0)
    close(slave); /* the child has its copies; EOF comes when they close */
  if (master >= 0 && rc != 0)
    close(master);
  if (master >= 0 && rc == 0) {
    /* The master belongs to run->pout from here: run_close closes it. */
    int prc = uv_pipe_open(&run->pout, master);
    if (prc != 0) {
      /* Cannot read the terminal (it does not happen with a fresh fd):
       * the run is ended at once and its exit reported as usual. */
      close(master);
      log_error("%s: cannot read the pty: %s", spec->name, uv_strerror(prc));
      kill(run->proc.pid, SIGKILL);
      run->want_eofs = 0;
    }
  }
  if (rc != 0) {
    /* The handle is initialised but inactive; the pipes may be open. */
    run_release(run);
    *why = spawn_error(spec, env, rc);
    return NULL;
  }
  run->pid = run->proc.pid;
  run->group_alive = 1;
  if (run->want_eofs > 0)
    uv_read_start((uv_stream_t *)&run->pout, on_alloc, on_read);
  if (!run->pty)
    uv_read_start((uv_stream_t *)&run->perr, on_alloc, on_read);
  return run;
}

int
run_pid(const struct run *run)
{
  return run->pid;
}

uv_stream_t *
run_master(const struct run *run)
{
  return run->pty && run->want_eofs > 0 ? (uv_stream_t *)&run->pout : NULL;
}

int
run_live(const struct run *run)
{
  return !run->leader_exited && run->group_alive;
}
