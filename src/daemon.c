/* daemon: `tend up`: the loop, signals, start-up and shutdown order.
 *
 * Start-up: load and validate the config (nothing starts when it is
 * invalid), take the state dir's lock (one daemon per state dir), stop the
 * process groups an earlier, SIGKILLed daemon left behind, then open the
 * coordination context, the terminal printer and the HTTP API, and start
 * the tree. Shutdown (SIGINT / SIGTERM, or a give-up with on_give_up exit):
 * stop the tree in reverse order, then close every part and let the loop
 * run dry. A second SIGINT kills every process group at once.
 *
 * Under systemd (Type=notify), src/notify.c tells the manager READY=1 once
 * the initial start of the tree has completed or failed (the root group's
 * first "running" or "failed" transition, heard on the event bus),
 * RELOADING=1 and READY=1 around a config reload, STOPPING=1 when the
 * shutdown begins, and a rate-limited STATUS= ("3/4 up") as states change.
 *
 * The state folder must be the daemon user's and not writable by group or
 * others (state/statedir.c); every file in it is opened from its
 * descriptor without following symlinks. Signals tend does not use but
 * whose default action would end it (USR1, USR2, ALRM, the real-time
 * ones...) are logged and ignored, through handlers rather than SIG_IGN,
 * which the children would inherit across exec.
 *
 * tend is a child subreaper: grandchildren that outlive their parent are
 * reparented to it, so a runner can wait for its whole group to be gone.
 * Orphans outside any group are reaped here on SIGCHLD, without ever
 * taking a child that libuv waits for (LIBRARY-NOTES.md 4).
 */
#include "src/daemon.h"

#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "src/actor.h"
#include "src/config.h"
#include "src/events.h"
#include "src/locator.h"
#include "src/log.h"
#include "src/notify.h"
#include "src/printer.h"
#include "src/pubsub.h"
#include "src/tend.h"
#include "src/xalloc.h"
#include "state/recover.h"
#include "state/snapshot.h"
#include "state/statedir.h"
#include "ui/http.h"

#define EXIT_GAVE_UP 3

static struct {
  uv_loop_t *loop;
  uv_signal_t sigint, sigterm, sighup, sigchld;
  uv_signal_t ignored[64]; /* daemon_signal_ignored's signals */
  int n_ignored;
  struct printer *printer;
  struct http_server *http;
  struct notify *notify; /* NULL when not under systemd */
  int ready;             /* READY=1 sent: the initial start is over */
  int reloading;         /* a SIGHUP reload brackets its own RELOADING=1 */
  int config_error;      /* the last reload found errors */
  int stopping;
  int exit_code;
  int lock_fd;
  char config_real[PATH_MAX]; /* the config file, for the locator */
  int started;                /* the API is up and the tree was started */
  int unclean; /* the lock file still named a pid: its daemon was killed */
} d;

/* Reads the pid written in the lock file into pid (size bytes, "" when
 * there is none) and tells whether that process still lives. */
static int
lock_owner_alive(int fd, char *pid, size_t size)
{
  ssize_t n = pread(fd, pid, size - 1, 0);
  long v;

  pid[n > 0 ? n : 0] = '\0';
  pid[strcspn(pid, "\n")] = '\0';
  v = strtol(pid, NULL, 10);
  return v > 0 && (kill((pid_t)v, 0) == 0 || errno == EPERM);
}

/* Takes <state_dir>/daemon.lock so that two daemons never share a state
 * dir. Returns 0 or -errno with a message in *cause.
 *
 * A daemon killed with SIGKILL while it was spawning leaves a forked child
 * that holds a copy of the lock's descriptor until its exec closes it
 * (O_CLOEXEC), for some milliseconds on a busy machine. So while the pid
 * in the file is dead, the lock is retried for a while before giving up. */
static int
take_lock(const char *state_dir, char **cause)
{
  char *path = xasprintf("%s/daemon.lock", state_dir);
  int fd = openat(statedir_fd(), "daemon.lock",
                  O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  char pid[32];
  int waited_ms = 0;
  struct stat sb;

  if (fd < 0) {
    int err = errno;
    *cause = xasprintf("%s: %s", path, strerror(err));
    free(path);
    return -err;
  }
  if (fstat(fd, &sb) == 0 && (sb.st_mode & 077))
    fchmod(fd, 0600); /* an older tend's lock: 0644 */
  while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    struct timespec ts = {0, 10 * 1000000L};
    if (lock_owner_alive(fd, pid, sizeof pid) || waited_ms >= 2000) {
      *cause = xasprintf("another tend (pid %s) is running with state dir %s",
                         pid[0] ? pid : "?", state_dir);
      close(fd);
      free(path);
      return -EBUSY;
    }
    nanosleep(&ts, NULL);
    waited_ms += 10;
  }
  /* A clean exit empties the file (daemon_up's end): a pid left in it
   * means that daemon died without stopping its children. */
  lock_owner_alive(fd, pid, sizeof pid);
  d.unclean = pid[0] != '\0';
  if (ftruncate(fd, 0) == 0) {
    int n = snprintf(pid, sizeof pid, "%d\n", getpid());
    if (write(fd, pid, (size_t)n) < 0)
      log_debug("cannot write the pid to %s", path);
  }
  free(path);
  d.lock_fd = fd;
  return 0;
}

/* Stops groups left by a daemon that died without cleaning up: those
 * state.json names, then, when that daemon was killed, any other process
 * started for this state dir (a child forked just before the kill is not
 * in state.json). Runs before anything writes state.json; returns what it
 * stopped (new), and in *skipped (new, or NULL) the recorded groups it
 * left alone because they were not provably ours. */
static json_t *
recover_previous(const struct config *cfg, json_t **skipped)
{
  char *path = xasprintf("%s/state.json", cfg->state_dir);
  int err = 0;
  json_t *state = snapshot_load(path, &err);
  json_t *found, *strays;

  *skipped = NULL;
  if (!state) {
    if (err == -EINVAL || err == -ELOOP)
      log_warn("%s: %s; ignored", path,
               err == -EINVAL ? "not valid JSON" : strerror(-err));
    found = json_array();
  } else {
    found = recover_orphans(state, cfg->state_dir, 2000, skipped);
    json_decref(state);
  }
  if (d.unclean) {
    strays = recover_strays(cfg->state_dir, 2000);
    json_array_extend(found, strays);
    json_decref(strays);
  }
  free(path);
  return found;
}

/* Reports the recovered groups, and those left alone, as events. */
static void
report_recovered(json_t *found, json_t *skipped)
{
  size_t i;
  json_t *g;

  json_array_foreach(skipped, i, g)
  {
    char *msg = xasprintf(
        "left process group %d alone although state.json names it: %s",
        (int)json_integer_value(json_object_get(g, "pgid")),
        json_string_value(json_object_get(g, "reason")));
    struct tend_event ev = {
        .type = EVENTS_RECOVERY_SKIPPED,
        .node = json_string_value(json_object_get(g, "runner")),
        .pgid = json_integer_value(json_object_get(g, "pgid")),
        .message = msg};
    events_emit(&ev);
    free(msg);
  }
  json_decref(skipped);

  json_array_foreach(found, i, g)
  {
    struct tend_event ev = {
        .type = EVENTS_RECOVERED,
        .node = json_string_value(json_object_get(g, "runner")),
        .pgid = json_integer_value(json_object_get(g, "pgid")),
        .pids = json_object_get(g, "pids"),
        .message = "stopped a process group left by a daemon that was "
                   "killed"};
    events_emit(&ev);
  }
  json_decref(found);
}

/* Closes a signal handle (no memory to free: they are static). */
static void
close_signals(void)
{
  uv_close((uv_handle_t *)&d.sigint, NULL);
  uv_close((uv_handle_t *)&d.sigterm, NULL);
  uv_close((uv_handle_t *)&d.sighup, NULL);
  uv_close((uv_handle_t *)&d.sigchld, NULL);
  for (int i = 0; i < d.n_ignored; i++)
    uv_close((uv_handle_t *)&d.ignored[i], NULL);
}

/* The context is closed: the loop can run dry now. */
static void
on_tend_closed(void *arg)
{
  (void)arg;
  close_signals();
}

/* The printer is closed: close the context. */
static void
on_printer_closed(void *arg)
{
  (void)arg;
  tend_close(on_tend_closed, NULL);
}

/* The HTTP server is closed: close the printer. */
static void
on_http_closed(void *arg)
{
  (void)arg;
  d.http = NULL;
  printer_close(d.printer, on_printer_closed, NULL);
}

/* The whole tree is down: close the parts in reverse start-up order. The
 * notifier goes first: its status source reads the tree, which is about
 * to close. */
static void
on_tree_stopped(void *ctx)
{
  (void)ctx;
  if (d.started)
    events_note(EVENTS_DAEMON_STOPPED, NULL, "every runner is stopped");
  notify_close(d.notify, NULL, NULL);
  d.notify = NULL;
  if (d.http)
    http_close(d.http, on_http_closed, NULL);
  else
    on_http_closed(NULL);
}

/* Begins a graceful shutdown (idempotent). */
static void
begin_stop(const char *why)
{
  if (d.stopping)
    return;
  d.stopping = 1;
  events_note(EVENTS_DAEMON_STOPPING, NULL, "%s", why);
  notify_stopping(d.notify, NULL);
  tend_stop();
}

/* POST /api/v1/daemon/stop (tend down). */
static void
on_stop_request(void *ctx, const char *why)
{
  (void)ctx;
  begin_stop(why);
}

/* The root group failed after too many restarts. */
static void
on_gave_up(void *ctx)
{
  (void)ctx;
  if (tend_config()->on_give_up == CONFIG_GIVE_UP_EXIT) {
    d.exit_code = EXIT_GAVE_UP;
    begin_stop("the root group gave up (on_give_up: exit)");
  }
}

/* SIGINT / SIGTERM: stop gracefully; a second SIGINT kills at once. */
static void
on_signal(uv_signal_t *h, int signo)
{
  (void)h;
  if (d.stopping && signo == SIGINT) {
    events_note(EVENTS_DAEMON_STOPPING, NULL,
                "second interrupt: killing every process group");
    tend_kill_all();
    return;
  }
  begin_stop(signo == SIGINT ? "interrupted (SIGINT)" : "terminated (SIGTERM)");
}

int
daemon_signal_ignored(int signo)
{
  static const int fixed[] = {
      SIGQUIT,   SIGUSR1, SIGUSR2, SIGALRM, SIGVTALRM,
      SIGPROF,   SIGIO,   SIGXCPU, SIGXFSZ, SIGPWR,
#ifdef SIGSTKFLT
      SIGSTKFLT,
#endif
  };

  for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++)
    if (fixed[i] == signo)
      return 1;
  return signo >= SIGRTMIN && signo <= SIGRTMAX;
}

/* A signal tend does not use: say so, and go on. SIGXFSZ ignored makes
 * a write past the file size limit fail with EFBIG, which the store
 * treats as disk trouble. */
static void
on_ignored_signal(uv_signal_t *h, int signo)
{
  const char *abbrev = sigabbrev_np(signo);
  (void)h;
  if (abbrev)
    log_warn("ignoring SIG%s: tend does not use it (SIGTERM or SIGINT "
             "stops it)",
             abbrev);
  else
    log_warn("ignoring signal %d (SIGRTMIN+%d): tend does not use it "
             "(SIGTERM or SIGINT stops it)",
             signo, signo - SIGRTMIN);
}

/* Adds every signal daemon_signal_ignored names to set. */
static void
add_ignored_signals(sigset_t *set)
{
  for (int s = 1; s <= SIGRTMAX; s++)
    if (daemon_signal_ignored(s))
      sigaddset(set, s);
}

/* Installs the handlers of the ignored signals. */
static void
start_ignored_signals(void)
{
  for (int s = 1; s <= SIGRTMAX; s++) {
    uv_signal_t *h;
    if (!daemon_signal_ignored(s) ||
        d.n_ignored >= (int)(sizeof d.ignored / sizeof *d.ignored))
      continue;
    h = &d.ignored[d.n_ignored++];
    uv_signal_init(d.loop, h);
    if (uv_signal_start(h, on_ignored_signal, s) != 0)
      log_debug("cannot handle signal %d", s);
    uv_unref((uv_handle_t *)h); /* never keeps the loop alive */
  }
}

/* SIGHUP: re-read the config. systemd's Type=notify-reload sends SIGHUP
 * and waits for RELOADING=1 then READY=1, even when nothing changed (no
 * event then), so this path brackets the reload itself. */
static void
on_sighup(uv_signal_t *h, int signo)
{
  struct config_errors errs = CONFIG_ERRORS_ZERO;
  int bracket = d.ready && !d.stopping;
  (void)h;
  (void)signo;
  if (bracket)
    notify_reloading(d.notify);
  d.reloading = 1;
  if (tend_reload(&errs) != 0)
    for (size_t i = 0; i < errs.n; i++) {
      char *line = config_error_format(&errs.v[i]);
      log_warn("reload: %s", line);
      free(line);
    }
  d.reloading = 0;
  config_errors_free(&errs);
  if (bracket)
    notify_ready(d.notify);
}

/* The STATUS= text for systemd: the tree's counts (new string). Only
 * called while the tree is open (the notifier closes before it). */
static char *
status_text(void *ctx)
{
  json_t *tree = tend_tree_json();
  char *s = notify_status_text(d.stopping ? "stopping"
                               : d.ready  ? NULL
                                          : "starting",
                               tree, d.config_error);
  (void)ctx;
  json_decref(tree);
  return s;
}

/* Hears every event (synchronously, after the read model): tells systemd
 * when the initial start is over, about reloads, and that states changed.
 *
 * tend_reload runs start to end inside one loop callback and announces
 * itself only when done (config_applied or config_error), so a reload
 * from the file watcher or the API is reported as RELOADING=1 and READY=1
 * back to back: nothing could have observed the moment in between. */
static void
on_event(void *ctx, const struct tend_event *ev)
{
  (void)ctx;
  if (!d.notify)
    return;
  if (ev->type == EVENTS_STATE) {
    if (!d.ready && !d.stopping && ev->node && ev->kind == EVENTS_KIND_GROUP &&
        strcmp(ev->node, tend_config()->root->name) == 0 &&
        (ev->to.group == SUP_FSM_RUNNING || ev->to.group == SUP_FSM_FAILED)) {
      d.ready = 1;
      notify_ready(d.notify);
    } else {
      notify_status_changed(d.notify);
    }
  } else if (ev->type == EVENTS_CONFIG_APPLIED ||
             ev->type == EVENTS_CONFIG_ERROR) {
    d.config_error = ev->type == EVENTS_CONFIG_ERROR;
    if (d.ready && !d.stopping && !d.reloading) {
      notify_reloading(d.notify);
      notify_ready(d.notify);
    } else {
      notify_status_changed(d.notify);
    }
  }
}

/* uv_walk callback: flags a process handle whose pid is the one asked. */
static void
find_process(uv_handle_t *h, void *arg)
{
  int *pid = arg;
  if (h->type == UV_PROCESS && ((uv_process_t *)h)->pid == *pid)
    *pid = 0;
}

/* Tells whether libuv waits for pid: a run's leader, or a probe command
 * (ready.exec, health.exec) that is no leader of any run. */
static int
is_libuv_child(int pid)
{
  if (tend_is_leader(pid))
    return 1;
  uv_walk(d.loop, find_process, &pid);
  return pid == 0;
}

/* SIGCHLD: reaps orphans reparented to tend that no libuv handle waits
 * for. waitid(WNOWAIT) peeks first, so libuv's children are left alone. */
static void
on_sigchld(uv_signal_t *h, int signo)
{
  (void)h;
  (void)signo;
  for (;;) {
    siginfo_t si;
    memset(&si, 0, sizeof si);
    if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) != 0 ||
        si.si_pid == 0)
      return;
    if (is_libuv_child(si.si_pid))
      return; /* libuv reaps it; we run again on the next SIGCHLD */
    waitpid(si.si_pid, NULL, WNOHANG);
  }
}

int
daemon_up(const char *config_path)
{
  struct config *cfg = NULL;
  char *errors = NULL, *cause = NULL;
  struct tend_hooks hooks = {on_gave_up, on_tree_stopped, NULL,
                             on_stop_request};
  json_t *recovered, *skipped;
  sigset_t early;
  int rc;

  /* Until the loop's handlers exist (config, lock, recovery of a killed
   * daemon's groups can take seconds), INT, TERM and HUP stay pending
   * instead of killing tend by their default action; they are handled
   * once unblocked below. Children get an empty mask from libuv. */
  sigemptyset(&early);
  sigaddset(&early, SIGINT);
  sigaddset(&early, SIGTERM);
  sigaddset(&early, SIGHUP);
  add_ignored_signals(&early);
  sigprocmask(SIG_BLOCK, &early, NULL);
  signal(SIGPIPE, SIG_IGN);
  uv_disable_stdio_inheritance();
  /* Output chunks are up to 1 MiB: keep glibc from mapping and trimming
   * the heap for each one (30x fewer page faults when a child floods). */
  mallopt(M_MMAP_THRESHOLD, 4 << 20);
  mallopt(M_TRIM_THRESHOLD, 16 << 20);
  memset(&d, 0, sizeof d);
  d.lock_fd = -1;

  rc = config_load(config_path, &cfg, &errors);
  if (rc != 0) {
    fprintf(stderr, "%s", errors ? errors : "tend: cannot load config\n");
    if (errors && errors[0] && errors[strlen(errors) - 1] != '\n')
      fputc('\n', stderr);
    fprintf(stderr, "tend: %s: invalid config; nothing started\n", config_path);
    free(errors);
    return 1;
  }
  if (statedir_open(cfg->state_dir, &cause) != 0) {
    fprintf(stderr, "tend: %s\n", cause);
    free(cause);
    config_free(cfg);
    return 1;
  }
  if (take_lock(cfg->state_dir, &cause) != 0) {
    fprintf(stderr, "tend: %s\n", cause);
    free(cause);
    config_free(cfg);
    statedir_close();
    return 1;
  }
  /* Clients whose copy of the file names another state folder (an edit
   * this daemon refuses) find it through the locator. */
  if (realpath(cfg->file, d.config_real) &&
      locator_publish(d.config_real, cfg->state_dir, getpid()) != 0)
    log_debug("locator: cannot record %s", d.config_real);
  if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0)
    log_warn("cannot become a child subreaper: %s", strerror(errno));

  recovered = recover_previous(cfg, &skipped);
  d.loop = uv_default_loop();
  actor_runtime_init(d.loop);
  rc = tend_open(d.loop, cfg, &hooks, &cause);
  if (rc != 0) {
    fprintf(stderr, "tend: %s\n", cause ? cause : strerror(-rc));
    free(cause);
    json_decref(recovered);
    json_decref(skipped);
    return 1;
  }
  cfg = NULL; /* owned by the context now */
  /* Before anything is spawned: children must not inherit NOTIFY_SOCKET. */
  d.notify = notify_open(d.loop, status_text, NULL);
  events_listen(on_event, NULL);
  d.printer = printer_new(d.loop, tend_config());
  report_recovered(recovered, skipped);

  uv_signal_init(d.loop, &d.sigint);
  uv_signal_init(d.loop, &d.sigterm);
  uv_signal_init(d.loop, &d.sighup);
  uv_signal_init(d.loop, &d.sigchld);
  uv_signal_start(&d.sigint, on_signal, SIGINT);
  uv_signal_start(&d.sigterm, on_signal, SIGTERM);
  uv_signal_start(&d.sighup, on_sighup, SIGHUP);
  uv_signal_start(&d.sigchld, on_sigchld, SIGCHLD);
  start_ignored_signals();
  sigprocmask(SIG_UNBLOCK, &early, NULL);

  if (tend_config()->http.enabled) {
    rc = http_start(d.loop, tend_config(), &d.http, &cause);
    if (rc != 0) {
      char *why = xasprintf("tend: %s", cause ? cause : strerror(-rc));
      fprintf(stderr, "%s\n", why);
      notify_stopping(d.notify, why);
      free(why);
      free(cause);
      d.exit_code = 1;
      d.stopping = 1;
      on_tree_stopped(NULL);
      goto run;
    }
  }
  /* Only a daemon that runs says so (not one whose port was taken). */
  d.started = 1;
  events_note(EVENTS_DAEMON_STARTED, NULL, "tend %d on %s (config %s)",
              getpid(), tend_config()->file, tend_config()->hash);
  tend_start();
run:
  uv_run(d.loop, UV_RUN_DEFAULT);
  pubsub_shutdown();
  actor_runtime_close();
  uv_run(d.loop, UV_RUN_NOWAIT);
  if (uv_loop_close(d.loop) != 0)
    log_debug("loop closed with handles still open");
  if (d.config_real[0])
    locator_remove(d.config_real, getpid());
  if (d.lock_fd >= 0) {
    if (ftruncate(d.lock_fd, 0) != 0)
      log_debug("cannot empty daemon.lock: %s", strerror(errno));
    close(d.lock_fd);
  }
  statedir_close();
  return d.exit_code;
}
