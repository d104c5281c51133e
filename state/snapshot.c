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
snapshot_save_text(const char *text, size_t len, const char *path, int mode)
{
  char *tmp = xasprintf("%s.tmp.XXXXXX", path);
  char *dir_copy = xstrdup(path);
  int fd = mkostemp(tmp, O_CLOEXEC);
  int rc = 0;
  size_t done = 0;

  if (fd < 0) {
    rc = -errno;
    goto fail;
  }
  fchmod(fd, (mode_t)mode);
  while (done < len) {
    ssize_t n = write(fd, text + done, len - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      rc = n < 0 ? -errno : -EIO;
      break;
    }
    done += (size_t)n;
  }
  if (rc == 0 && fsync(fd) != 0)
    rc = -errno;
  if (close(fd) != 0 && rc == 0)
    rc = -errno;
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
snapshot_save_mode(const json_t *doc, const char *path, int mode)
{
  char *text = json_dumps(doc, JSON_INDENT(2));
  int rc;

  if (!text)
    return -ENOMEM;
  rc = snapshot_save_text(text, strlen(text), path, mode);
  free(text);
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
