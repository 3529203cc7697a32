/* Unit tests of crypto/encoding: base64url and hex, canonical forms only. */
#include <errno.h>
#include <criterion/criterion.h>
#include <sodium.h>
#include <string.h>

#include "crypto/encoding.h"

static void check_b64(const char *bin, size_t n, const char *text)
{
	char out[64];
	uint8_t back[64];

	cr_assert_eq(rfs_b64_len(n), strlen(text));
	cr_assert_eq(rfs_b64_encode(out, (const uint8_t *)bin, n), strlen(text));
	cr_assert_str_eq(out, text);
	cr_assert_eq(rfs_b64_decode(back, sizeof(back), text, strlen(text)), (long)n);
	cr_assert_eq(memcmp(back, bin, n), 0);
}

Test(encoding, b64_rfc4648_vectors_in_url_alphabet)
{
	check_b64("", 0, "");
	check_b64("f", 1, "Zg");
	check_b64("fo", 2, "Zm8");
	check_b64("foo", 3, "Zm9v");
	check_b64("foob", 4, "Zm9vYg");
	check_b64("fooba", 5, "Zm9vYmE");
	check_b64("foobar", 6, "Zm9vYmFy");
	check_b64("\xfb\xff", 2, "-_8");
}

Test(encoding, b64_round_trip_random_lengths_matches_libsodium)
{
	uint8_t in[300], back[300];
	char ours[401], theirs[410];

	for (size_t n = 0; n <= sizeof(in); n++) {
		randombytes_buf(in, n);
		size_t len = rfs_b64_encode(ours, in, n);
		cr_assert_eq(len, rfs_b64_len(n));
		sodium_bin2base64(theirs, sizeof(theirs), in, n,
		                  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
		cr_assert_str_eq(ours, theirs, "length %zu", n);
		cr_assert_eq(rfs_b64_decode(back, sizeof(back), ours, len), (long)n);
		cr_assert_eq(memcmp(in, back, n), 0);
	}
}

Test(encoding, b64_rejects_non_canonical_and_foreign_text)
{
	uint8_t out[16];
	const char *bad[] = { "Zg==", "Zm9v+A", "Zm9v/A", ".Zg", "Z", "Zm9vY", "Zh", "Zm9", "Zm\n8",
	                      "Zm 8", "Zm8=" };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_expect_eq(rfs_b64_decode(out, sizeof(out), bad[i], strlen(bad[i])), -EINVAL,
		             "accepted '%s'", bad[i]);
	/* "Zm9" is canonical for "fo" only with zero trailing bits: "Zm8" is. */
	cr_assert_eq(rfs_b64_decode(out, sizeof(out), "Zm8", 3), 2);
}

Test(encoding, b64_decode_reports_small_buffer)
{
	uint8_t out[2];

	cr_assert_eq(rfs_b64_decode(out, sizeof(out), "Zm9v", 4), -ENAMETOOLONG);
	cr_assert_eq(rfs_b64_decode(out, sizeof(out), "Zm8", 3), 2);
}

Test(encoding, hex_round_trip_and_lower_case_only)
{
	uint8_t in[32], back[32];
	char text[65];

	randombytes_buf(in, sizeof(in));
	rfs_hex_encode(text, in, sizeof(in));
	cr_assert_eq(strlen(text), 64);
	for (size_t i = 0; i < 64; i++)
		cr_assert(strchr("0123456789abcdef", text[i]) != NULL);
	cr_assert_eq(rfs_hex_decode(back, sizeof(back), text), 0);
	cr_assert_eq(memcmp(in, back, sizeof(in)), 0);

	cr_assert_eq(rfs_hex_decode(back, 2, "0aff"), 0);
	cr_assert_eq(back[0], 0x0a);
	cr_assert_eq(back[1], 0xff);
	cr_assert_eq(rfs_hex_decode(back, 2, "0AFF"), -EINVAL);
	cr_assert_eq(rfs_hex_decode(back, 2, "0g00"), -EINVAL);
	cr_assert_eq(rfs_hex_decode(back, 2, "0a0"), -EINVAL);
	cr_assert_eq(rfs_hex_decode(back, 1, " a"), -EINVAL);
}
