/* test_statedir: the state folder's trust rule, opening below it without
 * symlinks, recovery's judgement of a recorded group, and the signals the
 * daemon ignores (issue 13, items 1, 2 and 11). */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "src/daemon.h"
#include "state/recover.h"
#include "state/snapshot.h"
#include "state/statedir.h"
#include "tests/unit/helpers.h"

static char scratch[64];

static void
setup(void)
{
  helpers_scratch_new(scratch, sizeof scratch, "statedir");
}

static void
teardown(void)
{
  statedir_close();
  helpers_rm_tree(scratch);
}

TestSuite(statedir, .init = setup, .fini = teardown);

Test(statedir, problem_names_owner_and_mode)
{
  struct stat sb;
  char *why;

  memset(&sb, 0, sizeof sb);
  sb.st_mode = S_IFDIR | 0700;
  sb.st_uid = 1000;
  cr_assert_null(statedir_problem("/s", &sb, 1000));
  sb.st_mode = S_IFDIR | 0755;
  cr_assert_null(statedir_problem("/s", &sb, 1000), "read-only for others");
  why = statedir_problem("/s", &sb, 0);
  cr_assert(strstr(why, "owned by uid 1000") && strstr(why, "/s"), "%s", why);
  free(why);
  const mode_t open_modes[] = {0775, 0757, 0777, 01777, 0720};
  for (size_t i = 0; i < sizeof open_modes / sizeof *open_modes; i++) {
    sb.st_mode = S_IFDIR | open_modes[i];
    why = statedir_problem("/s", &sb, 1000);
    cr_assert_not_null(why, "mode %o", (unsigned)open_modes[i]);
    cr_assert(strstr(why, "writable by group or others"), "%s", why);
    free(why);
  }
  sb.st_mode = S_IFREG | 0600;
  why = statedir_problem("/s", &sb, 1000);
  cr_assert(strstr(why, "not a directory"), "%s", why);
  free(why);
}

Test(statedir, open_refuses_an_open_folder_and_creates_0700)
{
  char dir[128], *cause = NULL;
  struct stat sb;
  mode_t old = umask(0);

  snprintf(dir, sizeof dir, "%s/a/b", scratch);
  cr_assert_eq(statedir_open(dir, &cause), 0, "%s", cause);
  cr_assert_eq(stat(dir, &sb), 0);
  cr_assert_eq(sb.st_mode & 07777, 0700);
  statedir_close();
  cr_assert_eq(chmod(dir, 0777), 0);
  cr_assert_eq(statedir_open(dir, &cause), -EPERM);
  cr_assert(strstr(cause, "writable by group or others"), "%s", cause);
  free(cause);
  cr_assert_eq(statedir_fd(), -1);
  umask(old);
}

Test(statedir, below_the_folder_no_symlink_is_followed)
{
  char dir[128], out[160], link[160], elsewhere[160], *cause = NULL;
  int fd;

  snprintf(dir, sizeof dir, "%s/state", scratch);
  snprintf(out, sizeof out, "%s/output", dir);
  snprintf(elsewhere, sizeof elsewhere, "%s/elsewhere", scratch);
  cr_assert_eq(statedir_open(dir, &cause), 0, "%s", cause);
  fd = statedir_open_dir(out);
  cr_assert_geq(fd, 0, "%s", strerror(-fd));
  close(fd);
  cr_assert_eq(mkdir(elsewhere, 0700), 0);
  snprintf(link, sizeof link, "%s/linked", dir);
  cr_assert_eq(symlink(elsewhere, link), 0);
  cr_assert_eq(statedir_open_dir(link), -ELOOP);

  /* Snapshots: a symlink is replaced, never written through or read. */
  char victim[160], json[160];
  snprintf(victim, sizeof victim, "%s/victim.json", scratch);
  snprintf(json, sizeof json, "%s/state.json", dir);
  fd = open(victim, O_WRONLY | O_CREAT, 0600);
  cr_assert_eq(write(fd, "{\"v\":1}", 7), 7);
  close(fd);
  cr_assert_eq(symlink(victim, json), 0);
  int err = 0;
  cr_assert_null(snapshot_load(json, &err));
  cr_assert_eq(err, -ELOOP);
  cr_assert_eq(snapshot_save_text("{}", 2, json, 0600), 0);
  struct stat sb;
  cr_assert_eq(lstat(json, &sb), 0);
  cr_assert(S_ISREG(sb.st_mode));
  cr_assert_eq(sb.st_mode & 07777, 0600);
  cr_assert_eq(stat(victim, &sb), 0);
  cr_assert_eq(sb.st_size, 7, "the victim was not touched");
}

/* A live leader that matches in every way, changed one field at a time. */
Test(recover, judge_wants_every_proof)
{
  struct recover_record rec = {
      .pgid = 4242, .start = 1000, .boot_id = "b-1", .boot_now = "b-1"};
  struct recover_seen ok = {
      .alive = 1, .pgrp = 4242, .session = 4242, .start = 1000, .has_env = 1};
  struct recover_seen s;
  struct recover_record r;

  cr_assert_null(recover_judge(&rec, &ok));
  s = ok;
  s.start = 1001;
  cr_assert(strstr(recover_judge(&rec, &s), "another time"));
  s.start = 999;
  cr_assert(strstr(recover_judge(&rec, &s), "another time"),
            "started before the recorded tick: not ours either");
  s = ok;
  s.has_env = 0;
  cr_assert(strstr(recover_judge(&rec, &s), "TEND_STATE_DIR"));
  s = ok;
  s.session = 1;
  cr_assert(strstr(recover_judge(&rec, &s), "session"));
  s = ok;
  s.alive = 0;
  cr_assert(strstr(recover_judge(&rec, &s), "gone"));
  r = rec;
  r.boot_id = "b-0";
  cr_assert(strstr(recover_judge(&r, &ok), "another boot"));
  r.boot_id = NULL;
  cr_assert(strstr(recover_judge(&r, &ok), "no boot id"));
  r = rec;
  r.boot_now = NULL;
  cr_assert_not_null(recover_judge(&r, &ok));
}

Test(recover, boot_id_is_read)
{
  const char *id = recover_boot_id();
  cr_assert_not_null(id);
  cr_assert_eq(strlen(id), 36, "%s", id);
  cr_assert_eq(recover_boot_id(), id, "read once");
}

/* Every signal whose default action ends the process is either used by
 * the daemon (INT, TERM, HUP; PIPE is ignored in main), a fault that
 * must still end it, or logged and ignored. */
Test(daemon_signals, every_terminating_signal_is_accounted_for)
{
  const int used[] = {SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGKILL};
  const int faults[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE,
                        SIGABRT, SIGSYS, SIGTRAP};
  const int defaults_not_terminating[] = {SIGCHLD, SIGCONT, SIGSTOP, SIGTSTP,
                                          SIGTTIN, SIGTTOU, SIGURG,  SIGWINCH};

  for (int s = 1; s <= SIGRTMAX; s++) {
    int kind = 0;
    if (s > SIGSYS && s < SIGRTMIN)
      continue; /* glibc's own (NPTL) */
    for (size_t i = 0; i < sizeof used / sizeof *used; i++)
      kind |= used[i] == s;
    for (size_t i = 0; i < sizeof faults / sizeof *faults; i++)
      kind |= (faults[i] == s) << 1;
    for (size_t i = 0;
         i < sizeof defaults_not_terminating / sizeof *defaults_not_terminating;
         i++)
      kind |= (defaults_not_terminating[i] == s) << 2;
    if (kind)
      cr_assert_eq(daemon_signal_ignored(s), 0, "signal %d", s);
    else
      cr_assert_eq(daemon_signal_ignored(s), 1, "signal %d", s);
  }
}
