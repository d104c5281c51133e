/* Unit tests for src/sup_policy.c: the OTP restart decision (strategy x
 * restart type x exit kind, table-driven at every child position), the
 * intensity window at its edges, escalation through two supervisor levels,
 * the backoff sequence and the classification of exits. */
#include <criterion/criterion.h>

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>

#include "src/sup_policy.h"
#include "tests/unit/helpers.h"

TestSuite(sup_decide, .fini = helpers_leak_check);
TestSuite(sup_window, .fini = helpers_leak_check);

/* Where the ends of an expected restart range lie. */
enum pos { P_EXITED, P_ZERO, P_LAST };

struct row {
  enum config_strategy strategy;
  enum config_restart restart;
  enum sup_exit exit;
  enum sup_verdict verdict;
  enum pos first, last; /* meaningful for RESTART only */
};

#define OFO CONFIG_STRATEGY_ONE_FOR_ONE
#define OFA CONFIG_STRATEGY_ONE_FOR_ALL
#define RFO CONFIG_STRATEGY_REST_FOR_ONE
#define PERM CONFIG_RESTART_PERMANENT
#define TRANS CONFIG_RESTART_TRANSIENT
#define TEMP CONFIG_RESTART_TEMPORARY
#define NORM SUP_EXIT_NORMAL
#define ABN SUP_EXIT_ABNORMAL
#define SHUT SUP_EXIT_SHUTDOWN
#define IGN SUP_VERDICT_IGNORE
#define RST SUP_VERDICT_RESTART

/* All 27 combinations, written out so the table is the specification. */
static const struct row rows[] = {
    {OFO, PERM, NORM, RST, P_EXITED, P_EXITED},
    {OFO, PERM, ABN, RST, P_EXITED, P_EXITED},
    {OFO, PERM, SHUT, IGN, 0, 0},
    {OFO, TRANS, NORM, IGN, 0, 0},
    {OFO, TRANS, ABN, RST, P_EXITED, P_EXITED},
    {OFO, TRANS, SHUT, IGN, 0, 0},
    {OFO, TEMP, NORM, IGN, 0, 0},
    {OFO, TEMP, ABN, IGN, 0, 0},
    {OFO, TEMP, SHUT, IGN, 0, 0},

    {OFA, PERM, NORM, RST, P_ZERO, P_LAST},
    {OFA, PERM, ABN, RST, P_ZERO, P_LAST},
    {OFA, PERM, SHUT, IGN, 0, 0},
    {OFA, TRANS, NORM, IGN, 0, 0},
    {OFA, TRANS, ABN, RST, P_ZERO, P_LAST},
    {OFA, TRANS, SHUT, IGN, 0, 0},
    {OFA, TEMP, NORM, IGN, 0, 0},
    {OFA, TEMP, ABN, IGN, 0, 0},
    {OFA, TEMP, SHUT, IGN, 0, 0},

    {RFO, PERM, NORM, RST, P_EXITED, P_LAST},
    {RFO, PERM, ABN, RST, P_EXITED, P_LAST},
    {RFO, PERM, SHUT, IGN, 0, 0},
    {RFO, TRANS, NORM, IGN, 0, 0},
    {RFO, TRANS, ABN, RST, P_EXITED, P_LAST},
    {RFO, TRANS, SHUT, IGN, 0, 0},
    {RFO, TEMP, NORM, IGN, 0, 0},
    {RFO, TEMP, ABN, IGN, 0, 0},
    {RFO, TEMP, SHUT, IGN, 0, 0},
};

/* Local names for messages (config.c's name functions are not needed). */
static const char *const strategy_str[] = {"one_for_one", "one_for_all",
                                           "rest_for_one"};
static const char *const restart_str[] = {"permanent", "transient",
                                          "temporary"};

/* Resolves an expected range end for a group of n with child exited. */
static size_t
resolve(enum pos p, size_t exited, size_t n)
{
  switch (p) {
  case P_EXITED:
    return exited;
  case P_ZERO:
    return 0;
  case P_LAST:
    return n - 1;
  }
  return SIZE_MAX;
}

/* Builds an input with a generous intensity (never gives up by itself). */
static struct sup_input
input(enum config_strategy strategy, size_t n, size_t exited,
      enum config_restart restart, enum sup_exit exit, int64_t now)
{
  struct sup_input in = {
      .strategy = strategy,
      .max_restarts = 1000,
      .period_ms = 10000,
      .n_children = n,
      .exited = exited,
      .restart = restart,
      .exit = exit,
      .now_ms = now,
  };
  return in;
}

Test(sup_decide, table_27_combinations_at_every_position)
{
  const size_t sizes[] = {1, 2, 5};
  size_t checked = 0;

  cr_assert_eq(sizeof rows / sizeof *rows, 27);
  for (size_t r = 0; r < sizeof rows / sizeof *rows; r++) {
    const struct row *row = &rows[r];
    for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++) {
      size_t n = sizes[si];
      /* first, middle and last child */
      size_t positions[] = {0, n / 2, n - 1};
      for (size_t pi = 0; pi < 3; pi++) {
        size_t exited = positions[pi];
        struct sup_window w = SUP_WINDOW_ZERO;
        struct sup_input in =
            input(row->strategy, n, exited, row->restart, row->exit, 5000);
        struct sup_decision d = sup_decide(&in, &w);

        cr_expect_eq(d.verdict, row->verdict,
                     "row %zu (%s/%s/%s) n=%zu exited=%zu: got %s want %s", r,
                     strategy_str[row->strategy], restart_str[row->restart],
                     sup_exit_name(row->exit), n, exited,
                     sup_verdict_name(d.verdict),
                     sup_verdict_name(row->verdict));
        if (row->verdict == SUP_VERDICT_RESTART) {
          cr_expect_eq(d.first, resolve(row->first, exited, n),
                       "row %zu n=%zu exited=%zu: first %zu", r, n, exited,
                       d.first);
          cr_expect_eq(d.last, resolve(row->last, exited, n),
                       "row %zu n=%zu exited=%zu: last %zu", r, n, exited,
                       d.last);
          cr_expect_leq(d.first, d.last);
          cr_expect_leq(d.first, exited);
          cr_expect_geq(d.last, exited);
          /* a RESTART is one restart in the window */
          cr_expect_eq(w.n, 1, "row %zu: window holds %zu", r, w.n);
        } else {
          cr_expect_eq(d.first, exited);
          cr_expect_eq(d.last, exited);
          /* IGNORE never touches the window */
          cr_expect_eq(w.n, 0, "row %zu: window holds %zu", r, w.n);
        }
        sup_window_free(&w);
        checked++;
      }
    }
  }
  cr_assert_eq(checked, 27 * 3 * 3);
}

/* Feeds one permanent abnormal exit at now into a group and returns the
 * verdict. */
static enum sup_verdict
crash(struct sup_window *w, int max_restarts, int64_t period_ms, int64_t now)
{
  struct sup_input in = input(OFO, 3, 1, PERM, ABN, now);
  in.max_restarts = max_restarts;
  in.period_ms = period_ms;
  return sup_decide(&in, w).verdict;
}

Test(sup_decide, exactly_max_restarts_inside_window_then_give_up)
{
  struct sup_window w = SUP_WINDOW_ZERO;

  for (int i = 0; i < 3; i++)
    cr_expect_eq(crash(&w, 3, 1000, 100 + i * 10), SUP_VERDICT_RESTART,
                 "restart %d", i + 1);
  cr_expect_eq(w.n, 3);
  /* a fourth within 1000 ms of the first is one too many */
  cr_expect_eq(crash(&w, 3, 1000, 130), SUP_VERDICT_GIVE_UP);
  /* a give-up is not recorded */
  cr_expect_eq(w.n, 3);
  sup_window_free(&w);
  cr_expect_eq(w.n, 0);
  cr_expect_null(w.stamps);
}

Test(sup_decide, give_up_covers_all_children)
{
  struct sup_window w = SUP_WINDOW_ZERO;
  struct sup_input in = input(OFO, 4, 2, PERM, ABN, 0);
  struct sup_decision d;

  in.max_restarts = 0;
  d = sup_decide(&in, &w);
  cr_expect_eq(d.verdict, SUP_VERDICT_GIVE_UP);
  cr_expect_eq(d.first, 0);
  cr_expect_eq(d.last, 3);
  sup_window_free(&w);
}

Test(sup_decide, stamp_exactly_period_old_no_longer_counts)
{
  struct sup_window w = SUP_WINDOW_ZERO;

  cr_assert_eq(crash(&w, 3, 1000, 0), SUP_VERDICT_RESTART);
  cr_assert_eq(crash(&w, 3, 1000, 10), SUP_VERDICT_RESTART);
  cr_assert_eq(crash(&w, 3, 1000, 20), SUP_VERDICT_RESTART);
  /* now - 0 == period: the stamp at 0 has left the window */
  cr_expect_eq(crash(&w, 3, 1000, 1000), SUP_VERDICT_RESTART);
  cr_expect_eq(w.n, 3, "stamps 10, 20, 1000 remain, got %zu", w.n);
  sup_window_free(&w);
}

Test(sup_decide, stamp_period_minus_one_old_still_counts)
{
  struct sup_window w = SUP_WINDOW_ZERO;

  cr_assert_eq(crash(&w, 3, 1000, 0), SUP_VERDICT_RESTART);
  cr_assert_eq(crash(&w, 3, 1000, 10), SUP_VERDICT_RESTART);
  cr_assert_eq(crash(&w, 3, 1000, 20), SUP_VERDICT_RESTART);
  /* now - 0 == period - 1: the stamp at 0 still counts */
  cr_expect_eq(crash(&w, 3, 1000, 999), SUP_VERDICT_GIVE_UP);
  cr_expect_eq(w.n, 3);
  /* one ms later it has left, and the restart is allowed */
  cr_expect_eq(crash(&w, 3, 1000, 1000), SUP_VERDICT_RESTART);
  sup_window_free(&w);
}

Test(sup_decide, max_restarts_zero_gives_up_at_once)
{
  struct sup_window w = SUP_WINDOW_ZERO;

  cr_expect_eq(crash(&w, 0, 1000, 0), SUP_VERDICT_GIVE_UP);
  cr_expect_eq(w.n, 0);
  /* and again much later: there is no budget at all */
  cr_expect_eq(crash(&w, 0, 1000, 1000000), SUP_VERDICT_GIVE_UP);
  sup_window_free(&w);
}

Test(sup_decide, max_restarts_one_allows_one_per_period)
{
  struct sup_window w = SUP_WINDOW_ZERO;

  cr_expect_eq(crash(&w, 1, 500, 0), SUP_VERDICT_RESTART);
  cr_expect_eq(crash(&w, 1, 500, 499), SUP_VERDICT_GIVE_UP);
  cr_expect_eq(crash(&w, 1, 500, 500), SUP_VERDICT_RESTART);
  cr_expect_eq(crash(&w, 1, 500, 1000), SUP_VERDICT_RESTART);
  cr_expect_eq(w.n, 1);
  sup_window_free(&w);
}

Test(sup_decide, ignore_does_not_touch_a_full_window)
{
  struct sup_window w = SUP_WINDOW_ZERO;
  struct sup_input in;

  cr_assert_eq(crash(&w, 2, 1000, 0), SUP_VERDICT_RESTART);
  cr_assert_eq(crash(&w, 2, 1000, 1), SUP_VERDICT_RESTART);
  /* the window is full; exits that are not restarted do not give up */
  in = input(OFO, 3, 0, TEMP, ABN, 2);
  in.max_restarts = 2;
  in.period_ms = 1000;
  cr_expect_eq(sup_decide(&in, &w).verdict, SUP_VERDICT_IGNORE);
  in.restart = TRANS;
  in.exit = NORM;
  cr_expect_eq(sup_decide(&in, &w).verdict, SUP_VERDICT_IGNORE);
  in.restart = PERM;
  in.exit = SHUT;
  cr_expect_eq(sup_decide(&in, &w).verdict, SUP_VERDICT_IGNORE);
  /* and IGNORE does not prune either: the stamps stay as they were, even
   * when "now" is far past them */
  in.now_ms = 1000000;
  cr_expect_eq(sup_decide(&in, &w).verdict, SUP_VERDICT_IGNORE);
  cr_expect_eq(w.n, 2);
  cr_expect_eq(w.stamps[0], 0);
  cr_expect_eq(w.stamps[1], 1);
  sup_window_free(&w);
}

Test(sup_decide, window_stays_bounded_over_a_long_crash_loop)
{
  struct sup_window w = SUP_WINDOW_ZERO;
  int restarts = 0, give_ups = 0;

  /* a crash every 100 ms with 5 restarts per 1000 ms: at most 5 stamps */
  for (int64_t t = 0; t < 100000; t += 100) {
    enum sup_verdict v = crash(&w, 5, 1000, t);
    if (v == SUP_VERDICT_RESTART)
      restarts++;
    else
      give_ups++;
    cr_assert_leq(w.n, 5);
  }
  /* steady state: 5 restarts then 5 give-ups per second */
  cr_expect_eq(restarts, 500);
  cr_expect_eq(give_ups, 500);
  sup_window_free(&w);
}

/* A supervisor in the escalation test: its window and its place. */
struct group {
  struct sup_window w;
  int max_restarts;
  int64_t period_ms;
  size_t n_children;
  size_t index_in_parent;
};

/* The group's child `child` crashed (abnormally, permanent) at now. */
static struct sup_decision
group_crash(struct group *g, size_t child, int64_t now)
{
  struct sup_input in = input(OFO, g->n_children, child, PERM, ABN, now);
  in.max_restarts = g->max_restarts;
  in.period_ms = g->period_ms;
  return sup_decide(&in, &g->w);
}

Test(sup_decide, escalation_through_two_levels)
{
  /* root: one_for_one, 1 restart per 5 s, children [db, backend, web];
   * backend: a group with 2 restarts per 1 s over [api, worker]. */
  struct group root = {SUP_WINDOW_ZERO, 1, 5000, 3, 0};
  struct group backend = {SUP_WINDOW_ZERO, 2, 1000, 2, 1};
  struct sup_decision d;

  /* api crashes twice: backend restarts it */
  cr_assert_eq(group_crash(&backend, 0, 0).verdict, SUP_VERDICT_RESTART);
  cr_assert_eq(group_crash(&backend, 0, 10).verdict, SUP_VERDICT_RESTART);
  /* the third crash within 1 s: backend gives up */
  d = group_crash(&backend, 0, 20);
  cr_assert_eq(d.verdict, SUP_VERDICT_GIVE_UP);

  /* root sees backend (a permanent child) end abnormally: restart it */
  d = group_crash(&root, backend.index_in_parent, 25);
  cr_assert_eq(d.verdict, SUP_VERDICT_RESTART);
  cr_expect_eq(d.first, 1);
  cr_expect_eq(d.last, 1);
  /* a restarted group starts with a fresh window, as in OTP */
  sup_window_free(&backend.w);

  /* backend fails again the same way ... */
  cr_assert_eq(group_crash(&backend, 1, 100).verdict, SUP_VERDICT_RESTART);
  cr_assert_eq(group_crash(&backend, 1, 110).verdict, SUP_VERDICT_RESTART);
  cr_assert_eq(group_crash(&backend, 1, 120).verdict, SUP_VERDICT_GIVE_UP);
  /* ... and now root is past its own intensity: it gives up too, stopping
   * all of its children; its parent (or the daemon) sees it fail */
  d = group_crash(&root, backend.index_in_parent, 125);
  cr_expect_eq(d.verdict, SUP_VERDICT_GIVE_UP);
  cr_expect_eq(d.first, 0);
  cr_expect_eq(d.last, 2);
  cr_expect_eq(root.w.n, 1);

  /* after root's period, the same escalation would be absorbed again */
  sup_window_free(&backend.w);
  d = group_crash(&root, backend.index_in_parent, 25 + 5000);
  cr_expect_eq(d.verdict, SUP_VERDICT_RESTART);
  sup_window_free(&backend.w);
  sup_window_free(&root.w);
}

Test(sup_decide, rest_for_one_from_the_middle_with_window)
{
  struct sup_window w = SUP_WINDOW_ZERO;
  struct sup_input in = input(RFO, 6, 3, TRANS, ABN, 0);
  struct sup_decision d = sup_decide(&in, &w);

  cr_expect_eq(d.verdict, SUP_VERDICT_RESTART);
  cr_expect_eq(d.first, 3);
  cr_expect_eq(d.last, 5);
  sup_window_free(&w);
}

Test(sup_backoff, doubles_then_caps)
{
  struct sup_backoff b = SUP_BACKOFF_ZERO;
  const int64_t want[] = {100,   200,   400,   800,   1600,  3200, 6400,
                          12800, 25600, 30000, 30000, 30000, 30000};

  for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
    int64_t got = sup_backoff_next(&b, 100, 30000, 10000, 0);
    cr_expect_eq(got, want[i], "step %zu: got %lld want %lld", i,
                 (long long)got, (long long)want[i]);
    cr_expect_eq(b.attempt, (int)i + 1);
  }
}

Test(sup_backoff, reset_after_a_stable_run)
{
  struct sup_backoff b = SUP_BACKOFF_ZERO;

  cr_expect_eq(sup_backoff_next(&b, 100, 30000, 10000, 5), 100);
  cr_expect_eq(sup_backoff_next(&b, 100, 30000, 10000, 5), 200);
  cr_expect_eq(sup_backoff_next(&b, 100, 30000, 10000, 5), 400);
  /* a run one ms short of reset_ms is still a quick failure */
  cr_expect_eq(sup_backoff_next(&b, 100, 30000, 10000, 9999), 800);
  /* a run of exactly reset_ms counts as stable: back to the start */
  cr_expect_eq(sup_backoff_next(&b, 100, 30000, 10000, 10000), 100);
  cr_expect_eq(b.attempt, 1);
  cr_expect_eq(sup_backoff_next(&b, 100, 30000, 10000, 0), 200);
  cr_expect_eq(sup_backoff_next(&b, 100, 30000, 10000, 3600000), 100);
}

Test(sup_backoff, no_overflow_at_large_attempts)
{
  struct sup_backoff b = {100};

  cr_expect_eq(sup_backoff_next(&b, 100, 30000, 10000, 0), 30000);
  cr_expect_eq(b.attempt, 101);

  b.attempt = 100;
  cr_expect_eq(sup_backoff_next(&b, 100, INT64_MAX, 10000, 0), INT64_MAX);

  b.attempt = INT_MAX;
  cr_expect_eq(sup_backoff_next(&b, 100, 30000, INT64_MAX, 0), 30000);
  cr_expect_geq(b.attempt, 0, "attempt must not wrap negative");

  /* with no cap to speak of, the delays are exact powers of two until the
   * shift would overflow, and never decrease or go negative after */
  b.attempt = 0;
  int64_t prev = 0;
  for (int i = 0; i < 200; i++) {
    int64_t got = sup_backoff_next(&b, 1, INT64_MAX, INT64_MAX, 0);
    if (i < 63)
      cr_expect_eq(got, (int64_t)1 << i, "step %d", i);
    else
      cr_expect_eq(got, INT64_MAX, "step %d", i);
    cr_expect_geq(got, prev, "step %d", i);
    prev = got;
  }
  /* a large initial delay overflows sooner */
  b.attempt = 0;
  int64_t big = INT64_MAX / 3;
  cr_expect_eq(sup_backoff_next(&b, big, INT64_MAX, INT64_MAX, 0), big);
  cr_expect_eq(sup_backoff_next(&b, big, INT64_MAX, INT64_MAX, 0), big * 2);
  cr_expect_eq(sup_backoff_next(&b, big, INT64_MAX, INT64_MAX, 0), INT64_MAX);
}

Test(sup_backoff, zero_initial_is_always_zero)
{
  struct sup_backoff b = SUP_BACKOFF_ZERO;
  for (int i = 0; i < 100; i++)
    cr_expect_eq(sup_backoff_next(&b, 0, 30000, 10000, 0), 0, "step %d", i);
}

Test(sup_backoff, cap_below_initial_wins)
{
  struct sup_backoff b = SUP_BACKOFF_ZERO;
  cr_expect_eq(sup_backoff_next(&b, 500, 200, 10000, 0), 200);
  cr_expect_eq(sup_backoff_next(&b, 500, 200, 10000, 0), 200);
}

/* One classification case and its expected result. */
struct cls {
  int spawn_failed, by_request;
  int64_t status;
  int term_signal;
  enum sup_exit want;
};

Test(sup_classify, precedence_and_default_success_codes)
{
  static const struct cls cases[] = {
      {0, 0, 0, 0, SUP_EXIT_NORMAL},
      {0, 0, 1, 0, SUP_EXIT_ABNORMAL},
      {0, 0, 2, 0, SUP_EXIT_ABNORMAL},
      {0, 0, 255, 0, SUP_EXIT_ABNORMAL},
      {0, 0, -1, 0, SUP_EXIT_ABNORMAL},
      {0, 0, 0, 9, SUP_EXIT_ABNORMAL}, /* killed: status 0, a signal */
      {0, 0, 0, 15, SUP_EXIT_ABNORMAL},
      {0, 1, 0, 15, SUP_EXIT_SHUTDOWN}, /* asked for: not a crash */
      {0, 1, 0, 9, SUP_EXIT_SHUTDOWN},  /* asked for, escalated to KILL */
      {0, 1, 1, 0, SUP_EXIT_SHUTDOWN},
      {0, 1, 0, 0, SUP_EXIT_SHUTDOWN},
      {1, 0, 0, 0, SUP_EXIT_ABNORMAL}, /* could not start */
      {1, 1, 0, 0, SUP_EXIT_ABNORMAL}, /* spawn failure beats by_request */
      {1, 0, -2, 0, SUP_EXIT_ABNORMAL},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    const struct cls *c = &cases[i];
    enum sup_exit got = sup_classify(NULL, c->spawn_failed, c->by_request,
                                     c->status, c->term_signal);
    cr_expect_eq(got, c->want, "case %zu: got %s want %s", i,
                 sup_exit_name(got), sup_exit_name(c->want));
  }
}

Test(sup_classify, spec_success_codes)
{
  int codes[] = {0, 2, 75};
  struct config_node spec = {.success_codes = codes, .n_success_codes = 3};
  int only3[] = {3};
  struct config_node spec3 = {.success_codes = only3, .n_success_codes = 1};
  struct config_node empty = {.success_codes = NULL, .n_success_codes = 0};

  cr_expect_eq(sup_classify(&spec, 0, 0, 0, 0), SUP_EXIT_NORMAL);
  cr_expect_eq(sup_classify(&spec, 0, 0, 2, 0), SUP_EXIT_NORMAL);
  cr_expect_eq(sup_classify(&spec, 0, 0, 75, 0), SUP_EXIT_NORMAL);
  cr_expect_eq(sup_classify(&spec, 0, 0, 1, 0), SUP_EXIT_ABNORMAL);
  cr_expect_eq(sup_classify(&spec, 0, 0, 76, 0), SUP_EXIT_ABNORMAL);
  /* a listed status does not excuse a signal */
  cr_expect_eq(sup_classify(&spec, 0, 0, 2, 9), SUP_EXIT_ABNORMAL);
  cr_expect_eq(sup_classify(&spec, 1, 0, 0, 0), SUP_EXIT_ABNORMAL);
  cr_expect_eq(sup_classify(&spec, 0, 1, 1, 0), SUP_EXIT_SHUTDOWN);
  /* a list without 0 makes 0 abnormal */
  cr_expect_eq(sup_classify(&spec3, 0, 0, 3, 0), SUP_EXIT_NORMAL);
  cr_expect_eq(sup_classify(&spec3, 0, 0, 0, 0), SUP_EXIT_ABNORMAL);
  /* an empty list means the default {0} */
  cr_expect_eq(sup_classify(&empty, 0, 0, 0, 0), SUP_EXIT_NORMAL);
  cr_expect_eq(sup_classify(&empty, 0, 0, 1, 0), SUP_EXIT_ABNORMAL);
  /* a status that does not fit in an int never matches by truncation */
  cr_expect_eq(sup_classify(&spec, 0, 0, ((int64_t)1 << 32) + 2, 0),
               SUP_EXIT_ABNORMAL);
}

Test(sup_classify, every_input_combination)
{
  int codes[] = {0, 2};
  struct config_node spec = {.success_codes = codes, .n_success_codes = 2};
  const struct config_node *specs[] = {NULL, &spec};
  const int64_t statuses[] = {0, 1, 2, 3, 127, 255, -1};
  const int signals[] = {0, 1, 2, 9, 15};
  size_t n = 0;

  for (size_t sp = 0; sp < 2; sp++)
    for (int sf = 0; sf <= 1; sf++)
      for (int br = 0; br <= 1; br++)
        for (size_t st = 0; st < sizeof statuses / sizeof *statuses; st++)
          for (size_t sg = 0; sg < sizeof signals / sizeof *signals; sg++) {
            int64_t status = statuses[st];
            int sig = signals[sg];
            int ok = status == 0 || (sp == 1 && status == 2);
            enum sup_exit want = sf         ? SUP_EXIT_ABNORMAL
                                 : br       ? SUP_EXIT_SHUTDOWN
                                 : sig != 0 ? SUP_EXIT_ABNORMAL
                                 : ok       ? SUP_EXIT_NORMAL
                                            : SUP_EXIT_ABNORMAL;
            cr_expect_eq(sup_classify(specs[sp], sf, br, status, sig), want,
                         "spec=%zu spawn_failed=%d by_request=%d status=%lld "
                         "signal=%d",
                         sp, sf, br, (long long)status, sig);
            n++;
          }
  cr_assert_eq(n, 2 * 2 * 2 * 7 * 5);
}

Test(sup_names, exit_and_verdict_names)
{
  cr_expect_str_eq(sup_exit_name(SUP_EXIT_NORMAL), "normal");
  cr_expect_str_eq(sup_exit_name(SUP_EXIT_ABNORMAL), "abnormal");
  cr_expect_str_eq(sup_exit_name(SUP_EXIT_SHUTDOWN), "shutdown");
  cr_expect_str_eq(sup_exit_name((enum sup_exit)3), "?");
  cr_expect_str_eq(sup_exit_name((enum sup_exit) - 1), "?");
  cr_expect_str_eq(sup_verdict_name(SUP_VERDICT_IGNORE), "ignore");
  cr_expect_str_eq(sup_verdict_name(SUP_VERDICT_RESTART), "restart");
  cr_expect_str_eq(sup_verdict_name(SUP_VERDICT_GIVE_UP), "give_up");
  cr_expect_str_eq(sup_verdict_name(SUP_VERDICT_FAIL), "fail");
  cr_expect_str_eq(sup_verdict_name((enum sup_verdict)4), "?");
}

Test(sup_window, free_is_idempotent_and_null_safe)
{
  struct sup_window w = SUP_WINDOW_ZERO;
  sup_window_free(&w);
  sup_window_free(NULL);
  cr_expect_eq(crash(&w, 5, 1000, 0), SUP_VERDICT_RESTART);
  sup_window_free(&w);
  sup_window_free(&w);
  cr_expect_null(w.stamps);
  cr_expect_eq(w.n, 0);
  cr_expect_eq(w.cap, 0);
}

/* --- issue 11: a group without intensity, a child's own restart limit -- */

Test(sup_decide, no_intensity_never_gives_up)
{
  struct sup_window w = SUP_WINDOW_ZERO;

  for (int i = 0; i < 1000; i++)
    cr_assert_eq(crash(&w, -1, 1000, i), SUP_VERDICT_RESTART, "crash %d", i);
  /* and the window is not even kept */
  cr_expect_eq(w.n, 0);
  sup_window_free(&w);
}

/* One crash of child 1 of 3 with a child limit (max per period) and the
 * group's intensity (gmax per 10 s; -1 none). */
static struct sup_decision
limited_crash(struct sup_window *gw, struct sup_window *cw, int max,
              int64_t period, int gmax, int64_t now)
{
  struct sup_input in = input(OFA, 3, 1, PERM, ABN, now);
  in.max_restarts = gmax;
  in.limit_max_restarts = max;
  in.limit_period_ms = period;
  in.limit_window = cw;
  return sup_decide(&in, gw);
}

Test(sup_decide, child_limit_fails_the_child_alone)
{
  struct sup_window gw = SUP_WINDOW_ZERO, cw = SUP_WINDOW_ZERO;
  struct sup_decision d;

  for (int i = 0; i < 5; i++) {
    d = limited_crash(&gw, &cw, 5, 10000, -1, i * 100);
    cr_assert_eq(d.verdict, SUP_VERDICT_RESTART, "restart %d", i + 1);
    /* the strategy still applies to an allowed restart */
    cr_expect_eq(d.first, 0);
    cr_expect_eq(d.last, 2);
  }
  cr_expect_eq(cw.n, 5);
  d = limited_crash(&gw, &cw, 5, 10000, -1, 600);
  cr_expect_eq(d.verdict, SUP_VERDICT_FAIL);
  /* only the child itself: no sibling is touched */
  cr_expect_eq(d.first, 1);
  cr_expect_eq(d.last, 1);
  /* a FAIL is not recorded anywhere */
  cr_expect_eq(cw.n, 5);
  cr_expect_eq(gw.n, 0);
  /* once its stamps leave the period, restarts are allowed again */
  cr_expect_eq(limited_crash(&gw, &cw, 5, 10000, -1, 10000).verdict,
               SUP_VERDICT_RESTART);
  sup_window_free(&gw);
  sup_window_free(&cw);
}

Test(sup_decide, child_limit_zero_fails_at_the_first_exit)
{
  struct sup_window gw = SUP_WINDOW_ZERO, cw = SUP_WINDOW_ZERO;

  cr_expect_eq(limited_crash(&gw, &cw, 0, 1000, -1, 0).verdict,
               SUP_VERDICT_FAIL);
  sup_window_free(&gw);
  sup_window_free(&cw);
}

Test(sup_decide, child_limit_comes_before_the_group_intensity)
{
  struct sup_window gw = SUP_WINDOW_ZERO, cw = SUP_WINDOW_ZERO;

  /* both allow 2: the third crash exceeds both, the child's wins */
  cr_assert_eq(limited_crash(&gw, &cw, 2, 10000, 2, 0).verdict,
               SUP_VERDICT_RESTART);
  cr_assert_eq(limited_crash(&gw, &cw, 2, 10000, 2, 1).verdict,
               SUP_VERDICT_RESTART);
  cr_expect_eq(gw.n, 2);
  cr_expect_eq(cw.n, 2);
  cr_expect_eq(limited_crash(&gw, &cw, 2, 10000, 2, 2).verdict,
               SUP_VERDICT_FAIL);
  /* a group limit below the child's still gives up first */
  sup_window_free(&gw);
  sup_window_free(&cw);
  cr_assert_eq(limited_crash(&gw, &cw, 5, 10000, 1, 0).verdict,
               SUP_VERDICT_RESTART);
  cr_expect_eq(limited_crash(&gw, &cw, 5, 10000, 1, 1).verdict,
               SUP_VERDICT_GIVE_UP);
  sup_window_free(&gw);
  sup_window_free(&cw);
}

Test(sup_decide, no_child_limit_without_a_window_or_below_zero)
{
  struct sup_window gw = SUP_WINDOW_ZERO, cw = SUP_WINDOW_ZERO;
  struct sup_input in = input(OFO, 2, 0, PERM, ABN, 0);

  in.max_restarts = -1;
  in.limit_max_restarts = 0; /* ignored: no window */
  cr_expect_eq(sup_decide(&in, &gw).verdict, SUP_VERDICT_RESTART);
  for (int i = 0; i < 100; i++)
    cr_expect_eq(limited_crash(&gw, &cw, -1, 1000, -1, i).verdict,
                 SUP_VERDICT_RESTART);
  cr_expect_eq(cw.n, 0);
  sup_window_free(&gw);
  sup_window_free(&cw);
}

Test(sup_decide, ignored_exits_never_touch_the_child_limit)
{
  struct sup_window gw = SUP_WINDOW_ZERO, cw = SUP_WINDOW_ZERO;
  struct sup_input in = input(OFO, 2, 0, TRANS, NORM, 0);

  in.limit_max_restarts = 0;
  in.limit_period_ms = 1000;
  in.limit_window = &cw;
  cr_expect_eq(sup_decide(&in, &gw).verdict, SUP_VERDICT_IGNORE);
  in.restart = PERM;
  in.exit = SHUT;
  cr_expect_eq(sup_decide(&in, &gw).verdict, SUP_VERDICT_IGNORE);
  cr_expect_eq(cw.n, 0);
  sup_window_free(&gw);
  sup_window_free(&cw);
}
