/* events: the event bus behind src/events.h, and the one serialiser of
 * struct tend_event (events_to_json) with its reader (events_from_json).
 *
 * Emit order is the seq order: stamp, hand to the synchronous listeners
 * (the read model must be current before anyone reads it), append to the
 * event log, publish. A failed append keeps the event in the store's
 * backlog; the event itself is never lost from the live stream. */
#include "src/events.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "src/config.h"
#include "src/enumname.h"
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

static const char *const kind_names[] = {[EVENTS_KIND_NONE] = NULL,
#define X(N, S) [EVENTS_KIND_##N] = S,
                                         EVENTS_KIND_MAP(X)
#undef X
};

ENUMNAME_DEFINE(events_type, enum events_type, EVENTS_TYPE_MAP, ENUMNAME_PICK2,
                "?")

const char *
events_kind_name(enum events_kind k)
{
  return k == EVENTS_KIND_RUNNER || k == EVENTS_KIND_GROUP ? kind_names[k]
                                                           : NULL;
}

const char *
events_state_name(enum events_kind k, union events_state s)
{
  if (k == EVENTS_KIND_GROUP)
    return (unsigned)s.group < SUP_FSM_N_STATES ? sup_fsm_state_name(s.group)
                                                : "?";
  return (unsigned)s.runner < FSM_N_STATES ? fsm_state_name(s.runner) : "?";
}

/* Parses a state name of a runner or a group; 0 or -EINVAL. */
static int
state_parse(enum events_kind k, const char *name, union events_state *out)
{
  if (!name)
    return -EINVAL;
  if (k != EVENTS_KIND_GROUP)
    return fsm_state_parse(name, &out->runner);
  for (int i = 0; i < SUP_FSM_N_STATES; i++) {
    if (strcmp(name, sup_fsm_state_name((enum sup_fsm_state)i)) == 0) {
      out->group = (enum sup_fsm_state)i;
      return 0;
    }
  }
  return -EINVAL;
}

/* Sets key to the string s when s is not NULL. */
static void
put_str(json_t *obj, const char *key, const char *s)
{
  if (s)
    json_object_set_new(obj, key, json_string(s));
}

/* Sets key to a copy of the borrowed value v when v is not NULL. */
static void
put_json(json_t *obj, const char *key, const json_t *v)
{
  if (v)
    json_object_set_new(obj, key, json_deep_copy(v));
}

/* Sets key to the number n. */
static void
put_int(json_t *obj, const char *key, int64_t n)
{
  json_object_set_new(obj, key, json_integer((json_int_t)n));
}

/* The fields of a state event, in the order the log has always had. */
static void
state_to_json(json_t *obj, const struct tend_event *ev)
{
  int runner = ev->kind != EVENTS_KIND_GROUP;

  put_str(obj, "from", events_state_name(ev->kind, ev->from));
  put_str(obj, "to", events_state_name(ev->kind, ev->to));
  put_str(obj, "event", ev->event ? ev->event : "?");
  if (runner)
    put_int(obj, "run", ev->run);
  put_int(obj, "restarts", ev->restarts);
  put_str(obj, "runner", ev->runner);
  /* The new state's "can" travels with it, so a client that folds events
   * into its tree needs no list of states of its own (ui/web/model.js). */
  if (runner)
    json_object_set_new(obj, "can", fsm_can_json(ev->to.runner));
  put_str(obj, "reason", ev->reason);
  if (ev->pid > 0)
    put_int(obj, "pid", ev->pid);
  put_str(obj, "spawn_error", ev->spawn_error);
  if (ev->signal)
    put_str(obj, "signal", config_signal_name(ev->signal));
  else if (ev->has_status)
    put_int(obj, "status", ev->status);
  if (ev->next_start_ms > 0)
    put_int(obj, "next_start_ms", ev->next_start_ms);
}

json_t *
events_to_json(const struct tend_event *ev)
{
  json_t *obj = json_object();

  /* seq and ts go first so that the stored line reads naturally. */
  put_int(obj, "seq", (int64_t)ev->seq);
  put_int(obj, "ts", ev->ts);
  put_str(obj, "type", events_type_name(ev->type));
  put_str(obj, "node", ev->node);
  put_str(obj, "kind",
          ev->type == EVENTS_STATE ? events_kind_name(ev->kind)
                                   : ev->notice_kind);
  if (ev->type == EVENTS_STATE) {
    state_to_json(obj, ev);
  } else {
    put_str(obj, "runner", ev->runner);
    put_str(obj, "reason", ev->reason);
  }
  put_str(obj, "probe", ev->probe);
  put_str(obj, "check", ev->check);
  switch (ev->type) {
  case EVENTS_HEALTH_OK:
  case EVENTS_HEALTH_FAILED:
  case EVENTS_UNHEALTHY:
    put_int(obj, "failures", ev->failures);
    put_int(obj, "of", ev->of);
    break;
  case EVENTS_MEMORY_LIMIT:
    put_int(obj, "rss", ev->rss);
    put_int(obj, "max_memory", ev->max_memory);
    break;
  case EVENTS_WATCH_FIRED:
    put_int(obj, "total", ev->total);
    break;
  case EVENTS_LOG_TRUNCATED:
    put_int(obj, "bytes", ev->bytes);
    break;
  case EVENTS_RECOVERED:
  case EVENTS_RECOVERY_SKIPPED:
    put_int(obj, "pgid", ev->pgid);
    break;
  default:
    break;
  }
  put_str(obj, "error", ev->error);
  put_json(obj, "paths", ev->paths);
  put_str(obj, "action", ev->action);
  put_json(obj, "pids", ev->pids);
  put_str(obj, "hash", ev->hash);
  put_json(obj, "changes", ev->changes);
  put_json(obj, "errors", ev->errors);
  put_str(obj, "message", ev->message);
  return obj;
}

/* The string at key, or NULL. */
static const char *
get_str(const json_t *obj, const char *key)
{
  return json_string_value(json_object_get(obj, key));
}

/* The integer at key, or 0. */
static int64_t
get_int(const json_t *obj, const char *key)
{
  return (int64_t)json_integer_value(json_object_get(obj, key));
}

int
events_from_json(const json_t *obj, struct tend_event *out)
{
  const json_t *status = json_object_get(obj, "status");
  const char *kind = get_str(obj, "kind");
  const char *signal = get_str(obj, "signal");

  memset(out, 0, sizeof *out);
  if (events_type_parse(get_str(obj, "type"), &out->type) != 0)
    return -EINVAL;
  out->seq = (uint64_t)get_int(obj, "seq");
  out->ts = get_int(obj, "ts");
  out->node = get_str(obj, "node");
  out->runner = get_str(obj, "runner");
  out->message = get_str(obj, "message");
  out->reason = get_str(obj, "reason");
  if (out->type == EVENTS_STATE) {
    out->kind = kind && strcmp(kind, "group") == 0 ? EVENTS_KIND_GROUP
                                                   : EVENTS_KIND_RUNNER;
    if (state_parse(out->kind, get_str(obj, "from"), &out->from) != 0 ||
        state_parse(out->kind, get_str(obj, "to"), &out->to) != 0)
      return -EINVAL;
  } else {
    out->notice_kind = kind;
  }
  out->event = get_str(obj, "event");
  out->run = get_int(obj, "run");
  out->restarts = (int)get_int(obj, "restarts");
  out->pid = (int)get_int(obj, "pid");
  out->spawn_error = get_str(obj, "spawn_error");
  out->has_status = json_is_integer(status);
  out->status = (int)json_integer_value(status);
  out->signal = signal ? config_signal_parse(signal) : 0;
  if (out->signal < 0)
    out->signal = 0;
  out->next_start_ms = get_int(obj, "next_start_ms");
  out->check = get_str(obj, "check");
  out->probe = get_str(obj, "probe");
  out->failures = (int)get_int(obj, "failures");
  out->of = (int)get_int(obj, "of");
  out->error = get_str(obj, "error");
  out->rss = get_int(obj, "rss");
  out->max_memory = get_int(obj, "max_memory");
  out->paths = json_object_get(obj, "paths");
  out->total = get_int(obj, "total");
  out->action = get_str(obj, "action");
  out->bytes = get_int(obj, "bytes");
  out->pgid = get_int(obj, "pgid");
  out->pids = json_object_get(obj, "pids");
  out->hash = get_str(obj, "hash");
  out->changes = json_object_get(obj, "changes");
  out->errors = json_object_get(obj, "errors");
  return 0;
}

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
events_emit(struct tend_event *ev)
{
  char *line;
  json_t *obj;
  uint64_t seq = ++bus.seq;
  size_t len;

  ev->seq = seq;
  ev->ts = events_now_ms();
  obj = events_to_json(ev);
  line = json_dumps(obj, JSON_COMPACT);
  json_decref(obj);
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
  /* Listeners run once the event is in the log: one that emits (the
   * "after" triggers announce what they start) then appends seq + 1 after
   * seq, never before it. */
  for (int i = 0; i < bus.n_listeners; i++)
    bus.listeners[i].fn(bus.listeners[i].ctx, ev);
  return seq;
}

uint64_t
events_note(enum events_type type, const char *node, const char *fmt, ...)
{
  va_list ap;
  char *msg;
  struct tend_event ev = {.type = type, .node = node};
  uint64_t seq;

  va_start(ap, fmt);
  if (vasprintf(&msg, fmt, ap) < 0)
    msg = NULL;
  va_end(ap);
  ev.message = msg ? msg : "";
  seq = events_emit(&ev);
  free(msg);
  return seq;
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
