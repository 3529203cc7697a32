/*
** age: see age.h. The age v1 format (c2sp.org/age) with X25519 recipients:
**
**   age-encryption.org/v1
**   -> X25519 <ephemeral share>      one stanza per recipient; others are skipped
**   <file key wrapped, ChaCha20-Poly1305 under HKDF(shared, share||pk, "age-encryption.org/v1/X25519")>
**   --- <HMAC-SHA256 under HKDF(file key, "", "header") of the header through "---">
**   nonce[16] | chunks of 64 KiB, ChaCha20-Poly1305 under HKDF(file key, nonce, "payload"),
**   chunk nonce = 11-byte big-endian counter | last flag
**
** libsodium 1.0.18 has no HKDF: it is built here from crypto_auth_hmacsha256 (RFC 5869).
** Owns: the file key, wrap keys and payload key, all in sodium_malloc memory (secmem.h).
** Must never: release a chunk's plaintext before its tag checked, end a file
** without its last chunk, or write a key or identity to a message.
*/
#include "crypto/age.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/secmem.h"

#define MAGIC_LEN (sizeof(RFS_AGE_MAGIC) - 1)
#define FILE_KEY 16u
#define KEY 32u
#define TAG crypto_aead_chacha20poly1305_ietf_ABYTES
#define CHUNK 65536u
#define STREAM_NONCE 16u
#define B64_32 43u                     /* unpadded base64 of 32 bytes */
#define BODY_COLUMNS 64u
#define LINE_MAX_LEN 4096u             /* a stanza's argument line */
#define HEADER_MAX (1024u * 1024u)
#define STANZAS_MAX 256u
#define IDENTITY_FILE_MAX (1024u * 1024u)
#define IDENTITIES_MAX 1024u

static const char X25519_INFO[] = "age-encryption.org/v1/X25519";
static const char RECIPIENT_HRP[] = "age";
static const char IDENTITY_HRP[] = "AGE-SECRET-KEY-";

_Static_assert(TAG == 16, "Poly1305 tag");
_Static_assert(crypto_aead_chacha20poly1305_ietf_NPUBBYTES == 12, "IETF nonce");
_Static_assert(crypto_scalarmult_BYTES == KEY && crypto_scalarmult_SCALARBYTES == KEY, "X25519");

/* Everything secret that one operation needs, in one sodium_malloc block. */
struct secrets {
	_Alignas(16) crypto_auth_hmacsha256_state hmac;
	_Alignas(16) uint8_t file_key[FILE_KEY];
	uint8_t eph[KEY];                  /* writer: ephemeral secret; reader: identity tried */
	uint8_t shared[KEY];
	uint8_t prk[KEY];
	uint8_t wrap[KEY];
	uint8_t mac_key[KEY];
};

static struct secrets *secrets_new(void)
{
	struct secrets *s = rfs_secmem_alloc(sizeof(*s));

	if (s != NULL)
		rfs_secmem_wipe(s, sizeof(*s));
	return s;
}

/* rfs_secmem_free wipes before it frees. */
static void secrets_free(struct secrets *s)
{
	rfs_secmem_free(s);
}

/* HKDF-SHA256 (RFC 5869) with 32 bytes of output: one Expand block. An empty
** salt is HashLen zeros, which HMAC pads exactly as it pads an empty key. */
static void hkdf(uint8_t out[KEY], const uint8_t *salt, size_t saltlen, const uint8_t *ikm,
                 size_t ikmlen, const char *info, struct secrets *s)
{
	static const uint8_t zeros[KEY];
	static const uint8_t one = 1;

	if (saltlen == 0) {
		salt = zeros;
		saltlen = sizeof zeros;
	}
	crypto_auth_hmacsha256_init(&s->hmac, salt, saltlen);
	crypto_auth_hmacsha256_update(&s->hmac, ikm, ikmlen);
	crypto_auth_hmacsha256_final(&s->hmac, s->prk);
	crypto_auth_hmacsha256_init(&s->hmac, s->prk, KEY);
	crypto_auth_hmacsha256_update(&s->hmac, (const uint8_t *)info, strlen(info));
	crypto_auth_hmacsha256_update(&s->hmac, &one, 1);
	crypto_auth_hmacsha256_final(&s->hmac, out);
	rfs_secmem_wipe(s->prk, KEY);
	rfs_secmem_wipe(&s->hmac, sizeof(s->hmac));
}

/* The header's MAC: HMAC-SHA256 under HKDF(file key, "", "header"). */
static void header_mac(uint8_t mac[KEY], const void *hdr, size_t len, struct secrets *s)
{
	hkdf(s->mac_key, NULL, 0, s->file_key, FILE_KEY, "header", s);
	crypto_auth_hmacsha256_init(&s->hmac, s->mac_key, KEY);
	crypto_auth_hmacsha256_update(&s->hmac, hdr, len);
	crypto_auth_hmacsha256_final(&s->hmac, mac);
	rfs_secmem_wipe(s->mac_key, KEY);
	rfs_secmem_wipe(&s->hmac, sizeof(s->hmac));
}

static void chunk_nonce(uint8_t nonce[12], uint64_t counter, bool last)
{
	memset(nonce, 0, 12);
	for (int i = 10; i >= 3; i--, counter >>= 8)
		nonce[i] = (uint8_t)counter;
	nonce[11] = last ? 1 : 0;
}

/* Canonical unpadded standard base64 (libsodium rejects non-zero trailing bits). */
static long b64_decode(uint8_t *out, size_t outsz, const char *in, size_t len)
{
	size_t got = 0;
	const char *end = NULL;

	if (sodium_base642bin(out, outsz, in, len, NULL, &got, &end,
	                      sodium_base64_VARIANT_ORIGINAL_NO_PADDING) != 0 || end != in + len)
		return -EINVAL;
	return (long)got;
}

static void b64_encode(char *out, size_t outsz, const uint8_t *in, size_t n)
{
	sodium_bin2base64(out, outsz, in, n, sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
}

/* ---- Bech32 (BIP 173; age uses it without the 90-character limit) ---- */

static const char BECH32_CHARSET[] = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";

static uint32_t bech32_polymod_step(uint32_t chk, unsigned v)
{
	static const uint32_t gen[5] = { 0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3 };
	uint32_t top = chk >> 25;

	chk = ((chk & 0x1ffffff) << 5) ^ v;
	for (int i = 0; i < 5; i++)
		if ((top >> i) & 1)
			chk ^= gen[i];
	return chk;
}

static uint32_t bech32_hrp_polymod(const char *hrp, size_t len)
{
	uint32_t chk = 1;

	for (size_t i = 0; i < len; i++)
		chk = bech32_polymod_step(chk, (unsigned)(hrp[i] | 0x20) >> 5);
	chk = bech32_polymod_step(chk, 0);
	for (size_t i = 0; i < len; i++)
		chk = bech32_polymod_step(chk, (unsigned)(hrp[i] | 0x20) & 31);
	return chk;
}

static int bech32_value(char c)
{
	const char *p;

	if (c >= 'A' && c <= 'Z')
		c = (char)(c - 'A' + 'a');
	p = c != '\0' ? strchr(BECH32_CHARSET, c) : NULL;
	return p != NULL ? (int)(p - BECH32_CHARSET) : -1;
}

/* Decode len characters of Bech32 with human-readable part hrp (compared
** case-insensitively; the case of the whole text is checked by the caller)
** into exactly outlen bytes, written straight into out (which may be secret
** memory). 0 or -EINVAL: wrong prefix, bad character, bad checksum, padding. */
static int bech32_decode(const char *text, size_t len, const char *hrp, uint8_t *out, size_t outlen)
{
	size_t hlen = strlen(hrp), o = 0;
	uint32_t chk, acc = 0;
	unsigned bits = 0;
	int rc = 0;

	if (len < hlen + 1 + 6 || len > 256 || strncasecmp(text, hrp, hlen) != 0 || text[hlen] != '1')
		return -EINVAL;
	if ((len - hlen - 1 - 6) * 5 / 8 != outlen)
		return -EINVAL;
	chk = bech32_hrp_polymod(text, hlen);
	for (size_t i = hlen + 1; i < len; i++) {
		int v = bech32_value(text[i]);
		if (v < 0) {
			rc = -EINVAL;
			break;
		}
		chk = bech32_polymod_step(chk, (unsigned)v);
		if (i >= len - 6)
			continue;
		acc = (acc << 5 | (uint32_t)v) & 0xfff;
		bits += 5;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	/* Leftover bits are padding: fewer than 5, and zero. */
	if (rc == 0 && (chk != 1 || o != outlen || bits >= 5 || (acc & ((1u << bits) - 1)) != 0))
		rc = -EINVAL;
	if (rc != 0)
		rfs_secmem_wipe(out, outlen);
	rfs_secmem_wipe(&acc, sizeof acc);
	return rc;
}

/* Lower-case Bech32 of n bytes; out holds hrp + "1" + ceil(8n/5) + 6 + NUL. */
static void bech32_encode(char *out, const char *hrp, const uint8_t *in, size_t n)
{
	size_t hlen = strlen(hrp), o = 0;
	uint32_t chk = bech32_hrp_polymod(hrp, hlen), acc = 0;
	unsigned bits = 0;

	for (size_t i = 0; i < hlen; i++)
		out[o++] = (char)(hrp[i] | 0x20);
	out[o++] = '1';
	for (size_t i = 0; i < n; i++) {
		acc = (acc << 8 | in[i]) & 0xfff;
		bits += 8;
		while (bits >= 5) {
			bits -= 5;
			unsigned v = (acc >> bits) & 31;
			chk = bech32_polymod_step(chk, v);
			out[o++] = BECH32_CHARSET[v];
		}
	}
	if (bits > 0) {
		unsigned v = (acc << (5 - bits)) & 31;
		chk = bech32_polymod_step(chk, v);
		out[o++] = BECH32_CHARSET[v];
	}
	for (int i = 0; i < 6; i++)
		chk = bech32_polymod_step(chk, 0);
	chk ^= 1;
	for (int i = 0; i < 6; i++)
		out[o++] = BECH32_CHARSET[(chk >> (5 * (5 - i))) & 31];
	out[o] = '\0';
}

/* Bech32 is all lower or all upper case, never mixed. */
static bool text_case(const char *s, size_t len, bool *upper)
{
	bool lo = false, up = false;

	for (size_t i = 0; i < len; i++) {
		lo |= s[i] >= 'a' && s[i] <= 'z';
		up |= s[i] >= 'A' && s[i] <= 'Z';
	}
	*upper = up;
	return !(lo && up);
}

bool rfs_age_looks_encrypted(const void *head, size_t n)
{
	return n >= MAGIC_LEN && memcmp(head, RFS_AGE_MAGIC, MAGIC_LEN) == 0;
}

int rfs_age_recipient_parse(const char *text, uint8_t pk[32])
{
	size_t len = text != NULL ? strlen(text) : 0;
	bool upper;

	if (len == 0 || !text_case(text, len, &upper))
		return -EINVAL;
	return bech32_decode(text, len, RECIPIENT_HRP, pk, KEY);
}

void rfs_age_recipient_format(const uint8_t pk[32], char out[RFS_AGE_RECIPIENT_LEN + 1])
{
	bech32_encode(out, RECIPIENT_HRP, pk, KEY);
}

/* ---- Identities ---- */

struct rfs_age_identities {
	size_t n;
	uint8_t *keys;                     /* sodium_malloc: n x (secret[32] | public[32]) */
};

void rfs_age_identities_free(struct rfs_age_identities *ids)
{
	if (ids == NULL)
		return;
	rfs_secmem_free(ids->keys);
	free(ids);
}

size_t rfs_age_identities_count(const struct rfs_age_identities *ids)
{
	return ids != NULL ? ids->n : 0;
}

int rfs_age_identity_recipient(const struct rfs_age_identities *ids, size_t i, uint8_t pk[32])
{
	if (ids == NULL || i >= ids->n)
		return -EINVAL;
	memcpy(pk, ids->keys + i * 2 * KEY + KEY, KEY);
	return 0;
}

/* The next line of text[*pos..len), trimmed of spaces, tabs and CR. */
static void next_line(const char *text, size_t len, size_t *pos, const char **line, size_t *llen)
{
	size_t b = *pos, e;

	while (*pos < len && text[*pos] != '\n')
		(*pos)++;
	e = *pos;
	if (*pos < len)
		(*pos)++;
	while (b < e && (text[b] == ' ' || text[b] == '\t' || text[b] == '\r'))
		b++;
	while (e > b && (text[e - 1] == ' ' || text[e - 1] == '\t' || text[e - 1] == '\r'))
		e--;
	*line = text + b;
	*llen = e - b;
}

static bool key_line(const char *line, size_t llen)
{
	return llen > 0 && line[0] != '#';
}

/* Parse an identity file's text. On a bad line, *bad_line is its number and
** *why says what is wrong with it (never quoting it). */
static int identities_parse(const char *text, size_t len, struct rfs_age_identities **out,
                            size_t *bad_line, const char **why)
{
	struct rfs_age_identities *ids;
	const char *line;
	size_t pos = 0, llen, n = 0, lineno = 0;

	*out = NULL;
	*bad_line = 0;
	*why = "no identity in it";
	if (sodium_init() < 0)
		return -EIO;
	while (pos < len) {
		next_line(text, len, &pos, &line, &llen);
		n += key_line(line, llen);
	}
	if (n == 0)
		return -EINVAL;
	if (n > IDENTITIES_MAX) {
		*why = "more than 1024 identities";
		return -EINVAL;
	}
	ids = calloc(1, sizeof(*ids));
	if (ids == NULL || (ids->keys = rfs_secmem_alloc(n * 2 * KEY)) == NULL) {
		free(ids);
		return -ENOMEM;
	}
	for (pos = 0; pos < len;) {
		uint8_t *k = ids->keys + ids->n * 2 * KEY;
		bool upper;

		next_line(text, len, &pos, &line, &llen);
		lineno++;
		if (!key_line(line, llen))
			continue;
		if (llen > 4 && strncmp(line, "age1", 4) == 0)
			*why = "is a recipient (a public key, age1...), not an identity: give the file age-keygen wrote";
		else if (llen > 11 && strncmp(line, "AGE-PLUGIN-", 11) == 0)
			*why = "is a plugin identity, which recfs cannot use";
		else if (!text_case(line, llen, &upper) || !upper ||
		         bech32_decode(line, llen, IDENTITY_HRP, k, KEY) != 0)
			*why = "is not an age X25519 identity (AGE-SECRET-KEY-1...), or its checksum is wrong";
		else {
			crypto_scalarmult_base(k + KEY, k);
			ids->n++;
			continue;
		}
		*bad_line = lineno;
		rfs_age_identities_free(ids);
		return -EINVAL;
	}
	*out = ids;
	return 0;
}

int rfs_age_identities_parse(const char *text, size_t len, struct rfs_age_identities **out)
{
	size_t bad;
	const char *why;

	return identities_parse(text, len, out, &bad, &why);
}

int rfs_age_identities_read(const char *path, struct rfs_age_identities **out, char *err, size_t errsz)
{
	char *text = NULL;
	size_t len = 0, bad = 0;
	const char *why = NULL;
	struct stat st;
	int fd, rc = 0;

	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errsz, "%s: cannot open the identity file: %s", path, strerror(-rc));
		return rc;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > (off_t)IDENTITY_FILE_MAX) {
		rc = -EINVAL;
		snprintf(err, errsz, "%s: not an identity file (a regular file of at most 1 MiB)", path);
		goto out;
	}
	text = rfs_secmem_alloc((size_t)st.st_size + 1);
	if (text == NULL) {
		rc = -ENOMEM;
		snprintf(err, errsz, "%s: out of locked memory for the identities", path);
		goto out;
	}
	while (len <= (size_t)st.st_size) {
		ssize_t got = read(fd, text + len, (size_t)st.st_size + 1 - len);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			rc = -errno;
			snprintf(err, errsz, "%s: cannot read the identity file: %s", path, strerror(-rc));
			goto out;
		}
		if (got == 0)
			break;
		len += (size_t)got;
	}
	if (len > (size_t)st.st_size) {
		rc = -EINVAL;
		snprintf(err, errsz, "%s: the identity file grew while it was read", path);
		goto out;
	}
	rc = identities_parse(text, len, out, &bad, &why);
	if (rc == -EINVAL && bad > 0)
		snprintf(err, errsz, "%s:%zu: the line %s", path, bad, why);
	else if (rc == -EINVAL)
		snprintf(err, errsz, "%s: %s (expected age-keygen's output, AGE-SECRET-KEY-1...)", path, why);
	else if (rc != 0)
		snprintf(err, errsz, "%s: cannot hold the identities: %s", path, strerror(-rc));
out:
	rfs_secmem_free(text);
	close(fd);
	return rc;
}

/* ---- Writer ---- */

struct rfs_age_writer {
	rfs_age_sink sink;
	void *arg;
	uint8_t *payload_key;              /* sodium_malloc */
	uint8_t *buf;                      /* one chunk and its tag; encrypted in place */
	size_t len;
	uint64_t counter;
	int err;
};

static void writer_free(struct rfs_age_writer *w)
{
	if (w == NULL)
		return;
	rfs_secmem_free(w->payload_key);
	if (w->buf != NULL) {
		rfs_secmem_wipe(w->buf, CHUNK + TAG);
		free(w->buf);
	}
	free(w);
}

/* One X25519 stanza for recipient pk, appended to hdr at *len. */
static int x25519_stanza(char *hdr, size_t *len, const uint8_t pk[KEY], struct secrets *s)
{
	static const uint8_t zero_nonce[12];
	uint8_t share[KEY], salt[2 * KEY], body[FILE_KEY + TAG];
	char share64[B64_32 + 1], body64[B64_32 + 1];

	randombytes_buf(s->eph, KEY);
	crypto_scalarmult_base(share, s->eph);
	if (crypto_scalarmult(s->shared, s->eph, pk) != 0) {
		rfs_secmem_wipe(s->eph, KEY);
		return -EINVAL;        /* a low-order point: no shared secret */
	}
	memcpy(salt, share, KEY);
	memcpy(salt + KEY, pk, KEY);
	hkdf(s->wrap, salt, sizeof salt, s->shared, KEY, X25519_INFO, s);
	crypto_aead_chacha20poly1305_ietf_encrypt(body, NULL, s->file_key, FILE_KEY, NULL, 0, NULL,
	                                          zero_nonce, s->wrap);
	rfs_secmem_wipe(s->eph, KEY);
	rfs_secmem_wipe(s->shared, KEY);
	rfs_secmem_wipe(s->wrap, KEY);
	b64_encode(share64, sizeof share64, share, KEY);
	b64_encode(body64, sizeof body64, body, sizeof body);
	*len += (size_t)sprintf(hdr + *len, "-> X25519 %s\n%s\n", share64, body64);
	return 0;
}

int rfs_age_writer_start(const uint8_t (*recipients)[32], size_t n, rfs_age_sink sink, void *arg,
                         struct rfs_age_writer **out)
{
	struct rfs_age_writer *w = NULL;
	struct secrets *s = NULL;
	uint8_t mac[KEY], nonce[STREAM_NONCE];
	char *hdr = NULL, mac64[B64_32 + 1];
	size_t len = 0;
	int rc;

	*out = NULL;
	if (n == 0 || n > STANZAS_MAX || recipients == NULL || sink == NULL)
		return -EINVAL;
	if (sodium_init() < 0)
		return -EIO;
	w = calloc(1, sizeof(*w));
	s = secrets_new();
	hdr = malloc(MAGIC_LEN + n * 100 + 64);
	if (w == NULL || s == NULL || hdr == NULL || (w->buf = malloc(CHUNK + TAG)) == NULL ||
	    (w->payload_key = rfs_secmem_alloc(KEY)) == NULL) {
		rc = -ENOMEM;
		goto fail;
	}
	w->sink = sink;
	w->arg = arg;
	randombytes_buf(s->file_key, FILE_KEY);
	memcpy(hdr, RFS_AGE_MAGIC, MAGIC_LEN);
	len = MAGIC_LEN;
	for (size_t i = 0; i < n; i++)
		if ((rc = x25519_stanza(hdr, &len, recipients[i], s)) != 0)
			goto fail;
	memcpy(hdr + len, "---", 3);
	len += 3;
	header_mac(mac, hdr, len, s);
	b64_encode(mac64, sizeof mac64, mac, KEY);
	len += (size_t)sprintf(hdr + len, " %s\n", mac64);
	randombytes_buf(nonce, sizeof nonce);
	hkdf(w->payload_key, nonce, sizeof nonce, s->file_key, FILE_KEY, "payload", s);
	secrets_free(s);
	s = NULL;
	if ((rc = sink(arg, hdr, len)) != 0 || (rc = sink(arg, nonce, sizeof nonce)) != 0)
		goto fail;
	free(hdr);
	*out = w;
	return 0;
fail:
	secrets_free(s);
	free(hdr);
	writer_free(w);
	return rc;
}

static int writer_flush(struct rfs_age_writer *w, bool last)
{
	uint8_t nonce[12];
	int rc;

	chunk_nonce(nonce, w->counter, last);
	crypto_aead_chacha20poly1305_ietf_encrypt(w->buf, NULL, w->buf, w->len, NULL, 0, NULL,
	                                          nonce, w->payload_key);
	rc = w->sink(w->arg, w->buf, w->len + TAG);
	w->counter++;
	w->len = 0;
	return rc;
}

int rfs_age_writer_write(struct rfs_age_writer *w, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	if (w->err != 0)
		return w->err;
	while (len > 0) {
		size_t take;

		/* A full chunk waits until more data comes: the last one carries the flag. */
		if (w->len == CHUNK && (w->err = writer_flush(w, false)) != 0)
			return w->err;
		take = CHUNK - w->len < len ? CHUNK - w->len : len;
		memcpy(w->buf + w->len, p, take);
		w->len += take;
		p += take;
		len -= take;
	}
	return 0;
}

int rfs_age_writer_finish(struct rfs_age_writer *w)
{
	int rc = w->err;

	if (rc == 0)
		rc = writer_flush(w, true);
	writer_free(w);
	return rc;
}

void rfs_age_writer_abort(struct rfs_age_writer *w)
{
	writer_free(w);
}

/* ---- Reader ---- */

struct rfs_age_reader {
	rfs_age_source src;
	void *arg;
	uint8_t *payload_key;              /* sodium_malloc; derived once the nonce is read */
	uint8_t *file_key;                 /* sodium_malloc; wiped once payload_key is made */
	uint8_t *in;                       /* ciphertext: one chunk, its tag, one byte ahead */
	size_t in_pos, in_len;
	bool eof;
	uint8_t *pt;                       /* the current chunk's authenticated plaintext */
	size_t pt_pos, pt_len;
	uint64_t counter;
	bool started, done;
	int end;                           /* once done: 0, or -EPIPE for a cut after a chunk */
	int err;                           /* sticky */
};

#define IN_SIZE (CHUNK + TAG + 1)

void rfs_age_reader_free(struct rfs_age_reader *r)
{
	if (r == NULL)
		return;
	rfs_secmem_free(r->payload_key);
	rfs_secmem_free(r->file_key);
	free(r->in);
	if (r->pt != NULL) {
		rfs_secmem_wipe(r->pt, CHUNK);
		free(r->pt);
	}
	free(r);
}

/* Top up r->in to hold IN_SIZE bytes from r->in_pos on, or all that is left. */
static int reader_fill(struct rfs_age_reader *r)
{
	if (r->in_pos > 0) {
		memmove(r->in, r->in + r->in_pos, r->in_len - r->in_pos);
		r->in_len -= r->in_pos;
		r->in_pos = 0;
	}
	while (!r->eof && r->in_len < IN_SIZE) {
		ssize_t got = r->src(r->arg, r->in + r->in_len, IN_SIZE - r->in_len);
		if (got < 0)
			return (int)got;
		if (got == 0)
			r->eof = true;
		r->in_len += (size_t)got;
	}
	return 0;
}

/* One header line (without its LF) appended to hdr, at most max bytes. */
static int header_line(struct rfs_age_reader *r, char *hdr, size_t *hlen, size_t max,
                       const char **line, size_t *llen)
{
	size_t start = *hlen;

	for (;;) {
		uint8_t c;
		int rc;

		if (r->in_pos == r->in_len) {
			if ((rc = reader_fill(r)) != 0)
				return rc;
			if (r->in_len == 0)
				return -EBADMSG;       /* the header ends before its MAC */
		}
		c = r->in[r->in_pos++];
		if (*hlen >= HEADER_MAX || *hlen - start > max)
			return -EBADMSG;
		hdr[(*hlen)++] = (char)c;
		if (c == '\n')
			break;
		if (c < 0x20 || c > 0x7e)
			return -EBADMSG;           /* the header is ASCII text */
	}
	*line = hdr + start;
	*llen = *hlen - start - 1;
	return 0;
}

struct x25519_stanza {
	uint8_t share[KEY];
	uint8_t body[FILE_KEY + TAG];
};

/* Split "-> a b c" into its arguments (pointers into line). -EBADMSG unless
** each is 1*VCHAR separated by single spaces. */
static int stanza_args(const char *line, size_t llen, const char *arg[3], size_t alen[3], size_t *nargs)
{
	size_t i = 3, n = 0;

	if (llen <= 3)
		return -EBADMSG;
	while (i <= llen) {
		size_t b = i;
		while (i < llen && line[i] != ' ')
			i++;
		if (i == b)
			return -EBADMSG;           /* an empty argument: two spaces, or one at the end */
		if (n < 3) {
			arg[n] = line + b;
			alen[n] = i - b;
		}
		n++;
		i++;
	}
	*nargs = n;
	return 0;
}

/* Reads the header into hdr (HEADER_MAX bytes) and its X25519 stanzas; checks
** its syntax. *mac_at: the length of the header through "---". */
static int header_read(struct rfs_age_reader *r, char *hdr, struct x25519_stanza *xs, size_t *nx,
                       size_t *mac_at, uint8_t mac[KEY])
{
	size_t hlen = 0, llen, stanzas = 0;
	bool scrypt = false;
	const char *line;
	int rc;

	*nx = 0;
	if ((rc = header_line(r, hdr, &hlen, MAGIC_LEN, &line, &llen)) != 0)
		return rc;
	if (hlen != MAGIC_LEN || memcmp(hdr, RFS_AGE_MAGIC, MAGIC_LEN) != 0)
		return -EBADMSG;
	for (;;) {
		const char *arg[3];
		size_t alen[3], nargs, blen = 0;
		bool x25519, body_ok = true;
		uint8_t body[48 + 1];

		if ((rc = header_line(r, hdr, &hlen, LINE_MAX_LEN, &line, &llen)) != 0)
			return rc;
		if (llen >= 4 && memcmp(line, "--- ", 4) == 0)
			break;
		if (llen < 3 || memcmp(line, "-> ", 3) != 0 || stanzas == STANZAS_MAX)
			return -EBADMSG;
		if ((rc = stanza_args(line, llen, arg, alen, &nargs)) != 0)
			return rc;
		stanzas++;
		x25519 = alen[0] == 6 && memcmp(arg[0], "X25519", 6) == 0;
		scrypt |= alen[0] == 6 && memcmp(arg[0], "scrypt", 6) == 0;
		if (x25519 && (nargs != 2 || alen[1] != B64_32 ||
		               b64_decode(xs[*nx].share, KEY, arg[1], alen[1]) != KEY))
			return -EBADMSG;
		/* The body: full lines of 64 columns, then one shorter line (maybe empty). */
		do {
			long got;

			if ((rc = header_line(r, hdr, &hlen, BODY_COLUMNS, &line, &llen)) != 0)
				return rc;
			if (llen > BODY_COLUMNS)
				return -EBADMSG;
			got = b64_decode(body, sizeof body, line, llen);
			if (got < 0)
				return -EBADMSG;
			if (x25519 && blen + (size_t)got <= sizeof(xs[*nx].body))
				memcpy(xs[*nx].body + blen, body, (size_t)got);
			else if (x25519)
				body_ok = false;
			blen += (size_t)got;
		} while (llen == BODY_COLUMNS);
		if (x25519 && (!body_ok || blen != sizeof(xs[*nx].body)))
			return -EBADMSG;           /* checked before any decryption (partitioning oracles) */
		*nx += x25519;
	}
	if (stanzas == 0 || (scrypt && stanzas > 1))
		return -EBADMSG;               /* scrypt must stand alone (c2sp.org/age) */
	*mac_at = hlen - llen - 1 + 3;
	if (llen != 4 + B64_32 || b64_decode(mac, KEY, line + 4, B64_32) != KEY)
		return -EBADMSG;
	return 0;
}

/* Try every identity on every X25519 stanza: 0 with s->file_key set, -ENOKEY, -EBADMSG. */
static int unwrap(const struct rfs_age_identities *ids, const struct x25519_stanza *xs, size_t nx,
                  struct secrets *s)
{
	static const uint8_t zero_nonce[12];
	uint8_t salt[2 * KEY];

	for (size_t i = 0; i < ids->n; i++) {
		const uint8_t *sk = ids->keys + i * 2 * KEY, *pk = sk + KEY;

		for (size_t j = 0; j < nx; j++) {
			int ok;

			if (crypto_scalarmult(s->shared, sk, xs[j].share) != 0)
				return -EBADMSG;   /* a low-order share: the spec says abort */
			memcpy(salt, xs[j].share, KEY);
			memcpy(salt + KEY, pk, KEY);
			hkdf(s->wrap, salt, sizeof salt, s->shared, KEY, X25519_INFO, s);
			ok = crypto_aead_chacha20poly1305_ietf_decrypt(s->file_key, NULL, NULL, xs[j].body,
			                                               sizeof(xs[j].body), NULL, 0,
			                                               zero_nonce, s->wrap) == 0;
			rfs_secmem_wipe(s->shared, KEY);
			rfs_secmem_wipe(s->wrap, KEY);
			if (ok)
				return 0;
		}
	}
	return -ENOKEY;
}

int rfs_age_reader_start(const struct rfs_age_identities *ids, rfs_age_source src, void *arg,
                         struct rfs_age_reader **out)
{
	struct rfs_age_reader *r = NULL;
	struct x25519_stanza *xs = NULL;
	struct secrets *s = NULL;
	char *hdr = NULL;
	uint8_t mac[KEY], want[KEY];
	size_t nx = 0, mac_at = 0;
	int rc;

	*out = NULL;
	if (src == NULL)
		return -EINVAL;
	if (sodium_init() < 0)
		return -EIO;
	r = calloc(1, sizeof(*r));
	hdr = malloc(HEADER_MAX);
	xs = malloc(STANZAS_MAX * sizeof(*xs));
	s = secrets_new();
	if (r == NULL || hdr == NULL || xs == NULL || s == NULL || (r->in = malloc(IN_SIZE)) == NULL ||
	    (r->pt = malloc(CHUNK)) == NULL || (r->file_key = rfs_secmem_alloc(FILE_KEY)) == NULL ||
	    (r->payload_key = rfs_secmem_alloc(KEY)) == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	r->src = src;
	r->arg = arg;
	if ((rc = header_read(r, hdr, xs, &nx, &mac_at, mac)) != 0)
		goto out;
	if (ids == NULL || ids->n == 0) {
		rc = -ENOKEY;
		goto out;
	}
	if ((rc = unwrap(ids, xs, nx, s)) != 0)
		goto out;
	header_mac(want, hdr, mac_at, s);
	if (sodium_memcmp(want, mac, KEY) != 0) {
		rc = -EBADMSG;
		goto out;
	}
	memcpy(r->file_key, s->file_key, FILE_KEY);
out:
	secrets_free(s);
	free(xs);
	free(hdr);
	if (rc != 0)
		rfs_age_reader_free(r);
	else
		*out = r;
	return rc;
}

/* Reads the stream nonce and derives the payload key. */
static int reader_begin(struct rfs_age_reader *r)
{
	struct secrets *s;
	int rc;

	if ((rc = reader_fill(r)) != 0)
		return rc;
	if (r->in_len - r->in_pos < STREAM_NONCE)
		return -EPIPE;
	if ((s = secrets_new()) == NULL)
		return -ENOMEM;
	hkdf(r->payload_key, r->in + r->in_pos, STREAM_NONCE, r->file_key, FILE_KEY, "payload", s);
	secrets_free(s);
	rfs_secmem_wipe(r->file_key, FILE_KEY);
	r->in_pos += STREAM_NONCE;
	r->started = true;
	return 0;
}

static bool chunk_open(struct rfs_age_reader *r, size_t clen, bool last)
{
	uint8_t nonce[12];

	chunk_nonce(nonce, r->counter, last);
	return crypto_aead_chacha20poly1305_ietf_decrypt(r->pt, NULL, NULL, r->in + r->in_pos, clen,
	                                                 NULL, 0, nonce, r->payload_key) == 0;
}

/* Authenticates the next chunk into r->pt. A chunk is the last when nothing
** follows it: so one byte past a full chunk is read to know. */
static int reader_next_chunk(struct rfs_age_reader *r)
{
	size_t avail;
	int rc;

	if ((rc = reader_fill(r)) != 0)
		return rc;
	avail = r->in_len - r->in_pos;
	if (avail == 0)
		return -EPIPE;                 /* no last chunk */
	if (avail > CHUNK + TAG) {
		if (!chunk_open(r, CHUNK + TAG, false))
			return -EBADMSG;
		r->pt_len = CHUNK;
		r->in_pos += CHUNK + TAG;
		r->counter++;
		return 0;
	}
	if (avail < TAG)
		return -EPIPE;                 /* less than a tag: cut inside the last chunk */
	if (!chunk_open(r, avail, true)) {
		/* A full chunk that opens as a middle one: authentic, but the file was
		** cut after it. Its bytes come out; then the end says so. */
		if (avail != CHUNK + TAG || !chunk_open(r, avail, false))
			return -EBADMSG;
		r->end = -EPIPE;
	}
	if (avail == TAG && r->counter > 0)
		return -EBADMSG;               /* an empty last chunk is only for an empty payload */
	r->pt_len = avail - TAG;
	r->in_pos += avail;
	r->counter++;
	r->done = true;
	return 0;
}

ssize_t rfs_age_reader_read(struct rfs_age_reader *r, void *buf, size_t len)
{
	size_t n;

	if (r->err != 0)
		return r->err;
	if (len == 0)
		return 0;
	if (len > SSIZE_MAX)
		len = SSIZE_MAX;
	while (r->pt_pos == r->pt_len) {
		if (r->done)
			return r->end;
		r->pt_pos = r->pt_len = 0;
		if ((!r->started && (r->err = reader_begin(r)) != 0) ||
		    (r->err = reader_next_chunk(r)) != 0)
			return r->err;
	}
	n = r->pt_len - r->pt_pos < len ? r->pt_len - r->pt_pos : len;
	memcpy(buf, r->pt + r->pt_pos, n);
	r->pt_pos += n;
	return (ssize_t)n;
}
