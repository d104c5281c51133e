/* reply: building API replies and reading requests, for the handlers (see
 * reply.c). The request and reply types are ui/routes.h's. */
#ifndef TEND_REPLY_H
#define TEND_REPLY_H

#include "ui/routes.h"

#include <jansson.h>

/* Steals value into out as compact JSON with a final newline, with
 * status, Content-Type application/json and Cache-Control no-store. */
void reply_json(struct routes_reply *out, int status, json_t *value);
/* An {"error": ...} reply with a printf-formatted message. */
void reply_errorf(struct routes_reply *out, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Maps a door error to a status (-ENOENT 404, -EINVAL 400, -EBUSY 409,
 * else 500) with cause as the message (stolen; strerror when NULL). */
void reply_door_error(struct routes_reply *out, int r, char *cause);
/* {"ok": true} for r >= 0, else reply_door_error (takes cause). */
void reply_door_result(struct routes_reply *out, int r, char *cause);
/* {"ok": true}. */
void reply_ok(struct routes_reply *out);
/* Parses the body as a JSON object (new; an empty body is {}); replies
 * 400 and returns NULL when it is not one. */
json_t *reply_body_object(const struct routes_req *rq,
                          struct routes_reply *out);
/* A raw query argument, or NULL (borrowed from the request). */
const char *reply_query(const struct routes_req *rq, const char *name);
/* A header's value, or NULL (borrowed from the request). */
const char *reply_header(const struct routes_req *rq, const char *name);

#endif
