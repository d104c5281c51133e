/* ignore: which paths a watch never reports, with .gitignore semantics.
 *
 * An ignore set is anchored at a root folder (absolute); every query takes a
 * path relative to that root ('/'-separated, no leading "./"). It holds the
 * rules of any number of .gitignore files, one rule set per folder, which
 * apply to that folder's subtree; deeper files win over shallower ones and
 * later lines over earlier ones, as in git. A folder that is ignored hides
 * everything below it (a negation cannot re-include a file in it).
 *
 * The always-ignored set is checked first and cannot be negated: any path
 * through a `.git` component, the state folder (absolute, given at creation)
 * and editor temp files (`*.swp`, `*.swx`, `*~`, `4913`, `.#*`).
 *
 * The core (ignore_add_rules, ignore_match, ignore_always) is pure; only the
 * ignore_load_* functions read files. */
#ifndef TEND_IGNORE_H
#define TEND_IGNORE_H

#include <stddef.h>

struct ignore;

/* Returns a new ignore set for root (absolute, copied). state_dir (absolute,
 * copied, may be NULL) is always ignored. With gitignore 0, only the
 * always-ignored set applies and the rule functions below are no-ops. */
struct ignore *ignore_new(const char *root, const char *state_dir,
                          int gitignore);
/* Frees the set. NULL is a no-op. */
void ignore_free(struct ignore *ign);
/* Returns the root folder (borrowed). */
const char *ignore_root(const struct ignore *ign);

/* Replaces the rules of folder reldir ("" for the root) with the lines of
 * text (the content of a .gitignore file). */
void ignore_add_rules(struct ignore *ign, const char *reldir, const char *text,
                      size_t len);
/* Drops the rules of reldir and of every folder below it. */
void ignore_forget_dir(struct ignore *ign, const char *reldir);
/* Reads <root>/<reldir>/.gitignore into the rules of reldir (a missing file
 * clears them). For the root it also reads .git/info/exclude, whose rules
 * rank below every .gitignore. Returns 0 or a negative errno. */
int ignore_load_dir(struct ignore *ign, const char *reldir);
/* Loads the .gitignore of the root and of every folder down to reldir
 * (inclusive): what a watch of a folder inside a repository needs. */
int ignore_load_path(struct ignore *ign, const char *reldir);

/* Returns 1 when relpath (a folder when is_dir) is ignored: always-ignored,
 * under the state folder, or excluded by the rules (its own or a parent
 * folder's). The empty path (the root itself) is never ignored by rules. */
int ignore_match(const struct ignore *ign, const char *relpath, int is_dir);
/* Same, but the parent folders among the first base_len bytes of relpath
 * are not checked: a watch of a folder that is itself ignored (say, a
 * build output folder someone watches on purpose) still sees inside it.
 * base_len is the length of that folder's relative path. */
int ignore_match_below(const struct ignore *ign, const char *relpath,
                       int is_dir, size_t base_len);

/* Pure: returns 1 when relpath has a `.git` component or its last component
 * is an editor temp file name. */
int ignore_always(const char *relpath);
/* Pure: returns 1 when name (one path component) is an editor temp file. */
int ignore_editor_temp(const char *name);

/* Returns the nearest folder at or above dir (absolute) that contains a
 * `.git` entry (new string), or NULL when there is none. */
char *ignore_find_worktree(const char *dir);

#endif
