/*
** sign: Ed25519 signatures made with the vault's signing subkey (commits and
** history's head record), checked against its public key.
**
** Owns: the only calls to crypto_sign; the key comes from struct rfs_keys, so
** no other key can sign by mistake.
** Must never: sign with, print or copy the secret key.
*/
#ifndef RECFS_CRYPTO_SIGN_H
#define RECFS_CRYPTO_SIGN_H

#include <stddef.h>
#include <stdint.h>
#include "crypto/subkeys.h"

#define RFS_SIGNATURE_SIZE 64u

/* Sign len bytes of msg with k's signing key. */
void rfs_sign(uint8_t sig[RFS_SIGNATURE_SIZE], const void *msg, size_t len,
              const struct rfs_keys *k);

/* 0 when sig is k's signature of msg, else -EBADMSG. */
int rfs_sign_verify(const uint8_t sig[RFS_SIGNATURE_SIZE], const void *msg, size_t len,
                    const struct rfs_keys *k);

#endif
