/* jsonl: output chunks <-> JSON lines.
 *
 * Design. The encoder is the hot path of the output pipeline (every byte a
 * child writes goes through it once), so it escapes and validates UTF-8 in
 * a single pass: blocks of 16 bytes (SSE2, or 8 with a portable SWAR word
 * test) that hold only plain printable ASCII are copied whole, other bytes
 * go through a table of escapes or, when they start a multi-byte sequence,
 * are validated and copied. When a sequence is invalid the encoder rolls
 * the output back to the "data" key and writes "data_b64" instead, so valid
 * text costs one pass and binary at most two. bench/bench_jsonl.c measures
 * it (several GB/s on base64 text, ~0.8 GB/s on "y\n" lines).
 *
 * Decoding goes through jansson: it runs at recovery and in readers, and
 * jansson's parser is the reference the encoder is tested against. */
#include "state/jsonl.h"

#include <errno.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "src/codec.h"
#include "src/xalloc.h"

#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL

/* ---------------------------------------------------------------- buffer */

/* Appends one byte; the caller has reserved room. */
static inline void
put1(struct buf *b, char c)
{
  b->data[b->len++] = c;
}

void
jsonl_append_u64(struct buf *out, uint64_t v)
{
  char tmp[20];
  size_t n = 0;
  do {
    tmp[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  buf_reserve(out, n);
  while (n)
    put1(out, tmp[--n]);
}

void
jsonl_append_i64(struct buf *out, int64_t v)
{
  if (v < 0) {
    buf_add(out, "-", 1);
    jsonl_append_u64(out, (uint64_t)0 - (uint64_t)v);
  } else {
    jsonl_append_u64(out, (uint64_t)v);
  }
}

/* ------------------------------------------------------------------ UTF-8 */

/* Loads 8 bytes without alignment or aliasing trouble. */
static inline uint64_t
load64(const unsigned char *p)
{
  uint64_t x;
  memcpy(&x, p, sizeof x);
  return x;
}

/* Non-zero when any byte of x is < 0x20, '"', '\\' or >= 0x80 (exact as a
 * boolean; the flagged positions may be off, so callers rescan bytes). */
static inline uint64_t
special(uint64_t x)
{
  uint64_t ctl = (x - ONES * 0x20) & ~x & HIGHS;
  uint64_t q = x ^ (ONES * '"');
  uint64_t bs = x ^ (ONES * '\\');
  q = (q - ONES) & ~q & HIGHS;
  bs = (bs - ONES) & ~bs & HIGHS;
  return ctl | q | bs | (x & HIGHS);
}

/* Length (2..4) of the valid UTF-8 sequence at s (s[0] >= 0x80, n bytes
 * available), or 0 when it is invalid: a stray continuation byte, an
 * overlong form, a surrogate, a value above U+10FFFF or a truncation. */
static inline size_t
utf8_seq(const unsigned char *s, size_t n)
{
  unsigned c = s[0];
  if (c < 0xC2)
    return 0;
  if (c < 0xE0)
    return n >= 2 && (s[1] & 0xC0) == 0x80 ? 2 : 0;
  if (c < 0xF0) {
    unsigned lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
    if (n < 3 || s[1] < lo || s[1] > hi || (s[2] & 0xC0) != 0x80)
      return 0;
    return 3;
  }
  if (c < 0xF5) {
    unsigned lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
    if (n < 4 || s[1] < lo || s[1] > hi || (s[2] & 0xC0) != 0x80 ||
        (s[3] & 0xC0) != 0x80)
      return 0;
    return 4;
  }
  return 0;
}

int
jsonl_utf8_valid(const char *str, size_t len)
{
  const unsigned char *s = (const unsigned char *)str;
  size_t i = 0;
  while (i < len) {
    if (i + 8 <= len && !(load64(s + i) & HIGHS)) {
      i += 8;
    } else if (s[i] < 0x80) {
      i++;
    } else {
      size_t k = utf8_seq(s + i, len - i);
      if (!k)
        return 0;
      i += k;
    }
  }
  return 1;
}

/* ----------------------------------------------------------------- escape */

/* What each ASCII byte becomes inside a JSON string: itself (n = 1) or
 * its escape. Entries are padded to 8 bytes so that one fixed-size copy
 * writes any of them without a branch. */
struct esc {
  char s[8];
  unsigned char n;
};
static const struct esc esc_table[128] = {
    [0x00] = {"\\u0000", 6}, [0x01] = {"\\u0001", 6}, [0x02] = {"\\u0002", 6},
    [0x03] = {"\\u0003", 6}, [0x04] = {"\\u0004", 6}, [0x05] = {"\\u0005", 6},
    [0x06] = {"\\u0006", 6}, [0x07] = {"\\u0007", 6}, [0x08] = {"\\b", 2},
    [0x09] = {"\\t", 2},     [0x0a] = {"\\n", 2},     [0x0b] = {"\\u000b", 6},
    [0x0c] = {"\\f", 2},     [0x0d] = {"\\r", 2},     [0x0e] = {"\\u000e", 6},
    [0x0f] = {"\\u000f", 6}, [0x10] = {"\\u0010", 6}, [0x11] = {"\\u0011", 6},
    [0x12] = {"\\u0012", 6}, [0x13] = {"\\u0013", 6}, [0x14] = {"\\u0014", 6},
    [0x15] = {"\\u0015", 6}, [0x16] = {"\\u0016", 6}, [0x17] = {"\\u0017", 6},
    [0x18] = {"\\u0018", 6}, [0x19] = {"\\u0019", 6}, [0x1a] = {"\\u001a", 6},
    [0x1b] = {"\\u001b", 6}, [0x1c] = {"\\u001c", 6}, [0x1d] = {"\\u001d", 6},
    [0x1e] = {"\\u001e", 6}, [0x1f] = {"\\u001f", 6}, [0x20] = {" ", 1},
    [0x21] = {"!", 1},       [0x22] = {"\\\"", 2},    [0x23] = {"#", 1},
    [0x24] = {"$", 1},       [0x25] = {"%", 1},       [0x26] = {"&", 1},
    [0x27] = {"'", 1},       [0x28] = {"(", 1},       [0x29] = {")", 1},
    [0x2a] = {"*", 1},       [0x2b] = {"+", 1},       [0x2c] = {",", 1},
    [0x2d] = {"-", 1},       [0x2e] = {".", 1},       [0x2f] = {"/", 1},
    [0x30] = {"0", 1},       [0x31] = {"1", 1},       [0x32] = {"2", 1},
    [0x33] = {"3", 1},       [0x34] = {"4", 1},       [0x35] = {"5", 1},
    [0x36] = {"6", 1},       [0x37] = {"7", 1},       [0x38] = {"8", 1},
    [0x39] = {"9", 1},       [0x3a] = {":", 1},       [0x3b] = {";", 1},
    [0x3c] = {"<", 1},       [0x3d] = {"=", 1},       [0x3e] = {">", 1},
    [0x3f] = {"?", 1},       [0x40] = {"@", 1},       [0x41] = {"A", 1},
    [0x42] = {"B", 1},       [0x43] = {"C", 1},       [0x44] = {"D", 1},
    [0x45] = {"E", 1},       [0x46] = {"F", 1},       [0x47] = {"G", 1},
    [0x48] = {"H", 1},       [0x49] = {"I", 1},       [0x4a] = {"J", 1},
    [0x4b] = {"K", 1},       [0x4c] = {"L", 1},       [0x4d] = {"M", 1},
    [0x4e] = {"N", 1},       [0x4f] = {"O", 1},       [0x50] = {"P", 1},
    [0x51] = {"Q", 1},       [0x52] = {"R", 1},       [0x53] = {"S", 1},
    [0x54] = {"T", 1},       [0x55] = {"U", 1},       [0x56] = {"V", 1},
    [0x57] = {"W", 1},       [0x58] = {"X", 1},       [0x59] = {"Y", 1},
    [0x5a] = {"Z", 1},       [0x5b] = {"[", 1},       [0x5c] = {"\\\\", 2},
    [0x5d] = {"]", 1},       [0x5e] = {"^", 1},       [0x5f] = {"_", 1},
    [0x60] = {"`", 1},       [0x61] = {"a", 1},       [0x62] = {"b", 1},
    [0x63] = {"c", 1},       [0x64] = {"d", 1},       [0x65] = {"e", 1},
    [0x66] = {"f", 1},       [0x67] = {"g", 1},       [0x68] = {"h", 1},
    [0x69] = {"i", 1},       [0x6a] = {"j", 1},       [0x6b] = {"k", 1},
    [0x6c] = {"l", 1},       [0x6d] = {"m", 1},       [0x6e] = {"n", 1},
    [0x6f] = {"o", 1},       [0x70] = {"p", 1},       [0x71] = {"q", 1},
    [0x72] = {"r", 1},       [0x73] = {"s", 1},       [0x74] = {"t", 1},
    [0x75] = {"u", 1},       [0x76] = {"v", 1},       [0x77] = {"w", 1},
    [0x78] = {"x", 1},       [0x79] = {"y", 1},       [0x7a] = {"z", 1},
    [0x7b] = {"{", 1},       [0x7c] = {"|", 1},       [0x7d] = {"}", 1},
    [0x7e] = {"~", 1},       [0x7f] = {"\x7f", 1},
};

/* Input bytes per output reservation: bounds the over-reservation (six
 * output bytes per input byte at worst) without a check per escape. */
#define ESC_BLOCK 4096

#ifdef __SSE2__
#define SCAN_W 16
typedef unsigned scan_mask;
/* Non-zero when a byte of p[0..16) is < 0x20, '"', '\\' or >= 0x80; a
 * signed compare with 0x20 catches both ends at once. */
static inline scan_mask
scan_block(const unsigned char *p)
{
  __m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
  __m128i m =
      _mm_or_si128(_mm_cmplt_epi8(x, _mm_set1_epi8(0x20)),
                   _mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('"')),
                                _mm_cmpeq_epi8(x, _mm_set1_epi8('\\'))));
  return (unsigned)_mm_movemask_epi8(m);
}
/* Index of the lowest flagged byte of a scan_block mask. */
#define SCAN_FIRST(m) ((unsigned)__builtin_ctz(m))
#else
#define SCAN_W 8
typedef uint64_t scan_mask;
/* Non-zero when a byte of p[0..8) is < 0x20, '"', '\\' or >= 0x80. */
static inline scan_mask
scan_block(const unsigned char *p)
{
  return special(load64(p));
}
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
/* The SWAR mask is exact at its lowest flagged byte (borrows run upwards
 * only), so its trailing zeros give that byte's index. */
#define SCAN_FIRST(m) ((unsigned)__builtin_ctzll(m) / 8)
#endif
#endif

/* Appends the escaped body of s (no quotes). Returns 0, or -1 at the first
 * invalid UTF-8 sequence when !lossy (the output is then half-written and
 * the caller rolls it back); with lossy, such bytes become U+FFFD.
 *
 * Blocks of SCAN_W plain bytes are copied whole; so is a block with one
 * ASCII byte to escape (a newline in a line of text), around that byte's
 * escape. Any other block goes byte by byte through esc_table, whose
 * branch-free copy keeps escape-dense text ("y\n" lines) fast: it avoids
 * a chain of dependent index computations per escape. */
static int
escape_body(struct buf *out, const unsigned char *s, size_t len, int lossy)
{
  size_t i = 0;
  while (i < len) {
    size_t stop = len - i > ESC_BLOCK ? i + ESC_BLOCK : len;
    /* A step may end up to SCAN_W + 3 bytes past stop (bytes copied 1:1
     * or a UTF-8 sequence) and a table copy writes 8 bytes: 2 * SCAN_W + 8
     * bytes of slack cover both. */
    buf_reserve(out, (stop - i) * 6 + 2 * SCAN_W + 8);
    char *o = out->data + out->len;
    while (i < stop) {
      size_t end = len;
      if (i + SCAN_W <= len) {
        scan_mask m = scan_block(s + i);
        if (!m) {
          memcpy(o, s + i, SCAN_W);
          o += SCAN_W;
          i += SCAN_W;
          continue;
        }
#ifdef SCAN_FIRST
        unsigned k = SCAN_FIRST(m);
        if (!(m & (m - 1)) && s[i + k] < 0x80) {
          size_t rest = SCAN_W - k - 1;
          memcpy(o, s + i, SCAN_W);
          o += k;
          memcpy(o, esc_table[s[i + k]].s, 8);
          o += esc_table[s[i + k]].n;
          if (i + SCAN_W + SCAN_W <= len)
            memcpy(o, s + i + k + 1, SCAN_W);
          else
            memcpy(o, s + i + k + 1, rest);
          o += rest;
          i += SCAN_W;
          continue;
        }
#endif
        end = i + SCAN_W;
      }
      while (i < end) {
        unsigned char c = s[i];
        if (c < 0x80) {
          memcpy(o, esc_table[c].s, 8);
          o += esc_table[c].n;
          i++;
          continue;
        }
        size_t k = utf8_seq(s + i, len - i);
        if (k) {
          memcpy(o, s + i, k);
          o += k;
          i += k;
        } else if (lossy) {
          memcpy(o, "\xEF\xBF\xBD", 3);
          o += 3;
          i++;
        } else {
          out->len = (size_t)(o - out->data);
          return -1;
        }
      }
    }
    out->len = (size_t)(o - out->data);
  }
  return 0;
}

void
jsonl_escape(struct buf *out, const char *s, size_t len)
{
  buf_reserve(out, len + 2);
  put1(out, '"');
  escape_body(out, (const unsigned char *)s, len, 1);
  buf_reserve(out, 1);
  put1(out, '"');
}

/* ----------------------------------------------------------------- encode */

/* Appends a constant string literal. */
#define PUT_LIT(out, lit) buf_add((out), (lit), sizeof(lit) - 1)

void
jsonl_encode_chunk(struct buf *out, const struct jsonl_chunk *c)
{
  const char *stream = c->stream ? c->stream : "stdout";
  size_t extra_len = c->extra ? strlen(c->extra) : 0;
  /* Text encodes about 1:1: one reservation up front spares the copies of
   * a buffer grown step by step (escapes past the slack still grow it). */
  buf_reserve(out, c->len + c->len / 8 + extra_len + 160);
  PUT_LIT(out, "{\"seq\":");
  jsonl_append_u64(out, c->seq);
  PUT_LIT(out, ",\"ts\":");
  jsonl_append_i64(out, c->ts);
  PUT_LIT(out, ",\"run\":");
  jsonl_append_u64(out, c->run);
  PUT_LIT(out, ",\"stream\":");
  jsonl_escape(out, stream, strlen(stream));
  if (c->partial)
    PUT_LIT(out, ",\"partial\":true");
  if (extra_len) {
    PUT_LIT(out, ",");
    buf_add(out, c->extra, extra_len);
  }
  size_t mark = out->len;
  PUT_LIT(out, ",\"data\":\"");
  if (escape_body(out, (const unsigned char *)c->data, c->len, 0) == 0) {
    PUT_LIT(out, "\"}");
    return;
  }
  out->len = mark; /* not UTF-8: lossless base64 instead */
  PUT_LIT(out, ",\"data_b64\":\"");
  buf_reserve(out, CODEC_BASE64_LEN(c->len) + 2);
  out->len += codec_base64_encode(out->data + out->len, c->data, c->len);
  PUT_LIT(out, "\"}");
}

/* ----------------------------------------------------------------- decode */

/* Returns 1 when key is one of the members decode handles itself. */
static int
known_key(const char *key)
{
  static const char *const keys[] = {"seq",     "ts",   "run",     "stream",
                                     "partial", "data", "data_b64"};
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
    if (strcmp(key, keys[i]) == 0)
      return 1;
  return 0;
}

/* Appends the members decode does not know, as raw JSON, comma-separated. */
static int
collect_extra(json_t *obj, struct buf *extra)
{
  const char *key;
  json_t *value;
  json_object_foreach(obj, key, value)
  {
    if (known_key(key))
      continue;
    char *text = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!text)
      return -EINVAL;
    if (extra->len)
      PUT_LIT(extra, ",");
    jsonl_escape(extra, key, strlen(key));
    PUT_LIT(extra, ":");
    buf_add(extra, text, strlen(text));
    free(text);
  }
  return 0;
}

int
jsonl_decode_chunk(const char *line, size_t len, struct jsonl_chunk *out,
                   char **owned)
{
  json_error_t err;
  struct buf extra = BUF_ZERO;
  char *buf = NULL;
  int rc = -EINVAL;

  *owned = NULL;
  json_t *o =
      json_loadb(line, len, JSON_ALLOW_NUL | JSON_REJECT_DUPLICATES, &err);
  if (!o || !json_is_object(o))
    goto fail;
  json_t *seq = json_object_get(o, "seq"), *ts = json_object_get(o, "ts");
  json_t *run = json_object_get(o, "run");
  json_t *stream = json_object_get(o, "stream");
  json_t *partial = json_object_get(o, "partial");
  json_t *data = json_object_get(o, "data");
  json_t *b64 = json_object_get(o, "data_b64");
  if (!json_is_integer(seq) || json_integer_value(seq) < 0 ||
      !json_is_integer(ts) || !json_is_integer(run) ||
      json_integer_value(run) < 0 || !json_is_string(stream) ||
      (partial && !json_is_boolean(partial)) || !data == !b64 ||
      (data && !json_is_string(data)) || (b64 && !json_is_string(b64)))
    goto fail;
  if (collect_extra(o, &extra) < 0)
    goto fail;

  const char *text = json_string_value(data ? data : b64);
  size_t text_len = json_string_length(data ? data : b64);
  const char *sname = json_string_value(stream);
  size_t slen = strlen(sname);
  /* One allocation: data, NUL, stream, NUL, extra, NUL. */
  size_t cap =
      (data ? text_len : text_len / 4 * 3 + 2) + 1 + slen + 1 + extra.len + 1;
  buf = xmalloc(cap);
  size_t dlen = text_len;
  if (data)
    memcpy(buf, text, text_len);
  else if (codec_base64_decode(text, text_len, buf, &dlen) < 0)
    goto fail;
  buf[dlen] = '\0';
  char *sdst = buf + dlen + 1;
  memcpy(sdst, sname, slen + 1);
  char *xdst = sdst + slen + 1;
  if (extra.len)
    memcpy(xdst, extra.data, extra.len);
  xdst[extra.len] = '\0';

  out->seq = (uint64_t)json_integer_value(seq);
  out->ts = (int64_t)json_integer_value(ts);
  out->run = (uint64_t)json_integer_value(run);
  out->stream = sdst;
  out->data = buf;
  out->len = dlen;
  out->partial = json_is_true(partial);
  out->extra = extra.len ? xdst : NULL;
  *owned = buf;
  buf = NULL;
  rc = 0;
fail:
  free(buf);
  buf_free(&extra);
  json_decref(o);
  return rc;
}

uint64_t
jsonl_line_seq(const char *line, size_t len)
{
  static const char prefix[] = "{\"seq\":";
  const char *p, *end = line + len;
  if (len >= sizeof prefix - 1 && !memcmp(line, prefix, sizeof prefix - 1)) {
    p = line + sizeof prefix - 1;
  } else {
    p = memmem(line, len, "\"seq\":", 6);
    if (!p)
      return 0;
    p += 6;
    while (p < end && (*p == ' ' || *p == '\t'))
      p++;
  }
  uint64_t v = 0;
  const char *start = p;
  for (; p < end && *p >= '0' && *p <= '9'; p++) {
    unsigned d = (unsigned)(*p - '0');
    if (v > (UINT64_MAX - d) / 10)
      return 0;
    v = v * 10 + d;
  }
  return p > start ? v : 0;
}

/* Appends code point cp as UTF-8. */
static void
append_utf8(struct buf *out, unsigned cp)
{
  char b[4];
  size_t n;
  if (cp < 0x80) {
    b[0] = (char)cp;
    n = 1;
  } else if (cp < 0x800) {
    b[0] = (char)(0xC0 | (cp >> 6));
    b[1] = (char)(0x80 | (cp & 0x3F));
    n = 2;
  } else if (cp < 0x10000) {
    b[0] = (char)(0xE0 | (cp >> 12));
    b[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    b[2] = (char)(0x80 | (cp & 0x3F));
    n = 3;
  } else {
    b[0] = (char)(0xF0 | (cp >> 18));
    b[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    b[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    b[3] = (char)(0x80 | (cp & 0x3F));
    n = 4;
  }
  buf_add(out, b, n);
}

/* Unescapes the JSON string body [p, end) (without its quotes) into out:
 * runs between backslashes are copied whole. Returns 0 or -EINVAL. */
static int
unescape_body(const char *p, const char *end, struct buf *out)
{
  buf_reserve(out, (size_t)(end - p));
  while (p < end) {
    const char *q = memchr(p, '\\', (size_t)(end - p));
    char c;
    if (!q) {
      buf_add(out, p, (size_t)(end - p));
      return 0;
    }
    buf_add(out, p, (size_t)(q - p));
    if (q + 1 >= end)
      return -EINVAL;
    switch (q[1]) {
    case 'n':
      c = '\n';
      break;
    case 't':
      c = '\t';
      break;
    case 'r':
      c = '\r';
      break;
    case 'b':
      c = '\b';
      break;
    case 'f':
      c = '\f';
      break;
    case '"':
      c = '"';
      break;
    case '\\':
      c = '\\';
      break;
    case '/':
      c = '/';
      break;
    case 'u': {
      long cp = q + 6 <= end ? codec_hex_parse(q + 2, 4) : -1;
      if (cp < 0)
        return -EINVAL;
      if (cp >= 0xD800 && cp < 0xDC00 && q + 12 <= end && q[6] == '\\' &&
          q[7] == 'u') {
        long lo = codec_hex_parse(q + 8, 4);
        if (lo >= 0xDC00 && lo < 0xE000) {
          append_utf8(
              out, (unsigned)(0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00)));
          p = q + 12;
          continue;
        }
      }
      append_utf8(out, (unsigned)cp);
      p = q + 6;
      continue;
    }
    default:
      return -EINVAL;
    }
    out->data[out->len++] = c;
    p = q + 2;
  }
  return 0;
}

int
jsonl_peek_chunk(const char *line, size_t len, struct buf *out,
                 const char **stream, size_t *stream_len)
{
  static const char stream_key[] = "\"stream\":\"";
  static const char data_key[] = ",\"data\":\"";
  static const char b64_key[] = ",\"data_b64\":\"";
  const char *end = line + len;
  const char *s =
      memmem(line, len < 128 ? len : 128, stream_key, sizeof stream_key - 1);
  const char *q, *d;

  if (!s)
    return -EINVAL;
  s += sizeof stream_key - 1;
  q = memchr(s, '"', (size_t)(end - s));
  if (!q)
    return -EINVAL;
  *stream = s;
  *stream_len = (size_t)(q - s);
  d = memmem(q, (size_t)(end - q), data_key, sizeof data_key - 1);
  if (!d)
    return memmem(q, (size_t)(end - q), b64_key, sizeof b64_key - 1) ? 1
                                                                     : -EINVAL;
  /* data is the last member: the line ends with its closing quote and the
   * object's brace; every other quote inside is escaped. */
  d += sizeof data_key - 1;
  if (end - d < 2 || end[-1] != '}' || end[-2] != '"')
    return -EINVAL;
  return unescape_body(d, end - 2, out);
}
