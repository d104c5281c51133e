/* views: the API's read-only handlers: /healthz, /metrics, the tree (cached
 * between changes), the daemon, one runner, one group (docs/api.md). */
#ifndef TEND_VIEWS_H
#define TEND_VIEWS_H

#include "ui/routes.h"

/* Handlers of ui/routes.c's table: name is the decoded {name} of the path
 * (empty for routes without one); out receives the reply. */
void views_healthz(const struct routes_req *rq, const char *name,
                   struct routes_reply *out);
void views_metrics(const struct routes_req *rq, const char *name,
                   struct routes_reply *out);
void views_tree(const struct routes_req *rq, const char *name,
                struct routes_reply *out);
void views_daemon(const struct routes_req *rq, const char *name,
                  struct routes_reply *out);
void views_runner(const struct routes_req *rq, const char *name,
                  struct routes_reply *out);
void views_group(const struct routes_req *rq, const char *name,
                 struct routes_reply *out);

/* Drops the cached tree and its subscriptions (routes_shutdown). */
void views_shutdown(void);

#endif
