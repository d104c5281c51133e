/* test_memory: the max_memory rule (over the limit in every sample for the
 * grace period), the /proc/PID/stat parser, the group sampler on this very
 * process, and the explanations of runners/cmdpath.c. */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runners/cmdpath.h"
#include "runners/memory.h"

Test(memory, over_for_the_whole_grace_period)
{
  struct memory_watch w = MEMORY_WATCH_ZERO;
  cr_expect_eq(memory_over(&w, 50, 100, 0, 10000), 0);
  cr_expect_eq(memory_over(&w, 150, 100, 1000, 10000), 0);
  cr_expect_eq(memory_over(&w, 150, 100, 10999, 10000), 0);
  cr_expect_eq(memory_over(&w, 150, 100, 11000, 10000), 1);
  /* one sample under the limit starts the count again */
  cr_expect_eq(memory_over(&w, 100, 100, 12000, 10000), 0);
  cr_expect_eq(memory_over(&w, 101, 100, 13000, 10000), 0);
  cr_expect_eq(memory_over(&w, 101, 100, 23000, 10000), 1);
  /* no limit, no verdict */
  w = (struct memory_watch)MEMORY_WATCH_ZERO;
  cr_expect_eq(memory_over(&w, INT64_MAX, 0, 0, 0), 0);
  cr_expect_eq(memory_over(&w, 2, 1, 5, 0), 1);
}

Test(memory, parse_stat)
{
  int pg = 0;
  int64_t rss = 0;
  const char *line =
      "1234 (a (weird) name) S 1 1230 1230 0 -1 4194560 100 0 "
      "0 0 1 2 0 0 20 0 1 0 555 1000000 321 18446744073709551615";
  cr_assert_eq(memory_parse_stat(line, &pg, &rss), 0);
  cr_expect_eq(pg, 1230);
  cr_expect_eq(rss, 321);
  cr_expect_eq(memory_parse_stat("1 (x) S 1 2", &pg, &rss), -EINVAL);
  cr_expect_eq(memory_parse_stat("no paren", &pg, &rss), -EINVAL);
  cr_expect_eq(memory_parse_stat("", &pg, &rss), -EINVAL);
}

Test(memory, group_rss_of_this_process)
{
  int64_t rss = memory_group_rss(getpgrp());
  cr_expect_gt(rss, 0);
  cr_expect_eq(memory_group_rss(0x7ffffff0), 0);
}

Test(memory, format)
{
  char buf[32];
  memory_format(INT64_C(3) << 29, buf, sizeof buf);
  cr_expect_str_eq(buf, "1.5 GiB");
  memory_format(INT64_C(300) << 20, buf, sizeof buf);
  cr_expect_str_eq(buf, "300.0 MiB");
  memory_format(2048, buf, sizeof buf);
  cr_expect_str_eq(buf, "2 KiB");
}

Test(cmdpath, find_and_describe)
{
  char *found = NULL;
  cr_expect_eq(cmdpath_find("sh", "/nonexistent:/bin:/usr/bin", "/", &found),
               0);
  cr_expect(found && strstr(found, "/sh"), "%s", found);
  free(found);
  cr_expect_eq(cmdpath_find("no-such-cmd-z", "/bin", "/", NULL), -ENOENT);
  cr_expect_eq(cmdpath_find("tmp", "/", "/", NULL), -EISDIR);
  cr_expect_eq(cmdpath_find("/tmp", NULL, "/", NULL), -EISDIR);
  cr_expect_eq(cmdpath_find("./etc/passwd", NULL, "/", NULL), -EACCES);
  cr_expect_eq(cmdpath_find("./nope", NULL, "/", NULL), -ENOENT);
  cr_expect_eq(cmdpath_find("", NULL, "/", NULL), -ENOENT);

  struct {
    const char *file;
    int err;
    const char *want;
  } rows[] = {
      {"foo", -ENOENT, "foo: not found on PATH"},
      {"./foo", -ENOENT, "./foo: no such file"},
      {"./d", -EISDIR, "./d: is a directory"},
      {"x", -EACCES, "x: permission denied (not executable)"},
      {"x", -ENOEXEC, "x: not an executable format"},
      {"x", -E2BIG, "x: Argument list too long"},
  };
  for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
    char *s = cmdpath_describe(rows[i].file, rows[i].err);
    cr_expect_str_eq(s, rows[i].want);
    free(s);
  }
}
