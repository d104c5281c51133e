/* sup: the supervisor actor (OTP `supervisor` semantics, DESIGN.md).
 *
 * A group of the config becomes one sup actor; each child is a runner actor
 * or another sup actor. Parents and children talk only through the messages
 * below. The restart decisions live in src/sup_policy.c. */
#ifndef TEND_SUP_H
#define TEND_SUP_H

#include <jansson.h>
#include <uv.h>

#include "src/actor.h"
#include "src/config.h"

/* Messages between a supervisor and its children (runners or groups). */
enum sup_msg {
  SUP_MSG_START = 100, /* parent -> child: start; arg = delay in ms */
  SUP_MSG_STOP,        /* parent -> child: stop (reverse order for groups) */
  SUP_MSG_FAIL,        /* parent -> child: given up on (runner -> failed);
                          data = why (text) or NULL */
  SUP_MSG_STARTED,     /* child -> parent: running / ready */
  SUP_MSG_EXITED,      /* child -> parent: arg = enum sup_exit, data = text */
  SUP_MSG_STOPPED,     /* child -> parent: stopped on request */
  SUP_MSG_USER,        /* API -> group: data = struct sup_user_cmd */
  SUP_MSG_SIGNAL,      /* API -> runner: arg = signal number */
  SUP_MSG_RELOAD,      /* reload -> group: data = struct sup_reload */
  SUP_MSG_RESTART,     /* parent -> child: start as a restart by policy
                          (counted in "restarts"); arg = delay in ms */
};

/* A user's command on one child, or on the group itself (child NULL). */
struct sup_user_cmd {
  char *child; /* child name; NULL = the whole group (start, stop or
                  restart: the group state table decides) */
  int cmd;     /* enum tend_cmd */
};
void sup_user_cmd_free(void *cmd);

struct sup;

/* Creates the supervisor for group spec (a node of cfg) and, recursively,
 * its children. The supervisor and each runner below it take a reference
 * to cfg (config_ref), dropped when they are closed or rebound by a
 * reload. Nothing starts until SUP_MSG_START. */
struct sup *sup_new(uv_loop_t *loop, const struct config *cfg,
                    const struct config_node *spec, actor_id parent);
/* The supervisor's actor id. */
actor_id sup_id(const struct sup *sup);
/* Frees a stopped supervisor and its whole subtree; cb(arg) runs once every
 * libuv handle below it is closed. */
void sup_close(struct sup *sup, void (*cb)(void *arg), void *arg);
/* The name of group state i (0, 1, ...; NULL past the last), as events
 * and the API spell it (for /metrics). */
const char *sup_group_state_name(size_t i);
/* The restarts that the group called name (sup or one below it) decided
 * so far, or -1 when there is none. A read for /metrics: the group's state
 * events carry the count too, but only when the group itself changes
 * state. */
int sup_group_restarts(const struct sup *sup, const char *name);

/* The reload (sup_apply, sup_apply_tree_json) is its own module; included
 * here so that a user of the supervisor needs one header. */
#include "src/sup_apply.h"

#endif
