/* enumname: the name and parse functions of an enum, generated from the
 * X-macro list that defines it (STYLE.md 4, libuv's UV_ERRNO_MAP), so that
 * the strings the API speaks and the C values can never drift apart.
 *
 * An X-macro list names each value once: X(NAME, "string", ...). PICK says
 * which field is the string: ENUMNAME_PICK2 for X(N, S), ENUMNAME_PICK3 for
 * X(N, S, more); a list of full enumerators may pick with a designated
 * initialiser of its own ("#define PICK(V, S) [V] = S,"). The values are
 * the positions in the list (as the enum that the same list defines).
 *
 *   ENUMNAME_DEFINE(config_strategy, enum config_strategy,
 *                   CONFIG_STRATEGY_MAP, ENUMNAME_PICK2, "?")
 *
 * defines
 *
 *   const char *config_strategy_name(enum config_strategy v);
 *       the string, or "?" (the last argument) out of range;
 *   int config_strategy_parse(const char *s, enum config_strategy *out);
 *       0 and *out, or -EINVAL (s NULL or not in the list).
 *
 * ENUMNAME_NAME_FN and ENUMNAME_PARSE_FN define one of the two (write
 * `static` before one for a file-local function). The header of the module
 * declares the functions as usual. */
#ifndef TEND_ENUMNAME_H
#define TEND_ENUMNAME_H

#include <errno.h>
#include <stddef.h>
#include <string.h>

#define ENUMNAME_PICK2(N, S) S,
#define ENUMNAME_PICK3(N, S, Z) S,

/* The strings of MAP as an array (a compound literal), and how many. */
#define ENUMNAME_LIST(MAP, PICK) ((const char *const[]){MAP(PICK)})
#define ENUMNAME_COUNT(MAP, PICK)                                              \
  (sizeof ENUMNAME_LIST(MAP, PICK) / sizeof(const char *))

/* Returns the index of s in names (n of them; NULL entries are holes), or
 * -EINVAL. */
static inline int
enumname_index(const char *const *names, size_t n, const char *s)
{
  for (size_t i = 0; s && i < n; i++)
    if (names[i] && strcmp(names[i], s) == 0)
      return (int)i;
  return -EINVAL;
}

/* Defines `const char *PREFIX_name(TYPE v)`. */
#define ENUMNAME_NAME_FN(prefix, type, MAP, PICK, unknown)                     \
  const char *prefix##_name(type v)                                            \
  {                                                                            \
    static const char *const names[] = {MAP(PICK)};                            \
    size_t i = (size_t)v;                                                      \
    return i < sizeof names / sizeof *names && names[i] ? names[i]             \
                                                        : (unknown);           \
  }

/* Defines `int PREFIX_parse(const char *s, TYPE *out)`. */
#define ENUMNAME_PARSE_FN(prefix, type, MAP, PICK)                             \
  int prefix##_parse(const char *s, type *out)                                 \
  {                                                                            \
    static const char *const names[] = {MAP(PICK)};                            \
    int i = enumname_index(names, sizeof names / sizeof *names, s);            \
    if (i < 0)                                                                 \
      return i;                                                                \
    *out = (type)i;                                                            \
    return 0;                                                                  \
  }

/* Defines both. */
#define ENUMNAME_DEFINE(prefix, type, MAP, PICK, unknown)                      \
  ENUMNAME_NAME_FN(prefix, type, MAP, PICK, unknown)                           \
  ENUMNAME_PARSE_FN(prefix, type, MAP, PICK)

#endif
