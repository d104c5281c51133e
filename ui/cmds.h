/* cmds: the API's command handlers (POST): a runner's start, stop, restart,
 * signal, input, resize and watch resume; a group's start, stop and
 * restart; reload and daemon stop (docs/api.md "Commands"). */
#ifndef TEND_CMDS_H
#define TEND_CMDS_H

#include "ui/routes.h"

/* Handlers of ui/routes.c's table: name is the decoded {name} of the path
 * (empty for routes without one); out receives the reply. */
void cmds_start(const struct routes_req *rq, const char *name,
                struct routes_reply *out);
void cmds_stop(const struct routes_req *rq, const char *name,
               struct routes_reply *out);
void cmds_restart(const struct routes_req *rq, const char *name,
                  struct routes_reply *out);
void cmds_signal(const struct routes_req *rq, const char *name,
                 struct routes_reply *out);
void cmds_input(const struct routes_req *rq, const char *name,
                struct routes_reply *out);
void cmds_resize(const struct routes_req *rq, const char *name,
                 struct routes_reply *out);
void cmds_resume(const struct routes_req *rq, const char *name,
                 struct routes_reply *out);
void cmds_group_restart(const struct routes_req *rq, const char *name,
                        struct routes_reply *out);
void cmds_daemon_stop(const struct routes_req *rq, const char *name,
                      struct routes_reply *out);
void cmds_group_start(const struct routes_req *rq, const char *name,
                      struct routes_reply *out);
void cmds_group_stop(const struct routes_req *rq, const char *name,
                     struct routes_reply *out);
void cmds_reload(const struct routes_req *rq, const char *name,
                 struct routes_reply *out);

#endif
