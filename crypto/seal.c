/*
** seal: XChaCha20-Poly1305 with a random nonce in front (see seal.h).
** Must never: encrypt twice under one nonce, or write plaintext that failed
** authentication.
*/
#include "crypto/seal.h"
#include "crypto/random.h"

#include <errno.h>
#include <sodium.h>

_Static_assert(RFS_SEAL_NONCE == crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, "nonce size");
_Static_assert(RFS_SEAL_TAG == crypto_aead_xchacha20poly1305_ietf_ABYTES, "tag size");
_Static_assert(RFS_SEAL_KEY_SIZE == crypto_aead_xchacha20poly1305_ietf_KEYBYTES, "key size");

void rfs_seal(uint8_t *out, const void *plain, size_t len, const void *ad, size_t adlen,
              const uint8_t key[RFS_SEAL_KEY_SIZE])
{
	rfs_random_nonce(out, RFS_SEAL_NONCE);
	crypto_aead_xchacha20poly1305_ietf_encrypt(out + RFS_SEAL_NONCE, NULL, plain, len, ad, adlen,
	                                           NULL, out, key);
}

int rfs_seal_open(uint8_t *plain, const uint8_t *sealed, size_t len, const void *ad, size_t adlen,
                  const uint8_t key[RFS_SEAL_KEY_SIZE])
{
	if (len < RFS_SEAL_OVERHEAD)
		return -EIO;
	return crypto_aead_xchacha20poly1305_ietf_decrypt(plain, NULL, NULL, sealed + RFS_SEAL_NONCE,
	                                                  len - RFS_SEAL_NONCE, ad, adlen, sealed,
	                                                  key) == 0 ? 0 : -EIO;
}
