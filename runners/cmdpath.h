/* cmdpath: finds a command the way execvp(3) will, to say precisely why a
 * command cannot start (spawn errors, `tend check` warnings). libuv reports
 * a directory as EACCES and a missing cwd as ENOENT; these functions tell
 * them apart. */
#ifndef TEND_CMDPATH_H
#define TEND_CMDPATH_H

/* Looks file up as execvp would: a name with a '/' relative to cwd; a
 * plain name in each folder of path_env (NULL: glibc's default
 * "/bin:/usr/bin"; an empty entry means cwd). Returns 0 when an executable
 * regular file was found (and *found, new, when found is not NULL);
 * -ENOENT when nothing matched; -EACCES when a match is not executable;
 * -EISDIR when only a directory matched. */
int cmdpath_find(const char *file, const char *path_env, const char *cwd,
                 char **found);

/* Returns "FILE: reason" (new) for a failed lookup or spawn of file:
 * -ENOENT "no such file" (a path) or "not found on PATH" (a plain name),
 * -EACCES "permission denied (not executable)", -EISDIR "is a directory",
 * -ENOEXEC "not an executable format", else strerror. Pure. */
char *cmdpath_describe(const char *file, int err);

/* Returns 1 when file names a path (it has a '/'), 0 for a plain name. */
int cmdpath_is_path(const char *file);

#endif
