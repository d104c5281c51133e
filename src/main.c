/* main: argv -> the command table. `up` and `check` run here; the client
 * commands talk to a running daemon through its HTTP API (src/cli.c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

#include "src/cli.h"
#include "src/config.h"
#include "src/daemon.h"
#include "src/init.h"

#define EXIT_USAGE 2

struct command {
  const char *name;
  int (*run)(int argc, char **argv);
  const char *usage;
};

static int cmd_up(int argc, char **argv);
static int cmd_check(int argc, char **argv);
static int cmd_init(int argc, char **argv);
static int cmd_client(int argc, char **argv);
static int cmd_help(int argc, char **argv);
static int cmd_version(int argc, char **argv);

static const struct command commands[] = {
    {.name = "up", .run = cmd_up,
     .usage = "up [-c FILE]           run the tree of FILE (default tend.json)"},
    {.name = "check", .run = cmd_check,
     .usage = "check [FILE]           validate FILE; errors as file:line:col"},
    {.name = "init", .run = cmd_init,
     .usage = "init [FILE]            write a commented starter tend.json"},
    {.name = "status", .run = cmd_client,
     .usage = "status [--json|--names] the tree with states"},
    {.name = "ps", .run = cmd_client,
     .usage = "ps                     the same as status"},
    {.name = "start", .run = cmd_client,
     .usage = "start NAME             start a runner"},
    {.name = "stop", .run = cmd_client,
     .usage = "stop NAME              stop a runner"},
    {.name = "restart", .run = cmd_client,
     .usage = "restart NAME           restart a runner"},
    {.name = "signal", .run = cmd_client,
     .usage = "signal NAME SIG        send a signal to a runner's group"},
    {.name = "logs", .run = cmd_client,
     .usage = "logs [-f] [-n N] NAME  a runner's output"},
    {.name = "events", .run = cmd_client,
     .usage = "events [-f]            the event log"},
    {.name = "reload", .run = cmd_client,
     .usage = "reload                 re-apply the config file"},
    {.name = "resume", .run = cmd_client,
     .usage = "resume NAME            resume a watch paused by the loop guard"},
    {.name = "help", .run = cmd_help, .usage = "help                   this text"},
    {.name = "version", .run = cmd_version,
     .usage = "version                print the version"},
};

#define N_COMMANDS (sizeof commands / sizeof *commands)

/* Prints the usage text to f. */
static void
usage(FILE *f)
{
  fprintf(f, "usage: tend COMMAND [ARGS]\n\ncommands:\n");
  for (size_t i = 0; i < N_COMMANDS; i++)
    fprintf(f, "  %s\n", commands[i].usage);
  fprintf(f, "\nclient commands find the daemon through .tend/daemon.json of "
             "./tend.json\n(or -c FILE), or TEND_URL and TEND_TOKEN.\n");
}

/* tend up [-c FILE] */
static int
cmd_up(int argc, char **argv)
{
  const char *file = "tend.json";

  for (int i = 1; i < argc; i++) {
    if ((!strcmp(argv[i], "-c") || !strcmp(argv[i], "--config")) &&
        i + 1 < argc) {
      file = argv[++i];
    } else if (argv[i][0] != '-' && i == argc - 1) {
      file = argv[i];
    } else {
      fprintf(stderr, "tend up: unexpected argument \"%s\"\n", argv[i]);
      return EXIT_USAGE;
    }
  }
  return daemon_up(file);
}

/* tend check [FILE]: 0 when valid, 1 with every error otherwise. */
static int
cmd_check(int argc, char **argv)
{
  const char *file = "tend.json";
  struct config *cfg = NULL;
  char *errors = NULL;
  int rc;

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
  rc = config_load(file, &cfg, &errors);
  if (rc != 0) {
    fputs(errors ? errors : "invalid config\n", stderr);
    if (errors && errors[0] && errors[strlen(errors) - 1] != '\n')
      fputc('\n', stderr);
    free(errors);
    return 1;
  }
  /* What a look at the disk found (commands, cwd, env_file): warnings
   * leave the file valid; an env_file that does not parse does not. */
  if (cfg->warnings)
    fputs(cfg->warnings, stderr);
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

static int
cmd_help(int argc, char **argv)
{
  (void)argc;
  (void)argv;
  usage(stdout);
  return 0;
}

static int
cmd_version(int argc, char **argv)
{
  (void)argc;
  (void)argv;
  printf("tend 0.1.0\n");
  return 0;
}

int
main(int argc, char **argv)
{
  if (argc < 2) {
    usage(stderr);
    return EXIT_USAGE;
  }
  if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))
    return cmd_help(argc, argv);
  if (!strcmp(argv[1], "-V") || !strcmp(argv[1], "--version"))
    return cmd_version(argc, argv);
  for (size_t i = 0; i < N_COMMANDS; i++)
    if (strcmp(argv[1], commands[i].name) == 0)
      return commands[i].run(argc - 1, argv + 1);
  fprintf(stderr, "tend: unknown command \"%s\"\n\n", argv[1]);
  usage(stderr);
  return EXIT_USAGE;
}
