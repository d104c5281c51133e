/* batch: the changes waiting for one subscriber's next delivery (see
 * batch.h).
 *
 * A drain of the inotify queue often reports one file twice or more (a
 * create then its close-write, an attribute change then a write); the
 * merge looks back a few changes only, which is where such pairs sit, so
 * adding stays cheap for a drain of thousands. */
#include "watchers/batch.h"

#include <stdlib.h>
#include <string.h>

#include "src/xalloc.h"

/* Appends one change, merging duplicates; see batch.h. */
void
batch_add(struct batch *b, enum inotify_kind kind, const char *path,
          const char *from, int is_dir, int synthetic, const char *message)
{
  for (size_t i = b->n, seen = 0; i > 0 && seen < 8; i--, seen++) {
    const struct inotify_change *c = &b->chs[i - 1];
    if (c->kind == INOTIFY_LIMIT && kind == INOTIFY_LIMIT)
      return; /* one notice per batch is enough */
    if (strcmp(c->path, path) != 0)
      continue;
    if (kind == INOTIFY_MODIFIED &&
        (c->kind == INOTIFY_CREATED || c->kind == INOTIFY_MODIFIED ||
         c->kind == INOTIFY_MOVED))
      return;
    if (kind == c->kind && kind != INOTIFY_MOVED)
      return;
    break;
  }
  if (b->n == b->cap) {
    b->cap = b->cap == 0 ? 16 : b->cap * 2;
    b->chs = xrealloc(b->chs, b->cap * sizeof *b->chs);
  }
  b->chs[b->n++] = (struct inotify_change){
      .kind = kind,
      .path = xstrdup(path),
      .from = from != NULL ? xstrdup(from) : NULL,
      .is_dir = is_dir,
      .synthetic = synthetic,
      .message = message != NULL ? xstrdup(message) : NULL,
  };
}

/* Frees the strings of a batch and empties it. */
void
batch_clear(struct batch *b)
{
  for (size_t i = 0; i < b->n; i++) {
    free((char *)b->chs[i].path);
    free((char *)b->chs[i].from);
    free((char *)b->chs[i].message);
  }
  b->n = 0;
}

/* Frees a batch's changes and its array. */
void
batch_fini(struct batch *b)
{
  batch_clear(b);
  free(b->chs);
  *b = (struct batch){0};
}
