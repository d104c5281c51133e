/* snapshot: atomic replacement of small JSON files (LIBRARY-NOTES.md 5).
 * A reader sees either the old file or the new one, never a torn one, even
 * after power loss (the rename is made durable by fsync of the folder). */
#include "state/snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "src/xalloc.h"

int
snapshot_save_mode(const json_t *doc, const char *path, int mode)
{
  char *tmp = xasprintf("%s.tmp.XXXXXX", path);
  char *dir_copy = xstrdup(path);
  int fd = mkostemp(tmp, O_CLOEXEC);
  int rc = 0;
  FILE *f;

  if (fd < 0) {
    rc = -errno;
    goto fail;
  }
  fchmod(fd, (mode_t)mode);
  f = fdopen(fd, "w");
  if (!f) {
    rc = -errno;
    close(fd);
    unlink(tmp);
    goto fail;
  }
  if (json_dumpf(doc, f, JSON_INDENT(2)) != 0 || fputc('\n', f) == EOF ||
      fflush(f) != 0 || fsync(fileno(f)) != 0)
    rc = errno ? -errno : -EIO;
  if (fclose(f) != 0 && rc == 0)
    rc = errno ? -errno : -EIO;
  if (rc == 0 && rename(tmp, path) != 0)
    rc = -errno;
  if (rc != 0) {
    unlink(tmp);
    goto fail;
  }
  fd = open(dirname(dir_copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    fsync(fd);
    close(fd);
  }
fail:
  free(tmp);
  free(dir_copy);
  return rc;
}

int
snapshot_save(const json_t *doc, const char *path)
{
  return snapshot_save_mode(doc, path, 0644);
}

json_t *
snapshot_load(const char *path, int *err)
{
  FILE *f = fopen(path, "re");
  json_error_t je;
  json_t *doc;

  if (!f) {
    *err = -errno;
    return NULL;
  }
  doc = json_loadf(f, 0, &je);
  fclose(f);
  if (!doc)
    *err = -EINVAL;
  return doc;
}
