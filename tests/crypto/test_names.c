/* Unit tests of crypto/names: SIV names, long names, symlink targets, xattrs. */
#include <errno.h>
#include <criterion/criterion.h>
#include <sodium.h>
#include <string.h>

#include "crypto/encoding.h"
#include "crypto/names.h"
#include "test_helpers.h"

static struct rfs_keys *keys;
static uint8_t dirid[RFS_DIRID_SIZE], dirid2[RFS_DIRID_SIZE];

static void init(void)
{
	keys = test_random_keys();
	randombytes_buf(dirid, sizeof(dirid));
	randombytes_buf(dirid2, sizeof(dirid2));
}

static void fini(void)
{
	rfs_keys_free(keys);
}

TestSuite(names, .init = init, .fini = fini);

static void assert_round_trip(const char *name)
{
	char text[RFS_ENC_NAME_MAX + 1], back[256];
	int n = rfs_name_seal(text, sizeof(text), name, dirid, keys);

	cr_assert_gt(n, 0, "seal '%s' failed: %d", name, n);
	cr_assert_eq((size_t)n, strlen(text));
	cr_assert_eq((size_t)n, rfs_b64_len(RFS_NAME_TAG + strlen(name)));
	cr_assert_neq(text[0], '.', "sealed text must never start with '.'");
	cr_assert_null(strchr(text, '/'));
	cr_assert_eq(rfs_name_open(back, sizeof(back), text, dirid, keys), (int)strlen(name));
	cr_assert_str_eq(back, name);
}

Test(names, round_trips_of_awkward_names)
{
	char longest[256];
	const char *names[] = {
		"a", "hello.txt", "Zoë – café 日本語.pdf", "QUJD", "Zm9vYmFy", "-_-_", ".dirid",
		".Lb3JhbmdlLXRyZWUtaGFzaC1sb29rcy1saWtlLXRoaXM.n", ".LAAAA", ".n", ".hidden", "...",
		" leading and trailing ", "new\nline", "tab\there", "\x01\x7f", "~$lock#file.docx#",
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		assert_round_trip(names[i]);
	memset(longest, 'x', 255);
	longest[255] = '\0';
	assert_round_trip(longest);
	/* 255 bytes of UTF-8: 85 three-byte characters. */
	for (int i = 0; i < 85; i++)
		memcpy(longest + 3 * i, "€", 3);
	assert_round_trip(longest);
}

Test(names, deterministic_per_dirid_distinct_across)
{
	char a[RFS_ENC_NAME_MAX + 1], b[RFS_ENC_NAME_MAX + 1], c[RFS_ENC_NAME_MAX + 1];
	char back[256];

	rfs_name_seal(a, sizeof(a), "report.pdf", dirid, keys);
	rfs_name_seal(b, sizeof(b), "report.pdf", dirid, keys);
	cr_assert_str_eq(a, b);
	rfs_name_seal(c, sizeof(c), "report.pdf", dirid2, keys);
	cr_assert_str_neq(a, c);
	rfs_name_seal(c, sizeof(c), "report.pdg", dirid, keys);
	cr_assert_str_neq(a, c);
	cr_assert_eq(rfs_name_open(back, sizeof(back), a, dirid2, keys), -EIO, "wrong dirid opened");
}

Test(names, invalid_clear_names_are_refused)
{
	char text[RFS_ENC_NAME_MAX + 1], big[300];

	cr_assert_eq(rfs_name_seal(text, sizeof(text), "", dirid, keys), -EINVAL);
	cr_assert_eq(rfs_name_seal(text, sizeof(text), ".", dirid, keys), -EINVAL);
	cr_assert_eq(rfs_name_seal(text, sizeof(text), "..", dirid, keys), -EINVAL);
	cr_assert_eq(rfs_name_seal(text, sizeof(text), "a/b", dirid, keys), -EINVAL);
	cr_assert_eq(rfs_name_seal(text, sizeof(text), "/", dirid, keys), -EINVAL);
	memset(big, 'y', 256);
	big[256] = '\0';
	cr_assert_eq(rfs_name_seal(text, sizeof(text), big, dirid, keys), -ENAMETOOLONG);
	big[255] = '\0';
	cr_assert_eq(rfs_name_seal(text, 100, big, dirid, keys), -ENAMETOOLONG, "small buffer");
}

Test(names, tampered_or_foreign_text_is_eio)
{
	char text[RFS_ENC_NAME_MAX + 1], back[256];
	const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	int n = rfs_name_seal(text, sizeof(text), "budget-2025.xlsx", dirid, keys);

	for (int i = 0; i < n; i++) {
		char saved = text[i];
		for (const char *c = alphabet; *c; c++) {
			if (*c == saved)
				continue;
			text[i] = *c;
			cr_assert_eq(rfs_name_open(back, sizeof(back), text, dirid, keys), -EIO,
			             "tamper at %d with '%c' accepted", i, *c);
		}
		text[i] = saved;
	}
	text[n - 1] = '\0';
	cr_assert_eq(rfs_name_open(back, sizeof(back), text, dirid, keys), -EIO, "truncated");
	cr_assert_eq(rfs_name_open(back, sizeof(back), "", dirid, keys), -EIO);
	cr_assert_eq(rfs_name_open(back, sizeof(back), ".dirid", dirid, keys), -EIO);
	cr_assert_eq(rfs_name_open(back, sizeof(back), "AAAAAAAAAAAAAAAAAAAAAAAA", dirid, keys), -EIO);
}

/* Seal by the construction documented in names.h and docs/FORMAT.md,
** straight from libsodium and without the library's name checks. */
static void seal_by_spec(char *text, const char *name)
{
	uint8_t sealed[RFS_NAME_TAG + 255], nonce[24] = { 0 };
	crypto_generichash_state st;
	size_t len = strlen(name);

	crypto_generichash_init(&st, keys->name_mac, 32, RFS_NAME_TAG);
	crypto_generichash_update(&st, dirid, RFS_DIRID_SIZE);
	crypto_generichash_update(&st, (const uint8_t *)name, len);
	crypto_generichash_final(&st, sealed, RFS_NAME_TAG);
	memcpy(nonce, sealed, RFS_NAME_TAG);
	crypto_stream_xchacha20_xor(sealed + RFS_NAME_TAG, (const uint8_t *)name, len, nonce,
	                            keys->name_enc);
	sodium_bin2base64(text, RFS_ENC_NAME_MAX + 1, sealed, RFS_NAME_TAG + len,
	                  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

Test(names, matches_the_documented_construction)
{
	char expect[RFS_ENC_NAME_MAX + 1], text[RFS_ENC_NAME_MAX + 1];

	seal_by_spec(expect, "Minutes 2024-03.odt");
	cr_assert_gt(rfs_name_seal(text, sizeof(text), "Minutes 2024-03.odt", dirid, keys), 0);
	cr_assert_str_eq(text, expect);
}

Test(names, authentic_text_of_an_invalid_name_is_refused)
{
	const char *invalid[] = { ".", "..", "a/b" };
	char text[RFS_ENC_NAME_MAX + 1], back[256];

	for (size_t i = 0; i < 3; i++) {
		seal_by_spec(text, invalid[i]);
		cr_assert_eq(rfs_name_open(back, sizeof(back), text, dirid, keys), -EIO,
		             "'%s' accepted", invalid[i]);
	}
	seal_by_spec(text, "ok");
	cr_assert_eq(rfs_name_open(back, sizeof(back), text, dirid, keys), 2);
}

Test(names, long_names_are_hashed_beside_a_side_file)
{
	char name[256], text[RFS_ENC_NAME_MAX + 1], backing[256], expect[256], side[260];
	uint8_t hash[32];

	memset(name, 'n', 255);
	name[255] = '\0';
	cr_assert_eq(rfs_name_seal(text, sizeof(text), name, dirid, keys), RFS_ENC_NAME_MAX);
	cr_assert(rfs_name_backing(backing, text));
	cr_assert_eq(strlen(backing), RFS_LONG_NAME_LEN);
	crypto_generichash(hash, 32, (const uint8_t *)text, strlen(text), NULL, 0);
	memcpy(expect, RFS_LONG_PREFIX, 2);
	rfs_b64_encode(expect + 2, hash, 32);
	cr_assert_str_eq(backing, expect);
	cr_assert(rfs_name_is_long(backing));
	cr_assert_not(rfs_name_is_internal(backing));
	snprintf(side, sizeof(side), "%s%s", backing, RFS_LONG_SUFFIX);
	cr_assert(rfs_name_is_internal(side));
	cr_assert_not(rfs_name_is_long(side));

	/* The longest clear name that is not hashed: 16 + n bytes encode to <= 255 chars. */
	name[175] = '\0';
	rfs_name_seal(text, sizeof(text), name, dirid, keys);
	cr_assert_eq(strlen(text), 255);
	cr_assert_not(rfs_name_backing(backing, text));
	cr_assert_str_eq(backing, text);
	name[175] = 'n';
	name[176] = '\0';
	rfs_name_seal(text, sizeof(text), name, dirid, keys);
	cr_assert(rfs_name_backing(backing, text));
}

Test(names, internal_name_recognition)
{
	char text[RFS_ENC_NAME_MAX + 1];

	cr_assert(rfs_name_is_internal(".dirid"));
	cr_assert(rfs_name_is_internal(".Labc.n"));
	cr_assert_not(rfs_name_is_internal(".dirid2"));
	cr_assert_not(rfs_name_is_internal(".Labc"));
	cr_assert_not(rfs_name_is_internal("abc.n"));
	cr_assert_not(rfs_name_is_long(".Labc"));
	rfs_name_seal(text, sizeof(text), ".dirid", dirid, keys);
	cr_assert_not(rfs_name_is_internal(text));
	cr_assert_not(rfs_name_is_long(text));
}

Test(names, symlink_targets)
{
	char target[4096], text[4096], back[4096];
	int n;

	n = rfs_name_target_seal(text, sizeof(text), "../shared/Case 17/notes.odt", keys);
	cr_assert_gt(n, 0);
	cr_assert_null(strchr(text, '/'));
	cr_assert_neq(text[0], '.');
	cr_assert_eq(rfs_name_target_open(back, sizeof(back), text, keys), 27);
	cr_assert_str_eq(back, "../shared/Case 17/notes.odt");

	memset(target, 't', sizeof(target));
	target[3031] = '\0';
	n = rfs_name_target_seal(text, sizeof(text), target, keys);
	cr_assert_leq(n, 4095);
	cr_assert_eq(rfs_name_target_open(back, sizeof(back), text, keys), 3031);
	cr_assert_str_eq(back, target);
	target[3031] = 't';
	target[3032] = '\0';
	cr_assert_eq(rfs_name_target_seal(text, sizeof(text), target, keys), -ENAMETOOLONG);
	target[3032] = 't';
	target[4095] = '\0';
	cr_assert_eq(rfs_name_target_seal(text, sizeof(text), target, keys), -ENAMETOOLONG);
	cr_assert_eq(rfs_name_target_seal(text, sizeof(text), "", keys), -EINVAL);
}

Test(names, symlink_targets_random_nonce_and_tamper)
{
	char a[200], b[200], back[200];
	int n = rfs_name_target_seal(a, sizeof(a), "/etc/hosts", keys);

	rfs_name_target_seal(b, sizeof(b), "/etc/hosts", keys);
	cr_assert_str_neq(a, b);
	for (int i = 0; i < n; i++) {
		char saved = a[i];
		a[i] = saved == 'A' ? 'B' : 'A';
		cr_assert_eq(rfs_name_target_open(back, sizeof(back), a, keys), -EIO, "tamper at %d", i);
		a[i] = saved;
	}
	cr_assert_eq(rfs_name_target_open(back, 5, a, keys), -ENAMETOOLONG);
	cr_assert_eq(rfs_name_target_open(back, sizeof(back), "not base64!", keys), -EIO);
	cr_assert_eq(rfs_name_target_open(back, sizeof(back), "AAAA", keys), -EIO);
}

Test(names, xattr_names)
{
	char text[RFS_ENC_NAME_MAX + 1], same[RFS_ENC_NAME_MAX + 1], back[256], big[256];
	uint8_t xattr_dirid[RFS_DIRID_SIZE];

	cr_assert_gt(rfs_name_xattr_seal(text, sizeof(text), "xdg.origin.url", keys), 0);
	cr_assert_eq(rfs_name_xattr_open(back, sizeof(back), text, keys), 14);
	cr_assert_str_eq(back, "xdg.origin.url");
	memset(xattr_dirid, 0xff, sizeof(xattr_dirid));
	rfs_name_seal(same, sizeof(same), "xdg.origin.url", xattr_dirid, keys);
	cr_assert_str_eq(text, same, "xattr names are names under the all-0xff dirid");
	cr_assert_gt(rfs_name_xattr_seal(text, sizeof(text), "a/b", keys), 0, "'/' is legal here");
	cr_assert_eq(rfs_name_xattr_open(back, sizeof(back), text, keys), 3);
	cr_assert_eq(rfs_name_xattr_seal(text, sizeof(text), "", keys), -EINVAL);
	memset(big, 'x', 171);
	big[171] = '\0';
	cr_assert_gt(rfs_name_xattr_seal(text, sizeof(text), big, keys), 0);
	cr_assert_leq(strlen("user.") + strlen(text), 255);
	big[171] = 'x';
	big[172] = '\0';
	cr_assert_eq(rfs_name_xattr_seal(text, sizeof(text), big, keys), -ERANGE);
	rfs_name_seal(same, sizeof(same), "xdg.origin.url", dirid, keys);
	cr_assert_eq(rfs_name_xattr_open(back, sizeof(back), same, keys), -EIO);
}

Test(names, xattr_values)
{
	const char *name = "c2VhbGVkLW5hbWU";
	uint8_t owner[RFS_XATTR_OWNER_SIZE], other[RFS_XATTR_OWNER_SIZE];
	uint8_t val[300], ct[340], back[300];

	randombytes_buf(owner, sizeof(owner));
	memcpy(other, owner, sizeof(other));
	other[15] ^= 1;
	randombytes_buf(val, sizeof(val));
	cr_assert_eq(rfs_name_xattr_value_seal(ct, val, sizeof(val), owner, name, keys), 0);
	cr_assert_eq(rfs_name_xattr_value_open(back, ct, sizeof(ct), owner, name, keys), 0);
	cr_assert_eq(memcmp(back, val, sizeof(val)), 0);
	cr_assert_eq(rfs_name_xattr_value_open(back, ct, sizeof(ct), owner, "c2VhbGVkLW5hbWE", keys), -EIO,
	             "value moved to another name");
	cr_assert_eq(rfs_name_xattr_value_open(back, ct, sizeof(ct), other, name, keys), -EIO,
	             "value moved to another file or folder");
	ct[100] ^= 1;
	cr_assert_eq(rfs_name_xattr_value_open(back, ct, sizeof(ct), owner, name, keys), -EIO);
	cr_assert_eq(rfs_name_xattr_value_open(back, ct, 39, owner, name, keys), -EIO);

	rfs_name_xattr_value_seal(ct, NULL, 0, owner, name, keys);
	cr_assert_eq(rfs_name_xattr_value_open(back, ct, 40, owner, name, keys), 0, "empty value");
}
