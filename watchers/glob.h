/* glob: shell-style pattern matching of relative, '/'-separated paths.
 *
 * Syntax: `*` (any run of characters within one path component), `?` (one
 * character other than '/'), `[...]` classes with ranges, `[!...]` or
 * `[^...]` negation and `[:alpha:]`-style named classes, `**` as a whole
 * component (`**` / `**` + "/x" / "a/" + `**` / "a/" + `**` + "/b": any
 * number of directories), and backslash escapes. Wildcards never match '/'
 * except through `**`. A `**` that is not a whole component acts like `*`.
 * Pure functions: no allocation, no I/O. */
#ifndef TEND_GLOB_H
#define TEND_GLOB_H

/* Returns 1 when path matches pattern as a whole, else 0. */
int glob_match(const char *pattern, const char *path);

/* Checks pattern's syntax: returns 0, or -EINVAL with *cause (new, caller
 * frees) naming the problem (an unterminated '[' or a trailing backslash).
 * glob_match() accepts such patterns anyway, reading them literally. */
int glob_check(const char *pattern, char **cause);

#endif
