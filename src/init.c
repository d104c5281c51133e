/* init: `tend init` writes a starter tend.json that runs as it is (a web
 * server and a watched build step), with "//" comment keys that explain
 * each part and "$schema" pointing at the installed JSON Schema so that
 * editors complete and check keys.
 *
 * The file is created with O_EXCL: an existing tend.json is never
 * replaced, even one created between a check and the write. */
#include "src/init.h"

#include "src/xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Where the schema lives relative to the binary's folder: installed
 * (PREFIX/bin -> PREFIX/share/tend) first, then a source tree. */
static const char *const schema_places[] = {
    "../share/tend/tend.schema.json",
    "docs/tend.schema.json",
};

/* Where the Debian package puts it, when neither place exists. */
#define SCHEMA_FALLBACK_URL "file:///usr/share/tend/tend.schema.json"

/* Copies folder into a valid node name ([A-Za-z0-9_.-], at most 64 chars),
 * or "dev" when nothing usable is left. */
static char *
tree_name(const char *folder)
{
  char *name = xcalloc(65, 1);
  size_t n = 0;

  for (const char *p = folder; *p && n < 64; p++) {
    unsigned char ch = (unsigned char)*p;
    if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
        (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' || ch == '-')
      name[n++] = (char)ch;
    else if (n && name[n - 1] != '-')
      name[n++] = '-';
  }
  while (n && name[n - 1] == '-')
    name[--n] = '\0';
  if (n == 0 || strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
    free(name);
    return xstrdup("dev");
  }
  return name;
}

char *
init_template(const char *folder, const char *schema_url)
{
  char *name = tree_name(folder);
  char *text = xasprintf(
      "{\n"
      "  \"$schema\": \"%s\",\n"
      "  \"//\": \"tend.json: the tree of commands that `tend up` keeps "
      "running. Keys that start with // are comments. Reference: man "
      "tend.json (or docs/config.md). Check a change with: tend check\",\n"
      "  \"name\": \"%s\",\n"
      "  \"strategy\": \"one_for_one\",\n"
      "  \"children\": [\n"
      "    {\n"
      "      \"//\": \"A runner: one command, restarted when it exits. An "
      "array is the exact argv (no shell); a string runs through /bin/sh "
      "-c.\",\n"
      "      \"name\": \"web\",\n"
      "      \"cmd\": [\"python3\", \"-m\", \"http.server\", \"8000\", "
      "\"--bind\", \"127.0.0.1\"],\n"
      "      \"//ready\": \"The next child starts once port 8000 accepts "
      "connections.\",\n"
      "      \"ready\": {\"tcp\": 8000}\n"
      "    },\n"
      "    {\n"
      "      \"//\": \"Runs again whenever a watched file changes; "
      "'transient' means it is not restarted after it succeeds.\",\n"
      "      \"name\": \"build\",\n"
      "      \"cmd\": \"echo \\\"build: $TEND_CHANGED_PATHS\\\"\",\n"
      "      \"restart\": \"transient\",\n"
      "      \"watch\": {\"paths\": [\".\"],\n"
      "                \"include\": [\"**/*.c\", \"**/*.h\", \"**/*.py\", "
      "\"**/*.js\", \"**/*.ts\", \"**/*.go\", \"**/*.rs\"],\n"
      "                \"exclude\": [\".git/**\", \"node_modules/**\"]}\n"
      "    }\n"
      "  ]\n"
      "}\n",
      schema_url, name);
  free(name);
  return text;
}

char *
init_schema_url(const char *exe)
{
  char dir[PATH_MAX], real[PATH_MAX];
  const char *slash = exe ? strrchr(exe, '/') : NULL;

  if (!slash || (size_t)(slash - exe) >= sizeof dir)
    return xstrdup(SCHEMA_FALLBACK_URL);
  memcpy(dir, exe, (size_t)(slash - exe));
  dir[slash - exe] = '\0';
  for (size_t i = 0; i < sizeof schema_places / sizeof *schema_places; i++) {
    char *path = xasprintf("%s/%s", dir, schema_places[i]);
    int found = realpath(path, real) != NULL;
    free(path);
    if (found)
      return xasprintf("file://%s", real);
  }
  return xstrdup(SCHEMA_FALLBACK_URL);
}

int
init_write(const char *path, const char *text, char **cause)
{
  size_t len = strlen(text), off = 0;
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);

  if (fd < 0) {
    int e = errno;
    if (e == EEXIST)
      *cause = xasprintf("%s already exists; tend init never replaces a "
                         "config (check it with: tend check %s)",
                         path, path);
    else
      *cause = xasprintf("%s: %s", path, strerror(e));
    return -e;
  }
  while (off < len) {
    ssize_t w = write(fd, text + off, len - off);
    if (w < 0 && errno == EINTR)
      continue;
    if (w < 0) {
      int e = errno;
      *cause = xasprintf("%s: %s", path, strerror(e));
      close(fd);
      unlink(path);
      return -e;
    }
    off += (size_t)w;
  }
  if (close(fd) != 0) {
    int e = errno;
    *cause = xasprintf("%s: %s", path, strerror(e));
    unlink(path);
    return -e;
  }
  return 0;
}
