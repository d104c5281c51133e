/* Tests for watchers/inotify against real files in a temp folder and a real
 * uv loop. Waits poll for conditions with generous bounds; "nothing else
 * happened" is checked with a sentinel file whose event, arriving after
 * everything queued before it, proves the earlier events were delivered. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include "watchers/inotify.h"
#include "tests/unit/helpers.h"

#define WAIT_MS 5000

struct rec_change {
  enum inotify_kind kind;
  char *path;
  char *from;
  int is_dir;
  int synthetic;
  char *message;
};

struct rec {
  struct rec_change *chs;
  size_t n, cap;
  size_t batches;
};

static uv_loop_t main_loop, child_loop;
static uv_loop_t *loopp = &main_loop;
static const char *at(const char *rel);
static char tmp[256];

/* Records a batch of changes. */
static void
rec_cb(void *ctx, const struct inotify_change *chs, size_t n)
{
  struct rec *r = ctx;

  cr_assert_gt(n, 0);
  r->batches++;
  for (size_t i = 0; i < n; i++) {
    if (r->n == r->cap) {
      r->cap = r->cap == 0 ? 64 : r->cap * 2;
      r->chs = realloc(r->chs, r->cap * sizeof *r->chs);
    }
    r->chs[r->n++] = (struct rec_change){
        .kind = chs[i].kind,
        .path = strdup(chs[i].path),
        .from = chs[i].from != NULL ? strdup(chs[i].from) : NULL,
        .is_dir = chs[i].is_dir,
        .synthetic = chs[i].synthetic,
        .message = chs[i].message != NULL ? strdup(chs[i].message) : NULL,
    };
  }
}

/* Forgets what was recorded. */
static void
rec_reset(struct rec *r)
{
  for (size_t i = 0; i < r->n; i++) {
    free(r->chs[i].path);
    free(r->chs[i].from);
    free(r->chs[i].message);
  }
  r->n = 0;
  r->batches = 0;
}

/* Frees a recorder's storage. */
static void
rec_free(struct rec *r)
{
  rec_reset(r);
  free(r->chs);
  r->chs = NULL;
  r->cap = 0;
}

/* Returns the number of recorded changes of kind (-1: any) at path (relative
 * to tmp). */
static size_t
rec_count(const struct rec *r, int kind, const char *rel)
{
  const char *path = at(rel);
  size_t n = 0;

  for (size_t i = 0; i < r->n; i++)
    if ((kind < 0 || r->chs[i].kind == (enum inotify_kind)kind) &&
        strcmp(r->chs[i].path, path) == 0)
      n++;
  return n;
}

/* Returns 1 when some recorded path contains needle. */
static int
rec_mentions(const struct rec *r, const char *needle)
{
  for (size_t i = 0; i < r->n; i++)
    if (strstr(r->chs[i].path, needle) != NULL ||
        (r->chs[i].from != NULL && strstr(r->chs[i].from, needle) != NULL))
      return 1;
  return 0;
}

/* Dumps the recording (for failure messages). */
static void
rec_dump(const struct rec *r)
{
  for (size_t i = 0; i < r->n; i++)
    fprintf(stderr, "  %s %s%s%s%s%s\n", inotify_kind_name(r->chs[i].kind),
            r->chs[i].path, r->chs[i].from ? " from " : "",
            r->chs[i].from ? r->chs[i].from : "",
            r->chs[i].is_dir ? " (dir)" : "",
            r->chs[i].synthetic ? " (rescan)" : "");
}

static void
tick_cb(uv_timer_t *t)
{
  (void)t;
}

/* Runs the loop until r holds a change of kind at rel (or timeout). */
static int
wait_for(struct rec *r, int kind, const char *rel, int timeout_ms)
{
  uv_timer_t tick;
  uint64_t end;
  int ok;

  uv_update_time(loopp);
  end = uv_now(loopp) + (uint64_t)timeout_ms;
  uv_timer_init(loopp, &tick);
  uv_timer_start(&tick, tick_cb, 10, 10);
  while (!(ok = rec_count(r, kind, rel) > 0) && uv_now(loopp) < end)
    uv_run(loopp, UV_RUN_ONCE);
  uv_close((uv_handle_t *)&tick, NULL);
  uv_run(loopp, UV_RUN_NOWAIT);
  if (!ok) {
    fprintf(stderr, "waited in vain for %s %s; got:\n",
            kind < 0 ? "any" : inotify_kind_name(kind), rel);
    rec_dump(r);
  }
  return ok;
}

/* Creates the sentinel file rel and waits for its event. */
static void
settle(struct rec *r, const char *rel)
{
  char path[PATH_MAX];
  int fd;

  snprintf(path, sizeof path, "%s/%s", tmp, rel);
  fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  cr_assert_geq(fd, 0, "open %s: %s", path, strerror(errno));
  close(fd);
  cr_assert(wait_for(r, -1, rel, WAIT_MS), "sentinel %s never seen", rel);
}

/* Runs a shell command inside tmp. */
#define sh(...) helpers_sh(tmp, __VA_ARGS__)

/* Returns tmp + "/" + rel in a static buffer. */
static const char *
at(const char *rel)
{
  static char buf[4][PATH_MAX];
  static int next;
  char *b = buf[next++ % 4];

  if (*rel == '\0')
    snprintf(b, PATH_MAX, "%s", tmp);
  else
    snprintf(b, PATH_MAX, "%s/%s", tmp, rel);
  return b;
}

static void
setup(void)
{
  char t[] = "/tmp/tend-inotify-XXXXXX";
  char *real;

  cr_assert_not_null(mkdtemp(t));
  real = realpath(t, NULL);
  cr_assert_not_null(real);
  snprintf(tmp, sizeof tmp, "%s", real);
  free(real);
  cr_assert_eq(uv_loop_init(loopp), 0);
}

static int closed_flag;

static void
on_closed(void *arg)
{
  (void)arg;
  closed_flag = 1;
}

/* Closes svc and checks that everything was freed from the loop. */
static void
close_service(struct inotify_service *svc)
{
  closed_flag = 0;
  inotify_service_close(svc, on_closed, NULL);
  uv_run(loopp, UV_RUN_DEFAULT);
  cr_expect(closed_flag, "close callback not called");
}

static void
teardown(void)
{
  char cmd[PATH_MAX + 32];

  cr_expect_eq(uv_loop_close(loopp), 0, "handles left open on the loop");
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
  if (system(cmd) != 0)
    fprintf(stderr, "cleanup of %s failed\n", tmp);
}

TestSuite(inotify, .init = setup, .fini = teardown, .timeout = 60);

/* Starts a service and a recursive subscription of the whole temp folder. */
static struct inotify_service *
start(struct rec *r, struct inotify_sub **sub)
{
  char *cause = NULL;
  struct inotify_service *svc = inotify_service_new(loopp, &cause);

  cr_assert_not_null(svc, "%s", cause ? cause : "");
  *sub = inotify_watch(svc, tmp, 1, rec_cb, NULL, r, &cause);
  cr_assert_not_null(*sub, "%s", cause ? cause : "");
  return svc;
}

Test(inotify, fd_is_nonblocking_and_cloexec)
{
  struct inotify_service *svc = inotify_service_new(loopp, NULL);
  int found = 0;

  cr_assert_not_null(svc);
  for (int fd = 3; fd < 1024; fd++) {
    char link[64], target[128];
    ssize_t n;
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    n = readlink(link, target, sizeof target - 1);
    if (n <= 0)
      continue;
    target[n] = '\0';
    if (strcmp(target, "anon_inode:inotify") != 0)
      continue;
    found++;
    cr_expect(fcntl(fd, F_GETFD) & FD_CLOEXEC, "inotify fd %d not CLOEXEC", fd);
    cr_expect(fcntl(fd, F_GETFL) & O_NONBLOCK, "inotify fd %d blocking", fd);
  }
  cr_expect_eq(found, 1, "expected exactly one inotify fd");
  close_service(svc);
}

Test(inotify, rejects_bad_roots)
{
  struct inotify_service *svc = inotify_service_new(loopp, NULL);
  char *cause = NULL;
  struct rec r = {0};

  sh("touch file");
  cr_expect_null(
      inotify_watch(svc, "relative/path", 1, rec_cb, NULL, &r, &cause));
  cr_expect_not_null(cause);
  free(cause);
  cause = NULL;
  cr_expect_null(
      inotify_watch(svc, at("missing"), 1, rec_cb, NULL, &r, &cause));
  cr_assert_not_null(cause);
  cr_expect(strstr(cause, "No such file") != NULL, "%s", cause);
  free(cause);
  cause = NULL;
  cr_expect_null(inotify_watch(svc, at("file"), 1, rec_cb, NULL, &r, &cause));
  cr_assert_not_null(cause);
  free(cause);
  close_service(svc);
}

Test(inotify, create_modify_delete_rename_a_file)
{
  struct rec r = {0};
  struct inotify_sub *sub;
  struct inotify_service *svc;

  sh("echo old > existing");
  svc = start(&r, &sub);
  sh("echo hi > a.txt");
  cr_assert(wait_for(&r, INOTIFY_CREATED, "a.txt", WAIT_MS));
  sh("echo more >> a.txt");
  cr_assert(wait_for(&r, INOTIFY_MODIFIED, "a.txt", WAIT_MS));
  sh("mv a.txt b.txt");
  cr_assert(wait_for(&r, INOTIFY_MOVED, "b.txt", WAIT_MS));
  for (size_t i = 0; i < r.n; i++)
    if (r.chs[i].kind == INOTIFY_MOVED)
      cr_expect_str_eq(r.chs[i].from, at("a.txt"));
  sh("rm b.txt");
  cr_assert(wait_for(&r, INOTIFY_DELETED, "b.txt", WAIT_MS));
  sh("touch existing");
  cr_assert(wait_for(&r, INOTIFY_MODIFIED, "existing", WAIT_MS));
  for (size_t i = 0; i < r.n; i++)
    cr_expect(!r.chs[i].synthetic, "kernel events are not synthetic");
  rec_free(&r);
  close_service(svc);
}

Test(inotify, one_write_is_one_change)
{
  struct rec r = {0};
  struct inotify_sub *sub;
  struct inotify_service *svc;

  sh("echo v1 > f");
  svc = start(&r, &sub);
  sh("echo v2 > f");
  settle(&r, "sentinel");
  cr_expect_eq(rec_count(&r, -1, "f"), 1, "echo > f gave %zu changes",
               rec_count(&r, -1, "f"));
  rec_free(&r);
  close_service(svc);
}

Test(inotify, new_folder_contents_created_before_the_watch_are_reported)
{
  struct rec r = {0};
  struct inotify_sub *sub;
  struct inotify_service *svc = start(&r, &sub);

  sh("mkdir -p new/deeper && touch new/deeper/early.txt");
  cr_assert(wait_for(&r, INOTIFY_CREATED, "new/deeper/early.txt", WAIT_MS));
  cr_expect_geq(rec_count(&r, INOTIFY_CREATED, "new"), 1);
  /* The new folders are watched now. */
  sh("touch new/deeper/later.txt");
  cr_assert(wait_for(&r, INOTIFY_CREATED, "new/deeper/later.txt", WAIT_MS));
  /* Reported once each, not once by the kernel and once by the rescan. */
  settle(&r, "sentinel");
  cr_expect_eq(rec_count(&r, INOTIFY_CREATED, "new/deeper/early.txt"), 1);
  rec_free(&r);
  close_service(svc);
}

Test(inotify, rm_mkdir_mv_touch_reports_the_new_path)
{
  struct rec r = {0};
  struct inotify_sub *sub;
  struct inotify_service *svc;

  sh("mkdir -p X/inner && touch X/inner/old");
  svc = start(&r, &sub);
  sh("rm -rf X; mkdir X; mv X Y; touch Y/f");
  cr_assert(wait_for(&r, -1, "Y/f", WAIT_MS));
  settle(&r, "sentinel");
  cr_expect(!rec_mentions(&r, "/X/f"), "reported under the old name");
  /* And the renamed folder keeps working. */
  sh("touch Y/g");
  cr_assert(wait_for(&r, INOTIFY_CREATED, "Y/g", WAIT_MS));
  rec_free(&r);
  close_service(svc);
}

Test(inotify, renamed_folder_rewrites_descendant_paths)
{
  struct rec r = {0};
  struct inotify_sub *sub;
  struct inotify_service *svc;
  struct inotify_stats st;

  sh("mkdir -p a/b/c");
  svc = start(&r, &sub);
  inotify_service_stats(svc, &st);
  cr_expect_eq(st.watches, 4);
  sh("mv a z");
  cr_assert(wait_for(&r, INOTIFY_MOVED, "z", WAIT_MS));
  sh("touch z/b/c/deep");
  cr_assert(wait_for(&r, INOTIFY_CREATED, "z/b/c/deep", WAIT_MS));
  cr_expect(!rec_mentions(&r, "/a/b"), "stale path reported");
  inotify_service_stats(svc, &st);
  cr_expect_eq(st.watches, 4, "watches after the rename: %zu", st.watches);
  /* Nothing in the moved tree is reported as new. */
  cr_expect_eq(rec_count(&r, INOTIFY_CREATED, "z/b"), 0);
  rec_free(&r);
  close_service(svc);
}

Test(inotify, folder_moved_out_drops_its_watches_and_moved_in_is_scanned)
{
  struct rec r = {0};
  struct inotify_sub *sub;
  struct inotify_service *svc;
  struct inotify_stats st;

  sh("mkdir -p tree/sub/subsub outside/incoming/deep && "
     "touch outside/incoming/deep/file");
  {
    char *cause = NULL;
    svc = inotify_service_new(loopp, &cause);
    cr_assert_not_null(svc);
    sub = inotify_watch(svc, at("tree"), 1, rec_cb, NULL, &r, &cause);
    cr_assert_not_null(sub, "%s", cause ? cause : "");
  }
  inotify_service_stats(svc, &st);
  cr_expect_eq(st.watches, 3);
  sh("mv tree/sub outside/gone");
  cr_assert(wait_for(&r, INOTIFY_DELETED, "tree/sub", WAIT_MS));
  inotify_service_stats(svc, &st);
  cr_expect_eq(st.watches, 1, "watches after the move out: %zu", st.watches);
  sh("touch outside/gone/subsub/x");
  sh("mv outside/incoming tree/incoming");
  cr_assert(wait_for(&r, INOTIFY_CREATED, "tree/incoming/deep/file", WAIT_MS));
  cr_expect(!rec_mentions(&r, "subsub/x"), "event from a folder moved out");
  sh("touch tree/incoming/deep/new");
  cr_assert(wait_for(&r, INOTIFY_CREATED, "tree/incoming/deep/new", WAIT_MS));
  inotify_service_stats(svc, &st);
  cr_expect_eq(st.watches, 3);
  rec_free(&r);
  close_service(svc);
}

Test(inotify, deleted_tree_drops_its_watches)
{
  struct rec r = {0};
  struct inotify_sub *sub;
  struct inotify_service *svc;
  struct inotify_stats st;

  sh("mkdir -p d/e/f && touch d/e/f/x");
  svc = start(&r, &sub);
  sh("rm -rf d");
  cr_assert(wait_for(&r, INOTIFY_DELETED, "d", WAIT_MS));
  cr_expect_geq(rec_count(&r, INOTIFY_DELETED, "d/e/f/x"), 1);
  settle(&r, "sentinel");
  inotify_service_stats(svc, &st);
  cr_expect_eq(st.watches, 1);
  rec_free(&r);
  close_service(svc);
}

Test(inotify, non_recursive_and_overlapping_subscribers)
{
  struct rec all = {0}, flat = {0}, inner = {0};
  struct inotify_service *svc = inotify_service_new(loopp, NULL);
  struct inotify_sub *s1, *s2, *s3;

  sh("mkdir -p sub/deeper");
  s1 = inotify_watch(svc, tmp, 1, rec_cb, NULL, &all, NULL);
  s2 = inotify_watch(svc, tmp, 0, rec_cb, NULL, &flat, NULL);
  s3 = inotify_watch(svc, at("sub"), 1, rec_cb, NULL, &inner, NULL);
  cr_assert(s1 && s2 && s3);
  cr_expect_str_eq(inotify_sub_root(s3), at("sub"));
  sh("touch top sub/mid sub/deeper/low");
  cr_assert(wait_for(&all, -1, "sub/deeper/low", WAIT_MS));
  settle(&all, "sentinel");
  cr_expect_eq(rec_count(&flat, -1, "top"), 1);
  cr_expect_eq(rec_count(&flat, -1, "sub/mid"), 0);
  cr_expect_eq(rec_count(&flat, -1, "sub/deeper/low"), 0);
  cr_expect_eq(rec_count(&inner, -1, "top"), 0);
  cr_expect_eq(rec_count(&inner, -1, "sub/mid"), 1);
  cr_expect_eq(rec_count(&inner, -1, "sub/deeper/low"), 1);
  cr_expect_eq(rec_count(&all, -1, "sub/mid"), 1);
  /* A rename from inside one subscriber's tree to outside it. */
  sh("mv sub/mid moved_up");
  cr_assert(wait_for(&all, INOTIFY_MOVED, "moved_up", WAIT_MS));
  cr_assert(wait_for(&inner, INOTIFY_DELETED, "sub/mid", WAIT_MS));
  cr_assert(wait_for(&flat, INOTIFY_CREATED, "moved_up", WAIT_MS));
  /* After unwatching, no more callbacks for that subscriber. */
  inotify_unwatch(s3);
  rec_reset(&inner);
  sh("touch sub/after");
  cr_assert(wait_for(&all, -1, "sub/after", WAIT_MS));
  cr_expect_eq(inner.n, 0);
  inotify_unwatch(s2);
  rec_free(&all);
  rec_free(&flat);
  rec_free(&inner);
  close_service(svc);
}

/* Skips folders named "skipme". */
static int
want_dir(void *ctx, const char *path)
{
  (void)ctx;
  const char *base = strrchr(path, '/');
  return strcmp(base + 1, "skipme") != 0;
}

Test(inotify, want_dir_leaves_folders_unwatched)
{
  struct rec r = {0};
  struct inotify_service *svc = inotify_service_new(loopp, NULL);
  struct inotify_sub *sub;
  struct inotify_stats st;

  sh("mkdir -p skipme/a/b keep");
  sub = inotify_watch(svc, tmp, 1, rec_cb, want_dir, &r, NULL);
  cr_assert_not_null(sub);
  inotify_service_stats(svc, &st);
  cr_expect_eq(st.watches, 2);
  sh("touch skipme/a/b/x skipme/y keep/z");
  cr_assert(wait_for(&r, -1, "keep/z", WAIT_MS));
  settle(&r, "sentinel");
  cr_expect(!rec_mentions(&r, "skipme/"), "event from an unwanted folder");
  sh("mkdir -p keep/skipme/q");
  cr_assert(wait_for(&r, INOTIFY_CREATED, "keep/skipme", WAIT_MS));
  settle(&r, "sentinel2");
  inotify_service_stats(svc, &st);
  cr_expect_eq(st.watches, 2);
  rec_free(&r);
  close_service(svc);
}

Test(inotify, callback_can_unwatch_itself)
{
  struct rec r = {0};
  struct inotify_service *svc = inotify_service_new(loopp, NULL);
  struct inotify_sub *sub;
  struct inotify_stats st;

  sub = inotify_watch(svc, tmp, 1, rec_cb, NULL, &r, NULL);
  cr_assert_not_null(sub);
  sh("touch one");
  cr_assert(wait_for(&r, -1, "one", WAIT_MS));
  inotify_unwatch(sub);
  inotify_service_stats(svc, &st);
  cr_expect_eq(st.subs, 0);
  cr_expect_eq(st.watches, 0, "watches left: %zu", st.watches);
  rec_free(&r);
  close_service(svc);
}

Test(inotify, root_deleted_then_recreated)
{
  struct rec r = {0};
  struct inotify_service *svc = inotify_service_new(loopp, NULL);
  struct inotify_sub *sub;

  sh("mkdir root");
  sub = inotify_watch(svc, at("root"), 1, rec_cb, NULL, &r, NULL);
  cr_assert_not_null(sub);
  sh("rm -rf root");
  cr_assert(wait_for(&r, INOTIFY_DELETED, "root", WAIT_MS));
  sh("mkdir root && touch root/back");
  cr_assert(wait_for(&r, INOTIFY_CREATED, "root/back", WAIT_MS));
  sh("touch root/again");
  cr_assert(wait_for(&r, INOTIFY_CREATED, "root/again", WAIT_MS));
  rec_free(&r);
  close_service(svc);
}

Test(inotify, writer_that_keeps_the_file_open_is_reported)
{
  struct rec r = {0};
  struct inotify_sub *sub;
  struct inotify_service *svc;
  int fd;

  sh("touch log");
  svc = start(&r, &sub);
  fd = open(at("log"), O_WRONLY | O_APPEND | O_CLOEXEC);
  cr_assert_geq(fd, 0);
  cr_assert_eq(write(fd, "x\n", 2), 2);
  cr_assert(wait_for(&r, INOTIFY_MODIFIED, "log", WAIT_MS));
  close(fd);
  rec_free(&r);
  close_service(svc);
}

Test(inotify, editor_save_by_rename)
{
  struct rec r = {0};
  struct inotify_sub *sub;
  struct inotify_service *svc;

  sh("echo v1 > main.c");
  svc = start(&r, &sub);
  sh("echo v2 > .main.c.swx && mv .main.c.swx main.c");
  cr_assert(wait_for(&r, INOTIFY_MOVED, "main.c", WAIT_MS));
  rec_free(&r);
  close_service(svc);
}

Test(inotify, overflow_is_reported_and_rescanned)
{
  const char *knob = "/proc/sys/fs/inotify/max_queued_events";
  char orig[32] = "";
  FILE *f = fopen(knob, "re");
  struct rec r = {0};
  struct inotify_service *svc;
  struct inotify_sub *sub;
  int set;

  cr_assert_not_null(f);
  cr_assert_not_null(fgets(orig, sizeof orig, f));
  fclose(f);
  /* The queue size is fixed when an instance is created: lower it for the
   * moment of inotify_init1 only, then restore it at once. */
  set = helpers_write_proc(knob, "16");
  if (set < 0) {
    cr_skip_test("cannot lower %s (%s): overflow not provoked", knob,
                 strerror(-set));
  }
  svc = inotify_service_new(loopp, NULL);
  cr_assert_eq(helpers_write_proc(knob, orig), 0, "could not restore %s", knob);
  cr_assert_not_null(svc);
  sh("mkdir -p pre && echo 1 > pre/changed && echo 1 > pre/removed");
  sub = inotify_watch(svc, tmp, 1, rec_cb, NULL, &r, NULL);
  cr_assert_not_null(sub);
  /* Without running the loop, queue far more than 16 events. */
  sh("for i in $(seq 1 100); do echo x > f$i; done; echo 22 > pre/changed; "
     "rm pre/removed; mkdir -p newdir/inner && touch newdir/inner/g");
  cr_assert(wait_for(&r, INOTIFY_OVERFLOW, "", WAIT_MS));
  cr_assert(wait_for(&r, -1, "newdir/inner/g", WAIT_MS));
  for (int i = 1; i <= 100; i++) {
    char name[16];
    snprintf(name, sizeof name, "f%d", i);
    cr_expect_geq(rec_count(&r, -1, name), 1, "%s missed", name);
  }
  cr_expect_geq(rec_count(&r, INOTIFY_MODIFIED, "pre/changed"), 1);
  cr_expect_geq(rec_count(&r, INOTIFY_DELETED, "pre/removed"), 1);
  for (size_t i = 0; i < r.n; i++)
    if (r.chs[i].kind == INOTIFY_OVERFLOW) {
      cr_assert_not_null(r.chs[i].message);
      cr_expect(strstr(r.chs[i].message, "max_queued_events") != NULL);
    }
  {
    struct inotify_stats st;
    inotify_service_stats(svc, &st);
    cr_expect_geq(st.overflows, 1);
  }
  /* Unchanged files are not reported by the rescan. */
  sh("touch later");
  cr_assert(wait_for(&r, -1, "later", WAIT_MS));
  rec_reset(&r);
  sh("touch pre/changed");
  cr_assert(wait_for(&r, INOTIFY_MODIFIED, "pre/changed", WAIT_MS));
  rec_free(&r);
  close_service(svc);
}

/* Enters a new user namespace (mapping root to root) so that its own
 * inotify watch limit can be lowered without touching the machine's. */
static int
enter_user_ns(void)
{
  char map[64];

  if (unshare(CLONE_NEWUSER) != 0)
    return -errno;
  if (helpers_write_proc("/proc/self/setgroups", "deny") < 0)
    return -EPERM;
  snprintf(map, sizeof map, "0 0 1");
  if (helpers_write_proc("/proc/self/uid_map", map) < 0 ||
      helpers_write_proc("/proc/self/gid_map", map) < 0)
    return -EPERM;
  return 0;
}

/* The limit scenario, run in a forked (single-threaded) child so that it
 * may enter a user namespace: returns 0 on success, 77 to skip, or the
 * number of the failed check. No Criterion asserts in here. */
static int
limit_child(void)
{
  struct rec r = {0};
  struct inotify_service *svc;
  struct inotify_sub *sub;
  struct inotify_stats st;
  char cmd[1024];
  int rc;

#define CHECK(n, cond)                                                         \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "limit check %d failed: %s\n", n, #cond);                \
      return n;                                                                \
    }                                                                          \
  } while (0)
  rc = enter_user_ns();
  if (rc < 0) {
    fprintf(stderr, "no user namespace (%s)\n", strerror(-rc));
    return 77;
  }
  rc = helpers_write_proc("/proc/sys/user/max_inotify_watches", "3");
  if (rc < 0) {
    fprintf(stderr, "cannot lower user.max_inotify_watches (%s)\n",
            strerror(-rc));
    return 77;
  }
  /* The loop inherited from the parent shares its epoll fd: start afresh. */
  loopp = &child_loop;
  rc = uv_loop_init(loopp);
  if (rc < 0)
    fprintf(stderr, "uv_loop_init: %s\n", uv_strerror(rc));
  CHECK(1, rc == 0);
  svc = inotify_service_new(loopp, NULL);
  CHECK(2, svc != NULL);
  sub = inotify_watch(svc, tmp, 1, rec_cb, NULL, &r, NULL);
  CHECK(3, sub != NULL);
  inotify_service_stats(svc, &st);
  CHECK(4, st.watches == 3);
  CHECK(5, st.polled == 3);
  CHECK(6, st.limit_hits >= 1);
  CHECK(7, wait_for(&r, INOTIFY_LIMIT, "a/b/c", WAIT_MS));
  for (size_t i = 0; i < r.n; i++)
    if (r.chs[i].kind == INOTIFY_LIMIT)
      CHECK(8, strstr(r.chs[i].message, "max_user_watches") != NULL);
  /* A watched folder still reports by event, an unwatched one by polling. */
  snprintf(cmd, sizeof cmd, "touch '%s/a/watched' '%s/a/b/c/d/e/polled'", tmp,
           tmp);
  CHECK(9, system(cmd) == 0);
  CHECK(10, wait_for(&r, INOTIFY_CREATED, "a/watched", WAIT_MS));
  CHECK(11, wait_for(&r, INOTIFY_CREATED, "a/b/c/d/e/polled", WAIT_MS));
  for (size_t i = 0; i < r.n; i++)
    if (strstr(r.chs[i].path, "/polled") != NULL)
      CHECK(12, r.chs[i].synthetic);
  /* Once watches free up, polled folders become watched again. */
  snprintf(cmd, sizeof cmd, "rm -rf '%s/a/b'", tmp);
  CHECK(13, system(cmd) == 0);
  CHECK(14, wait_for(&r, INOTIFY_DELETED, "a/b", WAIT_MS));
  snprintf(cmd, sizeof cmd, "mkdir -p '%s/a/n1/n2'", tmp);
  CHECK(15, system(cmd) == 0);
  CHECK(16, wait_for(&r, INOTIFY_CREATED, "a/n1/n2", WAIT_MS));
  inotify_service_stats(svc, &st);
  CHECK(17, st.watches == 3 && st.polled == 1);
  rec_free(&r);
  close_service(svc);
  CHECK(18, uv_loop_close(loopp) == 0);
  return 0;
#undef CHECK
}

Test(inotify, watch_limit_is_reported_and_polled)
{
  pid_t pid;
  int status;

  sh("mkdir -p a/b/c/d/e");
  fflush(NULL);
  pid = fork();
  cr_assert_geq(pid, 0);
  if (pid == 0)
    _exit(limit_child());
  cr_assert_eq(waitpid(pid, &status, 0), pid);
  cr_assert(WIFEXITED(status), "limit child died");
  if (WEXITSTATUS(status) == 77)
    cr_skip_test("watch limit not provoked (see stderr)");
  cr_expect_eq(WEXITSTATUS(status), 0, "limit check %d failed",
               WEXITSTATUS(status));
}

Test(inotify, five_hundred_files_in_one_burst)
{
  struct rec r = {0};
  struct inotify_sub *sub;
  struct inotify_service *svc = start(&r, &sub);

  sh("mkdir burst && for i in $(seq 1 500); do : > burst/f$i; done");
  cr_assert(wait_for(&r, -1, "burst/f500", WAIT_MS));
  for (int i = 1; i <= 500; i++) {
    char name[32];
    snprintf(name, sizeof name, "burst/f%d", i);
    cr_expect_eq(rec_count(&r, INOTIFY_CREATED, name), 1, "%s: %zu", name,
                 rec_count(&r, INOTIFY_CREATED, name));
  }
  rec_free(&r);
  close_service(svc);
}
