/* helpers: shared by the unit tests (see helpers.h). */
#include "tests/unit/helpers.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
/* From the sanitizer runtime (its allocator_interface.h is not installed). */
size_t __sanitizer_get_current_allocated_bytes(void);
#else
#include <malloc.h>
#endif

/* Creates a scratch folder; see helpers.h. */
void
helpers_scratch_new(char *buf, size_t size, const char *name)
{
  int n = snprintf(buf, size, "/tmp/tend-%s-XXXXXX", name);

  cr_assert(n > 0 && (size_t)n < size, "scratch name too long: %s", name);
  cr_assert_not_null(mkdtemp(buf), "mkdtemp %s: %s", buf, strerror(errno));
}

/* Removes one entry of a tree (an nftw callback). */
static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
  (void)sb;
  (void)flag;
  (void)ftw;
  return remove(path);
}

/* Removes a tree; see helpers.h. */
void
helpers_rm_tree(const char *path)
{
  nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Runs a shell command in dir; see helpers.h. */
void
helpers_sh(const char *dir, const char *fmt, ...)
{
  char cmd[4096];
  int n;
  va_list ap;

  n = snprintf(cmd, sizeof cmd, "cd '%s' && ", dir);
  va_start(ap, fmt);
  vsnprintf(cmd + n, sizeof cmd - (size_t)n, fmt, ap);
  va_end(ap);
  cr_assert_eq(system(cmd), 0, "command failed: %s", cmd);
}

/* Writes value to a /proc file; returns 0 or -errno. */
int
helpers_write_proc(const char *file, const char *value)
{
  int fd = open(file, O_WRONLY | O_CLOEXEC);
  ssize_t n;

  if (fd < 0)
    return -errno;
  n = write(fd, value, strlen(value));
  close(fd);
  return n < 0 ? -errno : 0;
}

/* Aborts when LeakSanitizer finds a leak now; see helpers.h. */
void
helpers_leak_check(void)
{
#if defined(__SANITIZE_ADDRESS__)
  if (__lsan_do_recoverable_leak_check())
    abort();
#endif
}

/* Returns the bytes allocated on the heap now. */
size_t
helpers_heap_bytes(void)
{
#if defined(__SANITIZE_ADDRESS__)
  return __sanitizer_get_current_allocated_bytes();
#else
  struct mallinfo2 mi = mallinfo2();
  return mi.uordblks + mi.hblkhd;
#endif
}
