/* config_ld: the loader's state (struct config__ld, "ld") and the tools the
 * parts of the validator share: src/config.c (the load itself),
 * src/config_tree.c (the tree, groups, the root) and src/config_runner.c
 * (a runner's keys).
 *
 * Internal to those modules: every name is config__* (STYLE.md 2), and no
 * other caller includes this header; config.h is the API.
 *
 * The getters read obj[key], report a wrong type or range at the value, and
 * return 1 when set, 0 when absent, -1 on an error (*out untouched). */
#ifndef TEND_CONFIG_LD_H
#define TEND_CONFIG_LD_H

#include <jansson.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "src/buf.h"
#include "src/config.h"

struct config_pos_seg;
struct config_pos_index;

/* The largest duration accepted, so that now + duration cannot overflow. */
#define CONFIG__MS_MAX INT64_C(1000000000000)

/* A file that takes part in a load: the main one or an included one. */
struct config__src {
  char *disp; /* the file name shown in messages */
  char *text; /* owned when own_text (include files) */
  size_t len;
  int own_text;
  size_t base; /* leading path segments that are outside this file */
  json_t *doc; /* new reference, or NULL */
  struct config_pos_index *ix; /* built on the first error in this file */
};

/* One error or `tend check` finding, before the load hands it out. */
struct config__cerr {
  size_t src, seq;
  int line, col;
  char *path;    /* display form (new), or NULL */
  char *message; /* new */
  int warning;
};

/* Where a name was first used, to name it in a duplicate's message. */
struct config__use {
  size_t src;
  struct config_pos_seg *segs; /* the path of its "name" (keys borrowed) */
  size_t n;
  struct config_node *node;
};

/* An "after" to check once every name of the tree is known. */
struct config__after {
  struct config_node *node;
  size_t src;
  struct config_pos_seg *segs; /* the path of after.runner (keys borrowed) */
  size_t n;
};

/* The state of one load. */
struct config__ld {
  struct config *cfg;
  char *disp_dir;      /* prefix of include display names */
  const char *include; /* the "include" value as written */
  struct config__src *srcs;
  size_t n_srcs, cap_srcs, cur;
  struct config_pos_seg *path;
  size_t depth, cap_path;
  struct config__cerr *errs;
  size_t n_errs, cap_errs;
  struct config__cerr *warns; /* `tend check` findings (config.h, "notes") */
  size_t n_warns, cap_warns;
  int n_check_errors;
  struct strmap *names; /* name -> index + 1 into uses */
  struct config__use *uses;
  size_t n_uses, cap_uses;
  struct config__after *afters;
  size_t n_afters, cap_afters;
  char **scratch; /* strings freed when the load ends */
  size_t n_scratch, cap_scratch;
};

/* Blanks the control characters of jansson's error text; returns it. */
const char *config__je_text(json_error_t *je);
/* Returns rel resolved against the absolute folder base, lexically (new). */
char *config__path_resolve(const char *base, const char *rel);
/* Reads a whole file: 0 and *text (new, NUL-terminated), or -errno. */
int config__read_file(const char *path, char **text, size_t *len);
/* Frees a NULL-terminated array of strings. NULL is a no-op. */
void config__strv_free(char **v);
/* Returns the candidate the user most likely meant by s, or NULL. */
const char *config__closest(const char *s, const char *const *cands, size_t n);

/* The loader's state. */
/* Releases the loader's state (not the config). */
void config__ld_free(struct config__ld *ld);
/* Adds a source (display name taken); returns its index. */
size_t config__add_src(struct config__ld *ld, char *disp, char *text,
                       size_t len, int own, size_t base);
/* Returns s quoted as JSON (lives until the load ends). */
const char *config__q(struct config__ld *ld, const char *s);
/* Enters an object key (key non-NULL) or an array index; leaves it. */
void config__push(struct config__ld *ld, const char *key, size_t idx);
void config__pop(struct config__ld *ld);
/* Returns a copy of the current path (new array; keys borrowed). */
struct config_pos_seg *config__path_copy(const struct config__ld *ld);
/* Finds where segs points in source src. */
void config__position(struct config__ld *ld, size_t src,
                      const struct config_pos_seg *segs, size_t n, int at_key,
                      int *line, int *col);

/* Errors. */
/* Records an error (path, which may be NULL, and message taken). */
void config__add(struct config__ld *ld, size_t src, int line, int col,
                 char *path, char *message);
/* An error about the value at the current path (or its key when at_key). */
void config__err(struct config__ld *ld, int at_key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* An error about obj[key], the current path being obj. */
void config__err_key(struct config__ld *ld, const char *key, int at_key,
                     const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* An error about the value at segs in source src. */
void config__err_at(struct config__ld *ld, size_t src,
                    const struct config_pos_seg *segs, size_t n,
                    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* An error about obj[key][i]. */
void config__err_idx(struct config__ld *ld, const char *key, size_t i,
                     const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* A `tend check` finding about obj[key] (obj[key][idx] when idx >= 0): a
 * warning, or an error of a file the config names when is_error. */
void config__note(struct config__ld *ld, const char *key, long idx,
                  int is_error, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* Sorts v (n records of ld) and moves them into *out (new). */
void config__errors_take(struct config__ld *ld, struct config__cerr *v,
                         size_t n, struct config_errors *out);

/* Typed getters (1 set, 0 absent, -1 error). */
/* An integer in [min, max]. */
int config__get_int(struct config__ld *ld, json_t *obj, const char *key,
                    int64_t min, int64_t max, int64_t *out);
/* A number of seconds (> 0, or >= 0 when zero_ok) as milliseconds. */
int config__get_seconds(struct config__ld *ld, json_t *obj, const char *key,
                        int zero_ok, int64_t *ms);
/* true or false. */
int config__get_bool(struct config__ld *ld, json_t *obj, const char *key,
                     int *out);
/* A string (borrowed from the document); non-empty when nonempty. */
int config__get_string(struct config__ld *ld, json_t *obj, const char *key,
                       int nonempty, const char **out);
/* An object (borrowed). */
int config__get_object(struct config__ld *ld, json_t *obj, const char *key,
                       json_t **out);
/* One of the n strings of names; *out is its index. */
int config__get_choice(struct config__ld *ld, json_t *obj, const char *key,
                       const char *const *names, size_t n, int *out);
/* An array of non-empty strings (NULL-terminated *out, n_out of them),
 * resolved against the config's folder when resolve. */
int config__get_strings(struct config__ld *ld, json_t *obj, const char *key,
                        int nonempty_list, int resolve, char ***out,
                        size_t *n_out);
/* Returns 1 for a comment key ("//..."), allowed on every object. */
int config__is_comment_key(const char *key);
/* Reports each key of obj that is not one of the n known, suggesting a
 * near one. */
void config__check_keys(struct config__ld *ld, json_t *obj,
                        const char *const *known, size_t n);

#endif
