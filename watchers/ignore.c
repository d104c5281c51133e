/* ignore: .gitignore rules plus the always-ignored set (see ignore.h).
 *
 * Design: one rule set per folder that has a .gitignore, kept in an array
 * sorted by depth so that matching walks them from the root down and the
 * last matching rule wins (deeper files and later lines take precedence).
 * The info/exclude rules sit in a set of their own with depth -1. A query
 * first checks every parent folder of the path (an ignored folder hides its
 * whole subtree, as in git) and then the path itself. Patterns are matched by
 * watchers/glob: a pattern without a '/' (other than a trailing one) is
 * matched against the last component, any other one against the path
 * relative to the folder of its .gitignore. */
#include "watchers/ignore.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "src/buf.h"
#include "src/xalloc.h"
#include "watchers/glob.h"

/* .gitignore files larger than this are read only up to it. */
#define IGNORE_FILE_MAX (1024 * 1024)

struct rule {
  char *pattern; /* without the '!', the leading and the trailing '/' */
  int negate;    /* "!pattern": re-include */
  int dir_only;  /* "pattern/": folders only */
  int anchored;  /* has a '/' before its end: relative to the folder */
};

struct ruleset {
  char *dir; /* relative folder, "" for the root */
  int depth; /* components in dir; -1 for info/exclude */
  struct rule *rules;
  size_t n_rules;
};

struct ignore {
  char *root;
  char *state_rel; /* state folder relative to root, or NULL */
  int all_ignored; /* the root is inside the state folder */
  int gitignore;
  struct ruleset *sets; /* sorted by depth */
  size_t n_sets;
};

/* Editor temp file name patterns (vim swap and write test, backups, emacs
 * locks). */
static const char *const editor_temps[] = {"*.swp", "*.swx", "*~", "4913",
                                           ".#*"};

/* Returns the number of components of a relative folder ("" has 0). */
static int
dir_depth(const char *dir)
{
  int depth = 0;

  if (*dir == '\0')
    return 0;
  for (depth = 1; *dir != '\0'; dir++)
    if (*dir == '/')
      depth++;
  return depth;
}

/* Returns 1 when path is dir or lies below it (both relative). */
static int
path_under(const char *path, const char *dir)
{
  size_t n = strlen(dir);

  if (n == 0)
    return 1;
  return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* Frees the rules of one set (not the set's dir). */
static void
ruleset_clear(struct ruleset *set)
{
  for (size_t i = 0; i < set->n_rules; i++)
    free(set->rules[i].pattern);
  free(set->rules);
  set->rules = NULL;
  set->n_rules = 0;
}

/* Parses one .gitignore line (without its newline) into rule; returns 0
 * when the line holds no pattern (blank or comment). */
static int
parse_line(const char *line, size_t len, struct rule *rule)
{
  size_t start = 0, end = len;
  int negate = 0, dir_only = 0, anchored;
  char *pat;

  if (end > 0 && line[end - 1] == '\r')
    end--;
  if (end == 0 || line[0] == '#')
    return 0;
  /* Trailing spaces go unless escaped with a backslash. */
  while (end > 0 && line[end - 1] == ' ') {
    size_t bs = 0;
    while (bs + 1 < end && line[end - 2 - bs] == '\\')
      bs++;
    if (bs % 2 == 1)
      break;
    end--;
  }
  if (line[0] == '!') {
    negate = 1;
    start = 1;
  } else if (line[0] == '\\' && len > 1 && (line[1] == '#' || line[1] == '!'))
    start = 1; /* "\#x", "\!x": literal; the glob reads "\#" as '#' */
  if (end > start && line[end - 1] == '/') {
    dir_only = 1;
    end--;
  }
  if (end <= start)
    return 0;
  pat = xstrndup(line + start, end - start);
  anchored = strchr(pat, '/') != NULL;
  if (pat[0] == '/') {
    char *stripped = xstrdup(pat + 1);
    free(pat);
    pat = stripped;
    if (*pat == '\0') {
      free(pat);
      return 0;
    }
  }
  rule->pattern = pat;
  rule->negate = negate;
  rule->dir_only = dir_only;
  rule->anchored = anchored;
  return 1;
}

/* Returns the set for dir with depth, creating it at its sorted place. */
static struct ruleset *
set_for(struct ignore *ign, const char *dir, int depth)
{
  size_t at;

  for (size_t i = 0; i < ign->n_sets; i++)
    if (ign->sets[i].depth == depth && strcmp(ign->sets[i].dir, dir) == 0)
      return &ign->sets[i];
  ign->sets = xrealloc(ign->sets, (ign->n_sets + 1) * sizeof *ign->sets);
  for (at = ign->n_sets; at > 0 && ign->sets[at - 1].depth > depth; at--)
    ;
  memmove(&ign->sets[at + 1], &ign->sets[at],
          (ign->n_sets - at) * sizeof *ign->sets);
  ign->n_sets++;
  ign->sets[at] = (struct ruleset){.dir = xstrdup(dir), .depth = depth};
  return &ign->sets[at];
}

/* Replaces the rules of the set (dir, depth) with text's lines. */
static void
set_rules(struct ignore *ign, const char *dir, int depth, const char *text,
          size_t len)
{
  struct ruleset *set = set_for(ign, dir, depth);
  size_t cap = 0;

  ruleset_clear(set);
  for (size_t pos = 0; pos < len;) {
    const char *nl = memchr(text + pos, '\n', len - pos);
    size_t line_len = nl != NULL ? (size_t)(nl - text) - pos : len - pos;
    struct rule rule;

    if (parse_line(text + pos, line_len, &rule)) {
      if (set->n_rules == cap) {
        cap = cap == 0 ? 8 : cap * 2;
        set->rules = xrealloc(set->rules, cap * sizeof *set->rules);
      }
      set->rules[set->n_rules++] = rule;
    }
    pos += line_len + 1;
  }
}

/* Returns a new ignore set for root. */
struct ignore *
ignore_new(const char *root, const char *state_dir, int gitignore)
{
  struct ignore *ign = xcalloc(1, sizeof *ign);
  size_t n = strlen(root);

  while (n > 1 && root[n - 1] == '/')
    n--;
  ign->root = xstrndup(root, n);
  ign->gitignore = gitignore;
  if (state_dir != NULL) {
    size_t s = strlen(state_dir);
    while (s > 1 && state_dir[s - 1] == '/')
      s--;
    if (s <= n && strncmp(ign->root, state_dir, s) == 0 &&
        (ign->root[s] == '\0' || ign->root[s] == '/' || s == 1))
      ign->all_ignored = 1;
    else if (s > n && strncmp(state_dir, ign->root, n) == 0 &&
             (state_dir[n] == '/' || n == 1))
      ign->state_rel =
          xstrndup(state_dir + n + (n == 1 ? 0 : 1), s - n - (n == 1 ? 0 : 1));
  }
  return ign;
}

/* Frees the set. */
void
ignore_free(struct ignore *ign)
{
  if (ign == NULL)
    return;
  for (size_t i = 0; i < ign->n_sets; i++) {
    ruleset_clear(&ign->sets[i]);
    free(ign->sets[i].dir);
  }
  free(ign->sets);
  free(ign->state_rel);
  free(ign->root);
  free(ign);
}

/* Returns the root folder. */
const char *
ignore_root(const struct ignore *ign)
{
  return ign->root;
}

/* Replaces the rules of reldir with text's lines. */
void
ignore_add_rules(struct ignore *ign, const char *reldir, const char *text,
                 size_t len)
{
  if (!ign->gitignore)
    return;
  set_rules(ign, reldir, dir_depth(reldir), text, len);
}

/* Drops the rules of reldir and below. */
void
ignore_forget_dir(struct ignore *ign, const char *reldir)
{
  size_t kept = 0;

  for (size_t i = 0; i < ign->n_sets; i++) {
    struct ruleset *set = &ign->sets[i];
    if (set->depth >= 0 && path_under(set->dir, reldir)) {
      ruleset_clear(set);
      free(set->dir);
      continue;
    }
    ign->sets[kept++] = *set;
  }
  ign->n_sets = kept;
}

/* Reads the file at path (at most IGNORE_FILE_MAX bytes) into a new
 * buffer (*len bytes). Returns 0 or a negative errno. */
static int
read_small_file(const char *path, char **out, size_t *len)
{
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  struct buf b = BUF_ZERO;
  int rc;

  if (fd < 0)
    return -errno;
  rc = buf_read_fd(&b, fd, IGNORE_FILE_MAX);
  close(fd);
  if (rc < 0) {
    buf_free(&b);
    return rc;
  }
  *out = buf_steal(&b, len);
  return 0;
}

/* Reads one rules file into the set (dir, depth); a missing file (or a
 * folder in its way) clears the set. */
static int
load_file(struct ignore *ign, const char *file, const char *dir, int depth)
{
  char *text = NULL;
  size_t len = 0;
  int rc = read_small_file(file, &text, &len);

  if (rc == -ENOENT || rc == -ENOTDIR || rc == -EISDIR) {
    set_rules(ign, dir, depth, "", 0);
    return 0;
  }
  if (rc < 0)
    return rc;
  set_rules(ign, dir, depth, text, len);
  free(text);
  return 0;
}

/* Reads <root>/<reldir>/.gitignore (and info/exclude for the root). */
int
ignore_load_dir(struct ignore *ign, const char *reldir)
{
  char *file;
  int rc;

  if (!ign->gitignore)
    return 0;
  if (*reldir == '\0') {
    file = xasprintf("%s/.git/info/exclude", ign->root);
    rc = load_file(ign, file, "", -1);
    free(file);
    if (rc < 0)
      return rc;
    file = xasprintf("%s/.gitignore", ign->root);
  } else
    file = xasprintf("%s/%s/.gitignore", ign->root, reldir);
  rc = load_file(ign, file, reldir, dir_depth(reldir));
  free(file);
  return rc;
}

/* Loads the .gitignore files from the root down to reldir. */
int
ignore_load_path(struct ignore *ign, const char *reldir)
{
  char *dir = xstrdup(reldir);
  int rc = ignore_load_dir(ign, "");

  for (char *p = dir; rc == 0 && *p != '\0'; p++) {
    if (*p != '/')
      continue;
    *p = '\0';
    rc = ignore_load_dir(ign, dir);
    *p = '/';
  }
  if (rc == 0 && *dir != '\0')
    rc = ignore_load_dir(ign, dir);
  free(dir);
  return rc;
}

/* Returns 1 when name is an editor temp file name. */
int
ignore_editor_temp(const char *name)
{
  for (size_t i = 0; i < sizeof editor_temps / sizeof editor_temps[0]; i++)
    if (glob_match(editor_temps[i], name))
      return 1;
  return 0;
}

/* Returns 1 when relpath goes through .git or names an editor temp file. */
int
ignore_always(const char *relpath)
{
  const char *comp = relpath;

  for (;;) {
    const char *slash = strchr(comp, '/');
    size_t n = slash != NULL ? (size_t)(slash - comp) : strlen(comp);
    if (n == 4 && memcmp(comp, ".git", 4) == 0)
      return 1;
    if (slash == NULL)
      return ignore_editor_temp(comp);
    comp = slash + 1;
  }
}

/* Applies every rule set to path: returns 1 ignored, 0 re-included or not
 * mentioned (the last matching rule decides). */
static int
rules_match(const struct ignore *ign, const char *path, int is_dir)
{
  const char *base = strrchr(path, '/');
  int ignored = 0;

  base = base != NULL ? base + 1 : path;
  for (size_t i = 0; i < ign->n_sets; i++) {
    const struct ruleset *set = &ign->sets[i];
    const char *sub = path;

    if (set->depth > 0) {
      size_t n = strlen(set->dir);
      if (strncmp(path, set->dir, n) != 0 || path[n] != '/')
        continue;
      sub = path + n + 1;
    }
    for (size_t j = 0; j < set->n_rules; j++) {
      const struct rule *r = &set->rules[j];
      if (r->dir_only && !is_dir)
        continue;
      if (glob_match(r->pattern, r->anchored ? sub : base))
        ignored = !r->negate;
    }
  }
  return ignored;
}

/* Returns 1 when relpath is ignored. */
int
ignore_match(const struct ignore *ign, const char *relpath, int is_dir)
{
  return ignore_match_below(ign, relpath, is_dir, 0);
}

/* Returns 1 when relpath is ignored, its first base_len bytes aside. */
int
ignore_match_below(const struct ignore *ign, const char *relpath, int is_dir,
                   size_t base_len)
{
  char buf[PATH_MAX];
  size_t len = strlen(relpath);

  if (ign->all_ignored)
    return 1;
  if (*relpath == '\0')
    return 0;
  if (ign->state_rel != NULL && path_under(relpath, ign->state_rel))
    return 1;
  if (ignore_always(relpath))
    return 1;
  if (!ign->gitignore || ign->n_sets == 0)
    return 0;
  if (len >= sizeof buf)
    return 0;
  memcpy(buf, relpath, len + 1);
  /* An ignored parent folder hides the whole subtree. */
  for (char *p = buf; *p != '\0'; p++) {
    if (*p != '/')
      continue;
    if ((size_t)(p - buf) <= base_len)
      continue;
    *p = '\0';
    if (rules_match(ign, buf, 1))
      return 1;
    *p = '/';
  }
  return rules_match(ign, relpath, is_dir);
}

/* Returns the nearest folder at or above dir holding a .git entry. */
char *
ignore_find_worktree(const char *dir)
{
  char *cur = xstrdup(dir);

  for (;;) {
    struct stat st;
    char *probe = xasprintf("%s/.git", cur);
    int found = lstat(probe, &st) == 0;
    char *slash;

    free(probe);
    if (found)
      return cur;
    slash = strrchr(cur, '/');
    if (slash == NULL || (slash == cur && cur[1] == '\0')) {
      free(cur);
      return NULL;
    }
    if (slash == cur)
      slash[1] = '\0'; /* "/x" -> "/" */
    else
      *slash = '\0';
  }
}
