/* Unit tests for src/events.c: the one serialiser of struct tend_event
 * (the exact JSON the API and events.jsonl carry), its reader (round trips
 * and lines of older logs), the type list, and the bus (stamping, the
 * listeners get the struct). */
#include <criterion/criterion.h>

#include "src/events.h"
#include "state/store.h"
#include "tests/unit/helpers.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

/* The compact JSON of ev (caller frees). */
static char *
dump(const struct tend_event *ev)
{
  json_t *obj = events_to_json(ev);
  char *s = json_dumps(obj, JSON_COMPACT);
  json_decref(obj);
  return s;
}

/* Asserts that ev serialises to want, exactly. */
static void
assert_json(const struct tend_event *ev, const char *want)
{
  char *got = dump(ev);
  cr_assert_str_eq(got, want);
  free(got);
}

/* Reads text back into *ev (the object stays alive in *keep). */
static void
read_back(const char *text, struct tend_event *ev, json_t **keep)
{
  json_error_t e;
  *keep = json_loads(text, 0, &e);
  cr_assert_not_null(*keep, "%s: %s", text, e.text);
  cr_assert_eq(events_from_json(*keep, ev), 0, "%s", text);
}

/* Asserts that ev survives a trip through JSON unchanged. */
static void
assert_round_trip(const struct tend_event *ev)
{
  char *first = dump(ev), *second;
  struct tend_event back;
  json_t *keep;

  read_back(first, &back, &keep);
  second = dump(&back);
  cr_assert_str_eq(second, first);
  free(second);
  free(first);
  json_decref(keep);
}

Test(events_json, runner_exit_exact)
{
  struct tend_event ev = {.seq = 7,
                          .ts = 1763779200123,
                          .type = EVENTS_STATE,
                          .node = "api",
                          .runner = "api",
                          .kind = EVENTS_KIND_RUNNER,
                          .from.runner = FSM_RUNNING,
                          .to.runner = FSM_EXITED,
                          .event = "exit",
                          .run = 3,
                          .restarts = 1,
                          .reason = "exited with status 1",
                          .pid = 4242,
                          .has_status = 1,
                          .status = 1};

  assert_json(&ev, "{\"seq\":7,\"ts\":1763779200123,\"type\":\"state\","
                   "\"node\":\"api\",\"kind\":\"runner\",\"from\":\"running\","
                   "\"to\":\"exited\",\"event\":\"exit\",\"run\":3,"
                   "\"restarts\":1,\"runner\":\"api\",\"can\":{\"start\":true,"
                   "\"stop\":true,\"restart\":true,\"signal\":false},"
                   "\"reason\":\"exited with status 1\",\"pid\":4242,"
                   "\"status\":1}");
  assert_round_trip(&ev);
}

Test(events_json, status_zero_and_signal_are_kept_apart)
{
  struct tend_event ok = {.type = EVENTS_STATE,
                          .node = "job",
                          .kind = EVENTS_KIND_RUNNER,
                          .from.runner = FSM_RUNNING,
                          .to.runner = FSM_EXITED,
                          .event = "exit",
                          .has_status = 1};
  struct tend_event killed = ok;
  struct tend_event back;
  json_t *obj = events_to_json(&ok), *keep;
  char *s;

  cr_assert(json_is_integer(json_object_get(obj, "status")));
  cr_assert_eq(json_integer_value(json_object_get(obj, "status")), 0);
  cr_assert_null(json_object_get(obj, "signal"));
  json_decref(obj);

  killed.has_status = 0;
  killed.signal = SIGKILL;
  obj = events_to_json(&killed);
  cr_assert_str_eq(json_string_value(json_object_get(obj, "signal")), "KILL");
  cr_assert_null(json_object_get(obj, "status"));
  s = json_dumps(obj, JSON_COMPACT);
  json_decref(obj);
  read_back(s, &back, &keep);
  cr_assert_eq(back.signal, SIGKILL);
  cr_assert_eq(back.has_status, 0);
  free(s);
  json_decref(keep);
}

Test(events_json, group_transition_exact)
{
  struct tend_event ev = {.seq = 9,
                          .ts = 5,
                          .type = EVENTS_STATE,
                          .node = "web",
                          .kind = EVENTS_KIND_GROUP,
                          .from.group = SUP_FSM_STARTING,
                          .to.group = SUP_FSM_RUNNING,
                          .event = "started",
                          .restarts = 2};

  /* A group carries no run, no "can" and no runner field. */
  assert_json(&ev, "{\"seq\":9,\"ts\":5,\"type\":\"state\",\"node\":\"web\","
                   "\"kind\":\"group\",\"from\":\"starting\",\"to\":"
                   "\"running\",\"event\":\"started\",\"restarts\":2}");
  assert_round_trip(&ev);
}

Test(events_json, backoff_and_spawn_error)
{
  struct tend_event ev = {.type = EVENTS_STATE,
                          .node = "x",
                          .kind = EVENTS_KIND_RUNNER,
                          .from.runner = FSM_STARTING,
                          .to.runner = FSM_BACKOFF,
                          .event = "spawn_failed",
                          .run = 1,
                          .spawn_error = "no such file or directory",
                          .next_start_ms = 1000};
  json_t *obj = events_to_json(&ev);

  cr_assert_str_eq(json_string_value(json_object_get(obj, "spawn_error")),
                   "no such file or directory");
  cr_assert_eq(json_integer_value(json_object_get(obj, "next_start_ms")), 1000);
  cr_assert_null(json_object_get(obj, "pid"), "no run, no pid");
  json_decref(obj);
  assert_round_trip(&ev);
}

Test(events_json, probes_exact)
{
  struct tend_event failed = {.seq = 1,
                              .ts = 2,
                              .type = EVENTS_HEALTH_FAILED,
                              .node = "api",
                              .runner = "api",
                              .probe = "http",
                              .failures = 0,
                              .of = 3,
                              .error = "status 500",
                              .message = "m"};
  struct tend_event waiting = {.seq = 3,
                               .ts = 4,
                               .type = EVENTS_READY_WAITING,
                               .node = "db",
                               .runner = "db",
                               .check = "tcp",
                               .reason = "connection refused",
                               .message = "not ready: connection refused"};

  /* failures 0 is written: a count, not an absent field. */
  assert_json(&failed, "{\"seq\":1,\"ts\":2,\"type\":\"health_failed\","
                       "\"node\":\"api\",\"runner\":\"api\",\"probe\":"
                       "\"http\",\"failures\":0,\"of\":3,\"error\":"
                       "\"status 500\",\"message\":\"m\"}");
  assert_json(&waiting, "{\"seq\":3,\"ts\":4,\"type\":\"ready_waiting\","
                        "\"node\":\"db\",\"runner\":\"db\",\"reason\":"
                        "\"connection refused\",\"check\":\"tcp\","
                        "\"message\":\"not ready: connection refused\"}");
  assert_round_trip(&failed);
  assert_round_trip(&waiting);
}

Test(events_json, payloads_of_the_other_types)
{
  json_t *paths = json_pack("[s, s]", "a.c", "b.c");
  json_t *changes = json_pack("{s:[s], s:[], s:[], s:[], s:b}", "remove", "old",
                              "change", "group", "add", "root", 0);
  json_t *errors = json_pack("[s]", "tend.json:1:2: bad");
  json_t *pids = json_pack("[i, i]", 10, 11);
  struct tend_event evs[] = {
      {.type = EVENTS_WATCH_FIRED,
       .node = "w",
       .paths = paths,
       .total = 2,
       .action = "restart",
       .message = "2 path(s) changed"},
      {.type = EVENTS_WATCH_PAUSED,
       .node = "w",
       .paths = paths,
       .reason = "loop",
       .message = "m"},
      {.type = EVENTS_WATCH_OVERFLOW,
       .node = "w",
       .notice_kind = "overflow",
       .message = "m"},
      {.type = EVENTS_MEMORY_LIMIT,
       .node = "m",
       .runner = "m",
       .rss = 1 << 30,
       .max_memory = 1 << 20,
       .message = "m"},
      {.type = EVENTS_LOG_TRUNCATED,
       .runner = "events",
       .bytes = 12,
       .message = "m"},
      {.type = EVENTS_RECOVERED,
       .node = "r",
       .pgid = 77,
       .pids = pids,
       .message = "m"},
      {.type = EVENTS_RECOVERY_SKIPPED,
       .node = "r",
       .pgid = 78,
       .message = "m"},
      {.type = EVENTS_CONFIG_APPLIED,
       .hash = "abc",
       .changes = changes,
       .message = "config abc applied"},
      {.type = EVENTS_CONFIG_ERROR, .errors = errors, .message = "m"},
      {.type = EVENTS_DAEMON_STARTED, .message = "tend 1 on x"},
  };

  assert_json(&evs[2], "{\"seq\":0,\"ts\":0,\"type\":\"watch_overflow\","
                       "\"node\":\"w\",\"kind\":\"overflow\","
                       "\"message\":\"m\"}");
  assert_json(&evs[4], "{\"seq\":0,\"ts\":0,\"type\":\"log_truncated\","
                       "\"runner\":\"events\",\"bytes\":12,\"message\":\"m\"}");
  for (size_t i = 0; i < sizeof evs / sizeof *evs; i++)
    assert_round_trip(&evs[i]);
  json_decref(paths);
  json_decref(changes);
  json_decref(errors);
  json_decref(pids);
}

Test(events_json, reads_lines_of_older_logs)
{
  /* A line written before the struct (no "can", no "runner", keys in
   * another order) reads back with every field. */
  const char *old = "{\"seq\":12,\"ts\":99,\"type\":\"state\",\"node\":\"api\","
                    "\"kind\":\"runner\",\"from\":\"running\",\"to\":"
                    "\"exited\",\"event\":\"exit\",\"reason\":\"killed by "
                    "signal KILL\",\"pid\":4242,\"run\":3,\"signal\":\"KILL\"}";
  struct tend_event ev;
  json_t *keep;

  read_back(old, &ev, &keep);
  cr_assert_eq(ev.seq, 12);
  cr_assert_eq(ev.ts, 99);
  cr_assert_eq(ev.type, EVENTS_STATE);
  cr_assert_eq(ev.kind, EVENTS_KIND_RUNNER);
  cr_assert_eq(ev.from.runner, FSM_RUNNING);
  cr_assert_eq(ev.to.runner, FSM_EXITED);
  cr_assert_str_eq(ev.event, "exit");
  cr_assert_eq(ev.pid, 4242);
  cr_assert_eq(ev.run, 3);
  cr_assert_eq(ev.signal, SIGKILL);
  cr_assert_eq(ev.has_status, 0);
  cr_assert_null(ev.runner);
  json_decref(keep);
}

Test(events_json, refuses_unknown_types_and_states)
{
  struct tend_event ev;
  json_t *a = json_pack("{s:s}", "type", "no_such_type");
  json_t *b = json_pack("{s:s, s:s, s:s, s:s}", "type", "state", "kind",
                        "runner", "from", "running", "to", "sleeping");
  json_t *c = json_pack("{s:s, s:s, s:s, s:s}", "type", "state", "kind",
                        "group", "from", "running", "to", "ready");
  json_t *d = json_pack("{s:i}", "seq", 1);

  cr_assert_eq(events_from_json(a, &ev), -EINVAL);
  cr_assert_eq(events_from_json(b, &ev), -EINVAL);
  cr_assert_eq(events_from_json(c, &ev), -EINVAL, "ready is no group state");
  cr_assert_eq(events_from_json(d, &ev), -EINVAL);
  json_decref(a);
  json_decref(b);
  json_decref(c);
  json_decref(d);
}

Test(events_names, every_type_parses_back)
{
  for (int i = 0; i < EVENTS_N_TYPES; i++) {
    enum events_type t;
    const char *name = events_type_name((enum events_type)i);
    cr_assert_neq(strcmp(name, "?"), 0);
    cr_assert_eq(events_type_parse(name, &t), 0, "%s", name);
    cr_assert_eq((int)t, i);
  }
  cr_assert_str_eq(events_type_name(EVENTS_N_TYPES), "?");
}

static struct {
  int calls;
  uint64_t seq;
  enum events_type type;
  char node[16];
} heard;

/* A listener that remembers what it was given. */
static void
listen(void *ctx, const struct tend_event *ev)
{
  (void)ctx;
  heard.calls++;
  heard.seq = ev->seq;
  heard.type = ev->type;
  snprintf(heard.node, sizeof heard.node, "%s", ev->node ? ev->node : "");
}

Test(events_bus, emit_stamps_and_hands_the_struct_over)
{
  struct tend_event ev = {.type = EVENTS_GIVE_UP, .node = "g"};
  uint64_t first, second;

  events_init(NULL);
  events_listen(listen, NULL);
  first = events_emit(&ev);
  cr_assert_eq(ev.seq, first);
  cr_assert_gt(ev.ts, 0);
  cr_assert_eq(heard.calls, 1);
  cr_assert_eq(heard.seq, first);
  cr_assert_eq(heard.type, EVENTS_GIVE_UP);
  cr_assert_str_eq(heard.node, "g");
  second = events_note(EVENTS_PERSIST_OK, "n", "back after %d tries", 3);
  cr_assert_eq(second, first + 1);
  cr_assert_eq(events_last_seq(), second);
  cr_assert_eq(heard.type, EVENTS_PERSIST_OK);
  cr_assert_str_eq(heard.node, "n");
  events_reset();
}

/* A listener that emits as the "after" triggers do: announces a start
 * while the event that caused it is being emitted. */
static void
listen_and_emit(void *ctx, const struct tend_event *ev)
{
  (void)ctx;
  if (ev->type == EVENTS_STATE)
    events_note(EVENTS_TRIGGERED, "b", "b starts after a succeeded");
}

struct seen_lines {
  uint64_t seq[8];
  char type[8][32];
  size_t n;
};

static void
collect_line(void *ctx, uint64_t seq, const char *line, size_t len)
{
  struct seen_lines *s = ctx;
  json_error_t err;
  json_t *obj = json_loadb(line, len, 0, &err);
  const char *type = json_string_value(json_object_get(obj, "type"));

  if (s->n < 8) {
    s->seq[s->n] = seq;
    snprintf(s->type[s->n], sizeof s->type[0], "%s", type ? type : "?");
    s->n++;
  }
  json_decref(obj);
}

/* An event emitted from a listener lands in the log after the one that
 * caused it (the log refuses a seq older than its last one: the nested
 * event used to be written first, and the outer one was lost). */
Test(events_bus, an_event_emitted_by_a_listener_follows_its_cause)
{
  char dir[64];
  char *cause = NULL;
  struct store *log;
  struct tend_event exit_ev = {.type = EVENTS_STATE,
                               .node = "a",
                               .runner = "a",
                               .kind = EVENTS_KIND_RUNNER,
                               .from.runner = FSM_RUNNING,
                               .to.runner = FSM_EXITED,
                               .event = "exit",
                               .has_status = 1};
  struct seen_lines seen = {0};

  helpers_scratch_new(dir, sizeof dir, "events");
  log = store_open(dir, "events", 0, 0, &cause);
  cr_assert_not_null(log, "%s", cause ? cause : "");
  events_init(log);
  events_listen(listen_and_emit, NULL);
  cr_assert_eq(events_emit(&exit_ev), 1);
  cr_assert_eq(events_last_seq(), 2);
  cr_assert_eq(store_read_after(log, 0, 10, collect_line, &seen), 2);
  cr_assert_eq(seen.seq[0], 1);
  cr_assert_str_eq(seen.type[0], "state");
  cr_assert_eq(seen.seq[1], 2);
  cr_assert_str_eq(seen.type[1], "triggered");
  events_reset();
  store_close(log);
  helpers_rm_tree(dir);
}
