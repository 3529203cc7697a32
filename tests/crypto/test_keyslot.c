/* Unit tests of crypto/keyslot: recfs.conf and passphrase keyslots. */
#include <errno.h>
#include <criterion/criterion.h>
#include <sodium.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/encoding.h"
#include "crypto/keyslot.h"
#include "test_helpers.h"

static struct rfs_kdf fast;
static uint8_t master[32];
static char dir[64], conf_path[128];

static void init(void)
{
	cr_assert_eq(rfs_secmem_init(), 0);
	rfs_keyslot_kdf_insecure_fast(&fast);
	randombytes_buf(master, sizeof(master));
	test_make_tmpdir(dir);
	snprintf(conf_path, sizeof(conf_path), "%s/recfs.conf", dir);
}

static void fini(void)
{
	test_remove_tree(dir);
}

TestSuite(keyslot, .init = init, .fini = fini);

static void conf_with_slot(struct rfs_conf *c, const char *label, const char *pass)
{
	rfs_keyslot_conf_init(c);
	cr_assert_eq(rfs_keyslot_add(c, label, master, pass, strlen(pass), &fast), 0);
}

static void assert_unlocks(const struct rfs_conf *c, const char *pass, int want_slot)
{
	uint8_t got[32];
	int slot = -1;

	cr_assert_eq(rfs_keyslot_unlock(c, pass, strlen(pass), got, &slot), 0, "'%s'", pass);
	cr_assert_eq(slot, want_slot);
	cr_assert_eq(memcmp(got, master, 32), 0);
}

static void assert_refused(const struct rfs_conf *c, const char *pass)
{
	uint8_t got[32];
	int slot = -1;

	cr_assert_eq(rfs_keyslot_unlock(c, pass, strlen(pass), got, &slot), -EACCES, "'%s'", pass);
}

Test(keyslot, kdf_presets)
{
	struct rfs_kdf d;

	rfs_keyslot_kdf_default(&d);
	cr_assert_eq(d.opslimit, crypto_pwhash_OPSLIMIT_MODERATE);
	cr_assert_eq(d.memlimit, crypto_pwhash_MEMLIMIT_MODERATE);
	cr_assert_eq(fast.opslimit, crypto_pwhash_OPSLIMIT_MIN);
	cr_assert_eq(fast.memlimit, crypto_pwhash_MEMLIMIT_MIN);
}

Test(keyslot, add_unlock_and_wrong_passphrase)
{
	struct rfs_conf c;

	conf_with_slot(&c, "jsmith", "correct horse");
	cr_assert_str_eq(c.slots[0].label, "jsmith");
	cr_assert_eq(c.slots[0].kdf.opslimit, fast.opslimit);
	assert_unlocks(&c, "correct horse", 0);
	assert_refused(&c, "correct hors");
	assert_refused(&c, "");
	cr_assert_eq(rfs_keyslot_add(&c, "recovery", master, "r3cov", 5, &fast), 1);
	assert_unlocks(&c, "r3cov", 1);
	assert_unlocks(&c, "correct horse", 0);
}

Test(keyslot, wrap_is_bound_to_vault_id)
{
	struct rfs_conf c;

	conf_with_slot(&c, "a", "pw");
	c.vault_id[0] ^= 1;
	assert_refused(&c, "pw");
	c.vault_id[0] ^= 1;
	c.slots[0].wrapped[3] ^= 1;
	assert_refused(&c, "pw");
}

Test(keyslot, rewrap_changes_the_passphrase_only)
{
	struct rfs_conf c;
	uint8_t old_salt[RFS_SALT_SIZE];

	conf_with_slot(&c, "jsmith", "old pass");
	memcpy(old_salt, c.slots[0].salt, sizeof(old_salt));
	cr_assert_eq(rfs_keyslot_rewrap(&c, 0, master, "new pass", 8, &fast), 0);
	cr_assert_neq(memcmp(old_salt, c.slots[0].salt, sizeof(old_salt)), 0, "fresh salt");
	cr_assert_str_eq(c.slots[0].label, "jsmith");
	assert_refused(&c, "old pass");
	assert_unlocks(&c, "new pass", 0);
	cr_assert_eq(rfs_keyslot_rewrap(&c, 3, master, "x", 1, &fast), -ENOENT);
	cr_assert_eq(rfs_keyslot_rewrap(&c, -1, master, "x", 1, &fast), -ENOENT);
}

Test(keyslot, remove_refuses_the_last_slot)
{
	struct rfs_conf c;

	conf_with_slot(&c, "a", "one");
	cr_assert_eq(rfs_keyslot_remove(&c, 0), -EBUSY);
	cr_assert_eq(rfs_keyslot_add(&c, "b", master, "two", 3, &fast), 1);
	cr_assert_eq(rfs_keyslot_remove(&c, 0), 0);
	cr_assert_not(c.slots[0].in_use);
	assert_refused(&c, "one");
	assert_unlocks(&c, "two", 1);
	cr_assert_eq(rfs_keyslot_remove(&c, 0), -ENOENT);
	cr_assert_eq(rfs_keyslot_remove(&c, 1), -EBUSY);
	cr_assert_eq(rfs_keyslot_remove(&c, RFS_MAX_KEYSLOTS), -ENOENT);
}

Test(keyslot, full_table_and_bad_labels)
{
	struct rfs_conf c;
	char label[80];

	rfs_keyslot_conf_init(&c);
	for (int i = 0; i < RFS_MAX_KEYSLOTS; i++) {
		snprintf(label, sizeof(label), "user%d", i);
		cr_assert_eq(rfs_keyslot_add(&c, label, master, "p", 1, &fast), i);
	}
	cr_assert_eq(rfs_keyslot_add(&c, "extra", master, "p", 1, &fast), -ENOSPC);
	rfs_keyslot_conf_init(&c);
	cr_assert_eq(rfs_keyslot_add(&c, "", master, "p", 1, &fast), -EINVAL);
	cr_assert_eq(rfs_keyslot_add(&c, "a b", master, "p", 1, &fast), -EINVAL);
	cr_assert_eq(rfs_keyslot_add(&c, "a=b", master, "p", 1, &fast), -EINVAL);
	memset(label, 'l', 64);
	label[64] = '\0';
	cr_assert_eq(rfs_keyslot_add(&c, label, master, "p", 1, &fast), -EINVAL);
	label[63] = '\0';
	cr_assert_eq(rfs_keyslot_add(&c, label, master, "p", 1, &fast), 0);
	cr_assert_eq(rfs_keyslot_add(&c, "j.smith@council-1_x", master, "p", 1, &fast), 1);
	struct rfs_kdf weak = { 0, 0 };
	cr_assert_eq(rfs_keyslot_add(&c, "w", master, "p", 1, &weak), -EINVAL);
}

static size_t read_conf_text(char *buf, size_t bufsz)
{
	FILE *f = fopen(conf_path, "r");
	size_t n;

	cr_assert_not_null(f);
	n = fread(buf, 1, bufsz - 1, f);
	buf[n] = '\0';
	fclose(f);
	return n;
}

Test(keyslot, conf_write_read_round_trip)
{
	struct rfs_conf c, r;
	char err[256], text[8192], master_hex[65];
	struct stat st;

	conf_with_slot(&c, "jsmith", "pw1");
	cr_assert_eq(rfs_keyslot_add(&c, "recovery", master, "pw2", 3, &fast), 1);
	cr_assert_eq(rfs_keyslot_remove(&c, 0), 0);
	cr_assert_eq(rfs_keyslot_add(&c, "other", master, "pw3", 3, &fast), 0);
	c.chunk_blocks = 128;
	cr_assert_eq(rfs_keyslot_conf_write(conf_path, &c), 0);
	cr_assert_eq(stat(conf_path, &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0600);
	snprintf(text, sizeof(text), "%s.tmp", conf_path);
	cr_assert_eq(access(text, F_OK), -1, "temporary file left behind");

	cr_assert_eq(rfs_keyslot_conf_read(conf_path, &r, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(r.format_version, RFS_FORMAT_VERSION);
	cr_assert_str_eq(r.cipher, "xchacha20poly1305");
	cr_assert_eq(r.block_size, 4096);
	cr_assert_eq(r.chunk_blocks, 128);
	cr_assert_eq(memcmp(r.vault_id, c.vault_id, 16), 0);
	for (int i = 0; i < RFS_MAX_KEYSLOTS; i++) {
		cr_assert_eq(r.slots[i].in_use, c.slots[i].in_use, "slot %d", i);
		if (!c.slots[i].in_use)
			continue;
		cr_assert_str_eq(r.slots[i].label, c.slots[i].label);
		cr_assert_eq(r.slots[i].kdf.opslimit, c.slots[i].kdf.opslimit);
		cr_assert_eq(r.slots[i].kdf.memlimit, c.slots[i].kdf.memlimit);
		cr_assert_eq(memcmp(r.slots[i].salt, c.slots[i].salt, RFS_SALT_SIZE), 0);
		cr_assert_eq(memcmp(r.slots[i].nonce, c.slots[i].nonce, RFS_WRAP_NONCE_SIZE), 0);
		cr_assert_eq(memcmp(r.slots[i].wrapped, c.slots[i].wrapped, RFS_WRAPPED_KEY_SIZE), 0);
	}
	assert_unlocks(&r, "pw2", 1);
	assert_unlocks(&r, "pw3", 0);

	read_conf_text(text, sizeof(text));
	cr_assert_eq(strncmp(text, "recfs-vault 3\n", 14), 0);
	rfs_hex_encode(master_hex, master, 32);
	cr_assert_null(strstr(text, master_hex), "master key in clear");

	/* Rewriting replaces the file atomically. */
	cr_assert_eq(rfs_keyslot_rewrap(&r, 1, master, "pw4", 3, &fast), 0);
	cr_assert_eq(rfs_keyslot_conf_write(conf_path, &r), 0);
	cr_assert_eq(rfs_keyslot_conf_read(conf_path, &c, err, sizeof(err)), 0, "%s", err);
	assert_unlocks(&c, "pw4", 1);
}

/* Write a valid conf, then replace line `line` (1-based) with `with`. */
static void write_conf_with_line(int line, const char *with)
{
	struct rfs_conf c;
	char text[8192], out[8192];
	char *p = text, *o = out;

	conf_with_slot(&c, "a", "pw");
	cr_assert_eq(rfs_keyslot_conf_write(conf_path, &c), 0);
	read_conf_text(text, sizeof(text));
	for (int n = 1; *p; n++) {
		char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) + 1 : strlen(p);
		if (n == line)
			o += sprintf(o, "%s\n", with);
		else {
			memcpy(o, p, len);
			o += len;
		}
		p += len;
	}
	test_write_file(conf_path, out, (size_t)(o - out));
}

static void assert_read_fails(int want, const char *needle)
{
	struct rfs_conf c;
	char err[256] = "";

	cr_assert_eq(rfs_keyslot_conf_read(conf_path, &c, err, sizeof(err)), want, "err: %s", err);
	cr_assert_not_null(strstr(err, needle), "'%s' lacks '%s'", err, needle);
	cr_assert_not_null(strstr(err, conf_path), "'%s' does not name the file", err);
}

Test(keyslot, newer_format_version_is_refused_clearly)
{
	write_conf_with_line(1, "recfs-vault 7");
	assert_read_fails(-EPROTONOSUPPORT, "vault format version 7 is newer than this recfs "
	                  "supports (3); upgrade recfs");
	write_conf_with_line(1, "recfs-vault 0");
	assert_read_fails(-EPROTONOSUPPORT, "version 0");
	write_conf_with_line(1, "recfs-vault 1");
	assert_read_fails(-EPROTONOSUPPORT, "vault format version 1 is older than this recfs "
	                  "supports (2): this recfs cannot open it");
}

Test(keyslot, not_a_vault)
{
	uint8_t garbage[512];

	randombytes_buf(garbage, sizeof(garbage));
	test_write_file(conf_path, garbage, sizeof(garbage));
	assert_read_fails(-EINVAL, "not a recfs vault");
	test_write_file(conf_path, "", 0);
	assert_read_fails(-EINVAL, "not a recfs vault");
	test_write_file(conf_path, "[core]\nbare = true\n", 19);
	assert_read_fails(-EINVAL, "not a recfs vault");
	write_conf_with_line(1, "recfs-vault one");
	assert_read_fails(-EINVAL, "not a recfs vault");
	write_conf_with_line(1, "recfs-vault 1 extra");
	assert_read_fails(-EINVAL, "not a recfs vault");
}

Test(keyslot, missing_file_is_enoent)
{
	struct rfs_conf c;
	char err[256];

	cr_assert_eq(rfs_keyslot_conf_read(conf_path, &c, err, sizeof(err)), -ENOENT);
}

Test(keyslot, malformed_lines_name_their_line)
{
	static const struct {
		int line;
		const char *with;
		int rc;
		const char *says;
	} cases[] = {
		{ 3, "colour blue", -EINVAL, "line 3: unknown setting 'colour'" },
		{ 5, "vault-id 0123", -EINVAL, "line 5" },
		{ 5, "vault-id 0123456789ABCDEF0123456789abcdef", -EINVAL, "line 5" },
		{ 4, "cipher xchacha20poly1305", -EINVAL, "line 4: 'cipher' appears twice" },
		{ 2, "cipher aes256gcm", -EPROTONOSUPPORT, "line 2" },
		{ 3, "block-size 8192", -EPROTONOSUPPORT, "block-size" },
		{ 4, "chunk-blocks 0", -EINVAL, "line 4" },
		{ 7, "keyslot 0 label=a kdf=argon2id13 ops=1 mem=8192 salt=00", -EINVAL, "line 7" },
		{ 7, "keyslot 9 label=a", -EINVAL, "line 7" },
		{ 5, "", -EINVAL, "missing setting 'vault-id'" },
		{ 6, "", -EINVAL, "missing setting 'mac'" },
		{ 6, "mac cipher=00", -EINVAL, "line 6" },
		{ 7, "# no slot", -EINVAL, "no keyslot" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		write_conf_with_line(cases[i].line, cases[i].with);
		assert_read_fails(cases[i].rc, cases[i].says);
	}
}

Test(keyslot, keyslot_line_fields_are_checked)
{
	struct rfs_conf c;
	char err[256], text[8192], *slot, line[1024];

	conf_with_slot(&c, "a", "pw");
	cr_assert_eq(rfs_keyslot_conf_write(conf_path, &c), 0);
	read_conf_text(text, sizeof(text));
	slot = strstr(text, "keyslot 0 ");
	cr_assert_not_null(slot);
	*strchr(slot, '\n') = '\0';
	snprintf(line, sizeof(line), "%s colour=blue", slot);
	write_conf_with_line(7, line);
	assert_read_fails(-EINVAL, "unknown keyslot field 'colour'");
	snprintf(line, sizeof(line), "%s label=b", slot);
	write_conf_with_line(7, line);
	assert_read_fails(-EINVAL, "appears twice");
	cr_assert_eq(rfs_keyslot_conf_read(conf_path, &c, err, sizeof(err)), -EINVAL);
}

/* Item 14: every setting that changes how bytes are read is authenticated. */
Test(keyslot, settings_are_authenticated)
{
	struct rfs_conf c, r;
	uint8_t key[32], other[32];
	char err[256];
	const char *bad = NULL;

	randombytes_buf(key, sizeof(key));
	randombytes_buf(other, sizeof(other));
	conf_with_slot(&c, "a", "pw");
	rfs_keyslot_conf_seal(&c, key);
	cr_assert_eq(rfs_keyslot_conf_write(conf_path, &c), 0);
	cr_assert_eq(rfs_keyslot_conf_read(conf_path, &r, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(rfs_keyslot_conf_authenticate(&r, key, &bad), 0);
	cr_assert_eq(rfs_keyslot_conf_authenticate(&r, other, &bad), -EBADMSG, "another vault's key");

	write_conf_with_line(4, "chunk-blocks 128");
	cr_assert_eq(rfs_keyslot_conf_read(conf_path, &r, err, sizeof(err)), 0, "%s", err);
	memcpy(r.tags, c.tags, sizeof(r.tags));
	memcpy(r.vault_id, c.vault_id, sizeof(r.vault_id));
	cr_assert_eq(rfs_keyslot_conf_authenticate(&r, key, &bad), -EBADMSG);
	cr_assert_str_eq(bad, "chunk-blocks");

	/* A keyslot rewrapped (passwd) keeps the settings' tags valid. */
	cr_assert_eq(rfs_keyslot_rewrap(&c, 0, master, "new", 3, &fast), 0);
	cr_assert_eq(rfs_keyslot_conf_write(conf_path, &c), 0);
	cr_assert_eq(rfs_keyslot_conf_read(conf_path, &r, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(rfs_keyslot_conf_authenticate(&r, key, &bad), 0);
}

/* A vault of format 2 still reads, as format 2; its version is bound into
** the settings' tags, so an edit of the first line (2 to 3 or back) is caught. */
Test(keyslot, format_2_still_reads_and_its_version_is_authenticated)
{
	struct rfs_conf c, r;
	uint8_t key[32];
	char err[256];
	const char *bad = NULL;

	randombytes_buf(key, sizeof(key));
	conf_with_slot(&c, "a", "pw");
	c.format_version = 2;
	rfs_keyslot_conf_seal(&c, key);
	cr_assert_eq(rfs_keyslot_conf_write(conf_path, &c), 0);
	cr_assert_eq(rfs_keyslot_conf_read(conf_path, &r, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(r.format_version, 2);
	cr_assert_eq(rfs_keyslot_conf_authenticate(&r, key, &bad), 0);
	assert_unlocks(&r, "pw", 0);

	write_conf_with_line(1, "recfs-vault 3");
	cr_assert_eq(rfs_keyslot_conf_read(conf_path, &r, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(r.format_version, 3);
	memcpy(r.tags, c.tags, sizeof(r.tags));
	memcpy(r.vault_id, c.vault_id, sizeof(r.vault_id));
	cr_assert_eq(rfs_keyslot_conf_authenticate(&r, key, &bad), -EBADMSG, "version edited 2 -> 3");
}

/* Item 18: an edited keyslot cannot make an unlock run for minutes or allocate
** all memory. */
Test(keyslot, kdf_cost_is_bounded)
{
	struct rfs_conf c;
	char text[8192], line[1024], *slot, *ops;

	conf_with_slot(&c, "a", "pw");
	cr_assert_eq(rfs_keyslot_conf_write(conf_path, &c), 0);
	read_conf_text(text, sizeof(text));
	slot = strstr(text, "keyslot 0 ");
	*strchr(slot, '\n') = '\0';
	ops = strstr(slot, " ops=");
	snprintf(line, sizeof(line), "keyslot 0 label=a kdf=argon2id13 ops=4294967295%s",
	         strstr(ops + 1, " mem="));
	write_conf_with_line(7, line);
	assert_read_fails(-EINVAL, "ops=4294967295 is out of range (at least 1, at most 32)");
	snprintf(line, sizeof(line), "keyslot 0 label=a kdf=argon2id13 ops=2 mem=17179869184%s",
	         strstr(ops + 1, " salt="));
	write_conf_with_line(7, line);
	assert_read_fails(-EINVAL, "mem=17179869184 is out of range");
	struct rfs_kdf big = { 4294967295u, 8192 };
	cr_assert_eq(rfs_keyslot_add(&c, "b", master, "pw", 2, &big), -EINVAL);
}

/* Item 18: a FIFO (or any non-regular file) in place of recfs.conf is refused at once. */
Test(keyslot, non_regular_conf_is_refused_at_once, .timeout = 10)
{
	cr_assert_eq(mkfifo(conf_path, 0600), 0);
	assert_read_fails(-EINVAL, "not a regular file");
	unlink(conf_path);
	cr_assert_eq(mkdir(conf_path, 0700), 0);
	assert_read_fails(-EINVAL, "not a regular file");
	rmdir(conf_path);
	cr_assert_eq(truncate(conf_path, 0) == 0 || errno == ENOENT, 1);
	test_write_file(conf_path, "x", 1);
	cr_assert_eq(truncate(conf_path, 1 << 30), 0);
	assert_read_fails(-EINVAL, "larger than");
}

/* 'added' is optional: written for a new slot, read back, and a slot without it reads as 0. */
Test(keyslot, added_time_is_optional)
{
	struct rfs_conf c, r;
	char err[256], text[8192], *slot, *added, line[1024];
	time_t before = time(NULL);

	conf_with_slot(&c, "a", "pw");
	cr_assert_geq(c.slots[0].added, (uint64_t)before);
	cr_assert_eq(rfs_keyslot_conf_write(conf_path, &c), 0);
	cr_assert_eq(rfs_keyslot_conf_read(conf_path, &r, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(r.slots[0].added, c.slots[0].added);
	read_conf_text(text, sizeof(text));
	slot = strstr(text, "keyslot 0 ");
	cr_assert_not_null(slot);
	*strchr(slot, '\n') = '\0';
	added = strstr(slot, " added=");
	cr_assert_not_null(added, "no added= in: %s", slot);
	*added = '\0';
	write_conf_with_line(7, slot);
	cr_assert_eq(rfs_keyslot_conf_read(conf_path, &r, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(r.slots[0].added, 0);   /* (keys.sh opens such a vault) */
	snprintf(line, sizeof(line), "%s added=0", slot);
	write_conf_with_line(7, line);
	assert_read_fails(-EINVAL, "bad keyslot added");
}
