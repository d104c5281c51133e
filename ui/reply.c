/* reply: the helpers every API handler answers with (JSON bodies, errors,
 * the door's errors as statuses) and reads its request through (JSON
 * bodies, query arguments, headers). Shared by ui/routes.c and the handler
 * modules ui/views.c, ui/cmds.c and ui/logs.c. */
#include "ui/reply.h"

#include "src/xalloc.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Steals a JSON value into a reply (compact, with a final newline). */
void
reply_json(struct routes_reply *out, int status, json_t *value)
{
  char *text = json_dumps(value, JSON_COMPACT);
  size_t n = text ? strlen(text) : 0;

  json_decref(value);
  out->status = status;
  out->content_type = "application/json";
  out->cache_control = "no-store";
  free(out->body);
  out->body = xmalloc(n + 2);
  memcpy(out->body, text ? text : "", n);
  out->body[n] = '\n';
  out->body[n + 1] = '\0';
  out->len = n + 1;
  free(text);
}

/* Formats an error message. */
void
reply_errorf(struct routes_reply *out, int status, const char *fmt, ...)
{
  va_list ap;
  char msg[512];

  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  routes_reply_error(out, status, msg);
}

/* Maps a door error to a status; takes cause. */
void
reply_door_error(struct routes_reply *out, int r, char *cause)
{
  int status = r == -ENOENT   ? 404
               : r == -EINVAL ? 400
               : r == -EBUSY  ? 409
                              : 500;
  routes_reply_error(out, status, cause ? cause : strerror(-r));
  free(cause);
}

/* A door's answer: {"ok": true} for r >= 0, else the error (takes
 * cause either way). */
void
reply_door_result(struct routes_reply *out, int r, char *cause)
{
  if (r < 0) {
    reply_door_error(out, r, cause);
    return;
  }
  free(cause);
  reply_ok(out);
}

/* {"ok": true}. */
void
reply_ok(struct routes_reply *out)
{
  reply_json(out, 200, json_pack("{s:b}", "ok", 1));
}

/* Parses the body as a JSON object; an empty body is {}. Replies 400 and
 * returns NULL when it is not. */
json_t *
reply_body_object(const struct routes_req *rq, struct routes_reply *out)
{
  json_error_t err;
  json_t *v;

  if (rq->body_len == 0)
    return json_object();
  v = json_loadb(rq->body, rq->body_len, JSON_REJECT_DUPLICATES, &err);
  if (!v) {
    reply_errorf(out, 400, "bad JSON body: %d:%d: %s", err.line, err.column,
                 err.text);
    return NULL;
  }
  if (!json_is_object(v)) {
    json_decref(v);
    routes_reply_error(out, 400, "the body must be a JSON object");
    return NULL;
  }
  return v;
}

/* Reads a query argument (raw) through the request. */
const char *
reply_query(const struct routes_req *rq, const char *name)
{
  return rq->query ? rq->query(rq->ctx, name) : NULL;
}

/* Reads a header through the request. */
const char *
reply_header(const struct routes_req *rq, const char *name)
{
  return rq->header ? rq->header(rq->ctx, name) : NULL;
}
