/* assets: the browser UI's files, compiled into the binary by ui/tools/embed.c.
 */
#ifndef TEND_ASSETS_H
#define TEND_ASSETS_H

#include <stddef.h>

struct asset {
  const char *path;          /* "/app.js" */
  const unsigned char *data; /* NUL-terminated for convenience */
  long size;
};

/* Terminated by an entry with path NULL. */
extern const struct asset assets[];

#endif
