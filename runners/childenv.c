/* childenv: a run's environment (runners/childenv.h).
 *
 * A growable "KEY=VALUE" list where a later layer replaces the same key:
 * the daemon's environment (TEND_* left out: those are tend's to set),
 * TERM on a pty, the env_file files, the spec's env, and last the TEND_*
 * facts, so that nothing a user writes can hide which runner and run a
 * process belongs to (state/recover.c relies on TEND_STATE_DIR).
 */
#include "runners/childenv.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "runners/dotenv.h"
#include "runners/pty.h"
#include "src/config.h"
#include "src/log.h"
#include "src/xalloc.h"
#include "watchers/burst.h"
#include "watchers/watch.h"

/* A growable NULL-terminated "KEY=VALUE" list. */
struct envlist {
  char **v;
  size_t n, cap;
};

void
childenv_free(char **env)
{
  for (char **p = env; p && *p; p++)
    free(*p);
  free(env);
}

/* Sets kv ("KEY=VALUE", taken) in the list, replacing the same key. */
static void
env_set_take(struct envlist *l, char *kv)
{
  size_t klen = strcspn(kv, "=");
  for (size_t i = 0; i < l->n; i++) {
    if (strncmp(l->v[i], kv, klen) == 0 && l->v[i][klen] == '=') {
      free(l->v[i]);
      l->v[i] = kv;
      return;
    }
  }
  if (l->n + 2 > l->cap) {
    l->cap = l->cap ? l->cap * 2 : 64;
    l->v = xrealloc(l->v, l->cap * sizeof *l->v);
  }
  l->v[l->n++] = kv;
  l->v[l->n] = NULL;
}

char *
childenv_changed_file(const char *state_dir, const char *name)
{
  return xasprintf("%s/changed/%s.txt", state_dir, name);
}

/* Hands the changed paths to the run: the whole list in a file, replaced
 * atomically per run, and TEND_CHANGED_PATHS capped at 32 KiB with a
 * marker line naming the file. A run no change caused gets neither, and a
 * stale file is removed. */
static void
changed_env(const struct config_node *spec, const char *state_dir,
            const char *changed_paths, struct envlist *l)
{
  char *file = childenv_changed_file(state_dir, spec->name), *value;
  char *cause = NULL;

  if (!changed_paths) {
    unlink(file);
    free(file);
    return;
  }
  value = burst_paths_env(changed_paths, WATCH_ENV_CAP);
  env_set_take(l, xasprintf("TEND_CHANGED_PATHS=%s", value));
  free(value);
  if (burst_paths_file_write(file, changed_paths, &cause) == 0) {
    env_set_take(l, xasprintf("TEND_CHANGED_PATHS_FILE=%s", file));
  } else {
    log_warn("%s: changed paths file: %s", spec->name, cause);
    free(cause);
  }
  free(file);
}

char **
childenv_build(const struct config_node *spec, const char *state_dir,
               uint64_t run, const char *changed_paths, char **cause)
{
  uv_env_item_t *items = NULL;
  int n_items = 0;
  struct envlist l = {NULL, 0, 0};

  *cause = NULL;
  l.cap = 64;
  l.v = xcalloc(l.cap, sizeof *l.v);
  uv_os_environ(&items, &n_items);
  for (int i = 0; i < n_items; i++)
    if (strncmp(items[i].name, "TEND_", 5) != 0)
      env_set_take(&l, xasprintf("%s=%s", items[i].name, items[i].value));
  uv_os_free_environ(items, n_items);
  if (spec->pty) /* a default: env_file and env may say otherwise */
    env_set_take(&l, xstrdup("TERM=" PTY_TERM));
  for (char **f = spec->env_files; f && *f; f++) {
    char **vars = NULL;
    if (dotenv_load(*f, &vars, cause) < 0) {
      childenv_free(l.v);
      return NULL;
    }
    for (char **e = vars; *e; e++)
      if (strncmp(*e, "TEND_", 5) != 0)
        env_set_take(&l, xstrdup(*e));
    dotenv_free(vars);
  }
  for (char **e = spec->env; e && *e; e++)
    env_set_take(&l, xstrdup(*e));
  env_set_take(&l, xasprintf("TEND_RUNNER=%s", spec->name));
  env_set_take(&l, xasprintf("TEND_RUN=%llu", (unsigned long long)run));
  /* Marks the process (and what it starts) as ours for the recovery after
   * a SIGKILL of the daemon (state/recover.c, recover_strays). */
  env_set_take(&l, xasprintf("TEND_STATE_DIR=%s", state_dir));
  changed_env(spec, state_dir, changed_paths, &l);
  return l.v;
}

const char *
childenv_get(char **env, const char *name)
{
  size_t len = strlen(name);
  for (char **e = env; e && *e; e++)
    if (strncmp(*e, name, len) == 0 && (*e)[len] == '=')
      return *e + len + 1;
  return NULL;
}
