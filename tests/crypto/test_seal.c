/* Unit tests of crypto/seal: the layout libsodium reads, and every change refused. */
#include <criterion/criterion.h>
#include <errno.h>
#include <sodium.h>
#include <string.h>

#include "crypto/seal.h"
#include "crypto/secmem.h"

static uint8_t key[RFS_SEAL_KEY_SIZE];

static void init(void)
{
	cr_assert_eq(rfs_secmem_init(), 0);
	randombytes_buf(key, sizeof key);
}

TestSuite(seal, .init = init);

Test(seal, layout_is_nonce_then_xchacha20poly1305_with_ad)
{
	const char msg[] = "who saved what, and when";
	const char ad[] = "recfs-commit-v1 vault tree";
	uint8_t sealed[sizeof msg + RFS_SEAL_OVERHEAD], plain[sizeof msg];
	unsigned long long plen;

	rfs_seal(sealed, msg, sizeof msg, ad, sizeof ad, key);
	cr_assert_eq(crypto_aead_xchacha20poly1305_ietf_decrypt(plain, &plen, NULL,
	             sealed + RFS_SEAL_NONCE, sizeof sealed - RFS_SEAL_NONCE,
	             (const uint8_t *)ad, sizeof ad, sealed, key), 0,
	             "history records already written must still open");
	cr_assert_eq(plen, sizeof msg);
	cr_assert_arr_eq(plain, msg, sizeof msg);
	memset(plain, 0, sizeof plain);
	cr_assert_eq(rfs_seal_open(plain, sealed, sizeof sealed, ad, sizeof ad, key), 0);
	cr_assert_arr_eq(plain, msg, sizeof msg);
}

Test(seal, nonces_differ)
{
	uint8_t a[8 + RFS_SEAL_OVERHEAD], b[8 + RFS_SEAL_OVERHEAD];

	rfs_seal(a, "same msg", 8, NULL, 0, key);
	rfs_seal(b, "same msg", 8, NULL, 0, key);
	cr_assert(memcmp(a, b, RFS_SEAL_NONCE) != 0);
}

Test(seal, changed_bytes_ad_key_or_length_are_refused)
{
	uint8_t sealed[5 + RFS_SEAL_OVERHEAD], plain[5], other[RFS_SEAL_KEY_SIZE];

	rfs_seal(sealed, "hello", 5, "ad", 2, key);
	for (size_t i = 0; i < sizeof sealed; i++) {
		sealed[i] ^= 1;
		cr_assert_eq(rfs_seal_open(plain, sealed, sizeof sealed, "ad", 2, key), -EIO,
		             "byte %zu changed", i);
		sealed[i] ^= 1;
	}
	cr_assert_eq(rfs_seal_open(plain, sealed, sizeof sealed, "AD", 2, key), -EIO);
	cr_assert_eq(rfs_seal_open(plain, sealed, sizeof sealed - 1, "ad", 2, key), -EIO);
	cr_assert_eq(rfs_seal_open(plain, sealed, RFS_SEAL_OVERHEAD - 1, "ad", 2, key), -EIO);
	memcpy(other, key, sizeof other);
	other[0] ^= 1;
	cr_assert_eq(rfs_seal_open(plain, sealed, sizeof sealed, "ad", 2, other), -EIO);
	cr_assert_eq(rfs_seal_open(plain, sealed, sizeof sealed, "ad", 2, key), 0);
}
