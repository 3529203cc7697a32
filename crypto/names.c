/*
** names: deterministic (SIV-style) encryption of path components, long-name
** hashing, and sealing of symlink targets and xattrs.
**
** Owns: every encrypted string that appears in a backing name, a symlink or
** an xattr under live/, and the keys of a folder (struct rfs_folder_keys).
** Must never: allocate (lookups and readdir are hot paths), return a clear
** name that did not authenticate or that is not a valid name, or produce text
** with '/', NUL or a leading '.' (internal names own that prefix).
*/
#include "crypto/names.h"

#include <errno.h>
#include <limits.h>
#include <sodium.h>
#include <string.h>

#include "crypto/encoding.h"
#include "crypto/seal.h"

#define CLEAR_NAME_MAX 255u
#define SEALED_NAME_MAX (RFS_NAME_TAG + CLEAR_NAME_MAX)
#define TARGET_TEXT_MAX 4095u            /* PATH_MAX - 1 */
#define AEAD_OVERHEAD RFS_SEAL_OVERHEAD
#define TARGET_SEALED_MAX ((TARGET_TEXT_MAX / 4) * 3 + 2)
#define XATTR_USER_PREFIX_LEN 5u         /* "user." */
#define XATTR_TEXT_MAX (255u - XATTR_USER_PREFIX_LEN)

static const char symlink_ad[] = "recfs-symlink-v1";
static const char xattr_ad_prefix[] = "recfs-xattr-v2";
static const uint8_t xattr_dirid[RFS_DIRID_SIZE] = {
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
};

_Static_assert(RFS_ENC_NAME_MAX == (SEALED_NAME_MAX * 4 + 2) / 3, "RFS_ENC_NAME_MAX");
_Static_assert(RFS_LONG_NAME_LEN == 2 + 43, "RFS_LONG_NAME_LEN");

enum name_kind { NAME_PATH_COMPONENT, NAME_XATTR };

/* 0, -EINVAL or -ENAMETOOLONG for a clear name of length len. */
static int check_clear_name(const char *name, size_t len, enum name_kind kind)
{
	if (len == 0)
		return -EINVAL;
	if (len > CLEAR_NAME_MAX)
		return -ENAMETOOLONG;
	if (memchr(name, '\0', len) != NULL)
		return -EINVAL;
	if (kind == NAME_XATTR)
		return 0;
	if (memchr(name, '/', len) != NULL)
		return -EINVAL;
	if (name[0] == '.' && (len == 1 || (len == 2 && name[1] == '.')))
		return -EINVAL;
	return 0;
}

/* The two keys of one SIV: the tag's and the stream's. */
struct siv_keys {
	const uint8_t *mac;
	const uint8_t *enc;
};

static void siv_tag(uint8_t tag[RFS_NAME_TAG], const char *name, size_t len,
                    const uint8_t dirid[RFS_DIRID_SIZE], struct siv_keys k)
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, k.mac, 32, RFS_NAME_TAG);
	crypto_generichash_update(&st, dirid, RFS_DIRID_SIZE);
	crypto_generichash_update(&st, (const uint8_t *)name, len);
	crypto_generichash_final(&st, tag, RFS_NAME_TAG);
}

/* XChaCha20 with nonce = tag || 0^8; the same call encrypts and decrypts. */
static void siv_xor(uint8_t *out, const uint8_t *in, size_t len, const uint8_t tag[RFS_NAME_TAG],
                    struct siv_keys k)
{
	uint8_t nonce[crypto_stream_xchacha20_NONCEBYTES] = { 0 };

	memcpy(nonce, tag, RFS_NAME_TAG);
	crypto_stream_xchacha20_xor(out, in, len, nonce, k.enc);
}

static int seal_name(char *out, size_t outsz, const char *name, const uint8_t dirid[RFS_DIRID_SIZE],
                     struct siv_keys k, enum name_kind kind)
{
	uint8_t sealed[SEALED_NAME_MAX];
	size_t len = strnlen(name, CLEAR_NAME_MAX + 1);
	int rc = check_clear_name(name, len, kind);

	if (rc < 0)
		return rc;
	if (outsz < rfs_b64_len(RFS_NAME_TAG + len) + 1)
		return -ENAMETOOLONG;
	siv_tag(sealed, name, len, dirid, k);
	siv_xor(sealed + RFS_NAME_TAG, (const uint8_t *)name, len, sealed, k);
	return (int)rfs_b64_encode(out, sealed, RFS_NAME_TAG + len);
}

/* Decode a sealed text into sealed (capacity sealedsz) and return the length
** of the clear string it holds after `overhead` bytes: -EIO when it is not
** base64url or holds nothing, -ENAMETOOLONG when out (outsz) cannot take it
** and its NUL. */
static long decode_sealed(uint8_t *sealed, size_t sealedsz, const char *text, size_t overhead,
                          size_t outsz)
{
	size_t text_len = strnlen(text, rfs_b64_len(sealedsz) + 1);
	long n = rfs_b64_decode(sealed, sealedsz, text, text_len);

	if (n <= (long)overhead)
		return -EIO;
	if (outsz < (size_t)n - overhead + 1)
		return -ENAMETOOLONG;
	return n - (long)overhead;
}

static int open_name(char *out, size_t outsz, const char *text, const uint8_t dirid[RFS_DIRID_SIZE],
                     struct siv_keys k, enum name_kind kind)
{
	uint8_t sealed[SEALED_NAME_MAX], tag[RFS_NAME_TAG];
	long n = decode_sealed(sealed, sizeof(sealed), text, RFS_NAME_TAG, outsz);
	size_t len = (size_t)n;

	if (n < 0)
		return (int)n;
	siv_xor((uint8_t *)out, sealed + RFS_NAME_TAG, len, sealed, k);
	siv_tag(tag, out, len, dirid, k);
	if (sodium_memcmp(tag, sealed, RFS_NAME_TAG) != 0 || check_clear_name(out, len, kind) != 0) {
		sodium_memzero(out, len);
		return -EIO;
	}
	out[len] = '\0';
	return (int)len;
}

static struct siv_keys name_keys(const struct rfs_folder_keys *fk)
{
	return (struct siv_keys){ fk->name_mac, fk->name_enc };
}

static struct siv_keys xattr_keys(const struct rfs_xattr_keys *xk)
{
	return (struct siv_keys){ xk->mac, xk->enc };
}

int rfs_name_seal(char *out, size_t outsz, const char *name, const struct rfs_folder_keys *fk)
{
	return seal_name(out, outsz, name, fk->dirid, name_keys(fk), NAME_PATH_COMPONENT);
}

int rfs_name_open(char *out, size_t outsz, const char *text, const struct rfs_folder_keys *fk)
{
	return open_name(out, outsz, text, fk->dirid, name_keys(fk), NAME_PATH_COMPONENT);
}

#define FOLDER_KDF_CONTEXT "recfsdir"
#define XATTR_KDF_CONTEXT "recfsxat"
_Static_assert(sizeof(FOLDER_KDF_CONTEXT) - 1 == crypto_kdf_CONTEXTBYTES, "kdf context");
_Static_assert(sizeof(XATTR_KDF_CONTEXT) - 1 == crypto_kdf_CONTEXTBYTES, "kdf context");

/* An xattr key set from its AEAD key: the SIV pair derived from it, so one
** key never serves two purposes. */
static void xattr_keys_derive(struct rfs_xattr_keys *xk)
{
	crypto_kdf_derive_from_key(xk->mac, 32, 1, XATTR_KDF_CONTEXT, xk->aead);
	crypto_kdf_derive_from_key(xk->enc, 32, 2, XATTR_KDF_CONTEXT, xk->aead);
}

void rfs_folder_keys_derive(struct rfs_folder_keys *fk, const uint8_t dirid[RFS_DIRID_SIZE],
                            const uint8_t folder_key[RFS_FOLDER_KEY_SIZE])
{
	memcpy(fk->dirid, dirid, RFS_DIRID_SIZE);
	crypto_kdf_derive_from_key(fk->name_mac, 32, RFS_FOLDER_NAME_MAC, FOLDER_KDF_CONTEXT, folder_key);
	crypto_kdf_derive_from_key(fk->name_enc, 32, RFS_FOLDER_NAME_ENC, FOLDER_KDF_CONTEXT, folder_key);
	crypto_kdf_derive_from_key(fk->entries.aead, 32, RFS_FOLDER_META, FOLDER_KDF_CONTEXT, folder_key);
	crypto_kdf_derive_from_key(fk->path, 32, RFS_FOLDER_PATH, FOLDER_KDF_CONTEXT, folder_key);
	crypto_kdf_derive_from_key(fk->tag, 32, RFS_FOLDER_TAG, FOLDER_KDF_CONTEXT, folder_key);
	crypto_kdf_derive_from_key(fk->own.aead, 32, RFS_FOLDER_OWN, FOLDER_KDF_CONTEXT, folder_key);
	xattr_keys_derive(&fk->entries);
	xattr_keys_derive(&fk->own);
}

void rfs_folder_keys_from_vault(struct rfs_folder_keys *fk, const uint8_t dirid[RFS_DIRID_SIZE],
                                const struct rfs_keys *k)
{
	memcpy(fk->dirid, dirid, RFS_DIRID_SIZE);
	memcpy(fk->name_mac, k->name_mac, 32);
	memcpy(fk->name_enc, k->name_enc, 32);
	memcpy(fk->entries.mac, k->name_mac, 32);
	memcpy(fk->entries.enc, k->name_enc, 32);
	memcpy(fk->entries.aead, k->meta, 32);
	fk->own = fk->entries;
	memcpy(fk->path, k->history, 32);
	memcpy(fk->tag, k->index, 32);
}

bool rfs_name_backing(char out[256], const char *text)
{
	size_t len = strnlen(text, NAME_MAX + 1);
	uint8_t hash[32];

	if (len <= NAME_MAX) {
		memcpy(out, text, len + 1);
		return false;
	}
	crypto_generichash(hash, sizeof(hash), (const uint8_t *)text, strlen(text), NULL, 0);
	memcpy(out, RFS_LONG_PREFIX, 2);
	rfs_b64_encode(out + 2, hash, sizeof(hash));
	return true;
}

static bool has_prefix(const char *s, size_t len, const char *prefix)
{
	size_t plen = strlen(prefix);

	return len >= plen && memcmp(s, prefix, plen) == 0;
}

static bool has_suffix(const char *s, size_t len, const char *suffix)
{
	size_t slen = strlen(suffix);

	return len >= slen && memcmp(s + len - slen, suffix, slen) == 0;
}

bool rfs_name_is_internal(const char *backing)
{
	size_t len = strlen(backing);

	if (strcmp(backing, RFS_DIRID_FILE) == 0 || has_prefix(backing, len, RFS_TMP_PREFIX))
		return true;
	return has_prefix(backing, len, RFS_LONG_PREFIX) && has_suffix(backing, len, RFS_LONG_SUFFIX);
}

bool rfs_name_is_long(const char *backing)
{
	size_t len = strlen(backing);

	return len == RFS_LONG_NAME_LEN && has_prefix(backing, len, RFS_LONG_PREFIX);
}

int rfs_name_target_seal(char *out, size_t outsz, const char *target,
                         const struct rfs_folder_keys *fk)
{
	uint8_t sealed[TARGET_SEALED_MAX];
	size_t len = strnlen(target, TARGET_TEXT_MAX + 1);
	size_t text_len = rfs_b64_len(len + AEAD_OVERHEAD);

	if (len == 0)
		return -EINVAL;
	if (text_len > TARGET_TEXT_MAX || outsz < text_len + 1)
		return -ENAMETOOLONG;
	rfs_seal(sealed, target, len, symlink_ad, sizeof(symlink_ad) - 1, fk->entries.aead);
	return (int)rfs_b64_encode(out, sealed, len + AEAD_OVERHEAD);
}

int rfs_name_target_open(char *out, size_t outsz, const char *text,
                         const struct rfs_folder_keys *fk)
{
	uint8_t sealed[TARGET_SEALED_MAX];
	long n = decode_sealed(sealed, sizeof(sealed), text, AEAD_OVERHEAD, outsz);
	size_t len = (size_t)n;

	if (n < 0)
		return (int)n;
	if (rfs_seal_open((uint8_t *)out, sealed, len + AEAD_OVERHEAD, symlink_ad,
	                  sizeof(symlink_ad) - 1, fk->entries.aead) != 0)
		return -EIO;
	if (memchr(out, '\0', len) != NULL) {
		sodium_memzero(out, len);
		return -EIO;
	}
	out[len] = '\0';
	return (int)len;
}

int rfs_name_xattr_seal(char *out, size_t outsz, const char *name, const struct rfs_xattr_keys *xk)
{
	int n = seal_name(out, outsz, name, xattr_dirid, xattr_keys(xk), NAME_XATTR);

	/* "user." + text must fit XATTR_NAME_MAX; Linux answers ERANGE. */
	if (n > (int)XATTR_TEXT_MAX) {
		out[0] = '\0';
		return -ERANGE;
	}
	return n;
}

int rfs_name_xattr_open(char *out, size_t outsz, const char *text, const struct rfs_xattr_keys *xk)
{
	return open_name(out, outsz, text, xattr_dirid, xattr_keys(xk), NAME_XATTR);
}

/* AD = "recfs-xattr-v2" || owner id (16) || sealed name: a value opens only on
** the file (file id) or folder (dirid) and under the name it was sealed for. */
static size_t xattr_ad(uint8_t *ad, size_t adsz, const uint8_t owner[RFS_XATTR_OWNER_SIZE],
                       const char *sealed_name)
{
	size_t nlen = strnlen(sealed_name, adsz);
	size_t len = sizeof(xattr_ad_prefix) - 1 + RFS_XATTR_OWNER_SIZE + nlen;

	if (len > adsz)
		return 0;
	memcpy(ad, xattr_ad_prefix, sizeof(xattr_ad_prefix) - 1);
	memcpy(ad + sizeof(xattr_ad_prefix) - 1, owner, RFS_XATTR_OWNER_SIZE);
	memcpy(ad + sizeof(xattr_ad_prefix) - 1 + RFS_XATTR_OWNER_SIZE, sealed_name, nlen);
	return len;
}

#define XATTR_AD_MAX (sizeof(xattr_ad_prefix) - 1 + RFS_XATTR_OWNER_SIZE + RFS_ENC_NAME_MAX + 1)

int rfs_name_xattr_value_seal(uint8_t *out, const uint8_t *val, size_t len,
                         const uint8_t owner[RFS_XATTR_OWNER_SIZE], const char *sealed_name,
                         const struct rfs_xattr_keys *xk)
{
	uint8_t ad[XATTR_AD_MAX];
	size_t adlen = xattr_ad(ad, sizeof(ad), owner, sealed_name);

	if (adlen == 0)
		return -ERANGE;
	rfs_seal(out, val, len, ad, adlen, xk->aead);
	return 0;
}

int rfs_name_xattr_value_open(uint8_t *out, const uint8_t *ct, size_t ct_len,
                         const uint8_t owner[RFS_XATTR_OWNER_SIZE], const char *sealed_name,
                         const struct rfs_xattr_keys *xk)
{
	uint8_t ad[XATTR_AD_MAX];
	size_t adlen = xattr_ad(ad, sizeof(ad), owner, sealed_name);

	if (adlen == 0)
		return -EIO;
	return rfs_seal_open(out, ct, ct_len, ad, adlen, xk->aead);
}
