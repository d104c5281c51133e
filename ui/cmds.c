/* cmds: the command handlers (see cmds.h). Each checks its body, calls the
 * door (src/tend.h) and turns the door's error into a status. */
#include "ui/cmds.h"

#include "src/codec.h"
#include "src/config.h"
#include "src/tend.h"
#include "src/xalloc.h"
#include "ui/reply.h"

#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Runs a command on a runner; a body, when given, must be JSON. */
static void
runner_cmd(const struct routes_req *rq, const char *name, enum tend_cmd cmd,
           struct routes_reply *out)
{
  json_t *body = reply_body_object(rq, out);
  char *cause = NULL;
  int r;

  if (!body)
    return;
  json_decref(body);
  r = tend_runner_cmd(name, cmd, 0, &cause);
  reply_door_result(out, r, cause);
}

/* POST /api/v1/runners/{name}/start. */
void
cmds_start(const struct routes_req *rq, const char *name,
           struct routes_reply *out)
{
  runner_cmd(rq, name, TEND_CMD_START, out);
}

/* POST /api/v1/runners/{name}/stop. */
void
cmds_stop(const struct routes_req *rq, const char *name,
          struct routes_reply *out)
{
  runner_cmd(rq, name, TEND_CMD_STOP, out);
}

/* POST /api/v1/runners/{name}/restart. */
void
cmds_restart(const struct routes_req *rq, const char *name,
             struct routes_reply *out)
{
  runner_cmd(rq, name, TEND_CMD_RESTART, out);
}

/* POST /api/v1/runners/{name}/signal {"signal": "HUP"}: names with or
 * without "SIG", any case. */
void
cmds_signal(const struct routes_req *rq, const char *name,
            struct routes_reply *out)
{
  json_t *body = reply_body_object(rq, out);
  const char *sig;
  char up[16];
  size_t i;
  int signo, r;
  char *cause = NULL;

  if (!body)
    return;
  sig = json_string_value(json_object_get(body, "signal"));
  if (!sig) {
    json_decref(body);
    routes_reply_error(out, 400, "the body must be {\"signal\": \"NAME\"}");
    return;
  }
  for (i = 0; sig[i] && i + 1 < sizeof up; i++)
    up[i] = (char)toupper((unsigned char)sig[i]);
  up[i] = '\0';
  signo = sig[i]
              ? -EINVAL
              : config_signal_parse(strncmp(up, "SIG", 3) == 0 ? up + 3 : up);
  if (signo <= 0) {
    reply_errorf(out, 400, "unknown signal \"%.32s\"", sig);
    json_decref(body);
    return;
  }
  json_decref(body);
  r = tend_runner_cmd(name, TEND_CMD_SIGNAL, signo, &cause);
  reply_door_result(out, r, cause);
}

/* POST /api/v1/runners/{name}/input: bytes for a pty runner's terminal.
 * A JSON body (Content-Type application/json) is {"data": "text"} or
 * {"data_b64": "..."}; any other body is the raw bytes themselves. */
void
cmds_input(const struct routes_req *rq, const char *name,
           struct routes_reply *out)
{
  const char *type = reply_header(rq, "Content-Type");
  const char *data = rq->body;
  size_t len = rq->body_len;
  char *decoded = NULL, *cause = NULL;
  json_t *body = NULL, *v;
  int r;

  if (type && strncasecmp(type, "application/json", 16) == 0) {
    body = reply_body_object(rq, out);
    if (!body)
      return;
    if ((v = json_object_get(body, "data")) && json_is_string(v)) {
      data = json_string_value(v);
      len = json_string_length(v);
    } else if ((v = json_object_get(body, "data_b64")) && json_is_string(v)) {
      decoded = xmalloc(CODEC_BASE64_DECODED_MAX(json_string_length(v)));
      if (codec_base64_decode(json_string_value(v), json_string_length(v),
                              decoded, &len) < 0) {
        free(decoded);
        json_decref(body);
        routes_reply_error(out, 400, "data_b64: not valid base64");
        return;
      }
      data = decoded;
    } else {
      json_decref(body);
      routes_reply_error(out, 400,
                         "the body must be {\"data\": \"text\"} or "
                         "{\"data_b64\": \"...\"} (or raw bytes with "
                         "another Content-Type)");
      return;
    }
  }
  r = tend_runner_input(name, data ? data : "", data ? len : 0, &cause);
  free(decoded);
  json_decref(body);
  if (r < 0)
    reply_door_error(out, r, cause);
  else
    reply_json(out, 200,
               json_pack("{s:b, s:I}", "ok", 1, "bytes",
                         (json_int_t)(data ? len : 0)));
}

/* POST /api/v1/runners/{name}/resize {"cols": C, "rows": R}. */
void
cmds_resize(const struct routes_req *rq, const char *name,
            struct routes_reply *out)
{
  json_t *body = reply_body_object(rq, out);
  json_t *c, *rw;
  char *cause = NULL;
  int r;

  if (!body)
    return;
  c = json_object_get(body, "cols");
  rw = json_object_get(body, "rows");
  if (!json_is_integer(c) || !json_is_integer(rw) ||
      json_integer_value(c) < 1 || json_integer_value(c) > 1000 ||
      json_integer_value(rw) < 1 || json_integer_value(rw) > 1000) {
    json_decref(body);
    routes_reply_error(out, 400,
                       "the body must be {\"cols\": C, \"rows\": R}, "
                       "integers from 1 to 1000");
    return;
  }
  r = tend_runner_resize(name, (int)json_integer_value(c),
                         (int)json_integer_value(rw), &cause);
  json_decref(body);
  reply_door_result(out, r, cause);
}

/* A POST whose empty-object body asks one door function about a name. */
static void
post_to_door(const struct routes_req *rq, const char *name,
             struct routes_reply *out, int (*door)(const char *, char **))
{
  json_t *body = reply_body_object(rq, out);
  char *cause = NULL;
  int r;

  if (!body)
    return;
  json_decref(body);
  r = door(name, &cause);
  reply_door_result(out, r, cause);
}

/* POST /api/v1/runners/{name}/watch/resume. */
void
cmds_resume(const struct routes_req *rq, const char *name,
            struct routes_reply *out)
{
  post_to_door(rq, name, out, tend_watch_resume);
}

/* POST /api/v1/groups/{name}/restart. */
void
cmds_group_restart(const struct routes_req *rq, const char *name,
                   struct routes_reply *out)
{
  post_to_door(rq, name, out, tend_group_restart);
}

/* POST /api/v1/daemon/stop: the tree stops in reverse order, then the
 * daemon exits; the reply comes at once (202). */
void
cmds_daemon_stop(const struct routes_req *rq, const char *name,
                 struct routes_reply *out)
{
  json_t *body = reply_body_object(rq, out);

  (void)name;
  if (!body)
    return;
  json_decref(body);
  if (tend_daemon_stop("stop requested through the API (tend down)") != 0) {
    reply_json(out, 409, json_pack("{s:s}", "error", "not a daemon"));
    return;
  }
  reply_json(out, 202, json_pack("{s:b}", "stopping", 1));
}

/* POST /api/v1/groups/{name}/start. */
void
cmds_group_start(const struct routes_req *rq, const char *name,
                 struct routes_reply *out)
{
  post_to_door(rq, name, out, tend_group_start);
}

/* POST /api/v1/groups/{name}/stop. */
void
cmds_group_stop(const struct routes_req *rq, const char *name,
                struct routes_reply *out)
{
  post_to_door(rq, name, out, tend_group_stop);
}

/* POST /api/v1/reload: config errors come back one per line in "errors". */
void
cmds_reload(const struct routes_req *rq, const char *name,
            struct routes_reply *out)
{
  json_t *body = reply_body_object(rq, out);
  struct config_errors errs = CONFIG_ERRORS_ZERO;
  int r;

  (void)name;
  if (!body)
    return;
  json_decref(body);
  r = tend_reload(&errs);
  if (r == -EINVAL) {
    json_t *errors = json_array();
    for (size_t i = 0; i < errs.n; i++) {
      char *line = config_error_format(&errs.v[i]);
      json_array_append_new(errors, json_string(line));
      free(line);
    }
    reply_json(out, 400,
               json_pack("{s:s,s:o}", "error",
                         "the config has errors; nothing changed", "errors",
                         errors));
  } else if (r < 0) {
    char *cause = errs.n ? config_error_format(&errs.v[0]) : NULL;
    reply_door_error(out, r, cause);
  } else {
    reply_ok(out);
  }
  config_errors_free(&errs);
}
