/* batch: the changes collected for one inotify subscriber until the next
 * delivery.
 *
 * The inotify service routes every change it finds into the batch of each
 * subscriber covering it, then hands the whole batch to the subscriber's
 * callback at the end of the drain (or timer tick). A batch owns copies of
 * its strings. */
#ifndef TEND_BATCH_H
#define TEND_BATCH_H

#include <stddef.h>

#include "watchers/inotify.h"

struct batch {
  struct inotify_change *chs; /* the strings are owned by the batch */
  size_t n, cap;
};

/* Appends one change (copying path, from and message; from and message may
 * be NULL), unless it repeats one of the last few: a second MODIFIED after
 * a CREATED, MODIFIED or MOVED of the same path, the same kind twice for a
 * path (MOVED excepted), or a second LIMIT notice. */
void batch_add(struct batch *b, enum inotify_kind kind, const char *path,
               const char *from, int is_dir, int synthetic,
               const char *message);
/* Frees the changes' strings and empties the batch (keeps the array). */
void batch_clear(struct batch *b);
/* Frees everything; the batch is empty afterwards. */
void batch_fini(struct batch *b);

#endif
