/* codec: the tree's one base64 codec and one hex parser, pure functions on
 * caller-provided memory (no allocation).
 *
 * Base64 is the standard alphabet (RFC 4648 section 4): the store keeps
 * output that is not UTF-8 as "data_b64", and the API, the CLI, tend top
 * and tend attach decode it. Hex digits are read by the JSON \uXXXX
 * escapes and percent-decoding, and written for tokens. */
#ifndef TEND_CODEC_H
#define TEND_CODEC_H

#include <stddef.h>

/* The length of the base64 text for n bytes (padded). */
#define CODEC_BASE64_LEN(n) (((n) + 2) / 3 * 4)
/* The most bytes n characters of base64 decode to (room to give
 * codec_base64_decode). */
#define CODEC_BASE64_DECODED_MAX(n) ((n) / 4 * 3 + 2)

/* Writes the padded standard base64 of in[0..len) to out, which must hold
 * CODEC_BASE64_LEN(len) bytes (no NUL is added); returns that length. */
size_t codec_base64_encode(char *out, const void *in, size_t len);
/* Decodes standard base64 (padding optional) into out, which must hold
 * CODEC_BASE64_DECODED_MAX(len) bytes; *out_len gets the byte count.
 * Returns 0, or -EINVAL on a character outside the alphabet or a bad
 * length (out may then hold part of the bytes). */
int codec_base64_decode(const char *in, size_t len, void *out, size_t *out_len);

/* Returns the value of hex digit c (either case), or -1. */
int codec_hex_digit(int c);
/* Returns the value of the n hex digits at s (n at most 15), or -1 when
 * one of them is not a hex digit. */
long codec_hex_parse(const char *s, size_t n);
/* Writes the lowercase hex of in[0..len) and a NUL to out, which must hold
 * 2 * len + 1 bytes. */
void codec_hex_encode(char *out, const void *in, size_t len);

#endif
