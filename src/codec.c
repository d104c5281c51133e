/* codec: base64 and hex (see codec.h). The base64 decoder is strict: the
 * bytes tend stores were encoded by codec_base64_encode, so anything
 * outside the alphabet means a damaged line, not whitespace to skip. */
#include "src/codec.h"

#include <errno.h>
#include <stdint.h>

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static const char hex_alphabet[] = "0123456789abcdef";

size_t
codec_base64_encode(char *out, const void *in, size_t len)
{
  const unsigned char *s = in;
  char *o = out;
  size_t i = 0;
  for (; i + 3 <= len; i += 3) {
    uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
    o[0] = b64_alphabet[v >> 18];
    o[1] = b64_alphabet[(v >> 12) & 63];
    o[2] = b64_alphabet[(v >> 6) & 63];
    o[3] = b64_alphabet[v & 63];
    o += 4;
  }
  if (len - i == 1) {
    uint32_t v = (uint32_t)s[i] << 16;
    o[0] = b64_alphabet[v >> 18];
    o[1] = b64_alphabet[(v >> 12) & 63];
    o[2] = '=';
    o[3] = '=';
    o += 4;
  } else if (len - i == 2) {
    uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8;
    o[0] = b64_alphabet[v >> 18];
    o[1] = b64_alphabet[(v >> 12) & 63];
    o[2] = b64_alphabet[(v >> 6) & 63];
    o[3] = '=';
    o += 4;
  }
  return (size_t)(o - out);
}

/* The 6-bit value of a base64 character, or -1. */
static int
b64_value(unsigned char c)
{
  if (c >= 'A' && c <= 'Z')
    return c - 'A';
  if (c >= 'a' && c <= 'z')
    return c - 'a' + 26;
  if (c >= '0' && c <= '9')
    return c - '0' + 52;
  if (c == '+')
    return 62;
  if (c == '/')
    return 63;
  return -1;
}

int
codec_base64_decode(const char *in, size_t len, void *out, size_t *out_len)
{
  const unsigned char *s = (const unsigned char *)in;
  unsigned char *o = out;
  if (len % 4 == 0 && len >= 4) {
    if (s[len - 1] == '=')
      len--;
    if (s[len - 1] == '=')
      len--;
  }
  if (len % 4 == 1)
    return -EINVAL;
  size_t n = 0;
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < len; i++) {
    int v = b64_value(s[i]);
    if (v < 0)
      return -EINVAL;
    acc = acc << 6 | (uint32_t)v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      o[n++] = (unsigned char)(acc >> bits);
      acc &= (1u << bits) - 1;
    }
  }
  *out_len = n;
  return 0;
}

int
codec_hex_digit(int c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

long
codec_hex_parse(const char *s, size_t n)
{
  long v = 0;

  for (size_t i = 0; i < n; i++) {
    int d = codec_hex_digit((unsigned char)s[i]);
    if (d < 0)
      return -1;
    v = v * 16 + d;
  }
  return v;
}

void
codec_hex_encode(char *out, const void *in, size_t len)
{
  const unsigned char *s = in;

  for (size_t i = 0; i < len; i++) {
    out[2 * i] = hex_alphabet[s[i] >> 4];
    out[2 * i + 1] = hex_alphabet[s[i] & 15];
  }
  out[2 * len] = '\0';
}
