/* Unit tests for src/codec.c: base64 both ways (the RFC 4648 vectors,
 * every byte value at every length, strictness) and hex. */
#include <criterion/criterion.h>

#include "src/codec.h"

#include <errno.h>
#include <string.h>

Test(codec, base64_vectors)
{
  const char *plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
  const char *coded[] = {"",         "Zg==",     "Zm8=",    "Zm9v",
                         "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
  char out[64], back[64];

  for (int i = 0; i < 7; i++) {
    size_t n = codec_base64_encode(out, plain[i], strlen(plain[i]));
    size_t m = 99;
    cr_assert_eq(n, strlen(coded[i]));
    cr_assert_eq(n, CODEC_BASE64_LEN(strlen(plain[i])));
    cr_assert_arr_eq(out, coded[i], n);
    cr_assert_eq(codec_base64_decode(coded[i], n, back, &m), 0);
    cr_assert_eq(m, strlen(plain[i]));
    cr_assert_arr_eq(back, plain[i], m);
  }
}

Test(codec, base64_strict)
{
  char back[64];
  size_t m;

  cr_assert_eq(codec_base64_decode("Zm9vYg", 6, back, &m), 0, "unpadded");
  cr_assert_eq(m, 4);
  cr_assert_arr_eq(back, "foob", 4);
  cr_assert_eq(codec_base64_decode("Zm9v!mFy", 8, back, &m), -EINVAL);
  cr_assert_eq(codec_base64_decode("Zm9v YmFy", 9, back, &m), -EINVAL,
               "whitespace is not skipped");
  cr_assert_eq(codec_base64_decode("Zm9vY", 5, back, &m), -EINVAL);
  cr_assert_eq(codec_base64_decode("Zm=v", 4, back, &m), -EINVAL);
}

Test(codec, base64_every_byte_every_length)
{
  unsigned char all[256], back[CODEC_BASE64_DECODED_MAX(CODEC_BASE64_LEN(256))];
  char enc[CODEC_BASE64_LEN(256)];
  size_t m;

  for (int i = 0; i < 256; i++)
    all[i] = (unsigned char)i;
  for (size_t len = 0; len <= 256; len++) {
    size_t n = codec_base64_encode(enc, all + (256 - len), len);
    cr_assert_leq(len, CODEC_BASE64_DECODED_MAX(n));
    cr_assert_eq(codec_base64_decode(enc, n, back, &m), 0);
    cr_assert_eq(m, len);
    cr_assert_arr_eq(back, all + (256 - len), len);
  }
}

Test(codec, hex_digits)
{
  const char *digits = "0123456789abcdefABCDEF";

  for (int i = 0; digits[i]; i++)
    cr_assert_eq(codec_hex_digit(digits[i]), i < 16 ? i : i - 6, "%c",
                 digits[i]);
  cr_assert_eq(codec_hex_digit('g'), -1);
  cr_assert_eq(codec_hex_digit('G'), -1);
  cr_assert_eq(codec_hex_digit('/'), -1);
  cr_assert_eq(codec_hex_digit(':'), -1);
  cr_assert_eq(codec_hex_digit('\0'), -1);
  cr_assert_eq(codec_hex_digit(0xe9), -1);
}

Test(codec, hex_parse)
{
  cr_assert_eq(codec_hex_parse("00e9", 4), 0xe9);
  cr_assert_eq(codec_hex_parse("FFFF", 4), 0xffff);
  cr_assert_eq(codec_hex_parse("D83dX", 4), 0xd83d, "only n digits read");
  cr_assert_eq(codec_hex_parse("2e", 2), 0x2e);
  cr_assert_eq(codec_hex_parse("", 0), 0);
  cr_assert_eq(codec_hex_parse("12g4", 4), -1);
  cr_assert_eq(codec_hex_parse("-123", 4), -1);
  cr_assert_eq(codec_hex_parse("fffffffffffffff", 15), 0xfffffffffffffffL);
}

Test(codec, hex_encode_round_trip)
{
  unsigned char raw[] = {0x00, 0x0f, 0xa5, 0xff, 0x10};
  char hex[2 * sizeof raw + 1];

  codec_hex_encode(hex, raw, sizeof raw);
  cr_assert_str_eq(hex, "000fa5ff10");
  for (size_t i = 0; i < sizeof raw; i++)
    cr_assert_eq(codec_hex_parse(hex + 2 * i, 2), raw[i]);
  codec_hex_encode(hex, raw, 0);
  cr_assert_str_eq(hex, "");
}
