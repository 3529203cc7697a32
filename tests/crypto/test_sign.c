/* Unit tests of crypto/sign: Ed25519 under the vault's signing subkey only. */
#include <criterion/criterion.h>
#include <errno.h>
#include <sodium.h>
#include <string.h>

#include "crypto/sign.h"
#include "test_helpers.h"

Test(sign, is_crypto_sign_detached_under_sign_sk)
{
	struct rfs_keys *k = test_random_keys();
	uint8_t sig[RFS_SIGNATURE_SIZE], raw[crypto_sign_BYTES];
	const char msg[] = "tree 0123\nparent 4567\n";

	rfs_sign(sig, msg, sizeof msg, k);
	crypto_sign_detached(raw, NULL, (const uint8_t *)msg, sizeof msg, k->sign_sk);
	cr_assert_arr_eq(sig, raw, sizeof raw, "signatures of existing commits must still verify");
	cr_assert_eq(rfs_sign_verify(sig, msg, sizeof msg, k), 0);
	rfs_keys_free(k);
}

Test(sign, another_message_key_or_signature_is_refused)
{
	struct rfs_keys *k = test_random_keys(), *other = test_random_keys();
	uint8_t sig[RFS_SIGNATURE_SIZE];

	rfs_sign(sig, "head 7", 6, k);
	cr_assert_eq(rfs_sign_verify(sig, "head 8", 6, k), -EBADMSG);
	cr_assert_eq(rfs_sign_verify(sig, "head 7", 5, k), -EBADMSG);
	cr_assert_eq(rfs_sign_verify(sig, "head 7", 6, other), -EBADMSG);
	sig[10] ^= 1;
	cr_assert_eq(rfs_sign_verify(sig, "head 7", 6, k), -EBADMSG);
	rfs_keys_free(k);
	rfs_keys_free(other);
}
