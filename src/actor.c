/* actor: the runtime behind src/actor.h.
 *
 * Design: actors live in a slot table; an id is (generation << 32 | slot+1),
 * and a slot's generation is bumped when its actor exits, so stale ids never
 * reach a reused slot. One FIFO holds every queued message; a uv_idle_t
 * drains it in passes bounded by the queue length at the start of the pass,
 * so messages sent during a pass run in the next one and timers and I/O get
 * their turn in between (LIBRARY-NOTES.md, section 6). */
#include "src/actor.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "src/log.h"
#include "src/strmap.h"
#include "src/xalloc.h"

struct slot {
  uint32_t gen;
  int alive;
  actor_handler handler;
  void *state;
  actor_id *monitors; /* actors to tell when this one exits */
  size_t n_monitors, cap_monitors;
  char **names; /* registered names, unregistered on exit */
  size_t n_names;
  uint32_t next_free; /* free list link (slot index + 1), 0 = end */
};

struct queued {
  struct queued *next;
  actor_id to;
  struct actor_msg msg;
};

static struct {
  uv_loop_t *loop;
  uv_idle_t idle;
  int idle_ready;
  struct slot *slots;
  uint32_t n_slots, cap_slots, free_head;
  struct queued *head, **tail;
  size_t len;
  struct strmap *names;
  int delivering;
} rt;

static void on_idle(uv_idle_t *idle);

void
actor_runtime_init(uv_loop_t *loop)
{
  memset(&rt, 0, sizeof rt);
  rt.loop = loop;
  rt.tail = &rt.head;
  rt.names = strmap_new();
  if (loop) {
    uv_idle_init(loop, &rt.idle);
    uv_unref((uv_handle_t *)&rt.idle);
    rt.idle_ready = 1;
  }
}

/* Frees a message's payload with its own free function. */
static void
free_payload(struct actor_msg *msg)
{
  if (msg->data && msg->free_data)
    msg->free_data(msg->data);
  msg->data = NULL;
}

void
actor_runtime_close(void)
{
  struct queued *q, *next;
  for (q = rt.head; q; q = next) {
    next = q->next;
    free_payload(&q->msg);
    free(q);
  }
  rt.head = NULL;
  rt.tail = &rt.head;
  rt.len = 0;
  for (uint32_t i = 0; i < rt.n_slots; i++) {
    struct slot *s = &rt.slots[i];
    free(s->monitors);
    for (size_t j = 0; j < s->n_names; j++)
      free(s->names[j]);
    free(s->names);
  }
  free(rt.slots);
  strmap_free(rt.names);
  rt.slots = NULL;
  rt.names = NULL;
  rt.n_slots = rt.cap_slots = 0;
  if (rt.idle_ready)
    uv_close((uv_handle_t *)&rt.idle, NULL);
  rt.idle_ready = 0;
}

/* Returns the live slot for id, or NULL when it is stale or unknown. */
static struct slot *
slot_of(actor_id id)
{
  uint32_t index = (uint32_t)(id & 0xffffffffu);
  uint32_t gen = (uint32_t)(id >> 32);
  struct slot *s;

  if (index == 0 || index > rt.n_slots)
    return NULL;
  s = &rt.slots[index - 1];
  if (!s->alive || s->gen != gen)
    return NULL;
  return s;
}

actor_id
actor_spawn(actor_handler handler, void *state)
{
  uint32_t index;
  struct slot *s;

  if (rt.free_head) {
    index = rt.free_head;
    rt.free_head = rt.slots[index - 1].next_free;
  } else {
    if (rt.n_slots == rt.cap_slots) {
      rt.cap_slots = rt.cap_slots ? rt.cap_slots * 2 : 64;
      rt.slots = xrealloc(rt.slots, rt.cap_slots * sizeof *rt.slots);
    }
    index = ++rt.n_slots;
    memset(&rt.slots[index - 1], 0, sizeof rt.slots[0]);
  }
  s = &rt.slots[index - 1];
  s->alive = 1;
  s->handler = handler;
  s->state = state;
  s->next_free = 0;
  return ((actor_id)s->gen << 32) | index;
}

int
actor_alive(actor_id id)
{
  return slot_of(id) != NULL;
}

/* Appends a message to the loop-wide FIFO and makes sure it will drain. */
static void
enqueue(actor_id to, const struct actor_msg *msg)
{
  struct queued *q = xmalloc(sizeof *q);
  q->next = NULL;
  q->to = to;
  q->msg = *msg;
  *rt.tail = q;
  rt.tail = &q->next;
  rt.len++;
  if (rt.idle_ready && !uv_is_active((uv_handle_t *)&rt.idle)) {
    uv_idle_start(&rt.idle, on_idle);
    uv_ref((uv_handle_t *)&rt.idle);
  }
}

int
actor_send(actor_id to, int type, actor_id from, int64_t arg, void *data,
           actor_free_fn free_data)
{
  struct actor_msg msg = {type, from, arg, data, free_data};
  if (!slot_of(to)) {
    free_payload(&msg);
    return -ESRCH;
  }
  enqueue(to, &msg);
  return 0;
}

/* Queues a DOWN for watcher about target. */
static void
send_down(actor_id watcher, actor_id target, int reason, const char *why)
{
  actor_send(watcher, ACTOR_MSG_DOWN, target, reason, why ? xstrdup(why) : NULL,
             free);
}

/* Drops the monitors whose watcher has exited. Watchers do not take their
 * monitors with them when they exit, so without this a long-lived target
 * watched by a stream of short-lived actors would grow without bound. Run
 * only when the array is full, it bounds the array by twice the most
 * watchers ever alive at once, at amortised O(1) per monitor. */
static void
prune_monitors(struct slot *s)
{
  size_t kept = 0;
  for (size_t i = 0; i < s->n_monitors; i++)
    if (slot_of(s->monitors[i]))
      s->monitors[kept++] = s->monitors[i];
  s->n_monitors = kept;
}

void
actor_monitor(actor_id watcher, actor_id target)
{
  struct slot *s = slot_of(target);
  if (!s) {
    send_down(watcher, target, ACTOR_REASON_NOPROC, "noproc");
    return;
  }
  if (s->n_monitors == s->cap_monitors)
    prune_monitors(s);
  if (s->n_monitors == s->cap_monitors) {
    s->cap_monitors = s->cap_monitors ? s->cap_monitors * 2 : 4;
    s->monitors = xrealloc(s->monitors, s->cap_monitors * sizeof(actor_id));
  }
  s->monitors[s->n_monitors++] = watcher;
}

void
actor_demonitor(actor_id watcher, actor_id target)
{
  struct slot *s = slot_of(target);
  if (!s)
    return;
  for (size_t i = 0; i < s->n_monitors; i++) {
    if (s->monitors[i] == watcher) {
      s->monitors[i] = s->monitors[--s->n_monitors];
      return;
    }
  }
}

void
actor_exit(actor_id self, int reason, const char *why)
{
  struct slot *s = slot_of(self);
  uint32_t index = (uint32_t)(self & 0xffffffffu);

  if (!s)
    return;
  s->alive = 0;
  for (size_t i = 0; i < s->n_names; i++) {
    if (strmap_get(rt.names, s->names[i]) == (void *)(uintptr_t)self)
      strmap_del(rt.names, s->names[i]);
    free(s->names[i]);
  }
  free(s->names);
  s->names = NULL;
  s->n_names = 0;
  /* Monitors are told after the slot is dead, so a watcher that replies to
   * the DOWN gets -ESRCH rather than reaching the exited actor. */
  for (size_t i = 0; i < s->n_monitors; i++)
    send_down(s->monitors[i], self, reason, why);
  free(s->monitors);
  s->monitors = NULL;
  s->n_monitors = s->cap_monitors = 0;
  s->handler = NULL;
  s->state = NULL;
  s->gen++;
  s->next_free = rt.free_head;
  rt.free_head = index;
}

int
actor_register(const char *name, actor_id id)
{
  struct slot *s = slot_of(id);
  void *old = strmap_get(rt.names, name);

  if (!s)
    return -ESRCH;
  if (old && slot_of((actor_id)(uintptr_t)old))
    return -EEXIST;
  strmap_set(rt.names, name, (void *)(uintptr_t)id);
  s->names = xrealloc(s->names, (s->n_names + 1) * sizeof *s->names);
  s->names[s->n_names++] = xstrdup(name);
  return 0;
}

actor_id
actor_whereis(const char *name)
{
  actor_id id = (actor_id)(uintptr_t)strmap_get(rt.names, name);
  return slot_of(id) ? id : ACTOR_NONE;
}

void
actor_unregister(const char *name)
{
  actor_id id = (actor_id)(uintptr_t)strmap_del(rt.names, name);
  struct slot *s = slot_of(id);

  /* Forget the name in its owner's list too, so register/unregister cycles
   * do not pile up copies there until the actor exits. */
  if (!s)
    return;
  for (size_t i = 0; i < s->n_names; i++) {
    if (strcmp(s->names[i], name) == 0) {
      free(s->names[i]);
      s->names[i] = s->names[--s->n_names];
      return;
    }
  }
}

size_t
actor_queue_len(void)
{
  return rt.len;
}

size_t
actor_drain(size_t budget)
{
  size_t ran = 0;

  TEND_ASSERT(!rt.delivering);
  rt.delivering = 1;
  while (budget-- && rt.head) {
    struct queued *q = rt.head;
    struct slot *s;

    rt.head = q->next;
    if (!rt.head)
      rt.tail = &rt.head;
    rt.len--;
    s = slot_of(q->to);
    if (s) { /* dead letters are dropped */
      s->handler(s->state, q->to, &q->msg);
      ran++;
    }
    free_payload(&q->msg);
    free(q);
  }
  rt.delivering = 0;
  return ran;
}

/* Runs one bounded pass; stops the idle handle once the queue is empty. */
static void
on_idle(uv_idle_t *idle)
{
  actor_drain(rt.len);
  if (!rt.head) {
    uv_idle_stop(idle);
    uv_unref((uv_handle_t *)idle);
  }
}
