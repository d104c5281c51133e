/* page: an output or events page (GET .../output, GET /api/v1/events)
 * produced piece by piece while it is sent (issue 13 item 8).
 *
 * The page is the JSON object docs/api.md describes,
 * {"chunks"|"events": [...], "next": N, "last": L, "gap": G}, byte for byte
 * what one json_dumps of it would give, but read from the store one small
 * batch at a time as the HTTP layer asks for bytes: one read never holds
 * the loop for long, and a reply holds one batch in memory, not the page.
 * The rules of a whole page still hold: at most `limit` items and at most
 * `budget` bytes of item JSON (the first item always comes), the page ends
 * before a hole in the seqs, and "next" says where to go on. */
#ifndef TEND_PAGE_H
#define TEND_PAGE_H

#include <stddef.h>
#include <stdint.h>

struct page;

/* Items per batch read from the store, and the batch's byte bound (a
 * bigger single item still comes whole). */
#define PAGE_BATCH_ITEMS 256
#define PAGE_BATCH_BYTES ((size_t)256 << 10)

/* A page of runner's output (runner copied) or, with runner NULL, of the
 * event log: items with seq > after. New; free with page_free. */
struct page *page_new(const char *runner, uint64_t after, size_t limit,
                      size_t budget);
/* Copies up to max bytes of the page into buf and returns how many; 0
 * once the page is complete. Reads at most one batch from the store. */
size_t page_read(struct page *p, char *buf, size_t max);
/* Reads the rest of the page into one new string (tests); *len its size. */
char *page_read_all(struct page *p, size_t *len);
/* Frees a page (NULL: nothing). */
void page_free(struct page *p);

#endif
