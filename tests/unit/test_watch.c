/* Tests for watchers/watch: the pure timing, guard and filter decisions, and
 * the whole subscription against real files on a real uv loop. "Exactly one
 * fire" is proved with a sentinel file: its change is queued after the
 * others, so once a fire names the sentinel every earlier change has been
 * delivered. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "watchers/burst.h"
#include "watchers/watch.h"
#include "tests/unit/helpers.h"

#define WAIT_MS 5000

/* ------------------------------------------------------------ pure core */

Test(watch_pure, debounce_waits_for_quiet_then_fires)
{
  /* A single change: fire debounce ms after it. */
  cr_expect_eq(burst_debounce_wait(1000, 1000, 1000, 150, 2000), 150);
  cr_expect_eq(burst_debounce_wait(1000, 1000, 1100, 150, 2000), 50);
  cr_expect_eq(burst_debounce_wait(1000, 1000, 1150, 150, 2000), 0);
  cr_expect_eq(burst_debounce_wait(1000, 1000, 5000, 150, 2000), 0);
  /* A later change pushes the deadline. */
  cr_expect_eq(burst_debounce_wait(1000, 1120, 1150, 150, 2000), 120);
  /* ... but never past first + max_wait. */
  cr_expect_eq(burst_debounce_wait(1000, 2950, 2960, 150, 2000), 40);
  cr_expect_eq(burst_debounce_wait(1000, 2990, 3000, 150, 2000), 0);
  /* max_wait shorter than debounce caps even a single change. */
  cr_expect_eq(burst_debounce_wait(1000, 1000, 1000, 500, 100), 100);
  /* No cap. */
  cr_expect_eq(burst_debounce_wait(0, 100000, 100000, 150, 0), 150);
  cr_expect_eq(burst_debounce_wait(0, 100000, 100000, 150, -1), 150);
  /* Debounce 0 fires at once. */
  cr_expect_eq(burst_debounce_wait(1000, 1000, 1000, 0, 2000), 0);
}

Test(watch_pure, loop_guard_counts_within_the_period)
{
  int64_t t[] = {1000, 2000, 3000};

  cr_expect(!burst_loop_tripped(t, 2, 3000, 2, 60000));
  cr_expect(burst_loop_tripped(t, 3, 3000, 2, 60000));
  /* Old restarts fall out of the window. */
  cr_expect(!burst_loop_tripped(t, 3, 61500, 2, 60000));
  cr_expect(!burst_loop_tripped(t, 3, 3000, 3, 60000));
  /* max 0: the guard is off. */
  cr_expect(!burst_loop_tripped(t, 3, 3000, 0, 60000));
  cr_expect(!burst_loop_tripped(NULL, 0, 3000, 1, 60000));
}

Test(watch_pure, a_burst_is_linked_when_it_follows_the_runner)
{
  int64_t starts[] = {1000, 5000};
  int64_t exits[] = {8000};

  /* Right after a start: linked; long after: not. */
  cr_expect(burst_linked(1010, 1160, starts, 1, NULL, 0, 500));
  cr_expect(burst_linked(1500, 1650, starts, 1, NULL, 0, 500));
  cr_expect(!burst_linked(1501, 1651, starts, 1, NULL, 0, 500));
  /* A change before a start does not follow it. */
  cr_expect(!burst_linked(900, 1050, starts, 1, NULL, 0, 500));
  /* Any of the starts counts. */
  cr_expect(burst_linked(5100, 5250, starts, 2, NULL, 0, 500));
  /* An autosave every 1.2 s restarting a server: the next save comes about
   * a second after the start it caused. */
  cr_expect(!burst_linked(2050, 2200, (int64_t[]){1150}, 1, NULL, 0, 500));
  /* A run that ended on its own while the burst collected. */
  cr_expect(burst_linked(7900, 8050, NULL, 0, exits, 1, 500));
  cr_expect(burst_linked(8000, 8150, NULL, 0, exits, 1, 500));
  cr_expect(!burst_linked(8001, 8150, NULL, 0, exits, 1, 500));
  cr_expect(!burst_linked(7000, 7990, NULL, 0, exits, 1, 500));
  /* follow 0: only a change in the same ms as the start. */
  cr_expect(burst_linked(1000, 1150, starts, 1, NULL, 0, 0));
  cr_expect(!burst_linked(1001, 1150, starts, 1, NULL, 0, 0));
  cr_expect(!burst_linked(1000, 1150, NULL, 0, NULL, 0, 500));
}

Test(watch_pure, temp_paths_are_created_and_removed_in_the_burst)
{
  unsigned f;

  /* sed -i's temp: created, then renamed away. */
  f = burst_path_fold(0, INOTIFY_CREATED, 0);
  f = burst_path_fold(f, INOTIFY_MODIFIED, 0);
  f = burst_path_fold(f, INOTIFY_MOVED, 1);
  cr_expect(burst_path_transient(f));
  /* The file it was renamed onto: appeared, still there. */
  f = burst_path_fold(0, INOTIFY_MOVED, 0);
  cr_expect(!burst_path_transient(f));
  /* Created and deleted. */
  f = burst_path_fold(burst_path_fold(0, INOTIFY_CREATED, 0), INOTIFY_DELETED,
                      0);
  cr_expect(burst_path_transient(f));
  /* A file that existed: modified then deleted is a change. */
  f = burst_path_fold(burst_path_fold(0, INOTIFY_MODIFIED, 0), INOTIFY_DELETED,
                      0);
  cr_expect(!burst_path_transient(f));
  cr_expect(!burst_path_transient(burst_path_fold(0, INOTIFY_DELETED, 0)));
  /* Renamed away from an existing name: a change (the old name is gone). */
  cr_expect(!burst_path_transient(burst_path_fold(0, INOTIFY_MOVED, 1)));
  /* Created, deleted, created again: there now. */
  f = burst_path_fold(0, INOTIFY_CREATED, 0);
  f = burst_path_fold(f, INOTIFY_DELETED, 0);
  f = burst_path_fold(f, INOTIFY_CREATED, 0);
  cr_expect(!burst_path_transient(f));
  /* Deleted, re-created (git checkout), deleted again: a deletion. */
  f = burst_path_fold(0, INOTIFY_DELETED, 0);
  f = burst_path_fold(f, INOTIFY_CREATED, 0);
  f = burst_path_fold(f, INOTIFY_DELETED, 0);
  cr_expect(!burst_path_transient(f));
}

/* Returns the number of lines of s. */
static size_t
nlines(const char *s)
{
  size_t n = 1;

  for (; *s; s++)
    n += *s == '\n';
  return n;
}

Test(watch_pure, changed_paths_env_is_capped_with_a_marker)
{
  /* Three paths of 30 bytes: 92 with the newlines. */
  const char *three[] = {"/work/a_thirty_byte_path_1.c",
                         "/work/a_thirty_byte_path_2.c",
                         "/work/a_thirty_byte_path_3.c"};
  char *j = burst_paths_join(three, 3), *v, *big;
  size_t len = 0;
  const char *last;

  cr_expect_eq(strlen(three[0]), 28);
  cr_expect_str_eq(j, "/work/a_thirty_byte_path_1.c\n"
                      "/work/a_thirty_byte_path_2.c\n"
                      "/work/a_thirty_byte_path_3.c");
  v = burst_paths_env(j, 4096);
  cr_expect_str_eq(v, j, "a short list is passed as it is");
  free(v);
  v = burst_paths_env(j, 87);
  cr_expect_str_eq(v, j, "exactly fits with its NUL");
  free(v);
  /* One byte less: cut at a whole line, with the marker (41 bytes). */
  v = burst_paths_env(j, 86);
  cr_expect_str_eq(v, "/work/a_thirty_byte_path_1.c\n"
                      "...(2 more; see TEND_CHANGED_PATHS_FILE)");
  cr_expect_lt(strlen(v), 86);
  free(v);
  v = burst_paths_env(j, 60);
  cr_expect_str_eq(v, "...(3 more; see TEND_CHANGED_PATHS_FILE)");
  free(v);
  free(j);
  /* 2000 paths of 40 bytes: 80 kB cut to at most 32 KiB, whole lines. */
  big = malloc(2000 * 41);
  cr_assert_not_null(big);
  for (int i = 0; i < 2000; i++)
    len += (size_t)sprintf(big + len, "%s/src/some/longish/file_%05d.c",
                           i ? "\n" : "", i);
  v = burst_paths_env(big, WATCH_ENV_CAP);
  cr_expect_lt(strlen(v), WATCH_ENV_CAP);
  cr_expect_gt(strlen(v), WATCH_ENV_CAP - 200, "fills the cap");
  last = strrchr(v, '\n') + 1;
  {
    size_t shown = nlines(v) - 1;
    char want[80];
    snprintf(want, sizeof want, "...(%zu more; see TEND_CHANGED_PATHS_FILE)",
             2000 - shown);
    cr_expect_str_eq(last, want);
    cr_expect_eq(strncmp(v, big, (size_t)(last - v - 1)), 0);
    cr_expect_eq(big[last - v - 1], '\n', "cut at a whole line");
  }
  free(v);
  free(big);
}

Test(watch_pure, include_and_exclude_globs)
{
  char *inc[] = {"**/*.c", "Makefile", "docs"};
  char *exc[] = {"build", "**/gen/**", "*.tmp.c"};

  cr_expect(burst_path_selected("main.c", inc, 3, exc, 3));
  cr_expect(burst_path_selected("src/deep/x.c", inc, 3, exc, 3));
  cr_expect(burst_path_selected("Makefile", inc, 3, exc, 3));
  cr_expect(burst_path_selected("docs/guide/a.md", inc, 3, exc, 3));
  cr_expect(!burst_path_selected("src/x.h", inc, 3, exc, 3));
  cr_expect(!burst_path_selected("sub/Makefile", inc, 3, exc, 3));
  cr_expect(!burst_path_selected("build/x.c", inc, 3, exc, 3));
  cr_expect(!burst_path_selected("build", inc, 3, exc, 3));
  cr_expect(!burst_path_selected("src/gen/x.c", inc, 3, exc, 3));
  cr_expect(!burst_path_selected("a.tmp.c", inc, 3, exc, 3));
  /* No include globs: everything not excluded. */
  cr_expect(burst_path_selected("anything/at/all", NULL, 0, exc, 3));
  cr_expect(!burst_path_selected("build/y", NULL, 0, exc, 3));
  cr_expect(burst_path_selected("x", NULL, 0, NULL, 0));
}

/* --------------------------------------------------------- loop harness */

struct fire {
  char **paths;
  size_t n, total;
  uint64_t at_ms;
  unsigned check_count; /* loop iterations completed when it fired */
};

struct frec {
  struct fire fires[64];
  size_t n_fires;
  size_t n_paused;
  char **paused_paths;
  size_t n_paused_paths;
  char paused_reason[512];
  size_t n_notices;
  struct watch *close_in_fire; /* close this watch from the callback */
};

static uv_loop_t loop;
static char tmp[256];
static unsigned check_count;
static uv_check_t check;

static void
on_check(uv_check_t *h)
{
  (void)h;
  check_count++;
}

static void
fire_cb(void *ctx, const char *const *paths, size_t n)
{
  struct frec *r = ctx;
  struct fire *f;
  size_t total = n;

  cr_assert_lt(r->n_fires, 64);
  cr_assert_geq(n, 1);
  f = &r->fires[r->n_fires++];
  f->paths = calloc(n + 1, sizeof *f->paths);
  for (size_t i = 0; i < n; i++)
    f->paths[i] = strdup(paths[i]);
  f->n = n;
  f->total = total;
  f->at_ms = uv_now(&loop);
  f->check_count = check_count;
  if (r->close_in_fire != NULL) {
    watch_close(r->close_in_fire, NULL, NULL);
    r->close_in_fire = NULL;
  }
}

static void
paused_cb(void *ctx, const char *const *paths, size_t n, const char *reason)
{
  struct frec *r = ctx;

  cr_assert_not_null(reason);
  snprintf(r->paused_reason, sizeof r->paused_reason, "%s", reason);
  r->n_paused++;
  r->paused_paths = calloc(n + 1, sizeof *r->paused_paths);
  for (size_t i = 0; i < n; i++)
    r->paused_paths[i] = strdup(paths[i]);
  r->n_paused_paths = n;
}

static void
notice_cb(void *ctx, enum inotify_kind kind, const char *message)
{
  struct frec *r = ctx;
  (void)kind;
  (void)message;
  r->n_notices++;
}

static void
frec_free(struct frec *r)
{
  for (size_t i = 0; i < r->n_fires; i++) {
    for (size_t j = 0; j < r->fires[i].n; j++)
      free(r->fires[i].paths[j]);
    free(r->fires[i].paths);
  }
  for (size_t i = 0; i < r->n_paused_paths; i++)
    free(r->paused_paths[i]);
  free(r->paused_paths);
}

/* Returns tmp + "/" + rel in a rotating static buffer. */
static const char *
at(const char *rel)
{
  static char buf[4][512];
  static int next;
  char *b = buf[next++ % 4];

  snprintf(b, 512, "%s/%s", tmp, rel);
  return b;
}

/* Returns how many fires named rel. */
static size_t
fires_naming(const struct frec *r, const char *rel)
{
  const char *path = at(rel);
  size_t n = 0;

  for (size_t i = 0; i < r->n_fires; i++)
    for (size_t j = 0; j < r->fires[i].n; j++)
      if (strcmp(r->fires[i].paths[j], path) == 0) {
        n++;
        break;
      }
  return n;
}

/* Prints the fires (for failure messages). */
static void
dump(const struct frec *r)
{
  for (size_t i = 0; i < r->n_fires; i++) {
    fprintf(stderr, "fire %zu (%zu of %zu):", i, r->fires[i].n,
            r->fires[i].total);
    for (size_t j = 0; j < r->fires[i].n && j < 8; j++)
      fprintf(stderr, " %s", r->fires[i].paths[j] + strlen(tmp) + 1);
    fprintf(stderr, "\n");
  }
}

static void
tick_cb(uv_timer_t *t)
{
  (void)t;
}

/* Runs the loop until a fire names rel (NULL: until any new fire). */
static int
wait_fire(struct frec *r, const char *rel, int timeout_ms)
{
  uv_timer_t tick;
  uint64_t end;
  size_t before = r->n_fires;
  int ok;

  uv_update_time(&loop);
  end = uv_now(&loop) + (uint64_t)timeout_ms;
  uv_timer_init(&loop, &tick);
  uv_timer_start(&tick, tick_cb, 10, 10);
  for (;;) {
    ok = rel != NULL ? fires_naming(r, rel) > 0 : r->n_fires > before;
    if (ok || uv_now(&loop) >= end)
      break;
    uv_run(&loop, UV_RUN_ONCE);
  }
  uv_close((uv_handle_t *)&tick, NULL);
  uv_run(&loop, UV_RUN_NOWAIT);
  if (!ok) {
    fprintf(stderr, "no fire naming %s; fires so far:\n", rel ? rel : "*");
    dump(r);
  }
  return ok;
}

/* Runs a shell command inside tmp. */
#define sh(...) helpers_sh(tmp, __VA_ARGS__)

/* Touches the sentinel rel and waits for the fire naming it; returns that
 * fire's index. */
static size_t
settle(struct frec *r, const char *rel)
{
  sh("echo s > '%s'", rel);
  cr_assert(wait_fire(r, rel, WAIT_MS), "sentinel %s never fired", rel);
  return r->n_fires - 1;
}

static void
setup(void)
{
  char t[] = "/tmp/tend-watch-XXXXXX";
  char *real;

  cr_assert_not_null(mkdtemp(t));
  real = realpath(t, NULL);
  cr_assert_not_null(real);
  snprintf(tmp, sizeof tmp, "%s", real);
  free(real);
  cr_assert_eq(uv_loop_init(&loop), 0);
  uv_check_init(&loop, &check);
  uv_check_start(&check, on_check);
  uv_unref((uv_handle_t *)&check);
}

static void
teardown(void)
{
  char cmd[512];

  uv_close((uv_handle_t *)&check, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  cr_expect_eq(uv_loop_close(&loop), 0, "handles left open on the loop");
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
  if (system(cmd) != 0)
    fprintf(stderr, "cleanup of %s failed\n", tmp);
}

TestSuite(watch, .init = setup, .fini = teardown, .timeout = 60);

/* A config_watch with defaults and one path (tmp). */
struct cfg {
  struct config_watch w;
  char *paths[4];
  char *include[4];
  char *exclude[4];
};

static void
cfg_init(struct cfg *c)
{
  memset(c, 0, sizeof *c);
  c->paths[0] = tmp;
  c->w.enabled = 1;
  c->w.paths = c->paths;
  c->w.n_paths = 1;
  c->w.include = c->include;
  c->w.exclude = c->exclude;
  c->w.gitignore = 1;
  c->w.debounce_ms = 50;
  c->w.max_wait_ms = 2000;
  c->w.action = CONFIG_WATCH_RESTART;
  c->w.loop_max_restarts = 10;
  c->w.loop_period_ms = 60000;
}

struct env {
  struct inotify_service *svc;
  struct watch *w;
};

static int closed_count;

static void
on_closed(void *arg)
{
  (void)arg;
  closed_count++;
}

/* Starts the service and a watch of cfg, with tmp/.tend as state dir. */
static void
start(struct env *e, struct cfg *c, struct frec *r)
{
  char *cause = NULL;
  struct watch_callbacks cbs = {
      .fire = fire_cb, .paused = paused_cb, .notice = notice_cb, .ctx = r};

  e->svc = inotify_service_new(&loop, &cause);
  cr_assert_not_null(e->svc, "%s", cause ? cause : "");
  e->w = watch_new(&loop, e->svc, &c->w, at(".tend"), &cbs, &cause);
  cr_assert_not_null(e->w, "%s", cause ? cause : "");
}

/* Closes the watch (unless already closed) and the service. */
static void
stop(struct env *e)
{
  closed_count = 0;
  if (e->w != NULL)
    watch_close(e->w, on_closed, NULL);
  inotify_service_close(e->svc, on_closed, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  cr_expect_eq(closed_count, e->w != NULL ? 2 : 1);
}

Test(watch, saving_a_file_fires_once)
{
  struct cfg c;
  struct env e;
  struct frec r = {0};
  size_t s;

  sh("echo v1 > main.c");
  cfg_init(&c);
  start(&e, &c, &r);
  sh("echo v2 > main.c");
  cr_assert(wait_fire(&r, "main.c", WAIT_MS));
  s = settle(&r, "sentinel");
  cr_expect_eq(fires_naming(&r, "main.c"), 1);
  cr_expect_eq(r.fires[s].n, 1, "the sentinel's fire names only it");
  frec_free(&r);
  stop(&e);
}

Test(watch, editor_saves_fire_once_and_name_the_file)
{
  struct cfg c;
  struct env e;
  struct frec r = {0};
  size_t first;

  sh("echo v1 > main.c");
  cfg_init(&c);
  start(&e, &c, &r);
  /* vim without backupcopy: probe file 4913, backup by rename, new file,
   * backup removed; plus a swap file written meanwhile. */
  sh("echo s > .main.c.swp && touch 4913 && rm 4913 && mv main.c main.c~ && "
     "echo v2 > main.c && rm main.c~ && rm .main.c.swp");
  cr_assert(wait_fire(&r, "main.c", WAIT_MS));
  first = r.n_fires - 1;
  for (size_t j = 0; j < r.fires[first].n; j++)
    cr_expect_str_eq(r.fires[first].paths[j], at("main.c"),
                     "temp file reported");
  /* Write to a temp file and rename over: one more fire. */
  sh("echo v3 > .main.c.tmp1 && mv .main.c.tmp1 main.c");
  cr_assert(wait_fire(&r, NULL, WAIT_MS));
  settle(&r, "sentinel");
  cr_expect_eq(fires_naming(&r, "main.c"), 2);
  cr_expect_eq(r.n_fires, 3);
  frec_free(&r);
  stop(&e);
}

Test(watch, five_hundred_files_in_one_burst_fire_once)
{
  struct cfg c;
  struct env e;
  struct frec r = {0};

  sh("mkdir burst");
  cfg_init(&c);
  c.w.debounce_ms = 150;
  start(&e, &c, &r);
  for (int i = 1; i <= 500; i++) {
    char rel[64];
    int fd;
    snprintf(rel, sizeof rel, "burst/f%d", i);
    fd = open(at(rel), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    cr_assert_geq(fd, 0);
    close(fd);
  }
  cr_assert(wait_fire(&r, NULL, WAIT_MS));
  cr_expect_eq(r.n_fires, 1);
  cr_expect_eq(r.fires[0].n, 500, "every path is passed, got %zu",
               r.fires[0].n);
  settle(&r, "sentinel");
  cr_expect_eq(r.n_fires, 2);
  frec_free(&r);
  stop(&e);
}

Test(watch, new_subfolder_after_start_is_watched)
{
  struct cfg c;
  struct env e;
  struct frec r = {0};

  cfg_init(&c);
  start(&e, &c, &r);
  sh("mkdir -p newdir/deeper");
  cr_assert(wait_fire(&r, "newdir", WAIT_MS));
  sh("echo x > newdir/deeper/file.c");
  cr_assert(wait_fire(&r, "newdir/deeper/file.c", WAIT_MS));
  frec_free(&r);
  stop(&e);
}

Test(watch, excluded_ignored_and_state_paths_do_nothing)
{
  struct cfg c;
  struct env e;
  struct frec r = {0};
  size_t s;
  struct inotify_stats st;

  sh("mkdir -p build .git .tend/output node_modules/pkg src/gen && "
     "printf '*.log\\nsrc/gen/\\n' > .gitignore");
  cfg_init(&c);
  c.exclude[0] = "build";
  c.exclude[1] = "node_modules";
  c.w.n_exclude = 2;
  start(&e, &c, &r);
  /* Excluded and ignored folders are not even watched. */
  inotify_service_stats(e.svc, &st);
  cr_expect_eq(st.watches, 2, "watches: %zu (root and src)", st.watches);
  sh("echo x > build/out.o && echo x > app.log && echo x > .git/index && "
     "echo x > .tend/output/api.jsonl && echo x > node_modules/pkg/i.js && "
     "echo x > src/gen/g.c && echo x > x.swp && echo x > x~ && "
     "echo x > .#lock");
  s = settle(&r, "sentinel");
  cr_expect_eq(r.n_fires, 1);
  cr_expect_eq(r.fires[s].n, 1, "only the sentinel");
  /* A .gitignore edit takes effect at once. */
  sh("echo '*.tmp' >> .gitignore");
  cr_assert(wait_fire(&r, ".gitignore", WAIT_MS));
  sh("echo x > y.tmp");
  s = settle(&r, "sentinel2");
  cr_expect_eq(fires_naming(&r, "y.tmp"), 0);
  cr_expect_eq(r.fires[s].n, 1);
  frec_free(&r);
  stop(&e);
}

Test(watch, gitignore_off_still_ignores_the_always_set)
{
  struct cfg c;
  struct env e;
  struct frec r = {0};

  sh("mkdir -p .git && echo '*.log' > .gitignore");
  cfg_init(&c);
  c.w.gitignore = 0;
  start(&e, &c, &r);
  sh("echo x > .git/HEAD && echo x > a.log");
  cr_assert(wait_fire(&r, "a.log", WAIT_MS));
  cr_expect_eq(fires_naming(&r, ".git/HEAD"), 0);
  frec_free(&r);
  stop(&e);
}

Test(watch, include_globs_select)
{
  struct cfg c;
  struct env e;
  struct frec r = {0};

  sh("mkdir -p src/sub");
  cfg_init(&c);
  c.include[0] = "**/*.c";
  c.include[1] = "Makefile";
  c.w.n_include = 2;
  start(&e, &c, &r);
  sh("echo x > notes.txt && echo x > src/sub/a.h");
  sh("echo x > src/sub/a.c");
  cr_assert(wait_fire(&r, "src/sub/a.c", WAIT_MS));
  sh("echo x > Makefile");
  cr_assert(wait_fire(&r, "Makefile", WAIT_MS));
  cr_expect_eq(fires_naming(&r, "notes.txt"), 0);
  cr_expect_eq(fires_naming(&r, "src/sub/a.h"), 0);
  frec_free(&r);
  stop(&e);
}

Test(watch, gitignore_of_the_enclosing_repository_applies)
{
  struct cfg c;
  struct env e;
  struct frec r = {0};

  /* tmp is a repository; the watch is of a subfolder of it. */
  sh("mkdir -p .git app/dist && printf '/app/dist/\\n*.o\\n' > .gitignore");
  cfg_init(&c);
  c.paths[0] = (char *)at("app");
  char app[512];
  snprintf(app, sizeof app, "%s", c.paths[0]);
  c.paths[0] = app;
  start(&e, &c, &r);
  sh("echo x > app/dist/bundle.js && echo x > app/x.o");
  settle(&r, "app/sentinel");
  cr_expect_eq(r.n_fires, 1);
  cr_expect_eq(r.fires[0].n, 1);
  frec_free(&r);
  stop(&e);
}

Test(watch, a_watched_folder_that_is_itself_gitignored_still_fires)
{
  struct cfg c;
  struct env e;
  struct frec r = {0};
  char dist[512];

  sh("mkdir -p .git dist/js && printf 'dist/\\n*.map\\n' > .gitignore");
  cfg_init(&c);
  snprintf(dist, sizeof dist, "%s", at("dist"));
  c.paths[0] = dist;
  start(&e, &c, &r);
  sh("echo x > dist/js/app.js.map && echo x > dist/js/app.js");
  cr_assert(wait_fire(&r, "dist/js/app.js", WAIT_MS));
  cr_expect_eq(fires_naming(&r, "dist/js/app.js.map"), 0);
  frec_free(&r);
  stop(&e);
}

Test(watch, single_file_path)
{
  struct cfg c;
  struct env e;
  struct frec r = {0};
  char file[512];

  sh("echo a > config.txt && echo a > other.txt");
  cfg_init(&c);
  snprintf(file, sizeof file, "%s", at("config.txt"));
  c.paths[0] = file;
  start(&e, &c, &r);
  sh("echo b > other.txt && echo b > config.txt");
  cr_assert(wait_fire(&r, "config.txt", WAIT_MS));
  cr_expect_eq(fires_naming(&r, "other.txt"), 0);
  /* Saved by rename: still seen. */
  sh("echo c > config.txt.new && mv config.txt.new config.txt");
  cr_assert(wait_fire(&r, NULL, WAIT_MS));
  cr_expect_eq(fires_naming(&r, "config.txt"), 2);
  frec_free(&r);
  stop(&e);
}

Test(watch, rm_mkdir_mv_touch)
{
  struct cfg c;
  struct env e;
  struct frec r = {0};

  sh("mkdir -p X && touch X/old");
  cfg_init(&c);
  start(&e, &c, &r);
  sh("rm -rf X; mkdir X; mv X Y; touch Y/f");
  cr_assert(wait_fire(&r, "Y/f", WAIT_MS));
  frec_free(&r);
  stop(&e);
}

Test(watch, debounce_zero_fires_in_the_same_loop_iteration)
{
  struct cfg c;
  struct env e;
  struct frec r = {0};
  unsigned before;

  cfg_init(&c);
  c.w.debounce_ms = 0;
  start(&e, &c, &r);
  for (int i = 0; i < 5; i++) {
    char rel[32];
    int fd;
    snprintf(rel, sizeof rel, "f%d", i);
    before = check_count;
    fd = open(at(rel), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, "x", 1), 1);
    close(fd);
    /* One iteration: poll delivers the event and the watch fires before
     * the check phase of that same iteration. */
    while (fires_naming(&r, rel) == 0)
      uv_run(&loop, UV_RUN_ONCE);
    cr_expect_eq(r.fires[r.n_fires - 1].check_count, before,
                 "fire %d came %u iterations late", i,
                 r.fires[r.n_fires - 1].check_count - before);
  }
  frec_free(&r);
  stop(&e);
}

/* Runs the loop for about ms. */
static void
run_for(int ms)
{
  uv_timer_t t;

  uv_timer_init(&loop, &t);
  uv_timer_start(&t, tick_cb, (uint64_t)ms, 0);
  while (uv_is_active((uv_handle_t *)&t))
    uv_run(&loop, UV_RUN_ONCE);
  uv_close((uv_handle_t *)&t, NULL);
  uv_run(&loop, UV_RUN_NOWAIT);
}

/* What a self-triggering runner does: it starts, then writes into its own
 * watched tree at once. */
static void
start_and_write(struct env *e, int i)
{
  uv_update_time(&loop);
  watch_note_start(e->w, (int64_t)uv_now(&loop));
  sh("echo %d > output.txt", i);
}

Test(watch, loop_guard_pauses_a_runner_that_writes_as_it_starts)
{
  struct cfg c;
  struct env e;
  struct frec r = {0};
  json_t *st;

  cfg_init(&c);
  c.w.loop_max_restarts = 2;
  c.w.loop_period_ms = 60000;
  c.w.loop_follow_ms = 500;
  start(&e, &c, &r);
  for (int i = 0; i < 2; i++) {
    start_and_write(&e, i);
    cr_assert(wait_fire(&r, NULL, WAIT_MS));
  }
  /* The third linked burst in a row trips the guard and does not fire. */
  start_and_write(&e, 2);
  for (int i = 0; i < 500 && r.n_paused == 0; i++)
    run_for(10);
  cr_assert_eq(r.n_paused, 1);
  cr_expect_eq(r.n_fires, 2);
  cr_expect(watch_is_paused(e.w));
  cr_expect(strstr(r.paused_reason, "restart loop") != NULL, "%s",
            r.paused_reason);
  cr_assert_eq(r.n_paused_paths, 1);
  cr_expect_str_eq(r.paused_paths[0], at("output.txt"));
  st = watch_status_json(e.w);
  cr_expect(json_is_true(json_object_get(st, "paused")));
  cr_expect(json_is_string(json_object_get(st, "reason")));
  cr_expect(json_is_integer(json_object_get(st, "paused_since")));
  cr_expect_eq(json_array_size(json_object_get(st, "paths")), 1);
  cr_expect_eq(json_integer_value(json_object_get(st, "fires")), 2);
  json_decref(st);
  /* Paused: changes do not fire. Resumed: only new changes do. */
  sh("echo 3 > output.txt");
  run_for(150);
  cr_expect_eq(r.n_fires, 2);
  watch_resume(e.w);
  cr_expect(!watch_is_paused(e.w));
  settle(&r, "sentinel");
  st = watch_status_json(e.w);
  cr_expect(json_is_false(json_object_get(st, "paused")));
  cr_expect(json_is_null(json_object_get(st, "reason")));
  cr_expect_eq(json_array_size(json_object_get(st, "paths")), 0);
  json_decref(st);
  frec_free(&r);
  stop(&e);
}

Test(watch, changes_that_do_not_follow_a_start_never_trip)
{
  struct cfg c;
  struct env e;
  struct frec r = {0};

  cfg_init(&c);
  c.w.debounce_ms = 10;
  c.w.loop_max_restarts = 2;
  c.w.loop_follow_ms = 30;
  start(&e, &c, &r);
  /* Each change comes well after the start it caused (a person saving):
   * a streak of any length is not a loop. */
  for (int i = 0; i < 6; i++) {
    uv_update_time(&loop);
    watch_note_start(e.w, (int64_t)uv_now(&loop));
    run_for(80);
    sh("echo %d > notes.md", i);
    cr_assert(wait_fire(&r, NULL, WAIT_MS));
  }
  cr_expect(!watch_is_paused(e.w));
  cr_expect_eq(r.n_paused, 0);
  cr_expect_eq(r.n_fires, 6);
  frec_free(&r);
  stop(&e);
}

Test(watch, loop_guard_off_with_zero)
{
  struct cfg c;
  struct env e;
  struct frec r = {0};

  cfg_init(&c);
  c.w.loop_max_restarts = 0;
  start(&e, &c, &r);
  for (int i = 0; i < 5; i++) {
    start_and_write(&e, i);
    cr_assert(wait_fire(&r, NULL, WAIT_MS));
  }
  cr_expect(!watch_is_paused(e.w));
  frec_free(&r);
  stop(&e);
}

Test(watch, temp_files_are_left_out_and_alone_do_not_fire)
{
  struct cfg c;
  struct env e;
  struct frec r = {0};
  size_t s;

  sh("echo v1 > app.py && echo gone > old.py");
  cfg_init(&c);
  start(&e, &c, &r);
  /* sed -i: a temp file renamed over the file. */
  sh("sed -i s/1/2/ app.py");
  cr_assert(wait_fire(&r, "app.py", WAIT_MS));
  cr_expect_eq(r.fires[r.n_fires - 1].n, 1, "sed's temp file reported");
  /* An atomic save and a scratch file created and removed. */
  sh("echo v3 > .app.py.tmp123 && mv .app.py.tmp123 app.py && "
     "echo x > scratch && rm scratch");
  cr_assert(wait_fire(&r, NULL, WAIT_MS));
  cr_expect_eq(r.fires[r.n_fires - 1].n, 1);
  cr_expect_str_eq(r.fires[r.n_fires - 1].paths[0], at("app.py"));
  /* Only temp files: no fire at all (the sentinel's fire is the next). */
  sh("echo x > scratch && rm scratch");
  s = settle(&r, "sentinel");
  cr_expect_eq(s, 2, "a burst of temp files fired");
  cr_expect_eq(r.fires[s].n, 1);
  /* A real file deleted is a change. */
  sh("rm old.py");
  cr_assert(wait_fire(&r, "old.py", WAIT_MS));
  frec_free(&r);
  stop(&e);
}

Test(watch, repeated_changes_to_one_file_extend_the_debounce)
{
  struct cfg c;
  struct env e;
  struct frec r = {0};
  uint64_t last;

  cfg_init(&c);
  c.w.debounce_ms = 200;
  c.w.max_wait_ms = 0; /* no cap */
  start(&e, &c, &r);
  for (int i = 0; i < 12; i++) {
    sh("echo %d > same.txt", i);
    run_for(50);
  }
  uv_update_time(&loop);
  last = uv_now(&loop);
  cr_expect_eq(r.n_fires, 0, "fired while the file kept changing");
  cr_assert(wait_fire(&r, "same.txt", WAIT_MS));
  cr_expect_geq(r.fires[0].at_ms + 60, last + 200,
                "fired %llu ms after the last change",
                (unsigned long long)(r.fires[0].at_ms - (last - 50)));
  frec_free(&r);
  stop(&e);
}

Test(watch, paths_file_is_written_atomically)
{
  char file[600], *cause = NULL, buf[256] = "";
  FILE *f;
  struct stat st;

  snprintf(file, sizeof file, "%s/changed/srv.txt", tmp);
  cr_assert_eq(burst_paths_file_write(file, "/a\n/b", &cause), 0, "%s",
               cause ? cause : "");
  f = fopen(file, "re");
  cr_assert_not_null(f);
  cr_expect_eq(fread(buf, 1, sizeof buf - 1, f), 6);
  fclose(f);
  cr_expect_str_eq(buf, "/a\n/b\n");
  cr_assert_eq(burst_paths_file_write(file, "/c", &cause), 0);
  cr_assert_eq(stat(file, &st), 0);
  cr_expect_eq(st.st_size, 3);
  cr_expect_eq(st.st_mode & 0777, 0600);
  sh("test $(ls changed | wc -l) -eq 1"); /* no temp file left */
  cr_expect_lt(burst_paths_file_write("/nonexistent/x/y.txt", "/a", &cause), 0);
  cr_assert_not_null(cause);
  cr_expect(strstr(cause, "/nonexistent/x/y.txt") != NULL, "%s", cause);
  free(cause);
}

struct stream {
  int writes;
  uint64_t first_write;
};

/* Writes one file per tick: a steady stream of changes. */
static void
stream_tick(uv_timer_t *t)
{
  struct stream *s = t->data;
  char rel[32];
  int fd;

  snprintf(rel, sizeof rel, "s%d", s->writes);
  fd = open(at(rel), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd >= 0)
    close(fd);
  if (s->writes++ == 0)
    s->first_write = uv_now(t->loop);
}

Test(watch, max_wait_caps_a_steady_stream)
{
  struct cfg c;
  struct env e;
  struct frec r = {0};
  struct stream s = {0};
  uv_timer_t t;

  cfg_init(&c);
  c.w.debounce_ms = 200;
  c.w.max_wait_ms = 300;
  start(&e, &c, &r);
  uv_timer_init(&loop, &t);
  t.data = &s;
  /* A change every 50 ms: the debounce window alone would never close. */
  uv_timer_start(&t, stream_tick, 0, 50);
  while (r.n_fires < 3 && s.writes < 100)
    uv_run(&loop, UV_RUN_ONCE);
  uv_close((uv_handle_t *)&t, NULL);
  cr_assert_geq(r.n_fires, 3, "fires: %zu after %d writes", r.n_fires,
                s.writes);
  /* The first fire came about max_wait after the first write, not never. */
  cr_expect_lt(r.fires[0].at_ms - s.first_write, 1000, "first fire after %llu",
               (unsigned long long)(r.fires[0].at_ms - s.first_write));
  cr_expect_geq(r.fires[0].at_ms - s.first_write, 250);
  cr_expect_lt(s.writes, 60);
  frec_free(&r);
  stop(&e);
}

Test(watch, close_from_inside_the_fire_callback)
{
  struct cfg c;
  struct env e;
  struct frec r = {0};

  cfg_init(&c);
  c.w.debounce_ms = 0;
  start(&e, &c, &r);
  r.close_in_fire = e.w;
  sh("echo x > a");
  cr_assert(wait_fire(&r, "a", WAIT_MS));
  e.w = NULL;
  sh("echo x > b");
  uv_run(&loop, UV_RUN_NOWAIT);
  frec_free(&r);
  stop(&e);
}

Test(watch, bad_config_is_refused_with_a_cause)
{
  struct cfg c;
  struct frec r = {0};
  struct watch_callbacks cbs = {.fire = fire_cb, .ctx = &r};
  struct inotify_service *svc = inotify_service_new(&loop, NULL);
  char *cause = NULL;

  cfg_init(&c);
  c.include[0] = "src/[abc";
  c.w.n_include = 1;
  cr_expect_null(watch_new(&loop, svc, &c.w, NULL, &cbs, &cause));
  cr_assert_not_null(cause);
  cr_expect(strstr(cause, "unterminated") != NULL, "%s", cause);
  free(cause);
  cause = NULL;
  cfg_init(&c);
  c.paths[0] = "/nonexistent/tend/path";
  cr_expect_null(watch_new(&loop, svc, &c.w, NULL, &cbs, &cause));
  cr_assert_not_null(cause);
  cr_expect(strstr(cause, "/nonexistent/tend/path") != NULL, "%s", cause);
  free(cause);
  inotify_service_close(svc, NULL, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
}

Test(watch, overflow_is_a_notice_and_the_rescan_fires)
{
  const char *knob = "/proc/sys/fs/inotify/max_queued_events";
  char orig[32] = "", *cause = NULL;
  FILE *f = fopen(knob, "re");
  struct cfg c;
  struct env e;
  struct frec r = {0};
  struct watch_callbacks cbs = {
      .fire = fire_cb, .paused = paused_cb, .notice = notice_cb, .ctx = &r};
  json_t *st, *notices;
  int rc;

  cr_assert_not_null(f);
  cr_assert_not_null(fgets(orig, sizeof orig, f));
  fclose(f);
  /* A tiny queue for this one instance only (fixed at inotify_init1). */
  rc = helpers_write_proc(knob, "16");
  if (rc < 0)
    cr_skip_test("cannot lower %s (%s)", knob, strerror(-rc));
  e.svc = inotify_service_new(&loop, &cause);
  cr_assert_eq(helpers_write_proc(knob, orig), 0, "could not restore %s", knob);
  cr_assert_not_null(e.svc);
  cfg_init(&c);
  c.w.debounce_ms = 50;
  e.w = watch_new(&loop, e.svc, &c.w, NULL, &cbs, &cause);
  cr_assert_not_null(e.w, "%s", cause ? cause : "");
  /* 60 files while the loop is not running: the queue overflows. */
  for (int i = 0; i < 60; i++) {
    char rel[32];
    int fd;
    snprintf(rel, sizeof rel, "o%d", i);
    fd = open(at(rel), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    cr_assert_geq(fd, 0);
    close(fd);
  }
  cr_assert(wait_fire(&r, "o59", WAIT_MS));
  cr_expect_geq(r.n_notices, 1);
  for (int i = 0; i < 60; i++) {
    char rel[32];
    snprintf(rel, sizeof rel, "o%d", i);
    cr_expect_eq(fires_naming(&r, rel), 1, "%s", rel);
  }
  st = watch_status_json(e.w);
  notices = json_object_get(st, "notices");
  cr_assert_geq(json_array_size(notices), 1);
  cr_expect_str_eq(
      json_string_value(json_object_get(json_array_get(notices, 0), "kind")),
      "overflow");
  json_decref(st);
  frec_free(&r);
  stop(&e);
}
