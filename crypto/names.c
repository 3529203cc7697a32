/*
** names: deterministic (SIV-style) encryption of path components, long-name
** hashing, and sealing of symlink targets and xattrs.
**
** Owns: every encrypted string that appears in a backing name, a symlink or
** an xattr under live/.
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

static void siv_tag(uint8_t tag[RFS_NAME_TAG], const char *name, size_t len,
                    const uint8_t dirid[RFS_DIRID_SIZE], const struct rfs_keys *k)
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, k->name_mac, sizeof(k->name_mac), RFS_NAME_TAG);
	crypto_generichash_update(&st, dirid, RFS_DIRID_SIZE);
	crypto_generichash_update(&st, (const uint8_t *)name, len);
	crypto_generichash_final(&st, tag, RFS_NAME_TAG);
}

/* XChaCha20 with nonce = tag || 0^8; the same call encrypts and decrypts. */
static void siv_xor(uint8_t *out, const uint8_t *in, size_t len, const uint8_t tag[RFS_NAME_TAG],
                    const struct rfs_keys *k)
{
	uint8_t nonce[crypto_stream_xchacha20_NONCEBYTES] = { 0 };

	memcpy(nonce, tag, RFS_NAME_TAG);
	crypto_stream_xchacha20_xor(out, in, len, nonce, k->name_enc);
}

static int seal_name(char *out, size_t outsz, const char *name, const uint8_t dirid[RFS_DIRID_SIZE],
                     const struct rfs_keys *k, enum name_kind kind)
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
                     const struct rfs_keys *k, enum name_kind kind)
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

int rfs_name_seal(char *out, size_t outsz, const char *name, const uint8_t dirid[RFS_DIRID_SIZE],
                  const struct rfs_keys *k)
{
	return seal_name(out, outsz, name, dirid, k, NAME_PATH_COMPONENT);
}

int rfs_name_open(char *out, size_t outsz, const char *text, const uint8_t dirid[RFS_DIRID_SIZE],
                  const struct rfs_keys *k)
{
	return open_name(out, outsz, text, dirid, k, NAME_PATH_COMPONENT);
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

/* nonce || AEAD(in) under the meta key into out (len + AEAD_OVERHEAD bytes). */
static void meta_seal(uint8_t *out, const uint8_t *in, size_t len, const uint8_t *ad, size_t adlen,
                      const struct rfs_keys *k)
{
	rfs_seal(out, in, len, ad, adlen, k->meta);
}

/* Open what meta_seal made; out gets ct_len - AEAD_OVERHEAD bytes. 0 or -EIO. */
static int meta_open(uint8_t *out, const uint8_t *ct, size_t ct_len, const uint8_t *ad,
                     size_t adlen, const struct rfs_keys *k)
{
	return rfs_seal_open(out, ct, ct_len, ad, adlen, k->meta);
}

int rfs_name_target_seal(char *out, size_t outsz, const char *target, const struct rfs_keys *k)
{
	uint8_t sealed[TARGET_SEALED_MAX];
	size_t len = strnlen(target, TARGET_TEXT_MAX + 1);
	size_t text_len = rfs_b64_len(len + AEAD_OVERHEAD);

	if (len == 0)
		return -EINVAL;
	if (text_len > TARGET_TEXT_MAX || outsz < text_len + 1)
		return -ENAMETOOLONG;
	meta_seal(sealed, (const uint8_t *)target, len, (const uint8_t *)symlink_ad,
	          sizeof(symlink_ad) - 1, k);
	return (int)rfs_b64_encode(out, sealed, len + AEAD_OVERHEAD);
}

int rfs_name_target_open(char *out, size_t outsz, const char *text, const struct rfs_keys *k)
{
	uint8_t sealed[TARGET_SEALED_MAX];
	long n = decode_sealed(sealed, sizeof(sealed), text, AEAD_OVERHEAD, outsz);
	size_t len = (size_t)n;

	if (n < 0)
		return (int)n;
	if (meta_open((uint8_t *)out, sealed, len + AEAD_OVERHEAD, (const uint8_t *)symlink_ad,
	              sizeof(symlink_ad) - 1, k) != 0)
		return -EIO;
	if (memchr(out, '\0', len) != NULL) {
		sodium_memzero(out, len);
		return -EIO;
	}
	out[len] = '\0';
	return (int)len;
}

int rfs_name_xattr_seal(char *out, size_t outsz, const char *name, const struct rfs_keys *k)
{
	int n = seal_name(out, outsz, name, xattr_dirid, k, NAME_XATTR);

	/* "user." + text must fit XATTR_NAME_MAX; Linux answers ERANGE. */
	if (n > (int)XATTR_TEXT_MAX) {
		out[0] = '\0';
		return -ERANGE;
	}
	return n;
}

int rfs_name_xattr_open(char *out, size_t outsz, const char *text, const struct rfs_keys *k)
{
	return open_name(out, outsz, text, xattr_dirid, k, NAME_XATTR);
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
                         const struct rfs_keys *k)
{
	uint8_t ad[XATTR_AD_MAX];
	size_t adlen = xattr_ad(ad, sizeof(ad), owner, sealed_name);

	if (adlen == 0)
		return -ERANGE;
	meta_seal(out, val, len, ad, adlen, k);
	return 0;
}

int rfs_name_xattr_value_open(uint8_t *out, const uint8_t *ct, size_t ct_len,
                         const uint8_t owner[RFS_XATTR_OWNER_SIZE], const char *sealed_name,
                         const struct rfs_keys *k)
{
	uint8_t ad[XATTR_AD_MAX];
	size_t adlen = xattr_ad(ad, sizeof(ad), owner, sealed_name);

	if (adlen == 0)
		return -EIO;
	return meta_open(out, ct, ct_len, ad, adlen, k);
}
