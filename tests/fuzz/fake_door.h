/* fake_door: canned stand-ins for the coordination door (src/tend.h) and
 * pubsub (src/pubsub.h), linked into fuzz_routes only, so that the router
 * runs without a daemon.
 *
 * Every function that receives a runner or group name checks it the way a
 * handler must see it (1..128 chars of [A-Za-z0-9_.-], no "..") and aborts
 * otherwise: a path that decodes to a traversal must never reach one. */
#ifndef TEND_FAKE_DOOR_H
#define TEND_FAKE_DOOR_H

#include <stddef.h>
#include <stdint.h>

/* How the fake answers; set per input by the harness. Names that exist:
 * the runners "api" and "a.b-c_d", the group "dev". */
struct fake_door {
  int cmd_result;    /* tend_runner_cmd on an existing runner: 0, -EBUSY */
  int reload_result; /* 0, -EINVAL (two error lines) or -EBUSY */
  int live_items;    /* items the live queue yields per subscription */
  int live_overflow; /* the live queue reports a gap once */
};

/* Sets the behaviour for the next request. */
void fake_door_set(const struct fake_door *d);
/* Aborts unless name is one a handler may receive. */
void fake_door_check_name(const char *where, const char *name);

#endif
