/* page: an output or events page produced batch by batch while it is sent
 * (see page.h).
 *
 * DESIGN. A page goes through four phases: the head ({"chunks":[), the
 * items, the tail (],"next":...}), done. page_read hands out what the
 * buffer holds and refills it only when it is empty: the head, one batch
 * of items read from the store through the door, or the tail. So one call
 * reads at most one batch (PAGE_BATCH_ITEMS items, PAGE_BATCH_BYTES bytes,
 * or one bigger item), and the buffer never holds more than that.
 *
 * The whole-page rules are applied across batches: the first batch's hole
 * in front of its first item is the page's "gap"; a later batch that
 * starts after a hole, or a hole inside a batch, ends the page there (the
 * next page reports it); an item that would take the page's item JSON over
 * its budget ends the page before it, unless it is the first. "last" is
 * the log's newest seq as read with the last batch. A runner that goes
 * away while its page is sent ends the page with what it holds. */
#include "ui/page.h"

#include "src/buf.h"
#include "src/tend.h"
#include "src/xalloc.h"
#include "ui/sse.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum page_phase { PAGE_HEAD, PAGE_ITEMS, PAGE_TAIL, PAGE_DONE };

struct page {
  char *runner; /* NULL: the event log */
  uint64_t after, pos, last;
  size_t left;         /* items the limit still allows */
  size_t budget, used; /* bytes of item JSON */
  size_t n_items;
  json_t *gap; /* the hole in front of the page, or NULL */
  enum page_phase phase;
  struct buf text; /* the part of the page made and not yet all sent */
  size_t off;      /* how much of text went out */
};

/* Starts a page. */
struct page *
page_new(const char *runner, uint64_t after, size_t limit, size_t budget)
{
  struct page *p = xcalloc(1, sizeof *p);

  p->runner = runner ? xstrdup(runner) : NULL;
  p->after = p->pos = after;
  p->left = limit;
  p->budget = budget;
  return p;
}

/* Reads items after p->pos from the door; sets *last to the log's newest
 * seq. Returns 0 or a negative errno (the runner is gone). */
static int
fetch(struct page *p, size_t want, size_t max_bytes, json_t **items,
      uint64_t *last)
{
  uint64_t next;
  int r;

  if (!p->runner) {
    r = tend_events_after(p->pos, want, max_bytes, items, &next);
    *last = tend_events_last_seq();
    return r;
  }
  r = tend_output_after(p->runner, p->pos, want, max_bytes, items, &next);
  return r < 0 ? r : tend_output_last_seq(p->runner, last);
}

/* Reads one batch and appends the part of it that belongs to the page;
 * moves on to the tail when the page is complete. */
static void
fill_batch(struct page *p)
{
  size_t want = p->left < PAGE_BATCH_ITEMS ? p->left : PAGE_BATCH_ITEMS;
  size_t room = p->budget > p->used ? p->budget - p->used : 0;
  size_t max_bytes = room < PAGE_BATCH_BYTES ? room : PAGE_BATCH_BYTES;
  json_t *items = NULL;
  uint64_t last = p->last, *seqs;
  struct sse_gap gap;
  size_t n, keep, i;

  if (want == 0 || (p->n_items > 0 && room == 0)) {
    p->phase = PAGE_TAIL;
    return;
  }
  if (fetch(p, want, max_bytes ? max_bytes : 1, &items, &last) < 0) {
    json_decref(items);
    p->phase = PAGE_TAIL;
    return;
  }
  p->last = last;
  n = json_array_size(items);
  seqs = xmalloc((n ? n : 1) * sizeof *seqs);
  for (i = 0; i < n; i++) {
    json_t *seq = json_object_get(json_array_get(items, i), "seq");
    seqs[i] = json_is_integer(seq) ? (uint64_t)json_integer_value(seq) : 0;
  }
  keep = sse_gap_check(p->pos, seqs, n, last, &gap);
  if (p->n_items == 0 && gap.from != 0)
    p->gap = json_pack("{s:I,s:I}", "from", (json_int_t)gap.from,
                       "first_available", (json_int_t)gap.first_available);
  else if (gap.from != 0)
    keep = 0; /* a hole after what the page holds: the next page's gap */
  for (i = 0; i < keep; i++) {
    char *text = json_dumps(json_array_get(items, i), JSON_COMPACT);
    size_t tl = text ? strlen(text) : 0;
    if (!text || (p->n_items > 0 && p->used + tl > p->budget)) {
      free(text);
      break;
    }
    if (p->n_items > 0)
      buf_add(&p->text, ",", 1);
    buf_add(&p->text, text, tl);
    free(text);
    p->used += tl;
    p->n_items++;
    p->left--;
    p->pos = seqs[i];
  }
  if (n == 0 || i < n)
    p->phase = PAGE_TAIL;
  free(seqs);
  json_decref(items);
}

/* Appends the tail: where to go on, the newest seq, the front hole. */
static void
put_tail(struct page *p)
{
  char head[96];
  char *gap = p->gap ? json_dumps(p->gap, JSON_COMPACT) : NULL;
  int n = snprintf(
      head, sizeof head,
      "],\"next\":%" PRIu64 ",\"last\":%" PRIu64 ",\"gap\":", p->pos, p->last);

  buf_add(&p->text, head, (size_t)n);
  buf_add(&p->text, gap ? gap : "null", gap ? strlen(gap) : 4);
  buf_add(&p->text, "}\n", 2);
  free(gap);
}

/* Hands out buffered bytes, refilling the buffer one step at a time. */
size_t
page_read(struct page *p, char *buf, size_t max)
{
  size_t n;

  while (p->off == p->text.len && p->phase != PAGE_DONE) {
    p->off = p->text.len = 0;
    if (p->text.cap > 2 * PAGE_BATCH_BYTES) /* a big item went out */
      buf_free(&p->text);
    if (p->phase == PAGE_HEAD) {
      if (p->runner)
        buf_add(&p->text, "{\"chunks\":[", 11);
      else
        buf_add(&p->text, "{\"events\":[", 11);
      p->phase = PAGE_ITEMS;
    } else if (p->phase == PAGE_ITEMS) {
      fill_batch(p);
    } else {
      put_tail(p);
      p->phase = PAGE_DONE;
    }
  }
  n = p->text.len - p->off < max ? p->text.len - p->off : max;
  if (n > 0)
    memcpy(buf, p->text.data + p->off, n);
  p->off += n;
  return n;
}

/* Reads what is left of the page into one string. */
char *
page_read_all(struct page *p, size_t *len)
{
  size_t cap = 4096, n = 0, got;
  char *out = xmalloc(cap);

  while ((got = page_read(p, out + n, cap - n - 1)) > 0) {
    n += got;
    if (cap - n - 1 < 1024) {
      cap *= 2;
      out = xrealloc(out, cap);
    }
  }
  out[n] = '\0';
  *len = n;
  return out;
}

/* Frees a page. */
void
page_free(struct page *p)
{
  if (!p)
    return;
  free(p->runner);
  json_decref(p->gap);
  buf_free(&p->text);
  free(p);
}
