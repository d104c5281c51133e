/* fuzz_config_pos: libFuzzer target for src/config_pos.c, the JSON path ->
 * line:col locator behind every "file:line:col" of the config errors.
 *
 * The input is "path NUL text" (no NUL: the whole input is the text and
 * the path is empty, the top). The text is any bytes: the locator must
 * answer for malformed JSON too. Checks, besides no crash, no UB and no
 * leak:
 *   - config_pos_locate returns 0, -ENOENT or -EINVAL, and 0 for the empty
 *     path; with a position, the line is one of the text's lines and the
 *     column at most one past that line's last character;
 *   - an index built once (config_pos_index_new + config_pos_find +
 *     config_pos_line_col) gives the same answer as config_pos_locate;
 *   - a path that parses formats to a path that parses to the same
 *     segments (keys without control characters, which the display form
 *     escapes the JSON way and the parser does not read back). */
#include "src/config_pos.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Stops the run loudly: libFuzzer saves the input as a crash. */
static void
fail(const char *what, const char *path)
{
  fprintf(stderr, "fuzz_config_pos: %s\n  path: \"%s\"\n", what, path);
  abort();
}

/* Returns how many characters (not UTF-8 continuation bytes) line (1-based)
 * of text has, or -1 when there is no such line. */
static long
line_chars(const char *text, size_t len, int line)
{
  size_t i = 0;
  long n = 0;
  for (int l = 1; l < line; l++) {
    const char *nl = memchr(text + i, '\n', len - i);
    if (!nl)
      return -1;
    i = (size_t)(nl - text) + 1;
  }
  for (; i < len && text[i] != '\n'; i++)
    if (((unsigned char)text[i] & 0xC0) != 0x80)
      n++;
  return n;
}

/* Checks the format -> parse round trip of a parsed path. */
static void
check_round_trip(const char *path)
{
  struct config_pos_seg *a, *b;
  size_t na, nb;
  char *shown;

  if (config_pos_path_parse(path, &a, &na) != 0)
    return;
  for (size_t i = 0; i < na; i++)
    for (const char *k = a[i].key; k && *k; k++)
      if ((unsigned char)*k < 0x20 || *k == 0x7f) {
        config_pos_segs_free(a, na);
        return;
      }
  shown = config_pos_path_format(a, na);
  if (config_pos_path_parse(shown, &b, &nb) != 0)
    fail("the display form of a parsed path does not parse", path);
  if (na != nb)
    fail("the display form has another number of segments", path);
  for (size_t i = 0; i < na; i++) {
    if (!a[i].key != !b[i].key)
      fail("a key became an index or back", path);
    if (a[i].key ? strcmp(a[i].key, b[i].key) != 0 : a[i].idx != b[i].idx)
      fail("a segment changed in the round trip", path);
  }
  free(shown);
  config_pos_segs_free(a, na);
  config_pos_segs_free(b, nb);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  const uint8_t *nul = memchr(data, '\0', size);
  size_t plen = nul ? (size_t)(nul - data) : 0;
  const char *text = nul ? (const char *)nul + 1 : (const char *)data;
  size_t len = nul ? size - plen - 1 : size;
  char *path = malloc(plen + 1);

  memcpy(path, data, plen);
  path[plen] = '\0';
  for (int at_key = 0; at_key <= 1; at_key++) {
    int line = 0, col = 0, rc;
    rc = config_pos_locate(text, len, path, at_key, &line, &col);
    if (rc != 0 && rc != -ENOENT && rc != -EINVAL)
      fail("config_pos_locate returned another error", path);
    if (plen == 0 && rc != 0)
      fail("the top is not found", path);
    if (rc == -EINVAL)
      continue;
    long chars = line_chars(text, len, line);
    if (line < 1 || chars < 0)
      fail("the line is not one of the text's", path);
    if (col < 1 || col > chars + 1)
      fail("the column is past the end of its line", path);

    /* The same walk with an index built once. */
    struct config_pos_seg *segs;
    size_t n, off;
    int line2, col2;
    if (config_pos_path_parse(path, &segs, &n) != 0)
      fail("locate parsed a path that the parser refuses", path);
    struct config_pos_index *ix = config_pos_index_new(text, len);
    if (config_pos_find(ix, segs, n, at_key, &off) != rc)
      fail("find and locate disagree on whether the path is there", path);
    config_pos_line_col(ix, off, &line2, &col2);
    if (line2 != line || col2 != col)
      fail("find and locate disagree on the position", path);
    config_pos_index_free(ix);
    config_pos_segs_free(segs, n);
  }
  check_round_trip(path);
  free(path);
  return 0;
}
