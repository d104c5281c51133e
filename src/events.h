/* events: the in-process event bus. Every state transition and every
 * daemon-level happening is one struct tend_event: it is stamped (seq,
 * ts), handed to the synchronous listeners (the read model, the "after"
 * triggers, the metrics) as the struct, serialised once by
 * events_to_json() to the JSON line that is appended to
 * <state_dir>/events.jsonl (through the store) and published on the
 * "events" topic. Readers of those lines (the terminal printer, tests)
 * turn them back into the struct with events_from_json(). */
#ifndef TEND_EVENTS_H
#define TEND_EVENTS_H

#include <jansson.h>
#include <stdint.h>

#include "runners/fsm.h"
#include "src/sup_fsm.h"

struct store;

/* The event types, as "type" says them (STYLE.md 4: the one list). */
#define EVENTS_TYPE_MAP(X)                                                     \
  X(STATE, "state")                   /* a runner or group transition */       \
  X(READY_WAITING, "ready_waiting")   /* why readiness has not passed */       \
  X(HEALTH_OK, "health_ok")           /* the liveness probe passes */          \
  X(HEALTH_FAILED, "health_failed")   /* it failed (not yet too often) */      \
  X(UNHEALTHY, "unhealthy")           /* it failed too often */                \
  X(MEMORY_LIMIT, "memory_limit")     /* over max_memory: stopping it */       \
  X(WATCH_FIRED, "watch_fired")       /* a burst of file changes */            \
  X(WATCH_PAUSED, "watch_paused")     /* the restart-loop guard */             \
  X(WATCH_RESUMED, "watch_resumed")   /* by request or a config change */      \
  X(WATCH_OVERFLOW, "watch_overflow") /* inotify overflow or limit */          \
  X(WATCH_ERROR, "watch_error")       /* the watch could not be set up */      \
  X(PERSIST_ERROR, "persist_error")   /* an output log cannot be written */    \
  X(PERSIST_OK, "persist_ok")         /* it can again */                       \
  X(LOG_TRUNCATED, "log_truncated")   /* a torn last line was cut */           \
  X(TRIGGERED, "triggered")           /* an "after" trigger fired */           \
  X(GIVE_UP, "give_up")               /* a group gave up */                    \
  X(CONFIG_ERROR, "config_error")     /* a reload failed */                    \
  X(CONFIG_APPLIED, "config_applied") /* a reload succeeded */                 \
  X(CONFIG_WARNING, "config_warning") /* applied, but with a caveat */         \
  X(RECOVERED, "recovered")           /* stopped an orphaned group */          \
  X(RECOVERY_SKIPPED, "recovery_skipped") /* left a group alone */             \
  X(DAEMON_STARTED, "daemon_started")                                          \
  X(DAEMON_STOPPING, "daemon_stopping")                                        \
  X(DAEMON_STOPPED, "daemon_stopped")

enum events_type {
#define X(N, S) EVENTS_##N,
  EVENTS_TYPE_MAP(X)
#undef X
      EVENTS_N_TYPES
};

/* What a "state" event is about ("kind"). */
#define EVENTS_KIND_MAP(X)                                                     \
  X(RUNNER, "runner")                                                          \
  X(GROUP, "group")

enum events_kind {
  EVENTS_KIND_NONE, /* not a state event */
#define X(N, S) EVENTS_KIND_##N,
  EVENTS_KIND_MAP(X)
#undef X
};

/* A state of the node's machine: runners/fsm.h for a runner, src/sup_fsm.h
 * for a group (kind says which). */
union events_state {
  enum fsm_state runner;
  enum sup_fsm_state group;
};

/* One event. Strings and JSON values are borrowed (from the emitter for
 * the time of events_emit(), or from the object events_from_json() read).
 * A NULL string is left out of the JSON; which numbers are written depends
 * on the type (events_to_json() says which), and the optional ones are
 * left out when 0 (or has_status is 0). */
struct tend_event {
  uint64_t seq; /* stamped by events_emit() */
  int64_t ts;   /* unix ms, stamped by events_emit() */
  enum events_type type;
  const char *node;    /* the node it is about, or NULL (daemon events) */
  const char *runner;  /* "runner": the runner (or log: "events") */
  const char *message; /* for people */
  const char *reason;  /* why: a transition, a wait, a paused watch */

  /* STATE */
  enum events_kind kind;
  union events_state from, to;
  const char *event; /* the machine's event ("exit", "start", ...) */
  int64_t run;       /* runners: the run number */
  int restarts;
  int pid;                 /* the run's leader, 0 when none */
  const char *spawn_error; /* uv_spawn's error */
  int has_status, status;  /* a run ended with this exit status */
  int signal;              /* a run ended on this signal (0: no) */
  int64_t next_start_ms;   /* backoff: when the next start is due */

  /* probes: READY_WAITING (check), HEALTH_* and UNHEALTHY */
  const char *check;
  const char *probe;
  int failures, of;
  const char *error;

  /* MEMORY_LIMIT */
  int64_t rss, max_memory;
  /* WATCH_FIRED (paths, total, action), WATCH_PAUSED (paths), and
   * WATCH_OVERFLOW's "kind" (an inotify notice kind) */
  const json_t *paths;
  int64_t total;
  const char *action;
  const char *notice_kind;
  /* LOG_TRUNCATED */
  int64_t bytes;
  /* RECOVERED (pids), RECOVERY_SKIPPED: the process group */
  int64_t pgid;
  const json_t *pids;
  /* CONFIG_APPLIED (hash, changes), CONFIG_ERROR (errors: strings) */
  const char *hash;
  const json_t *changes;
  const json_t *errors;
};

/* Called synchronously for every event (borrowed), in emit order. */
typedef void (*events_listener)(void *ctx, const struct tend_event *ev);

const char *events_type_name(enum events_type t);
/* Returns 0 and *out, or -EINVAL. */
int events_type_parse(const char *s, enum events_type *out);
const char *events_kind_name(enum events_kind k);
/* The name of a state event's from or to state ("?" when out of range). */
const char *events_state_name(enum events_kind k, union events_state s);

/* The one serialiser: the event as the API and events.jsonl carry it
 * ({"seq","ts","type",...}); a new reference. */
json_t *events_to_json(const struct tend_event *ev);
/* Reads an event object back (a line of events.jsonl, old ones included,
 * or an API event): fills *out with strings borrowed from obj. Returns 0,
 * or -EINVAL when obj has no known type (or a state event no known
 * states). */
int events_from_json(const json_t *obj, struct tend_event *out);

/* Sets the event log (borrowed; NULL = memory only) and the first seq. */
void events_init(struct store *log);
/* Adds a synchronous listener (the read model). */
void events_listen(events_listener fn, void *ctx);
/* Stamps ev with seq and ts (written into *ev), hands it to the listeners,
 * persists and publishes it; returns its seq. */
uint64_t events_emit(struct tend_event *ev);
/* Convenience: an event of type with a message and, when node is not
 * NULL, "node". */
uint64_t events_note(enum events_type type, const char *node, const char *fmt,
                     ...) __attribute__((format(printf, 3, 4)));
/* The seq of the newest event. */
uint64_t events_last_seq(void);
/* Forgets the listeners and the log (shutdown). */
void events_reset(void);
/* Unix time in milliseconds (wall clock, for "ts" fields). */
int64_t events_now_ms(void);

#endif
