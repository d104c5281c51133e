/* Unit tests for watchers/ignore: .gitignore semantics and the always-ignored
 * set; the file-reading part runs against a real temp folder. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "watchers/ignore.h"

#define IGN(i, p, d)                                                           \
  cr_expect(ignore_match(i, p, d), "\"%s\" (dir %d) should be ignored", p, d)
#define KEEP(i, p, d)                                                          \
  cr_expect(!ignore_match(i, p, d), "\"%s\" (dir %d) should not be ignored",   \
            p, d)

/* Returns a new ignore set at /r with one .gitignore text at reldir. */
static struct ignore *
with_rules(const char *reldir, const char *text)
{
  struct ignore *ign = ignore_new("/r", NULL, 1);
  ignore_add_rules(ign, reldir, text, strlen(text));
  return ign;
}

Test(ignore, blank_lines_and_comments)
{
  struct ignore *ign = with_rules("", "\n# build output\n\n   \n#*.c\n");
  KEEP(ign, "main.c", 0);
  KEEP(ign, "# build output", 0);
  KEEP(ign, "   ", 0);
  ignore_free(ign);
}

Test(ignore, pattern_without_slash_matches_at_any_depth)
{
  struct ignore *ign = with_rules("", "*.o\nbuild\n");
  IGN(ign, "a.o", 0);
  IGN(ign, "src/deep/a.o", 0);
  IGN(ign, "build", 1);
  IGN(ign, "build", 0);
  IGN(ign, "src/build", 1);
  IGN(ign, "src/build/x.c", 0); /* under an ignored folder */
  KEEP(ign, "a.c", 0);
  KEEP(ign, "builds/x.c", 0);
  ignore_free(ign);
}

Test(ignore, trailing_slash_is_folders_only)
{
  struct ignore *ign = with_rules("", "out/\n");
  IGN(ign, "out", 1);
  IGN(ign, "a/out", 1);
  IGN(ign, "out/file", 0);
  KEEP(ign, "out", 0); /* a file named out */
  KEEP(ign, "a/out", 0);
  ignore_free(ign);
}

Test(ignore, leading_or_middle_slash_anchors)
{
  struct ignore *ign = with_rules("", "/top.txt\ndoc/*.html\n/bin/\n");
  IGN(ign, "top.txt", 0);
  KEEP(ign, "sub/top.txt", 0);
  IGN(ign, "doc/a.html", 0);
  KEEP(ign, "x/doc/a.html", 0);
  KEEP(ign, "doc/sub/a.html", 0);
  IGN(ign, "bin", 1);
  IGN(ign, "bin/tool", 0);
  KEEP(ign, "src/bin", 1);
  ignore_free(ign);
}

Test(ignore, globstar_patterns)
{
  struct ignore *ign =
      with_rules("", "**/logs\nabc/**\na/**/b\n**/cache/*.tmp\n");
  IGN(ign, "logs", 1);
  IGN(ign, "x/y/logs", 1);
  IGN(ign, "abc/d/e", 0);
  KEEP(ign, "abc", 1);
  IGN(ign, "a/b", 0);
  IGN(ign, "a/x/y/b", 0);
  IGN(ign, "q/cache/z.tmp", 0);
  KEEP(ign, "q/cache/z.txt", 0);
  ignore_free(ign);
}

Test(ignore, negation_and_later_rules_win)
{
  struct ignore *ign = with_rules("", "*.log\n!keep.log\n");
  IGN(ign, "a.log", 0);
  KEEP(ign, "keep.log", 0);
  KEEP(ign, "sub/keep.log", 0);
  ignore_free(ign);

  ign = with_rules("", "!keep.log\n*.log\n");
  IGN(ign, "keep.log", 0);
  ignore_free(ign);
}

Test(ignore, negation_cannot_reinclude_under_ignored_folder)
{
  struct ignore *ign = with_rules("", "vendor/\n!vendor/keep.c\n");
  IGN(ign, "vendor/keep.c", 0);
  ignore_free(ign);

  /* But "/vendor/ + star" ignores the contents, not the folder, so it works. */
  ign = with_rules("", "/vendor/*\n!/vendor/keep.c\n");
  KEEP(ign, "vendor/keep.c", 0);
  IGN(ign, "vendor/other.c", 0);
  KEEP(ign, "vendor", 1);
  ignore_free(ign);
}

Test(ignore, match_below_skips_the_watched_folder_and_its_parents)
{
  struct ignore *ign = with_rules("", "dist/\nout\n*.map\n");

  IGN(ign, "dist/app/x.js", 0);
  /* A watch of dist itself: dist being ignored does not hide its inside. */
  cr_expect(!ignore_match_below(ign, "dist/app/x.js", 0, strlen("dist")));
  cr_expect(!ignore_match_below(ign, "dist/app", 1, strlen("dist")));
  /* Rules still apply below it. */
  cr_expect(ignore_match_below(ign, "dist/x.map", 0, strlen("dist")));
  cr_expect(ignore_match_below(ign, "dist/out/y", 0, strlen("dist")));
  ignore_free(ign);
}

Test(ignore, escapes_and_trailing_spaces)
{
  struct ignore *ign =
      with_rules("", "\\#hash\n\\!bang\ntrail   \nsp\\ \r\ncrlf.txt\r\n");
  IGN(ign, "#hash", 0);
  IGN(ign, "!bang", 0);
  IGN(ign, "trail", 0);
  KEEP(ign, "trail   ", 0);
  IGN(ign, "sp ", 0);
  KEEP(ign, "sp", 0);
  IGN(ign, "crlf.txt", 0);
  ignore_free(ign);
}

Test(ignore, nested_files_apply_to_their_subtree_and_win)
{
  struct ignore *ign = with_rules("", "*.gen\n");
  const char *sub = "!*.gen\n/local.txt\n";

  ignore_add_rules(ign, "pkg", sub, strlen(sub));
  IGN(ign, "a.gen", 0);
  IGN(ign, "other/a.gen", 0);
  KEEP(ign, "pkg/a.gen", 0); /* the deeper file re-includes */
  KEEP(ign, "pkg/x/a.gen", 0);
  IGN(ign, "pkg/local.txt", 0); /* anchored to pkg/ */
  KEEP(ign, "local.txt", 0);
  KEEP(ign, "pkg/x/local.txt", 0);
  KEEP(ign, "pkgx/local.txt", 0);

  /* Replacing a file's rules drops the old ones. */
  ignore_add_rules(ign, "pkg", "", 0);
  IGN(ign, "pkg/a.gen", 0);
  ignore_add_rules(ign, "pkg", sub, strlen(sub));
  ignore_forget_dir(ign, "pkg");
  IGN(ign, "pkg/a.gen", 0);
  KEEP(ign, "pkg/local.txt", 0);
  ignore_free(ign);
}

Test(ignore, always_ignored_set)
{
  struct ignore *ign = ignore_new("/r", "/r/.tend", 0);

  IGN(ign, ".git", 1);
  IGN(ign, ".git/index.lock", 0);
  IGN(ign, "sub/.git/HEAD", 0);
  IGN(ign, "sub/.git", 0); /* a submodule's .git file */
  IGN(ign, "main.c.swp", 0);
  IGN(ign, ".main.c.swx", 0);
  IGN(ign, "src/main.c~", 0);
  IGN(ign, "src/4913", 0);
  IGN(ign, ".#main.c", 0);
  IGN(ign, ".tend", 1);
  IGN(ign, ".tend/output/api.jsonl", 0);
  KEEP(ign, ".tendency", 0);
  KEEP(ign, ".gitignore", 0);
  KEEP(ign, ".github/workflows/ci.yml", 0);
  KEEP(ign, "49131", 0);
  KEEP(ign, "src/main.c", 0);
  KEEP(ign, "", 1);
  /* With gitignore off, rules are not even stored. */
  ignore_add_rules(ign, "", "*.c\n", 4);
  KEEP(ign, "src/main.c", 0);
  ignore_free(ign);

  cr_expect(ignore_always("a/.git/x"));
  cr_expect(!ignore_always("a/.gitx/x"));
  cr_expect(ignore_editor_temp("x.swp"));
  cr_expect(!ignore_editor_temp("x.swpx"));
}

Test(ignore, state_dir_outside_or_containing_root)
{
  struct ignore *ign = ignore_new("/r/src", "/r/.tend", 1);
  KEEP(ign, ".tend", 1);
  ignore_free(ign);

  ign = ignore_new("/r/.tend/sub", "/r/.tend/", 1);
  IGN(ign, "anything", 0);
  ignore_free(ign);

  ign = ignore_new("/r/", "/r/state/", 1);
  cr_expect_str_eq(ignore_root(ign), "/r");
  IGN(ign, "state/x", 0);
  KEEP(ign, "statex", 0);
  ignore_free(ign);
}

/* Writes text to root/rel, creating the file. */
static void
put(const char *root, const char *rel, const char *text)
{
  char path[4096];
  FILE *f;

  snprintf(path, sizeof path, "%s/%s", root, rel);
  f = fopen(path, "w");
  cr_assert_not_null(f, "fopen %s", path);
  fputs(text, f);
  fclose(f);
}

Test(ignore, loads_files_from_a_real_tree)
{
  char root[] = "/tmp/tend-ignore-XXXXXX";
  char path[4096];
  struct ignore *ign;

  cr_assert_not_null(mkdtemp(root));
  snprintf(path, sizeof path, "%s/.git", root);
  cr_assert_eq(mkdir(path, 0700), 0);
  snprintf(path, sizeof path, "%s/.git/info", root);
  cr_assert_eq(mkdir(path, 0700), 0);
  snprintf(path, sizeof path, "%s/src", root);
  cr_assert_eq(mkdir(path, 0700), 0);
  snprintf(path, sizeof path, "%s/src/gen", root);
  cr_assert_eq(mkdir(path, 0700), 0);
  put(root, ".gitignore", "*.o\n/dist/\n");
  put(root, ".git/info/exclude", "*.secret\n!top.o\n");
  put(root, "src/.gitignore", "gen/\n");

  /* The worktree is found from a folder inside it. */
  snprintf(path, sizeof path, "%s/src/gen", root);
  char *wt = ignore_find_worktree(path);
  cr_assert_not_null(wt);
  cr_expect_str_eq(wt, root);
  free(wt);

  ign = ignore_new(root, NULL, 1);
  cr_assert_eq(ignore_load_path(ign, "src/gen"), 0);
  IGN(ign, "a.o", 0);
  IGN(ign, "top.o", 0); /* info/exclude ranks below .gitignore */
  IGN(ign, "x.secret", 0);
  IGN(ign, "dist", 1);
  IGN(ign, "src/gen/x.c", 0);
  KEEP(ign, "gen/x.c", 0);
  KEEP(ign, "src/main.c", 0);

  /* Editing a .gitignore and reloading it takes effect. */
  put(root, "src/.gitignore", "*.c\n");
  cr_assert_eq(ignore_load_dir(ign, "src"), 0);
  IGN(ign, "src/main.c", 0);
  KEEP(ign, "src/gen/x.h", 0);
  /* Deleting it clears its rules. */
  snprintf(path, sizeof path, "%s/src/.gitignore", root);
  cr_assert_eq(unlink(path), 0);
  cr_assert_eq(ignore_load_dir(ign, "src"), 0);
  KEEP(ign, "src/main.c", 0);
  /* A folder without a .gitignore loads as no rules. */
  cr_assert_eq(ignore_load_dir(ign, "nope/deeper"), 0);
  ignore_free(ign);

  char cmd[4200];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
  cr_expect_eq(system(cmd), 0);
}

Test(ignore, no_worktree_above_tmp_root)
{
  char root[] = "/tmp/tend-ignore-XXXXXX";
  cr_assert_not_null(mkdtemp(root));
  char *wt = ignore_find_worktree(root);
  /* /tmp is not inside a repository on any sane machine. */
  cr_expect_null(wt, "unexpected worktree %s", wt != NULL ? wt : "");
  free(wt);
  rmdir(root);
}
