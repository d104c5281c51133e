/* pty: a runner's pseudo-terminal ("pty": true in its config, issue 12).
 *
 * libuv has no pty support, so this module does the parts it lacks: it
 * opens a master/slave pair (posix_openpt, both ends O_CLOEXEC, the size
 * set with TIOCSWINSZ), wraps the command so that the slave becomes its
 * controlling terminal (setsid(1) --ctty from util-linux), and writes input
 * to the master with a bounded queue. The runner reads the master through
 * a uv_pipe_t and passes the slave as the child's stdin, stdout and stderr
 * (UV_INHERIT_FD). The argv wrapper and the size rules are pure. */
#ifndef TEND_PTY_H
#define TEND_PTY_H

#include <stddef.h>
#include <uv.h>

/* The size of a pty when the config gives none. */
#define PTY_DEFAULT_COLS 120
#define PTY_DEFAULT_ROWS 40
/* The largest size accepted (the kernel takes unsigned short). */
#define PTY_MAX_DIM 1000
/* Input bytes queued for the master before pty_write refuses more. */
#define PTY_INPUT_BOUND (256 * 1024)
/* TERM of a child on a pty. */
#define PTY_TERM "xterm-256color"

/* Opens a pty pair of cols x rows. Returns 0 with *master and *slave (both
 * O_CLOEXEC; the caller closes the slave once the child has it), or a
 * negative errno with *cause (new). */
int pty_open(int cols, int rows, int *master, int *slave, char **cause);

/* Returns 1 when cols x rows is a size pty_open and pty_resize accept. */
int pty_size_valid(long cols, long rows);

/* Sets the size of the pty whose master is fd (the kernel then sends
 * SIGWINCH to its foreground process group). 0 or a negative errno. */
int pty_set_size(int fd, int cols, int rows);

/* Returns argv prefixed with the controlling-terminal wrapper: {setsid,
 * "--ctty", "--", argv...}: a new NULL-terminated array whose strings are
 * borrowed from setsid and argv (free only the array). Pure. */
char **pty_wrap_argv(const char *setsid, char *const *argv);

/* The absolute path of setsid(1) (borrowed; looked up once), or NULL when
 * it is not installed. */
const char *pty_setsid_path(void);

/* Queues a copy of data[0..len) for the master stream. Returns 0, -EAGAIN
 * when more than PTY_INPUT_BOUND bytes are already waiting (the program
 * does not read its terminal), or another negative errno. */
int pty_write(uv_stream_t *master, const char *data, size_t len);

/* Bytes queued for the master and not yet written. */
size_t pty_queued(const uv_stream_t *master);

#endif
