/* parked: inotify events waiting for their second half (see parked.h).
 *
 * Both lists are short (a drain's renames in flight, the files being
 * written right now), so lookups are linear. Moves keep their order, since
 * the unpaired ones are reported in it; writes do not, a removal moves the
 * last one into the hole. */
#include "watchers/parked.h"

#include <stdlib.h>
#include <string.h>

#include "src/xalloc.h"

/* Parks a MOVED_FROM until its MOVED_TO (or the end of the drain). */
void
parked_move_add(struct parked *p, uint32_t cookie, const char *from, int is_dir)
{
  if (p->n_moves == p->cap_moves) {
    p->cap_moves = p->cap_moves == 0 ? 8 : p->cap_moves * 2;
    p->moves = xrealloc(p->moves, p->cap_moves * sizeof *p->moves);
  }
  p->moves[p->n_moves++] = (struct parked_move){
      .cookie = cookie, .from = xstrdup(from), .is_dir = is_dir};
}

/* Takes the parked move with cookie out; see parked.h. */
int
parked_move_take(struct parked *p, uint32_t cookie, struct parked_move *out)
{
  for (size_t i = 0; i < p->n_moves; i++) {
    if (p->moves[i].cookie != cookie)
      continue;
    *out = p->moves[i];
    memmove(&p->moves[i], &p->moves[i + 1],
            (p->n_moves - i - 1) * sizeof *p->moves);
    p->n_moves--;
    return 1;
  }
  return 0;
}

/* Forgets every parked move. */
void
parked_moves_clear(struct parked *p)
{
  for (size_t i = 0; i < p->n_moves; i++)
    free(p->moves[i].from);
  p->n_moves = 0;
}

/* Returns the index of path among the parked writes, or -1. */
static long
write_find(const struct parked *p, const char *path)
{
  for (size_t i = 0; i < p->n_writes; i++)
    if (strcmp(p->writes[i].path, path) == 0)
      return (long)i;
  return -1;
}

/* Parks path as written to but not yet closed. */
void
parked_write_add(struct parked *p, const char *path, uint64_t now_ms)
{
  if (write_find(p, path) >= 0)
    return;
  if (p->n_writes == p->cap_writes) {
    p->cap_writes = p->cap_writes == 0 ? 8 : p->cap_writes * 2;
    p->writes = xrealloc(p->writes, p->cap_writes * sizeof *p->writes);
  }
  p->writes[p->n_writes++] =
      (struct parked_write){.path = xstrdup(path), .since = now_ms};
}

/* Removes path from the parked writes; returns 1 when it was there. */
int
parked_write_clear(struct parked *p, const char *path)
{
  long i = write_find(p, path);

  if (i < 0)
    return 0;
  free(p->writes[i].path);
  p->writes[i] = p->writes[--p->n_writes];
  return 1;
}

/* Takes out one write parked for max_ms or longer; see parked.h. */
char *
parked_write_expired(struct parked *p, uint64_t now_ms, uint64_t max_ms)
{
  for (size_t i = 0; i < p->n_writes; i++) {
    if (now_ms - p->writes[i].since >= max_ms) {
      char *path = p->writes[i].path;
      p->writes[i] = p->writes[--p->n_writes];
      return path;
    }
  }
  return NULL;
}

/* Frees both lists. */
void
parked_fini(struct parked *p)
{
  parked_moves_clear(p);
  free(p->moves);
  for (size_t i = 0; i < p->n_writes; i++)
    free(p->writes[i].path);
  free(p->writes);
  *p = PARKED_ZERO;
}
