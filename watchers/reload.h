/* reload: notices when tend.json (or a file of its include folder) changed.
 *
 * The config file is watched through its folder, non-recursively, because
 * editors save by writing a new file and renaming it over the old one (a
 * watch on the file itself would follow the old inode away). The include
 * folder, when there is one, is watched the same way for its *.json files
 * (the names config_load reads: not starting with '.', ending in ".json").
 *
 * Changes are coalesced: RELOAD_DEBOUNCE_MS after the last one (at most
 * RELOAD_MAX_WAIT_MS after the first) the content is fingerprinted, and
 * the callback runs only when the fingerprint differs from the last one
 * seen: a touch, or a save without an edit, does nothing. Loading,
 * diffing and applying are the caller's business. */
#ifndef TEND_RELOAD_H
#define TEND_RELOAD_H

#include <stdint.h>
#include <uv.h>

#include "watchers/inotify.h"

#define RELOAD_DEBOUNCE_MS 100
#define RELOAD_MAX_WAIT_MS 1000

/* Called once per burst of changes that changed the content. */
typedef void (*reload_cb)(void *ctx);

struct reload;

/* Watches config_file (absolute) and include_dir (absolute, or NULL) on
 * svc; the content now is the baseline. Returns NULL with *cause (new) when
 * a folder cannot be watched. */
struct reload *reload_new(uv_loop_t *loop, struct inotify_service *svc,
                          const char *config_file, const char *include_dir,
                          reload_cb cb, void *ctx, char **cause);
/* Switches to another include folder (or none) after a reload changed the
 * "include" key; takes the content now as the baseline. Returns 0, or
 * -errno with *cause (the old folder stays watched then). */
int reload_set_include_dir(struct reload *r, const char *include_dir,
                           char **cause);
/* Takes the content now as the baseline (after a reload the caller did on
 * its own, e.g. POST /api/v1/reload), so that it does not fire again. */
void reload_refresh(struct reload *r);
/* Returns 1 while a burst of changes is being collected (status, tests). */
int reload_busy(const struct reload *r);
/* Unsubscribes and frees the watcher after its timer closed, then calls
 * cb(arg) (may be NULL). No callback runs after this call. NULL is a
 * no-op. */
void reload_close(struct reload *r, void (*cb)(void *), void *arg);

/* Pure: returns 1 when name is a file name the include folder's loader
 * reads ("*.json", not hidden). */
int reload_include_name(const char *name);
/* Returns a 64-bit fingerprint of the config file's bytes and of the names
 * and bytes of the include folder's files (include_dir may be NULL). A
 * missing file fingerprints differently from an empty one. */
uint64_t reload_fingerprint(const char *config_file, const char *include_dir);

#endif
