/* strmap: a string-keyed hash map (open addressing) for name lookups. */
#ifndef TEND_STRMAP_H
#define TEND_STRMAP_H

#include <stddef.h>

struct strmap;

/* Returns a new empty map. */
struct strmap *strmap_new(void);
/* Frees the map and its copies of the keys (not the values). NULL is a no-op.
 */
void strmap_free(struct strmap *map);
/* Sets key to value (the key is copied). Replaces an existing value. */
void strmap_set(struct strmap *map, const char *key, void *value);
/* Returns the value for key (borrowed), or NULL. */
void *strmap_get(const struct strmap *map, const char *key);
/* Removes key; returns its value or NULL when absent. */
void *strmap_del(struct strmap *map, const char *key);
/* Number of keys. */
size_t strmap_count(const struct strmap *map);

#endif
