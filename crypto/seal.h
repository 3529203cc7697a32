/*
** seal: a record sealed under one purpose's key, bound to associated data.
**
**   sealed = nonce[24] | ciphertext | tag[16]   (XChaCha20-Poly1305, random nonce)
**
** Owns: the AEAD of history's commit records and index entries (and recfs.conf
** metadata in names.c), with sizes as constants.
** Must never: reuse a nonce, or hand back bytes that did not authenticate.
*/
#ifndef RECFS_CRYPTO_SEAL_H
#define RECFS_CRYPTO_SEAL_H

#include <stddef.h>
#include <stdint.h>

#define RFS_SEAL_KEY_SIZE 32u
#define RFS_SEAL_NONCE 24u
#define RFS_SEAL_TAG 16u
#define RFS_SEAL_OVERHEAD (RFS_SEAL_NONCE + RFS_SEAL_TAG)

/* Seal len bytes of plain, bound to ad (adlen bytes; NULL when 0), into out:
** len + RFS_SEAL_OVERHEAD bytes. */
void rfs_seal(uint8_t *out, const void *plain, size_t len, const void *ad, size_t adlen,
              const uint8_t key[RFS_SEAL_KEY_SIZE]);

/* Open sealed (len bytes, at least RFS_SEAL_OVERHEAD) bound to ad into plain:
** len - RFS_SEAL_OVERHEAD bytes. 0, or -EIO (too short, changed, or another
** key or ad). */
int rfs_seal_open(uint8_t *plain, const uint8_t *sealed, size_t len, const void *ad, size_t adlen,
                  const uint8_t key[RFS_SEAL_KEY_SIZE]);

#endif
