/* Unit tests for src/buf.c: growth, the NUL after every append, printf
 * text longer than any fixed scratch, base64 appends, reading an fd,
 * steal and free. */
#include <criterion/criterion.h>

#include "src/buf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

Test(buf, add_grows_and_terminates)
{
  struct buf b = BUF_ZERO;

  buf_add(&b, NULL, 0);
  cr_assert_not_null(b.data, "even an empty append leaves a C string");
  cr_assert_str_eq(b.data, "");
  for (int i = 0; i < 1000; i++) {
    buf_add(&b, "abc", 3);
    cr_assert_eq(b.data[b.len], '\0');
    cr_assert_gt(b.cap, b.len);
  }
  cr_assert_eq(b.len, 3000);
  cr_assert_arr_eq(b.data + 2997, "abc", 3);
  buf_add(&b, "x\0y", 3);
  cr_assert_eq(b.len, 3003, "bytes, NUL included, are kept");
  cr_assert_arr_eq(b.data + 3000, "x\0y", 4);
  buf_free(&b);
  cr_assert_null(b.data);
  cr_assert_eq(b.len, 0);
  cr_assert_eq(b.cap, 0);
  buf_free(NULL);
}

Test(buf, reserve_leaves_room_for_the_nul)
{
  struct buf b = BUF_ZERO;

  buf_reserve(&b, 1000);
  cr_assert_geq(b.cap, 1001);
  cr_assert_eq(b.len, 0);
  memset(b.data, 'z', 1000);
  b.len = 1000;
  buf_adds(&b, "");
  cr_assert_eq(b.data[1000], '\0');
  cr_assert_eq(strlen(b.data), 1000);
  buf_free(&b);
}

Test(buf, addf_long_and_short)
{
  struct buf b = BUF_ZERO;
  char *big = malloc(5001);

  memset(big, 'q', 5000);
  big[5000] = '\0';
  buf_addf(&b, "%s-%d", "n", 42);
  buf_addf(&b, "[%s]", big);
  cr_assert_eq(b.len, 4 + 5002);
  cr_assert_eq(strncmp(b.data, "n-42[qqq", 8), 0);
  cr_assert_eq(b.data[b.len - 1], ']');
  cr_assert_eq(b.data[b.len], '\0');
  free(big);
  buf_free(&b);
}

Test(buf, add_base64)
{
  struct buf b = BUF_ZERO;

  buf_adds(&b, ">");
  cr_assert_eq(buf_add_base64(&b, "Zm9vYmFy", 8), 0);
  cr_assert_str_eq(b.data, ">foobar");
  cr_assert_eq(buf_add_base64(&b, "AP8=", 4), 0);
  cr_assert_eq(b.len, 9);
  cr_assert_arr_eq(b.data + 7, "\0\xff", 3);
  cr_assert_eq(buf_add_base64(&b, "Zm9v!", 5), -EINVAL);
  cr_assert_eq(b.len, 9, "a refused text adds nothing");
  cr_assert_eq(b.data[9], '\0');
  buf_free(&b);
}

Test(buf, steal)
{
  struct buf b = BUF_ZERO;
  size_t n = 99;
  char *s = buf_steal(&b, &n);

  cr_assert_str_eq(s, "", "an empty buffer gives a string of its own");
  cr_assert_eq(n, 0);
  free(s);
  buf_addf(&b, "%d", 12345);
  s = buf_steal(&b, &n);
  cr_assert_str_eq(s, "12345");
  cr_assert_eq(n, 5);
  cr_assert_null(b.data);
  cr_assert_eq(b.len, 0);
  free(s);
}

/* A temporary file holding n bytes of a known pattern, at offset 0. */
static int
pattern_file(size_t n)
{
  FILE *f = tmpfile();
  int fd;

  cr_assert_not_null(f);
  for (size_t i = 0; i < n; i++)
    fputc('a' + (int)(i % 26), f);
  fflush(f);
  fd = dup(fileno(f));
  fclose(f);
  cr_assert_geq(fd, 0);
  lseek(fd, 0, SEEK_SET);
  return fd;
}

Test(buf, read_fd_whole_and_bounded)
{
  struct buf b = BUF_ZERO;
  int fd = pattern_file(20000);

  buf_adds(&b, ">");
  cr_assert_eq(buf_read_fd(&b, fd, 1 << 20), 0);
  cr_assert_eq(b.len, 20001, "the whole file, after what was there");
  cr_assert_eq(b.data[0], '>');
  for (size_t i = 0; i < 20000; i++)
    cr_assert_eq(b.data[1 + i], 'a' + (int)(i % 26), "byte %zu", i);
  cr_assert_eq(b.data[b.len], '\0');
  buf_free(&b);

  lseek(fd, 0, SEEK_SET);
  cr_assert_eq(buf_read_fd(&b, fd, 10001), 0);
  cr_assert_eq(b.len, 10001, "no more than max");
  cr_assert_eq(b.data[10000], 'a' + 10000 % 26);
  cr_assert_eq(b.data[b.len], '\0');
  buf_free(&b);

  lseek(fd, 0, SEEK_SET);
  cr_assert_eq(buf_read_fd(&b, fd, 0), 0);
  cr_assert_eq(b.len, 0);
  close(fd);
}

Test(buf, read_fd_error_keeps_the_bytes)
{
  struct buf b = BUF_ZERO;
  int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);

  cr_assert_geq(fd, 0);
  buf_adds(&b, "kept");
  cr_assert_eq(buf_read_fd(&b, fd, 100), -EBADF);
  cr_assert_str_eq(b.data, "kept");
  cr_assert_eq(b.len, 4);
  close(fd);
  buf_free(&b);
}
