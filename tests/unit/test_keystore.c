/* Unit tests of crypto/keystore: keys/ entries, forgery, crypto-shredding. */
#include <errno.h>
#include <criterion/criterion.h>
#include <fcntl.h>
#include <sodium.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "crypto/encoding.h"
#include "crypto/keystore.h"
#include "test_helpers.h"

static struct rfs_keys *keys;
static struct rfs_keystore *ks;
static char dir[64];
static int keys_fd;

static void init(void)
{
	char path[128];

	keys = test_random_keys();
	test_make_tmpdir(dir);
	snprintf(path, sizeof(path), "%s/keys", dir);
	cr_assert_eq(mkdir(path, 0700), 0);
	keys_fd = open(path, O_RDONLY | O_DIRECTORY);
	cr_assert_geq(keys_fd, 0);
	cr_assert_eq(rfs_keystore_format(keys_fd), 0);
	cr_assert_eq(rfs_keystore_open(&ks, keys_fd, keys), 0);
}

static void fini(void)
{
	rfs_keystore_close(ks);
	close(keys_fd);
	rfs_keys_free(keys);
	test_remove_tree(dir);
}

TestSuite(keystore, .init = init, .fini = fini);

static void entry_path(char out[160], const uint8_t id[16])
{
	char name[40];

	rfs_keystore_entry_name(name, id);
	snprintf(out, 160, "%s/keys/%s", dir, name);
}

static void read_entry(uint8_t entry[RFS_KEYSTORE_ENTRY_SIZE], const uint8_t id[16])
{
	char path[160];
	FILE *f;

	entry_path(path, id);
	f = fopen(path, "rb");
	cr_assert_not_null(f, "%s missing", path);
	cr_assert_eq(fread(entry, 1, RFS_KEYSTORE_ENTRY_SIZE, f), RFS_KEYSTORE_ENTRY_SIZE);
	fclose(f);
}

Test(keystore, format_makes_256_folders_and_is_repeatable)
{
	struct stat st;
	char path[160];

	for (int b = 0; b < 256; b++) {
		snprintf(path, sizeof(path), "%s/keys/%02x", dir, b);
		cr_assert_eq(stat(path, &st), 0, "%s missing", path);
		cr_assert(S_ISDIR(st.st_mode));
	}
	cr_assert_eq(rfs_keystore_format(keys_fd), 0);
}

Test(keystore, entry_name_layout)
{
	uint8_t id[16];
	char name[40], hex[33];

	randombytes_buf(id, sizeof(id));
	rfs_keystore_entry_name(name, id);
	rfs_hex_encode(hex, id, 16);
	cr_assert_eq(strlen(name), 35);
	cr_assert_eq(strncmp(name, hex, 2), 0);
	cr_assert_eq(name[2], '/');
	cr_assert_str_eq(name + 3, hex);
}

Test(keystore, create_load_round_trip)
{
	uint8_t id[16], key[32], back[32], zero[32] = { 0 };
	char path[160];
	struct stat st;

	cr_assert_eq(rfs_keystore_create(ks, id, key), 0);
	cr_assert_neq(memcmp(key, zero, 32), 0);
	entry_path(path, id);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_size, RFS_KEYSTORE_ENTRY_SIZE);
	cr_assert_eq(st.st_mode & 07777, 0600);
	cr_assert_eq(rfs_keystore_sync(ks, id), 0);
	cr_assert_eq(rfs_keystore_load(ks, id, back), 0);
	cr_assert_eq(memcmp(key, back, 32), 0);
}

Test(keystore, entry_holds_no_clear_key)
{
	uint8_t id[16], key[32], entry[RFS_KEYSTORE_ENTRY_SIZE];

	cr_assert_eq(rfs_keystore_create(ks, id, key), 0);
	read_entry(entry, id);
	for (size_t i = 0; i + 32 <= sizeof(entry); i++)
		cr_assert_neq(memcmp(entry + i, key, 32), 0);
}

Test(keystore, missing_entry_is_enoent)
{
	uint8_t id[16], key[32];

	randombytes_buf(id, sizeof(id));
	cr_assert_eq(rfs_keystore_load(ks, id, key), -ENOENT);
	cr_assert_eq(rfs_keystore_destroy(ks, id), -ENOENT);
}

Test(keystore, destroy_shreds)
{
	uint8_t id[16], key[32], back[32];
	char path[160];

	cr_assert_eq(rfs_keystore_create(ks, id, key), 0);
	cr_assert_eq(rfs_keystore_destroy(ks, id), 0);
	entry_path(path, id);
	cr_assert_eq(access(path, F_OK), -1);
	cr_assert_eq(rfs_keystore_load(ks, id, back), -ENOENT);
	cr_assert_eq(rfs_keystore_destroy(ks, id), -ENOENT);
}

Test(keystore, zeroed_entry_counts_as_shredded)
{
	uint8_t id[16], key[32], zeros[RFS_KEYSTORE_ENTRY_SIZE] = { 0 };
	char path[160];

	cr_assert_eq(rfs_keystore_create(ks, id, key), 0);
	entry_path(path, id);
	test_write_file(path, zeros, sizeof(zeros));
	cr_assert_eq(rfs_keystore_load(ks, id, key), -ENOENT);
}

Test(keystore, forged_entries_are_eio)
{
	uint8_t id[16], other[16], key[32], back[32], entry[RFS_KEYSTORE_ENTRY_SIZE];
	char path[160], other_path[160];

	cr_assert_eq(rfs_keystore_create(ks, id, key), 0);
	read_entry(entry, id);
	entry_path(path, id);

	/* Each byte flipped in turn. */
	for (size_t i = 0; i < sizeof(entry); i++) {
		entry[i] ^= 0x10;
		test_write_file(path, entry, sizeof(entry));
		cr_assert_eq(rfs_keystore_load(ks, id, back), -EIO, "flip at %zu accepted", i);
		entry[i] ^= 0x10;
	}
	test_write_file(path, entry, sizeof(entry) - 1);
	cr_assert_eq(rfs_keystore_load(ks, id, back), -EIO, "short entry");
	test_write_file(path, entry, sizeof(entry));
	cr_assert_eq(rfs_keystore_load(ks, id, back), 0);

	/* A valid entry copied under another file's id. */
	memcpy(other, id, 16);
	other[15] ^= 1;
	entry_path(other_path, other);
	test_write_file(other_path, entry, sizeof(entry));
	cr_assert_eq(rfs_keystore_load(ks, other, back), -EIO, "entry moved to another id");
}

Test(keystore, another_vaults_keys_cannot_open_entries)
{
	uint8_t id[16], key[32], back[32];
	struct rfs_keys *stranger = test_random_keys();
	struct rfs_keystore *theirs;

	cr_assert_eq(rfs_keystore_create(ks, id, key), 0);
	cr_assert_eq(rfs_keystore_open(&theirs, keys_fd, stranger), 0);
	cr_assert_eq(rfs_keystore_load(theirs, id, back), -EIO);
	rfs_keystore_close(theirs);
	rfs_keys_free(stranger);
}

Test(keystore, open_needs_a_valid_fd)
{
	struct rfs_keystore *bad = NULL;

	cr_assert_eq(rfs_keystore_open(&bad, -1, keys), -EBADF);
	cr_assert_null(bad);
}

#define MANY 1000

Test(keystore, a_thousand_entries_quickly)
{
	static uint8_t ids[MANY][16], keys_made[MANY][32];
	uint8_t back[32];
	struct timespec t0, t1;
	double secs;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < MANY; i++)
		cr_assert_eq(rfs_keystore_create(ks, ids[i], keys_made[i]), 0);
	for (int i = 0; i < MANY; i++) {
		cr_assert_eq(rfs_keystore_load(ks, ids[i], back), 0);
		cr_assert_eq(memcmp(back, keys_made[i], 32), 0);
	}
	for (int i = 0; i < MANY; i += 2)
		cr_assert_eq(rfs_keystore_destroy(ks, ids[i]), 0);
	for (int i = 0; i < MANY; i++)
		cr_assert_eq(rfs_keystore_load(ks, ids[i], back), i % 2 ? 0 : -ENOENT);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	cr_assert_lt(secs, 10.0, "1000 entries took %.2f s", secs);
	for (int i = 1; i < MANY; i++)
		cr_assert_neq(memcmp(ids[i], ids[i - 1], 16), 0);
}
