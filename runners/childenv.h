/* childenv: the environment a runner's command starts with: the daemon's
 * (without TEND_*), its env_file files, its spec's env, then the TEND_*
 * facts of the run, and the paths a watch saw change. */
#ifndef TEND_CHILDENV_H
#define TEND_CHILDENV_H

#include <stdint.h>

struct config_node;

/* Builds the environment of run number run of spec (each layer overriding
 * the one before). changed_paths (one per line, or NULL) go to
 * TEND_CHANGED_PATHS (capped) and the whole list to the file
 * childenv_changed_file names; a run no change caused gets neither, and a
 * stale file is removed. The env_file files are read now, so that an edit
 * applies at the next start. Returns a new NULL-terminated array (free
 * with childenv_free), or NULL with *cause (new) when an env_file cannot
 * be read or parsed ("file:line: message"). */
char **childenv_build(const struct config_node *spec, const char *state_dir,
                      uint64_t run, const char *changed_paths, char **cause);
/* Frees an array of childenv_build (NULL: no-op). */
void childenv_free(char **env);
/* The value of name in a "KEY=VALUE" array (borrowed), or NULL. */
const char *childenv_get(char **env, const char *name);
/* The file of a runner's changed paths (new):
 * <state_dir>/changed/<name>.txt. */
char *childenv_changed_file(const char *state_dir, const char *name);

#endif
