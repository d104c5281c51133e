/* Unit tests for the probes' pure parts: runners/procnet.c's parsers of
 * /proc/net/tcp{,6} and /proc/PID/stat (on captured text), and the
 * "ready" / "health" keys of src/config.c (values, defaults, positioned
 * errors, suggestions), and state/view.c's folding of the probes' events. */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "runners/probe.h"
#include "runners/procnet.h"
#include "src/config.h"
#include "state/view.h"

/* ------------------------------------------------------------------ */
/* /proc/net/tcp                                                         */

/* Captured from a Debian 12 machine: a header, a listener on 0.0.0.0:2024
 * (0x07E8), an established loopback connection, a listener on
 * 127.0.0.1:6379 (0x18EB) and a TIME_WAIT with inode 0 on the same port. */
static const char TCP4[] =
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when "
    "retrnsmt   uid  timeout inode                                         "
    "            \n"
    "   0: 00000000:07E8 00000000:0000 0A 00000000:00000000 00:00000000 "
    "00000000     0        0 1642 1 00000000107d3ce2 100 0 0 10 0         "
    "             \n"
    "   1: 0100007F:857F 0100007F:93AE 06 00000000:00000000 03:0000051E "
    "00000000     0        0 0 3 000000003f77a60e                         "
    "             \n"
    "   2: 0100007F:18EB 00000000:0000 0A 00000000:00000000 00:00000000 "
    "00000000  1000        0 424242 1 0000000000000000 100 0 0 10 0\n"
    "   3: 0100007F:18EB 0100007F:D2F0 06 00000000:00000000 03:00001770 "
    "00000000     0        0 0 3 0000000000000000\n";

/* tcp6: a dual-stack listener on [::]:6379 and one on [::1]:8080. */
static const char TCP6[] =
    "  sl  local_address                         remote_address           "
    "             st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout "
    "inode\n"
    "   0: 00000000000000000000000000000000:18EB "
    "00000000000000000000000000000000:0000 0A 00000000:00000000 "
    "00:00000000 00000000  1000        0 515151 1 0000000000000000 100 0 0 "
    "10 0\n"
    "   1: 00000000000000000000000001000000:1F90 "
    "00000000000000000000000000000000:0000 0A 00000000:00000000 "
    "00:00000000 00000000  1000        0 616161 1 0000000000000000 100 0 0 "
    "10 0\n";

Test(procnet, parses_a_listening_line)
{
  struct procnet_sock s;
  cr_assert_eq(procnet_parse_line("   2: 0100007F:18EB 00000000:0000 0A "
                                  "00000000:00000000 00:00000000 00000000  "
                                  "1000        0 424242 1 0000 100 0 0 10 0",
                                  &s),
               0);
  cr_expect_eq(s.port, 6379);
  cr_expect_eq(s.state, PROCNET_LISTEN);
  cr_expect_eq(s.inode, 424242UL);
}

Test(procnet, parses_tcp6_and_refuses_garbage)
{
  struct procnet_sock s;
  cr_assert_eq(procnet_parse_line(strchr(TCP6, '\n') + 1, &s), 0);
  cr_expect_eq(s.port, 6379);
  cr_expect_eq(s.inode, 515151UL);
  cr_expect_eq(procnet_parse_line(TCP4, &s), -EINVAL, "the header");
  cr_expect_eq(procnet_parse_line("", &s), -EINVAL);
  cr_expect_eq(procnet_parse_line("   0: zz:07E8 00000000:0000 0A", &s),
               -EINVAL);
  cr_expect_eq(procnet_parse_line("   0: 0100007F:07E8", &s), -EINVAL);
  cr_expect_eq(procnet_parse_line("   0: 0100:07E8 00000000:0000 0A "
                                  "0:0 0:0 0 0 0 5",
                                  &s),
               -EINVAL, "an address of neither 8 nor 32 digits");
  cr_expect_eq(procnet_parse_line("   0: 0100007F:FFFFF 00000000:0000 0A "
                                  "0:0 0:0 0 0 0 5",
                                  &s),
               -EINVAL, "a port past 65535");
}

Test(procnet, collects_listening_inodes_of_a_port)
{
  unsigned long inodes[4];
  size_t n = procnet_listen_inodes(TCP4, 6379, inodes, 0, 4);
  cr_assert_eq(n, 1, "the TIME_WAIT line is not a listener");
  cr_expect_eq(inodes[0], 424242UL);
  n = procnet_listen_inodes(TCP6, 6379, inodes, n, 4);
  cr_assert_eq(n, 2);
  cr_expect_eq(inodes[1], 515151UL);
  cr_expect_eq(procnet_listen_inodes(TCP4, 8080, inodes, 0, 4), 0);
  cr_expect_eq(procnet_listen_inodes(TCP6, 8080, inodes, 0, 4), 1);
  cr_expect_eq(procnet_listen_inodes(TCP4, 2024, inodes, 0, 4), 1);
  cr_expect_eq(procnet_listen_inodes(TCP4, 2024, inodes, 0, 0), 0,
               "never past max");
  cr_expect_eq(procnet_listen_inodes("", 2024, inodes, 0, 4), 0);
  cr_expect_eq(procnet_listen_inodes("no newline at all", 1, inodes, 0, 4), 0);
}

Test(procnet, parses_stat_with_awkward_names)
{
  int pgrp = 0;
  char comm[16];
  cr_assert_eq(procnet_parse_stat("29919 (cat) R 29913 29913 12073 0 -1 "
                                  "4194304 101 0",
                                  &pgrp, comm, sizeof comm),
               0);
  cr_expect_eq(pgrp, 29913);
  cr_expect_str_eq(comm, "cat");
  cr_assert_eq(procnet_parse_stat("7 (a) b (c)) S 1 4242 4242 0", &pgrp, comm,
                                  sizeof comm),
               0, "a name with spaces and parentheses");
  cr_expect_eq(pgrp, 4242);
  cr_expect_str_eq(comm, "a) b (c)");
  cr_assert_eq(procnet_parse_stat("8 (redis-server-long-name) S 1 77 77", &pgrp,
                                  comm, 6),
               0);
  cr_expect_str_eq(comm, "redis", "cut to the buffer");
  cr_expect_eq(procnet_parse_stat("8 redis S 1 77", &pgrp, comm, sizeof comm),
               -EINVAL);
  cr_expect_eq(procnet_parse_stat("8 (x) S", &pgrp, comm, sizeof comm),
               -EINVAL);
  cr_expect_eq(procnet_parse_stat("", &pgrp, comm, sizeof comm), -EINVAL);
}

Test(procnet, socket_links)
{
  cr_expect_eq(procnet_socket_inode("socket:[424242]"), 424242UL);
  cr_expect_eq(procnet_socket_inode("socket:[]"), 0);
  cr_expect_eq(procnet_socket_inode("socket:[12"), 0);
  cr_expect_eq(procnet_socket_inode("socket:[12]x"), 0);
  cr_expect_eq(procnet_socket_inode("pipe:[12]"), 0);
  cr_expect_eq(procnet_socket_inode("/dev/null"), 0);
  cr_expect_eq(procnet_socket_inode("anon_inode:[eventpoll]"), 0);
}

Test(procnet, check_without_a_group_trusts_the_connect)
{
  struct procnet_cache cache = PROCNET_CACHE_ZERO;
  char why[64] = "";
  cr_expect_eq(procnet_check(1, 0, &cache, why, sizeof why), 1);
}

/* ------------------------------------------------------------------ */
/* Config: ready.http, health                                            */

/* Returns text with every ' turned into " (new). */
static char *
J(const char *text)
{
  char *s = strdup(text);
  for (char *p = s; *p; p++)
    if (*p == '\'')
      *p = '"';
  return s;
}

/* Loads a J() document; returns rc. */
static int
load_j(const char *text, struct config **out, char **errors)
{
  char *s = J(text);
  int rc =
      config_load_buffer(s, strlen(s), "tend.json", "/srv/app", out, errors);
  free(s);
  return rc;
}

/* Asserts that a J() document fails with exactly these error lines. */
static void
expect_errors(const char *text, const char *want)
{
  struct config *c = NULL;
  char *err = NULL;
  int rc = load_j(text, &c, &err);
  cr_assert_eq(rc, -EINVAL, "expected -EINVAL, got %d", rc);
  cr_assert_not_null(err);
  cr_assert_str_eq(err, want, "for %s\n--- got:\n%s--- want:\n%s", text, err,
                   want);
  free(err);
}

/* Loads a valid J() document. */
static struct config *
must_j(const char *text)
{
  struct config *c = NULL;
  char *err = NULL;
  int rc = load_j(text, &c, &err);
  cr_assert_eq(rc, 0, "load failed (%d):\n%s", rc, err ? err : "");
  return c;
}

Test(probe_config, ready_http_and_health_values)
{
  struct config *c = must_j(
      "{'children': [\n"
      " {'name': 'a', 'cmd': 'x',\n"
      "  'ready': {'http': 'http://127.0.0.1:8080/health', 'status': [200, "
      "204]},\n"
      "  'health': {'http': 'https://localhost/h', 'status': 200,\n"
      "             'every_s': 0.5, 'timeout_s': 1, 'failures': 2,\n"
      "             'initial_delay_s': 3}},\n"
      " {'name': 'b', 'cmd': 'x', 'health': {'tcp': 6379}},\n"
      " {'name': 'c', 'cmd': 'x', 'health': {'exec': ['true'],\n"
      "                                      'initial_delay_s': 0}},\n"
      " {'name': 'd', 'cmd': 'x', 'ready': {'http': 'http://[::1]:9/'}}]}");
  const struct config_node *a = config_find(c, "a");
  const struct config_node *b = config_find(c, "b");
  const struct config_node *cc = config_find(c, "c");
  const struct config_node *d = config_find(c, "d");

  cr_expect_eq(a->ready, CONFIG_READY_HTTP);
  cr_expect_str_eq(a->ready_url, "http://127.0.0.1:8080/health");
  cr_assert_eq(a->ready_status.n_codes, 2);
  cr_expect_eq(a->ready_status.codes[1], 204);
  cr_expect_eq(a->health.kind, CONFIG_PROBE_HTTP);
  cr_expect_str_eq(a->health.url, "https://localhost/h");
  cr_expect_eq(a->health.status.n_codes, 1);
  cr_expect_eq(a->health.every_ms, 500);
  cr_expect_eq(a->health.timeout_ms, 1000);
  cr_expect_eq(a->health.failures, 2);
  cr_expect_eq(a->health.initial_delay_ms, 3000);

  cr_expect_eq(b->health.kind, CONFIG_PROBE_TCP);
  cr_expect_eq(b->health.port, 6379);
  cr_expect_eq(b->health.every_ms, 10000, "defaults");
  cr_expect_eq(b->health.timeout_ms, 2000);
  cr_expect_eq(b->health.failures, 3);
  cr_expect_eq(b->health.initial_delay_ms, 0);
  cr_expect_eq(b->ready, CONFIG_READY_NONE);

  cr_expect_eq(cc->health.kind, CONFIG_PROBE_EXEC);
  cr_expect_str_eq(cc->health.argv[0], "true");
  cr_expect_null(cc->health.argv[1]);

  cr_expect_eq(d->ready, CONFIG_READY_HTTP);
  cr_expect_eq(d->ready_status.n_codes, 0, "the default range");
  cr_expect_eq(d->health.kind, CONFIG_PROBE_NONE);
  config_free(c);
}

Test(probe_config, status_ranges)
{
  struct config_http_status def = {NULL, 0};
  int codes[] = {204, 418};
  struct config_http_status two = {codes, 2};

  cr_expect(config_http_status_ok(&def, 200));
  cr_expect(config_http_status_ok(&def, 302));
  cr_expect(config_http_status_ok(&def, 399));
  cr_expect(!config_http_status_ok(&def, 199));
  cr_expect(!config_http_status_ok(&def, 400));
  cr_expect(!config_http_status_ok(&def, 500));
  cr_expect(config_http_status_ok(NULL, 200));
  cr_expect(config_http_status_ok(&two, 418));
  cr_expect(!config_http_status_ok(&two, 200));
  cr_expect_str_eq(config_probe_name(CONFIG_PROBE_EXEC), "exec");
  cr_expect_str_eq(config_ready_name(CONFIG_READY_HTTP), "http");
}

Test(probe_config, ready_http_errors)
{
  expect_errors(
      "{'children': [\n"
      " {'name': 'a', 'cmd': 'x', 'ready': {'http': 'ftp://h/x'}},\n"
      " {'name': 'b', 'cmd': 'x', 'ready': {'http': 'localhost:80/x'}},\n"
      " {'name': 'c', 'cmd': 'x', 'ready': {'http': 'http://'}},\n"
      " {'name': 'd', 'cmd': 'x', 'ready': {'http': 8080}},\n"
      " {'name': 'e', 'cmd': 'x', 'ready': {'tcp': 1, 'status': 200}},\n"
      " {'name': 'f', 'cmd': 'x', 'ready': {'http': 'http://h/', 'status': "
      "[99, 200, '204']}},\n"
      " {'name': 'g', 'cmd': 'x', 'ready': {'http': 'http://h/', 'status': "
      "[]}},\n"
      " {'name': 'h', 'cmd': 'x', 'ready': {'http': 'http://h/', 'tcp': 1}},\n"
      " {'name': 'i', 'cmd': 'x', 'ready': {'http': 'http://h/', 'stauts': "
      "200}}]}",
      "tend.json:2:46: children[0].ready.http: expected an http:// "
      "or https:// URL, not \"ftp://h/x\"\n"
      "tend.json:3:46: children[1].ready.http: expected an http:// "
      "or https:// URL, not \"localhost:80/x\"\n"
      "tend.json:4:46: children[2].ready.http: invalid URL "
      "\"http://\": No host part in the URL\n"
      "tend.json:5:46: children[3].ready.http: expected a string\n"
      "tend.json:6:48: children[4].ready.status: \"status\" applies "
      "to an \"http\" probe only\n"
      "tend.json:7:70: children[5].ready.status[0]: expected an HTTP "
      "status between 100 and 599\n"
      "tend.json:7:79: children[5].ready.status[2]: expected an HTTP "
      "status between 100 and 599\n"
      "tend.json:8:69: children[6].ready.status: expected an HTTP "
      "status or a non-empty array of them\n"
      "tend.json:9:59: children[7].ready.tcp: only one of \"tcp\", "
      "\"exec\", \"log\" or \"http\" may be set (\"http\" is "
      "already)\n"
      "tend.json:10:59: children[8].ready.stauts: unknown key "
      "\"stauts\" (did you mean \"status\"?)\n");
}

Test(probe_config, health_errors)
{
  expect_errors(
      "{'children': [\n"
      " {'name': 'a', 'cmd': 'x', 'health': {}},\n"
      " {'name': 'b', 'cmd': 'x', 'health': {'tcp': 1, 'exec': 'true'}},\n"
      " {'name': 'c', 'cmd': 'x', 'health': {'tcp': 70000, 'every_s': 0,\n"
      "   'timeout_s': -1, 'failures': 0, 'initial_delay_s': -1}},\n"
      " {'name': 'd', 'cmd': 'x', 'health': {'exec': [], 'status': 200}},\n"
      " {'name': 'e', 'cmd': 'x', 'health': {'http': 'gopher://x/'}},\n"
      " {'name': 'f', 'cmd': 'x', 'health': {'tcp': 1, 'evry_s': 1,\n"
      "   'failure': 2}},\n"
      " {'name': 'g', 'cmd': 'x', 'health': 'http://h/'},\n"
      " {'name': 'h', 'children': [], 'health': {'tcp': 1}}]}",
      "tend.json:2:38: children[0].health: expected exactly one of "
      "\"http\", \"tcp\" or \"exec\"\n"
      "tend.json:3:49: children[1].health.exec: only one of "
      "\"http\", \"tcp\" or \"exec\" may be set (\"tcp\" is "
      "already)\n"
      "tend.json:4:46: children[2].health.tcp: expected an integer "
      "between 1 and 65535\n"
      "tend.json:4:64: children[2].health.every_s: expected a number "
      "> 0\n"
      "tend.json:5:17: children[2].health.timeout_s: expected a "
      "number > 0\n"
      "tend.json:5:33: children[2].health.failures: expected an "
      "integer between 1 and 1000000\n"
      "tend.json:5:55: children[2].health.initial_delay_s: expected "
      "a number >= 0\n"
      "tend.json:6:47: children[3].health.exec: expected a non-empty "
      "string or a non-empty array of strings\n"
      "tend.json:6:51: children[3].health.status: \"status\" applies "
      "to an \"http\" probe only\n"
      "tend.json:7:47: children[4].health.http: expected an http:// "
      "or https:// URL, not \"gopher://x/\"\n"
      "tend.json:8:49: children[5].health.evry_s: unknown key "
      "\"evry_s\" (did you mean \"every_s\"?)\n"
      "tend.json:9:4: children[5].health.failure: unknown key "
      "\"failure\" (did you mean \"failures\"?)\n"
      "tend.json:10:38: children[6].health: expected an object\n"
      "tend.json:11:32: children[7].health: \"health\" is a runner "
      "key, but this node is a group (it has \"children\")\n");
}

/* ------------------------------------------------------------------ */
/* The read model folds the probes' events                               */

/* Applies one J() event to v. */
static void
apply_j(struct view *v, const char *text)
{
  char *s = J(text);
  json_error_t e;
  json_t *ev = json_loads(s, 0, &e);
  struct tend_event te;
  cr_assert_not_null(ev, "%s: %s", s, e.text);
  cr_assert_eq(events_from_json(ev, &te), 0, "%s", s);
  view_apply(v, &te);
  json_decref(ev);
  free(s);
}

Test(probe_view, waiting_and_health_follow_the_run)
{
  struct view *v = view_new();
  const json_t *st, *h;

  apply_j(v, "{'type': 'ready_waiting', 'node': 'web', 'reason': 'x'}");
  cr_expect_null(view_status(v, "web"), "no node before its first state");
  apply_j(v, "{'type': 'state', 'node': 'web', 'from': 'stopped', "
             "'to': 'starting', 'event': 'start', 'ts': 1}");
  apply_j(v, "{'type': 'ready_waiting', 'node': 'web', 'ts': 2, "
             "'reason': 'port 1 is held by another process'}");
  st = view_status(v, "web");
  cr_expect_str_eq(json_string_value(json_object_get(st, "waiting")),
                   "port 1 is held by another process");

  apply_j(v, "{'type': 'health_failed', 'node': 'web', 'ts': 3, "
             "'failures': 1, 'of': 3, 'error': 'GET u answered 500'}");
  h = json_object_get(view_status(v, "web"), "health");
  cr_expect_str_eq(json_string_value(json_object_get(h, "state")), "failing");
  cr_expect_eq(json_integer_value(json_object_get(h, "failures")), 1);
  cr_expect_eq(json_integer_value(json_object_get(h, "of")), 3);
  cr_expect_str_eq(json_string_value(json_object_get(h, "last_error")),
                   "GET u answered 500");

  apply_j(v, "{'type': 'state', 'node': 'web', 'from': 'starting', "
             "'to': 'ready', 'event': 'ready_ok', 'ts': 4}");
  st = view_status(v, "web");
  cr_expect_null(json_object_get(st, "waiting"), "cleared by a transition");
  cr_expect_not_null(json_object_get(st, "health"), "kept within the run");

  apply_j(v, "{'type': 'health_ok', 'node': 'web', 'ts': 5, "
             "'failures': 0, 'of': 3}");
  h = json_object_get(view_status(v, "web"), "health");
  cr_expect_str_eq(json_string_value(json_object_get(h, "state")), "ok");
  cr_expect_str_eq(json_string_value(json_object_get(h, "last_error")),
                   "GET u answered 500", "the last error stays visible");

  apply_j(v, "{'type': 'unhealthy', 'node': 'web', 'ts': 6, "
             "'failures': 3, 'of': 3, 'error': 'e'}");
  h = json_object_get(view_status(v, "web"), "health");
  cr_expect_str_eq(json_string_value(json_object_get(h, "state")), "unhealthy");
  apply_j(v, "{'type': 'state', 'node': 'web', 'from': 'ready', "
             "'to': 'exited', 'event': 'exit', 'ts': 7}");
  cr_expect_not_null(json_object_get(view_status(v, "web"), "health"));
  apply_j(v, "{'type': 'state', 'node': 'web', 'from': 'backoff', "
             "'to': 'starting', 'event': 'backoff_done', 'ts': 8}");
  cr_expect_null(json_object_get(view_status(v, "web"), "health"),
                 "a new run has no verdict yet");
  view_free(v);
}

/* ---- runners/probe.c: the steps ready.c and health.c share ---- */

Test(probe, http_why_says_the_status_or_the_error)
{
  char buf[128];

  probe_http_why(buf, sizeof buf, "http://127.0.0.1:1/", 503, NULL);
  cr_assert_str_eq(buf, "GET http://127.0.0.1:1/ answered 503");
  probe_http_why(buf, sizeof buf, "http://127.0.0.1:1/", 0,
                 "Connection refused");
  cr_assert_str_eq(buf, "GET http://127.0.0.1:1/: Connection refused");
}

static int64_t exec_status = -1;
static int exec_signal = -1;

/* Keeps how the probe's command ended. */
static void
on_probe_exit(uv_process_t *proc, int64_t status, int term_signal)
{
  exec_status = status;
  exec_signal = term_signal;
  uv_close((uv_handle_t *)proc, NULL);
}

Test(probe, exec_runs_a_command_in_its_cwd)
{
  uv_loop_t loop;
  uv_process_t proc;
  char *argv[] = {"/bin/sh", "-c", "test \"$(pwd)\" = /tmp && exit 3", NULL};

  cr_assert_eq(uv_loop_init(&loop), 0);
  cr_assert_eq(probe_exec(&loop, &proc, argv, "/tmp", UV_PROCESS_DETACHED,
                          on_probe_exit),
               0);
  uv_run(&loop, UV_RUN_DEFAULT);
  cr_assert_eq(exec_status, 3);
  cr_assert_eq(exec_signal, 0);
  cr_assert_eq(uv_loop_close(&loop), 0);
}

Test(probe, exec_of_a_missing_command_fails_at_once)
{
  uv_loop_t loop;
  uv_process_t proc;
  char *argv[] = {"/nonexistent/tend-probe", NULL};

  cr_assert_eq(uv_loop_init(&loop), 0);
  cr_assert_eq(probe_exec(&loop, &proc, argv, "/tmp", 0, on_probe_exit),
               UV_ENOENT);
  uv_close((uv_handle_t *)&proc, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  cr_assert_eq(uv_loop_close(&loop), 0);
}

static int connect_status = 1;

/* Keeps how the connect ended. */
static void
on_probe_connect(uv_connect_t *req, int status)
{
  connect_status = status;
  uv_close((uv_handle_t *)req->handle, NULL);
}

/* A connection came: the test only needs the connect to succeed. */
static void
on_probe_listen(uv_stream_t *server, int status)
{
  (void)server;
  (void)status;
}

Test(probe, connect_reaches_a_loopback_listener)
{
  uv_loop_t loop;
  uv_tcp_t server, client;
  uv_connect_t req;
  struct sockaddr_in addr;
  struct sockaddr_storage bound;
  int len = sizeof bound;

  cr_assert_eq(uv_loop_init(&loop), 0);
  uv_tcp_init(&loop, &server);
  uv_ip4_addr("127.0.0.1", 0, &addr);
  cr_assert_eq(uv_tcp_bind(&server, (struct sockaddr *)&addr, 0), 0);
  cr_assert_eq(uv_listen((uv_stream_t *)&server, 1, on_probe_listen), 0);
  uv_tcp_getsockname(&server, (struct sockaddr *)&bound, &len);
  cr_assert_eq(probe_connect(&loop, &client, &req,
                             ntohs(((struct sockaddr_in *)&bound)->sin_port),
                             on_probe_connect),
               0);
  while (connect_status == 1)
    uv_run(&loop, UV_RUN_ONCE);
  cr_assert_eq(connect_status, 0);
  uv_close((uv_handle_t *)&server, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  cr_assert_eq(uv_loop_close(&loop), 0);
}
