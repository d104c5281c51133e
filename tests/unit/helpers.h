/* helpers: what several unit tests need and used to copy: scratch folders,
 * shell commands run in them, /proc knobs, and the sanitizer's leak and
 * heap counters.
 *
 * Linked into every unit test binary (see the Makefile); each function
 * fails the running Criterion test on an error it cannot report. */
#ifndef TEND_TEST_HELPERS_H
#define TEND_TEST_HELPERS_H

#include <stddef.h>

/* Creates a fresh folder /tmp/tend-<name>-XXXXXX and writes its path into
 * buf (size bytes; 64 is enough for short names). Fails the test when the
 * folder cannot be made. */
void helpers_scratch_new(char *buf, size_t size, const char *name);
/* Removes the tree at path (not following symlinks); a missing path is
 * not an error. */
void helpers_rm_tree(const char *path);

/* Runs the shell command fmt, ... (printf-style) with dir as its working
 * folder; fails the test when it does not exit 0. */
void helpers_sh(const char *dir, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Writes value to the /proc file (e.g. a sysctl knob); returns 0 or
 * -errno. */
int helpers_write_proc(const char *file, const char *value);

/* Aborts (Criterion then reports the teardown as crashed and exits
 * non-zero) when LeakSanitizer finds a leak now: the worker reports its
 * result before LSan's own check at exit, which therefore fails nothing.
 * Without the sanitizer it does nothing. */
void helpers_leak_check(void);
/* Returns the bytes currently allocated on the heap, to check that
 * long-running patterns do not grow memory without bound. */
size_t helpers_heap_bytes(void);

#endif
