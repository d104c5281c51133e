/* notify: systemd's notification protocol, spoken directly.
 *
 * DESIGN
 * The protocol is one datagram per notification on an AF_UNIX SOCK_DGRAM
 * socket whose address systemd puts in $NOTIFY_SOCKET ("/run/systemd/notify"
 * or "@name" for the abstract namespace), each datagram a few "KEY=value"
 * lines (sd_notify(3)). systemd learns the sender's pid from the socket
 * itself, so NotifyAccess=main works as long as tend sends, not a child.
 *
 *  - The socket is non-blocking and close-on-exec, and every send uses
 *    MSG_DONTWAIT | MSG_NOSIGNAL: a full or vanished receiver costs one
 *    failed syscall, never a blocked loop. A failure is logged once per
 *    streak of failures (the watchdog would otherwise log every ping).
 *  - NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID are removed from the
 *    environment at open, before any child is spawned (runners copy
 *    tend's environment), as sd_notify(unset_environment=1) does: a child
 *    that spoke to the socket would speak as an unauthorised process, or,
 *    with NotifyAccess=all, in tend's name.
 *  - The watchdog timer pings every WATCHDOG_USEC / 2 from the loop itself,
 *    so a stuck loop is what stops the pings.
 *  - STATUS= updates are coalesced: a change arms a one-shot timer of
 *    NOTIFY_STATUS_MS, and only then is the text built (the caller's
 *    status_fn walks the tree) and sent, when it differs from the last.
 *
 * Both timers are unreferenced: they never keep the loop alive alone. */
#include "src/notify.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "src/log.h"
#include "src/xalloc.h"
#include "runners/fsm.h"

struct notify {
  uv_loop_t *loop;
  int fd;
  struct sockaddr_un addr;
  socklen_t addr_len;
  char *where; /* $NOTIFY_SOCKET as given, for messages */
  uv_timer_t watchdog;
  uv_timer_t status_timer;
  notify_status_fn status_fn;
  void *status_ctx;
  char *last_status; /* the last STATUS= text sent */
  int failing;       /* the last send failed (already logged) */
  int open_handles;
  void (*close_cb)(void *);
  void *close_arg;
};

static const char *const kind_lines[] = {
#define X(N, S) S,
    NOTIFY_KIND_MAP(X)
#undef X
};

/* ------------------------------------------------------------------ */
/* Pure                                                                 */

int
notify_parse_socket(const char *value, struct sockaddr_un *addr, socklen_t *len)
{
  size_t n;

  if (!value || (value[0] != '/' && value[0] != '@') || !value[1])
    return -EINVAL;
  n = strlen(value);
  if (n >= sizeof addr->sun_path)
    return -ENAMETOOLONG;
  memset(addr, 0, sizeof *addr);
  addr->sun_family = AF_UNIX;
  memcpy(addr->sun_path, value, n);
  if (value[0] == '@') {
    /* Abstract: a leading NUL, and the length counts the name exactly. */
    addr->sun_path[0] = '\0';
    *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
  } else {
    *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
  }
  return 0;
}

/* Parses a positive decimal number without sign or spaces; returns 0 and
 * *out, or -EINVAL. */
static int
parse_positive(const char *s, uint64_t *out)
{
  uint64_t v = 0;

  if (!s || !*s)
    return -EINVAL;
  for (; *s; s++) {
    if (*s < '0' || *s > '9')
      return -EINVAL;
    if (v > (UINT64_MAX - 9) / 10)
      return -EINVAL;
    v = v * 10 + (uint64_t)(*s - '0');
  }
  if (v == 0)
    return -EINVAL;
  *out = v;
  return 0;
}

int64_t
notify_watchdog_interval(const char *usec, const char *pid, long self)
{
  uint64_t timeout, owner;

  if (!usec)
    return 0;
  if (parse_positive(usec, &timeout) != 0 || timeout > INT64_MAX)
    return -EINVAL;
  if (pid) {
    if (parse_positive(pid, &owner) != 0)
      return -EINVAL;
    if (owner != (uint64_t)self)
      return 0;
  }
  return timeout / 2 > 0 ? (int64_t)(timeout / 2) : 1;
}

int
notify_format(char *buf, size_t cap, enum notify_kind kind, uint64_t mono_usec,
              const char *status)
{
  size_t len = 0;
  int n;

  if (cap == 0)
    return -ENOSPC;
  buf[0] = '\0';
  if (kind == NOTIFY_STATUS && !status)
    return -EINVAL;
  if (kind_lines[kind]) {
    n = snprintf(buf, cap, "%s\n", kind_lines[kind]);
    if (n < 0 || (size_t)n >= cap)
      return -ENOSPC;
    len = (size_t)n;
  }
  if (kind == NOTIFY_RELOADING) {
    n = snprintf(buf + len, cap - len, "MONOTONIC_USEC=%" PRIu64 "\n",
                 mono_usec);
    if (n < 0 || (size_t)n >= cap - len)
      return -ENOSPC;
    len += (size_t)n;
  }
  if (status) {
    size_t start = len;
    n = snprintf(buf + len, cap - len, "STATUS=%s\n", status);
    if (n < 0 || (size_t)n >= cap - len)
      return -ENOSPC;
    len += (size_t)n;
    /* One line per assignment: the text's own control bytes become
     * spaces (the final newline is ours). */
    for (size_t i = start + 7; i < len - 1; i++)
      if ((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f)
        buf[i] = ' ';
  }
  return (int)len;
}

struct tally {
  int up, total, failed;
};

/* Counts the runners under one node of the tree. */
static void
tally_node(const json_t *node, struct tally *t)
{
  const char *kind = json_string_value(json_object_get(node, "kind"));
  const char *state = json_string_value(json_object_get(node, "state"));
  const json_t *children = json_object_get(node, "children");

  if (kind && strcmp(kind, "runner") == 0) {
    t->total++;
    if (fsm_state_name_is(state, fsm_state_up))
      t->up++;
    else if (state && !strcmp(state, "failed"))
      t->failed++;
    return;
  }
  for (size_t i = 0; i < json_array_size(children); i++)
    tally_node(json_array_get(children, i), t);
}

char *
notify_status_text(const char *phase, const json_t *tree, int config_error)
{
  struct tally t = {0, 0, 0};
  char failed[32] = "";

  if (tree)
    tally_node(tree, &t);
  if (t.failed)
    snprintf(failed, sizeof failed, ", %d failed", t.failed);
  return xasprintf("%s%s%d/%d up%s%s", phase ? phase : "", phase ? ": " : "",
                   t.up, t.total, failed,
                   config_error ? "; config has errors" : "");
}

/* ------------------------------------------------------------------ */
/* The shell                                                            */

/* Sends one datagram; a failure is logged once per streak. */
static void
send_msg(struct notify *n, enum notify_kind kind, const char *status)
{
  char buf[1024];
  struct timespec ts;
  uint64_t mono = 0;
  int len;

  if (kind == NOTIFY_RELOADING) {
    clock_gettime(CLOCK_MONOTONIC, &ts);
    mono = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
  }
  len = notify_format(buf, sizeof buf, kind, mono, status);
  if (len < 0) {
    /* A status too long for one datagram: send the assignment alone. */
    len = notify_format(buf, sizeof buf, kind, mono, NULL);
    if (len < 0)
      return;
  }
  if (sendto(n->fd, buf, (size_t)len, MSG_DONTWAIT | MSG_NOSIGNAL,
             (const struct sockaddr *)&n->addr, n->addr_len) < 0) {
    if (!n->failing)
      log_warn("systemd notify socket %s: %s (notifications are lost until "
               "it answers again)",
               n->where, strerror(errno));
    n->failing = 1;
    return;
  }
  n->failing = 0;
}

/* Builds the status text (new), or NULL without a status source. */
static char *
current_status(struct notify *n)
{
  return n->status_fn ? n->status_fn(n->status_ctx) : NULL;
}

/* Sends kind with a fresh STATUS= and remembers the text. */
static void
send_with_status(struct notify *n, enum notify_kind kind)
{
  char *status = current_status(n);

  send_msg(n, kind, status);
  if (status) {
    free(n->last_status);
    n->last_status = status;
  }
}

/* The watchdog interval passed: tell systemd the loop is alive. */
static void
on_watchdog(uv_timer_t *h)
{
  send_msg(h->data, NOTIFY_WATCHDOG, NULL);
}

/* The status rate limit passed: send the text if it changed. */
static void
on_status_timer(uv_timer_t *h)
{
  struct notify *n = h->data;
  char *status = current_status(n);

  if (!status)
    return;
  if (n->last_status && strcmp(status, n->last_status) == 0) {
    free(status);
    return;
  }
  send_msg(n, NOTIFY_STATUS, status);
  free(n->last_status);
  n->last_status = status;
}

/* Reads the variable and removes it from the environment (new copy). */
static char *
take_env(const char *name)
{
  const char *v = getenv(name);
  char *copy = v ? xstrdup(v) : NULL;

  unsetenv(name);
  return copy;
}

struct notify *
notify_open(uv_loop_t *loop, notify_status_fn status_fn, void *ctx)
{
  char *where = take_env("NOTIFY_SOCKET");
  char *wd_usec = take_env("WATCHDOG_USEC");
  char *wd_pid = take_env("WATCHDOG_PID");
  struct notify *n = NULL;
  int64_t interval;
  int rc;

  if (!where)
    goto done;
  n = xcalloc(1, sizeof *n);
  rc = notify_parse_socket(where, &n->addr, &n->addr_len);
  if (rc != 0) {
    log_warn("NOTIFY_SOCKET=%s: %s; systemd will not hear from tend", where,
             rc == -ENAMETOOLONG ? "path too long"
                                 : "not an absolute path or @abstract name");
    free(n);
    n = NULL;
    goto done;
  }
  n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (n->fd < 0) {
    log_warn("NOTIFY_SOCKET: socket: %s; systemd will not hear from tend",
             strerror(errno));
    free(n);
    n = NULL;
    goto done;
  }
  n->loop = loop;
  n->where = where;
  where = NULL;
  n->status_fn = status_fn;
  n->status_ctx = ctx;
  uv_timer_init(loop, &n->watchdog);
  uv_timer_init(loop, &n->status_timer);
  n->watchdog.data = n->status_timer.data = n;
  uv_unref((uv_handle_t *)&n->watchdog);
  uv_unref((uv_handle_t *)&n->status_timer);
  n->open_handles = 2;
  interval = notify_watchdog_interval(wd_usec, wd_pid, (long)getpid());
  if (interval < 0) {
    log_warn("WATCHDOG_USEC=%s%s%s: not a positive number; no watchdog "
             "pings",
             wd_usec, wd_pid ? ", WATCHDOG_PID=" : "", wd_pid ? wd_pid : "");
  } else if (interval > 0) {
    uint64_t ms = (uint64_t)interval / 1000;
    if (ms == 0)
      ms = 1;
    uv_timer_start(&n->watchdog, on_watchdog, ms, ms);
  }
done:
  free(where);
  free(wd_usec);
  free(wd_pid);
  return n;
}

void
notify_ready(struct notify *n)
{
  if (n)
    send_with_status(n, NOTIFY_READY);
}

void
notify_reloading(struct notify *n)
{
  if (n)
    send_msg(n, NOTIFY_RELOADING, NULL);
}

void
notify_stopping(struct notify *n, const char *why)
{
  if (!n)
    return;
  if (!why) {
    send_with_status(n, NOTIFY_STOPPING);
    return;
  }
  send_msg(n, NOTIFY_STOPPING, why);
  free(n->last_status);
  n->last_status = xstrdup(why);
}

void
notify_status_changed(struct notify *n)
{
  if (n && n->status_fn && !uv_is_active((uv_handle_t *)&n->status_timer))
    uv_timer_start(&n->status_timer, on_status_timer, NOTIFY_STATUS_MS, 0);
}

/* Counts a closed timer; the last one frees the notifier. */
static void
on_closed(uv_handle_t *h)
{
  struct notify *n = h->data;
  void (*cb)(void *) = n->close_cb;
  void *arg = n->close_arg;

  if (--n->open_handles > 0)
    return;
  free(n->last_status);
  free(n->where);
  free(n);
  if (cb)
    cb(arg);
}

void
notify_close(struct notify *n, void (*cb)(void *arg), void *arg)
{
  if (!n) {
    if (cb)
      cb(arg);
    return;
  }
  n->close_cb = cb;
  n->close_arg = arg;
  close(n->fd);
  n->fd = -1;
  uv_close((uv_handle_t *)&n->watchdog, on_closed);
  uv_close((uv_handle_t *)&n->status_timer, on_closed);
}
