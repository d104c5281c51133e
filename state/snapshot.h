/* snapshot: small JSON state files replaced atomically (temp file in the
 * same folder, fsync, rename, fsync of the folder). */
#ifndef TEND_SNAPSHOT_H
#define TEND_SNAPSHOT_H

#include <jansson.h>

/* Writes doc to path atomically with mode 0600. Returns 0 or -errno. */
int snapshot_save(const json_t *doc, const char *path);
/* Writes len bytes of text to path atomically with mode. Touches no
 * shared state, so it may run on a libuv threadpool worker (it fsyncs).
 * Returns 0 or -errno. */
int snapshot_save_text(const char *text, size_t len, const char *path,
                       int mode);
/* Same with an explicit file mode (e.g. 0600 for secrets). */
int snapshot_save_mode(const json_t *doc, const char *path, int mode);
/* Loads path; returns a new reference, or NULL with -errno in *err
 * (-ENOENT when absent, -ELOOP for a symlink, -EINVAL when not valid
 * JSON). */
json_t *snapshot_load(const char *path, int *err);

#endif
