/* test_pty: the pty module (the setsid wrapper, sizes, a real pair opened
 * with both ends close-on-exec, input writes bounded on a real loop) and
 * the pure parts of tend attach (what a chunk writes to the terminal, the
 * detach key). */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>
#include <uv.h>

#include "runners/pty.h"
#include "src/attach.h"

Test(pty, wrap_argv_puts_setsid_ctty_in_front)
{
  char *argv[] = {"python3", "-q", NULL};
  char **v = pty_wrap_argv("/usr/bin/setsid", argv);
  cr_assert_str_eq(v[0], "/usr/bin/setsid");
  cr_assert_str_eq(v[1], "--ctty");
  cr_assert_str_eq(v[2], "--");
  cr_assert_str_eq(v[3], "python3");
  cr_assert_str_eq(v[4], "-q");
  cr_assert_null(v[5]);
  cr_assert_eq(v[3], argv[0]); /* borrowed, not copied */
  free(v);
}

Test(pty, size_rules)
{
  cr_expect(pty_size_valid(120, 40));
  cr_expect(pty_size_valid(1, 1));
  cr_expect(pty_size_valid(1000, 1000));
  cr_expect_not(pty_size_valid(0, 40));
  cr_expect_not(pty_size_valid(120, 0));
  cr_expect_not(pty_size_valid(1001, 40));
  cr_expect_not(pty_size_valid(-5, 40));
}

Test(pty, open_gives_a_sized_pair_closed_on_exec)
{
  int m = -1, s = -1;
  char *cause = NULL;
  struct winsize ws;

  cr_assert_eq(pty_open(100, 30, &m, &s, &cause), 0, "%s", cause);
  cr_expect(fcntl(m, F_GETFD) & FD_CLOEXEC);
  cr_expect(fcntl(s, F_GETFD) & FD_CLOEXEC);
  cr_expect(isatty(s));
  cr_assert_eq(ioctl(s, TIOCGWINSZ, &ws), 0);
  cr_expect_eq(ws.ws_col, 100);
  cr_expect_eq(ws.ws_row, 30);
  cr_assert_eq(pty_set_size(m, 80, 24), 0);
  cr_assert_eq(ioctl(s, TIOCGWINSZ, &ws), 0);
  cr_expect_eq(ws.ws_col, 80);
  cr_expect_eq(ws.ws_row, 24);
  cr_expect_eq(pty_set_size(m, 0, 24), -EINVAL);
  close(s);
  close(m);
}

Test(pty, setsid_is_found)
{
  /* util-linux is part of every Debian; the integration tests need it. */
  const char *p = pty_setsid_path();
  cr_assert_not_null(p);
  cr_expect_eq(access(p, X_OK), 0);
  cr_expect_eq(pty_setsid_path(), p); /* looked up once */
}

static void
on_close(uv_handle_t *h)
{
  (void)h;
}

Test(pty, write_reaches_the_slave_and_is_bounded)
{
  uv_loop_t loop;
  uv_pipe_t master;
  int m = -1, s = -1;
  char *cause = NULL, buf[64], *big;
  struct termios t;
  ssize_t n;

  cr_assert_eq(pty_open(80, 24, &m, &s, &cause), 0, "%s", cause);
  /* Raw slave: no echo, bytes as they are. */
  tcgetattr(s, &t);
  cfmakeraw(&t);
  tcsetattr(s, TCSANOW, &t);
  uv_loop_init(&loop);
  uv_pipe_init(&loop, &master, 0);
  cr_assert_eq(uv_pipe_open(&master, m), 0);
  cr_assert_eq(pty_write((uv_stream_t *)&master, "hi\n", 3), 0);
  cr_assert_eq(pty_write((uv_stream_t *)&master, "", 0), 0);
  uv_run(&loop, UV_RUN_NOWAIT);
  n = read(s, buf, sizeof buf);
  cr_assert_eq(n, 3);
  cr_expect_eq(memcmp(buf, "hi\n", 3), 0);
  /* Nobody reads the slave: the queue fills to its bound, then refuses. */
  big = calloc(1, PTY_INPUT_BOUND);
  int rc = 0, tries = 0;
  while (rc == 0 && tries++ < 64) {
    rc = pty_write((uv_stream_t *)&master, big, PTY_INPUT_BOUND / 8);
    uv_run(&loop, UV_RUN_NOWAIT);
  }
  cr_expect_eq(rc, -EAGAIN);
  cr_expect_leq(pty_queued((uv_stream_t *)&master), PTY_INPUT_BOUND);
  free(big);
  close(s);
  uv_close((uv_handle_t *)&master, on_close);
  uv_run(&loop, UV_RUN_DEFAULT);
  cr_expect_eq(pty_write((uv_stream_t *)&master, "x", 1), -EPIPE);
  uv_loop_close(&loop);
}

Test(attach, detach_key)
{
  cr_expect_eq(attach_find_detach("abc", 3), -1);
  cr_expect_eq(attach_find_detach("ab\x1d"
                                  "c",
                                  4),
               2);
  cr_expect_eq(attach_find_detach("\x1d", 1), 0);
  cr_expect_eq(attach_find_detach("", 0), -1);
}

/* Runs attach_chunk_bytes on a JSON text. */
static char *
bytes_of(const char *json, size_t *len, int *started)
{
  json_t *c = json_loads(json, 0, NULL);
  char *b;
  cr_assert_not_null(c, "%s", json);
  b = attach_chunk_bytes(c, "repl", len, started);
  json_decref(c);
  return b;
}

Test(attach, chunk_bytes)
{
  size_t n;
  int started;
  char *b;

  b = bytes_of("{\"seq\":2,\"stream\":\"pty\",\"data\":\">>> \\u001b[1m\"}", &n,
               &started);
  cr_assert_not_null(b);
  cr_expect_eq(n, 8);
  cr_expect_eq(memcmp(b, ">>> \x1b[1m", 8), 0);
  cr_expect_eq(started, 0);
  free(b);
  /* Bytes that are not UTF-8 come as base64, and go out as they were. */
  b = bytes_of("{\"seq\":3,\"stream\":\"pty\",\"data_b64\":\"/wA=\"}", &n,
               &started);
  cr_assert_not_null(b);
  cr_expect_eq(n, 2);
  cr_expect_eq((unsigned char)b[0], 0xff);
  cr_expect_eq(b[1], 0);
  free(b);
  b = bytes_of("{\"seq\":4,\"stream\":\"tend\",\"event\":\"start\","
               "\"pid\":7,\"data\":\"started (pid 7)\\n\"}",
               &n, &started);
  cr_assert_not_null(b);
  cr_expect_str_eq(b, "\r\n[tend: repl: started (pid 7)]\r\n");
  cr_expect_eq(n, strlen(b));
  cr_expect_eq(started, 1);
  free(b);
  b = bytes_of("{\"seq\":5,\"stream\":\"tend\",\"event\":\"exit\","
               "\"status\":0,\"data\":\"exited with status 0\\n\"}",
               &n, &started);
  cr_expect_str_eq(b, "\r\n[tend: repl: exited with status 0]\r\n");
  cr_expect_eq(started, 0);
  free(b);
  cr_expect_null(bytes_of("{\"seq\":6,\"stream\":\"stdout\",\"data\":\"x\"}",
                          &n, &started));
  cr_expect_null(
      bytes_of("{\"seq\":7,\"stream\":\"pty\",\"data\":\"\"}", &n, &started));
  cr_expect_null(bytes_of("{\"seq\":8,\"stream\":\"pty\",\"data_b64\":\"!\"}",
                          &n, &started));
  cr_expect_null(bytes_of("{\"seq\":9}", &n, &started));
}
