/* registry: what the live runners announce (src/registry.h).
 *
 * Four maps by runner name. Stores and watches are borrowed pointers kept
 * as they are; group and pty notes are small records owned here, linked
 * on a list as well so that registry_free finds the ones whose runner
 * never said its run was over (a runner closed with a live run). A second
 * map finds a group note by its leader's pid, for the daemon's reaper.
 */
#include "src/registry.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "src/config.h"
#include "src/strmap.h"
#include "src/xalloc.h"

/* An owned record: a live process group or a live pty. */
struct note {
  struct note *prev, *next;
  int pid;
  unsigned long long start;
  struct registry_pty pty;
};

struct registry {
  struct strmap *stores;  /* name -> struct store * (borrowed) */
  struct strmap *watches; /* name -> struct watch * (borrowed) */
  struct strmap *groups;  /* name -> struct note * */
  struct strmap *leaders; /* "pid" of live run leaders -> struct note * */
  struct strmap *ptys;    /* name -> struct note * (its pty member) */
  struct note *notes;     /* every note of groups and ptys */
};

struct registry *
registry_new(void)
{
  struct registry *reg = xcalloc(1, sizeof *reg);

  reg->stores = strmap_new();
  reg->watches = strmap_new();
  reg->groups = strmap_new();
  reg->leaders = strmap_new();
  reg->ptys = strmap_new();
  return reg;
}

/* Returns a new note, linked on the registry's list. */
static struct note *
note_new(struct registry *reg)
{
  struct note *n = xcalloc(1, sizeof *n);

  n->next = reg->notes;
  if (reg->notes)
    reg->notes->prev = n;
  reg->notes = n;
  return n;
}

/* Unlinks and frees a note (NULL: no-op). */
static void
note_free(struct registry *reg, struct note *n)
{
  if (!n)
    return;
  if (n->prev)
    n->prev->next = n->next;
  else
    reg->notes = n->next;
  if (n->next)
    n->next->prev = n->prev;
  free(n);
}

void
registry_free(struct registry *reg)
{
  if (!reg)
    return;
  for (struct note *n = reg->notes, *next; n; n = next) {
    next = n->next;
    free(n);
  }
  reg->notes = NULL;
  strmap_free(reg->stores);
  strmap_free(reg->watches);
  strmap_free(reg->groups);
  strmap_free(reg->leaders);
  strmap_free(reg->ptys);
  free(reg);
}

void
registry_set_store(struct registry *reg, const char *name, struct store *store)
{
  if (store)
    strmap_set(reg->stores, name, store);
  else
    strmap_del(reg->stores, name);
}

struct store *
registry_store(const struct registry *reg, const char *name)
{
  return strmap_get(reg->stores, name);
}

void
registry_set_watch(struct registry *reg, const char *name, struct watch *watch)
{
  if (watch)
    strmap_set(reg->watches, name, watch);
  else
    strmap_del(reg->watches, name);
}

struct watch *
registry_watch(const struct registry *reg, const char *name)
{
  return strmap_get(reg->watches, name);
}

void
registry_set_pty(struct registry *reg, const char *name, uv_stream_t *master,
                 int cols, int rows)
{
  struct note *n;

  note_free(reg, strmap_del(reg->ptys, name));
  if (!master)
    return;
  n = note_new(reg);
  n->pty.master = master;
  n->pty.cols = cols;
  n->pty.rows = rows;
  strmap_set(reg->ptys, name, n);
}

struct registry_pty *
registry_pty(const struct registry *reg, const char *name)
{
  struct note *n = strmap_get(reg->ptys, name);
  return n ? &n->pty : NULL;
}

void
registry_note_group(struct registry *reg, const char *name, int pid,
                    unsigned long long start)
{
  struct note *g = strmap_get(reg->groups, name);
  char key[24];

  if (g && g->pid > 0) {
    snprintf(key, sizeof key, "%d", g->pid);
    strmap_del(reg->leaders, key);
  }
  if (pid <= 0) {
    /* The run is over: nothing to recover, nothing to keep. */
    note_free(reg, strmap_del(reg->groups, name));
    return;
  }
  if (!g) {
    g = note_new(reg);
    strmap_set(reg->groups, name, g);
  }
  g->pid = pid;
  g->start = start;
  snprintf(key, sizeof key, "%d", pid);
  strmap_set(reg->leaders, key, g);
}

int
registry_is_leader(const struct registry *reg, int pid)
{
  char key[24];

  snprintf(key, sizeof key, "%d", pid);
  return strmap_get(reg->leaders, key) != NULL;
}

void
registry_signal_groups(const struct registry *reg,
                       const struct config_node *node, int signo)
{
  const struct note *g;

  if (node->is_group) {
    for (size_t i = 0; i < node->n_children; i++)
      registry_signal_groups(reg, node->children[i], signo);
    return;
  }
  g = strmap_get(reg->groups, node->name);
  if (g && g->pid > 0)
    kill(-g->pid, signo);
}

/* Adds the live groups of the runners below node to out, in config
 * order. */
static void
add_groups(const struct registry *reg, const struct config_node *node,
           json_t *out)
{
  const struct note *g;

  if (node->is_group) {
    for (size_t i = 0; i < node->n_children; i++)
      add_groups(reg, node->children[i], out);
    return;
  }
  g = strmap_get(reg->groups, node->name);
  if (g && g->pid > 0)
    json_object_set_new(
        out, node->name,
        json_pack("{s:i, s:I}", "pgid", g->pid, "start", (json_int_t)g->start));
}

json_t *
registry_groups_json(const struct registry *reg, const struct config_node *node)
{
  json_t *out = json_object();

  add_groups(reg, node, out);
  return out;
}
