/* cmdpath: execvp's lookup, done ahead to explain failures. Only stat(2)
 * and access(2): nothing is executed. */
#include "runners/cmdpath.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "src/xalloc.h"

int
cmdpath_is_path(const char *file)
{
  return strchr(file, '/') != NULL;
}

/* Checks one candidate: 0 executable file, -EACCES, -EISDIR or -ENOENT. */
static int
check_one(const char *path)
{
  struct stat st;
  if (stat(path, &st) != 0)
    return errno == EACCES ? -EACCES : -ENOENT;
  if (S_ISDIR(st.st_mode))
    return -EISDIR;
  if (!S_ISREG(st.st_mode) || access(path, X_OK) != 0)
    return -EACCES;
  return 0;
}

/* Returns dir/file (new); a relative dir is taken against cwd. */
static char *
join(const char *cwd, const char *dir, size_t dlen, const char *file)
{
  if (dlen == 0)
    return xasprintf("%s/%s", cwd ? cwd : ".", file);
  if (dir[0] != '/' && cwd)
    return xasprintf("%s/%.*s/%s", cwd, (int)dlen, dir, file);
  return xasprintf("%.*s/%s", (int)dlen, dir, file);
}

int
cmdpath_find(const char *file, const char *path_env, const char *cwd,
             char **found)
{
  int best = -ENOENT;
  const char *p;

  if (found)
    *found = NULL;
  if (!file || !*file)
    return -ENOENT;
  if (cmdpath_is_path(file)) {
    char *full =
        file[0] == '/' || !cwd ? xstrdup(file) : xasprintf("%s/%s", cwd, file);
    int rc = check_one(full);
    if (rc == 0 && found)
      *found = full;
    else
      free(full);
    return rc;
  }
  if (!path_env)
    path_env = "/bin:/usr/bin";
  p = path_env;
  for (;;) {
    const char *colon = strchr(p, ':');
    size_t dlen = colon ? (size_t)(colon - p) : strlen(p);
    char *full = join(cwd, p, dlen, file);
    int rc = check_one(full);
    if (rc == 0) {
      if (found)
        *found = full;
      else
        free(full);
      return 0;
    }
    free(full);
    /* execvp reports EACCES when a match was not executable, even if a
     * later folder had nothing; a directory alone is our own finding. */
    if (rc == -EACCES || (rc == -EISDIR && best == -ENOENT))
      best = rc;
    if (!colon)
      break;
    p = colon + 1;
  }
  return best;
}

char *
cmdpath_describe(const char *file, int err)
{
  const char *why;
  switch (err) {
  case -ENOENT:
    why = cmdpath_is_path(file) ? "no such file" : "not found on PATH";
    break;
  case -EACCES:
    why = "permission denied (not executable)";
    break;
  case -EISDIR:
    why = "is a directory";
    break;
  case -ENOEXEC:
    why = "not an executable format";
    break;
  default:
    why = strerror(-err);
    break;
  }
  return xasprintf("%s: %s", file, why);
}
