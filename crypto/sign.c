/*
** sign: crypto_sign detached signatures under keys->sign_sk / sign_pk.
** Must never: sign with any key but the vault's signing subkey.
*/
#include "crypto/sign.h"

#include <errno.h>
#include <sodium.h>

_Static_assert(RFS_SIGNATURE_SIZE == crypto_sign_BYTES, "signature size");
_Static_assert(sizeof(((struct rfs_keys *)0)->sign_sk) == crypto_sign_SECRETKEYBYTES, "sk size");
_Static_assert(sizeof(((struct rfs_keys *)0)->sign_pk) == crypto_sign_PUBLICKEYBYTES, "pk size");

void rfs_sign(uint8_t sig[RFS_SIGNATURE_SIZE], const void *msg, size_t len,
              const struct rfs_keys *k)
{
	crypto_sign_detached(sig, NULL, msg, len, k->sign_sk);
}

int rfs_sign_verify(const uint8_t sig[RFS_SIGNATURE_SIZE], const void *msg, size_t len,
                    const struct rfs_keys *k)
{
	return crypto_sign_verify_detached(sig, msg, len, k->sign_pk) == 0 ? 0 : -EBADMSG;
}
