/* Unit tests for src/notify.c's pure half: $NOTIFY_SOCKET and
 * $WATCHDOG_USEC / $WATCHDOG_PID parsing, datagram formatting and the
 * STATUS= summary of a tree. */
#include <criterion/criterion.h>

#include "src/notify.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ the socket */

Test(notify_socket, absolute_path)
{
  struct sockaddr_un a;
  socklen_t len = 0;

  cr_assert_eq(notify_parse_socket("/run/systemd/notify", &a, &len), 0);
  cr_assert_eq(a.sun_family, AF_UNIX);
  cr_assert_str_eq(a.sun_path, "/run/systemd/notify");
  cr_assert_eq(len, offsetof(struct sockaddr_un, sun_path) +
                        strlen("/run/systemd/notify") + 1);
}

Test(notify_socket, abstract_name)
{
  struct sockaddr_un a;
  socklen_t len = 0;

  cr_assert_eq(notify_parse_socket("@tend/notify", &a, &len), 0);
  cr_assert_eq(a.sun_path[0], '\0');
  cr_assert_eq(memcmp(a.sun_path + 1, "tend/notify", 11), 0);
  /* The length counts the leading NUL and the name, no terminator. */
  cr_assert_eq(len, offsetof(struct sockaddr_un, sun_path) + 12);
}

Test(notify_socket, refused_values)
{
  struct sockaddr_un a;
  socklen_t len;
  char longpath[200];

  cr_assert_eq(notify_parse_socket(NULL, &a, &len), -EINVAL);
  cr_assert_eq(notify_parse_socket("", &a, &len), -EINVAL);
  cr_assert_eq(notify_parse_socket("/", &a, &len), -EINVAL);
  cr_assert_eq(notify_parse_socket("@", &a, &len), -EINVAL);
  cr_assert_eq(notify_parse_socket("run/notify", &a, &len), -EINVAL);
  cr_assert_eq(notify_parse_socket("vsock:2:1234", &a, &len), -EINVAL);
  memset(longpath, 'x', sizeof longpath - 1);
  longpath[0] = '/';
  longpath[sizeof longpath - 1] = '\0';
  cr_assert_eq(notify_parse_socket(longpath, &a, &len), -ENAMETOOLONG);
  /* 107 characters plus the terminator fill sun_path exactly. */
  longpath[sizeof a.sun_path - 1] = '\0';
  cr_assert_eq(notify_parse_socket(longpath, &a, &len), 0);
}

/* ---------------------------------------------------------- the watchdog */

Test(notify_watchdog, interval_is_half_the_timeout)
{
  cr_assert_eq(notify_watchdog_interval("200000", NULL, 42), 100000);
  cr_assert_eq(notify_watchdog_interval("30000000", "42", 42), 15000000);
  cr_assert_eq(notify_watchdog_interval("1", NULL, 42), 1);
}

Test(notify_watchdog, not_for_us)
{
  cr_assert_eq(notify_watchdog_interval(NULL, NULL, 42), 0);
  cr_assert_eq(notify_watchdog_interval(NULL, "42", 42), 0);
  cr_assert_eq(notify_watchdog_interval("200000", "43", 42), 0);
}

Test(notify_watchdog, garbage)
{
  const char *bad[] = {"",
                       "0",
                       "-5",
                       "+5",
                       " 5",
                       "5 ",
                       "5s",
                       "abc",
                       "1e6",
                       "99999999999999999999999",
                       "18446744073709551615"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
    cr_assert_eq(notify_watchdog_interval(bad[i], NULL, 42), -EINVAL,
                 "WATCHDOG_USEC=\"%s\"", bad[i]);
  cr_assert_eq(notify_watchdog_interval("200000", "x", 42), -EINVAL);
  cr_assert_eq(notify_watchdog_interval("200000", "", 42), -EINVAL);
}

/* ------------------------------------------------------------ datagrams */

Test(notify_format, every_kind)
{
  char buf[256];

  cr_assert_eq(notify_format(buf, sizeof buf, NOTIFY_READY, 0, NULL), 8);
  cr_assert_str_eq(buf, "READY=1\n");
  notify_format(buf, sizeof buf, NOTIFY_READY, 0, "2/3 up");
  cr_assert_str_eq(buf, "READY=1\nSTATUS=2/3 up\n");
  notify_format(buf, sizeof buf, NOTIFY_RELOADING, 123456789, NULL);
  cr_assert_str_eq(buf, "RELOADING=1\nMONOTONIC_USEC=123456789\n");
  notify_format(buf, sizeof buf, NOTIFY_STOPPING, 0, "stopping: 1/1 up");
  cr_assert_str_eq(buf, "STOPPING=1\nSTATUS=stopping: 1/1 up\n");
  notify_format(buf, sizeof buf, NOTIFY_WATCHDOG, 0, NULL);
  cr_assert_str_eq(buf, "WATCHDOG=1\n");
  notify_format(buf, sizeof buf, NOTIFY_STATUS, 0, "0/0 up");
  cr_assert_str_eq(buf, "STATUS=0/0 up\n");
}

Test(notify_format, status_stays_on_one_line)
{
  char buf[256];

  notify_format(buf, sizeof buf, NOTIFY_STATUS, 0, "a\nREADY=1\r\tb\033c");
  cr_assert_str_eq(buf, "STATUS=a READY=1  b c\n");
}

Test(notify_format, refusals)
{
  char buf[16];

  cr_assert_eq(notify_format(buf, sizeof buf, NOTIFY_STATUS, 0, NULL), -EINVAL);
  cr_assert_eq(notify_format(buf, sizeof buf, NOTIFY_READY, 0,
                             "far too long for sixteen bytes"),
               -ENOSPC);
  cr_assert_eq(notify_format(buf, 4, NOTIFY_READY, 0, NULL), -ENOSPC);
  cr_assert_eq(notify_format(buf, 0, NOTIFY_READY, 0, NULL), -ENOSPC);
  cr_assert_eq(notify_format(buf, sizeof buf, NOTIFY_RELOADING,
                             18446744073709551615u, NULL),
               -ENOSPC);
}

/* ------------------------------------------------------------ the status */

static json_t *
runner(const char *name, const char *state)
{
  return json_pack("{s:s, s:s, s:s}", "name", name, "kind", "runner", "state",
                   state);
}

Test(notify_status, counts_runners_at_every_depth)
{
  json_t *tree = json_pack(
      "{s:s, s:s, s:s, s:[o, o, {s:s, s:s, s:s, s:[o, o, o]}]}", "name", "dev",
      "kind", "group", "state", "running", "children", runner("db", "ready"),
      runner("web", "running"), "name", "back", "kind", "group", "state",
      "starting", "children", runner("api", "starting"),
      runner("worker", "failed"), runner("cron", "backoff"));
  char *s;

  s = notify_status_text(NULL, tree, 0);
  cr_assert_str_eq(s, "2/5 up, 1 failed");
  free(s);
  s = notify_status_text("starting", tree, 1);
  cr_assert_str_eq(s, "starting: 2/5 up, 1 failed; config has errors");
  free(s);
  json_decref(tree);
}

Test(notify_status, empty_and_missing)
{
  json_t *tree =
      json_pack("{s:s, s:s, s:[]}", "name", "dev", "kind", "group", "children");
  char *s = notify_status_text(NULL, tree, 0);
  cr_assert_str_eq(s, "0/0 up");
  free(s);
  s = notify_status_text("stopping", NULL, 0);
  cr_assert_str_eq(s, "stopping: 0/0 up");
  free(s);
  json_decref(tree);
}
