/* actor: actors with mailboxes on the libuv loop (DESIGN.md, principle 1-2).
 *
 * An actor is a handler plus opaque state, named by a generation-counted id.
 * actor_send() only enqueues; messages are delivered from a uv_idle_t after
 * the current callback returns, never re-entrantly, in send order (one
 * loop-wide FIFO, so order per sender->receiver pair holds). A message to an
 * exited actor is dropped and the sender learns it from the return value. */
#ifndef TEND_ACTOR_H
#define TEND_ACTOR_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

/* An actor's id: slot in the low 32 bits, generation in the high 32. */
typedef uint64_t actor_id;
#define ACTOR_NONE ((actor_id)0)

/* System message types are negative; modules use types >= 0. */
#define ACTOR_MSG_DOWN                                                         \
  (-1) /* a monitored actor exited: from = it, arg = reason */

/* Reasons carried by ACTOR_MSG_DOWN (modules may use their own >= 0). */
#define ACTOR_REASON_NORMAL 0
#define ACTOR_REASON_NOPROC (-1) /* monitor set on an actor already gone */

typedef void (*actor_free_fn)(void *data);

struct actor_msg {
  int type;
  actor_id from;
  int64_t arg;
  void *data;              /* borrowed by the handler; freed after it returns */
  actor_free_fn free_data; /* how to free data (NULL: not freed) */
};

/* Handles one message. state is the pointer given to actor_spawn. */
typedef void (*actor_handler)(void *state, actor_id self,
                              const struct actor_msg *msg);

/* Binds the runtime to loop. Call once before any other function. */
void actor_runtime_init(uv_loop_t *loop);
/* Drops every queued message and closes the idle handle. */
void actor_runtime_close(void);

/* Creates an actor; state stays owned by the caller's module. */
actor_id actor_spawn(actor_handler handler, void *state);
/* Ends an actor: its queued messages are dropped, its names unregistered,
 * and every monitor receives ACTOR_MSG_DOWN with reason and why (copied). */
void actor_exit(actor_id self, int reason, const char *why);
/* Returns 1 when id names a live actor. */
int actor_alive(actor_id id);

/* Queues a message. data is stolen: on failure it is freed at once.
 * Returns 0, or -ESRCH when the receiver has exited. */
int actor_send(actor_id to, int type, actor_id from, int64_t arg, void *data,
               actor_free_fn free_data);

/* watcher learns (ACTOR_MSG_DOWN) when target exits. If target is already
 * gone, the DOWN with ACTOR_REASON_NOPROC is queued at once. */
void actor_monitor(actor_id watcher, actor_id target);
/* Removes one monitor set by watcher on target (no-op when absent). */
void actor_demonitor(actor_id watcher, actor_id target);

/* Name registry. Returns 0 or -EEXIST when name is taken by a live actor. */
int actor_register(const char *name, actor_id id);
/* Returns the live actor registered as name, or ACTOR_NONE. */
actor_id actor_whereis(const char *name);
/* Removes a name (no-op when absent). */
void actor_unregister(const char *name);

/* Number of queued, undelivered messages. */
size_t actor_queue_len(void);
/* Delivers up to budget queued messages now; returns how many ran. For
 * tests and shutdown; must not be called from inside a handler. */
size_t actor_drain(size_t budget);

#endif
