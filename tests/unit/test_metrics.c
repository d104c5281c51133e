/* Unit tests for src/metrics.c: the text format (HELP/TYPE, label
 * escaping, number formatting), parsing /proc/<pid>/stat and /proc/stat,
 * and the watch counters folded from events. */
#include <criterion/criterion.h>

#include <errno.h>

#include <stdlib.h>
#include <string.h>

#include "src/buf.h"
#include "src/config.h"
#include "src/events.h"
#include "src/metrics.h"
#include "src/metrics_tree.h"
#include "src/registry.h"
#include "state/view.h"

Test(metrics, family_and_samples)
{
  struct buf out = BUF_ZERO;
  char *buf;

  metrics_family(&out, "tend_x_total", "counter",
                 "Things, with a \\ and a\nnewline.");
  metrics_sample(&out, "tend_x_total",
                 (const char *[]){"runner", "a\"b\\c\nd", "state", "ok", NULL},
                 42);
  metrics_sample(&out, "tend_x_total", NULL, 0.25);
  metrics_sample(&out, "tend_x_total", (const char *[]){NULL},
                 12345678901234.0);
  buf = out.data;
  cr_assert_str_eq(buf,
                   "# HELP tend_x_total Things, with a \\\\ and a\\nnewline.\n"
                   "# TYPE tend_x_total counter\n"
                   "tend_x_total{runner=\"a\\\"b\\\\c\\nd\",state=\"ok\"} 42\n"
                   "tend_x_total 0.25\n"
                   "tend_x_total 12345678901234\n");
  cr_assert_eq(out.len, strlen(buf));
  free(buf);
}

Test(metrics, escape_label)
{
  char *e = metrics_escape_label("plain-name_1.x");
  cr_assert_str_eq(e, "plain-name_1.x");
  free(e);
  e = metrics_escape_label("\"\\\n");
  cr_assert_str_eq(e, "\\\"\\\\\\n");
  free(e);
}

Test(metrics, parse_stat)
{
  /* A command name with spaces and a ')' inside. */
  const char *stat =
      "4242 (te nd) x) S 1 4242 4242 0 -1 4194560 900 0 0 0 "
      "250 150 0 0 20 0 3 0 5000 104857600 2560 18446744073709551615 "
      "1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";
  struct metrics_process p = {0};

  cr_assert_eq(metrics_parse_stat(stat, 100, 4096, 1700000000.0, &p), 0);
  cr_assert_float_eq(p.cpu_seconds, 4.0, 1e-9, "(250 + 150) / 100");
  cr_assert_float_eq(p.start_time, 1700000050.0, 1e-6, "btime + 5000/100");
  cr_assert_eq(p.virtual_bytes, 104857600);
  cr_assert_eq(p.resident_bytes, 2560ull * 4096);
  cr_assert_eq(metrics_parse_stat("garbage", 100, 4096, 0, &p), -EINVAL);
  cr_assert_eq(metrics_parse_stat("1 (x) S 1 2", 100, 4096, 0, &p), -EINVAL);
  cr_assert_eq(metrics_parse_stat(NULL, 100, 4096, 0, &p), -EINVAL);
}

Test(metrics, parse_btime)
{
  cr_assert_float_eq(
      metrics_parse_btime("cpu  1 2 3\nintr 5\nbtime 1712345678\n"
                          "processes 9\n"),
      1712345678.0, 1e-6);
  cr_assert_float_eq(metrics_parse_btime("cpu 1\n"), 0.0, 1e-9);
}

Test(metrics, process_read_is_sane)
{
  struct metrics_process p;
  struct buf out = BUF_ZERO;
  char *buf;

  metrics_process_read(&p);
  cr_assert_gt(p.resident_bytes, 0);
  cr_assert_geq(p.virtual_bytes, p.resident_bytes);
  cr_assert_geq(p.open_fds, 3);
  cr_assert_gt(p.start_time, 1.0e9);
  metrics_process_text(&out, &p);
  buf = out.data;
  cr_assert_not_null(strstr(buf, "# TYPE process_cpu_seconds_total counter\n"));
  cr_assert_not_null(strstr(buf, "\nprocess_open_fds "));
  cr_assert_not_null(strstr(buf, "\nprocess_max_fds "));
  cr_assert_not_null(strstr(buf, "\nprocess_start_time_seconds "));
  free(buf);
}

Test(metrics, watch_counts_from_events)
{
  uint64_t fires, pauses;
  struct tend_event fire_ev = {.type = EVENTS_WATCH_FIRED, .node = "api"};
  struct tend_event pause_ev = {.type = EVENTS_WATCH_PAUSED, .node = "api"};
  struct tend_event other_ev = {.type = EVENTS_STATE, .node = "api"};
  const struct tend_event *fire = &fire_ev, *pause = &pause_ev;
  const struct tend_event *other = &other_ev;

  metrics_note_event(NULL, fire);
  metrics_note_event(NULL, fire);
  metrics_note_event(NULL, pause);
  metrics_note_event(NULL, other);
  metrics_watch_counts("api", &fires, &pauses);
  cr_assert_eq(fires, 2);
  cr_assert_eq(pauses, 1);
  metrics_watch_counts("web", &fires, &pauses);
  cr_assert_eq(fires, 0);
  cr_assert_eq(pauses, 0);
  metrics_reset();
  metrics_watch_counts("api", &fires, &pauses);
  cr_assert_eq(fires, 0);
}

/* The families over the tree come in a fixed order, each with one sample
 * set per node of its kind, from the read model (no supervisor, no output
 * log yet: restarts from the view, output numbers 0). */
Test(metrics, tree_families_follow_the_read_model)
{
  const char *text = "{\"name\": \"all\", \"children\": ["
                     "{\"name\": \"web\", \"cmd\": \"x\"},"
                     "{\"name\": \"db\", \"cmd\": \"y\"}]}";
  struct config *cfg = NULL;
  char *errors = NULL, *buf;
  struct buf out = BUF_ZERO;
  struct view *view = view_new();
  struct registry *reg = registry_new();
  json_t *saved = json_pack("{s:i}", "restarts", 4);
  struct metrics_tree src;
  const char *a, *b;

  cr_assert_eq(config_load_buffer(text, strlen(text), "tend.json", "/tmp", &cfg,
                                  &errors),
               0, "%s", errors ? errors : "");
  view_restore(view, "web", saved);
  src = (struct metrics_tree){"9.9", cfg->root, view, reg, NULL, NULL, NULL};
  metrics_tree_text(&out, &src);
  buf = out.data;
  cr_assert_not_null(strstr(buf, "tend_build_info{version=\"9.9\"} 1\n"));
  cr_assert_not_null(
      strstr(buf, "tend_runner_state{runner=\"web\",state=\"running\"} 0\n"));
  cr_assert_not_null(
      strstr(buf, "tend_runner_state{runner=\"db\",state=\"stopped\"} 1\n"));
  cr_assert_not_null(
      strstr(buf, "tend_runner_restarts_total{runner=\"web\"} 4\n"));
  cr_assert_not_null(
      strstr(buf, "tend_output_chunks_total{runner=\"db\"} 0\n"));
  cr_assert_not_null(
      strstr(buf, "tend_group_restarts_total{group=\"all\"} 0\n"));
  /* Runners without a watch have no watch samples. */
  cr_assert_null(strstr(buf, "tend_watch_fires_total{"));
  /* Families keep their samples together, in order. */
  a = strstr(buf, "# TYPE tend_runner_state gauge");
  b = strstr(buf, "# TYPE tend_runner_restarts_total counter");
  cr_assert(a && b && a < b);
  a = strstr(buf, "# TYPE tend_output_backlog_bytes gauge");
  b = strstr(buf, "# TYPE tend_events_total counter");
  cr_assert(a && b && a < b);
  cr_assert_not_null(strstr(buf, "# TYPE process_open_fds gauge"));
  cr_assert_eq(out.len, strlen(buf));
  free(buf);
  json_decref(saved);
  registry_free(reg);
  view_free(view);
  config_free(cfg);
}
