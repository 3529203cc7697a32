/* Unit tests of archive/verify: each check against a bag spoiled one way (written by
** tests/integration/archive_gen.py with python's tarfile), signed in-process with
** crypto/minisign so that the exit code says only what the content says; signatures,
** truncation, non-archives, and age files made by the real age tool. */
#include <criterion/criterion.h>
#include <errno.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "archive/bag.h"
#include "archive/verify.h"
#include "crypto/age.h"
#include "crypto/minisign.h"
#include "../crypto/test_helpers.h"

/* Each test's folder, and the signing key of its archives (the vault's, standing in). */
static char dir[64];
static uint8_t pk[32], sk[64], keyid[8];

static void each_test_starts(void)
{
	cr_assert_eq(rfs_secmem_init(), 0);
	test_make_tmpdir(dir);
	uint8_t seed[crypto_sign_SEEDBYTES];
	randombytes_buf(seed, sizeof(seed));        /* any key will do; one per test */
	crypto_sign_seed_keypair(pk, sk, seed);
	memcpy(keyid, seed, sizeof(keyid));
}

static void each_test_ends(void)
{
	test_remove_tree(dir);
}

TestSuite(verify, .init = each_test_starts, .fini = each_test_ends);

static char *path_in(const char *name)
{
	static char p[32][256];
	static int i;
	i = (i + 1) % 32;   /* a few live at once */
	snprintf(p[i], sizeof(p[i]), "%s/%s", dir, name);
	return p[i];
}

static int sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

/* OUT written by the generator's CASE. */
static const char *gen(const char *cas, const char *out)
{
	const char *src = getenv("SRCDIR");
	char *p = path_in(out);
	cr_assert_eq(sh("python3 %s/tests/integration/archive_gen.py %s '%s'", src ? src : ".", cas, p), 0,
	             "the generator failed on %s", cas);
	return p;
}

static uint8_t *slurp(const char *p, size_t *len)
{
	FILE *f = fopen(p, "rb");
	cr_assert_not_null(f);
	fseek(f, 0, SEEK_END);
	*len = (size_t)ftell(f);
	rewind(f);
	uint8_t *b = malloc(*len + 1);
	cr_assert_eq(fread(b, 1, *len, f), *len);
	fclose(f);
	return b;
}

/* FILE.minisig by the test's key, and the key as vault.pub beside it. */
static void sign(const char *file)
{
	size_t len;
	uint8_t *b = slurp(file, &len), hash[64];
	struct rfs_minisign_hash h;
	rfs_minisign_hash_init(&h);
	rfs_minisign_hash_update(&h, b, len);
	rfs_minisign_hash_final(&h, hash);
	free(b);
	char *sig, *pub, sp[300];
	cr_assert_eq(rfs_minisign_sign(sk, keyid, hash, "test", "file:test.tar", &sig), 0);
	snprintf(sp, sizeof(sp), "%s.minisig", file);
	test_write_file(sp, sig, strlen(sig));
	cr_assert_eq(rfs_minisign_pubkey_text(keyid, pk, "test key", &pub), 0);
	test_write_file(path_in("vault.pub"), pub, strlen(pub));
	free(sig);
	free(pub);
}

static bool have(const char *tool)
{
	return sh("command -v %s >/dev/null", tool) == 0;
}

static bool has(const struct rfs_archive_report *r, enum rfs_archive_problem_kind k)
{
	for (size_t i = 0; i < r->n_problems; i++)
		if (r->problems[i].kind == k)
			return true;
	return false;
}

static void show(const struct rfs_archive_report *r)
{
	for (size_t i = 0; i < r->n_problems; i++)
		cr_log_info("%s: %s: %s", rfs_archive_problem_name(r->problems[i].kind),
		            r->problems[i].path, r->problems[i].detail);
}

static void verify(const char *file, const struct rfs_archive_verify_options *o,
                   struct rfs_archive_report *r)
{
	struct rfs_archive_verify_options none = { 0 };
	cr_assert_eq(rfs_archive_verify(file, o ? o : &none, r), 0);
	show(r);
}

/* CASE, signed: its one kind of problem (or none) and the exit code. */
static void expect_case(const char *cas, int kind, int code)
{
	char out[64];
	snprintf(out, sizeof(out), "%s.tar", cas);
	const char *f = gen(cas, out);
	sign(f);
	struct rfs_archive_report r;
	verify(f, NULL, &r);
	cr_expect_eq(r.exit_code, code, "%s: exit %d, not %d", cas, r.exit_code, code);
	if (kind < 0)
		cr_expect_eq(r.problems_total, 0, "%s: no problem", cas);
	else
		cr_expect(has(&r, (enum rfs_archive_problem_kind)kind), "%s: %s found", cas,
		          rfs_archive_problem_name((enum rfs_archive_problem_kind)kind));
	cr_expect(r.signed_ok, "%s: the signature checks", cas);
	rfs_archive_report_free(&r);
}

Test(verify, a_valid_bag)
{
	keyid[7] = 0;   /* the id's top digits are zero, which minisign does not print */
	const char *f = gen("valid", "v.tar");
	sign(f);
	struct rfs_archive_report r;
	verify(f, NULL, &r);
	cr_expect_eq(r.exit_code, 0);
	cr_expect_eq(r.problems_total, 0);
	cr_expect_str_eq(r.bag_name, "Telecare");
	cr_expect_eq(r.files, 12, "payload files, hard links and links to files too: %lu",
	             (unsigned long)r.files);
	cr_expect_eq(r.objects, 1);
	cr_expect_eq(r.versions, 2);
	cr_expect(!r.encrypted);
	cr_expect(r.signed_ok && r.signature_checked);
	char hex[17];
	for (int i = 0; i < 8; i++)   /* as minisign prints it: the little-endian number... */
		snprintf(hex + 2 * i, 3, "%02X", keyid[7 - i]);
	const char *digits = hex + strspn(hex, "0");   /* ...without leading zeros */
	cr_expect_str_eq(r.key_id, *digits ? digits : "0");
	cr_expect_str_eq(r.trusted_comment, "file:test.tar");
	rfs_archive_report_free(&r);
}

Test(verify, compressed_bags)
{
	expect_case("valid", -1, 0);
	const char *g = gen("valid", "v.tar.gz"), *z = gen("valid", "v.tar.zst");
	struct rfs_archive_report r;
	sign(g);
	verify(g, NULL, &r);
	cr_expect_eq(r.exit_code, 0);
	rfs_archive_report_free(&r);
	sign(z);
	verify(z, NULL, &r);
	cr_expect_eq(r.exit_code, 0);
	rfs_archive_report_free(&r);
}

Test(verify, other_orders_and_spellings)
{
	expect_case("sorted", -1, 0);          /* inventories and manifest lines before their files */
	expect_case("uppercase", -1, 0);
	expect_case("odd-names", -1, 0);       /* LF and % percent-encoded */
}

/* Each damage, and the kind it must be found as (exit 1: the content). */
Test(verify, each_damage)
{
	static const struct { const char *cas; enum rfs_archive_problem_kind kind; } cases[] = {
		{ "changed", RFS_AP_CHANGED }, { "missing", RFS_AP_MISSING }, { "extra", RFS_AP_EXTRA },
		{ "malformed-line", RFS_AP_MANIFEST_MALFORMED },
		{ "manifest-twice", RFS_AP_MANIFEST_MALFORMED },
		{ "oxum", RFS_AP_BAG_MALFORMED }, { "outside", RFS_AP_BAG_MALFORMED },
		{ "traversal-dotdot", RFS_AP_UNSAFE_PATH }, { "traversal-abs", RFS_AP_UNSAFE_PATH },
		{ "symlink-out", RFS_AP_UNSAFE_LINK }, { "hardlink-out", RFS_AP_UNSAFE_LINK },
		{ "ocfl-mismatch", RFS_AP_OCFL_MISMATCH }, { "ocfl-gap", RFS_AP_OCFL_MISMATCH },
		{ "ocfl-head", RFS_AP_OCFL_MISMATCH }, { "ocfl-sidecar", RFS_AP_OCFL_MISMATCH },
		{ "ocfl-unlisted", RFS_AP_OCFL_MISMATCH },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect_case(cases[i].cas, (int)cases[i].kind, 1);
}

Test(verify, signatures)
{
	const char *f = gen("valid", "v.tar");
	struct rfs_archive_report r;
	verify(f, NULL, &r);
	cr_expect_eq(r.exit_code, 4, "no FILE.minisig");
	cr_expect(has(&r, RFS_AP_NO_SIGNATURE));
	cr_expect(!r.signature_checked);
	rfs_archive_report_free(&r);

	sign(f);
	/* the key only through --pubkey */
	char moved[300];
	snprintf(moved, sizeof(moved), "%s/key", dir);
	cr_assert_eq(rename(path_in("vault.pub"), path_in("key")), 0);
	verify(f, NULL, &r);
	cr_expect_eq(r.exit_code, 4, "no key beside it");
	cr_expect(has(&r, RFS_AP_NO_SIGNATURE));
	rfs_archive_report_free(&r);
	struct rfs_archive_verify_options o = { .pubkey_path = moved };
	verify(f, &o, &r);
	cr_expect_eq(r.exit_code, 0, "--pubkey");
	rfs_archive_report_free(&r);

	/* another key beside it: its key id does not match */
	uint8_t pk2[32], sk2[64], id2[8];
	char *pub;
	crypto_sign_keypair(pk2, sk2);
	randombytes_buf(id2, sizeof(id2));
	cr_assert_eq(rfs_minisign_pubkey_text(id2, pk2, "other", &pub), 0);
	test_write_file(path_in("other.pub"), pub, strlen(pub));
	free(pub);
	verify(f, NULL, &r);
	cr_expect_eq(r.exit_code, 4);
	cr_expect(has(&r, RFS_AP_NO_SIGNATURE), "signed by a key id no .pub has");
	rfs_archive_report_free(&r);

	/* one byte of the file changed after signing (in a tar's padding: the bag still checks) */
	cr_assert_eq(rename(path_in("key"), path_in("vault.pub")), 0);
	size_t len;
	uint8_t *b = slurp(f, &len);
	b[len - 1] ^= 1;
	test_write_file(f, b, len);
	free(b);
	verify(f, NULL, &r);
	cr_expect_eq(r.exit_code, 4);
	cr_expect(has(&r, RFS_AP_BAD_SIGNATURE));
	cr_expect(r.signature_checked && !r.signed_ok);
	rfs_archive_report_free(&r);
}

/* The offset in the tar where the first entry's data ends, the last one's begins. */
Test(verify, truncated)
{
	const char *f = gen("valid", "v.tar");
	size_t len;
	uint8_t *b = slurp(f, &len);
	/* inside a header, inside data, at an entry's edge, inside the manifest */
	size_t offs[] = { 700, 1024 + 30, 1536, 5000, 12000 };
	for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
		test_write_file(path_in("t.tar"), b, offs[i]);
		struct rfs_archive_report r;
		verify(path_in("t.tar"), NULL, &r);
		cr_expect_eq(r.exit_code, 3, "cut at %zu: exit %d", offs[i], r.exit_code);
		cr_expect(has(&r, RFS_AP_TRUNCATED), "cut at %zu", offs[i]);
		rfs_archive_report_free(&r);
	}
	free(b);
	const char *g = gen("valid", "v.tar.gz");
	b = slurp(g, &len);
	size_t goffs[] = { 40, len / 2, len - 4 };
	for (size_t i = 0; i < 3; i++) {
		test_write_file(path_in("t.tar.gz"), b, goffs[i]);
		struct rfs_archive_report r;
		verify(path_in("t.tar.gz"), NULL, &r);
		cr_expect_eq(r.exit_code, 3, "gzip cut at %zu", goffs[i]);
		cr_expect(has(&r, RFS_AP_TRUNCATED), "gzip cut at %zu", goffs[i]);
		rfs_archive_report_free(&r);
	}
	free(b);
}

Test(verify, not_an_archive)
{
	struct rfs_archive_report r;
	test_write_file(path_in("e.tar"), "", 0);
	verify(path_in("e.tar"), NULL, &r);
	cr_expect_eq(r.exit_code, 3);
	cr_expect(has(&r, RFS_AP_NOT_ARCHIVE));
	rfs_archive_report_free(&r);
	uint8_t junk[20000];
	randombytes_buf(junk, sizeof(junk));
	test_write_file(path_in("j.tar"), junk, sizeof(junk));
	verify(path_in("j.tar"), NULL, &r);
	cr_expect_eq(r.exit_code, 3);
	cr_expect(has(&r, RFS_AP_NOT_ARCHIVE));
	rfs_archive_report_free(&r);
	cr_expect_eq(rfs_archive_verify(path_in("absent.tar"), NULL, &r), -ENOENT);
	cr_expect_eq(rfs_archive_verify(dir, NULL, &r), -EISDIR);
}

/* A bag whose manifest lists n files that are not there, after (or before) the payload. */
static const char *many_lines(const char *out, unsigned n, bool first)
{
	const char *p = path_in(out);
	cr_assert_eq(sh("python3 -c \"import sys; sys.path.insert(0, '%s/tests/integration'); "
	                "import archive_gen as g; g.case_manifest_huge('%s', %u, %s)\"",
	                getenv("SRCDIR") ? getenv("SRCDIR") : ".", p, n, first ? "True" : "False"), 0);
	return p;
}

Test(verify, the_first_hundred_problems_and_the_count)
{
	many_lines("m.tar", 50000, false);
	struct rfs_archive_report r;
	verify(path_in("m.tar"), NULL, &r);
	cr_expect_eq(r.n_problems, RFS_ARCHIVE_VERIFY_MAX_PROBLEMS);
	cr_expect_geq(r.problems_total, 50000, "%lu", (unsigned long)r.problems_total);
	cr_expect(has(&r, RFS_AP_MISSING));
	rfs_archive_report_free(&r);
}

Test(verify, manifest_lines_waiting_for_their_files_are_capped)
{
	const char *f = many_lines("m.tar", RFS_ARCHIVE_VERIFY_MAX_PENDING + 10000, true);
	struct rfs_archive_report r;
	verify(f, NULL, &r);
	cr_expect_eq(r.exit_code, 3);
	cr_expect(has(&r, RFS_AP_LIMIT));
	rfs_archive_report_free(&r);
	/* under the cap they wait, and are missing at the end */
	f = many_lines("m2.tar", 20000, true);
	verify(f, NULL, &r);
	cr_expect(has(&r, RFS_AP_MISSING));
	cr_expect(!has(&r, RFS_AP_LIMIT));
	cr_expect_geq(r.problems_total, 20000);
	rfs_archive_report_free(&r);
}

Test(verify, the_names_of_all_entries_are_capped)
{
	/* 40,000 names of 4,000 bytes: more than RFS_ARCHIVE_VERIFY_MAX_NAMES */
	const char *f = gen("long-names", "ln.tar.gz");
	struct rfs_archive_report r;
	verify(f, NULL, &r);
	cr_expect_eq(r.exit_code, 3);
	cr_expect(has(&r, RFS_AP_LIMIT));
	cr_expect_lt(r.files, 40000, "it stopped early: %lu", (unsigned long)r.files);
	rfs_archive_report_free(&r);
}

Test(verify, age_files_of_the_real_age)
{
	if (!have("age") || !have("age-keygen"))
		cr_skip_test("age is not installed");
	const char *f = gen("valid", "v.tar.gz");
	cr_assert_eq(sh("age-keygen -o %s 2>/dev/null && age-keygen -o %s 2>/dev/null", path_in("id"),
	                path_in("other")), 0);
	cr_assert_eq(sh("age -r $(age-keygen -y %s) -o %s %s", path_in("id"), path_in("v.tar.gz.age"), f), 0);
	const char *a = path_in("v.tar.gz.age");
	sign(a);
	struct rfs_age_identities *id, *other;
	char err[256];
	cr_assert_eq(rfs_age_identities_read(path_in("id"), &id, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(rfs_age_identities_read(path_in("other"), &other, err, sizeof(err)), 0, "%s", err);

	struct rfs_archive_report r;
	struct rfs_archive_verify_options o = { .identities = id };
	verify(a, &o, &r);
	cr_expect_eq(r.exit_code, 0);
	cr_expect(r.encrypted && r.signed_ok);
	cr_expect_eq(r.objects, 1);
	rfs_archive_report_free(&r);

	o.identities = other;
	verify(a, &o, &r);
	cr_expect_eq(r.exit_code, 5);
	cr_expect(has(&r, RFS_AP_WRONG_IDENTITY));
	cr_expect(r.signed_ok, "the signature is over the encrypted bytes: it checks without the key");
	rfs_archive_report_free(&r);

	verify(a, NULL, &r);
	cr_expect_eq(r.exit_code, 5);
	cr_expect(has(&r, RFS_AP_NO_IDENTITY));
	rfs_archive_report_free(&r);

	/* a byte of the ciphertext changed: its chunk fails; and the signature (4 < 5, 3, ...) */
	size_t len;
	uint8_t *b = slurp(a, &len);
	b[len - 20] ^= 1;
	test_write_file(a, b, len);
	free(b);
	o.identities = id;
	verify(a, &o, &r);
	cr_expect(has(&r, RFS_AP_CHANGED));
	cr_expect(has(&r, RFS_AP_BAD_SIGNATURE));
	cr_expect_eq(r.exit_code, 4);
	rfs_archive_report_free(&r);

	rfs_age_identities_free(id);
	rfs_age_identities_free(other);
}

Test(verify, problem_names)
{
	cr_expect_str_eq(rfs_archive_problem_name(RFS_AP_MISSING), "missing");
	cr_expect_str_eq(rfs_archive_problem_name(RFS_AP_MANIFEST_MALFORMED), "manifest-malformed");
	cr_expect_str_eq(rfs_archive_problem_name(RFS_AP_NOT_ARCHIVE), "not-an-archive");
	cr_expect_str_eq(rfs_archive_problem_name(RFS_AP_WRONG_IDENTITY), "wrong-identity");
	cr_expect_str_eq(rfs_archive_problem_name((enum rfs_archive_problem_kind)99), "unknown");
}

/* ---- bags of archive/bag, the writer verify exists for ---- */

static int put_text(void *arg, rfs_bag_put_fn put, void *put_arg)
{
	return put(put_arg, arg, strlen(arg));
}

#define BAG_OK(call) cr_assert_eq((call), 0, "%s: %s", #call, rfs_bag_error(b))

/* A bag with history, links to files, to folders, through a link to a folder, and dangling. */
static void write_bag(const char *file, enum rfs_bag_compress c, const uint8_t (*rcpt)[32], size_t n,
                      struct rfs_bag_result *res)
{
	static const struct rfs_bag_info info = {
		.name = "Telecare", .source_organization = "Example Council",
		.external_identifier = "recfs:Telecare:test", .software_agent = "recfs 0.1.0",
		.note = "to the housing association", .state_time = 1700000000 + 3 * 86400,
	};
	struct rfs_bag_out out = { .compress = c, .recipients = rcpt, .n_recipients = n };
	struct rfs_bag *b;
	char err[256];
	out.fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	cr_assert_geq(out.fd, 0);
	cr_assert_eq(rfs_bag_start(&info, &out, &b, err, sizeof(err)), 0, "%s", err);
	const int64_t t = 1700000000;
	BAG_OK(rfs_bag_object_begin(b, "Mrs \xc3\x93 Briain", "urn:recfs:Telecare/Mrs"));
	BAG_OK(rfs_bag_version_begin(b, t, 60, "Ann Clerk", "mailto:ann@council", "created"));
	BAG_OK(rfs_bag_version_file(b, "notes 1.txt", t, 6, "k1", put_text, "first\n"));
	BAG_OK(rfs_bag_version_file(b, "scans/a.txt", t, 2, "ka", put_text, "a\n"));
	BAG_OK(rfs_bag_version_end(b));
	BAG_OK(rfs_bag_version_begin(b, t + 86400, 0, "Bob", "mailto:bob@council", "saved"));
	BAG_OK(rfs_bag_version_file(b, "notes 1.txt", t + 86400, 7, "k2", put_text, "second\n"));
	BAG_OK(rfs_bag_version_file(b, "scans/a.txt", t, 2, "ka", put_text, "a\n"));
	BAG_OK(rfs_bag_version_end(b));
	BAG_OK(rfs_bag_object_end(b));
	BAG_OK(rfs_bag_folder(b, "Mrs \xc3\x93 Briain", 0755, t + 86400));
	BAG_OK(rfs_bag_file(b, "Mrs \xc3\x93 Briain/notes 1.txt", 0644, t + 86400, 7, "k2", put_text,
	                    "second\n"));
	BAG_OK(rfs_bag_folder(b, "Mrs \xc3\x93 Briain/scans", 0755, t));
	BAG_OK(rfs_bag_file(b, "Mrs \xc3\x93 Briain/scans/a.txt", 0644, t, 2, "ka", put_text, "a\n"));
	BAG_OK(rfs_bag_symlink(b, "Mrs \xc3\x93 Briain/latest", "notes 1.txt", t));
	BAG_OK(rfs_bag_symlink(b, "Mrs \xc3\x93 Briain/scans dir", "scans", t));
	BAG_OK(rfs_bag_file(b, "Other/x y.txt", 0755, t, 6, NULL, put_text, "other\n"));
	BAG_OK(rfs_bag_symlink(b, "Other/to a", "../Mrs \xc3\x93 Briain/scans dir/a.txt", t));
	BAG_OK(rfs_bag_symlink(b, "Other/dangling", "nothing here", t));
	BAG_OK(rfs_bag_tag_file(b, "records.csv", "path,class\r\n", 12));
	cr_assert_eq(rfs_bag_finish(b, res, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(close(out.fd), 0);
}

Test(verify, bags_of_the_bag_writer)
{
	const char *names[] = { "w.tar", "w.tar.gz", "w.tar.zst" };
	for (int c = RFS_BAG_PLAIN; c <= RFS_BAG_ZSTD; c++) {
		const char *f = path_in(names[c]);
		struct rfs_bag_result res;
		write_bag(f, (enum rfs_bag_compress)c, NULL, 0, &res);
		sign(f);
		struct rfs_archive_report r;
		verify(f, NULL, &r);
		cr_expect_eq(r.exit_code, 0, "%s: exit %d", names[c], r.exit_code);
		cr_expect_eq(r.problems_total, 0, "%s", names[c]);
		cr_expect_eq(r.files, res.payload_files, "%s: %lu files, the writer says %lu", names[c],
		             (unsigned long)r.files, (unsigned long)res.payload_files);
		cr_expect_eq(r.bytes, res.payload_bytes, "%s", names[c]);
		cr_expect_eq(r.objects, res.objects);
		cr_expect_eq(r.versions, res.versions);
		rfs_archive_report_free(&r);
	}
}

Test(verify, an_encrypted_bag_of_the_bag_writer)
{
	if (!have("age-keygen"))
		cr_skip_test("age is not installed");
	cr_assert_eq(sh("age-keygen -o %s 2>/dev/null && age-keygen -y %s > %s", path_in("id"),
	                path_in("id"), path_in("r")), 0);
	size_t len;
	char *text = (char *)slurp(path_in("r"), &len);
	text[strcspn(text, "\n")] = '\0';
	uint8_t rcpt[1][32];
	cr_assert_eq(rfs_age_recipient_parse(text, rcpt[0]), 0);
	free(text);
	const char *f = path_in("w.tar.zst.age");
	struct rfs_bag_result res;
	write_bag(f, RFS_BAG_ZSTD, rcpt, 1, &res);
	sign(f);
	struct rfs_age_identities *id;
	char err[256];
	cr_assert_eq(rfs_age_identities_read(path_in("id"), &id, err, sizeof(err)), 0, "%s", err);
	struct rfs_archive_verify_options o = { .identities = id };
	struct rfs_archive_report r;
	verify(f, &o, &r);
	cr_expect_eq(r.exit_code, 0);
	cr_expect(r.encrypted);
	cr_expect_eq(r.files, res.payload_files);
	rfs_archive_report_free(&r);
	rfs_age_identities_free(id);
}
