/* main: argv -> the command table. `up` and `check` run here; the client
 * commands talk to a running daemon through its HTTP API (src/cli.c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

#include "src/attach.h"
#include "src/cli.h"
#include "src/config.h"
#include "src/daemon.h"
#include "src/detach.h"
#include "src/init.h"
#include "src/top.h"

#define EXIT_USAGE 2

struct command {
  const char *name;
  int (*run)(int argc, char **argv);
  const char *usage;
  const char *help; /* `tend help NAME` of a command that runs here */
};

static int cmd_up(int argc, char **argv);
static int cmd_check(int argc, char **argv);
static int cmd_init(int argc, char **argv);
static int cmd_client(int argc, char **argv);
static int cmd_top(int argc, char **argv);
static int cmd_attach(int argc, char **argv);
static int cmd_help(int argc, char **argv);
static int cmd_version(int argc, char **argv);

static const struct command commands[] = {
    {.name = "up",
     .run = cmd_up,
     .usage = "up [-d] [-c FILE]      run the tree of FILE (default tend.json)",
     .help =
         "Runs the tree in the foreground until INT or TERM (HUP re-reads\n"
         "the config). The API and UI listen on http.listen, by default the\n"
         "first free port from 127.0.0.1:7070; the URL is printed.\n"
         "  -c, --config FILE  the config (default ./tend.json)\n"
         "  -d, --detach       run in the background (output in\n"
         "                     <state_dir>/daemon.log); return once the "
         "tree is\n"
         "                     up (0) or has failed (1); stop it with "
         "tend down\n"
         "exit status: 0 stopped cleanly, 1 bad config or state folder, 3 "
         "the\nroot gave up with on_give_up \"exit\"\n"},
    {.name = "check",
     .run = cmd_check,
     .usage = "check [FILE]           validate FILE; errors as file:line:col",
     .help = "Validates FILE (default ./tend.json) and prints every error as\n"
             "file:line:col: path: message.\n"
             "exit status: 0 valid, 1 invalid\n"},
    {.name = "init",
     .run = cmd_init,
     .usage = "init [FILE]            write a commented starter tend.json",
     .help =
         "Writes a starter config (default ./tend.json) that runs as it is,\n"
         "with // comments and \"$schema\" for editors. Never replaces a "
         "file.\n"},
    {.name = "status",
     .run = cmd_client,
     .usage = "status [--json|--names] the tree with states"},
    {.name = "ps",
     .run = cmd_client,
     .usage = "ps                     the same as status"},
    {.name = "start",
     .run = cmd_client,
     .usage = "start NAME             start a runner or group (all: the tree)"},
    {.name = "stop",
     .run = cmd_client,
     .usage = "stop NAME              stop a runner or group (all: the tree)"},
    {.name = "restart",
     .run = cmd_client,
     .usage = "restart NAME           restart a runner or group"},
    {.name = "signal",
     .run = cmd_client,
     .usage = "signal NAME SIG        send a signal to a runner's group"},
    {.name = "logs",
     .run = cmd_client,
     .usage = "logs [-f] [-n N] [NAME...] output, merged in time order"},
    {.name = "events",
     .run = cmd_client,
     .usage = "events [-f]            the event log"},
    {.name = "reload",
     .run = cmd_client,
     .usage = "reload                 re-apply the config file"},
    {.name = "down",
     .run = cmd_client,
     .usage = "down                   stop the tree and the daemon"},
    {.name = "resume",
     .run = cmd_client,
     .usage = "resume NAME            resume a watch paused by the loop guard"},
    {.name = "top",
     .run = cmd_top,
     .usage = "top [-c FILE]          a full-screen view: tree, output, keys",
     .help =
         "A full-screen view of the running daemon: the tree with states,\n"
         "pids, uptimes, restarts and last exits, and the selected runner's\n"
         "live output (its colours kept). Keys: up/down or j/k select, s\n"
         "start, x stop, r restart (a runner or a group), S signal, f follow\n"
         "on or off, PgUp/PgDn scroll the output, / filter by name, ? help,\n"
         "q or Ctrl-C quit.\n"
         "  -c, --config FILE  the daemon of FILE (default ./tend.json)\n"
         "  --url URL          the daemon at URL (or TEND_URL)\n"
         "  --token TOKEN      the API token (or TEND_TOKEN)\n"},
    {.name = "ui",
     .run = cmd_top,
     .usage = "ui [-c FILE]           the same as top",
     .help = "The same as top.\n"},
    {.name = "attach",
     .run = cmd_attach,
     .usage = "attach [-c FILE] NAME   connect this terminal to a pty runner",
     .help =
         "Connects this terminal to a runner that runs on a terminal\n"
         "(\"pty\": true): its output is shown as it comes, every key goes\n"
         "to it (Ctrl-C and Ctrl-Z included), and this terminal's size is\n"
         "its size. Ctrl-] detaches; the runner goes on running.\n"
         "  -c, --config FILE  the daemon of FILE (default ./tend.json)\n"
         "  --url URL          the daemon at URL (or TEND_URL)\n"
         "  --token TOKEN      the API token (or TEND_TOKEN)\n"
         "exit status: 0 detached, 1 refused (no such runner, no pty), 2 "
         "usage\nor no terminal, 3 no daemon\n"},
    {.name = "help",
     .run = cmd_help,
     .usage = "help [COMMAND]         this text, or one command's options"},
    {.name = "version",
     .run = cmd_version,
     .usage = "version                print the version (also --version)"},
};

#define N_COMMANDS (sizeof commands / sizeof *commands)

/* Returns 1 when an argument after the command is -h or --help. */
static int
asks_help(int argc, char **argv)
{
  for (int i = 1; i < argc; i++)
    if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
      return 1;
  return 0;
}

/* Prints the usage text to f. */
static void
usage(FILE *f)
{
  fprintf(f, "usage: tend COMMAND [ARGS]\n\ncommands:\n");
  for (size_t i = 0; i < N_COMMANDS; i++)
    fprintf(f, "  %s\n", commands[i].usage);
  fprintf(f, "\noptions, before or after the command:\n"
             "  -c, --config FILE   the config (default ./tend.json)\n"
             "  --url URL           the daemon's address (or TEND_URL)\n"
             "  --token TOKEN       the API token (or TEND_TOKEN)\n"
             "  --json              JSON output (status, logs, events)\n"
             "  -h, --help          help; tend help COMMAND for a command's "
             "options\n"
             "  --version           the version\n"
             "\nclient commands find the daemon through the state folder of "
             "the config\n(.tend/daemon.json for tend.json), or TEND_URL and "
             "TEND_TOKEN.\n");
}

/* tend up [-c FILE] */
static int
cmd_up(int argc, char **argv)
{
  const char *file = "tend.json";
  int detach = 0;

  if (asks_help(argc, argv))
    return cmd_help(2, (char *[]){"help", argv[0], NULL});
  for (int i = 1; i < argc; i++) {
    if ((!strcmp(argv[i], "-c") || !strcmp(argv[i], "--config")) &&
        i + 1 < argc) {
      file = argv[++i];
    } else if (!strcmp(argv[i], "-d") || !strcmp(argv[i], "--detach")) {
      detach = 1;
    } else if (argv[i][0] != '-' && i == argc - 1) {
      file = argv[i];
    } else {
      fprintf(stderr, "tend up: unexpected argument \"%s\"\n", argv[i]);
      return EXIT_USAGE;
    }
  }
  if (access(file, F_OK) != 0 && errno == ENOENT) {
    fprintf(stderr,
            "tend: %s does not exist; write a starter with `tend init`, or "
            "name another file with -c FILE\n",
            file);
    return 1;
  }
  return detach ? detach_up(file) : daemon_up(file);
}

/* Prints each error (or finding) of a load on its own line of stderr,
 * "file:line:col: path: message", as a compiler does. */
static void
print_config_errors(const struct config_errors *errs)
{
  for (size_t i = 0; i < errs->n; i++) {
    char *line = config_error_format(&errs->v[i]);
    fprintf(stderr, "%s\n", line);
    free(line);
  }
}

/* tend check [FILE]: 0 when valid, 1 with every error otherwise. */
static int
cmd_check(int argc, char **argv)
{
  const char *file = "tend.json";
  struct config *cfg = NULL;
  struct config_errors errors = CONFIG_ERRORS_ZERO;
  int rc;

  if (asks_help(argc, argv))
    return cmd_help(2, (char *[]){"help", argv[0], NULL});
  for (int i = 1; i < argc; i++) {
    if ((!strcmp(argv[i], "-c") || !strcmp(argv[i], "--config")) &&
        i + 1 < argc)
      file = argv[++i];
    else if (argv[i][0] != '-')
      file = argv[i];
    else {
      fprintf(stderr, "tend check: unexpected argument \"%s\"\n", argv[i]);
      return EXIT_USAGE;
    }
  }
  rc = config_load_list(file, &cfg, &errors);
  if (rc != 0) {
    print_config_errors(&errors);
    if (errors.n == 0)
      fputs("invalid config\n", stderr);
    config_errors_free(&errors);
    return 1;
  }
  /* What a look at the disk found (commands, cwd, env_file): warnings
   * leave the file valid; an env_file that does not parse does not. */
  print_config_errors(&cfg->notes);
  if (cfg->n_check_errors > 0) {
    config_free(cfg);
    return 1;
  }
  printf("%s: ok (config %s)\n", file, cfg->hash);
  config_free(cfg);
  return 0;
}

/* tend init [FILE]: a starter config named after the current folder; never
 * replaces an existing file. */
static int
cmd_init(int argc, char **argv)
{
  const char *file = "tend.json";
  char cwd[PATH_MAX], exe[PATH_MAX];
  char *cause = NULL, *url, *text;
  ssize_t n;
  int r;

  if (asks_help(argc, argv))
    return cmd_help(2, (char *[]){"help", argv[0], NULL});
  for (int i = 1; i < argc; i++) {
    if ((!strcmp(argv[i], "-c") || !strcmp(argv[i], "--config")) &&
        i + 1 < argc)
      file = argv[++i];
    else if (argv[i][0] != '-' && i == argc - 1)
      file = argv[i];
    else {
      fprintf(stderr, "tend init: unexpected argument \"%s\"\n", argv[i]);
      return EXIT_USAGE;
    }
  }
  if (!getcwd(cwd, sizeof cwd))
    strcpy(cwd, "dev");
  n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  exe[n > 0 ? n : 0] = '\0';
  url = init_schema_url(exe);
  text = init_template(strrchr(cwd, '/') ? strrchr(cwd, '/') + 1 : cwd, url);
  r = init_write(file, text, &cause);
  free(text);
  free(url);
  if (r != 0) {
    fprintf(stderr, "tend init: %s\n", cause);
    free(cause);
    return 1;
  }
  printf("wrote %s: edit it, then run: tend up%s%s\n", file,
         strcmp(file, "tend.json") ? " -c " : "",
         strcmp(file, "tend.json") ? file : "");
  return 0;
}

/* The client commands: see src/cli.c. */
static int
cmd_client(int argc, char **argv)
{
  return cli_main(argv[0], argc - 1, argv + 1);
}

/* tend top (and tend ui): see src/top.c. */
static int
cmd_top(int argc, char **argv)
{
  if (asks_help(argc, argv))
    return cmd_help(2, (char *[]){"help", argv[0], NULL});
  return top_main(argc, argv);
}

/* tend attach NAME: see src/attach.c. */
static int
cmd_attach(int argc, char **argv)
{
  if (asks_help(argc, argv))
    return cmd_help(2, (char *[]){"help", argv[0], NULL});
  return attach_main(argc, argv);
}

static int
cmd_help(int argc, char **argv)
{
  if (argc < 2) {
    usage(stdout);
    return 0;
  }
  if (cli_help(argv[1], stdout) == 0)
    return 0;
  for (size_t i = 0; i < N_COMMANDS; i++)
    if (strcmp(argv[1], commands[i].name) == 0 && commands[i].help) {
      printf("usage: tend %s\n\n%s", commands[i].usage, commands[i].help);
      return 0;
    }
  for (size_t i = 0; i < N_COMMANDS; i++)
    if (strcmp(argv[1], commands[i].name) == 0) {
      printf("usage: tend %s\n", commands[i].usage);
      return 0;
    }
  fprintf(stderr, "tend help: unknown command \"%s\"\n", argv[1]);
  return EXIT_USAGE;
}

static int
cmd_version(int argc, char **argv)
{
  (void)argc;
  (void)argv;
  printf("tend 0.1.0\n");
  return 0;
}

/* Returns 1 when a is a global option that takes a value. */
static int
global_with_value(const char *a)
{
  return !strcmp(a, "-c") || !strcmp(a, "--config") || !strcmp(a, "--url") ||
         !strcmp(a, "--token");
}

/* Returns 1 when a is a global option written as one word. */
static int
global_flag(const char *a)
{
  return !strcmp(a, "--json") || !strncmp(a, "--config=", 9) ||
         !strncmp(a, "--url=", 6) || !strncmp(a, "--token=", 8);
}

int
main(int argc, char **argv)
{
  char **args;
  int i = 1, n = 0, rc;

  /* Options before the command (`tend -c f.json status`) move after it,
   * where each command parses them. */
  while (i < argc && argv[i][0] == '-') {
    if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
      return cmd_help(argc - i, argv + i);
    if (!strcmp(argv[i], "-V") || !strcmp(argv[i], "--version"))
      return cmd_version(0, NULL);
    if (global_with_value(argv[i]) && i + 1 < argc)
      i += 2;
    else if (global_flag(argv[i]))
      i += 1;
    else {
      fprintf(stderr, "tend: unknown option \"%s\" (tend help lists them)\n",
              argv[i]);
      return EXIT_USAGE;
    }
  }
  if (i >= argc) {
    usage(stderr);
    return EXIT_USAGE;
  }
  args = calloc((size_t)argc + 1, sizeof *args);
  if (!args)
    return EXIT_FAILURE;
  args[n++] = argv[i];
  for (int k = 1; k < i; k++)
    args[n++] = argv[k];
  for (int k = i + 1; k < argc; k++)
    args[n++] = argv[k];
  for (size_t c = 0; c < N_COMMANDS; c++)
    if (strcmp(args[0], commands[c].name) == 0) {
      rc = commands[c].run(n, args);
      free(args);
      return rc;
    }
  fprintf(stderr, "tend: unknown command \"%s\"\n\n", args[0]);
  free(args);
  usage(stderr);
  return EXIT_USAGE;
}
