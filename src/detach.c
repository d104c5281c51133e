/* detach: `tend up -d` starts the daemon the way `tend up` would, in a
 * session of its own (so a closing terminal does not take it down), with
 * stdout and stderr appended to <state_dir>/daemon.log, and waits for the
 * answer a user wants before the prompt comes back: the tree is up (exit
 * 0, with the UI's address), the root failed, or the daemon exited (exit
 * 1, with the end of its log).
 *
 * The child re-executes this binary (/proc/self/exe), so it starts as a
 * clean process rather than a fork of a half-initialised client. Progress
 * is read from state.json, which the daemon writes with or without HTTP. */
#include "src/detach.h"

#include "src/config.h"
#include "src/xalloc.h"
#include "state/statedir.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* How long `tend up -d` waits for the tree before it returns anyway. */
#define DETACH_WAIT_MS 120000

int
detach_settled(const char *root_state)
{
  if (!root_state)
    return 0;
  if (strcmp(root_state, "running") == 0)
    return 1;
  if (strcmp(root_state, "failed") == 0)
    return -1;
  return 0;
}

/* Milliseconds on the monotonic clock. */
static long long
mono_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Prints the last n lines of the file at path to stderr. */
static void
print_tail(const char *path, int n)
{
  FILE *f = fopen(path, "re");
  char *buf;
  long size, from;
  size_t got;
  int lines = 0;

  if (!f)
    return;
  fseek(f, 0, SEEK_END);
  size = ftell(f);
  from = size > 8192 ? size - 8192 : 0;
  fseek(f, from, SEEK_SET);
  buf = xmalloc(8193);
  got = fread(buf, 1, 8192, f);
  buf[got] = '\0';
  fclose(f);
  for (size_t i = got; i > 0; i--)
    if (buf[i - 1] == '\n' && i != got && ++lines == n) {
      fputs(buf + i, stderr);
      free(buf);
      return;
    }
  fputs(buf, stderr);
  free(buf);
}

/* Reads the root's state from state.json when it is pid's; NULL else. */
static char *
root_state_of(const char *state_dir, int pid)
{
  char *path = xasprintf("%s/state.json", state_dir);
  json_t *doc = json_load_file(path, 0, NULL);
  const char *st = NULL;
  char *out = NULL;

  free(path);
  if (doc && json_integer_value(json_object_get(doc, "daemon_pid")) == pid)
    st = json_string_value(
        json_object_get(json_object_get(doc, "tree"), "state"));
  if (st)
    out = xstrdup(st);
  json_decref(doc);
  return out;
}

/* The UI's address from daemon.json when it is pid's, else NULL. */
static char *
ui_url_of(const char *state_dir, int pid)
{
  char *path = xasprintf("%s/daemon.json", state_dir);
  json_t *doc = json_load_file(path, 0, NULL);
  const char *u = NULL;
  char *out = NULL;

  free(path);
  if (doc && json_integer_value(json_object_get(doc, "pid")) == pid)
    u = json_string_value(json_object_get(doc, "ui_url"));
  if (u)
    out = xstrdup(u);
  json_decref(doc);
  return out;
}

/* The child: a new session, output to the log, then `tend up`. */
static void
run_child(const char *config_abs, int log_fd)
{
  int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

  setsid();
  if (null_fd >= 0)
    dup2(null_fd, STDIN_FILENO);
  dup2(log_fd, STDOUT_FILENO);
  dup2(log_fd, STDERR_FILENO);
  execl("/proc/self/exe", "tend", "up", "-c", config_abs, (char *)NULL);
  fprintf(stderr, "tend up -d: cannot run /proc/self/exe: %s\n",
          strerror(errno));
  _exit(127);
}

int
detach_up(const char *file)
{
  struct config *cfg = NULL;
  char *errors = NULL, *cause = NULL, *log_path, *ui = NULL, *st = NULL;
  char config_abs[PATH_MAX];
  int log_fd, status, rc = 1, outcome = 0;
  pid_t pid;
  long long deadline;

  if (config_load(file, &cfg, &errors) != 0) {
    fputs(errors ? errors : "invalid config\n", stderr);
    fprintf(stderr, "tend: %s: invalid config; nothing started\n", file);
    free(errors);
    return 1;
  }
  if (!realpath(file, config_abs)) {
    fprintf(stderr, "tend: %s: %s\n", file, strerror(errno));
    config_free(cfg);
    return 1;
  }
  /* The state folder is checked before daemon.log goes into it: a folder
   * another user can write to is refused here too (state/statedir.h). */
  if (statedir_open(cfg->state_dir, &cause) != 0) {
    fprintf(stderr, "tend: %s\n", cause);
    free(cause);
    config_free(cfg);
    return 1;
  }
  log_path = xasprintf("%s/daemon.log", cfg->state_dir);
  log_fd = openat(statedir_fd(), "daemon.log",
                  O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (log_fd < 0) {
    fprintf(stderr, "tend: %s: %s\n", log_path, strerror(errno));
    free(log_path);
    config_free(cfg);
    return 1;
  }
  fflush(NULL);
  pid = fork();
  if (pid < 0) {
    fprintf(stderr, "tend: fork: %s\n", strerror(errno));
    close(log_fd);
    free(log_path);
    config_free(cfg);
    return 1;
  }
  if (pid == 0)
    run_child(config_abs, log_fd);
  close(log_fd);
  deadline = mono_ms() + DETACH_WAIT_MS;
  while (mono_ms() < deadline) {
    if (waitpid(pid, &status, WNOHANG) == pid) {
      fprintf(stderr, "tend: the daemon exited (%s %d); the end of %s:\n",
              WIFEXITED(status) ? "status" : "signal",
              WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status),
              log_path);
      print_tail(log_path, 15);
      goto done;
    }
    free(st);
    st = root_state_of(cfg->state_dir, (int)pid);
    if ((outcome = detach_settled(st)) != 0)
      break;
    usleep(50 * 1000);
  }
  ui = ui_url_of(cfg->state_dir, (int)pid);
  if (outcome > 0) {
    printf("tend: up in the background (pid %d); log: %s\n", (int)pid,
           log_path);
    rc = 0;
  } else if (outcome < 0) {
    printf("tend: running in the background (pid %d), but the tree failed: "
           "see tend status; log: %s\n",
           (int)pid, log_path);
  } else {
    printf("tend: started in the background (pid %d), still starting after "
           "%d s: see tend status; log: %s\n",
           (int)pid, DETACH_WAIT_MS / 1000, log_path);
    rc = 0;
  }
  if (ui)
    printf("tend: UI: %s\n", ui);
done:
  free(ui);
  free(st);
  free(log_path);
  config_free(cfg);
  return rc;
}
