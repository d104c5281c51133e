/* Tests for watchers/reload: fingerprints of real files, and the watcher on
 * a real uv loop. "No fire" is observed without sleeping: the test waits
 * until the watcher has seen the change (busy) and finished its burst (not
 * busy any more), then checks the count. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "watchers/reload.h"
#include "tests/unit/helpers.h"

#define WAIT_MS 5000

static uv_loop_t loop;
static char tmp[256];

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

/* Runs a shell command inside tmp. */
#define sh(...) helpers_sh(tmp, __VA_ARGS__)

static void
setup(void)
{
  char t[] = "/tmp/tend-reload-XXXXXX";
  char *real;

  cr_assert_not_null(mkdtemp(t));
  real = realpath(t, NULL);
  cr_assert_not_null(real);
  snprintf(tmp, sizeof tmp, "%s", real);
  free(real);
  cr_assert_eq(uv_loop_init(&loop), 0);
}

static void
teardown(void)
{
  char cmd[512];

  uv_run(&loop, UV_RUN_DEFAULT);
  cr_expect_eq(uv_loop_close(&loop), 0, "handles left open on the loop");
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
  if (system(cmd) != 0)
    fprintf(stderr, "cleanup of %s failed\n", tmp);
}

TestSuite(reload, .init = setup, .fini = teardown, .timeout = 60);

Test(reload, include_names)
{
  cr_expect(reload_include_name("web.json"));
  cr_expect(reload_include_name("a.b.json"));
  cr_expect(!reload_include_name(".web.json"));
  cr_expect(!reload_include_name(".json"));
  cr_expect(!reload_include_name("web.json~"));
  cr_expect(!reload_include_name("web.json.swp"));
  cr_expect(!reload_include_name("notes.txt"));
}

Test(reload, fingerprint_follows_content_only)
{
  uint64_t a, b;

  sh("mkdir conf.d && echo '{}' > tend.json");
  a = reload_fingerprint(at("tend.json"), NULL);
  sh("touch tend.json");
  cr_expect_eq(reload_fingerprint(at("tend.json"), NULL), a);
  sh("echo '{\"x\":1}' > tend.json");
  b = reload_fingerprint(at("tend.json"), NULL);
  cr_expect_neq(a, b);
  sh("echo '{}' > tend.json");
  cr_expect_eq(reload_fingerprint(at("tend.json"), NULL), a);
  /* Missing and empty differ. */
  sh("rm tend.json");
  a = reload_fingerprint(at("tend.json"), NULL);
  sh(": > tend.json");
  cr_expect_neq(reload_fingerprint(at("tend.json"), NULL), a);

  /* The include folder: names and contents of *.json files count, others
   * do not. */
  a = reload_fingerprint(at("tend.json"), at("conf.d"));
  sh("echo x > conf.d/notes.txt && echo x > conf.d/.hidden.json && "
     "mkdir conf.d/dir.json");
  cr_expect_eq(reload_fingerprint(at("tend.json"), at("conf.d")), a);
  sh("echo '{}' > conf.d/web.json");
  b = reload_fingerprint(at("tend.json"), at("conf.d"));
  cr_expect_neq(a, b);
  sh("mv conf.d/web.json conf.d/api.json");
  cr_expect_neq(reload_fingerprint(at("tend.json"), at("conf.d")), b,
                "a rename changes what is loaded");
  sh("rm conf.d/api.json");
  cr_expect_eq(reload_fingerprint(at("tend.json"), at("conf.d")), a);
}

struct counter {
  int fires;
};

static void
on_reload(void *ctx)
{
  ((struct counter *)ctx)->fires++;
}

static void
tick_cb(uv_timer_t *t)
{
  (void)t;
}

/* Runs the loop until cond(r, c) holds; returns it. */
static int
run_until(struct reload *r, struct counter *c,
          int (*cond)(struct reload *, struct counter *))
{
  uv_timer_t tick;
  uint64_t end;
  int ok;

  uv_update_time(&loop);
  end = uv_now(&loop) + WAIT_MS;
  uv_timer_init(&loop, &tick);
  uv_timer_start(&tick, tick_cb, 5, 5);
  while (!(ok = cond(r, c)) && uv_now(&loop) < end)
    uv_run(&loop, UV_RUN_ONCE);
  uv_close((uv_handle_t *)&tick, NULL);
  uv_run(&loop, UV_RUN_NOWAIT);
  return ok;
}

static int
is_busy(struct reload *r, struct counter *c)
{
  (void)c;
  return reload_busy(r);
}

static int
is_idle(struct reload *r, struct counter *c)
{
  (void)c;
  return !reload_busy(r);
}

/* Waits for one complete burst: seen, then settled. */
static void
burst(struct reload *r, struct counter *c)
{
  cr_assert(run_until(r, c, is_busy), "the change was not seen");
  cr_assert(run_until(r, c, is_idle), "the burst never ended");
}

struct env {
  struct inotify_service *svc;
  struct reload *r;
};

static void
start(struct env *e, struct counter *c, const char *include)
{
  char *cause = NULL;

  e->svc = inotify_service_new(&loop, &cause);
  cr_assert_not_null(e->svc);
  e->r =
      reload_new(&loop, e->svc, at("tend.json"), include, on_reload, c, &cause);
  cr_assert_not_null(e->r, "%s", cause ? cause : "");
}

static int closed;

static void
on_closed(void *arg)
{
  (void)arg;
  closed++;
}

static void
stop(struct env *e)
{
  closed = 0;
  reload_close(e->r, on_closed, NULL);
  inotify_service_close(e->svc, on_closed, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  cr_expect_eq(closed, 2);
}

Test(reload, fires_once_per_content_change_only)
{
  struct counter c = {0};
  struct env e;

  sh("echo '{\"v\":1}' > tend.json && echo x > other.txt");
  start(&e, &c, NULL);

  /* A touch, and a change to another file: nothing. */
  sh("echo y > other.txt && touch tend.json");
  burst(e.r, &c);
  cr_expect_eq(c.fires, 0);

  /* An in-place edit: one fire. */
  sh("echo '{\"v\":2}' > tend.json");
  burst(e.r, &c);
  cr_expect_eq(c.fires, 1);

  /* An editor save (temp file + rename) of new content: one fire. */
  sh("echo '{\"v\":3}' > .tend.json.tmp && mv .tend.json.tmp tend.json");
  burst(e.r, &c);
  cr_expect_eq(c.fires, 2);

  /* The same save without an edit: nothing. */
  sh("echo '{\"v\":3}' > .tend.json.tmp && mv .tend.json.tmp tend.json");
  burst(e.r, &c);
  cr_expect_eq(c.fires, 2);

  /* Several writes in a row: one fire. */
  sh("for i in 1 2 3 4 5 6 7 8; do echo \"{\\\"v\\\":$i$i}\" > tend.json; "
     "done");
  burst(e.r, &c);
  cr_expect_eq(c.fires, 3);

  /* A change the caller already applied (reload_refresh): nothing. */
  sh("echo '{\"v\":4}' > tend.json");
  reload_refresh(e.r);
  burst(e.r, &c);
  cr_expect_eq(c.fires, 3);

  /* Deleted, then written back: two changes of content. */
  sh("rm tend.json");
  burst(e.r, &c);
  cr_expect_eq(c.fires, 4);
  sh("echo '{\"v\":4}' > tend.json");
  burst(e.r, &c);
  cr_expect_eq(c.fires, 5);
  stop(&e);
}

Test(reload, include_folder_files_are_live)
{
  struct counter c = {0};
  struct env e;

  sh("echo '{}' > tend.json && mkdir conf.d && echo '{}' > conf.d/db.json");
  start(&e, &c, at("conf.d"));

  sh("echo '{\"name\":\"web\"}' > conf.d/web.json");
  burst(e.r, &c);
  cr_expect_eq(c.fires, 1, "adding a file");

  sh("echo '{\"name\":\"db2\"}' > conf.d/.db.json.tmp && "
     "mv conf.d/.db.json.tmp conf.d/db.json");
  burst(e.r, &c);
  cr_expect_eq(c.fires, 2, "editing a file by rename");

  sh("rm conf.d/web.json");
  burst(e.r, &c);
  cr_expect_eq(c.fires, 3, "deleting a file");

  /* Files the loader ignores: a burst may not even start; prove it with a
   * touch of tend.json, which starts one without changing anything. */
  sh("echo x > conf.d/README && echo '{}' > conf.d/.hidden.json && "
     "touch tend.json");
  burst(e.r, &c);
  cr_expect_eq(c.fires, 3, "ignored names");

  /* Dropping the include folder: its changes no longer count. */
  cr_assert_eq(reload_set_include_dir(e.r, NULL, NULL), 0);
  sh("echo '{}' > conf.d/new.json && touch tend.json");
  burst(e.r, &c);
  cr_expect_eq(c.fires, 3);
  stop(&e);
}

Test(reload, missing_folders_are_refused)
{
  struct counter c = {0};
  struct inotify_service *svc = inotify_service_new(&loop, NULL);
  char *cause = NULL;

  cr_expect_null(reload_new(&loop, svc, "/nonexistent/tend/tend.json", NULL,
                            on_reload, &c, &cause));
  cr_assert_not_null(cause);
  free(cause);
  cause = NULL;
  sh("echo '{}' > tend.json");
  cr_expect_null(reload_new(&loop, svc, at("tend.json"), at("conf.d"),
                            on_reload, &c, &cause));
  cr_assert_not_null(cause);
  cr_expect(strstr(cause, "conf.d") != NULL, "%s", cause);
  free(cause);
  inotify_service_close(svc, NULL, NULL);
}
