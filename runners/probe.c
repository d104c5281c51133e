/* probe: the shared steps of the readiness and liveness probes
 * (runners/probe.h). Nothing here owns a handle: the callers allocate,
 * count and close theirs. */
#include "runners/probe.h"

#include <stdio.h>

int
probe_exec(uv_loop_t *loop, uv_process_t *proc, char **argv, const char *cwd,
           unsigned flags, uv_exit_cb cb)
{
  uv_process_options_t opt = {0};
  uv_stdio_container_t io[3];

  for (int i = 0; i < 3; i++)
    io[i].flags = UV_IGNORE;
  opt.exit_cb = cb;
  opt.file = argv[0];
  opt.args = argv;
  opt.cwd = cwd;
  opt.flags = flags;
  opt.stdio_count = 3;
  opt.stdio = io;
  return uv_spawn(loop, proc, &opt);
}

int
probe_connect(uv_loop_t *loop, uv_tcp_t *tcp, uv_connect_t *req, int port,
              uv_connect_cb cb)
{
  struct sockaddr_in addr;

  uv_ip4_addr("127.0.0.1", port, &addr);
  uv_tcp_init(loop, tcp);
  return uv_tcp_connect(req, tcp, (struct sockaddr *)&addr, cb);
}

void
probe_http_why(char *buf, size_t size, const char *url, int status,
               const char *error)
{
  if (status > 0)
    snprintf(buf, size, "GET %s answered %d", url, status);
  else
    snprintf(buf, size, "GET %s: %s", url, error);
}
