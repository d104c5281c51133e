/* apply: a reload of tend.json, from the file to the running tree.
 *
 * DESIGN
 * One diff, two readers. config_diff (pure, src/config.c) is computed once
 * per reload; the same change list is the config_applied event (what the
 * user reads) and the input of sup_apply (what the tree does), so the two
 * cannot disagree.
 *
 * Ownership. The context holds one reference to the applied config. Every
 * supervisor and runner holds one to the config its specs come from, and a
 * probe in flight one to the config it started with (runners/runner.c).
 * During sup_apply the context still holds the old config, so every node
 * the diff names stays valid; afterwards it drops its reference, and the
 * old config is freed at once, or when the last removed runner closes or
 * the last probe started under it ends. Nothing is kept until shutdown.
 *
 * Order. The context's config pointer moves to the new config before
 * sup_apply, since the events the tree publishes while it rebinds are read
 * against the context's config (after triggers, the read model). */
#include "src/apply.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "src/events.h"
#include "src/log.h"
#include "src/sup.h"
#include "src/tend.h"
#include "src/xalloc.h"
#include "watchers/reload.h"

/* Publishes config_error with every line of errors, and keeps them as the
 * last reload's errors. */
static void
report_error(const char *errors, char **config_error)
{
  json_t *list = json_array();
  char *copy = xstrdup(errors), *save = NULL;

  for (char *line = strtok_r(copy, "\n", &save); line;
       line = strtok_r(NULL, "\n", &save))
    json_array_append_new(list, json_string(line));
  free(copy);
  events_emit(json_pack("{s:s, s:o, s:s}", "type", "config_error", "errors",
                        list, "message",
                        "the config file has errors; the running tree is "
                        "unchanged"));
  free(*config_error);
  *config_error = xstrdup(errors);
}

json_t *
apply_changes_json(const struct config_change *changes, size_t n)
{
  json_t *out = json_pack("{s:[], s:[], s:[], s:[], s:b}", "remove",
                          "change", "group", "add", "root", 0);
  for (size_t i = 0; i < n; i++) {
    const struct config_node *node =
        changes[i].new_node ? changes[i].new_node : changes[i].old_node;
    const char *key = config_change_kind_name(changes[i].kind);
    if (changes[i].kind == CONFIG_CHANGE_ROOT) {
      json_object_set_new(out, "root", json_true());
      continue;
    }
    json_array_append_new(json_object_get(out, key), json_string(node->name));
  }
  return out;
}

int
apply_reload(struct config **cfg, struct sup *root, struct reload *watcher,
             char **config_error, char **cause)
{
  struct config *old = *cfg, *next = NULL;
  struct config_change *changes = NULL;
  char *http_note = NULL, *errors = NULL;
  size_t n;
  json_t *ev;

  if (config_load(old->file, &next, &errors) != 0) {
    report_error(errors ? errors : "cannot load the config", config_error);
    *cause = errors ? errors : xstrdup("cannot load the config");
    return -EINVAL;
  }
  if ((*cause = config_fixed_change(old, next)) != NULL) {
    report_error(*cause, config_error);
    config_free(next);
    return -EINVAL;
  }
  http_note = config_http_change(old, next);
  if (strcmp(next->hash, old->hash) == 0 && !*config_error) {
    free(http_note);
    config_free(next);
    return 0;
  }
  n = config_diff(old, next, &changes);
  ev = json_pack("{s:s, s:s, s:o}", "type", "config_applied", "hash",
                 next->hash, "changes", apply_changes_json(changes, n));
  *cfg = next;
  free(*config_error);
  *config_error = NULL;
  sup_apply(root, next, changes, n);
  free(changes);
  config_unref(old); /* freed now, or by its last runner or probe */
  if (watcher) {
    char *why = NULL;
    if (reload_set_include_dir(watcher, next->include_dir, &why) != 0) {
      log_warn("include folder: %s", why ? why : "?");
      free(why);
    }
    reload_refresh(watcher);
  }
  json_object_set_new(ev, "message",
                      json_sprintf("config %s applied", next->hash));
  events_emit(ev);
  if (http_note) {
    events_note("config_warning", NULL, "%s", http_note);
    free(http_note);
  }
  return 0;
}

void
apply_on_file_changed(void *ctx)
{
  char *cause = NULL;
  (void)ctx;
  if (tend_reload(&cause) != 0)
    log_debug("reload: %s", cause ? cause : "failed");
  free(cause);
}
