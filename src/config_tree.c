/* config_tree: the validator's walk of the tree (src/config_tree.h): what
 * makes a node a group or a runner, which keys each kind of node takes,
 * unique names, the root's own keys (http, state_dir, include, output,
 * on_give_up), groups (strategy, intensity, children), the keys any node
 * may have (restart_limit, env_file), the files of the include folder, and
 * the "after" references checked once every name is known.
 *
 * A runner's own keys are read by src/config_runner.c; both report through
 * the loader's state (src/config_ld.h). The key tables below are read by
 * tests/schema/configsrc.py, which compares them with the docs. */
#include "src/config_tree.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "src/config_pos.h"
#include "src/config_runner.h"
#include "src/enumname.h"
#include "src/strmap.h"
#include "src/xalloc.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))
/* The names of an X-macro enum and how many, for config__get_choice. */
#define CHOICES(MAP)                                                           \
  ENUMNAME_LIST(MAP, ENUMNAME_PICK2), ENUMNAME_COUNT(MAP, ENUMNAME_PICK2)

/* Where a node key may appear. */
enum { W_ANY = 1, W_GROUP = 2, W_RUNNER = 4, W_ROOT = 8 };

static const struct node_key {
  const char *key;
  unsigned where;
} node_keys[] = {
    {"$schema", W_ROOT}, /* for editors: the JSON Schema's URL; not used */
    {"name", W_ANY},
    {"children", W_GROUP},
    {"strategy", W_GROUP},
    {"intensity", W_GROUP},
    {"restart_limit", W_ANY},
    {"env_file", W_ANY},
    {"on_give_up", W_ROOT},
    {"state_dir", W_ROOT},
    {"http", W_ROOT},
    {"include", W_ROOT},
    {"output", W_ROOT | W_RUNNER},
    {"cmd", W_RUNNER},
    {"cwd", W_RUNNER},
    {"env", W_RUNNER},
    {"restart", W_RUNNER},
    {"backoff", W_RUNNER},
    {"stop", W_RUNNER},
    {"ready", W_RUNNER},
    {"health", W_RUNNER},
    {"autostart", W_RUNNER},
    {"success_codes", W_RUNNER},
    {"watch", W_RUNNER},
    {"after", W_RUNNER},
    {"on_busy", W_RUNNER},
    {"max_memory", W_RUNNER},
    {"pty", W_RUNNER},
};

static const char *const intensity_keys[] = {"max_restarts", "period_s"};
static const char *const limit_keys[] = {"max_restarts", "period_s"};
static const char *const http_keys[] = {"listen", "allow_remote", "hosts",
                                        "tls"};
static const char *const tls_keys[] = {"cert", "key"};
static const char *const output_keys[] = {"max_bytes", "keep"};

/* Returns a node with every default set. */
static struct config_node *
node_new(struct config_node *parent)
{
  struct config_node *n = xcalloc(1, sizeof *n);
  n->parent = parent;
  n->strategy = CONFIG_STRATEGY_ONE_FOR_ONE;
  n->max_restarts = -1;
  n->period_ms = 10000;
  n->limit_max_restarts = -1;
  n->limit_period_ms = 10000;
  n->restart = CONFIG_RESTART_PERMANENT;
  n->backoff_initial_ms = 100;
  n->backoff_max_ms = 30000;
  n->backoff_reset_ms = 10000;
  n->stop_signal = SIGTERM;
  n->stop_timeout_ms = 5000;
  n->ready = CONFIG_READY_NONE;
  n->ready_timeout_ms = 30000;
  n->autostart = 1;
  n->success_codes = xcalloc(1, sizeof *n->success_codes);
  n->n_success_codes = 1;
  n->output.max_bytes = INT64_C(64) << 20;
  n->output.keep = 3;
  n->watch.gitignore = 1;
  n->watch.debounce_ms = 150;
  n->watch.max_wait_ms = 2000;
  n->watch.action = CONFIG_WATCH_RESTART;
  n->watch.loop_max_restarts = 10;
  n->watch.loop_period_ms = 60000;
  n->watch.loop_follow_ms = 500;
  n->after.on = CONFIG_AFTER_SUCCESS;
  n->on_busy = CONFIG_ON_BUSY_QUEUE;
  n->health.kind = CONFIG_PROBE_NONE;
  n->health.every_ms = 10000;
  n->health.timeout_ms = 2000;
  n->health.failures = 3;
  return n;
}

/* Returns a deep copy of v without comment keys, so that editing a comment
 * never counts as a change of the spec. */
static json_t *
strip_comments(json_t *v)
{
  const char *key;
  json_t *item;
  size_t i;

  if (json_is_object(v)) {
    json_t *copy = json_object();
    json_object_foreach(v, key, item)
    {
      if (!config__is_comment_key(key))
        json_object_set_new(copy, key, strip_comments(item));
    }
    return copy;
  }
  if (json_is_array(v)) {
    json_t *copy = json_array();
    json_array_foreach(v, i, item)
        json_array_append_new(copy, strip_comments(item));
    return copy;
  }
  return json_incref(v);
}

/* Returns the canonical compact JSON of a node's own object (new): keys
 * sorted at every level, so key order never counts as a change; a group's
 * "children" are left out, they are nodes of their own. */
static char *
spec_dump(json_t *obj, int is_group)
{
  json_t *copy = strip_comments(obj);
  if (is_group)
    json_object_del(copy, "children");
  char *s = json_dumps(copy, JSON_COMPACT | JSON_SORT_KEYS);
  json_decref(copy);
  char *r = xstrdup(s ? s : "{}");
  free(s);
  return r;
}

/* Reads the node's name, checks it is unique in the whole tree, and
 * remembers where it was first used. */
static void
ld_name(struct config__ld *ld, json_t *obj, struct config_node *n, int is_root)
{
  json_t *v = json_object_get(obj, "name");
  const char *name = "root";
  if (!v && !is_root) {
    config__err(ld, 0, "missing required key \"name\"");
    return;
  }
  if (v) {
    if (!json_is_string(v)) {
      config__err_key(ld, "name", 0, "expected a string");
      return;
    }
    name = json_string_value(v);
    const char *why = config_name_problem(name);
    if (why) {
      config__err_key(ld, "name", 0, "%s", why);
      return;
    }
  }
  n->name = xstrdup(name);
  uintptr_t at = (uintptr_t)strmap_get(ld->names, name);
  config__push(ld, "name", 0);
  if (at) {
    const struct config__use *u = &ld->uses[at - 1];
    int line, col;
    char *where = config_pos_path_format(u->segs, u->n - 1);
    config__position(ld, u->src, u->segs, u->n, 0, &line, &col);
    config__err(ld, 0, "name %s is already used by %s (%s:%d:%d)",
                config__q(ld, name), where, ld->srcs[u->src].disp, line, col);
    free(where);
  } else {
    ld->uses = xgrow(ld->uses, &ld->cap_uses, ld->n_uses + 1, sizeof *ld->uses);
    struct config__use *u = &ld->uses[ld->n_uses++];
    u->src = ld->cur;
    u->segs = config__path_copy(ld);
    u->n = ld->depth;
    u->node = n;
    strmap_set(ld->names, name, (void *)(uintptr_t)ld->n_uses);
  }
  config__pop(ld);
}

/* Reports keys that do not belong on this kind of node. allow is the set of
 * W_* that applies here. */
static void
check_node_keys(struct config__ld *ld, json_t *obj, unsigned allow, int is_root)
{
  const char *key;
  json_t *v;
  json_object_foreach(obj, key, v)
  {
    const struct node_key *k = NULL;
    if (config__is_comment_key(key))
      continue;
    for (size_t i = 0; i < COUNT(node_keys); i++)
      if (strcmp(node_keys[i].key, key) == 0)
        k = &node_keys[i];
    if (k && (k->where & allow))
      continue;
    const char *q = config__q(ld, key);
    if (!k) {
      const char *cands[COUNT(node_keys)];
      size_t n = 0;
      for (size_t i = 0; i < COUNT(node_keys); i++)
        if (node_keys[i].where & allow)
          cands[n++] = node_keys[i].key;
      const char *near = config__closest(key, cands, n);
      if (near)
        config__err_key(ld, key, 1, "unknown key %s (did you mean \"%s\"?)", q,
                        near);
      else
        config__err_key(ld, key, 1, "unknown key %s", q);
    } else if (k->where & W_ROOT) {
      config__err_key(ld, key, 1, "%s is allowed only on the root%s", q,
                      (k->where & W_RUNNER) ? " or on a runner" : "");
    } else if (k->where & W_GROUP) {
      config__err_key(ld, key, 1,
                      "%s is a group key, but this node is a runner (it has "
                      "\"cmd\")",
                      q);
    } else if (is_root) {
      config__err_key(ld, key, 1,
                      "%s is a runner key, but the root must be a group", q);
    } else {
      config__err_key(ld, key, 1,
                      "%s is a runner key, but this node is a group (it has "
                      "\"children\")",
                      q);
    }
  }
}

/* Reads an "output" object into out (which holds the inherited values). */
void
config__tree_output(struct config__ld *ld, json_t *obj,
                    struct config_output *out)
{
  json_t *o;
  int64_t keep;
  if (config__get_object(ld, obj, "output", &o) <= 0)
    return;
  config__push(ld, "output", 0);
  config__check_keys(ld, o, output_keys, COUNT(output_keys));
  config__get_int(ld, o, "max_bytes", 4096, INT64_MAX, &out->max_bytes);
  if (config__get_int(ld, o, "keep", 1, INT_MAX, &keep) > 0)
    out->keep = (int)keep;
  config__pop(ld);
}

/* Splits "host:port" or "[v6]:port"; returns NULL and a new host, or why
 * the text is not an address. */
static const char *
listen_parse(const char *s, char **host, int *port)
{
  const char *h = s, *he, *p;
  if (s[0] == '[') {
    h = s + 1;
    he = strchr(h, ']');
    if (!he || he[1] != ':')
      return "expected \"[address]:port\" for an IPv6 address";
    p = he + 2;
  } else {
    he = strrchr(s, ':');
    if (!he)
      return "expected \"host:port\" or false";
    if (memchr(h, ':', (size_t)(he - h)))
      return "write an IPv6 address in brackets, e.g. \"[::1]:7070\"";
    p = he + 1;
  }
  if (he == h)
    return "expected a host before the port";
  size_t pl = strlen(p);
  if (pl == 0 || pl > 5 || strspn(p, "0123456789") != pl || atoi(p) > 65535)
    return "expected a port between 0 and 65535";
  char *hs = xstrndup(h, (size_t)(he - h));
  if (s[0] == '[') {
    struct in6_addr a6;
    if (inet_pton(AF_INET6, hs, &a6) != 1) {
      free(hs);
      return "expected an IPv6 address inside the brackets";
    }
  } else if (strspn(hs, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                        "0123456789.-") != strlen(hs)) {
    free(hs);
    return "expected a host name or an IPv4 address before the port";
  }
  *host = hs;
  *port = atoi(p);
  return NULL;
}

/* Returns 1 when host names this machine's loopback interface. */
static int
host_is_loopback(const char *host)
{
  struct in_addr a4;
  struct in6_addr a6;
  if (strcasecmp(host, "localhost") == 0)
    return 1;
  if (inet_pton(AF_INET, host, &a4) == 1)
    return (ntohl(a4.s_addr) >> 24) == 127;
  if (inet_pton(AF_INET6, host, &a6) == 1)
    return IN6_IS_ADDR_LOOPBACK(&a6) ||
           (IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127);
  return 0;
}

/* Reads the root's "http" object. */
static void
ld_http(struct config__ld *ld, json_t *obj)
{
  struct config_http *h = &ld->cfg->http;
  json_t *o;
  if (config__get_object(ld, obj, "http", &o) <= 0)
    return;
  config__push(ld, "http", 0);
  config__check_keys(ld, o, http_keys, COUNT(http_keys));
  config__get_bool(ld, o, "allow_remote", &h->allow_remote);
  json_t *v = json_object_get(o, "listen");
  if (v && json_is_false(v)) {
    h->enabled = 0;
  } else if (v && json_is_string(v)) {
    char *host = NULL;
    int port = 0;
    const char *why = listen_parse(json_string_value(v), &host, &port);
    if (why) {
      config__err_key(ld, "listen", 0, "%s", why);
    } else if (!host_is_loopback(host) && !h->allow_remote) {
      config__err_key(
          ld, "listen", 0,
          "%s is not a loopback address; set \"allow_remote\": true "
          "to listen on it",
          config__q(ld, host));
      free(host);
    } else {
      free(h->host);
      h->host = host;
      h->port = port;
      h->listen_set = 1;
    }
  } else if (v) {
    config__err_key(ld, "listen", 0, "expected \"host:port\" or false");
  }
  config__get_strings(ld, o, "hosts", 0, 0, &h->hosts, &h->n_hosts);
  json_t *tls;
  if (config__get_object(ld, o, "tls", &tls) > 0) {
    const char *cert = NULL, *key = NULL;
    config__push(ld, "tls", 0);
    config__check_keys(ld, tls, tls_keys, COUNT(tls_keys));
    if (config__get_string(ld, tls, "cert", 1, &cert) == 0)
      config__err(ld, 0, "\"cert\" is required (a PEM certificate file)");
    if (config__get_string(ld, tls, "key", 1, &key) == 0)
      config__err(ld, 0, "\"key\" is required (a PEM private key file)");
    if (cert && key) {
      h->tls_cert = config__path_resolve(ld->cfg->dir, cert);
      h->tls_key = config__path_resolve(ld->cfg->dir, key);
    }
    config__pop(ld);
  }
  config__pop(ld);
}

/* Reads the keys only the root has (before its children, which inherit
 * "output"). */
static void
ld_root(struct config__ld *ld, json_t *obj)
{
  struct config *cfg = ld->cfg;
  const char *s;
  int choice;
  config__get_string(ld, obj, "$schema", 0, &s); /* checked, then ignored */
  if (config__get_choice(ld, obj, "on_give_up", CHOICES(CONFIG_GIVE_UP_MAP),
                         &choice) > 0)
    cfg->on_give_up = (enum config_give_up)choice;
  if (config__get_string(ld, obj, "state_dir", 1, &s) > 0) {
    free(cfg->state_dir);
    cfg->state_dir = config__path_resolve(cfg->dir, s);
  }
  ld_http(ld, obj);
  if (config__get_string(ld, obj, "include", 1, &s) > 0) {
    cfg->include_dir = config__path_resolve(cfg->dir, s);
    ld->include = s;
  }
  config__tree_output(ld, obj, &cfg->output);
}

/* Reads "restart_limit": {"max_restarts", "period_s"} or false. */
void
config__tree_restart_limit(struct config__ld *ld, json_t *obj,
                           struct config_node *n)
{
  json_t *v = json_object_get(obj, "restart_limit");
  int64_t max;

  if (!v)
    return;
  if (json_is_false(v)) {
    n->limit_set = 1;
    n->limit_max_restarts = -1;
    return;
  }
  if (!json_is_object(v)) {
    config__err_key(ld, "restart_limit", 0,
                    "expected an object {\"max_restarts\", \"period_s\"} or "
                    "false");
    return;
  }
  n->limit_set = 1;
  n->limit_max_restarts = 5;
  n->limit_period_ms = 10000;
  config__push(ld, "restart_limit", 0);
  config__check_keys(ld, v, limit_keys, COUNT(limit_keys));
  if (config__get_int(ld, v, "max_restarts", 0, INT_MAX, &max) > 0)
    n->limit_max_restarts = (int)max;
  config__get_seconds(ld, v, "period_s", 0, &n->limit_period_ms);
  config__pop(ld);
}

/* Reads "env_file" (a path or an array of paths, relative to the
 * config's folder); a runner's list starts with its ancestors' files. */
void
config__tree_env_files(struct config__ld *ld, json_t *obj,
                       struct config_node *n)
{
  json_t *v = json_object_get(obj, "env_file");
  char **own = NULL;
  size_t n_own = 0, total = 0, k = 0;

  /* A node that is neither a runner nor a group is read as both. */
  config__strv_free(n->env_files);
  n->env_files = NULL;
  if (v && json_is_string(v)) {
    if (json_string_length(v) == 0) {
      config__err_key(ld, "env_file", 0, "expected a non-empty string");
    } else {
      own = xcalloc(2, sizeof *own);
      own[0] = config__path_resolve(ld->cfg->dir, json_string_value(v));
      n_own = 1;
    }
  } else if (v && json_is_array(v)) {
    config__get_strings(ld, obj, "env_file", 0, 1, &own, &n_own);
  } else if (v) {
    config__err_key(ld, "env_file", 0, "expected a path or an array of paths");
  }
  if (n->is_group) {
    n->env_files = own;
    return;
  }
  for (const struct config_node *g = n->parent; g; g = g->parent)
    for (char **f = g->env_files; f && *f; f++)
      total++;
  n->env_files = xcalloc(total + n_own + 1, sizeof *n->env_files);
  /* Outermost first: count each ancestor's place from the top. */
  {
    const struct config_node *chain[64];
    size_t depth = 0;
    for (const struct config_node *g = n->parent; g && depth < 64;
         g = g->parent)
      chain[depth++] = g;
    for (size_t i = depth; i > 0; i--)
      for (char **f = chain[i - 1]->env_files; f && *f; f++)
        n->env_files[k++] = xstrdup(*f);
  }
  for (size_t i = 0; i < n_own; i++)
    n->env_files[k++] = own[i];
  free(own);
}

/* Appends child to a group. */
static void
node_append(struct config_node *g, struct config_node *child)
{
  g->children =
      xrealloc(g->children, (g->n_children + 1) * sizeof *g->children);
  child->index = g->n_children;
  g->children[g->n_children++] = child;
}

static struct config_node *ld_node(struct config__ld *ld, json_t *obj,
                                   struct config_node *parent, int is_root);

/* Reads the keys of a group, its children included. */
static void
ld_group(struct config__ld *ld, json_t *obj, struct config_node *n)
{
  json_t *o, *children;
  int choice;
  if (config__get_choice(ld, obj, "strategy", CHOICES(CONFIG_STRATEGY_MAP),
                         &choice) > 0)
    n->strategy = (enum config_strategy)choice;
  config__tree_restart_limit(ld, obj, n);
  config__tree_env_files(ld, obj, n);
  if (config__get_object(ld, obj, "intensity", &o) > 0) {
    int64_t max;
    n->max_restarts = 5;
    config__push(ld, "intensity", 0);
    config__check_keys(ld, o, intensity_keys, COUNT(intensity_keys));
    if (config__get_int(ld, o, "max_restarts", 0, INT_MAX, &max) > 0)
      n->max_restarts = (int)max;
    config__get_seconds(ld, o, "period_s", 0, &n->period_ms);
    config__pop(ld);
  }
  children = json_object_get(obj, "children");
  if (!children)
    return;
  if (!json_is_array(children)) {
    config__err_key(ld, "children", 0, "expected an array of nodes");
    return;
  }
  config__push(ld, "children", 0);
  for (size_t i = 0; i < json_array_size(children); i++) {
    config__push(ld, NULL, i);
    struct config_node *c = ld_node(ld, json_array_get(children, i), n, 0);
    config__pop(ld);
    if (c)
      node_append(n, c);
  }
  config__pop(ld);
}

/* Orders file names for the include folder. */
static int
name_cmp(const void *a, const void *b)
{
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Returns the include folder's *.json file names, sorted (new, NULL
 * terminated), or NULL with errno set. */
static char **
include_list(const char *dir)
{
  DIR *d = opendir(dir);
  if (!d)
    return NULL;
  char **names = NULL;
  size_t n = 0, cap = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    size_t len = strlen(e->d_name);
    struct stat st;
    if (e->d_name[0] == '.' || len <= 5 ||
        strcmp(e->d_name + len - 5, ".json") != 0)
      continue;
    char *full = xasprintf("%s/%s", dir, e->d_name);
    int is_file = stat(full, &st) == 0 && S_ISREG(st.st_mode);
    free(full);
    if (!is_file)
      continue;
    names = xgrow(names, &cap, n + 2, sizeof *names);
    names[n++] = xstrdup(e->d_name);
  }
  closedir(d);
  if (!names)
    names = xcalloc(1, sizeof *names);
  names[n] = NULL;
  qsort(names, n, sizeof *names, name_cmp);
  return names;
}

/* Loads each file of the include folder as one more child of the root.
 * first is the index the first of them takes in the merged children. */
static void
ld_includes(struct config__ld *ld, struct config_node *root, size_t first)
{
  const char *dir = ld->cfg->include_dir;
  char **names = include_list(dir);
  if (!names) {
    config__err_key(ld, "include", 0, "cannot open folder %s: %s",
                    config__q(ld, dir), strerror(errno));
    return;
  }
  size_t inc_len = strlen(ld->include);
  while (inc_len > 1 && ld->include[inc_len - 1] == '/')
    inc_len--;
  for (size_t k = 0; names[k]; k++) {
    char *full = xasprintf("%s/%s", dir, names[k]);
    char *disp = ld->include[0] == '/'
                     ? xasprintf("%.*s/%s", (int)inc_len, ld->include, names[k])
                     : xasprintf("%s%.*s/%s", ld->disp_dir, (int)inc_len,
                                 ld->include, names[k]);
    char *text;
    size_t len;
    int rc = config__read_file(full, &text, &len);
    free(full);
    if (rc < 0) {
      config__err_key(ld, "include", 0, "cannot read %s: %s",
                      config__q(ld, disp), strerror(-rc));
      free(disp);
      continue;
    }
    size_t src = config__add_src(ld, disp, text, len, 1, 2);
    json_error_t je;
    json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!doc) {
      config__add(ld, src, je.line, je.column, NULL,
                  xstrdup(config__je_text(&je)));
      continue;
    }
    ld->srcs[src].doc = doc;
    size_t saved = ld->cur;
    ld->cur = src;
    config__push(ld, "children", 0);
    config__push(ld, NULL, first + k);
    struct config_node *c = ld_node(ld, doc, root, 0);
    config__pop(ld);
    config__pop(ld);
    ld->cur = saved;
    if (c)
      node_append(root, c);
  }
  config__strv_free(names);
}

/* Reads one node (the current path points at it) and its subtree; returns
 * it, or NULL when obj is not even an object. */
static struct config_node *
ld_node(struct config__ld *ld, json_t *obj, struct config_node *parent,
        int is_root)
{
  if (!json_is_object(obj)) {
    config__err(ld, 0,
                is_root ? "expected an object"
                        : "expected an object (a runner or "
                          "a group)");
    return NULL;
  }
  struct config_node *n = node_new(parent);
  int has_children = json_object_get(obj, "children") != NULL;
  int has_cmd = json_object_get(obj, "cmd") != NULL;
  unsigned allow = W_ANY;
  if (is_root) {
    allow |= W_ROOT | W_GROUP;
    n->is_group = 1;
  } else if (has_children && has_cmd) {
    config__err(
        ld, 0,
        "a node is either a group (\"children\") or a runner (\"cmd\"), "
        "not both");
    allow |= W_GROUP | W_RUNNER;
    n->is_group = 1;
  } else if (has_children) {
    allow |= W_GROUP;
    n->is_group = 1;
  } else if (has_cmd) {
    allow |= W_RUNNER;
  } else {
    config__err(ld, 0, "expected \"cmd\" (a runner) or \"children\" (a group)");
    allow |= W_GROUP | W_RUNNER;
  }
  check_node_keys(ld, obj, allow, is_root);
  ld_name(ld, obj, n, is_root);
  n->spec_json = spec_dump(obj, n->is_group);
  if (is_root)
    ld_root(ld, obj);
  if (allow & W_GROUP)
    ld_group(ld, obj, n);
  if (allow & W_RUNNER)
    config__runner_read(ld, obj, n);
  if (is_root && ld->cfg->include_dir) {
    json_t *ch = json_object_get(obj, "children");
    ld_includes(ld, n, json_is_array(ch) ? json_array_size(ch) : 0);
  }
  return n;
}

/* Returns the node named name, via the table of first uses. */
static struct config_node *
ld_lookup(const struct config__ld *ld, const char *name)
{
  uintptr_t at = (uintptr_t)strmap_get(ld->names, name);
  return at ? ld->uses[at - 1].node : NULL;
}

/* Checks every "after" now that all names are known: the target must be
 * another runner, and following "after" must never come back. */
static void
ld_check_afters(struct config__ld *ld)
{
  for (size_t i = 0; i < ld->n_afters; i++) {
    struct config__after *a = &ld->afters[i];
    const char *target = a->node->after.runner;
    struct config_node *t = ld_lookup(ld, target);
    struct buf msg = BUF_ZERO;
    if (a->node->name && strcmp(target, a->node->name) == 0) {
      buf_adds(&msg, "a runner cannot run after itself");
    } else if (!t) {
      const char **cands = xmalloc((ld->n_uses + 1) * sizeof *cands);
      size_t n = 0;
      for (size_t k = 0; k < ld->n_uses; k++)
        if (!ld->uses[k].node->is_group)
          cands[n++] = ld->uses[k].node->name;
      const char *near = config__closest(target, cands, n);
      buf_addf(&msg, "unknown runner %s", config__q(ld, target));
      if (near)
        buf_addf(&msg, " (did you mean \"%s\"?)", near);
      free(cands);
    } else if (t->is_group) {
      buf_addf(&msg, "%s is a group; \"after\" names a runner",
               config__q(ld, target));
    } else {
      /* Walk the chain; it is short (at most one "after" per runner). */
      struct config_node *cur = t;
      size_t steps = 0;
      while (cur && cur != a->node && cur->after.runner &&
             steps++ <= ld->n_afters)
        cur = ld_lookup(ld, cur->after.runner);
      if (cur == a->node) {
        buf_addf(&msg, "\"after\" makes a cycle: %s", a->node->name);
        for (cur = t; cur && cur != a->node;
             cur = ld_lookup(ld, cur->after.runner))
          buf_addf(&msg, " -> %s", cur->name);
        buf_addf(&msg, " -> %s", a->node->name);
      }
    }
    if (msg.data)
      config__err_at(ld, a->src, a->segs, a->n, "%s", msg.data);
    buf_free(&msg);
  }
}

/* Reads the whole tree from the main document, then checks the "after"
 * references across it. */
struct config_node *
config__tree_read(struct config__ld *ld, json_t *doc)
{
  struct config_node *root = ld_node(ld, doc, NULL, 1);
  ld_check_afters(ld);
  return root;
}
