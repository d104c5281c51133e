/* log: leveled diagnostics to stderr, each line naming its caller. */
#ifndef TEND_LOG_H
#define TEND_LOG_H

/* The levels, from the least verbose, with their names. */
#define LOG_LEVEL_MAP(X)                                                       \
  X(ERROR, "error")                                                            \
  X(WARN, "warn")                                                              \
  X(INFO, "info")                                                              \
  X(DEBUG, "debug")

enum log_level {
#define X(N, S) LOG_##N,
  LOG_LEVEL_MAP(X)
#undef X
};

/* Sets the most verbose level printed (default LOG_INFO). */
void log_set_level(enum log_level level);

/* Prints one line "tend: <level>: <func>: message" when level is enabled. */
void log_printf(enum log_level level, const char *func, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define log_error(...) log_printf(LOG_ERROR, __func__, __VA_ARGS__)
#define log_warn(...) log_printf(LOG_WARN, __func__, __VA_ARGS__)
#define log_info(...) log_printf(LOG_INFO, __func__, __VA_ARGS__)
#define log_debug(...) log_printf(LOG_DEBUG, __func__, __VA_ARGS__)

/* Aborts with file:line when an invariant is broken. */
#define TEND_ASSERT(cond)                                                      \
  do {                                                                         \
    if (!(cond))                                                               \
      log_fatal(__FILE__, __LINE__, #cond);                                    \
  } while (0)

/* Reports a broken invariant and aborts. */
void log_fatal(const char *file, int line, const char *what)
    __attribute__((noreturn));

#endif
