/* Unit tests of crypto/tag: keyed BLAKE2b fed in parts, and the constant-time compare. */
#include <criterion/criterion.h>
#include <sodium.h>
#include <string.h>

#include "crypto/secmem.h"
#include "crypto/tag.h"

TestSuite(tag, .init = (void (*)(void))rfs_secmem_init);

Test(tag, equals_keyed_generichash_of_the_parts_joined)
{
	uint8_t key[32], out[16], raw[16];
	struct rfs_tag t;

	randombytes_buf(key, sizeof key);
	rfs_tag_init(&t, key, sizeof key, sizeof out);
	rfs_tag_update(&t, "p", 1);
	rfs_tag_update(&t, "/cases/2024/a.pdf", 17);
	rfs_tag_final(&t, out);
	crypto_generichash(raw, sizeof raw, (const uint8_t *)"p/cases/2024/a.pdf", 18, key, sizeof key);
	cr_assert_arr_eq(out, raw, sizeof raw, "tags in an existing index must still match");
}

Test(tag, key_and_length_change_the_tag)
{
	uint8_t k1[16] = { 1 }, k2[16] = { 2 }, a[32], b[32], c[64];
	struct rfs_tag t;

	rfs_tag_init(&t, k1, sizeof k1, sizeof a);
	rfs_tag_update(&t, "x", 1);
	rfs_tag_final(&t, a);
	rfs_tag_init(&t, k2, sizeof k2, sizeof b);
	rfs_tag_update(&t, "x", 1);
	rfs_tag_final(&t, b);
	cr_assert_not(rfs_tag_equal(a, b, sizeof a));
	rfs_tag_init(&t, k1, sizeof k1, sizeof c);
	rfs_tag_update(&t, "x", 1);
	rfs_tag_final(&t, c);
	cr_assert_not(rfs_tag_equal(a, c, sizeof a), "a 64-byte tag is not a longer 32-byte one");
	cr_assert(rfs_tag_equal(a, a, sizeof a));
}
