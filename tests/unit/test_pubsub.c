/* Unit tests for src/pubsub.c: fan-out with one shared copy, order, topic
 * isolation, gap notices (first lost seq, after the queued items, one per
 * topic for prefix subscribers), notify on empty->non-empty and on a gap,
 * prefix topics, unsubscribe/subscribe/publish from inside notify, and
 * shutdown with items still queued (the asan run checks for leaks). */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "src/pubsub.h"

/* Publishes {"seq":N} on topic. */
static void
pub(const char *topic, uint64_t seq)
{
  char json[64];
  int n =
      snprintf(json, sizeof json, "{\"seq\":%llu}", (unsigned long long)seq);
  pubsub_publish(topic, seq, json, (size_t)n);
}

/* Takes one item and checks it is topic:seq with the matching JSON. */
static void
expect_item(struct pubsub_sub *sub, const char *topic, uint64_t seq)
{
  struct pubsub_item it;
  char json[64];
  cr_assert_eq(pubsub_take(sub, &it), 1, "want %s:%llu", topic,
               (unsigned long long)seq);
  cr_assert_str_eq(it.topic, topic);
  cr_assert_eq(it.seq, seq);
  int n =
      snprintf(json, sizeof json, "{\"seq\":%llu}", (unsigned long long)seq);
  cr_assert_eq(it.len, (size_t)n);
  cr_assert_arr_eq(it.json, json, it.len);
  cr_assert_eq(it.json[it.len], '\0');
}

/* Takes one item and checks it is a gap notice starting at topic:seq. */
static void
expect_gap(struct pubsub_sub *sub, const char *topic, uint64_t seq)
{
  struct pubsub_item it;
  cr_assert_eq(pubsub_take(sub, &it), -EOVERFLOW, "want gap %s:%llu", topic,
               (unsigned long long)seq);
  cr_assert_str_eq(it.topic, topic);
  cr_assert_eq(it.seq, seq);
  cr_assert_null(it.json);
}

static void
expect_empty(struct pubsub_sub *sub)
{
  struct pubsub_item it;
  cr_assert_eq(pubsub_take(sub, &it), 0);
}

static void
count_notify(void *ctx)
{
  (*(int *)ctx)++;
}

Test(pubsub, fan_out_shares_one_copy_in_order)
{
  enum { N = 200 };
  struct pubsub_sub *subs[N];
  int notified[N] = {0};
  for (int i = 0; i < N; i++)
    subs[i] = pubsub_subscribe("output/api", 16, count_notify, &notified[i]);
  cr_assert_eq(pubsub_count(), N);
  for (uint64_t s = 1; s <= 10; s++)
    pub("output/api", s);
  for (uint64_t s = 1; s <= 10; s++) {
    const char *first = NULL;
    for (int i = 0; i < N; i++) {
      struct pubsub_item it;
      cr_assert_eq(pubsub_take(subs[i], &it), 1);
      cr_assert_eq(it.seq, s);
      if (!first)
        first = it.json;
      cr_assert_eq(it.json, first, "one copy shared by every subscriber");
    }
  }
  for (int i = 0; i < N; i++) {
    expect_empty(subs[i]);
    cr_assert_eq(notified[i], 1, "notify only on empty -> non-empty");
    pubsub_unsubscribe(subs[i]);
  }
  cr_assert_eq(pubsub_count(), 0);
  pubsub_shutdown();
}

Test(pubsub, topics_are_isolated_and_empty_publish_is_free)
{
  int na = 0, nb = 0;
  struct pubsub_sub *a = pubsub_subscribe("output/a", 8, count_notify, &na);
  struct pubsub_sub *b = pubsub_subscribe("output/b", 8, count_notify, &nb);
  pub("output/a", 1);
  pub("output/nobody", 1);
  pub("events", 1);
  pub("output/b", 7);
  pub("output/a", 2);
  expect_item(a, "output/a", 1);
  expect_item(a, "output/a", 2);
  expect_empty(a);
  expect_item(b, "output/b", 7);
  expect_empty(b);
  /* A new item after draining notifies again. */
  pub("output/a", 3);
  cr_assert_eq(na, 2);
  cr_assert_eq(nb, 1);
  pubsub_unsubscribe(a);
  pubsub_unsubscribe(b);
  pubsub_unsubscribe(NULL);
  pubsub_shutdown();
}

Test(pubsub, gap_names_the_first_lost_seq_after_the_queued_items)
{
  int n = 0;
  struct pubsub_sub *s = pubsub_subscribe("events", 3, count_notify, &n);
  for (uint64_t q = 1; q <= 10; q++)
    pub("events", q);
  cr_assert_eq(n, 2, "once for the first item, once for the gap");
  expect_item(s, "events", 1);
  expect_item(s, "events", 2);
  expect_item(s, "events", 3);
  expect_gap(s, "events", 4);
  expect_empty(s);
  pub("events", 11);
  cr_assert_eq(n, 3);
  expect_item(s, "events", 11);
  expect_empty(s);
  pubsub_shutdown();
}

/* While a gap is open nothing new is queued, even when room frees up:
 * the reader replays from the store first. */
Test(pubsub, nothing_new_until_the_gap_is_taken)
{
  int n = 0;
  struct pubsub_sub *s = pubsub_subscribe("output/x", 3, count_notify, &n);
  pub("output/x", 1);
  pub("output/x", 2);
  pub("output/x", 3);
  pub("output/x", 4); /* lost: gap at 4 */
  expect_item(s, "output/x", 1);
  pub("output/x", 5); /* room now, but the gap is open */
  expect_item(s, "output/x", 2);
  expect_item(s, "output/x", 3);
  expect_gap(s, "output/x", 4);
  pub("output/x", 6);
  expect_item(s, "output/x", 6);
  expect_empty(s);
  /* A second overflow later opens a second gap. */
  for (uint64_t q = 7; q <= 12; q++)
    pub("output/x", q);
  expect_item(s, "output/x", 7);
  expect_item(s, "output/x", 8);
  expect_item(s, "output/x", 9);
  expect_gap(s, "output/x", 10);
  expect_empty(s);
  pubsub_shutdown();
}

Test(pubsub, prefix_subscriptions)
{
  int n = 0;
  struct pubsub_sub *out = pubsub_subscribe("output/*", 8, count_notify, &n);
  struct pubsub_sub *all = pubsub_subscribe("*", 8, NULL, NULL);
  struct pubsub_sub *exact = pubsub_subscribe("output/api", 8, NULL, NULL);
  pub("output/api", 1);
  pub("events", 5);
  pub("output/web", 9);
  pub("outputs", 1);
  expect_item(out, "output/api", 1);
  expect_item(out, "output/web", 9);
  expect_empty(out);
  expect_item(all, "output/api", 1);
  expect_item(all, "events", 5);
  expect_item(all, "output/web", 9);
  expect_item(all, "outputs", 1);
  expect_empty(all);
  expect_item(exact, "output/api", 1);
  expect_empty(exact);
  cr_assert_eq(pubsub_count(), 3);
  pubsub_shutdown();
  cr_assert_eq(pubsub_count(), 0);
}

/* A prefix subscriber that falls behind gets one notice per topic, each
 * with that topic's first lost seq, in the order they were lost. */
Test(pubsub, prefix_gaps_one_per_topic)
{
  struct pubsub_sub *s = pubsub_subscribe("output/*", 1, NULL, NULL);
  pub("output/a", 1);
  pub("output/a", 2);
  pub("output/b", 7);
  pub("output/a", 3);
  pub("output/b", 8);
  expect_item(s, "output/a", 1);
  expect_gap(s, "output/a", 2);
  expect_gap(s, "output/b", 7);
  expect_empty(s);
  pub("output/b", 9);
  expect_item(s, "output/b", 9);
  pubsub_shutdown();
}

/* The item lent by a take stays valid until the next take, whatever is
 * published or unsubscribed in between. */
Test(pubsub, taken_item_stays_valid_until_next_take)
{
  struct pubsub_sub *a = pubsub_subscribe("t", 4, NULL, NULL);
  struct pubsub_sub *b = pubsub_subscribe("t", 4, NULL, NULL);
  pub("t", 1);
  struct pubsub_item it;
  cr_assert_eq(pubsub_take(a, &it), 1);
  pubsub_unsubscribe(b); /* b's reference goes */
  for (uint64_t q = 2; q < 10; q++)
    pub("t", q);
  cr_assert_str_eq(it.json, "{\"seq\":1}");
  cr_assert_str_eq(it.topic, "t");
  pubsub_shutdown();
}

struct victim_ctx {
  struct pubsub_sub **victim;
  int calls;
};

/* notify that unsubscribes another subscriber (once). */
static void
kill_other(void *ctx)
{
  struct victim_ctx *v = ctx;
  v->calls++;
  if (*v->victim) {
    pubsub_unsubscribe(*v->victim);
    *v->victim = NULL;
  }
}

struct self_ctx {
  struct pubsub_sub *self;
  int calls;
};

/* notify that unsubscribes its own subscription. */
static void
kill_self(void *ctx)
{
  struct self_ctx *s = ctx;
  s->calls++;
  pubsub_unsubscribe(s->self);
  s->self = NULL;
}

Test(pubsub, unsubscribe_from_inside_notify)
{
  struct pubsub_sub *before, *after, *wild;
  struct victim_ctx va = {.victim = &after};
  struct victim_ctx vb = {.victim = &before};
  struct self_ctx self = {0};
  /* Order of delivery: before, killer1, self, after, then the prefix list. */
  before = pubsub_subscribe("output/api", 4, NULL, NULL);
  struct pubsub_sub *k1 = pubsub_subscribe("output/api", 4, kill_other, &va);
  self.self = pubsub_subscribe("output/api", 4, kill_self, &self);
  after = pubsub_subscribe("output/api", 4, NULL, NULL);
  struct victim_ctx vw = {.victim = &wild};
  wild = pubsub_subscribe("output/*", 4, NULL, NULL);
  struct pubsub_sub *k2 = pubsub_subscribe("*", 4, kill_other, &vw);
  struct pubsub_sub *k3 = pubsub_subscribe("output/api", 4, kill_other, &vb);
  cr_assert_eq(pubsub_count(), 7);

  pub("output/api", 1);
  cr_assert_eq(va.calls, 1);
  cr_assert_eq(self.calls, 1);
  cr_assert_null(after, "unsubscribed by k1's notify");
  cr_assert_null(self.self);
  cr_assert_null(before);
  cr_assert_eq(pubsub_count(), 3, "k1, k2 and k3 remain");
  expect_item(k1, "output/api", 1);
  expect_item(k2, "output/api", 1);
  expect_item(k3, "output/api", 1);
  pub("output/api", 2);
  expect_item(k1, "output/api", 2);
  expect_empty(k1);
  pubsub_unsubscribe(k1);
  pubsub_unsubscribe(k2);
  pubsub_unsubscribe(k3);
  cr_assert_eq(pubsub_count(), 0);
  pub("output/api", 3); /* no topic left: a no-op */
  pubsub_shutdown();
}

struct chain_ctx {
  struct pubsub_sub *added;
  int calls;
};

/* notify that subscribes a new subscriber and publishes on another topic. */
static void
subscribe_and_publish(void *ctx)
{
  struct chain_ctx *c = ctx;
  if (c->calls++ == 0) {
    c->added = pubsub_subscribe("output/api", 4, NULL, NULL);
    pub("events", 99);
  }
}

Test(pubsub, subscribe_and_publish_from_inside_notify)
{
  struct chain_ctx c = {0};
  struct pubsub_sub *s =
      pubsub_subscribe("output/api", 4, subscribe_and_publish, &c);
  struct pubsub_sub *ev = pubsub_subscribe("events", 4, NULL, NULL);
  pub("output/api", 1);
  cr_assert_not_null(c.added);
  expect_empty(c.added); /* joined during the publish: from the next one */
  expect_item(ev, "events", 99);
  pub("output/api", 2);
  expect_item(c.added, "output/api", 2);
  expect_item(s, "output/api", 1);
  expect_item(s, "output/api", 2);
  pubsub_shutdown();
}

Test(pubsub, shutdown_frees_queued_items_and_gaps)
{
  struct pubsub_sub *s = pubsub_subscribe("output/*", 2, NULL, NULL);
  struct pubsub_sub *t = pubsub_subscribe("events", 2, NULL, NULL);
  for (uint64_t q = 1; q <= 5; q++) {
    pub("output/a", q);
    pub("output/b", q);
    pub("events", q);
  }
  struct pubsub_item it;
  cr_assert_eq(pubsub_take(s, &it), 1); /* one lent item outstanding */
  (void)t;
  pubsub_shutdown();
  cr_assert_eq(pubsub_count(), 0);
  /* Usable again after shutdown. */
  struct pubsub_sub *u = pubsub_subscribe("events", 1, NULL, NULL);
  pub("events", 1);
  expect_item(u, "events", 1);
  pubsub_shutdown();
}

/* Big items: a queue also stops at 4 MiB of JSON, but an empty queue
 * always takes one item, however big. */
Test(pubsub, queue_is_bounded_in_bytes_too)
{
  size_t mib = (size_t)1 << 20;
  char *big = malloc(6 * mib);
  memset(big, 'x', 6 * mib);
  struct pubsub_sub *s = pubsub_subscribe("output/big", 1000, NULL, NULL);
  for (uint64_t q = 1; q <= 6; q++)
    pubsub_publish("output/big", q, big, mib);
  struct pubsub_item it;
  for (uint64_t q = 1; q <= 4; q++) {
    cr_assert_eq(pubsub_take(s, &it), 1);
    cr_assert_eq(it.seq, q);
    cr_assert_eq(it.len, mib);
  }
  expect_gap(s, "output/big", 5);
  expect_empty(s);
  pubsub_publish("output/big", 7, big, 6 * mib);
  pubsub_publish("output/big", 8, "{}", 2);
  cr_assert_eq(pubsub_take(s, &it), 1);
  cr_assert_eq(it.len, 6 * mib);
  expect_gap(s, "output/big", 8);
  free(big);
  pubsub_shutdown();
}

Test(pubsub, zero_max_items_means_one)
{
  struct pubsub_sub *s = pubsub_subscribe("t", 0, NULL, NULL);
  pub("t", 1);
  pub("t", 2);
  expect_item(s, "t", 1);
  expect_gap(s, "t", 2);
  pubsub_shutdown();
}
