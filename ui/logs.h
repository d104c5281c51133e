/* logs: the API's output and events handlers: pages replayed from the store
 * (ui/page.c) and live Server-Sent Events streams (ui/sse.c) bound to the
 * door and to pubsub (docs/api.md "Output", "Events", "Streams"). */
#ifndef TEND_LOGS_H
#define TEND_LOGS_H

#include "ui/routes.h"

/* Handlers of ui/routes.c's table: name is the decoded {name} of the path
 * (empty for routes without one); out receives the reply. */
void logs_output(const struct routes_req *rq, const char *name,
                 struct routes_reply *out);
void logs_events(const struct routes_req *rq, const char *name,
                 struct routes_reply *out);
void logs_output_stream(const struct routes_req *rq, const char *name,
                        struct routes_reply *out);
void logs_events_stream(const struct routes_req *rq, const char *name,
                        struct routes_reply *out);

#endif
