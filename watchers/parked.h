/* parked: inotify events waiting for their second half.
 *
 * Two kinds of event are not reported when they are read. A MOVED_FROM
 * waits for the MOVED_TO with the same cookie (a rename inside our trees),
 * or for the end of the drain (then it left them). An IN_MODIFY waits for
 * the writer's IN_CLOSE_WRITE, so that one `echo > f` is one change, or
 * for a time limit when the writer keeps the file open. The inotify service
 * keeps both lists in one `struct parked`; this module only stores them,
 * the service decides what the parked events become. */
#ifndef TEND_PARKED_H
#define TEND_PARKED_H

#include <stddef.h>
#include <stdint.h>

/* A MOVED_FROM waiting for its MOVED_TO. */
struct parked_move {
  uint32_t cookie;
  char *from; /* absolute path, owned */
  int is_dir;
};

/* A path written to and not yet closed. */
struct parked_write {
  char *path;     /* owned */
  uint64_t since; /* loop time (ms) of the first write */
};

struct parked {
  struct parked_move *moves; /* in the order they were read */
  size_t n_moves, cap_moves;
  struct parked_write *writes;
  size_t n_writes, cap_writes;
};

#define PARKED_ZERO ((struct parked){0})

/* Parks a MOVED_FROM of from (copied). */
void parked_move_add(struct parked *p, uint32_t cookie, const char *from,
                     int is_dir);
/* Takes the move with cookie out into *out (the caller frees out->from);
 * returns 0 when there is none. */
int parked_move_take(struct parked *p, uint32_t cookie,
                     struct parked_move *out);
/* Forgets every parked move. */
void parked_moves_clear(struct parked *p);

/* Parks path (copied) as written to at now_ms, unless it is parked
 * already (the first write counts). */
void parked_write_add(struct parked *p, const char *path, uint64_t now_ms);
/* Removes path; returns 1 when it was parked. */
int parked_write_clear(struct parked *p, const char *path);
/* Takes out one path parked for max_ms or longer at now_ms (new), or
 * returns NULL when there is none. */
char *parked_write_expired(struct parked *p, uint64_t now_ms, uint64_t max_ms);

/* Frees both lists. */
void parked_fini(struct parked *p);

#endif
