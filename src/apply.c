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

/* Publishes config_error with every error (one line each), and keeps
 * them as the last reload's errors (the text `tend status` shows). */
static void
report_error(const struct config_errors *errs, char **config_error)
{
  json_t *list = json_array();
  struct tend_event ev = {.type = EVENTS_CONFIG_ERROR,
                          .errors = list,
                          .message = "the config file has errors; the "
                                     "running tree is unchanged"};

  for (size_t i = 0; i < errs->n; i++) {
    char *line = config_error_format(&errs->v[i]);
    json_array_append_new(list, json_string(line));
    free(line);
  }
  events_emit(&ev);
  json_decref(list);
  free(*config_error);
  *config_error = config_errors_join(errs);
}

json_t *
apply_changes_json(const struct config_change *changes, size_t n)
{
  json_t *out = json_pack("{s:[], s:[], s:[], s:[], s:b}", "remove", "change",
                          "group", "add", "root", 0);
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
             char **config_error, struct config_errors *errs)
{
  struct config *old = *cfg, *next = NULL;
  struct config_change *changes = NULL;
  char *http_note = NULL, *fixed, *msg;
  size_t n;
  json_t *diff;

  if (config_load_list(old->file, &next, errs) != 0) {
    if (errs->n == 0)
      config_errors_add(errs, old->file, 0, 0, NULL, "cannot load the config");
    report_error(errs, config_error);
    return -EINVAL;
  }
  if ((fixed = config_fixed_change(old, next)) != NULL) {
    config_errors_add(errs, next->file, 0, 0, NULL, fixed);
    free(fixed);
    report_error(errs, config_error);
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
  diff = apply_changes_json(changes, n);
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
  msg = xasprintf("config %s applied", next->hash);
  {
    struct tend_event ev = {.type = EVENTS_CONFIG_APPLIED,
                            .hash = next->hash,
                            .changes = diff,
                            .message = msg};
    events_emit(&ev);
  }
  json_decref(diff);
  free(msg);
  if (http_note) {
    events_note(EVENTS_CONFIG_WARNING, NULL, "%s", http_note);
    free(http_note);
  }
  return 0;
}

void
apply_on_file_changed(void *ctx)
{
  struct config_errors errs = CONFIG_ERRORS_ZERO;
  (void)ctx;
  /* The config_error event and `tend status` say what is wrong. */
  if (tend_reload(&errs) != 0)
    log_debug("reload: %zu error(s)", errs.n);
  config_errors_free(&errs);
}
