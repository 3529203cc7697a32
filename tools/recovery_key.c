/*
** recovery_key: the recovery key's grouped form and its check (see recovery_key.h).
**
** The check group is the first 20 bits of BLAKE2b-64 of the canonical text, keyed by nothing,
** in the same alphabet: it catches a mistyped or swapped character before any unlock is
** tried. Must never: print or log the key, or copy it to memory that is not wiped.
*/
#include "tools/recovery_key.h"

#include <errno.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define GROUP 4
#define CHECK_CHARS 4
#define TYPED_CHARS (RFS_RECOVERY_KEY_CHARS + CHECK_CHARS)

static const char alphabet[33] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

static struct rfs_secret *secret_new(void)
{
	struct rfs_secret *s = sodium_malloc(sizeof(*s));

	if (s)
		sodium_memzero(s, sizeof(*s));
	return s;
}

/* n bytes of in as base32 (no padding) into out; returns the characters written. */
static size_t base32(char *out, const uint8_t *in, size_t n)
{
	uint32_t acc = 0;
	int bits = 0;
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		acc = (acc << 8) | in[i];
		bits += 8;
		while (bits >= 5) {
			out[o++] = alphabet[(acc >> (bits - 5)) & 31];
			bits -= 5;
		}
	}
	if (bits > 0)
		out[o++] = alphabet[(acc << (5 - bits)) & 31];
	acc = 0;
	return o;
}

static void check_group(const char *canon, char out[CHECK_CHARS])
{
	uint8_t h[8];
	char tmp[16];

	crypto_generichash(h, sizeof(h), (const uint8_t *)canon, RFS_RECOVERY_KEY_CHARS, NULL, 0);
	base32(tmp, h, 3);                  /* 24 bits: the first 20 are the check */
	memcpy(out, tmp, CHECK_CHARS);
}

int rfs_recovery_key_generate(struct rfs_secret **canon, struct rfs_secret **grouped)
{
	struct rfs_secret *c = secret_new(), *g = secret_new();
	uint8_t *key = sodium_malloc(32);
	char check[CHECK_CHARS];

	*canon = *grouped = NULL;
	if (!c || !g || !key) {
		rfs_secret_free(c);
		rfs_secret_free(g);
		sodium_free(key);
		return -ENOMEM;
	}
	randombytes_buf(key, 32);
	c->len = base32(c->text, key, 32);
	sodium_free(key);
	check_group(c->text, check);
	for (size_t i = 0; i < TYPED_CHARS; i++) {
		if (i > 0 && i % GROUP == 0)
			g->text[g->len++] = '-';
		g->text[g->len++] = i < RFS_RECOVERY_KEY_CHARS ? c->text[i]
		                                               : check[i - RFS_RECOVERY_KEY_CHARS];
	}
	*canon = c;
	*grouped = g;
	return 0;
}

/* The alphabet's character for what a person typed, or 0. */
static char normal(char ch)
{
	if (ch >= 'a' && ch <= 'z')
		ch = (char)(ch - 'a' + 'A');
	if (ch == '0')
		return 'O';
	if (ch == '1')
		return 'I';
	if (ch == '8')
		return 'B';
	return ch && strchr(alphabet, ch) ? ch : 0;
}

int rfs_recovery_key_parse(const char *typed, size_t len, struct rfs_secret **canon, char *err,
                           size_t errsz)
{
	struct rfs_secret *c = secret_new();
	char check[CHECK_CHARS];
	size_t n = 0;

	*canon = NULL;
	if (!c) {
		snprintf(err, errsz, "out of locked memory for the recovery key");
		return -ENOMEM;
	}
	for (size_t i = 0; i < len; i++) {
		char ch = normal(typed[i]);

		if (typed[i] == ' ' || typed[i] == '-' || typed[i] == '\t')
			continue;
		if (!ch)
			snprintf(err, errsz, "the recovery key holds a character that is not A-Z or 2-7 "
			         "(in group %zu)", n / GROUP + 1);
		else if (n == TYPED_CHARS)
			snprintf(err, errsz, "the recovery key is too long: it has %d groups of %d "
			         "characters", TYPED_CHARS / GROUP, GROUP);
		if (!ch || n == TYPED_CHARS) {
			rfs_secret_free(c);
			return -EINVAL;
		}
		c->text[n++] = ch;
	}
	if (n != TYPED_CHARS) {
		snprintf(err, errsz, "the recovery key is too short: it has %d groups of %d characters, "
		         "this has %zu characters", TYPED_CHARS / GROUP, GROUP, n);
		rfs_secret_free(c);
		return -EINVAL;
	}
	check_group(c->text, check);
	if (sodium_memcmp(check, c->text + RFS_RECOVERY_KEY_CHARS, CHECK_CHARS) != 0) {
		snprintf(err, errsz, "the recovery key's last group does not match the others: a "
		         "character was mistyped; compare it with the printed key");
		rfs_secret_free(c);
		return -EINVAL;
	}
	sodium_memzero(c->text + RFS_RECOVERY_KEY_CHARS, CHECK_CHARS);
	c->len = RFS_RECOVERY_KEY_CHARS;
	*canon = c;
	return 0;
}
