/* events: the event bus behind src/events.h.
 *
 * Emit order is the seq order: stamp, hand to the synchronous listeners
 * (the read model must be current before anyone reads it), append to the
 * event log, publish. A failed append keeps the event in the store's
 * backlog; the event itself is never lost from the live stream. */
#include "src/events.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "src/log.h"
#include "src/pubsub.h"
#include "src/xalloc.h"
#include "state/store.h"

#define MAX_LISTENERS 8

static struct {
  struct store *log;
  uint64_t seq;
  struct {
    events_listener fn;
    void *ctx;
  } listeners[MAX_LISTENERS];
  int n_listeners;
  int log_error; /* an append failed; reported once until it recovers */
} bus;

int64_t
events_now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
events_init(struct store *log)
{
  bus.log = log;
  bus.seq = log ? store_last_seq(log) : 0;
  bus.log_error = 0;
}

void
events_listen(events_listener fn, void *ctx)
{
  TEND_ASSERT(bus.n_listeners < MAX_LISTENERS);
  bus.listeners[bus.n_listeners].fn = fn;
  bus.listeners[bus.n_listeners].ctx = ctx;
  bus.n_listeners++;
}

uint64_t
events_emit(json_t *ev)
{
  char *line;
  uint64_t seq = ++bus.seq;
  size_t len;

  /* seq and ts go first so that the stored line reads naturally. */
  {
    json_t *stamped = json_pack("{s:I, s:I}", "seq", (json_int_t)seq, "ts",
                                (json_int_t)events_now_ms());
    json_object_update(stamped, ev);
    json_decref(ev);
    ev = stamped;
  }
  for (int i = 0; i < bus.n_listeners; i++)
    bus.listeners[i].fn(bus.listeners[i].ctx, ev);
  line = json_dumps(ev, JSON_COMPACT);
  len = strlen(line);
  if (bus.log) {
    int rc;
    if (store_backlog_bytes(bus.log) > 0)
      store_retry(bus.log);
    rc = store_append(bus.log, seq, line, len);
    if (rc < 0 && !bus.log_error) {
      bus.log_error = rc;
      log_warn("cannot write the event log: %s", strerror(-rc));
    } else if (rc == 0 && bus.log_error && store_backlog_bytes(bus.log) == 0) {
      bus.log_error = 0;
    }
  }
  pubsub_publish("events", seq, line, len);
  free(line);
  json_decref(ev);
  return seq;
}

uint64_t
events_note(const char *type, const char *node, const char *fmt, ...)
{
  va_list ap;
  char *msg;
  json_t *ev;

  va_start(ap, fmt);
  if (vasprintf(&msg, fmt, ap) < 0)
    msg = NULL;
  va_end(ap);
  ev = json_pack("{s:s, s:s}", "type", type, "message", msg ? msg : "");
  if (node)
    json_object_set_new(ev, "node", json_string(node));
  free(msg);
  return events_emit(ev);
}

uint64_t
events_last_seq(void)
{
  return bus.seq;
}

void
events_reset(void)
{
  bus.log = NULL;
  bus.n_listeners = 0;
}
