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
/* Format 2 folder keys (the vault-wide subkeys) of dirid, dirid2 and the all-0xff xattr dirid. */
static struct rfs_folder_keys *fk, *fk2, *fkx;

static void init(void)
{
	uint8_t xattr_dirid[RFS_DIRID_SIZE];

	keys = test_random_keys();
	randombytes_buf(dirid, sizeof(dirid));
	randombytes_buf(dirid2, sizeof(dirid2));
	memset(xattr_dirid, 0xff, sizeof(xattr_dirid));
	fk = sodium_malloc(sizeof(*fk));
	fk2 = sodium_malloc(sizeof(*fk2));
	fkx = sodium_malloc(sizeof(*fkx));
	cr_assert(fk && fk2 && fkx);
	rfs_folder_keys_from_vault(fk, dirid, keys);
	rfs_folder_keys_from_vault(fk2, dirid2, keys);
	rfs_folder_keys_from_vault(fkx, xattr_dirid, keys);
}

static void fini(void)
{
	sodium_free(fk);
	sodium_free(fk2);
	sodium_free(fkx);
	rfs_keys_free(keys);
}

TestSuite(names, .init = init, .fini = fini);

static void assert_round_trip(const char *name)
{
	char text[RFS_ENC_NAME_MAX + 1], back[256];
	int n = rfs_name_seal(text, sizeof(text), name, fk);

	cr_assert_gt(n, 0, "seal '%s' failed: %d", name, n);
	cr_assert_eq((size_t)n, strlen(text));
	cr_assert_eq((size_t)n, rfs_b64_len(RFS_NAME_TAG + strlen(name)));
	cr_assert_neq(text[0], '.', "sealed text must never start with '.'");
	cr_assert_null(strchr(text, '/'));
	cr_assert_eq(rfs_name_open(back, sizeof(back), text, fk), (int)strlen(name));
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

	rfs_name_seal(a, sizeof(a), "report.pdf", fk);
	rfs_name_seal(b, sizeof(b), "report.pdf", fk);
	cr_assert_str_eq(a, b);
	rfs_name_seal(c, sizeof(c), "report.pdf", fk2);
	cr_assert_str_neq(a, c);
	rfs_name_seal(c, sizeof(c), "report.pdg", fk);
	cr_assert_str_neq(a, c);
	cr_assert_eq(rfs_name_open(back, sizeof(back), a, fk2), -EIO, "wrong dirid opened");
}

Test(names, invalid_clear_names_are_refused)
{
	char text[RFS_ENC_NAME_MAX + 1], big[300];

	cr_assert_eq(rfs_name_seal(text, sizeof(text), "", fk), -EINVAL);
	cr_assert_eq(rfs_name_seal(text, sizeof(text), ".", fk), -EINVAL);
	cr_assert_eq(rfs_name_seal(text, sizeof(text), "..", fk), -EINVAL);
	cr_assert_eq(rfs_name_seal(text, sizeof(text), "a/b", fk), -EINVAL);
	cr_assert_eq(rfs_name_seal(text, sizeof(text), "/", fk), -EINVAL);
	memset(big, 'y', 256);
	big[256] = '\0';
	cr_assert_eq(rfs_name_seal(text, sizeof(text), big, fk), -ENAMETOOLONG);
	big[255] = '\0';
	cr_assert_eq(rfs_name_seal(text, 100, big, fk), -ENAMETOOLONG, "small buffer");
}

Test(names, tampered_or_foreign_text_is_eio)
{
	char text[RFS_ENC_NAME_MAX + 1], back[256];
	const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	int n = rfs_name_seal(text, sizeof(text), "budget-2025.xlsx", fk);

	for (int i = 0; i < n; i++) {
		char saved = text[i];
		for (const char *c = alphabet; *c; c++) {
			if (*c == saved)
				continue;
			text[i] = *c;
			cr_assert_eq(rfs_name_open(back, sizeof(back), text, fk), -EIO,
			             "tamper at %d with '%c' accepted", i, *c);
		}
		text[i] = saved;
	}
	text[n - 1] = '\0';
	cr_assert_eq(rfs_name_open(back, sizeof(back), text, fk), -EIO, "truncated");
	cr_assert_eq(rfs_name_open(back, sizeof(back), "", fk), -EIO);
	cr_assert_eq(rfs_name_open(back, sizeof(back), ".dirid", fk), -EIO);
	cr_assert_eq(rfs_name_open(back, sizeof(back), "AAAAAAAAAAAAAAAAAAAAAAAA", fk), -EIO);
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
	cr_assert_gt(rfs_name_seal(text, sizeof(text), "Minutes 2024-03.odt", fk), 0);
	cr_assert_str_eq(text, expect);
}

Test(names, authentic_text_of_an_invalid_name_is_refused)
{
	const char *invalid[] = { ".", "..", "a/b" };
	char text[RFS_ENC_NAME_MAX + 1], back[256];

	for (size_t i = 0; i < 3; i++) {
		seal_by_spec(text, invalid[i]);
		cr_assert_eq(rfs_name_open(back, sizeof(back), text, fk), -EIO,
		             "'%s' accepted", invalid[i]);
	}
	seal_by_spec(text, "ok");
	cr_assert_eq(rfs_name_open(back, sizeof(back), text, fk), 2);
}

Test(names, long_names_are_hashed_beside_a_side_file)
{
	char name[256], text[RFS_ENC_NAME_MAX + 1], backing[256], expect[256], side[260];
	uint8_t hash[32];

	memset(name, 'n', 255);
	name[255] = '\0';
	cr_assert_eq(rfs_name_seal(text, sizeof(text), name, fk), RFS_ENC_NAME_MAX);
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
	rfs_name_seal(text, sizeof(text), name, fk);
	cr_assert_eq(strlen(text), 255);
	cr_assert_not(rfs_name_backing(backing, text));
	cr_assert_str_eq(backing, text);
	name[175] = 'n';
	name[176] = '\0';
	rfs_name_seal(text, sizeof(text), name, fk);
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
	rfs_name_seal(text, sizeof(text), ".dirid", fk);
	cr_assert_not(rfs_name_is_internal(text));
	cr_assert_not(rfs_name_is_long(text));
}

Test(names, symlink_targets)
{
	char target[4096], text[4096], back[4096];
	int n;

	n = rfs_name_target_seal(text, sizeof(text), "../shared/Case 17/notes.odt", fk);
	cr_assert_gt(n, 0);
	cr_assert_null(strchr(text, '/'));
	cr_assert_neq(text[0], '.');
	cr_assert_eq(rfs_name_target_open(back, sizeof(back), text, fk), 27);
	cr_assert_str_eq(back, "../shared/Case 17/notes.odt");

	memset(target, 't', sizeof(target));
	target[3031] = '\0';
	n = rfs_name_target_seal(text, sizeof(text), target, fk);
	cr_assert_leq(n, 4095);
	cr_assert_eq(rfs_name_target_open(back, sizeof(back), text, fk), 3031);
	cr_assert_str_eq(back, target);
	target[3031] = 't';
	target[3032] = '\0';
	cr_assert_eq(rfs_name_target_seal(text, sizeof(text), target, fk), -ENAMETOOLONG);
	target[3032] = 't';
	target[4095] = '\0';
	cr_assert_eq(rfs_name_target_seal(text, sizeof(text), target, fk), -ENAMETOOLONG);
	cr_assert_eq(rfs_name_target_seal(text, sizeof(text), "", fk), -EINVAL);
}

Test(names, symlink_targets_random_nonce_and_tamper)
{
	char a[200], b[200], back[200];
	int n = rfs_name_target_seal(a, sizeof(a), "/etc/hosts", fk);

	rfs_name_target_seal(b, sizeof(b), "/etc/hosts", fk);
	cr_assert_str_neq(a, b);
	for (int i = 0; i < n; i++) {
		char saved = a[i];
		a[i] = saved == 'A' ? 'B' : 'A';
		cr_assert_eq(rfs_name_target_open(back, sizeof(back), a, fk), -EIO, "tamper at %d", i);
		a[i] = saved;
	}
	cr_assert_eq(rfs_name_target_open(back, 5, a, fk), -ENAMETOOLONG);
	cr_assert_eq(rfs_name_target_open(back, sizeof(back), "not base64!", fk), -EIO);
	cr_assert_eq(rfs_name_target_open(back, sizeof(back), "AAAA", fk), -EIO);
}

Test(names, xattr_names)
{
	char text[RFS_ENC_NAME_MAX + 1], same[RFS_ENC_NAME_MAX + 1], back[256], big[256];
	cr_assert_gt(rfs_name_xattr_seal(text, sizeof(text), "xdg.origin.url", &fk->entries), 0);
	cr_assert_eq(rfs_name_xattr_open(back, sizeof(back), text, &fk->entries), 14);
	cr_assert_str_eq(back, "xdg.origin.url");
	rfs_name_seal(same, sizeof(same), "xdg.origin.url", fkx);
	cr_assert_str_eq(text, same, "xattr names are names under the all-0xff dirid");
	cr_assert_gt(rfs_name_xattr_seal(text, sizeof(text), "a/b", &fk->entries), 0, "'/' is legal here");
	cr_assert_eq(rfs_name_xattr_open(back, sizeof(back), text, &fk->entries), 3);
	cr_assert_eq(rfs_name_xattr_seal(text, sizeof(text), "", &fk->entries), -EINVAL);
	memset(big, 'x', 171);
	big[171] = '\0';
	cr_assert_gt(rfs_name_xattr_seal(text, sizeof(text), big, &fk->entries), 0);
	cr_assert_leq(strlen("user.") + strlen(text), 255);
	big[171] = 'x';
	big[172] = '\0';
	cr_assert_eq(rfs_name_xattr_seal(text, sizeof(text), big, &fk->entries), -ERANGE);
	rfs_name_seal(same, sizeof(same), "xdg.origin.url", fk);
	cr_assert_eq(rfs_name_xattr_open(back, sizeof(back), same, &fk->entries), -EIO);
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
	cr_assert_eq(rfs_name_xattr_value_seal(ct, val, sizeof(val), owner, name, &fk->entries), 0);
	cr_assert_eq(rfs_name_xattr_value_open(back, ct, sizeof(ct), owner, name, &fk->entries), 0);
	cr_assert_eq(memcmp(back, val, sizeof(val)), 0);
	cr_assert_eq(rfs_name_xattr_value_open(back, ct, sizeof(ct), owner, "c2VhbGVkLW5hbWE", &fk->entries), -EIO,
	             "value moved to another name");
	cr_assert_eq(rfs_name_xattr_value_open(back, ct, sizeof(ct), other, name, &fk->entries), -EIO,
	             "value moved to another file or folder");
	ct[100] ^= 1;
	cr_assert_eq(rfs_name_xattr_value_open(back, ct, sizeof(ct), owner, name, &fk->entries), -EIO);
	cr_assert_eq(rfs_name_xattr_value_open(back, ct, 39, owner, name, &fk->entries), -EIO);

	rfs_name_xattr_value_seal(ct, NULL, 0, owner, name, &fk->entries);
	cr_assert_eq(rfs_name_xattr_value_open(back, ct, 40, owner, name, &fk->entries), 0, "empty value");
}

/* ---- format 3: keys derived from a folder key ---- */

static struct rfs_folder_keys *derived(const uint8_t id[RFS_DIRID_SIZE], const uint8_t key[32])
{
	struct rfs_folder_keys *f = sodium_malloc(sizeof(*f));

	cr_assert_not_null(f);
	rfs_folder_keys_derive(f, id, key);
	return f;
}

Test(names, folder_keys_are_crypto_kdf_of_the_folder_key)
{
	uint8_t key[32], want[32];
	struct rfs_folder_keys *f;

	randombytes_buf(key, sizeof(key));
	f = derived(dirid, key);
	cr_assert_eq(memcmp(f->dirid, dirid, RFS_DIRID_SIZE), 0);
	const uint8_t *by_id[] = { NULL, f->name_mac, f->name_enc, f->entries.aead, f->path, f->tag,
	                           f->own.aead };

	for (uint64_t id = 1; id <= 6; id++) {
		crypto_kdf_derive_from_key(want, 32, id, "recfsdir", key);
		cr_assert_eq(memcmp(by_id[id], want, 32), 0, "folder subkey %d", (int)id);
	}
	crypto_kdf_derive_from_key(want, 32, 1, "recfsxat", f->entries.aead);
	cr_assert_eq(memcmp(f->entries.mac, want, 32), 0, "xattr name mac from meta");
	crypto_kdf_derive_from_key(want, 32, 2, "recfsxat", f->own.aead);
	cr_assert_eq(memcmp(f->own.enc, want, 32), 0, "xattr name stream from own");
	sodium_free(f);
}

Test(names, a_name_opens_only_under_its_folders_key)
{
	uint8_t key[32], key2[32];
	char a[RFS_ENC_NAME_MAX + 1], b[RFS_ENC_NAME_MAX + 1], back[256];
	struct rfs_folder_keys *f, *same_id_other_key, *other_id_same_key;

	randombytes_buf(key, sizeof(key));
	randombytes_buf(key2, sizeof(key2));
	f = derived(dirid, key);
	same_id_other_key = derived(dirid, key2);
	other_id_same_key = derived(dirid2, key);
	cr_assert_gt(rfs_name_seal(a, sizeof(a), "Case 17 – Zoë.odt", f), 0);
	cr_assert_gt(rfs_name_seal(b, sizeof(b), "Case 17 – Zoë.odt", f), 0);
	cr_assert_str_eq(a, b, "deterministic in one folder");
	cr_assert_eq(rfs_name_open(back, sizeof(back), a, f), (int)strlen("Case 17 – Zoë.odt"));
	cr_assert_gt(rfs_name_seal(b, sizeof(b), "Case 17 – Zoë.odt", same_id_other_key), 0);
	cr_assert_str_neq(a, b);
	cr_assert_eq(rfs_name_open(back, sizeof(back), a, same_id_other_key), -EIO);
	cr_assert_eq(rfs_name_open(back, sizeof(back), a, other_id_same_key), -EIO);
	cr_assert_eq(rfs_name_open(back, sizeof(back), a, fk), -EIO, "not under the vault-wide keys");

	/* Targets and xattrs: under the folder's meta (entries) or own keys, no other. */
	cr_assert_gt(rfs_name_target_seal(a, sizeof(a), "../x", f), 0);
	cr_assert_eq(rfs_name_target_open(back, sizeof(back), a, f), 4);
	cr_assert_eq(rfs_name_target_open(back, sizeof(back), a, same_id_other_key), -EIO);
	cr_assert_gt(rfs_name_xattr_seal(a, sizeof(a), "xdg.origin.url", &f->entries), 0);
	cr_assert_eq(rfs_name_xattr_open(back, sizeof(back), a, &f->entries), 14);
	cr_assert_eq(rfs_name_xattr_open(back, sizeof(back), a, &f->own), -EIO, "file's vs folder's own");
	cr_assert_eq(rfs_name_xattr_open(back, sizeof(back), a, &same_id_other_key->entries), -EIO);
	sodium_free(f);
	sodium_free(same_id_other_key);
	sodium_free(other_id_same_key);
}

Test(names, format_2_folder_keys_seal_as_format_2_always_did)
{
	char expect[RFS_ENC_NAME_MAX + 1], text[RFS_ENC_NAME_MAX + 1];

	seal_by_spec(expect, "Minutes 2024-03.odt");
	cr_assert_gt(rfs_name_seal(text, sizeof(text), "Minutes 2024-03.odt", fk), 0);
	cr_assert_str_eq(text, expect);
	cr_assert_eq(memcmp(fk->entries.mac, keys->name_mac, 32), 0);
	cr_assert_eq(memcmp(fk->own.aead, keys->meta, 32), 0);
}
