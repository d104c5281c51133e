/* dotenv: the parser of "env_file" files (KEY=value lines), a pure
 * function, and the small shell that reads one from disk.
 *
 * Syntax: one KEY=value per line; blank lines and lines starting with '#'
 * are skipped; an optional "export " prefix is allowed; spaces around '='
 * are ignored. A value is:
 *   - unquoted: the rest of the line, trailing spaces and a " #comment"
 *     removed;
 *   - 'single quoted': taken literally, newlines included;
 *   - "double quoted": \n \t \r \" \\ and \$ are escapes, newlines
 *     included; any other backslash is kept as written.
 * There is no expansion of $VAR, no command substitution, nothing a shell
 * would do: what is written is what the child gets. */
#ifndef TEND_DOTENV_H
#define TEND_DOTENV_H

#include <stddef.h>

/* Files larger than this are refused (an env file is small). */
#define DOTENV_MAX_BYTES (1024 * 1024)

/* Parses text (len bytes; need not be NUL-terminated). On success returns
 * 0 and *vars (new, NULL-terminated "KEY=value" strings in file order; a
 * key given twice keeps its first place and its last value). On a syntax
 * error returns -EINVAL, *vars NULL and *cause (new) as
 * "file:line: message", line being where the bad entry starts. */
int dotenv_parse(const char *text, size_t len, const char *file, char ***vars,
                 char **cause);

/* Reads the file at path and parses it (messages name it as path).
 * Returns 0, -EINVAL (syntax) or -errno (unreadable, too large), with
 * *cause (new) "path: reason" or "path:line: message" on failure. */
int dotenv_load(const char *path, char ***vars, char **cause);

/* Frees a NULL-terminated array from dotenv_parse (NULL is a no-op). */
void dotenv_free(char **vars);

#endif
