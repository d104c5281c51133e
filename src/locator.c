/* locator: one small JSON file per running daemon, keyed by a hash of its
 * config file's absolute path, in a folder private to the user
 * ($XDG_RUNTIME_DIR/tend, else ~/.local/state/tend/run, mode 0700).
 *
 * Clients find a daemon through <state_dir>/daemon.json, where state_dir
 * comes from the config file as it is now. When the file was edited to name
 * another state_dir, the running daemon refuses that change and stays in
 * its folder; the client then asks here. An entry is trusted only when it
 * names the same config, its pid is alive, and the folder it names holds a
 * daemon.json. */
#include "src/locator.h"

#include "src/xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* FNV-1a, 64 bits: stable across versions, no dependency. */
static uint64_t
path_hash(const char *s)
{
  uint64_t h = UINT64_C(14695981039346656037);

  for (; *s; s++) {
    h ^= (unsigned char)*s;
    h *= UINT64_C(1099511628211);
  }
  return h;
}

char *
locator_entry_path(const char *base, const char *config_abs)
{
  return xasprintf("%s/%016llx.json", base,
                   (unsigned long long)path_hash(config_abs));
}

char *
locator_base(void)
{
  const char *xdg = getenv("XDG_RUNTIME_DIR");
  const char *home = getenv("HOME");

  if (xdg && xdg[0] == '/')
    return xasprintf("%s/tend", xdg);
  if (home && home[0] == '/')
    return xasprintf("%s/.local/state/tend/run", home);
  return NULL;
}

/* Creates path and its parents (0700 for what it creates). */
static int
mkdirs(const char *path)
{
  char *p = xstrdup(path);
  int rc = 0;

  for (char *s = p + 1; *s && rc == 0; s++) {
    if (*s != '/')
      continue;
    *s = '\0';
    if (mkdir(p, 0700) != 0 && errno != EEXIST)
      rc = -errno;
    *s = '/';
  }
  if (rc == 0 && mkdir(p, 0700) != 0 && errno != EEXIST)
    rc = -errno;
  free(p);
  return rc;
}

/* Returns 0 when base is a folder of ours that nobody else can write. */
static int
base_is_private(const char *base)
{
  struct stat st;

  if (lstat(base, &st) != 0)
    return -errno;
  if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() ||
      (st.st_mode & (S_IWGRP | S_IWOTH)))
    return -EPERM;
  return 0;
}

int
locator_publish(const char *config_abs, const char *state_dir, int pid)
{
  char *base = locator_base(), *path, *tmp;
  json_t *doc;
  FILE *f;
  int fd, rc = 0;

  if (!base)
    return -ENOENT;
  if ((rc = mkdirs(base)) != 0 || (rc = base_is_private(base)) != 0) {
    free(base);
    return rc;
  }
  path = locator_entry_path(base, config_abs);
  tmp = xasprintf("%s.tmp.XXXXXX", path);
  fd = mkostemp(tmp, O_CLOEXEC);
  if (fd < 0) {
    rc = -errno;
  } else if (!(f = fdopen(fd, "w"))) {
    rc = -errno;
    close(fd);
    unlink(tmp);
  } else {
    doc = json_pack("{s:s, s:s, s:i}", "config", config_abs, "state_dir",
                    state_dir, "pid", pid);
    int bad = json_dumpf(doc, f, JSON_COMPACT) != 0;
    bad |= fclose(f) != 0;
    json_decref(doc);
    if (bad || rename(tmp, path) != 0) {
      rc = -EIO;
      unlink(tmp);
    }
  }
  free(tmp);
  free(path);
  free(base);
  return rc;
}

/* Loads the entry of config_abs, or NULL. */
static json_t *
load_entry(const char *config_abs, char **path_out)
{
  char *base = locator_base();
  json_t *doc = NULL;

  *path_out = NULL;
  if (!base)
    return NULL;
  if (base_is_private(base) == 0) {
    *path_out = locator_entry_path(base, config_abs);
    doc = json_load_file(*path_out, 0, NULL);
  }
  free(base);
  const char *cfg = json_string_value(json_object_get(doc, "config"));
  if (doc && (!cfg || strcmp(cfg, config_abs) != 0)) {
    json_decref(doc);
    doc = NULL;
  }
  return doc;
}

void
locator_remove(const char *config_abs, int pid)
{
  char *path;
  json_t *doc = load_entry(config_abs, &path);

  if (doc && json_integer_value(json_object_get(doc, "pid")) == pid)
    unlink(path);
  json_decref(doc);
  free(path);
}

char *
locator_find(const char *config_abs)
{
  char *path, *found = NULL;
  json_t *doc = load_entry(config_abs, &path);
  const char *dir = json_string_value(json_object_get(doc, "state_dir"));
  json_int_t pid = json_integer_value(json_object_get(doc, "pid"));

  if (dir && pid > 0 && (kill((pid_t)pid, 0) == 0 || errno == EPERM)) {
    char *dj = xasprintf("%s/daemon.json", dir);
    if (access(dj, R_OK) == 0)
      found = xstrdup(dir);
    free(dj);
  }
  json_decref(doc);
  free(path);
  return found;
}
