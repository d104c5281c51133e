/* probe: the steps the readiness checks (runners/ready.c) and the
 * liveness probes (runners/health.c) share: a check command, a connect to
 * a loopback port, and the words for a GET's answer. Each caller keeps
 * its own handles (counted by its own close callback), its deadlines and
 * its verdicts. */
#ifndef TEND_PROBE_H
#define TEND_PROBE_H

#include <stddef.h>
#include <uv.h>

/* Spawns argv in cwd into proc (initialised by the call) with every stdio
 * ignored; flags as uv_process_options_t's (UV_PROCESS_DETACHED: its own
 * process group). Returns uv_spawn's result: on failure proc still needs
 * its uv_close. */
int probe_exec(uv_loop_t *loop, uv_process_t *proc, char **argv,
               const char *cwd, unsigned flags, uv_exit_cb cb);
/* Initialises tcp and starts a connect to 127.0.0.1:port with req.
 * Returns uv_tcp_connect's result: tcp needs its uv_close either way. */
int probe_connect(uv_loop_t *loop, uv_tcp_t *tcp, uv_connect_t *req, int port,
                  uv_connect_cb cb);
/* Writes what a GET of url gave into buf: "GET <url> answered <status>",
 * or "GET <url>: <error>" when status is 0. */
void probe_http_why(char *buf, size_t size, const char *url, int status,
                    const char *error);

#endif
