/* Unit tests of crypto/minisign: round trips, tampering, strict parsing, and the real minisign
** tool both ways (it verifies ours; we verify its). */
#include <errno.h>
#include <criterion/criterion.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "crypto/minisign.h"
#include "test_helpers.h"

static uint8_t pk[32], sk[64], keyid[8];
static char dir[64];

static void init(void)
{
	cr_assert_eq(rfs_secmem_init(), 0);
	crypto_sign_keypair(pk, sk);
	randombytes_buf(keyid, sizeof(keyid));
	test_make_tmpdir(dir);
}

static void fini(void)
{
	test_remove_tree(dir);
}

TestSuite(minisign, .init = init, .fini = fini);

static void hash_of(const void *buf, size_t len, uint8_t out[64])
{
	struct rfs_minisign_hash h;

	rfs_minisign_hash_init(&h);
	rfs_minisign_hash_update(&h, buf, len);
	rfs_minisign_hash_final(&h, out);
}

/* The whole of path, NUL-terminated; *len without the NUL. */
static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = malloc(1 << 16);
	size_t n;

	cr_assert_not_null(f, "cannot open %s", path);
	n = fread(buf, 1, (1 << 16) - 1, f);
	fclose(f);
	buf[n] = '\0';
	if (len != NULL)
		*len = n;
	return buf;
}

static char *path_in(const char *name)
{
	static char paths[4][128];
	static int next;
	char *p = paths[next++ % 4];

	snprintf(p, 128, "%s/%s", dir, name);
	return p;
}

/* Runs a shell command; its stdout (first 4 KiB) into out if given. Returns the exit status. */
static int run(char *out, size_t outsz, const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;
	FILE *p;
	size_t n = 0;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	p = popen(cmd, "r");
	cr_assert_not_null(p);
	if (out != NULL) {
		n = fread(out, 1, outsz - 1, p);
		out[n] = '\0';
	} else {
		char sink[256];

		while (fread(sink, 1, sizeof(sink), p) > 0)
			;
	}
	st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static char *sign_text(const uint8_t hash[64], const char *tc)
{
	char *sig = NULL;

	cr_assert_eq(rfs_minisign_sign(sk, keyid, hash, NULL, tc, &sig), 0);
	return sig;
}

static int verify_text(const char *sig, const uint8_t hash[64], char *trusted, size_t tsz)
{
	return rfs_minisign_verify(sig, strlen(sig), keyid, pk, hash, NULL, trusted, tsz);
}

Test(minisign, streaming_hash_is_blake2b_512_in_any_pieces)
{
	uint8_t data[3000], whole[64], pieces[64];
	struct rfs_minisign_hash h;

	randombytes_buf(data, sizeof(data));
	crypto_generichash(whole, 64, data, sizeof(data), NULL, 0);
	rfs_minisign_hash_init(&h);
	for (size_t at = 0, step = 1; at < sizeof(data); at += step, step = step * 3 + 1)
		rfs_minisign_hash_update(&h, data + at, step < sizeof(data) - at ? step : sizeof(data) - at);
	rfs_minisign_hash_final(&h, pieces);
	cr_assert_eq(memcmp(whole, pieces, 64), 0);
}

Test(minisign, round_trip_returns_the_trusted_comment)
{
	uint8_t hash[64], got[8];
	char trusted[RFS_MINISIGN_TRUSTED_MAX + 1], *sig;

	hash_of("records", 7, hash);
	sig = sign_text(hash, "timestamp:1700000000\tfile:Telecare.tar.zst\thashed");
	cr_assert(strncmp(sig, "untrusted comment: signature from recfs archive key\nRU", 54) == 0, "%s", sig);
	cr_assert_eq(rfs_minisign_verify(sig, strlen(sig), keyid, pk, hash, got, trusted, sizeof(trusted)), 0);
	cr_assert_str_eq(trusted, "timestamp:1700000000\tfile:Telecare.tar.zst\thashed");
	cr_assert_eq(memcmp(got, keyid, 8), 0);
	/* A buffer too small gets a cut, terminated comment; NULL gets nothing. */
	cr_assert_eq(verify_text(sig, hash, trusted, 10), 0);
	cr_assert_str_eq(trusted, "timestamp");
	cr_assert_eq(verify_text(sig, hash, NULL, 0), 0);
	free(sig);
	/* CRLF line ends and no final newline still read; an empty trusted comment signs too. */
	sig = sign_text(hash, NULL);
	cr_assert_eq(verify_text(sig, hash, trusted, sizeof(trusted)), 0);
	cr_assert_str_eq(trusted, "");
	free(sig);
}

Test(minisign, tampered_file_comment_or_signature_fails)
{
	uint8_t hash[64], other[64];
	char trusted[64] = "untouched", *sig, *p;
	size_t len;

	hash_of("records", 7, hash);
	hash_of("recordz", 7, other);
	sig = sign_text(hash, "file:a.tar");
	len = strlen(sig);
	cr_assert_eq(verify_text(sig, other, trusted, sizeof(trusted)), -EBADMSG);
	cr_assert_str_eq(trusted, "untouched", "a failed check must not hand out its comment");
	p = strstr(sig, "file:a.tar");
	p[5] = 'b';
	cr_assert_eq(verify_text(sig, hash, trusted, sizeof(trusted)), -EBADMSG);
	cr_assert_str_eq(trusted, "untouched");
	p[5] = 'a';
	/* One character of the signature's base64 (after "ED" and the key id), then of the global one. */
	for (int i = 0; i < 2; i++) {
		char was;

		p = i == 0 ? strchr(sig, '\n') + 30 : sig + len - 10;
		was = *p;
		*p = was == 'A' ? 'B' : 'A';
		cr_assert_eq(verify_text(sig, hash, NULL, 0), -EBADMSG);
		*p = was;
		cr_assert_eq(verify_text(sig, hash, NULL, 0), 0);
	}
	/* The untrusted comment is not signed, as in minisign. */
	p = strstr(sig, "recfs");
	p[0] = 'R';
	cr_assert_eq(verify_text(sig, hash, NULL, 0), 0);
	free(sig);
}

Test(minisign, wrong_key_says_which_key_signed)
{
	uint8_t hash[64], other_id[8], other_pk[32], other_sk[64], got[8] = { 0 };
	char *sig;

	hash_of("x", 1, hash);
	sig = sign_text(hash, "t");
	memcpy(other_id, keyid, 8);
	other_id[7] ^= 0x80;
	cr_assert_eq(rfs_minisign_verify(sig, strlen(sig), other_id, pk, hash, got, NULL, 0), -ENOKEY);
	cr_assert_eq(memcmp(got, keyid, 8), 0);
	/* Same id, another key: the signature itself fails. */
	crypto_sign_keypair(other_pk, other_sk);
	cr_assert_eq(rfs_minisign_verify(sig, strlen(sig), keyid, other_pk, hash, NULL, NULL, 0), -EBADMSG);
	free(sig);
}

/* Replaces the first occurrence of from in sig by to, into buf. */
static const char *edit(char *buf, size_t bufsz, const char *sig, const char *from, const char *to)
{
	const char *at = strstr(sig, from);

	cr_assert_not_null(at, "%s not in signature", from);
	snprintf(buf, bufsz, "%.*s%s%s", (int)(at - sig), sig, to, at + strlen(from));
	return buf;
}

Test(minisign, malformed_signature_files_are_refused)
{
	uint8_t hash[64];
	char *sig, buf[20000], line2[128], *big;
	const char *nl1, *nl2;

	hash_of("x", 1, hash);
	sig = sign_text(hash, "t");
	nl1 = strchr(sig, '\n');
	nl2 = strchr(nl1 + 1, '\n');
	snprintf(line2, sizeof(line2), "%.*s", (int)(nl2 - nl1 - 1), nl1 + 1);
	/* Each edit alone, on an otherwise good file. */
	cr_assert_eq(verify_text(edit(buf, sizeof(buf), sig, "untrusted comment: ", "untrusted comment:"), hash, NULL, 0), -EINVAL);
	cr_assert_eq(verify_text(edit(buf, sizeof(buf), sig, "trusted comment: t", "trusted: t"), hash, NULL, 0), -EINVAL);
	cr_assert_eq(verify_text(edit(buf, sizeof(buf), sig, "\nRU", "\nRW"), hash, NULL, 0), -EINVAL, "legacy Ed");
	cr_assert_eq(verify_text(edit(buf, sizeof(buf), sig, line2, "RUQ="), hash, NULL, 0), -EINVAL);
	cr_assert_eq(verify_text(edit(buf, sizeof(buf), sig, "\nRU", "\n RU"), hash, NULL, 0), -EINVAL);
	cr_assert_eq(verify_text(edit(buf, sizeof(buf), sig, "==\n", "=\n"), hash, NULL, 0), -EINVAL);
	cr_assert_eq(verify_text(edit(buf, sizeof(buf), sig, "==\n", "\n"), hash, NULL, 0), -EINVAL);
	/* Non-canonical base64: a spare bit before the padding set (it decodes to the same bytes). */
	{
		static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
		char *c;

		snprintf(buf, sizeof(buf), "%s", sig);
		c = buf + strlen(buf) - 4;
		*c = b64[(strchr(b64, *c) - b64) | 1];
		cr_assert_eq(verify_text(buf, hash, NULL, 0), -EINVAL);
	}
	snprintf(buf, sizeof(buf), "%sextra\n", sig);
	cr_assert_eq(verify_text(buf, hash, NULL, 0), -EINVAL, "a fifth line");
	snprintf(buf, sizeof(buf), "%s\n", sig);
	cr_assert_eq(verify_text(buf, hash, NULL, 0), -EINVAL, "a trailing empty line");
	cr_assert_eq(verify_text(nl1 + 1, hash, NULL, 0), -EINVAL, "three lines");
	cr_assert_eq(verify_text("", hash, NULL, 0), -EINVAL);
	/* A NUL inside the text (the length says it is there). */
	snprintf(buf, sizeof(buf), "%s", sig);
	buf[5] = '\0';
	cr_assert_eq(rfs_minisign_verify(buf, strlen(sig), keyid, pk, hash, NULL, NULL, 0), -EINVAL);
	/* A trusted comment longer than minisign reads. */
	big = malloc(RFS_MINISIGN_TRUSTED_MAX + 20);
	strcpy(big, "trusted comment: ");
	memset(big + 17, 'c', RFS_MINISIGN_TRUSTED_MAX + 1);
	big[17 + RFS_MINISIGN_TRUSTED_MAX + 1] = '\0';
	cr_assert_eq(verify_text(edit(buf, sizeof(buf), sig, "trusted comment: t", big), hash, NULL, 0), -EINVAL);
	free(big);
	/* CRLF line ends are read; the last line may lack its newline. */
	{
		char crlf[1024];
		size_t o = 0;

		for (const char *c = sig; *c; c++) {
			if (*c == '\n')
				crlf[o++] = '\r';
			crlf[o++] = *c;
		}
		crlf[o] = '\0';
		cr_assert_eq(verify_text(crlf, hash, NULL, 0), 0);
		crlf[o - 2] = '\0';
		cr_assert_eq(verify_text(crlf, hash, NULL, 0), 0);
	}
	free(sig);
}

Test(minisign, comments_must_be_one_bounded_line)
{
	uint8_t hash[64];
	char *out = (char *)1, *big;

	hash_of("x", 1, hash);
	cr_assert_eq(rfs_minisign_sign(sk, keyid, hash, NULL, "two\nlines", &out), -EINVAL);
	cr_assert_null(out);
	cr_assert_eq(rfs_minisign_sign(sk, keyid, hash, "cr\r", NULL, &out), -EINVAL);
	cr_assert_eq(rfs_minisign_pubkey_text(keyid, pk, "a\nb", &out), -EINVAL);
	big = malloc(RFS_MINISIGN_TRUSTED_MAX + 2);
	memset(big, 'c', RFS_MINISIGN_TRUSTED_MAX + 1);
	big[RFS_MINISIGN_TRUSTED_MAX + 1] = '\0';
	cr_assert_eq(rfs_minisign_sign(sk, keyid, hash, NULL, big, &out), -EINVAL);
	cr_assert_eq(rfs_minisign_sign(sk, keyid, hash, NULL, big + 1, &out), 0, "the longest is fine");
	cr_assert_eq(verify_text(out, hash, NULL, 0), 0);
	free(out);
	big[RFS_MINISIGN_UNTRUSTED_MAX + 1] = '\0';
	cr_assert_eq(rfs_minisign_sign(sk, keyid, hash, big, NULL, &out), -EINVAL);
	cr_assert_eq(rfs_minisign_pubkey_text(keyid, pk, big, &out), -EINVAL);
	free(big);
}

Test(minisign, public_key_text_parses_back_and_refuses_malformed)
{
	static const uint8_t id[8] = { 0xDA, 0xFC, 0x1A, 0x3F, 0xB9, 0x8B, 0x2B, 0x88 };
	uint8_t got_id[8], got_pk[32];
	char hex[17], *text, buf[512];
	const char *line2;

	rfs_minisign_keyid_hex(id, hex);
	cr_assert_str_eq(hex, "882B8BB93F1AFCDA", "minisign prints the id little-endian");
	{
		static const uint8_t low[8] = { 0x35, 0x91, 0x8B, 0x94, 0xB0, 0xF8, 0xE9, 0x08 };
		static const uint8_t zero[8] = { 0 };

		rfs_minisign_keyid_hex(low, hex);
		cr_assert_str_eq(hex, "8E9F8B0948B9135", "minisign drops leading zeros");
		rfs_minisign_keyid_hex(zero, hex);
		cr_assert_str_eq(hex, "0");
	}
	cr_assert_eq(rfs_minisign_pubkey_text(id, pk, NULL, &text), 0);
	cr_assert(strncmp(text, "untrusted comment: minisign public key 882B8BB93F1AFCDA\nRWTa/Bo/uYsri", 69) == 0,
	          "%s", text);
	cr_assert_eq(rfs_minisign_pubkey_parse(text, strlen(text), got_id, got_pk), 0);
	cr_assert_eq(memcmp(got_id, id, 8), 0);
	cr_assert_eq(memcmp(got_pk, pk, 32), 0);
	line2 = strchr(text, '\n') + 1;
	cr_assert_eq(rfs_minisign_pubkey_parse(line2, strlen(line2), got_id, got_pk), 0, "the base64 line alone");
	cr_assert_eq(rfs_minisign_pubkey_parse(text, strlen(text) - 2, got_id, got_pk), -EINVAL, "cut short");
	snprintf(buf, sizeof(buf), "%s%s", text, line2);
	cr_assert_eq(rfs_minisign_pubkey_parse(buf, strlen(buf), got_id, got_pk), -EINVAL, "three lines");
	cr_assert_eq(rfs_minisign_pubkey_parse(edit(buf, sizeof(buf), text, "untrusted", "trusted"),
	                                       strlen(buf), got_id, got_pk), -EINVAL);
	cr_assert_eq(rfs_minisign_pubkey_parse(edit(buf, sizeof(buf), text, "RWTa", "RUTa"),
	                                       strlen(buf), got_id, got_pk), -EINVAL, "a signature's algorithm");
	cr_assert_eq(rfs_minisign_pubkey_parse(edit(buf, sizeof(buf), text, "RWTa", "RWT"),
	                                       strlen(buf), got_id, got_pk), -EINVAL);
	free(text);
	cr_assert_eq(rfs_minisign_pubkey_text(id, pk, "vault Telecare", &text), 0);
	cr_assert(strncmp(text, "untrusted comment: vault Telecare\nRW", 36) == 0, "%s", text);
	free(text);
}

/* Writes data to FILE, its signature to FILE.minisig and our public key to KEY.pub. */
static void sign_file_ours(const uint8_t *s, const uint8_t *id, const uint8_t *p, const char *data,
                           const char *tc)
{
	uint8_t hash[64];
	char *sig, *pub;

	test_write_file(path_in("file"), data, strlen(data));
	hash_of(data, strlen(data), hash);
	cr_assert_eq(rfs_minisign_sign(s, id, hash, NULL, tc, &sig), 0);
	cr_assert_eq(rfs_minisign_pubkey_text(id, p, NULL, &pub), 0);
	test_write_file(path_in("file.minisig"), sig, strlen(sig));
	test_write_file(path_in("key.pub"), pub, strlen(pub));
	free(sig);
	free(pub);
}

Test(minisign, real_minisign_verifies_ours)
{
	char out[4096];

	sign_file_ours(sk, keyid, pk, "the records of a closed service\n",
	               "timestamp:1700000000\tfile:Telecare.tar\thashed  ");
	cr_assert_eq(run(out, sizeof(out), "minisign -Vm %s -p %s 2>&1", path_in("file"), path_in("key.pub")),
	             0, "%s", out);
	cr_assert(strstr(out, "Signature and comment signature verified") != NULL, "%s", out);
	cr_assert_eq(run(out, sizeof(out), "minisign -Vm %s -p %s -Q", path_in("file"), path_in("key.pub")), 0);
	cr_assert_str_eq(out, "timestamp:1700000000\tfile:Telecare.tar\thashed  \n");
	cr_assert_eq(run(out, sizeof(out), "minisign -Vm %s -p %s -q", path_in("file"), path_in("key.pub")), 0);
	cr_assert_str_eq(out, "");
	/* The file changed: minisign refuses it. */
	test_write_file(path_in("file"), "the records of a closed servicE\n", 32);
	cr_assert_neq(run(NULL, 0, "minisign -Vm %s -p %s 2>&1", path_in("file"), path_in("key.pub")), 0);
}

Test(minisign, real_minisign_verifies_the_vault_archive_key)
{
	struct rfs_keys *k = test_random_keys();
	char out[4096];

	sign_file_ours(k->archive_sign_sk, k->archive_key_id, k->archive_sign_pk, "bag\n", "vault key");
	cr_assert_eq(run(out, sizeof(out), "minisign -Vm %s -p %s -Q 2>&1", path_in("file"), path_in("key.pub")),
	             0, "%s", out);
	cr_assert_str_eq(out, "vault key\n");
	/* Signed with the commit key under the archive key's id: refused. */
	sign_file_ours(k->sign_sk, k->archive_key_id, k->archive_sign_pk, "bag\n", "vault key");
	cr_assert_neq(run(NULL, 0, "minisign -Vm %s -p %s 2>&1", path_in("file"), path_in("key.pub")), 0);
	rfs_keys_free(k);
}

Test(minisign, we_verify_real_minisign_signatures)
{
	uint8_t id[8], p[32], hash[64], got[8];
	char trusted[RFS_MINISIGN_TRUSTED_MAX + 1], out[4096], *pub, *sig, *data;
	size_t publen, siglen, datalen;

	cr_assert_eq(run(out, sizeof(out), "minisign -G -W -p %s -s %s </dev/null 2>&1", path_in("real.pub"),
	                 path_in("real.key")), 0, "%s", out);
	pub = slurp(path_in("real.pub"), &publen);
	cr_assert_eq(rfs_minisign_pubkey_parse(pub, publen, id, p), 0, "%s", pub);
	test_write_file(path_in("data"), "a tarball\n", 10);
	cr_assert_eq(run(out, sizeof(out), "minisign -S -s %s -m %s -t 'given to the housing association' </dev/null 2>&1",
	                 path_in("real.key"), path_in("data")), 0, "%s", out);
	sig = slurp(path_in("data.minisig"), &siglen);
	data = slurp(path_in("data"), &datalen);
	hash_of(data, datalen, hash);
	cr_assert_eq(rfs_minisign_verify(sig, siglen, id, p, hash, got, trusted, sizeof(trusted)), 0, "%s", sig);
	cr_assert_str_eq(trusted, "given to the housing association");
	/* Our key id display is the one minisign writes in its public key's comment. */
	rfs_minisign_keyid_hex(id, out);
	cr_assert(strstr(pub, out) != NULL, "%s not in %s", out, pub);
	/* Tampered: the file, the trusted comment, another key. */
	hash_of("a tarball!", 10, hash);
	cr_assert_eq(rfs_minisign_verify(sig, siglen, id, p, hash, NULL, NULL, 0), -EBADMSG);
	hash_of(data, datalen, hash);
	*strstr(sig, "housing") = 'H';
	cr_assert_eq(rfs_minisign_verify(sig, siglen, id, p, hash, NULL, NULL, 0), -EBADMSG);
	*strstr(sig, "Housing") = 'h';
	cr_assert_eq(rfs_minisign_verify(sig, siglen, keyid, pk, hash, got, NULL, 0), -ENOKEY);
	cr_assert_eq(memcmp(got, id, 8), 0);
	free(pub);
	free(sig);
	free(data);
}
