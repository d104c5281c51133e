/* pubsub: topics with bounded per-subscriber queues and gap notices
 * (DESIGN.md, "Data flow").
 *
 * A publisher hands a JSON line (the same object as stored on disk, no
 * newline) and its seq to a topic. Each subscriber has its own bounded
 * queue of shared, refcounted items; publishing never blocks and never
 * waits for a subscriber. A subscriber whose queue is full loses the new
 * items and is told where the gap starts, so that it can catch up from the
 * store (tend_output_after / tend_events_after): its takes return the
 * items queued before the loss, then the gap notice (one per topic), and
 * it receives nothing new until it has taken the notices. Live items after
 * a gap may repeat what the store replay returned: skip seqs already seen.
 *
 * Topics: "events" and "output/<runner>". A subscription to a topic ending
 * in '*' (as in "output/" followed by '*') receives every topic with
 * that prefix; a lone '*' receives every topic. */
#ifndef TEND_PUBSUB_H
#define TEND_PUBSUB_H

#include <stddef.h>
#include <stdint.h>

struct pubsub_sub;

/* Called when a subscriber's queue went from empty to non-empty or a gap
 * opened; runs synchronously inside pubsub_publish (the callback must only
 * schedule work, e.g. resume an MHD connection or start an idle handle). */
typedef void (*pubsub_notify_cb)(void *ctx);

struct pubsub_item {
  const char *topic; /* borrowed until the next take or unsubscribe */
  uint64_t seq;
  const char *json; /* borrowed until the next take or unsubscribe */
  size_t len;
};

/* Subscribes to topic with a queue of at most max_items (0 counts as 1)
 * and at most 4 MiB of JSON (an empty queue takes any one item). */
struct pubsub_sub *pubsub_subscribe(const char *topic, size_t max_items,
                                    pubsub_notify_cb notify, void *ctx);
/* Ends a subscription and frees it (NULL is a no-op). */
void pubsub_unsubscribe(struct pubsub_sub *sub);

/* Publishes one item to every subscriber of topic (json is copied once). */
void pubsub_publish(const char *topic, uint64_t seq, const char *json,
                    size_t len);

/* Takes the oldest queued item. Returns 1 with *item filled, 0 when the
 * queue is empty, or -EOVERFLOW when items were lost: then item->topic and
 * item->seq name the first lost item (the gap starts there; item->json is
 * NULL) and the gap is cleared, so the next take returns what was queued
 * after it. A gap is reported after every item queued before it. */
int pubsub_take(struct pubsub_sub *sub, struct pubsub_item *item);

/* Number of live subscriptions (for /metrics). */
size_t pubsub_count(void);
/* Frees every subscription (shutdown). */
void pubsub_shutdown(void);

#endif
