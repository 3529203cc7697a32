/*
** minisign: the public key and signature files of the minisign tool, on libsodium.
**
** Owns: the byte layout ("Ed" || key id || pk; "ED" || key id || Ed25519(BLAKE2b-512(file));
** global signature = Ed25519(signature || trusted comment)), standard padded base64, and
** the line limits minisign itself reads with.
** Must never: accept text it does not fully account for (a byte after the last line, a
** comment with a NUL, base64 that is not canonical), copy the secret key, or return a
** trusted comment whose signature did not verify.
*/
#include "crypto/minisign.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

_Static_assert(sizeof(struct rfs_minisign_hash) >= sizeof(crypto_generichash_state),
               "rfs_minisign_hash too small for crypto_generichash_state");
_Static_assert(_Alignof(struct rfs_minisign_hash) >= _Alignof(crypto_generichash_state),
               "rfs_minisign_hash less aligned than crypto_generichash_state");
_Static_assert(crypto_generichash_BYTES_MAX == 64, "BLAKE2b-512");
_Static_assert(crypto_sign_BYTES == 64 && crypto_sign_PUBLICKEYBYTES == 32 &&
               crypto_sign_SECRETKEYBYTES == 64, "Ed25519 sizes");

#define UNTRUSTED_PREFIX "untrusted comment: "
#define TRUSTED_PREFIX "trusted comment: "
#define PREFIX_LEN(p) (sizeof(p) - 1)
#define PK_BYTES (2 + RFS_MINISIGN_KEYID_SIZE + 32)      /* "Ed" || key id || pk */
#define SIG_BYTES (2 + RFS_MINISIGN_KEYID_SIZE + 64)     /* "ED" || key id || sig */
#define B64_LEN(n) (((n) + 2) / 3 * 4)
/* A signature file is four lines of bounded length: anything longer is not one. */
#define SIG_TEXT_MAX (PREFIX_LEN(UNTRUSTED_PREFIX) + RFS_MINISIGN_UNTRUSTED_MAX + \
                      B64_LEN(SIG_BYTES) + PREFIX_LEN(TRUSTED_PREFIX) + \
                      RFS_MINISIGN_TRUSTED_MAX + B64_LEN(64) + 8)

static crypto_generichash_state *state_of(struct rfs_minisign_hash *h)
{
	return (crypto_generichash_state *)(void *)h->opaque;
}

void rfs_minisign_hash_init(struct rfs_minisign_hash *h)
{
	crypto_generichash_init(state_of(h), NULL, 0, 64);
}

void rfs_minisign_hash_update(struct rfs_minisign_hash *h, const void *data, size_t len)
{
	crypto_generichash_update(state_of(h), data, len);
}

void rfs_minisign_hash_final(struct rfs_minisign_hash *h, uint8_t out[64])
{
	crypto_generichash_final(state_of(h), out, 64);
	sodium_memzero(h, sizeof(*h));
}

uint64_t rfs_minisign_keyid_number(const uint8_t keyid[8])
{
	uint64_t n = 0;

	for (size_t i = 0; i < 8; i++)
		n |= (uint64_t)keyid[i] << (8 * i);
	return n;
}

void rfs_minisign_keyid_hex(const uint8_t keyid[8], char out[17])
{
	snprintf(out, 17, "%" PRIX64, rfs_minisign_keyid_number(keyid));
}

/* One line of comment text: no CR, LF or NUL, at most max bytes. */
static bool comment_ok(const char *s, size_t len, size_t max)
{
	return len <= max && memchr(s, '\0', len) == NULL && memchr(s, '\n', len) == NULL &&
	       memchr(s, '\r', len) == NULL;
}

static void b64_put(char *out, const uint8_t *bin, size_t n)
{
	sodium_bin2base64(out, B64_LEN(n) + 1, bin, n, sodium_base64_VARIANT_ORIGINAL);
}

/* Exactly n bytes from exactly B64_LEN(n) characters of canonical padded base64. */
static bool b64_get(uint8_t *bin, size_t n, const char *s, size_t len)
{
	size_t got = 0;
	const char *end = NULL;

	if (len != B64_LEN(n))
		return false;
	if (sodium_base642bin(bin, n, s, len, NULL, &got, &end, sodium_base64_VARIANT_ORIGINAL) != 0)
		return false;
	return got == n && end == s + len;
}

int rfs_minisign_pubkey_text(const uint8_t keyid[8], const uint8_t pk[32], const char *comment,
                             char **out)
{
	uint8_t bin[PK_BYTES];
	char b64[B64_LEN(PK_BYTES) + 1], hex[17], *text;
	size_t clen;

	*out = NULL;
	rfs_minisign_keyid_hex(keyid, hex);
	if (comment != NULL && !comment_ok(comment, strlen(comment), RFS_MINISIGN_UNTRUSTED_MAX))
		return -EINVAL;
	memcpy(bin, "Ed", 2);
	memcpy(bin + 2, keyid, RFS_MINISIGN_KEYID_SIZE);
	memcpy(bin + 2 + RFS_MINISIGN_KEYID_SIZE, pk, 32);
	b64_put(b64, bin, sizeof(bin));
	clen = comment != NULL ? strlen(comment) : strlen("minisign public key ") + 16;
	text = malloc(PREFIX_LEN(UNTRUSTED_PREFIX) + clen + 1 + sizeof(b64) + 1);
	if (text == NULL)
		return -ENOMEM;
	if (comment != NULL)
		sprintf(text, UNTRUSTED_PREFIX "%s\n%s\n", comment, b64);
	else
		sprintf(text, UNTRUSTED_PREFIX "minisign public key %s\n%s\n", hex, b64);
	*out = text;
	return 0;
}

struct line { const char *s; size_t len; };

/* Cuts text into lines: each ends in LF (a CR before it dropped), the last may not.
** Returns the count found, or -1 if there are more than max (an empty last line counts). */
static int split_lines(const char *text, size_t len, struct line *lines, int max)
{
	int n = 0;
	size_t at = 0;

	while (at < len) {
		const char *nl = memchr(text + at, '\n', len - at);
		size_t end = nl != NULL ? (size_t)(nl - text) : len;

		if (n == max)
			return -1;
		lines[n].s = text + at;
		lines[n].len = end - at;
		if (lines[n].len > 0 && lines[n].s[lines[n].len - 1] == '\r')
			lines[n].len--;
		n++;
		at = nl != NULL ? end + 1 : len;
	}
	return n;
}

/* A comment line: the prefix, then at most max bytes of one line's text. */
static bool comment_line_ok(const struct line *l, const char *prefix, size_t max)
{
	size_t n = strlen(prefix);

	return l->len >= n && memcmp(l->s, prefix, n) == 0 && comment_ok(l->s, l->len, n + max);
}

int rfs_minisign_pubkey_parse(const char *text, size_t len, uint8_t keyid[8], uint8_t pk[32])
{
	struct line l[2];
	uint8_t bin[PK_BYTES];
	int n;

	if (len > PREFIX_LEN(UNTRUSTED_PREFIX) + RFS_MINISIGN_UNTRUSTED_MAX + B64_LEN(PK_BYTES) + 4)
		return -EINVAL;
	n = split_lines(text, len, l, 2);
	if (n == 2) {
		if (!comment_line_ok(&l[0], UNTRUSTED_PREFIX, RFS_MINISIGN_UNTRUSTED_MAX))
			return -EINVAL;
		l[0] = l[1];
	} else if (n != 1) {
		return -EINVAL;
	}
	if (!b64_get(bin, sizeof(bin), l[0].s, l[0].len) || memcmp(bin, "Ed", 2) != 0)
		return -EINVAL;
	memcpy(keyid, bin + 2, RFS_MINISIGN_KEYID_SIZE);
	memcpy(pk, bin + 2 + RFS_MINISIGN_KEYID_SIZE, 32);
	return 0;
}

/* What the global signature signs: the signature, then the trusted comment. Heap, or NULL. */
static uint8_t *global_message(const uint8_t sig[64], const char *tc, size_t tlen)
{
	uint8_t *m = malloc(64 + tlen);

	if (m != NULL) {
		memcpy(m, sig, 64);
		memcpy(m + 64, tc, tlen);
	}
	return m;
}

int rfs_minisign_sign(const uint8_t sk[64], const uint8_t keyid[8], const uint8_t hash[64],
                      const char *untrusted_comment, const char *trusted_comment, char **out)
{
	const char *uc = untrusted_comment != NULL ? untrusted_comment : "signature from recfs archive key";
	const char *tc = trusted_comment != NULL ? trusted_comment : "";
	size_t ulen = strlen(uc), tlen = strlen(tc), size;
	uint8_t bin[SIG_BYTES], global[64], *signed_part;
	char sig_b64[B64_LEN(SIG_BYTES) + 1], global_b64[B64_LEN(64) + 1], *text;

	*out = NULL;
	if (!comment_ok(uc, ulen, RFS_MINISIGN_UNTRUSTED_MAX) ||
	    !comment_ok(tc, tlen, RFS_MINISIGN_TRUSTED_MAX))
		return -EINVAL;
	memcpy(bin, "ED", 2);
	memcpy(bin + 2, keyid, RFS_MINISIGN_KEYID_SIZE);
	crypto_sign_detached(bin + 2 + RFS_MINISIGN_KEYID_SIZE, NULL, hash, 64, sk);
	/* The global signature binds the trusted comment to this signature. */
	signed_part = global_message(bin + 2 + RFS_MINISIGN_KEYID_SIZE, tc, tlen);
	if (signed_part == NULL)
		return -ENOMEM;
	crypto_sign_detached(global, NULL, signed_part, 64 + tlen, sk);
	free(signed_part);
	b64_put(sig_b64, bin, sizeof(bin));
	b64_put(global_b64, global, sizeof(global));
	size = PREFIX_LEN(UNTRUSTED_PREFIX) + ulen + 1 + sizeof(sig_b64) + PREFIX_LEN(TRUSTED_PREFIX) +
	       tlen + 1 + sizeof(global_b64) + 1;
	text = malloc(size);
	if (text == NULL)
		return -ENOMEM;
	snprintf(text, size, UNTRUSTED_PREFIX "%s\n%s\n" TRUSTED_PREFIX "%s\n%s\n", uc, sig_b64, tc,
	         global_b64);
	*out = text;
	return 0;
}

int rfs_minisign_verify(const char *sig_text, size_t len, const uint8_t keyid[8], const uint8_t pk[32],
                        const uint8_t hash[64], uint8_t sig_keyid[8], char *trusted, size_t trusted_size)
{
	struct line l[4];
	uint8_t bin[SIG_BYTES], global[64], *signed_part;
	const char *tc;
	size_t tlen;
	int rc;

	if (len > SIG_TEXT_MAX || split_lines(sig_text, len, l, 4) != 4)
		return -EINVAL;
	if (!comment_line_ok(&l[0], UNTRUSTED_PREFIX, RFS_MINISIGN_UNTRUSTED_MAX) ||
	    !comment_line_ok(&l[2], TRUSTED_PREFIX, RFS_MINISIGN_TRUSTED_MAX))
		return -EINVAL;
	if (!b64_get(bin, sizeof(bin), l[1].s, l[1].len) || !b64_get(global, 64, l[3].s, l[3].len))
		return -EINVAL;
	/* "Ed" is minisign's legacy signature of the whole file: we only sign and read prehashed. */
	if (memcmp(bin, "ED", 2) != 0)
		return -EINVAL;
	if (sig_keyid != NULL)
		memcpy(sig_keyid, bin + 2, RFS_MINISIGN_KEYID_SIZE);
	if (sodium_memcmp(bin + 2, keyid, RFS_MINISIGN_KEYID_SIZE) != 0)
		return -ENOKEY;
	if (crypto_sign_verify_detached(bin + 2 + RFS_MINISIGN_KEYID_SIZE, hash, 64, pk) != 0)
		return -EBADMSG;
	tc = l[2].s + PREFIX_LEN(TRUSTED_PREFIX);
	tlen = l[2].len - PREFIX_LEN(TRUSTED_PREFIX);
	signed_part = global_message(bin + 2 + RFS_MINISIGN_KEYID_SIZE, tc, tlen);
	if (signed_part == NULL)
		return -ENOMEM;
	rc = crypto_sign_verify_detached(global, signed_part, 64 + tlen, pk) == 0 ? 0 : -EBADMSG;
	free(signed_part);
	if (rc == 0 && trusted != NULL && trusted_size > 0) {
		size_t n = tlen < trusted_size - 1 ? tlen : trusted_size - 1;

		memcpy(trusted, tc, n);
		trusted[n] = '\0';
	}
	return rc;
}
