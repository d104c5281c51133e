/* locator: where the daemon running a given config file keeps its state,
 * for clients whose copy of the config names another state folder (a
 * state_dir edit that the running daemon refused). */
#ifndef TEND_LOCATOR_H
#define TEND_LOCATOR_H

/* Returns the entry file for config file `config_abs` under folder `base`
 * (new): base/<16 hex digits of a hash of the path>.json. Pure. */
char *locator_entry_path(const char *base, const char *config_abs);

/* Returns the folder entries live in (new), or NULL when neither
 * XDG_RUNTIME_DIR nor HOME is set: $XDG_RUNTIME_DIR/tend, else
 * $HOME/.local/state/tend/run. */
char *locator_base(void);

/* Records that pid runs config_abs with its state in state_dir. Returns 0
 * or a negative errno; a failure only costs clients the fallback. */
int locator_publish(const char *config_abs, const char *state_dir, int pid);

/* Removes the entry of config_abs if it is pid's. */
void locator_remove(const char *config_abs, int pid);

/* Returns the state folder of a live daemon running config_abs (new), or
 * NULL. */
char *locator_find(const char *config_abs);

#endif
