/* Unit tests for src/actor.c, on a real libuv loop (uv_run) and through
 * actor_drain: FIFO order, no re-entrant delivery, dead letters and their
 * payloads, generation-counted ids, monitors, the name registry, the loop
 * exiting once the queue is empty, and shutdown freeing queued messages.
 *
 * Every test runs in its own process (Criterion's default), on a loop set
 * up by the suite's init and torn down by its fini, which also checks that
 * the loop closes cleanly (no handle left behind). */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "src/actor.h"
#include "tests/unit/helpers.h"

enum {
  T_PLAIN = 1,  /* record only */
  T_FANOUT = 2, /* send one to self and one to the peer */
  T_EXIT = 3,   /* exit with reason arg */
  T_CHAIN = 4,  /* arg > 0: send CHAIN arg-1 to self and to the peer */
  T_SPAWN = 5,  /* spawn a fresh actor (slots may be reused under us) */
};

/* One delivered message, as a handler saw it. */
struct delivery {
  int tag;
  actor_id self;
  int type;
  actor_id from;
  int64_t arg;
  char text[32];
  int freed_before; /* payloads freed when the handler ran */
};

/* An actor's state in these tests. */
struct probe {
  int tag;
  actor_id peer;
  int send_rc; /* last return of a send made by the handler */
};

static uv_loop_t loop;
static struct delivery log_[4096];
static size_t n_log;
static int depth, max_depth;
static int freed;

/* A free_data that counts, so tests can see when payloads are released. */
static void
count_free(void *p)
{
  freed++;
  free(p);
}

/* Returns a new counted payload holding text. */
static char *
payload(const char *text)
{
  return strdup(text);
}

/* Records a delivery and acts on the message type. */
static void
probe_handler(void *state, actor_id self, const struct actor_msg *msg)
{
  struct probe *p = state;
  struct delivery *d;

  depth++;
  if (depth > max_depth)
    max_depth = depth;
  cr_assert_lt(n_log, sizeof log_ / sizeof *log_);
  d = &log_[n_log++];
  memset(d, 0, sizeof *d);
  d->tag = p->tag;
  d->self = self;
  d->type = msg->type;
  d->from = msg->from;
  d->arg = msg->arg;
  d->freed_before = freed;
  if (msg->data)
    snprintf(d->text, sizeof d->text, "%s", (const char *)msg->data);

  switch (msg->type) {
  case T_FANOUT:
    actor_send(self, T_PLAIN, self, msg->arg + 1000, NULL, NULL);
    p->send_rc =
        actor_send(p->peer, T_PLAIN, self, msg->arg + 2000, NULL, NULL);
    break;
  case T_EXIT:
    actor_exit(self, (int)msg->arg, "asked to exit");
    break;
  case T_CHAIN:
    if (msg->arg > 0) {
      actor_send(self, T_CHAIN, self, msg->arg - 1, NULL, NULL);
      actor_send(p->peer, T_CHAIN, self, msg->arg - 1, NULL, NULL);
    }
    break;
  case T_SPAWN:
    for (int i = 0; i < 200; i++)
      actor_spawn(probe_handler, p);
    break;
  case ACTOR_MSG_DOWN:
    /* reply to the exited actor: it must be gone already */
    p->send_rc =
        actor_send(msg->from, T_PLAIN, self, 0, payload("late"), count_free);
    break;
  default:
    break;
  }
  depth--;
}

static void
setup(void)
{
  cr_assert_eq(uv_loop_init(&loop), 0);
  actor_runtime_init(&loop);
  n_log = 0;
  depth = max_depth = 0;
  freed = 0;
}

static void
teardown(void)
{
  actor_runtime_close();
  uv_run(&loop, UV_RUN_DEFAULT);
  /* every handle closed: anything else is a leak in the runtime */
  if (uv_loop_close(&loop) != 0)
    abort();
  helpers_leak_check();
}

TestSuite(actor, .init = setup, .fini = teardown, .timeout = 20);

/* Runs the loop to completion; fails if it does not return. */
static void
run_loop(void)
{
  cr_assert_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
}

Test(actor, spawn_alive_and_ids)
{
  struct probe p = {1, ACTOR_NONE, 0};
  actor_id a = actor_spawn(probe_handler, &p);
  actor_id b = actor_spawn(probe_handler, &p);

  cr_expect_neq(a, ACTOR_NONE);
  cr_expect_neq(b, ACTOR_NONE);
  cr_expect_neq(a, b);
  cr_expect(actor_alive(a));
  cr_expect(actor_alive(b));
  cr_expect_not(actor_alive(ACTOR_NONE));
  cr_expect_not(actor_alive(a + ((actor_id)7 << 32)), "wrong generation");
  cr_expect_not(actor_alive((actor_id)999999), "unknown slot");
  actor_exit(a, ACTOR_REASON_NORMAL, NULL);
  cr_expect_not(actor_alive(a));
  cr_expect(actor_alive(b));
  /* exiting twice, or exiting a stale id, is harmless */
  actor_exit(a, ACTOR_REASON_NORMAL, NULL);
  cr_expect(actor_alive(b));
}

Test(actor, handler_gets_state_self_and_message)
{
  struct probe p = {7, ACTOR_NONE, 0};
  actor_id a = actor_spawn(probe_handler, &p);
  actor_id sender = (actor_id)12345;

  cr_assert_eq(actor_send(a, T_PLAIN, sender, -42, payload("hi"), count_free),
               0);
  cr_expect_eq(n_log, 0, "send must not deliver synchronously");
  cr_expect_eq(actor_queue_len(), 1);
  cr_assert_eq(actor_drain(10), 1);
  cr_assert_eq(n_log, 1);
  cr_expect_eq(log_[0].tag, 7);
  cr_expect_eq(log_[0].self, a);
  cr_expect_eq(log_[0].type, T_PLAIN);
  cr_expect_eq(log_[0].from, sender);
  cr_expect_eq(log_[0].arg, -42);
  cr_expect_str_eq(log_[0].text, "hi");
  /* data is borrowed by the handler and freed after it returns */
  cr_expect_eq(log_[0].freed_before, 0);
  cr_expect_eq(freed, 1);
  cr_expect_eq(actor_queue_len(), 0);
}

Test(actor, fifo_per_pair_and_across_senders_drain)
{
  struct probe pr = {1, ACTOR_NONE, 0};
  actor_id r = actor_spawn(probe_handler, &pr);
  actor_id s1 = (actor_id)101, s2 = (actor_id)202, s3 = (actor_id)303;
  const actor_id order[] = {s1, s2, s1, s3, s3, s2, s1, s2, s3, s1};

  for (size_t i = 0; i < sizeof order / sizeof *order; i++)
    cr_assert_eq(actor_send(r, T_PLAIN, order[i], (int64_t)i, NULL, NULL), 0);
  cr_assert_eq(actor_drain(1000), sizeof order / sizeof *order);
  cr_assert_eq(n_log, sizeof order / sizeof *order);
  /* one loop-wide FIFO: exactly the send order, across senders too */
  for (size_t i = 0; i < n_log; i++) {
    cr_expect_eq(log_[i].from, order[i], "message %zu", i);
    cr_expect_eq(log_[i].arg, (int64_t)i, "message %zu", i);
  }
}

Test(actor, fifo_to_several_receivers_on_the_loop)
{
  struct probe pa = {1, ACTOR_NONE, 0}, pb = {2, ACTOR_NONE, 0};
  actor_id a = actor_spawn(probe_handler, &pa);
  actor_id b = actor_spawn(probe_handler, &pb);
  int64_t next_a = 0, next_b = 0;

  for (int i = 0; i < 1000; i++) {
    actor_id to = (i % 3) ? a : b;
    cr_assert_eq(actor_send(to, T_PLAIN, (actor_id)(i % 5 + 1), i, NULL, NULL),
                 0);
  }
  run_loop();
  cr_assert_eq(n_log, 1000);
  for (size_t i = 0; i < n_log; i++) {
    cr_expect_eq(log_[i].arg, (int64_t)i, "global order at %zu", i);
    if (log_[i].tag == 1) {
      cr_expect_gt(log_[i].arg, next_a - 1);
      next_a = log_[i].arg + 1;
    } else {
      cr_expect_gt(log_[i].arg, next_b - 1);
      next_b = log_[i].arg + 1;
    }
  }
  cr_expect_eq(actor_queue_len(), 0);
}

Test(actor, messages_sent_in_a_handler_run_after_those_already_queued)
{
  struct probe pa = {1, ACTOR_NONE, 0}, pb = {2, ACTOR_NONE, 0};
  actor_id a = actor_spawn(probe_handler, &pa);
  actor_id b = actor_spawn(probe_handler, &pb);

  pa.peer = b;
  actor_send(a, T_FANOUT, ACTOR_NONE, 1, NULL, NULL); /* a: self+1001, b+2001 */
  actor_send(b, T_PLAIN, ACTOR_NONE, 2, NULL, NULL);
  actor_send(a, T_PLAIN, ACTOR_NONE, 3, NULL, NULL);
  run_loop();
  cr_assert_eq(n_log, 5);
  /* the queued ones first, in order; then what the handler sent, in order */
  const struct {
    int tag;
    int64_t arg;
  } want[] = {{1, 1}, {2, 2}, {1, 3}, {1, 1001}, {2, 2001}};
  for (size_t i = 0; i < 5; i++) {
    cr_expect_eq(log_[i].tag, want[i].tag, "delivery %zu", i);
    cr_expect_eq(log_[i].arg, want[i].arg, "delivery %zu", i);
  }
  cr_expect_eq(pa.send_rc, 0);
  cr_expect_eq(max_depth, 1);
}

Test(actor, delivery_is_never_reentrant)
{
  struct probe pa = {1, ACTOR_NONE, 0}, pb = {2, ACTOR_NONE, 0};
  actor_id a = actor_spawn(probe_handler, &pa);
  actor_id b = actor_spawn(probe_handler, &pb);

  pa.peer = b;
  pb.peer = a;
  /* each CHAIN k sends two CHAIN k-1: 2^(k+1)-1 deliveries in all */
  actor_send(a, T_CHAIN, ACTOR_NONE, 10, NULL, NULL);
  run_loop();
  cr_expect_eq(n_log, (1u << 11) - 1);
  cr_expect_eq(max_depth, 1, "nested delivery: depth %d", max_depth);
  cr_expect_eq(actor_queue_len(), 0);
}

Test(actor, each_loop_pass_runs_only_what_was_queued_at_its_start)
{
  struct probe pa = {1, ACTOR_NONE, 0};
  actor_id a = actor_spawn(probe_handler, &pa);

  pa.peer = a;
  actor_send(a, T_CHAIN, ACTOR_NONE, 3, NULL, NULL);
  /* one loop iteration = one idle pass: CHAIN 3 runs, the two messages it
   * sends wait for the next pass, so timers and I/O get a turn between */
  uv_run(&loop, UV_RUN_NOWAIT);
  cr_expect_eq(n_log, 1);
  cr_expect_eq(actor_queue_len(), 2);
  uv_run(&loop, UV_RUN_NOWAIT);
  cr_expect_eq(n_log, 3);
  cr_expect_eq(actor_queue_len(), 4);
  run_loop();
  cr_expect_eq(n_log, 15);
}

Test(actor, drain_budget_and_count)
{
  struct probe pa = {1, ACTOR_NONE, 0}, pb = {2, ACTOR_NONE, 0};
  actor_id a = actor_spawn(probe_handler, &pa);
  actor_id b = actor_spawn(probe_handler, &pb);

  for (int i = 0; i < 5; i++)
    actor_send(a, T_PLAIN, ACTOR_NONE, i, NULL, NULL);
  actor_send(b, T_PLAIN, ACTOR_NONE, 5, NULL, NULL);
  actor_send(a, T_PLAIN, ACTOR_NONE, 6, NULL, NULL);
  cr_expect_eq(actor_drain(2), 2);
  cr_expect_eq(n_log, 2);
  cr_expect_eq(actor_queue_len(), 5);
  cr_expect_eq(actor_drain(0), 0);
  cr_expect_eq(actor_queue_len(), 5);
  /* a dead letter is taken off the queue but did not run */
  actor_exit(b, ACTOR_REASON_NORMAL, NULL);
  cr_expect_eq(actor_drain(4), 3);
  cr_expect_eq(actor_queue_len(), 1);
  cr_expect_eq(actor_drain(100), 1);
  cr_expect_eq(actor_drain(100), 0);
  cr_expect_eq(n_log, 6);
  /* the idle pass that was armed finds nothing and the loop ends */
  run_loop();
}

Test(actor, send_to_exited_actor_fails_and_frees)
{
  struct probe pa = {1, ACTOR_NONE, 0};
  actor_id a = actor_spawn(probe_handler, &pa);

  actor_exit(a, ACTOR_REASON_NORMAL, NULL);
  cr_expect_eq(actor_send(a, T_PLAIN, ACTOR_NONE, 0, payload("x"), count_free),
               -ESRCH);
  cr_expect_eq(freed, 1, "payload freed at once");
  cr_expect_eq(actor_queue_len(), 0);
  cr_expect_eq(
      actor_send(ACTOR_NONE, T_PLAIN, ACTOR_NONE, 0, payload("y"), count_free),
      -ESRCH);
  cr_expect_eq(freed, 2);
  /* free_data NULL: not freed by the runtime (we free it) */
  char *keep = payload("z");
  cr_expect_eq(actor_send(a, T_PLAIN, ACTOR_NONE, 0, keep, NULL), -ESRCH);
  cr_expect_eq(freed, 2);
  free(keep);
  run_loop();
  cr_expect_eq(n_log, 0);
}

Test(actor, queued_messages_of_an_exited_actor_are_dropped_and_freed)
{
  struct probe pa = {1, ACTOR_NONE, 0}, pb = {2, ACTOR_NONE, 0};
  actor_id a = actor_spawn(probe_handler, &pa);
  actor_id b = actor_spawn(probe_handler, &pb);

  actor_send(a, T_PLAIN, ACTOR_NONE, 1, payload("a1"), count_free);
  actor_send(b, T_PLAIN, ACTOR_NONE, 2, payload("b2"), count_free);
  actor_send(a, T_PLAIN, ACTOR_NONE, 3, payload("a3"), count_free);
  actor_exit(a, ACTOR_REASON_NORMAL, NULL);
  run_loop();
  cr_assert_eq(n_log, 1);
  cr_expect_eq(log_[0].tag, 2);
  cr_expect_str_eq(log_[0].text, "b2");
  cr_expect_eq(freed, 3, "every payload freed, delivered or not");
  cr_expect_eq(actor_queue_len(), 0);
}

Test(actor, exit_inside_own_handler_drops_the_rest)
{
  struct probe pa = {1, ACTOR_NONE, 0};
  actor_id a = actor_spawn(probe_handler, &pa);

  actor_send(a, T_PLAIN, ACTOR_NONE, 1, payload("1"), count_free);
  actor_send(a, T_EXIT, ACTOR_NONE, 9, payload("2"), count_free);
  actor_send(a, T_PLAIN, ACTOR_NONE, 3, payload("3"), count_free);
  actor_send(a, T_PLAIN, ACTOR_NONE, 4, payload("4"), count_free);
  run_loop();
  cr_expect_eq(n_log, 2);
  cr_expect_eq(log_[1].type, T_EXIT);
  cr_expect_not(actor_alive(a));
  cr_expect_eq(freed, 4);
}

Test(actor, stale_id_never_reaches_a_reused_slot)
{
  struct probe pa = {1, ACTOR_NONE, 0}, pb = {2, ACTOR_NONE, 0};
  actor_id a = actor_spawn(probe_handler, &pa);

  actor_send(a, T_PLAIN, ACTOR_NONE, 1, payload("for a"), count_free);
  actor_exit(a, ACTOR_REASON_NORMAL, NULL);
  actor_id b = actor_spawn(probe_handler, &pb);
  /* same slot, new generation */
  cr_assert_eq(b & 0xffffffffu, a & 0xffffffffu, "slot not reused");
  cr_assert_neq(b, a);
  cr_expect_not(actor_alive(a));
  cr_expect(actor_alive(b));
  cr_expect_eq(
      actor_send(a, T_PLAIN, ACTOR_NONE, 2, payload("stale"), count_free),
      -ESRCH);
  actor_send(b, T_PLAIN, ACTOR_NONE, 3, payload("for b"), count_free);
  run_loop();
  /* the message queued for a before it exited was not handed to b */
  cr_assert_eq(n_log, 1);
  cr_expect_eq(log_[0].tag, 2);
  cr_expect_eq(log_[0].self, b);
  cr_expect_str_eq(log_[0].text, "for b");
  cr_expect_eq(freed, 3);

  /* and again over many generations of one slot */
  actor_id prev = b;
  for (int i = 0; i < 1000; i++) {
    actor_exit(prev, ACTOR_REASON_NORMAL, NULL);
    actor_id next = actor_spawn(probe_handler, &pb);
    cr_assert_eq(next & 0xffffffffu, a & 0xffffffffu);
    cr_assert_neq(next, prev);
    cr_assert_eq(actor_send(prev, T_PLAIN, ACTOR_NONE, 0, NULL, NULL), -ESRCH);
    prev = next;
  }
  cr_expect(actor_alive(prev));
}

Test(actor, spawning_many_inside_a_handler)
{
  struct probe pa = {1, ACTOR_NONE, 0};
  actor_id a = actor_spawn(probe_handler, &pa);

  /* the slot table grows (realloc) while a handler runs */
  actor_send(a, T_SPAWN, ACTOR_NONE, 0, NULL, NULL);
  actor_send(a, T_PLAIN, ACTOR_NONE, 1, NULL, NULL);
  run_loop();
  cr_expect_eq(n_log, 2);
  cr_expect(actor_alive(a));
  cr_expect_eq(actor_send(a, T_PLAIN, ACTOR_NONE, 2, NULL, NULL), 0);
  run_loop();
  cr_expect_eq(n_log, 3);
}

Test(actor, monitor_gets_down_with_reason_and_why)
{
  struct probe pw = {1, ACTOR_NONE, 0}, pt = {2, ACTOR_NONE, 0};
  struct probe pv = {3, ACTOR_NONE, 0};
  actor_id w = actor_spawn(probe_handler, &pw);
  actor_id v = actor_spawn(probe_handler, &pv);
  actor_id t = actor_spawn(probe_handler, &pt);
  char why[32];

  actor_monitor(w, t);
  actor_monitor(v, t);
  /* what t sent before it exited arrives before the DOWN */
  actor_send(w, T_PLAIN, t, 5, NULL, NULL);
  strcpy(why, "exited with status 3");
  actor_exit(t, 42, why);
  strcpy(why, "overwritten"); /* the runtime keeps its own copy */
  run_loop();
  cr_assert_eq(n_log, 3);
  cr_expect_eq(log_[0].type, T_PLAIN);
  for (size_t i = 1; i < 3; i++) {
    cr_expect_eq(log_[i].type, ACTOR_MSG_DOWN);
    cr_expect_eq(log_[i].from, t);
    cr_expect_eq(log_[i].arg, 42);
    cr_expect_str_eq(log_[i].text, "exited with status 3");
  }
  cr_expect(log_[1].tag != log_[2].tag, "both watchers told");
  /* a watcher replying to the DOWN finds the actor gone */
  cr_expect_eq(pw.send_rc, -ESRCH);
  cr_expect_eq(pv.send_rc, -ESRCH);
}

Test(actor, monitor_with_null_why)
{
  struct probe pw = {1, ACTOR_NONE, 0}, pt = {2, ACTOR_NONE, 0};
  actor_id w = actor_spawn(probe_handler, &pw);
  actor_id t = actor_spawn(probe_handler, &pt);

  actor_monitor(w, t);
  actor_exit(t, ACTOR_REASON_NORMAL, NULL);
  run_loop();
  cr_assert_eq(n_log, 1);
  cr_expect_eq(log_[0].type, ACTOR_MSG_DOWN);
  cr_expect_eq(log_[0].arg, ACTOR_REASON_NORMAL);
  cr_expect_str_eq(log_[0].text, "");
}

Test(actor, monitor_on_a_dead_id_gives_noproc)
{
  struct probe pw = {1, ACTOR_NONE, 0}, pt = {2, ACTOR_NONE, 0};
  actor_id w = actor_spawn(probe_handler, &pw);
  actor_id t = actor_spawn(probe_handler, &pt);

  actor_exit(t, ACTOR_REASON_NORMAL, NULL);
  actor_monitor(w, t);
  cr_expect_eq(actor_queue_len(), 1, "DOWN queued at once");
  cr_expect_eq(n_log, 0, "but not delivered synchronously");
  actor_monitor(w, (actor_id)0xdead00000017ull);
  run_loop();
  cr_assert_eq(n_log, 2);
  cr_expect_eq(log_[0].type, ACTOR_MSG_DOWN);
  cr_expect_eq(log_[0].from, t);
  cr_expect_eq(log_[0].arg, ACTOR_REASON_NOPROC);
  cr_expect_eq(log_[1].type, ACTOR_MSG_DOWN);
  cr_expect_eq(log_[1].from, (actor_id)0xdead00000017ull);
  cr_expect_eq(log_[1].arg, ACTOR_REASON_NOPROC);
}

Test(actor, demonitor)
{
  struct probe pw = {1, ACTOR_NONE, 0}, pt = {2, ACTOR_NONE, 0};
  struct probe pu = {3, ACTOR_NONE, 0};
  actor_id w = actor_spawn(probe_handler, &pw);
  actor_id t = actor_spawn(probe_handler, &pt);
  actor_id u = actor_spawn(probe_handler, &pu);

  actor_monitor(w, t);
  actor_demonitor(w, t);
  actor_demonitor(w, t); /* absent now: no-op */
  actor_demonitor(u, t); /* never set: no-op */
  actor_exit(t, 1, "gone");
  run_loop();
  cr_expect_eq(n_log, 0, "no DOWN after demonitor");

  /* two monitors, one removed: one DOWN; other watchers unaffected */
  t = actor_spawn(probe_handler, &pt);
  actor_monitor(w, t);
  actor_monitor(w, t);
  actor_monitor(u, t);
  actor_demonitor(w, t);
  actor_exit(t, 2, "gone again");
  actor_demonitor(w, t); /* target dead: no-op */
  run_loop();
  cr_assert_eq(n_log, 2);
  cr_expect_eq(log_[0].tag + log_[1].tag, 1 + 3);
  cr_expect_eq(log_[0].arg, 2);
  cr_expect_eq(log_[1].arg, 2);
}

Test(actor, down_to_a_dead_watcher_is_dropped)
{
  struct probe pw = {1, ACTOR_NONE, 0}, pt = {2, ACTOR_NONE, 0};
  actor_id w = actor_spawn(probe_handler, &pw);
  actor_id t = actor_spawn(probe_handler, &pt);

  actor_monitor(w, t);
  actor_monitor(t, t); /* an actor watching itself is never told */
  actor_exit(w, ACTOR_REASON_NORMAL, NULL);
  actor_exit(t, 3, "why text that must not leak");
  cr_expect_eq(actor_queue_len(), 0, "DOWN queued for a dead watcher");
  run_loop();
  cr_expect_eq(n_log, 0);
  /* ASan: the copy of why was freed */
}

Test(actor, registry)
{
  struct probe pa = {1, ACTOR_NONE, 0}, pb = {2, ACTOR_NONE, 0};
  actor_id a = actor_spawn(probe_handler, &pa);
  actor_id b = actor_spawn(probe_handler, &pb);
  char name[16];

  cr_expect_eq(actor_whereis("web"), ACTOR_NONE);
  cr_expect_eq(actor_register("web", a), 0);
  cr_expect_eq(actor_register("backend/api", a), 0);
  cr_expect_eq(actor_whereis("web"), a);
  cr_expect_eq(actor_whereis("backend/api"), a);
  cr_expect_eq(actor_register("web", b), -EEXIST);
  cr_expect_eq(actor_register("web", a), -EEXIST);
  cr_expect_eq(actor_whereis("web"), a);

  /* the name is a copy */
  strcpy(name, "db");
  cr_expect_eq(actor_register(name, b), 0);
  strcpy(name, "xx");
  cr_expect_eq(actor_whereis("db"), b);
  cr_expect_eq(actor_whereis("xx"), ACTOR_NONE);

  /* exit unregisters every name of the actor, and only its names */
  actor_exit(a, ACTOR_REASON_NORMAL, NULL);
  cr_expect_eq(actor_whereis("web"), ACTOR_NONE);
  cr_expect_eq(actor_whereis("backend/api"), ACTOR_NONE);
  cr_expect_eq(actor_whereis("db"), b);
  cr_expect_eq(actor_register("web", b), 0);
  cr_expect_eq(actor_whereis("web"), b);

  /* a dead actor cannot take a name */
  cr_expect_neq(actor_register("ghost", a), 0);
  cr_expect_eq(actor_whereis("ghost"), ACTOR_NONE);

  /* unregister, and no-op when absent */
  actor_unregister("web");
  actor_unregister("web");
  actor_unregister("never");
  cr_expect_eq(actor_whereis("web"), ACTOR_NONE);
  cr_expect_eq(actor_whereis("db"), b);
}

Test(actor, name_taken_over_after_unregister_survives_old_owner_exit)
{
  struct probe pa = {1, ACTOR_NONE, 0}, pb = {2, ACTOR_NONE, 0};
  actor_id a = actor_spawn(probe_handler, &pa);
  actor_id b = actor_spawn(probe_handler, &pb);

  cr_assert_eq(actor_register("web", a), 0);
  actor_unregister("web");
  cr_assert_eq(actor_register("web", b), 0);
  actor_exit(a, ACTOR_REASON_NORMAL, NULL);
  cr_expect_eq(actor_whereis("web"), b, "a's exit took b's name");
}

Test(actor, whereis_never_returns_a_reused_slot)
{
  struct probe pa = {1, ACTOR_NONE, 0}, pb = {2, ACTOR_NONE, 0};
  actor_id a = actor_spawn(probe_handler, &pa);

  cr_assert_eq(actor_register("api", a), 0);
  actor_exit(a, ACTOR_REASON_NORMAL, NULL);
  actor_id b = actor_spawn(probe_handler, &pb);
  cr_assert_eq(b & 0xffffffffu, a & 0xffffffffu);
  cr_expect_eq(actor_whereis("api"), ACTOR_NONE);
  cr_expect_eq(actor_register("api", b), 0);
  cr_expect_eq(actor_whereis("api"), b);
}

/* Timer callback: sends one message, as I/O and timers do in the daemon. */
static void
on_timer(uv_timer_t *t)
{
  actor_id *to = t->data;
  actor_send(*to, T_PLAIN, ACTOR_NONE, 77, NULL, NULL);
  uv_close((uv_handle_t *)t, NULL);
}

Test(actor, loop_exits_once_the_queue_drains)
{
  struct probe pa = {1, ACTOR_NONE, 0};
  actor_id a = actor_spawn(probe_handler, &pa);
  uv_timer_t timer;

  /* nothing queued: the idle handle does not keep the loop alive */
  run_loop();
  cr_expect_eq(n_log, 0);

  actor_send(a, T_PLAIN, ACTOR_NONE, 1, NULL, NULL);
  run_loop();
  cr_expect_eq(n_log, 1);
  cr_expect_eq(uv_loop_alive(&loop), 0);

  /* a message sent from a timer callback is delivered before uv_run
   * returns, and then the loop ends by itself */
  uv_timer_init(&loop, &timer);
  timer.data = &a;
  uv_timer_start(&timer, on_timer, 5, 0);
  uint64_t t0 = uv_now(&loop);
  run_loop();
  cr_expect_eq(n_log, 2);
  cr_expect_eq(log_[1].arg, 77);
  cr_expect_lt(uv_now(&loop) - t0, 5000, "delivery waited for something");
}

Test(actor, runtime_close_frees_queued_messages)
{
  struct probe pa = {1, ACTOR_NONE, 0};
  actor_id a = actor_spawn(probe_handler, &pa);
  actor_id b = actor_spawn(probe_handler, &pa);

  for (int i = 0; i < 5; i++)
    actor_send(a, T_PLAIN, ACTOR_NONE, i, payload("queued"), count_free);
  actor_register("a", a);
  actor_register("b", b);
  actor_monitor(b, a);
  actor_exit(b, 1, "b is gone"); /* a's monitor list names a dead watcher */
  actor_monitor(a, b);           /* a NOPROC DOWN with a copied why */
  cr_expect_eq(actor_queue_len(), 6);
  actor_runtime_close();
  cr_expect_eq(freed, 5);
  cr_expect_eq(n_log, 0);
  cr_expect_eq(actor_queue_len(), 0);
  /* the fini closes again: a second close must be harmless; and the loop
   * must close (checked there) */
}

Test(actor, short_lived_watchers_do_not_grow_a_long_lived_target)
{
  struct probe pt = {1, ACTOR_NONE, 0}, pw = {2, ACTOR_NONE, 0};
  actor_id t = actor_spawn(probe_handler, &pt);
  actor_id keep = actor_spawn(probe_handler, &pw);
  size_t before, after;

  /* e.g. one HTTP stream subscriber after another watching one runner */
  actor_monitor(keep, t);
  for (int i = 0; i < 1000; i++) {
    actor_id w = actor_spawn(probe_handler, &pw);
    actor_monitor(w, t);
    actor_exit(w, ACTOR_REASON_NORMAL, NULL);
  }
  before = helpers_heap_bytes();
  for (int i = 0; i < 200000; i++) {
    actor_id w = actor_spawn(probe_handler, &pw);
    actor_monitor(w, t);
    actor_exit(w, ACTOR_REASON_NORMAL, NULL);
  }
  after = helpers_heap_bytes();
  cr_expect_lt(after, before + 64 * 1024, "heap grew by %zu bytes",
               after - before);
  /* the live watcher is still told */
  actor_exit(t, 5, "end");
  run_loop();
  cr_assert_eq(n_log, 1);
  cr_expect_eq(log_[0].type, ACTOR_MSG_DOWN);
  cr_expect_eq(log_[0].arg, 5);
  cr_expect_eq(log_[0].self, keep);
}

Test(actor, register_unregister_cycles_do_not_grow)
{
  struct probe pa = {1, ACTOR_NONE, 0};
  actor_id a = actor_spawn(probe_handler, &pa);
  size_t before, after;

  for (int i = 0; i < 1000; i++) {
    cr_assert_eq(actor_register("svc", a), 0);
    actor_unregister("svc");
  }
  before = helpers_heap_bytes();
  for (int i = 0; i < 200000; i++) {
    cr_assert_eq(actor_register("svc", a), 0);
    actor_unregister("svc");
  }
  after = helpers_heap_bytes();
  cr_expect_lt(after, before + 64 * 1024, "heap grew by %zu bytes",
               after - before);
  /* a name kept at exit is still released */
  cr_assert_eq(actor_register("svc", a), 0);
  cr_assert_eq(actor_register("other", a), 0);
  actor_unregister("other");
  actor_exit(a, ACTOR_REASON_NORMAL, NULL);
  cr_expect_eq(actor_whereis("svc"), ACTOR_NONE);
  cr_expect_eq(actor_whereis("other"), ACTOR_NONE);
}
