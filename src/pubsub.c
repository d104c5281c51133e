/* pubsub: topics with bounded per-subscriber queues and gap notices.
 *
 * Design. A publish copies the JSON once into a refcounted item (only when
 * some subscriber takes it) and pushes a pointer to it into each matching
 * subscriber's ring, so fan-out costs a pointer per subscriber. Exact
 * topics are indexed in a strmap (topic -> array of subscribers); prefix
 * subscriptions ("output/" or "" followed by '*') sit in one list checked
 * on every publish.
 * A publish therefore visits only the subscribers of its topic plus the
 * prefix ones.
 *
 * Gaps. When an item does not fit, the subscriber is marked overflowed and
 * remembers, per topic, the first seq it lost. From then on it takes
 * nothing new until it has drained its queue and taken the gap notices, in
 * that order: a reader sees every queued item, then "lost from seq S on",
 * replays from the store, and only then gets live items again (which may
 * repeat what it replayed; readers skip seqs they have seen).
 *
 * Re-entrancy. notify runs inside publish and may unsubscribe anyone
 * (itself included), subscribe, or even publish. Subscribers are visited
 * by index with the bounds read afresh, an unsubscribed one is only marked
 * dead while a publish runs and swept when the outermost publish returns,
 * so no array or subscriber is freed under a running loop. */
#include "src/pubsub.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "src/log.h"
#include "src/strmap.h"
#include "src/xalloc.h"

/* Besides max_items, a queue holds at most this much JSON (one item of any
 * size always fits an empty queue): a subscriber that falls this far
 * behind replays from the store instead of pinning memory. */
#define QUEUE_BYTES ((size_t)4 << 20)

/* One published item, shared by every queue that holds it. */
struct item {
  unsigned refs;
  uint64_t seq;
  size_t len;
  const char *topic; /* into text, after the JSON */
  char text[];       /* json, '\0', topic, '\0' */
};

/* The first seq a subscriber lost on one topic. */
struct gap {
  char *topic;
  uint64_t seq;
};

struct pubsub_sub {
  char *topic;
  size_t prefix_len; /* prefix subscriptions: the part before '*' */
  int prefix;
  pubsub_notify_cb notify;
  void *ctx;
  struct item **q; /* ring of max_items */
  size_t cap, head, count;
  size_t bytes;     /* JSON bytes queued */
  struct gap *gaps; /* reported after the queue, in order */
  size_t ngaps, gaps_cap, gap_next;
  int overflowed;       /* lost something; takes nothing new until told */
  struct item *current; /* the item last taken (lent to the reader) */
  char *gap_topic;      /* the topic of the gap last taken (lent) */
  int dead;             /* unsubscribed during a publish */
  struct pubsub_sub *prev, *next; /* every subscription (or dead list) */
};

/* The subscribers of one exact topic. */
struct topic {
  struct pubsub_sub **subs;
  size_t n, cap;
};

static struct {
  struct strmap *topics;        /* name -> struct topic */
  struct pubsub_sub **prefixes; /* prefix subscriptions */
  size_t nprefixes, prefixes_cap;
  struct pubsub_sub *all;  /* live subscriptions */
  struct pubsub_sub *dead; /* unsubscribed while publishing */
  size_t count;
  int depth; /* publishes running (notify may publish) */
} ps;

/* ------------------------------------------------------------------ items */

/* Returns a new item (one reference) holding copies of json and topic. */
static struct item *
item_new(const char *topic, uint64_t seq, const char *json, size_t len)
{
  size_t tlen = strlen(topic);
  struct item *it = xmalloc(sizeof *it + len + 1 + tlen + 1);
  it->refs = 1;
  it->seq = seq;
  it->len = len;
  if (len)
    memcpy(it->text, json, len);
  it->text[len] = '\0';
  memcpy(it->text + len + 1, topic, tlen + 1);
  it->topic = it->text + len + 1;
  return it;
}

/* Drops a reference; frees the item with the last one. */
static void
item_unref(struct item *it)
{
  if (it && --it->refs == 0)
    free(it);
}

/* -------------------------------------------------------------- the index */

/* Appends sub to a growable array of subscribers. */
static void
subs_push(struct pubsub_sub ***v, size_t *n, size_t *cap,
          struct pubsub_sub *sub)
{
  if (*n == *cap) {
    *cap = *cap ? *cap * 2 : 4;
    *v = xrealloc(*v, *cap * sizeof **v);
  }
  (*v)[(*n)++] = sub;
}

/* Removes sub from an array of subscribers, keeping the order. */
static void
subs_remove(struct pubsub_sub **v, size_t *n, struct pubsub_sub *sub)
{
  for (size_t i = 0; i < *n; i++) {
    if (v[i] == sub) {
      memmove(v + i, v + i + 1, (*n - i - 1) * sizeof *v);
      (*n)--;
      return;
    }
  }
}

/* Takes sub out of the topic index (freeing a topic left empty). */
static void
index_remove(struct pubsub_sub *sub)
{
  if (sub->prefix) {
    subs_remove(ps.prefixes, &ps.nprefixes, sub);
    return;
  }
  struct topic *t = strmap_get(ps.topics, sub->topic);
  if (!t)
    return;
  subs_remove(t->subs, &t->n, sub);
  if (t->n == 0) {
    strmap_del(ps.topics, sub->topic);
    free(t->subs);
    free(t);
  }
}

/* Unlinks sub from a doubly-linked list. */
static void
list_unlink(struct pubsub_sub **head, struct pubsub_sub *sub)
{
  if (sub->prev)
    sub->prev->next = sub->next;
  else
    *head = sub->next;
  if (sub->next)
    sub->next->prev = sub->prev;
  sub->prev = sub->next = NULL;
}

/* Links sub at the front of a doubly-linked list. */
static void
list_push(struct pubsub_sub **head, struct pubsub_sub *sub)
{
  sub->prev = NULL;
  sub->next = *head;
  if (*head)
    (*head)->prev = sub;
  *head = sub;
}

/* ---------------------------------------------------------- subscriptions */

struct pubsub_sub *
pubsub_subscribe(const char *topic, size_t max_items, pubsub_notify_cb notify,
                 void *ctx)
{
  struct pubsub_sub *sub = xcalloc(1, sizeof *sub);
  size_t len = strlen(topic);
  sub->topic = xstrdup(topic);
  sub->prefix = len > 0 && topic[len - 1] == '*';
  sub->prefix_len = sub->prefix ? len - 1 : len;
  sub->notify = notify;
  sub->ctx = ctx;
  sub->cap = max_items ? max_items : 1;
  sub->q = xmalloc(sub->cap * sizeof *sub->q);
  if (sub->prefix) {
    subs_push(&ps.prefixes, &ps.nprefixes, &ps.prefixes_cap, sub);
  } else {
    if (!ps.topics)
      ps.topics = strmap_new();
    struct topic *t = strmap_get(ps.topics, topic);
    if (!t) {
      t = xcalloc(1, sizeof *t);
      strmap_set(ps.topics, topic, t);
    }
    subs_push(&t->subs, &t->n, &t->cap, sub);
  }
  list_push(&ps.all, sub);
  ps.count++;
  return sub;
}

/* Drops everything sub holds: queued items, gaps, lent item. */
static void
sub_release(struct pubsub_sub *sub)
{
  while (sub->count) {
    item_unref(sub->q[sub->head]);
    sub->head = (sub->head + 1) % sub->cap;
    sub->count--;
  }
  sub->bytes = 0;
  for (size_t i = sub->gap_next; i < sub->ngaps; i++)
    free(sub->gaps[i].topic);
  sub->ngaps = sub->gap_next = 0;
  item_unref(sub->current);
  sub->current = NULL;
  free(sub->gap_topic);
  sub->gap_topic = NULL;
}

/* Frees a subscription already out of the index and lists. */
static void
sub_free(struct pubsub_sub *sub)
{
  sub_release(sub);
  free(sub->gaps);
  free(sub->q);
  free(sub->topic);
  free(sub);
}

void
pubsub_unsubscribe(struct pubsub_sub *sub)
{
  if (!sub || sub->dead)
    return;
  list_unlink(&ps.all, sub);
  ps.count--;
  sub->dead = 1;
  sub_release(sub);
  if (ps.depth > 0) {
    list_push(&ps.dead, sub); /* a publish may still be looking at it */
    return;
  }
  index_remove(sub);
  sub_free(sub);
}

/* Frees the subscriptions unsubscribed during the publish that ended. */
static void
sweep(void)
{
  while (ps.dead) {
    struct pubsub_sub *sub = ps.dead;
    list_unlink(&ps.dead, sub);
    index_remove(sub);
    sub_free(sub);
  }
}

size_t
pubsub_count(void)
{
  return ps.count;
}

void
pubsub_shutdown(void)
{
  TEND_ASSERT(ps.depth == 0);
  while (ps.all)
    pubsub_unsubscribe(ps.all);
  sweep();
  strmap_free(ps.topics);
  free(ps.prefixes);
  memset(&ps, 0, sizeof ps);
}

/* ---------------------------------------------------------------- publish */

/* Records that sub lost seq of topic; returns 1 when this opens a gap (the
 * first loss since the last notice, or the first on that topic). */
static int
note_gap(struct pubsub_sub *sub, const char *topic, uint64_t seq)
{
  for (size_t i = sub->gap_next; i < sub->ngaps; i++)
    if (strcmp(sub->gaps[i].topic, topic) == 0)
      return 0;
  if (sub->ngaps == sub->gaps_cap) {
    sub->gaps_cap = sub->gaps_cap ? sub->gaps_cap * 2 : 2;
    sub->gaps = xrealloc(sub->gaps, sub->gaps_cap * sizeof *sub->gaps);
  }
  sub->gaps[sub->ngaps].topic = xstrdup(topic);
  sub->gaps[sub->ngaps].seq = seq;
  sub->ngaps++;
  sub->overflowed = 1;
  return 1;
}

/* Queues the item (created on first use in *it) for sub, or notes a gap;
 * calls notify last, so the callback may free sub. */
static void
deliver(struct pubsub_sub *sub, struct item **it, const char *topic,
        uint64_t seq, const char *json, size_t len)
{
  int wake;
  if (sub->dead)
    return;
  if (sub->overflowed || sub->count == sub->cap ||
      (sub->count && sub->bytes + len > QUEUE_BYTES)) {
    wake = note_gap(sub, topic, seq);
  } else {
    if (!*it)
      *it = item_new(topic, seq, json, len);
    (*it)->refs++;
    sub->q[(sub->head + sub->count) % sub->cap] = *it;
    sub->bytes += len;
    wake = sub->count++ == 0;
  }
  if (wake && sub->notify)
    sub->notify(sub->ctx);
}

void
pubsub_publish(const char *topic, uint64_t seq, const char *json, size_t len)
{
  struct item *it = NULL;
  ps.depth++;
  struct topic *t = ps.topics ? strmap_get(ps.topics, topic) : NULL;
  if (t) {
    /* Subscribers added by a notify wait for the next publish. */
    size_t n = t->n;
    for (size_t i = 0; i < n && i < t->n; i++)
      deliver(t->subs[i], &it, topic, seq, json, len);
  }
  size_t n = ps.nprefixes;
  for (size_t i = 0; i < n && i < ps.nprefixes; i++) {
    struct pubsub_sub *sub = ps.prefixes[i];
    if (strncmp(topic, sub->topic, sub->prefix_len) == 0)
      deliver(sub, &it, topic, seq, json, len);
  }
  if (--ps.depth == 0)
    sweep();
  item_unref(it); /* the creation reference */
}

/* ------------------------------------------------------------------- take */

int
pubsub_take(struct pubsub_sub *sub, struct pubsub_item *item)
{
  item_unref(sub->current);
  sub->current = NULL;
  free(sub->gap_topic);
  sub->gap_topic = NULL;
  if (sub->count) {
    struct item *it = sub->q[sub->head];
    sub->head = (sub->head + 1) % sub->cap;
    sub->count--;
    sub->bytes -= it->len;
    sub->current = it;
    item->topic = it->topic;
    item->seq = it->seq;
    item->json = it->text;
    item->len = it->len;
    return 1;
  }
  if (sub->gap_next < sub->ngaps) {
    struct gap *g = &sub->gaps[sub->gap_next++];
    sub->gap_topic = g->topic; /* lent until the next take */
    item->topic = g->topic;
    item->seq = g->seq;
    item->json = NULL;
    item->len = 0;
    if (sub->gap_next == sub->ngaps) {
      sub->ngaps = sub->gap_next = 0;
      sub->overflowed = 0; /* told everything: take live items again */
    }
    return -EOVERFLOW;
  }
  return 0;
}
