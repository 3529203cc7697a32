/*
** minisign: detached signatures in the format of the standard minisign tool
** (Ed25519 over a BLAKE2b-512 prehash, algorithm "ED", with a signed trusted
** comment), so a receiver checks an archive with `minisign -Vm FILE -p KEY.pub`.
**
** Owns: the text of minisign public key files and FILE.minisig files, and the
** streaming BLAKE2b-512 hash they sign.
** Must never: accept a file it cannot fully account for (strict, bounded parsing),
** or keep, print or copy a secret key (the caller's sodium_malloc memory holds it).
*/
#ifndef RECFS_CRYPTO_MINISIGN_H
#define RECFS_CRYPTO_MINISIGN_H

#include <stddef.h>
#include <stdint.h>

#define RFS_MINISIGN_KEYID_SIZE 8
/* Longest comments minisign itself reads (its line buffers, less prefix and newline). */
#define RFS_MINISIGN_UNTRUSTED_MAX 1003
#define RFS_MINISIGN_TRUSTED_MAX 8173

struct rfs_minisign_hash { _Alignas(64) uint8_t opaque[384]; };   /* BLAKE2b-512 state */
void rfs_minisign_hash_init(struct rfs_minisign_hash *h);
void rfs_minisign_hash_update(struct rfs_minisign_hash *h, const void *data, size_t len);
void rfs_minisign_hash_final(struct rfs_minisign_hash *h, uint8_t out[64]);

/* Comments are one line each (no CR, LF or NUL) up to the lengths above, else -EINVAL.
** The public key file minisign reads with -p (two lines); heap text. 0 or -ENOMEM
** comment NULL: "minisign public key <key id hex>", as minisign -G writes. */
int  rfs_minisign_pubkey_text(const uint8_t keyid[8], const uint8_t pk[32], const char *comment, char **out);
/* That file, or its base64 line alone. */
int  rfs_minisign_pubkey_parse(const char *text, size_t len, uint8_t keyid[8], uint8_t pk[32]); /* -EINVAL */

/* FILE.minisig text for a file whose BLAKE2b-512 is hash (prehashed, algorithm "ED").
** untrusted_comment NULL: "signature from recfs archive key"; trusted_comment NULL: "". */
int  rfs_minisign_sign(const uint8_t sk[64], const uint8_t keyid[8], const uint8_t hash[64],
                       const char *untrusted_comment, const char *trusted_comment, char **out);

/* Lines end in LF (a CR before it is allowed), the last one may lack it; nothing may follow.
** trusted (or NULL) gets the trusted comment, NUL-terminated, only when the result is 0: give
** it RFS_MINISIGN_TRUSTED_MAX + 1 bytes (a smaller buffer gets it cut short).
** sig_keyid (or NULL) gets the signature's key id whenever the file parses.
** 0 good; -EINVAL malformed; -ENOKEY signed by another key id (sig_keyid says which);
** -EBADMSG the signature or the trusted comment's signature fails. */
int  rfs_minisign_verify(const char *sig_text, size_t len, const uint8_t keyid[8], const uint8_t pk[32],
                         const uint8_t hash[64], uint8_t sig_keyid[8], char *trusted, size_t trusted_size);

/* The key id as the little-endian number minisign reads it as. */
uint64_t rfs_minisign_keyid_number(const uint8_t keyid[8]);
/* The key id as minisign prints it ("%" PRIX64): upper-case hex, no leading zeros. */
void rfs_minisign_keyid_hex(const uint8_t keyid[8], char out[17]);

#endif
