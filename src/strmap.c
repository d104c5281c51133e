/* strmap: open addressing with linear probing and tombstones; the table
 * doubles at 70% load (tombstones included) so probes stay short. */
#include "src/strmap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "src/xalloc.h"

#define TOMBSTONE ((char *)&tombstone_mark)
static const char tombstone_mark = 0;

struct strmap {
  char **keys;
  void **values;
  size_t cap, count, used; /* used = live keys + tombstones */
};

/* FNV-1a: short names, good enough spread, no allocation. */
static uint64_t
hash_str(const char *s)
{
  uint64_t h = 1469598103934665603ULL;
  for (; *s; s++)
    h = (h ^ (unsigned char)*s) * 1099511628211ULL;
  return h;
}

struct strmap *
strmap_new(void)
{
  struct strmap *m = xcalloc(1, sizeof *m);
  m->cap = 16;
  m->keys = xcalloc(m->cap, sizeof *m->keys);
  m->values = xcalloc(m->cap, sizeof *m->values);
  return m;
}

void
strmap_free(struct strmap *m)
{
  if (!m)
    return;
  for (size_t i = 0; i < m->cap; i++)
    if (m->keys[i] && m->keys[i] != TOMBSTONE)
      free(m->keys[i]);
  free(m->keys);
  free(m->values);
  free(m);
}

/* Returns the slot holding key, or SIZE_MAX. */
static size_t
find_slot(const struct strmap *m, const char *key)
{
  size_t i = hash_str(key) & (m->cap - 1);
  for (;;) {
    char *k = m->keys[i];
    if (!k)
      return SIZE_MAX;
    if (k != TOMBSTONE && strcmp(k, key) == 0)
      return i;
    i = (i + 1) & (m->cap - 1);
  }
}

/* Rebuilds the table without tombstones: at twice the size when the live
 * keys need it, at the same size when deleted keys filled it (churn must
 * not grow the table). */
static void
grow(struct strmap *m)
{
  char **old_keys = m->keys;
  void **old_values = m->values;
  size_t old_cap = m->cap;

  if ((m->count + 1) * 10 >= m->cap * 4)
    m->cap *= 2;
  m->keys = xcalloc(m->cap, sizeof *m->keys);
  m->values = xcalloc(m->cap, sizeof *m->values);
  m->used = m->count;
  for (size_t i = 0; i < old_cap; i++) {
    if (!old_keys[i] || old_keys[i] == TOMBSTONE)
      continue;
    size_t j = hash_str(old_keys[i]) & (m->cap - 1);
    while (m->keys[j])
      j = (j + 1) & (m->cap - 1);
    m->keys[j] = old_keys[i];
    m->values[j] = old_values[i];
  }
  free(old_keys);
  free(old_values);
}

void
strmap_set(struct strmap *m, const char *key, void *value)
{
  size_t i = find_slot(m, key);
  if (i != SIZE_MAX) {
    m->values[i] = value;
    return;
  }
  if ((m->used + 1) * 10 >= m->cap * 7)
    grow(m);
  i = hash_str(key) & (m->cap - 1);
  while (m->keys[i] && m->keys[i] != TOMBSTONE)
    i = (i + 1) & (m->cap - 1);
  if (!m->keys[i])
    m->used++;
  m->keys[i] = xstrdup(key);
  m->values[i] = value;
  m->count++;
}

void *
strmap_get(const struct strmap *m, const char *key)
{
  size_t i = find_slot(m, key);
  return i == SIZE_MAX ? NULL : m->values[i];
}

void *
strmap_del(struct strmap *m, const char *key)
{
  size_t i = find_slot(m, key);
  void *v;
  if (i == SIZE_MAX)
    return NULL;
  v = m->values[i];
  free(m->keys[i]);
  m->keys[i] = TOMBSTONE;
  m->values[i] = NULL;
  m->count--;
  return v;
}

size_t
strmap_count(const struct strmap *m)
{
  return m->count;
}
