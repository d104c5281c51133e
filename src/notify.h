/* notify: the systemd service notification protocol (sd_notify(3)) without
 * libsystemd: READY=1, RELOADING=1, STOPPING=1, STATUS= and WATCHDOG=1
 * datagrams to the AF_UNIX socket named by $NOTIFY_SOCKET.
 *
 * The pure half parses the environment and formats the datagrams; the
 * shell (notify_open and friends) owns the socket and two loop timers (the
 * watchdog ping and the rate limit of STATUS updates). Every shell function
 * accepts NULL, which is what notify_open returns when tend does not run
 * under systemd, so callers never test for it. */
#ifndef TEND_NOTIFY_H
#define TEND_NOTIFY_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <uv.h>

/* STATUS= updates go out at most this often (the rest is coalesced). */
#define NOTIFY_STATUS_MS 500

#define NOTIFY_KIND_MAP(X)                                                     \
  X(READY, "READY=1")                                                          \
  X(RELOADING, "RELOADING=1")                                                  \
  X(STOPPING, "STOPPING=1")                                                    \
  X(WATCHDOG, "WATCHDOG=1")                                                    \
  X(STATUS, NULL) /* only the STATUS= line */

enum notify_kind {
#define X(N, S) NOTIFY_##N,
  NOTIFY_KIND_MAP(X)
#undef X
};

/* ---- pure ---- */

/* Parses $NOTIFY_SOCKET: an absolute path, or "@name" for an abstract
 * socket. Fills *addr and *len (the length to pass to sendto). Returns 0,
 * -EINVAL (NULL, empty, relative, another scheme such as "vsock:") or
 * -ENAMETOOLONG. */
int notify_parse_socket(const char *value, struct sockaddr_un *addr,
                        socklen_t *len);

/* Reads $WATCHDOG_USEC and $WATCHDOG_PID (either may be NULL) for the
 * process self. Returns the ping interval in microseconds (half the
 * timeout, at least 1), 0 when there is no watchdog for this process
 * (WATCHDOG_USEC unset, or WATCHDOG_PID names another process), or -EINVAL
 * when a value is not a positive decimal number. */
int64_t notify_watchdog_interval(const char *usec, const char *pid, long self);

/* Formats one datagram into buf (cap bytes, NUL-terminated): the kind's
 * assignment, MONOTONIC_USEC=mono_usec after RELOADING=1, and a STATUS=
 * line when status is not NULL (control characters, newlines included,
 * become spaces). Returns its length, or -ENOSPC when it does not fit (or
 * -EINVAL for NOTIFY_STATUS without a status). */
int notify_format(char *buf, size_t cap, enum notify_kind kind,
                  uint64_t mono_usec, const char *status);

/* Summarises a tree as tend_tree_json() gives it (borrowed): "N/M up"
 * (runners running or ready out of all runners), ", K failed" when some
 * have failed, "; config has errors" when config_error, each prefixed by
 * "phase: " when phase is not NULL. Returns a new string. */
char *notify_status_text(const char *phase, const json_t *tree,
                         int config_error);

/* ---- the shell ---- */

struct notify;

/* Builds the current STATUS= text (new string), called at most every
 * NOTIFY_STATUS_MS and when READY=1 or STOPPING=1 is sent. */
typedef char *(*notify_status_fn)(void *ctx);

/* Reads NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID and removes them from
 * the environment, so that children do not speak to systemd in tend's name
 * (sd_notify's unset_environment). Returns NULL when NOTIFY_SOCKET is unset
 * or unusable (logged); else opens the socket and, when the watchdog is for
 * this process, pings it every WATCHDOG_USEC / 2. status_fn may be NULL. */
struct notify *notify_open(uv_loop_t *loop, notify_status_fn status_fn,
                           void *ctx);
/* READY=1 with a fresh STATUS=. */
void notify_ready(struct notify *n);
/* RELOADING=1 with MONOTONIC_USEC= (systemd's Type=notify-reload). */
void notify_reloading(struct notify *n);
/* STOPPING=1 with STATUS=why, or a fresh STATUS= when why is NULL. */
void notify_stopping(struct notify *n, const char *why);
/* Something the STATUS= text shows changed: an update goes out within
 * NOTIFY_STATUS_MS when the text differs from the last one sent. */
void notify_status_changed(struct notify *n);
/* Stops the timers and closes the socket; n is freed once its handles are
 * closed, then cb(arg) runs (at once when n is NULL). */
void notify_close(struct notify *n, void (*cb)(void *arg), void *arg);

#endif
