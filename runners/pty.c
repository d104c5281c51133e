/* pty: a runner's pseudo-terminal.
 *
 * DESIGN. The pair is opened in the daemon: the master with
 * posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC), the slave by its name with
 * O_NOCTTY (a daemon without a controlling terminal must not acquire this
 * one) and O_CLOEXEC (so neither end leaks into any other child: libuv
 * dup2s the slave onto the child's 0, 1 and 2, which clears the flag on
 * those copies only).
 *
 * The controlling terminal. A session leader acquires one with
 * ioctl(TIOCSCTTY), or by opening a tty without O_NOCTTY; a process that
 * only inherits the fds does neither, and libuv has no hook between fork
 * and exec. So the command runs under setsid(1) --ctty (util-linux, in
 * every Debian): it calls setsid() and then TIOCSCTTY on its stdin, and
 * execs the command in place (same pid). setsid(1) forks first when it
 * already leads a process group, so the runner spawns a pty run without
 * UV_PROCESS_DETACHED: the child starts in tend's group, setsid(1) makes it
 * the leader of a new session and group (pgid == pid, as for any run), and
 * the stop protocol's kill(-pid) reaches what it starts. A helper binary of
 * our own would do the same two calls; setsid(1) is already there.
 *
 * Input: uv_write on the master's stream, each write a private copy freed
 * in its callback; the queue is bounded so that a program that never reads
 * its terminal costs at most PTY_INPUT_BOUND bytes of the daemon. */
#include "runners/pty.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "src/xalloc.h"

int
pty_size_valid(long cols, long rows)
{
  return cols >= 1 && cols <= PTY_MAX_DIM && rows >= 1 && rows <= PTY_MAX_DIM;
}

int
pty_set_size(int fd, int cols, int rows)
{
  struct winsize ws = {0};

  if (!pty_size_valid(cols, rows))
    return -EINVAL;
  ws.ws_col = (unsigned short)cols;
  ws.ws_row = (unsigned short)rows;
  if (ioctl(fd, TIOCSWINSZ, &ws) == -1)
    return -errno;
  return 0;
}

int
pty_open(int cols, int rows, int *master, int *slave, char **cause)
{
  char name[128];
  int m, s, err;

  *master = *slave = -1;
  m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (m < 0) {
    err = errno;
    *cause = xasprintf("pty: posix_openpt: %s", strerror(err));
    return -err;
  }
  if (grantpt(m) != 0 || unlockpt(m) != 0 ||
      ptsname_r(m, name, sizeof name) != 0) {
    err = errno ? errno : EIO;
    *cause = xasprintf("pty: cannot unlock the pty: %s", strerror(err));
    close(m);
    return -err;
  }
  s = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (s < 0) {
    err = errno;
    *cause = xasprintf("pty: open %s: %s", name, strerror(err));
    close(m);
    return -err;
  }
  err = pty_set_size(m, cols, rows);
  if (err < 0) {
    *cause = xasprintf("pty: cannot set the size %dx%d: %s", cols, rows,
                       strerror(-err));
    close(s);
    close(m);
    return err;
  }
  *master = m;
  *slave = s;
  return 0;
}

char **
pty_wrap_argv(const char *setsid, char *const *argv)
{
  size_t n = 0;
  char **v;

  while (argv && argv[n])
    n++;
  v = xcalloc(n + 4, sizeof *v);
  v[0] = (char *)setsid;
  v[1] = (char *)"--ctty";
  v[2] = (char *)"--";
  for (size_t i = 0; i < n; i++)
    v[3 + i] = argv[i];
  v[n + 3] = NULL;
  return v;
}

const char *
pty_setsid_path(void)
{
  static const char *const places[] = {"/usr/bin/setsid", "/bin/setsid",
                                       "/usr/local/bin/setsid"};
  static const char *found;
  static int looked;

  if (looked)
    return found;
  looked = 1;
  for (size_t i = 0; i < sizeof places / sizeof places[0]; i++)
    if (access(places[i], X_OK) == 0) {
      found = places[i];
      break;
    }
  return found;
}

/* One queued write: the request and the bytes it owns. */
struct pty_write_req {
  uv_write_t req;
  char data[];
};

/* Frees a finished write (an error means the child is gone: nothing to
 * tell, its end is reported by the read side). */
static void
on_written(uv_write_t *req, int status)
{
  (void)status;
  free(req);
}

size_t
pty_queued(const uv_stream_t *master)
{
  return uv_stream_get_write_queue_size(master);
}

int
pty_write(uv_stream_t *master, const char *data, size_t len)
{
  struct pty_write_req *w;
  uv_buf_t buf;
  int rc;

  if (!master || uv_is_closing((uv_handle_t *)master) ||
      !uv_is_writable(master))
    return -EPIPE;
  if (len == 0)
    return 0;
  if (pty_queued(master) + len > PTY_INPUT_BOUND)
    return -EAGAIN;
  w = xmalloc(sizeof *w + len);
  memcpy(w->data, data, len);
  buf = uv_buf_init(w->data, (unsigned)len);
  rc = uv_write(&w->req, master, &buf, 1, on_written);
  if (rc < 0) {
    free(w);
    return rc;
  }
  return 0;
}
