/*
** content: the file header and the AEAD blocks of one ciphertext file.
**
** Owns: sealing and opening headers and blocks, and the size arithmetic
** between plaintext and ciphertext. Layout is in content.h and docs/FORMAT.md.
** Must never: allocate (this is the FUSE read/write hot path), or write
** bytes to the caller that did not authenticate.
*/
#include "crypto/content.h"
#include "crypto/random.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>

#define HDR_AD_LEN 20u                   /* version | flags | file id */
#define HDR_NONCE_AT HDR_AD_LEN
#define HDR_TAG_AT (HDR_NONCE_AT + RFS_BLOCK_NONCE)
#define BLOCK_AD_LEN (16u + 8u + 1u)     /* file id | block number | final */

_Static_assert(HDR_TAG_AT + RFS_BLOCK_TAG == RFS_HEADER_SIZE, "header layout");
_Static_assert(crypto_aead_xchacha20poly1305_ietf_NPUBBYTES == RFS_BLOCK_NONCE, "nonce size");
_Static_assert(crypto_aead_xchacha20poly1305_ietf_ABYTES == RFS_BLOCK_TAG, "tag size");

static void put_u16le(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static uint16_t get_u16le(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

void rfs_content_header_seal(uint8_t out[RFS_HEADER_SIZE], const struct rfs_header *h,
                             const uint8_t key[32])
{
	uint8_t no_ciphertext[1];        /* libsodium wants a pointer even for 0 bytes */

	put_u16le(out, h->version);
	put_u16le(out + 2, h->flags);
	memcpy(out + 4, h->file_id, 16);
	rfs_random_nonce(out + HDR_NONCE_AT, RFS_BLOCK_NONCE);
	crypto_aead_xchacha20poly1305_ietf_encrypt_detached(
		no_ciphertext, out + HDR_TAG_AT, NULL, NULL, 0, out, HDR_AD_LEN, NULL,
		out + HDR_NONCE_AT, key);
}

int rfs_content_header_parse(struct rfs_header *h, const uint8_t *in, size_t len)
{
	uint16_t version, flags;

	if (in == NULL || len < RFS_HEADER_SIZE)
		return -EIO;
	version = get_u16le(in);
	flags = get_u16le(in + 2);
	if (version == 0)
		return -EIO;
	if (version != RFS_CONTENT_VERSION)
		return -EPROTONOSUPPORT;
	if (flags & ~RFS_HDR_NONEMPTY)
		return -EIO;
	h->version = version;
	h->flags = flags;
	memcpy(h->file_id, in + 4, 16);
	return 0;
}

int rfs_content_header_verify(const uint8_t in[RFS_HEADER_SIZE], const uint8_t key[32])
{
	static const uint8_t no_ciphertext[1];

	if (crypto_aead_xchacha20poly1305_ietf_decrypt_detached(
		    NULL, NULL, no_ciphertext, 0, in + HDR_TAG_AT, in, HDR_AD_LEN,
		    in + HDR_NONCE_AT, key) != 0)
		return -EIO;
	return 0;
}

uint64_t rfs_content_plain_size(uint64_t cipher_size, bool *valid)
{
	uint64_t n, full, rem;

	if (cipher_size <= RFS_HEADER_SIZE) {
		if (valid != NULL)
			*valid = cipher_size == 0 || cipher_size == RFS_HEADER_SIZE;
		return 0;
	}
	n = cipher_size - RFS_HEADER_SIZE;
	full = n / RFS_SLOT_SIZE;
	rem = n % RFS_SLOT_SIZE;
	if (valid != NULL)
		*valid = rem == 0 || rem > RFS_BLOCK_OVERHEAD;
	return full * RFS_BLOCK_SIZE + (rem > RFS_BLOCK_OVERHEAD ? rem - RFS_BLOCK_OVERHEAD : 0);
}

uint64_t rfs_content_cipher_size(uint64_t plain_size)
{
	uint64_t full = plain_size / RFS_BLOCK_SIZE, rem = plain_size % RFS_BLOCK_SIZE;

	return RFS_HEADER_SIZE + full * RFS_SLOT_SIZE + (rem ? rem + RFS_BLOCK_OVERHEAD : 0);
}

static void block_ad(uint8_t ad[BLOCK_AD_LEN], const uint8_t file_id[16], uint64_t i, bool final)
{
	memcpy(ad, file_id, 16);
	for (int b = 0; b < 8; b++)
		ad[16 + b] = (uint8_t)(i >> (8 * b));
	ad[24] = final ? 1 : 0;
}

void rfs_content_block_seal(uint8_t *out, const uint8_t *plain, size_t len, uint64_t i, bool final,
                            const uint8_t file_id[16], const uint8_t key[32])
{
	uint8_t ad[BLOCK_AD_LEN];

	block_ad(ad, file_id, i, final);
	rfs_random_nonce(out, RFS_BLOCK_NONCE);
	crypto_aead_xchacha20poly1305_ietf_encrypt(out + RFS_BLOCK_NONCE, NULL, plain, len,
	                                           ad, sizeof(ad), NULL, out, key);
}

/* Open the slot into out, which may be the slot's own ciphertext: the tag
** is checked before any byte is decrypted (and out is zeroed if it fails). */
static int block_open_to(uint8_t *out, const uint8_t *slot, size_t ct_len, uint64_t i,
                         bool final, const uint8_t file_id[16], const uint8_t key[32])
{
	uint8_t ad[BLOCK_AD_LEN];
	size_t clen = ct_len - RFS_BLOCK_OVERHEAD;

	if (ct_len <= RFS_BLOCK_OVERHEAD || ct_len > RFS_SLOT_SIZE)
		return -EIO;
	block_ad(ad, file_id, i, final);
	if (crypto_aead_xchacha20poly1305_ietf_decrypt_detached(
	            out, NULL, slot + RFS_BLOCK_NONCE, clen, slot + RFS_BLOCK_NONCE + clen, ad,
	            sizeof(ad), slot, key) != 0)
		return -EIO;
	return 0;
}

int rfs_content_block_open(uint8_t *out, const uint8_t *ct, size_t ct_len, uint64_t i, bool final,
                           const uint8_t file_id[16], const uint8_t key[32])
{
	return block_open_to(out, ct, ct_len, i, final, file_id, key);
}

int rfs_content_block_open_in_place(uint8_t *slot, size_t ct_len, uint64_t i, bool final,
                                    const uint8_t file_id[16], const uint8_t key[32])
{
	return block_open_to(slot + RFS_BLOCK_NONCE, slot, ct_len, i, final, file_id, key);
}

bool rfs_content_slot_is_hole(const uint8_t *ct, size_t ct_len)
{
	/* Byte 0 is zero and every byte equals its successor: all zero. */
	return ct_len > 0 && ct[0] == 0 && memcmp(ct, ct + 1, ct_len - 1) == 0;
}
