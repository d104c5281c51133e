/* fake_door: the coordination door and pubsub with canned answers, for
 * fuzz_routes only (see fake_door.h).
 *
 * It defines every function of src/tend.h's ui-facing half and every
 * function of src/pubsub.h, so that the linker never pulls the real
 * src/tend.o or src/pubsub.o out of the fuzz archive (which would bring
 * duplicate definitions). Answers follow the errno rules of src/tend.h
 * (-ENOENT, -EINVAL, -EBUSY), so every reply status the router can give
 * from them is one the fuzzer accepts. */
#include "tests/fuzz/fake_door.h"

#include "src/buf.h"
#include "src/config.h"
#include "src/pubsub.h"
#include "src/tend.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct fake_door door;
static int n_subs;

/* Sets the behaviour for the next request. */
void
fake_door_set(const struct fake_door *d)
{
  door = *d;
}

/* The name rule, written independently of routes_valid_name. */
void
fake_door_check_name(const char *where, const char *name)
{
  size_t n;

  if (!name)
    goto bad;
  for (n = 0; name[n]; n++) {
    char c = name[n];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
          (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.'))
      goto bad;
  }
  if (n == 0 || n > 128 || strstr(name, ".."))
    goto bad;
  return;
bad:
  fprintf(stderr, "fake_door: %s got the name \"%s\"\n", where,
          name ? name : "(null)");
  abort();
}

/* Returns 1 for the runners that exist. */
static int
is_runner(const char *name)
{
  return strcmp(name, "api") == 0 || strcmp(name, "a.b-c_d") == 0;
}

/* Returns 1 for the group that exists. */
static int
is_group(const char *name)
{
  return strcmp(name, "dev") == 0;
}

/* ------------------------------------------------------------- src/tend.h */

static const char *const cmd_names[] = {
#define X(N, S) S,
    TEND_CMD_MAP(X)
#undef X
};

const char *
tend_cmd_name(enum tend_cmd c)
{
  return (size_t)c < sizeof cmd_names / sizeof cmd_names[0] ? cmd_names[c]
                                                            : "?";
}

int
tend_cmd_parse(const char *s, enum tend_cmd *out)
{
  for (size_t i = 0; i < sizeof cmd_names / sizeof cmd_names[0]; i++)
    if (strcmp(s, cmd_names[i]) == 0) {
      *out = (enum tend_cmd)i;
      return 0;
    }
  return -EINVAL;
}

json_t *
tend_tree_json(void)
{
  return json_pack("{s:s,s:s,s:[{s:s,s:s}]}", "name", "dev", "kind", "group",
                   "children", "name", "api", "kind", "runner");
}

json_t *
tend_runner_json(const char *name)
{
  fake_door_check_name(__func__, name);
  if (!is_runner(name))
    return NULL;
  return json_pack("{s:s,s:s,s:n}", "name", name, "kind", "runner", "pid");
}

json_t *
tend_group_json(const char *name)
{
  fake_door_check_name(__func__, name);
  if (!is_group(name))
    return NULL;
  return json_pack("{s:s,s:s}", "name", name, "kind", "group");
}

int
tend_runner_cmd(const char *name, enum tend_cmd cmd, int signo, char **cause)
{
  fake_door_check_name(__func__, name);
  if ((cmd == TEND_CMD_SIGNAL) != (signo > 0)) {
    fprintf(stderr, "fake_door: %s with signal %d\n", tend_cmd_name(cmd),
            signo);
    abort();
  }
  if (!is_runner(name)) {
    *cause = strdup("no runner of that name");
    return -ENOENT;
  }
  if (door.cmd_result == -EBUSY)
    *cause = strdup("api is stopping");
  return door.cmd_result;
}

int
tend_group_restart(const char *name, char **cause)
{
  fake_door_check_name(__func__, name);
  if (!is_group(name)) {
    *cause = strdup("no group of that name");
    return -ENOENT;
  }
  return 0;
}

int
tend_group_start(const char *name, char **cause)
{
  fake_door_check_name(__func__, name);
  if (!is_group(name)) {
    *cause = strdup("no group of that name");
    return -ENOENT;
  }
  return 0;
}

int
tend_group_stop(const char *name, char **cause)
{
  fake_door_check_name(__func__, name);
  if (!is_group(name)) {
    *cause = strdup("no group of that name");
    return -ENOENT;
  }
  return 0;
}

int
tend_daemon_stop(const char *why)
{
  (void)why;
  return 0;
}

int
tend_reload(struct config_errors *errors)
{
  if (door.reload_result == -EINVAL) {
    config_errors_add(errors, "tend.json", 3, 5, "children[0].cmd", "missing");
    config_errors_add(errors, "tend.json", 9, 1, "x", "unknown key \"\\n\"");
  } else if (door.reload_result == -EBUSY) {
    config_errors_add(errors, "tend.json", 0, 0, NULL,
                      "a reload is already running");
  }
  return door.reload_result;
}

int
tend_runner_input(const char *name, const char *data, size_t len, char **cause)
{
  fake_door_check_name(__func__, name);
  (void)data;
  (void)len;
  if (!is_runner(name)) {
    *cause = strdup("no runner of that name");
    return -ENOENT;
  }
  *cause = strdup("no pty");
  return -EBUSY;
}

int
tend_runner_resize(const char *name, int cols, int rows, char **cause)
{
  fake_door_check_name(__func__, name);
  (void)cols;
  (void)rows;
  if (!is_runner(name)) {
    *cause = strdup("no runner of that name");
    return -ENOENT;
  }
  *cause = strdup("no pty");
  return -EBUSY;
}

int
tend_watch_resume(const char *name, char **cause)
{
  fake_door_check_name(__func__, name);
  if (!is_runner(name)) {
    *cause = strdup("no runner of that name");
    return -ENOENT;
  }
  return 0;
}

/* Items seq after+1 .. 5 (at most limit), like a small store. */
static json_t *
fake_items(uint64_t after, size_t limit, uint64_t *next)
{
  json_t *a = json_array();

  for (uint64_t s = after + 1; s <= 5 && json_array_size(a) < limit; s++)
    json_array_append_new(
        a, json_pack("{s:I,s:s}", "seq", (json_int_t)s, "data", "line\n"));
  *next = json_array_size(a) ? after + json_array_size(a) : after;
  return a;
}

int
tend_output_after(const char *name, uint64_t after, size_t limit,
                  size_t max_bytes, json_t **chunks, uint64_t *next)
{
  (void)max_bytes;
  fake_door_check_name(__func__, name);
  if (limit == 0 || limit > 10000) {
    fprintf(stderr, "fake_door: output limit %zu\n", limit);
    abort();
  }
  if (!is_runner(name))
    return -ENOENT;
  *chunks = fake_items(after, limit, next);
  return 0;
}

int
tend_events_after(uint64_t after, size_t limit, size_t max_bytes,
                  json_t **events, uint64_t *next)
{
  (void)max_bytes;
  if (limit == 0 || limit > 10000) {
    fprintf(stderr, "fake_door: events limit %zu\n", limit);
    abort();
  }
  *events = fake_items(after, limit, next);
  return 0;
}

int
tend_output_last_seq(const char *name, uint64_t *seq)
{
  fake_door_check_name(__func__, name);
  if (!is_runner(name))
    return -ENOENT;
  *seq = 5;
  return 0;
}

uint64_t
tend_events_last_seq(void)
{
  return 5;
}

void
tend_metrics_text(struct buf *out)
{
  buf_adds(out, "tend_runners{state=\"running\"} 1\n");
}

json_t *
tend_daemon_json(void)
{
  return json_pack("{s:s,s:i,s:s}", "version", "0.0-fuzz", "pid", 1, "config",
                   "/fuzz/tend.json");
}

/* ----------------------------------------------------------- src/pubsub.h */

struct pubsub_sub {
  char *topic;
  int left;     /* live items still to give */
  int overflow; /* a gap to report first */
  uint64_t seq;
  char json[64];
};

struct pubsub_sub *
pubsub_subscribe(const char *topic, size_t max_items, pubsub_notify_cb notify,
                 void *ctx)
{
  struct pubsub_sub *s = calloc(1, sizeof *s);

  (void)notify;
  (void)ctx;
  if (!s || max_items == 0)
    abort();
  /* "events", a lone star, "output/" + star (a prefix subscription, as
   * the tree cache takes) or "output/<name>" with a name a handler may
   * receive. */
  if (strncmp(topic, "output/", 7) == 0 && strcmp(topic + 7, "*") != 0)
    fake_door_check_name("pubsub_subscribe", topic + 7);
  else if (strcmp(topic, "events") != 0 && strcmp(topic, "*") != 0 &&
           strcmp(topic, "output/*") != 0)
    abort();
  s->topic = strdup(topic);
  s->left = door.live_items;
  s->overflow = door.live_overflow;
  s->seq = 5;
  n_subs++;
  return s;
}

void
pubsub_unsubscribe(struct pubsub_sub *sub)
{
  if (!sub)
    return;
  n_subs--;
  free(sub->topic);
  free(sub);
}

void
pubsub_publish(const char *topic, uint64_t seq, const char *json, size_t len)
{
  (void)topic;
  (void)seq;
  (void)json;
  (void)len;
}

int
pubsub_take(struct pubsub_sub *sub, struct pubsub_item *item)
{
  if (sub->overflow) {
    sub->overflow = 0;
    item->topic = sub->topic;
    item->seq = sub->seq + 1;
    return -EOVERFLOW;
  }
  if (sub->left <= 0)
    return 0;
  sub->left--;
  sub->seq++;
  item->topic = sub->topic;
  item->seq = sub->seq;
  item->len = (size_t)snprintf(sub->json, sizeof sub->json,
                               "{\"seq\":%llu,\"data\":\"x\"}",
                               (unsigned long long)sub->seq);
  item->json = sub->json;
  return 1;
}

size_t
pubsub_count(void)
{
  return (size_t)n_subs;
}

void
pubsub_shutdown(void)
{
}
