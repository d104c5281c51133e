/* Unit tests for ui/portowner.c: parsing /proc/net/tcp and tcp6 lines, and
 * the wording of the holder of a busy port. The /proc scan itself is
 * exercised by tests/integration/test_ports.py. */
#include <criterion/criterion.h>

#include "ui/portowner.h"

#include <errno.h>
#include <stdlib.h>

Test(portowner_parse, tcp4_listen)
{
  unsigned port = 0, state = 0;
  unsigned long inode = 0;
  const char *line =
      "   3: 0100007F:1B9E 00000000:0000 0A 00000000:00000000 00:00000000 "
      "00000000  1000        0 4242424 1 0000000000000000 100 0 0 10 0\n";

  cr_assert_eq(portowner_parse_line(line, &port, &state, &inode), 0);
  cr_assert_eq(port, 7070);
  cr_assert_eq(state, PORTOWNER_TCP_LISTEN);
  cr_assert_eq(inode, 4242424);
}

Test(portowner_parse, tcp6_established)
{
  unsigned port = 0, state = 0;
  unsigned long inode = 0;
  const char *line =
      "   0: 00000000000000000000000001000000:1B9F "
      "00000000000000000000000001000000:D2A4 01 00000000:00000000 "
      "00:00000000 00000000     0        0 99 1 0000000000000000 20 4 30 "
      "10 -1\n";

  cr_assert_eq(portowner_parse_line(line, &port, &state, &inode), 0);
  cr_assert_eq(port, 7071);
  cr_assert_eq(state, 1);
  cr_assert_eq(inode, 99);
}

Test(portowner_parse, header_and_garbage)
{
  unsigned port, state;
  unsigned long inode;

  cr_assert_eq(portowner_parse_line("  sl  local_address rem_address   st "
                                    "tx_queue rx_queue tr tm->when retrnsmt"
                                    "   uid  timeout inode\n",
                                    &port, &state, &inode),
               -EINVAL);
  cr_assert_eq(portowner_parse_line("", &port, &state, &inode), -EINVAL);
  cr_assert_eq(portowner_parse_line("0: 0100007F:1B9E", &port, &state, &inode),
               -EINVAL);
  cr_assert_eq(portowner_parse_line("   3: 0100007F:FFFFF 00000000:0000 0A "
                                    "00000000:00000000 00:00000000 00000000 "
                                    "0 0 1 1\n",
                                    &port, &state, &inode),
               -EINVAL);
}

Test(portowner_format, wordings)
{
  char *s;

  s = portowner_format(812, "tend", "/home/a/web/tend.json");
  cr_assert_str_eq(s, " (tend daemon pid 812 for /home/a/web/tend.json)");
  free(s);
  s = portowner_format(812, "tend", NULL);
  cr_assert_str_eq(s, " (tend daemon pid 812)");
  free(s);
  s = portowner_format(99, "nginx", NULL);
  cr_assert_str_eq(s, " (pid 99, nginx)");
  free(s);
  s = portowner_format(99, "", NULL);
  cr_assert_str_eq(s, " (pid 99)");
  free(s);
  s = portowner_format(99, NULL, NULL);
  cr_assert_str_eq(s, " (pid 99)");
  free(s);
}
