/* log: leveled diagnostics. One writer (the loop thread), so no locking. */
#include "src/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "src/enumname.h"

static enum log_level max_level = LOG_INFO;

/* Returns a level's name, "?" out of range. */
static ENUMNAME_NAME_FN(log_level, enum log_level, LOG_LEVEL_MAP,
                        ENUMNAME_PICK2, "?")

    /* Sets the most verbose level printed. */
    void log_set_level(enum log_level level)
{
  max_level = level;
}

/* Prints one diagnostic line to stderr. */
void
log_printf(enum log_level level, const char *func, const char *fmt, ...)
{
  va_list ap;

  if (level > max_level)
    return;
  fprintf(stderr, "tend: %s: %s: ", log_level_name(level), func);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
}

/* Aborts on a broken invariant, naming where it broke. */
void
log_fatal(const char *file, int line, const char *what)
{
  fprintf(stderr, "tend: fatal: %s:%d: assertion failed: %s\n", file, line,
          what);
  abort();
}
