/* printer: the foreground terminal output of `tend up` (a pubsub
 * subscriber of every topic). */
#ifndef TEND_PRINTER_H
#define TEND_PRINTER_H

#include <uv.h>

#include "src/config.h"

struct printer;

/* Starts printing output and transitions to stdout (cfg borrowed). */
struct printer *printer_new(uv_loop_t *loop, const struct config *cfg);
/* Prints what is queued, unsubscribes; cb(arg) after its handles close. */
void printer_close(struct printer *p, void (*cb)(void *arg), void *arg);

#endif
