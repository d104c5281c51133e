/* events: the in-process event bus. Every state transition and every
 * daemon-level happening becomes one JSON event {seq, ts, type, ...}: it is
 * stamped, appended to <state_dir>/events.jsonl (through the store), handed
 * to the read model synchronously, and published on the "events" topic. */
#ifndef TEND_EVENTS_H
#define TEND_EVENTS_H

#include <jansson.h>
#include <stdint.h>

struct store;

/* Called synchronously for every event (borrowed), in emit order. */
typedef void (*events_listener)(void *ctx, const json_t *ev);

/* Sets the event log (borrowed; NULL = memory only) and the first seq. */
void events_init(struct store *log);
/* Adds a synchronous listener (the read model). */
void events_listen(events_listener fn, void *ctx);
/* Stamps ev (stolen) with seq and ts, persists and publishes it; returns
 * its seq. type must already be set. */
uint64_t events_emit(json_t *ev);
/* Convenience: {"type":type,"message":message} plus, when node is not
 * NULL, "node". */
uint64_t events_note(const char *type, const char *node, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The seq of the newest event. */
uint64_t events_last_seq(void);
/* Forgets the listeners and the log (shutdown). */
void events_reset(void);
/* Unix time in milliseconds (wall clock, for "ts" fields). */
int64_t events_now_ms(void);

#endif
