/* Unit tests of crypto/age: round trips at the chunk edges, every tampering
** refused without releasing its chunk, strict parsing, Bech32 checksums, and
** the real age and age-keygen tools reading our files and writing files we read. */
#include <criterion/criterion.h>
#include <errno.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "crypto/age.h"
#include "crypto/secmem.h"
#include "test_helpers.h"

#define CHUNK 65536u
#define CT_CHUNK (CHUNK + 16u)

/* ---- buffers as sink and source ---- */

struct buf {
	uint8_t *p;
	size_t len, cap;
};

static int buf_sink(void *arg, const void *data, size_t len)
{
	struct buf *b = arg;

	/* Always one NUL past the data, so a header can be searched as text. */
	if (b->len + len + 1 > b->cap) {
		b->cap = (b->len + len) * 2 + 64;
		b->p = realloc(b->p, b->cap);
		cr_assert_not_null(b->p);
	}
	if (len > 0)
		memcpy(b->p + b->len, data, len);
	b->len += len;
	b->p[b->len] = '\0';
	return 0;
}

static int failing_sink(void *arg, const void *data, size_t len)
{
	int *calls = arg;

	(void)data;
	(void)len;
	return ++*calls >= 3 ? -ENOSPC : 0;
}

struct src {
	const uint8_t *p;
	size_t len, pos, step;             /* step: the most one read gives (short reads) */
};

static ssize_t buf_source(void *arg, void *out, size_t len)
{
	struct src *s = arg;
	size_t n = s->len - s->pos;

	if (n > len)
		n = len;
	if (s->step > 0 && n > s->step)
		n = s->step;
	memcpy(out, s->p + s->pos, n);
	s->pos += n;
	return (ssize_t)n;
}

/* ---- keys: made by the real age-keygen ---- */

static char dir[64];
static uint8_t pk[3][32];
static char idtext[3][128], idpath[3][128], rcpt[3][RFS_AGE_RECIPIENT_LEN + 1];

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	cr_assert_eq(system(cmd), 0, "failed: %s", cmd);
}

/* The first line of path that starts with prefix, into out. */
static void grep_line(const char *path, const char *prefix, char *out, size_t outsz)
{
	FILE *f = fopen(path, "r");
	char line[512];

	cr_assert_not_null(f, "%s", path);
	out[0] = '\0';
	while (fgets(line, sizeof line, f) != NULL)
		if (strncmp(line, prefix, strlen(prefix)) == 0) {
			size_t n = strcspn(line, "\n");
			cr_assert_lt(n, outsz);
			memcpy(out, line, n);
			out[n] = '\0';
			break;
		}
	fclose(f);
	cr_assert_neq(out[0], '\0', "no %s line in %s", prefix, path);
}

static void init(void)
{
	cr_assert_eq(rfs_secmem_init(), 0);
	test_make_tmpdir(dir);
	for (int i = 0; i < 3; i++) {
		char pub[128];

		snprintf(idpath[i], sizeof idpath[i], "%s/key%d.txt", dir, i);
		sh("age-keygen -o %s 2>/dev/null", idpath[i]);
		grep_line(idpath[i], "AGE-SECRET-KEY-1", idtext[i], sizeof idtext[i]);
		grep_line(idpath[i], "# public key: ", pub, sizeof pub);
		cr_assert_eq(strlen(pub + 14), RFS_AGE_RECIPIENT_LEN);
		memcpy(rcpt[i], pub + 14, RFS_AGE_RECIPIENT_LEN + 1);
		cr_assert_eq(rfs_age_recipient_parse(rcpt[i], pk[i]), 0, "%s", rcpt[i]);
	}
}

static void fini(void)
{
	test_remove_tree(dir);
}

TestSuite(age, .init = init, .fini = fini, .timeout = 120);

static struct rfs_age_identities *ids_of(int i)
{
	struct rfs_age_identities *ids;

	cr_assert_eq(rfs_age_identities_parse(idtext[i], strlen(idtext[i]), &ids), 0);
	return ids;
}

/* Encrypt len bytes of plain to the first n test keys, written in pieces of step. */
static struct buf encrypt_to(const uint8_t *plain, size_t len, size_t n, size_t step)
{
	struct rfs_age_writer *w;
	struct buf out = { 0 };

	cr_assert_eq(rfs_age_writer_start((const uint8_t (*)[32])pk, n, buf_sink, &out, &w), 0);
	for (size_t off = 0; off < len; off += step)
		cr_assert_eq(rfs_age_writer_write(w, plain + off, len - off < step ? len - off : step), 0);
	cr_assert_eq(rfs_age_writer_finish(w), 0);
	return out;
}

/* Decrypt all of ct: the plaintext in *out, and the final result (0 or -errno). */
static int decrypt_all(const struct rfs_age_identities *ids, const uint8_t *ct, size_t len,
                       size_t step, struct buf *out)
{
	struct src s = { ct, len, 0, step };
	struct rfs_age_reader *r;
	uint8_t piece[10000];
	ssize_t got;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = rfs_age_reader_start(ids, buf_source, &s, &r)) != 0)
		return rc;
	while ((got = rfs_age_reader_read(r, piece, sizeof piece)) > 0)
		buf_sink(out, piece, (size_t)got);
	cr_assert_eq(rfs_age_reader_read(r, piece, sizeof piece), got, "errors and the end stay");
	rfs_age_reader_free(r);
	return (int)got;
}

static uint8_t *random_bytes(size_t len)
{
	uint8_t *p = malloc(len + 1);

	cr_assert_not_null(p);
	randombytes_buf(p, len);
	return p;
}

/* Offset of the payload (just past the header's MAC line). */
static size_t header_len(const struct buf *ct)
{
	const uint8_t *mac = memmem(ct->p, ct->len, "\n--- ", 5);
	const uint8_t *nl;

	cr_assert_not_null(mac);
	nl = memchr(mac + 1, '\n', ct->len - (size_t)(mac + 1 - ct->p));
	cr_assert_not_null(nl);
	return (size_t)(nl + 1 - ct->p);
}

Test(age, round_trips_at_every_chunk_edge)
{
	static const size_t sizes[] = { 0, 1, 65535, 65536, 65537, 3 * 65536, 3 * 65536 + 17, 4u << 20 };
	struct rfs_age_identities *ids = ids_of(0);

	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		uint8_t *plain = random_bytes(sizes[i]);
		struct buf ct = encrypt_to(plain, sizes[i], 1, i % 2 ? 4093 : 65536);
		size_t chunks = sizes[i] == 0 ? 1 : (sizes[i] + CHUNK - 1) / CHUNK;
		struct buf out;

		cr_assert(rfs_age_looks_encrypted(ct.p, ct.len));
		cr_assert_eq(ct.len, header_len(&ct) + 16 + sizes[i] + 16 * chunks,
		             "size %zu: one tag per chunk, a full last chunk has no empty one after it",
		             sizes[i]);
		cr_assert_eq(decrypt_all(ids, ct.p, ct.len, i % 3 ? 0 : 777, &out), 0, "size %zu", sizes[i]);
		cr_assert_eq(out.len, sizes[i]);
		cr_assert(sizes[i] == 0 || memcmp(out.p, plain, sizes[i]) == 0);
		free(out.p);
		free(ct.p);
		free(plain);
	}
	rfs_age_identities_free(ids);
}

Test(age, every_recipient_opens_and_others_do_not)
{
	uint8_t *plain = random_bytes(100000);
	struct buf ct = encrypt_to(plain, 100000, 2, 100000), out;
	struct rfs_age_identities *ids;
	char both[300];

	for (int i = 0; i < 2; i++) {
		ids = ids_of(i);
		cr_assert_eq(decrypt_all(ids, ct.p, ct.len, 0, &out), 0, "recipient %d", i);
		cr_assert_eq(out.len, 100000);
		cr_assert_arr_eq(out.p, plain, 100000);
		free(out.p);
		rfs_age_identities_free(ids);
	}
	ids = ids_of(2);
	cr_assert_eq(decrypt_all(ids, ct.p, ct.len, 0, &out), -ENOKEY, "the wrong identity");
	rfs_age_identities_free(ids);
	cr_assert_eq(decrypt_all(NULL, ct.p, ct.len, 0, &out), -ENOKEY, "no identity");
	/* Several identities: every one is tried on every stanza. */
	snprintf(both, sizeof both, "# two keys\n\n%s\n%s\n", idtext[2], idtext[1]);
	cr_assert_eq(rfs_age_identities_parse(both, strlen(both), &ids), 0);
	cr_assert_eq(rfs_age_identities_count(ids), 2);
	cr_assert_eq(decrypt_all(ids, ct.p, ct.len, 0, &out), 0);
	free(out.p);
	rfs_age_identities_free(ids);
	free(ct.p);
	free(plain);
}

Test(age, a_tampered_header_is_refused)
{
	uint8_t *plain = random_bytes(1000);
	struct buf ct = encrypt_to(plain, 1000, 1, 1000), out;
	struct rfs_age_identities *ids = ids_of(0);
	size_t hl = header_len(&ct);
	uint8_t *t = malloc(ct.len + 64);
	char *mac;
	size_t at;

	/* A flipped bit of the MAC. */
	memcpy(t, ct.p, ct.len);
	t[hl - 5] ^= 0x01;
	cr_assert_eq(decrypt_all(ids, t, ct.len, 0, &out), -EBADMSG);
	/* A well-formed stanza of another type slipped in: skipped, but the MAC catches it. */
	mac = memmem(ct.p, ct.len, "\n--- ", 5);
	at = (size_t)((uint8_t *)mac + 1 - ct.p);
	memcpy(t, ct.p, at);
	memcpy(t + at, "-> grease x\nAAAA\n", 17);
	memcpy(t + at + 17, ct.p + at, ct.len - at);
	cr_assert_eq(decrypt_all(ids, t, ct.len + 17, 0, &out), -EBADMSG);
	/* The wrapped file key changed: this identity no longer opens it. */
	memcpy(t, ct.p, ct.len);
	at = (size_t)((uint8_t *)memchr(memchr(t, '\n', hl) + 1, '\n', hl) + 1 - t);
	t[at] = t[at] == 'A' ? 'B' : 'A';
	cr_assert_eq(decrypt_all(ids, t, ct.len, 0, &out), -ENOKEY);
	free(t);
	free(ct.p);
	free(plain);
	rfs_age_identities_free(ids);
}

/* ct with the first occurrence of from replaced by to. */
static struct buf edited(const struct buf *ct, const char *from, const char *to)
{
	uint8_t *at = memmem(ct->p, ct->len, from, strlen(from));
	struct buf out = { 0 };
	size_t pre;

	cr_assert_not_null(at, "no \"%s\" in the file", from);
	pre = (size_t)(at - ct->p);
	buf_sink(&out, ct->p, pre);
	buf_sink(&out, to, strlen(to));
	buf_sink(&out, at + strlen(from), ct->len - pre - strlen(from));
	return out;
}

/* Without identities a well-formed header answers -ENOKEY and a malformed one
** -EBADMSG, so each case shows that the parser itself refused it. */
static int header_verdict(const struct buf *ct)
{
	struct buf out;

	return decrypt_all(NULL, ct->p, ct->len, 0, &out);
}

static void expect_malformed(const struct buf *ct, const char *from, const char *to)
{
	struct buf e = edited(ct, from, to);

	cr_assert_eq(header_verdict(&e), -EBADMSG, "\"%s\" -> \"%s\" accepted", from, to);
	free(e.p);
}

Test(age, the_header_is_parsed_strictly)
{
	uint8_t *plain = random_bytes(10);
	struct buf ct = encrypt_to(plain, 10, 1, 10), e;
	char share[44], line[6000], body[64];
	const char *p = strstr((const char *)ct.p, "-> X25519 ") + 10;
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

	cr_assert_eq(header_verdict(&ct), -ENOKEY);
	memcpy(share, p, 43);
	share[43] = '\0';
	memcpy(body, p + 44, 43);
	body[43] = '\0';
	expect_malformed(&ct, "age-encryption.org/v1", "age-encryption.org/v2");
	expect_malformed(&ct, "\n", "\r\n");
	expect_malformed(&ct, "-> X25519 ", "-> X25519  ");
	expect_malformed(&ct, share, "");
	snprintf(line, sizeof line, "%s extra", share);
	expect_malformed(&ct, share, line);
	snprintf(line, sizeof line, "%s ", share);
	expect_malformed(&ct, share, line);
	/* Non-canonical base64: the last character's two spare bits set. */
	snprintf(line, sizeof line, "%s", share);
	line[42] = b64[(strchr(b64, line[42]) - b64) | 1];
	expect_malformed(&ct, share, line);
	snprintf(line, sizeof line, "%s=", share);
	expect_malformed(&ct, share, line);
	/* A body of other than 32 bytes, a body line over 64 columns, a byte not ASCII. */
	snprintf(line, sizeof line, "%.64s\n%s", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", body);
	expect_malformed(&ct, body, line);
	snprintf(line, sizeof line, "%sAAAAAAAAAAAAAAAAAAAAAAAA", body);
	expect_malformed(&ct, body, line);
	expect_malformed(&ct, body, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");   /* 31 bytes */
	expect_malformed(&ct, "-> X25519", "-> X2\xc3\xa9");
	/* Lines that are neither a stanza nor the MAC; no stanza at all; a short MAC. */
	expect_malformed(&ct, "-> X25519", "junk\n-> X25519");
	snprintf(line, sizeof line, "-> X25519 %s\n%s\n", share, body);
	expect_malformed(&ct, line, "");
	expect_malformed(&ct, "\n--- ", "\n--- A");
	/* scrypt must stand alone; a stanza of an unknown type is fine. */
	expect_malformed(&ct, "-> X25519", "-> scrypt c2FsdHNhbHRzYWx0c2FsdA 18\n"
	                 "8SHBz/ldWnjyGFQqfjat6uNBarWqqEMDS7W8X7+Xq5Q\n-> X25519");
	e = edited(&ct, "-> X25519", "-> example.com/enigma 1 2\nAAAA\n-> X25519");
	cr_assert_eq(header_verdict(&e), -ENOKEY);
	free(e.p);
	/* A lone scrypt stanza is well formed, and nothing of ours opens it. */
	snprintf(line, sizeof line, "-> X25519 %s\n%s\n", share, body);
	e = edited(&ct, line, "-> scrypt c2FsdHNhbHRzYWx0c2FsdA 18\n8SHBz/ldWnjyGFQqfjat6uNBarWqqEMDS7W8X7+Xq5Q\n");
	cr_assert_eq(header_verdict(&e), -ENOKEY);
	{
		struct rfs_age_identities *ids = ids_of(0);
		struct buf out;

		cr_assert_eq(decrypt_all(ids, e.p, e.len, 0, &out), -ENOKEY);
		rfs_age_identities_free(ids);
	}
	free(e.p);
	/* A long argument line: 4000 is fine, 5000 is too long. */
	memset(line, 'a', sizeof line);
	memcpy(line, "-> grease ", 10);
	memcpy(line + 4000, "\n\n-> X25519", 12);
	e = edited(&ct, "-> X25519", line);
	cr_assert_eq(header_verdict(&e), -ENOKEY);
	free(e.p);
	memset(line + 4000, 'a', 1000);
	memcpy(line + 5000, "\n\n-> X25519", 12);
	expect_malformed(&ct, "-> X25519", line);
	/* Cut inside the header. */
	ct.len = 40;
	cr_assert_eq(header_verdict(&ct), -EBADMSG);
	ct.len = 0;
	cr_assert_eq(header_verdict(&ct), -EBADMSG);
	free(ct.p);
	free(plain);
}

Test(age, the_header_is_bounded)
{
	uint8_t *plain = random_bytes(10);
	struct buf ct = encrypt_to(plain, 10, 1, 10), many = { 0 }, e;
	char *big;

	/* 256 stanzas in all are allowed, 257 are not. */
	for (int i = 0; i < 255; i++)
		buf_sink(&many, "-> grease\n\n", 11);
	buf_sink(&many, "-> X25519", 10);
	e = edited(&ct, "-> X25519", (const char *)many.p);
	cr_assert_eq(header_verdict(&e), -ENOKEY);
	free(e.p);
	many.len = 0;
	for (int i = 0; i < 256; i++)
		buf_sink(&many, "-> grease\n\n", 11);
	buf_sink(&many, "-> X25519", 10);
	e = edited(&ct, "-> X25519", (const char *)many.p);
	free(many.p);
	cr_assert_eq(header_verdict(&e), -EBADMSG, "257 stanzas accepted");
	free(e.p);
	/* A stanza body over 1 MiB. */
	big = malloc(17000 * 65 + 32);
	strcpy(big, "-> grease\n");
	for (int i = 0; i < 17000; i++)
		strcat(big + 10 + (size_t)i * 65, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n");
	strcat(big + 10 + 17000 * 65, "\n-> X25519");
	e = edited(&ct, "-> X25519", big);
	cr_assert_eq(header_verdict(&e), -EBADMSG, "a header over 1 MiB accepted");
	free(e.p);
	free(big);
	free(ct.p);
	free(plain);
}

Test(age, junk_is_not_age)
{
	uint8_t *junk = random_bytes(100000);
	struct buf out;

	cr_assert_not(rfs_age_looks_encrypted(junk, 100000));
	cr_assert_not(rfs_age_looks_encrypted("age-encryption.org/v1", 21));
	cr_assert(rfs_age_looks_encrypted("age-encryption.org/v1\n-> ", 25));
	cr_assert_eq(decrypt_all(NULL, junk, 100000, 0, &out), -EBADMSG);
	memcpy(junk, "age-encryption.org/v1\n", 22);
	cr_assert_eq(decrypt_all(NULL, junk, 100000, 0, &out), -EBADMSG);
	free(junk);
}

Test(age, a_tampered_chunk_releases_nothing_of_it)
{
	uint8_t *plain = random_bytes(3 * CHUNK);
	struct buf ct = encrypt_to(plain, 3 * CHUNK, 1, 3 * CHUNK), out;
	struct rfs_age_identities *ids = ids_of(0);
	size_t pay = header_len(&ct) + 16;
	uint8_t save[CT_CHUNK];

	/* The second chunk: the first comes out whole, then the error. */
	ct.p[pay + CT_CHUNK + 100] ^= 0x80;
	cr_assert_eq(decrypt_all(ids, ct.p, ct.len, 0, &out), -EBADMSG);
	cr_assert_eq(out.len, CHUNK);
	cr_assert_arr_eq(out.p, plain, CHUNK);
	free(out.p);
	ct.p[pay + CT_CHUNK + 100] ^= 0x80;
	/* The last chunk's tag. */
	ct.p[ct.len - 1] ^= 0x01;
	cr_assert_eq(decrypt_all(ids, ct.p, ct.len, 0, &out), -EBADMSG);
	cr_assert_eq(out.len, 2 * CHUNK);
	free(out.p);
	ct.p[ct.len - 1] ^= 0x01;
	/* Chunks swapped: nothing at all. */
	memcpy(save, ct.p + pay, CT_CHUNK);
	memmove(ct.p + pay, ct.p + pay + CT_CHUNK, CT_CHUNK);
	memcpy(ct.p + pay + CT_CHUNK, save, CT_CHUNK);
	cr_assert_eq(decrypt_all(ids, ct.p, ct.len, 0, &out), -EBADMSG);
	cr_assert_eq(out.len, 0);
	free(ct.p);
	/* The stream nonce. */
	ct = encrypt_to(plain, 10, 1, 10);
	ct.p[header_len(&ct)] ^= 0x01;
	cr_assert_eq(decrypt_all(ids, ct.p, ct.len, 0, &out), -EBADMSG);
	cr_assert_eq(out.len, 0);
	free(ct.p);
	rfs_age_identities_free(ids);
	free(plain);
}

Test(age, a_truncated_file_never_reads_as_complete)
{
	uint8_t *plain = random_bytes(2 * CHUNK + 100);
	struct buf ct = encrypt_to(plain, 2 * CHUNK + 100, 1, 1000), out;
	struct rfs_age_identities *ids = ids_of(0);
	size_t pay = header_len(&ct) + 16;
	uint8_t extra = 0;

	/* Cut at a chunk's end: the chunks before the cut come out (they are
	** authentic), then -EPIPE. */
	cr_assert_eq(decrypt_all(ids, ct.p, pay + 2 * CT_CHUNK, 0, &out), -EPIPE);
	cr_assert_eq(out.len, 2 * CHUNK);
	free(out.p);
	cr_assert_eq(decrypt_all(ids, ct.p, pay + CT_CHUNK, 0, &out), -EPIPE);
	cr_assert_eq(out.len, CHUNK);
	free(out.p);
	cr_assert_eq(decrypt_all(ids, ct.p, pay, 0, &out), -EPIPE, "no chunk at all");
	cr_assert_eq(decrypt_all(ids, ct.p, pay - 5, 0, &out), -EPIPE, "half a nonce");
	cr_assert_eq(decrypt_all(ids, ct.p, pay + 2 * CT_CHUNK + 10, 0, &out), -EPIPE,
	             "less than a tag");
	cr_assert_eq(out.len, 2 * CHUNK);
	free(out.p);
	/* Cut inside a chunk: an error either way, and nothing of that chunk. */
	cr_assert_lt(decrypt_all(ids, ct.p, pay + CT_CHUNK + 5000, 0, &out), 0);
	cr_assert_eq(out.len, CHUNK);
	free(out.p);
	cr_assert_lt(decrypt_all(ids, ct.p, ct.len - 1, 0, &out), 0);
	cr_assert_eq(out.len, 2 * CHUNK);
	free(out.p);
	/* Bytes after the last chunk. */
	buf_sink(&ct, &extra, 1);
	cr_assert_eq(decrypt_all(ids, ct.p, ct.len, 0, &out), -EBADMSG);
	free(out.p);
	free(ct.p);
	/* A full last chunk: cutting nothing but checking that its flag is needed. */
	ct = encrypt_to(plain, CHUNK, 1, CHUNK);
	cr_assert_eq(decrypt_all(ids, ct.p, ct.len, 0, &out), 0);
	cr_assert_eq(out.len, CHUNK);
	free(out.p);
	free(ct.p);
	rfs_age_identities_free(ids);
	free(plain);
}

Test(age, the_writer_stops_at_the_first_sink_error)
{
	struct rfs_age_writer *w;
	uint8_t zero[32] = { 0 };
	uint8_t *plain = random_bytes(3 * CHUNK);
	int calls = 0;
	struct buf out = { 0 };

	cr_assert_eq(rfs_age_writer_start((const uint8_t (*)[32])pk, 1, failing_sink, &calls, &w), 0);
	cr_assert_eq(rfs_age_writer_write(w, plain, 3 * CHUNK), -ENOSPC);
	cr_assert_eq(rfs_age_writer_write(w, plain, 1), -ENOSPC);
	cr_assert_eq(rfs_age_writer_finish(w), -ENOSPC);
	cr_assert_eq(rfs_age_writer_start((const uint8_t (*)[32])pk, 0, buf_sink, &out, &w), -EINVAL);
	cr_assert_eq(rfs_age_writer_start(&zero, 1, buf_sink, &out, &w), -EINVAL, "a low-order point");
	cr_assert_eq(rfs_age_writer_start((const uint8_t (*)[32])pk, 1, buf_sink, &out, &w), 0);
	cr_assert_eq(rfs_age_writer_write(w, plain, 100), 0);
	rfs_age_writer_abort(w);
	free(out.p);
	free(plain);
}

Test(age, bech32_checksums_and_case)
{
	static const char cs[] = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";
	char text[RFS_AGE_RECIPIENT_LEN + 8], upper[RFS_AGE_RECIPIENT_LEN + 1];
	uint8_t got[32];

	rfs_age_recipient_format(pk[0], text);
	cr_assert_str_eq(text, rcpt[0], "age-keygen's spelling");
	/* Every single-character substitution is caught by the checksum. */
	for (size_t i = 4; i < RFS_AGE_RECIPIENT_LEN; i++) {
		char save = text[i];
		text[i] = cs[(strchr(cs, save) - cs + 1 + (long)i % 31) % 32];
		cr_assert_eq(rfs_age_recipient_parse(text, got), -EINVAL, "position %zu", i);
		text[i] = save;
	}
	for (size_t i = 0; i <= RFS_AGE_RECIPIENT_LEN; i++)
		upper[i] = (char)(text[i] >= 'a' && text[i] <= 'z' ? text[i] - 32 : text[i]);
	cr_assert_eq(rfs_age_recipient_parse(upper, got), 0, "all upper case is Bech32 too");
	cr_assert_arr_eq(got, pk[0], 32);
	for (size_t i = 4; i < RFS_AGE_RECIPIENT_LEN; i++)
		if (text[i] != upper[i]) {
			text[i] = upper[i];
			break;
		}
	cr_assert_eq(rfs_age_recipient_parse(text, got), -EINVAL, "mixed case");
	rfs_age_recipient_format(pk[0], text);
	text[2] = 'f';
	cr_assert_eq(rfs_age_recipient_parse(text, got), -EINVAL, "another prefix");
	rfs_age_recipient_format(pk[0], text);
	text[RFS_AGE_RECIPIENT_LEN - 1] = '\0';
	cr_assert_eq(rfs_age_recipient_parse(text, got), -EINVAL, "a character short");
	rfs_age_recipient_format(pk[0], text);
	strcat(text, "q");
	cr_assert_eq(rfs_age_recipient_parse(text, got), -EINVAL, "a character long");
	cr_assert_eq(rfs_age_recipient_parse("", got), -EINVAL);
	cr_assert_eq(rfs_age_recipient_parse(idtext[0], got), -EINVAL, "an identity is no recipient");
	cr_assert_eq(rfs_age_recipient_parse("age1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq", got),
	             -EINVAL);
}

Test(age, identities_follow_the_spec_vector_and_age_keygen)
{
	/* c2sp.org/age's example identity: 32 bytes of 0x42. */
	static const char vec[] =
		"AGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPQ4EGAEX";
	struct rfs_age_identities *ids;
	uint8_t k[32], want[32], got[32];
	char path[128], fromtool[128], ours[RFS_AGE_RECIPIENT_LEN + 1], lower[sizeof vec];

	memset(k, 0x42, sizeof k);
	crypto_scalarmult_base(want, k);
	cr_assert_eq(rfs_age_identities_parse(vec, strlen(vec), &ids), 0);
	cr_assert_eq(rfs_age_identity_recipient(ids, 0, got), 0);
	cr_assert_arr_eq(got, want, 32);
	cr_assert_eq(rfs_age_identity_recipient(ids, 1, got), -EINVAL);
	rfs_age_identities_free(ids);
	/* age-keygen -y agrees on its recipient. */
	snprintf(path, sizeof path, "%s/vec.txt", dir);
	test_write_file(path, vec, strlen(vec));
	snprintf(fromtool, sizeof fromtool, "%s/vec.pub", dir);
	sh("age-keygen -y %s > %s", path, fromtool);
	grep_line(fromtool, "age1", fromtool, sizeof fromtool);
	rfs_age_recipient_format(want, ours);
	cr_assert_str_eq(ours, fromtool);
	/* Identities are upper case; the checksum covers them too. */
	for (size_t i = 0; i < sizeof vec; i++)
		lower[i] = (char)(vec[i] >= 'A' && vec[i] <= 'Z' ? vec[i] + 32 : vec[i]);
	cr_assert_eq(rfs_age_identities_parse(lower, strlen(lower), &ids), -EINVAL);
	memcpy(lower, vec, sizeof vec);
	lower[30] = lower[30] == 'G' ? 'F' : 'G';
	cr_assert_eq(rfs_age_identities_parse(lower, strlen(lower), &ids), -EINVAL);
	cr_assert_eq(rfs_age_identities_parse("# nothing\n\n", 11, &ids), -EINVAL);
	cr_assert_null(ids);
}

Test(age, identity_files_name_the_line_never_the_key)
{
	struct rfs_age_identities *ids;
	char path[128], text[1024], err[512], bad[128];

	/* age-keygen's own file. */
	cr_assert_eq(rfs_age_identities_read(idpath[1], &ids, err, sizeof err), 0, "%s", err);
	cr_assert_eq(rfs_age_identities_count(ids), 1);
	rfs_age_identities_free(ids);
	/* Comments, blank lines, CRLF, two keys. */
	snprintf(path, sizeof path, "%s/ids.txt", dir);
	snprintf(text, sizeof text, "# created: today\r\n\n  %s\r\n\n# another\n%s", idtext[0], idtext[2]);
	test_write_file(path, text, strlen(text));
	cr_assert_eq(rfs_age_identities_read(path, &ids, err, sizeof err), 0, "%s", err);
	cr_assert_eq(rfs_age_identities_count(ids), 2);
	rfs_age_identities_free(ids);
	/* A key with a wrong checksum on line 3: the message names the file and
	** line, and quotes none of the key. */
	snprintf(bad, sizeof bad, "%s", idtext[1]);
	bad[40] = bad[40] == 'Q' ? 'P' : 'Q';
	snprintf(text, sizeof text, "# x\n%s\n%s\n", idtext[0], bad);
	test_write_file(path, text, strlen(text));
	cr_assert_eq(rfs_age_identities_read(path, &ids, err, sizeof err), -EINVAL);
	cr_assert_null(ids);
	snprintf(text, sizeof text, "%s:3:", path);
	cr_assert(strstr(err, text) != NULL, "%s", err);
	cr_assert(strstr(err, bad + 16) == NULL && strstr(err, idtext[0] + 16) == NULL, "%s", err);
	/* A recipient where an identity belongs. */
	snprintf(text, sizeof text, "%s\n", rcpt[0]);
	test_write_file(path, text, strlen(text));
	cr_assert_eq(rfs_age_identities_read(path, &ids, err, sizeof err), -EINVAL);
	cr_assert(strstr(err, "recipient") != NULL, "%s", err);
	test_write_file(path, "", 0);
	cr_assert_eq(rfs_age_identities_read(path, &ids, err, sizeof err), -EINVAL);
	cr_assert(strstr(err, "no identity") != NULL, "%s", err);
	snprintf(path, sizeof path, "%s/missing.txt", dir);
	cr_assert_eq(rfs_age_identities_read(path, &ids, err, sizeof err), -ENOENT);
	cr_assert(strstr(err, path) != NULL, "%s", err);
}

/* ---- the real tools ---- */

static void write_path(const char *name, char *path, const void *data, size_t len)
{
	snprintf(path, 256, "%s/%s", dir, name);
	test_write_file(path, data, len);
}

static struct buf slurp(const char *path)
{
	struct buf b = { 0 };
	FILE *f = fopen(path, "rb");
	uint8_t piece[65536];
	size_t n;

	cr_assert_not_null(f, "%s", path);
	while ((n = fread(piece, 1, sizeof piece, f)) > 0)
		buf_sink(&b, piece, n);
	fclose(f);
	return b;
}

Test(age, the_age_tool_decrypts_our_files)
{
	static const size_t sizes[] = { 0, 1, 65536, 200000, 3u << 20 };

	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		uint8_t *plain = random_bytes(sizes[i]);
		struct buf ct = encrypt_to(plain, sizes[i], 2, 10000);
		char cpath[256], ppath[256];

		write_path("ours.age", cpath, ct.p, ct.len);
		write_path("plain", ppath, plain, sizes[i]);
		for (int k = 0; k < 2; k++)
			sh("age -d -i %s %s | cmp -s - %s", idpath[k], cpath, ppath);
		free(ct.p);
		free(plain);
	}
}

Test(age, we_read_what_the_age_tool_encrypts)
{
	static const size_t sizes[] = { 0, 65535, 65536, 3u << 20 };
	struct rfs_age_identities *ids = ids_of(1);

	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		uint8_t *plain = random_bytes(sizes[i]);
		char cpath[256], ppath[256];
		struct buf ct, out;

		write_path("plain", ppath, plain, sizes[i]);
		snprintf(cpath, sizeof cpath, "%s/theirs.age", dir);
		/* One recipient, then two (ours second), read in short and long pieces. */
		for (int two = 0; two < 2; two++) {
			sh("age %s%s -r %s -o %s %s", two ? "-r " : "", two ? rcpt[0] : "", rcpt[1], cpath, ppath);
			ct = slurp(cpath);
			cr_assert_eq(decrypt_all(ids, ct.p, ct.len, two ? 0 : 4096, &out), 0,
			             "size %zu", sizes[i]);
			cr_assert_eq(out.len, sizes[i]);
			cr_assert(sizes[i] == 0 || memcmp(out.p, plain, sizes[i]) == 0);
			free(out.p);
			free(ct.p);
		}
		free(plain);
	}
	/* The armored form, which we do not read. */
	sh("age -a -r %s -o %s/armored.age %s/plain", rcpt[1], dir, dir);
	{
		char p[256];
		struct buf ct, out;

		snprintf(p, sizeof p, "%s/armored.age", dir);
		ct = slurp(p);
		cr_assert_eq(decrypt_all(ids, ct.p, ct.len, 0, &out), -EBADMSG, "armor is not read");
		free(ct.p);
	}
	rfs_age_identities_free(ids);
}

Test(age, stanzas_of_other_types_from_the_age_tool_are_skipped)
{
	struct rfs_age_identities *ids = ids_of(2);
	struct buf ct, out;
	char p[256];

	static const char ssh_pub[] =
		"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAtiDgNOYLKfGJpup60w2M1WAZes4MdHLgywRTijAscC test\n";

	/* An ssh-ed25519 stanza before ours, from the real tool (a public key whose
	** secret half was thrown away). */
	write_path("ssh.pub", p, ssh_pub, strlen(ssh_pub));
	write_path("plain", p, "hello", 5);
	sh("age -R %s/ssh.pub -r %s -o %s/mixed.age %s", dir, rcpt[2], dir, p);
	snprintf(p, sizeof p, "%s/mixed.age", dir);
	ct = slurp(p);
	cr_assert_not_null(memmem(ct.p, ct.len, "-> ssh-ed25519 ", 15));
	cr_assert_eq(decrypt_all(ids, ct.p, ct.len, 0, &out), 0);
	cr_assert_eq(out.len, 5);
	cr_assert_arr_eq(out.p, "hello", 5);
	free(out.p);
	free(ct.p);
	rfs_age_identities_free(ids);
}

/* ---- files built by hand, for the chunk rules no honest writer breaks ---- */

static void t_hkdf(uint8_t out[32], const uint8_t *salt, size_t saltlen, const uint8_t *ikm,
                   size_t ikmlen, const char *info)
{
	crypto_auth_hmacsha256_state st;
	uint8_t prk[32], zero[32] = { 0 }, one = 1;

	crypto_auth_hmacsha256_init(&st, saltlen ? salt : zero, saltlen ? saltlen : 32);
	crypto_auth_hmacsha256_update(&st, ikm, ikmlen);
	crypto_auth_hmacsha256_final(&st, prk);
	crypto_auth_hmacsha256_init(&st, prk, 32);
	crypto_auth_hmacsha256_update(&st, (const uint8_t *)info, strlen(info));
	crypto_auth_hmacsha256_update(&st, &one, 1);
	crypto_auth_hmacsha256_final(&st, out);
}

/* An age file to pk[0] whose chunks have the given plaintext sizes and last flags. */
static struct buf crafted(size_t n, const size_t *sizes, const bool *last)
{
	static const uint8_t zero_nonce[12];
	uint8_t fk[16], eph[32], share[32], shared[32], salt[64], wrap[32], body[32], mac[32];
	uint8_t key[32], nonce[16], *chunk = calloc(1, CT_CHUNK);
	char hdr[512], s64[44], b64[44], m64[44];
	crypto_auth_hmacsha256_state st;
	struct buf out = { 0 };
	size_t len;

	randombytes_buf(fk, sizeof fk);
	randombytes_buf(eph, sizeof eph);
	crypto_scalarmult_base(share, eph);
	cr_assert_eq(crypto_scalarmult(shared, eph, pk[0]), 0);
	memcpy(salt, share, 32);
	memcpy(salt + 32, pk[0], 32);
	t_hkdf(wrap, salt, 64, shared, 32, "age-encryption.org/v1/X25519");
	crypto_aead_chacha20poly1305_ietf_encrypt(body, NULL, fk, 16, NULL, 0, NULL, zero_nonce, wrap);
	sodium_bin2base64(s64, sizeof s64, share, 32, sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
	sodium_bin2base64(b64, sizeof b64, body, 32, sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
	len = (size_t)snprintf(hdr, sizeof hdr, "age-encryption.org/v1\n-> X25519 %s\n%s\n---", s64, b64);
	t_hkdf(key, NULL, 0, fk, 16, "header");
	crypto_auth_hmacsha256_init(&st, key, 32);
	crypto_auth_hmacsha256_update(&st, (const uint8_t *)hdr, len);
	crypto_auth_hmacsha256_final(&st, mac);
	sodium_bin2base64(m64, sizeof m64, mac, 32, sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
	len += (size_t)snprintf(hdr + len, sizeof hdr - len, " %s\n", m64);
	buf_sink(&out, hdr, len);
	randombytes_buf(nonce, sizeof nonce);
	buf_sink(&out, nonce, sizeof nonce);
	t_hkdf(key, nonce, 16, fk, 16, "payload");
	for (size_t i = 0; i < n; i++) {
		uint8_t cn[12] = { 0 };

		cn[10] = (uint8_t)i;
		cn[11] = last[i];
		memset(chunk, 'a' + (int)i, sizes[i]);
		crypto_aead_chacha20poly1305_ietf_encrypt(chunk, NULL, chunk, sizes[i], NULL, 0, NULL, cn, key);
		buf_sink(&out, chunk, sizes[i] + 16);
	}
	free(chunk);
	return out;
}

static int read_crafted(size_t n, const size_t *sizes, const bool *last, size_t *got)
{
	struct rfs_age_identities *ids = ids_of(0);
	struct buf ct = crafted(n, sizes, last), out;
	int rc = decrypt_all(ids, ct.p, ct.len, 0, &out);

	*got = out.len;
	free(out.p);
	free(ct.p);
	rfs_age_identities_free(ids);
	return rc;
}

Test(age, the_last_chunk_rules)
{
	size_t got;

	cr_assert_eq(read_crafted(1, (size_t[]){ 100 }, (bool[]){ true }, &got), 0, "the builder is right");
	cr_assert_eq(got, 100);
	cr_assert_eq(read_crafted(1, (size_t[]){ 0 }, (bool[]){ true }, &got), 0, "an empty payload");
	cr_assert_eq(got, 0);
	cr_assert_eq(read_crafted(2, (size_t[]){ CHUNK, 5 }, (bool[]){ false, true }, &got), 0);
	cr_assert_eq(got, CHUNK + 5);
	/* An empty last chunk after a full one (a full last chunk carries the flag). */
	cr_assert_eq(read_crafted(2, (size_t[]){ CHUNK, 0 }, (bool[]){ false, true }, &got), -EBADMSG);
	cr_assert_eq(got, CHUNK);
	/* A last chunk with more after it; a short chunk not flagged last; a short middle chunk. */
	cr_assert_eq(read_crafted(2, (size_t[]){ CHUNK, 5 }, (bool[]){ true, true }, &got), -EBADMSG);
	cr_assert_eq(got, 0);
	cr_assert_eq(read_crafted(1, (size_t[]){ 100 }, (bool[]){ false }, &got), -EBADMSG);
	cr_assert_eq(read_crafted(2, (size_t[]){ 100, 100 }, (bool[]){ false, true }, &got), -EBADMSG);
	cr_assert_eq(got, 0);
}

Test(age, every_flipped_bit_anywhere_is_refused)
{
	uint8_t *plain = random_bytes(300);
	struct buf ct = encrypt_to(plain, 300, 1, 300), out;
	struct rfs_age_identities *ids = ids_of(0);

	for (size_t i = 0; i < ct.len; i++) {
		uint8_t bit = (uint8_t)(1u << (i % 8));

		ct.p[i] ^= bit;
		cr_assert_lt(decrypt_all(ids, ct.p, ct.len, 0, &out), 0, "byte %zu accepted", i);
		cr_assert_eq(out.len, 0, "byte %zu: plaintext released", i);
		ct.p[i] ^= bit;
	}
	cr_assert_eq(decrypt_all(ids, ct.p, ct.len, 0, &out), 0);
	free(out.p);
	free(ct.p);
	free(plain);
	rfs_age_identities_free(ids);
}
