/* config_pos: JSON path -> 1-based line:col in the raw text of a JSON
 * document, without a DOM (the loader's "file:line:col" errors); and the
 * paths themselves, parsed ("children[1].env[\"A.B\"]") and formatted.
 *
 * Pure: the index borrows the text, nothing else is kept. Columns count
 * characters, not bytes, as jansson's do. */
#ifndef TEND_CONFIG_POS_H
#define TEND_CONFIG_POS_H

#include <stddef.h>

/* One step of a JSON path: an object key, or (key NULL) an array index. */
struct config_pos_seg {
  const char *key;
  size_t idx;
};

/* The offsets of every value and line start of one text (opaque). */
struct config_pos_index;

/* Indexes text (borrowed: it must outlive the index). Any bytes are
 * accepted; a malformed document is indexed as far as it makes sense. */
struct config_pos_index *config_pos_index_new(const char *text, size_t len);
/* Frees an index. NULL is a no-op. */
void config_pos_index_free(struct config_pos_index *ix);
/* Finds the value at segs (n of them; segs may be NULL when n is 0). Sets
 * *off to its first byte, or to its key's opening quote when at_key and the
 * last step is a key. Returns 0; -ENOENT when the path is not there, *off
 * then being the deepest container found. */
int config_pos_find(const struct config_pos_index *ix,
                    const struct config_pos_seg *segs, size_t n, int at_key,
                    size_t *off);
/* Sets the 1-based line and column of byte off. */
void config_pos_line_col(const struct config_pos_index *ix, size_t off,
                         int *line, int *col);

/* Splits a textual path ("a.b[2][\"c.d\"]"; "" or "(root)" is the top)
 * into *out (new, n_out of them, each key new: config_pos_segs_free).
 * Returns 0 or -EINVAL. */
int config_pos_path_parse(const char *p, struct config_pos_seg **out,
                          size_t *out_n);
/* Frees segments from config_pos_path_parse. */
void config_pos_segs_free(struct config_pos_seg *segs, size_t n);
/* Returns the display form of a path (new): children[1].env["A.B"], keys
 * other than [A-Za-z0-9_-]+ quoted; "(root)" for the empty path. */
char *config_pos_path_format(const struct config_pos_seg *segs, size_t n);
/* Returns s as a JSON string literal (new), control characters escaped, so
 * that user text in a one-line message can neither break the line nor
 * hide. */
char *config_pos_quote(const char *s);

/* The whole walk at once: parses path, indexes text, sets *line and *col
 * of the value (or its key when at_key). Returns 0; -ENOENT when the path
 * is not there (the position is then the deepest container found);
 * -EINVAL for a malformed path. */
int config_pos_locate(const char *text, size_t len, const char *path,
                      int at_key, int *line, int *col);

#endif
