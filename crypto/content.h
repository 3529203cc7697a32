/*
** content: the ciphertext layout of one file in live/ (and in history).
**
**   header   60 bytes: version u16le | flags u16le | file id[16] | nonce[24] | tag[16]
**            tag = XChaCha20-Poly1305 over the empty message, AD = bytes 0..19
**   slot i   at 60 + i*4136: nonce[24] | ciphertext[len] | tag[16], len <= 4096
**            AD = file id[16] | i as u64le | final u8 (1 for the last block, else 0)
**
** Every block but the last is full (4096 bytes of plaintext). The last block
** is sealed with final=1, so cutting a file at a slot boundary is caught. A
** slot that is all zero bytes is a hole and reads as zeros (never the last).
** Flag RFS_HDR_NONEMPTY says blocks must follow, so cutting to the header is caught.
** Plaintext size is a pure function of ciphertext size (no read needed for stat).
** Must never: return bytes that did not authenticate.
*/
#ifndef RECFS_CRYPTO_CONTENT_H
#define RECFS_CRYPTO_CONTENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RFS_CONTENT_VERSION 1
#define RFS_BLOCK_SIZE 4096u
#define RFS_BLOCK_NONCE 24u
#define RFS_BLOCK_TAG 16u
#define RFS_BLOCK_OVERHEAD (RFS_BLOCK_NONCE + RFS_BLOCK_TAG)
#define RFS_SLOT_SIZE (RFS_BLOCK_SIZE + RFS_BLOCK_OVERHEAD)
#define RFS_HEADER_SIZE 60u
#define RFS_HDR_NONEMPTY 0x0001u

struct rfs_header {
	uint16_t version;
	uint16_t flags;
	uint8_t file_id[16];
};

/* Seal a header with the file's key. */
void rfs_content_header_seal(uint8_t out[RFS_HEADER_SIZE], const struct rfs_header *h,
                             const uint8_t key[32]);

/* Read version, flags and file id without authenticating (to find the key).
** 0, -EIO (short or garbage), -EPROTONOSUPPORT (unknown version). */
int rfs_content_header_parse(struct rfs_header *h, const uint8_t *in, size_t len);

/* Authenticate a header with the file's key. 0 or -EIO. */
int rfs_content_header_verify(const uint8_t in[RFS_HEADER_SIZE], const uint8_t key[32]);

/* Offset of slot i in the ciphertext file. */
static inline uint64_t rfs_content_slot_offset(uint64_t i)
{
	return RFS_HEADER_SIZE + i * (uint64_t)RFS_SLOT_SIZE;
}

/* Plaintext size of a ciphertext file of cipher_size bytes. A size that no
** plaintext produces (a last slot of 1..40 bytes) rounds down; *valid = false. */
uint64_t rfs_content_plain_size(uint64_t cipher_size, bool *valid);

/* Ciphertext size of a plaintext of plain_size bytes (header included). */
uint64_t rfs_content_cipher_size(uint64_t plain_size);

/* Seal len (1..4096) bytes as block i. out holds len + RFS_BLOCK_OVERHEAD. */
void rfs_content_block_seal(uint8_t *out, const uint8_t *plain, size_t len, uint64_t i, bool final,
                            const uint8_t file_id[16], const uint8_t key[32]);

/* Open a slot of ct_len bytes (41..4136) as block i. Writes ct_len-40 bytes
** to out. 0 or -EIO. */
int rfs_content_block_open(uint8_t *out, const uint8_t *ct, size_t ct_len, uint64_t i, bool final,
                           const uint8_t file_id[16], const uint8_t key[32]);

/* Open the slot of ct_len bytes at slot as block i in place: the plaintext
** (ct_len-40 bytes) is left at slot + RFS_BLOCK_NONCE. 0 or -EIO. */
int rfs_content_block_open_in_place(uint8_t *slot, size_t ct_len, uint64_t i, bool final,
                                    const uint8_t file_id[16], const uint8_t key[32]);

/* True when the slot is all zero bytes (a hole). */
bool rfs_content_slot_is_hole(const uint8_t *ct, size_t ct_len);

#endif
