/* top_api: the state of `tend top` (struct top) and its traffic with the
 * daemon: the tree and the event stream, the selected runner's output
 * (a backlog page, then its stream), the keys' actions, and the status
 * line their answers go to. All requests run on t->multi; the loop in
 * top.c calls top_api_requests_done and top_api_timers. */
#ifndef TEND_TOP_API_H
#define TEND_TOP_API_H

#include "src/top_view.h"

#include <curl/curl.h>
#include <jansson.h>
#include <stdint.h>

/* The first reconnect delay of the streams (it doubles up to 5 s). */
#define TOP_API_RETRY_MIN_MS 250

struct req;

enum input_mode { IN_NONE, IN_FILTER, IN_SIGNAL };

struct top {
  char *url, *token;
  CURLM *multi;
  struct req *reqs; /* every request in flight */
  struct req *tree_req, *events_req, *page_req, *out_req;

  /* The tree. */
  json_t *tree;
  struct top_row *rows;
  size_t nrows;
  int sel, first; /* selected row, first row shown */
  char *sel_name; /* the selection, kept by name across refreshes */
  int tree_stale; /* fetch it again as soon as none is in flight */
  int64_t next_tree_poll;
  int events_up;
  int64_t events_retry_at;
  unsigned events_delay;
  char filter[128];

  /* The output pane. */
  char *out_name; /* the runner shown, or NULL */
  struct top_out *out;
  uint64_t out_last; /* seq of the last chunk shown */
  int64_t out_retry_at;
  unsigned out_delay;
  int follow;
  uint64_t view_top; /* not following: absolute index of the first line */
  int out_h;         /* the pane's height at the last draw */

  /* The bottom line. */
  enum input_mode mode;
  char input[128];
  char *signal_target;
  char status[256];
  int status_err;
  int help;
  int quit;

  /* Drawing. */
  int dirty;
  int64_t last_draw;
  int64_t drawn_second; /* the wall clock's second at the last draw */
  int colour;           /* colours wanted and possible (NO_COLOR) */
  int default_colours;  /* -1 works as a colour (use_default_colors) */
  struct {
    short fg, bg;
  } pairs[256];
  int npairs;
};

/* Monotonic milliseconds, for timers (wall time: events_now_ms). */
int64_t top_api_now_ms(void);
/* Sets the status line (printf-style); err shows it as an error. */
void top_api_say(struct top *t, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Ends a request, done or not, and forgets it. NULL is a no-op. */
void top_api_req_free(struct top *t, struct req *r);
/* Handles the requests that finished. */
void top_api_requests_done(struct top *t);
/* Starts what is due at now: tree fetches and polls, stream reconnects. */
void top_api_timers(struct top *t, int64_t now);
/* Selects row i (clamped) and shows its output when it is a runner. */
void top_api_select_row(struct top *t, int i);
/* Rebuilds the rows from the tree and the filter, keeping the selection
 * by name (else the first runner, else the first row). */
void top_api_rows_rebuild(struct top *t);
/* The selected row (borrowed), or NULL. */
const struct top_row *top_api_selected(struct top *t);
/* POSTs verb on node name (kind: "runners" or "groups") with body; the
 * answer goes to the status line. */
void top_api_action(struct top *t, const char *kind, const char *name,
                    const char *verb, const char *body);

#endif
