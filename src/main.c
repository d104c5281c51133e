/* main: argv -> command table. */
#include <stdio.h>

int
main(int argc, char **argv)
{
  (void)argc;
  (void)argv;
  fprintf(stderr, "tend: not yet\n");
  return 2;
}
