/* Unit tests of crypto/keystore: keys/ entries, forgery, crypto-shredding.
** Suite keystore: a format-2 key store (ids with a random half); keystore3:
** format 3 (ids with the copy id, per-copy slot folders). */
#include <errno.h>
#include <stdbool.h>
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
static unsigned format = 2;

static void init(void)
{
	char path[128];

	keys = test_random_keys();
	test_make_tmpdir(dir);
	snprintf(path, sizeof(path), "%s/keys", dir);
	cr_assert_eq(mkdir(path, 0700), 0);
	keys_fd = open(path, O_RDONLY | O_DIRECTORY);
	cr_assert_geq(keys_fd, 0);
	cr_assert_eq(rfs_keystore_format(keys_fd, format), 0);
	cr_assert_eq(rfs_keystore_open(&ks, keys_fd, keys, format), 0);
}

static void init3(void)
{
	format = 3;
	init();
}

static void fini(void)
{
	rfs_keystore_close(ks);
	close(keys_fd);
	rfs_keys_free(keys);
	test_remove_tree(dir);
}

TestSuite(keystore, .init = init, .fini = fini);

static void entry_path(char out[160], const uint8_t id[16], uint64_t *offset)
{
	char name[RFS_KEYSTORE_NAME_MAX];

	rfs_keystore_entry_locate(ks, id, name, offset);
	snprintf(out, 160, "%s/keys/%s", dir, name);
}

static void read_entry(uint8_t entry[RFS_KEYSTORE_ENTRY_SIZE], const uint8_t id[16])
{
	char path[160];
	uint64_t off;
	int fd;

	entry_path(path, id, &off);
	fd = open(path, O_RDONLY);
	cr_assert_geq(fd, 0, "%s missing", path);
	cr_assert_eq(pread(fd, entry, RFS_KEYSTORE_ENTRY_SIZE, (off_t)off), RFS_KEYSTORE_ENTRY_SIZE);
	close(fd);
}

/* Write len bytes of buf over the entry of id, in place; truncate: cut the
** slot file right after them. */
static void put_entry(const uint8_t id[16], const void *buf, size_t len, bool truncate)
{
	char path[160];
	uint64_t off;
	int fd;

	entry_path(path, id, &off);
	fd = open(path, O_RDWR | O_CREAT, 0600);
	cr_assert_geq(fd, 0);
	cr_assert_eq(pwrite(fd, buf, len, (off_t)off), (ssize_t)len);
	if (truncate)
		cr_assert_eq(ftruncate(fd, (off_t)(off + len)), 0);
	close(fd);
}

Test(keystore, ids_are_slots_in_slot_files)
{
	uint8_t id1[16], id2[16], key[32];
	char path[160];
	uint64_t off1, off2;
	struct stat st;

	cr_assert_eq(rfs_keystore_create(ks, id1, key), 0);
	cr_assert_eq(rfs_keystore_create(ks, id2, key), 0);
	entry_path(path, id1, &off1);
	entry_path(path, id2, &off2);
	cr_assert_eq(off2, off1 + RFS_KEYSTORE_ENTRY_SIZE, "consecutive slots");
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0600);
	cr_assert_eq(st.st_size, (off_t)(off2 + RFS_KEYSTORE_ENTRY_SIZE));
	cr_assert_neq(memcmp(id1 + 8, id2 + 8, 8), 0, "random halves differ");
}

Test(keystore, a_reopened_store_never_reuses_a_slot)
{
	uint8_t id1[16], id2[16], key[32], back[32];
	struct rfs_keystore *again;

	cr_assert_eq(rfs_keystore_create(ks, id1, key), 0);
	cr_assert_eq(rfs_keystore_open(&again, keys_fd, keys, format), 0);
	cr_assert_eq(rfs_keystore_create(again, id2, key), 0);
	cr_assert_neq(memcmp(id1, id2, 8), 0);
	cr_assert_eq(rfs_keystore_load(again, id1, back), 0);
	rfs_keystore_close(again);
}

Test(keystore, create_load_round_trip)
{
	uint8_t id[16], key[32], back[32], zero[32] = { 0 };
	char path[160];
	uint64_t off;
	struct stat st;

	cr_assert_eq(rfs_keystore_create(ks, id, key), 0);
	cr_assert_neq(memcmp(key, zero, 32), 0);
	entry_path(path, id, &off);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_size, (off_t)(off + RFS_KEYSTORE_ENTRY_SIZE));
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
	uint8_t id[16], key[32], back[32], entry[RFS_KEYSTORE_ENTRY_SIZE];

	cr_assert_eq(rfs_keystore_create(ks, id, key), 0);
	cr_assert_eq(rfs_keystore_destroy(ks, id), 0);
	read_entry(entry, id);
	cr_assert(sodium_is_zero(entry, sizeof(entry)), "the entry is overwritten with zeros");
	cr_assert_eq(rfs_keystore_load(ks, id, back), -ENOENT);
	cr_assert_eq(rfs_keystore_destroy(ks, id), -ENOENT);
}

Test(keystore, zeroed_entry_counts_as_shredded)
{
	uint8_t id[16], key[32], zeros[RFS_KEYSTORE_ENTRY_SIZE] = { 0 };

	cr_assert_eq(rfs_keystore_create(ks, id, key), 0);
	put_entry(id, zeros, sizeof(zeros), false);
	cr_assert_eq(rfs_keystore_load(ks, id, key), -ENOENT);
}

Test(keystore, forged_entries_are_eio)
{
	uint8_t id[16], other[16], key[32], back[32], entry[RFS_KEYSTORE_ENTRY_SIZE];

	cr_assert_eq(rfs_keystore_create(ks, id, key), 0);
	read_entry(entry, id);

	/* Each byte flipped in turn. */
	for (size_t i = 0; i < sizeof(entry); i++) {
		entry[i] ^= 0x10;
		put_entry(id, entry, sizeof(entry), false);
		cr_assert_eq(rfs_keystore_load(ks, id, back), -EIO, "flip at %zu accepted", i);
		entry[i] ^= 0x10;
	}
	put_entry(id, entry, sizeof(entry) - 1, true);
	cr_assert_eq(rfs_keystore_load(ks, id, back), -EIO, "short entry");
	put_entry(id, entry, sizeof(entry), false);
	cr_assert_eq(rfs_keystore_load(ks, id, back), 0);

	/* A valid entry under another file's id: same slot, other random half. */
	memcpy(other, id, 16);
	other[15] ^= 1;
	cr_assert_eq(rfs_keystore_load(ks, other, back), -EIO, "entry read under another id");
}

Test(keystore, another_vaults_keys_cannot_open_entries)
{
	uint8_t id[16], key[32], back[32];
	struct rfs_keys *stranger = test_random_keys();
	struct rfs_keystore *theirs;

	cr_assert_eq(rfs_keystore_create(ks, id, key), 0);
	cr_assert_eq(rfs_keystore_open(&theirs, keys_fd, stranger, format), 0);
	cr_assert_eq(rfs_keystore_load(theirs, id, back), -EIO);
	rfs_keystore_close(theirs);
	rfs_keys_free(stranger);
}

Test(keystore, open_needs_a_valid_fd)
{
	struct rfs_keystore *bad = NULL;

	cr_assert_eq(rfs_keystore_open(&bad, -1, keys, format), -EBADF);
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

/* A power cut can lose a slot file's tail (the entry written, never synced):
** the slot must still never be handed out again, or a later shred of the old
** id would destroy the new file's key. */
static void assert_a_lost_tail_never_gives_a_slot_twice(void)
{
	uint8_t id1[16], id2[16], key[32];
	struct rfs_keystore *again;
	char path[160];
	uint64_t off;

	cr_assert_eq(rfs_keystore_create(ks, id1, key), 0);
	entry_path(path, id1, &off);
	cr_assert_eq(truncate(path, (off_t)off), 0, "the cut loses the entry");
	cr_assert_eq(rfs_keystore_open(&again, keys_fd, keys, format), 0);
	cr_assert_eq(rfs_keystore_create(again, id2, key), 0);
	cr_assert_neq(memcmp(id1, id2, 8), 0, "slot of the lost entry handed out again");
	rfs_keystore_close(again);
}

Test(keystore, a_lost_tail_never_gives_a_slot_twice)
{
	assert_a_lost_tail_never_gives_a_slot_twice();
}

/* Destroy authenticates first: an id whose slot now holds another file's
** entry (same slot, other random half) destroys nothing. */
Test(keystore, destroy_of_a_stale_id_leaves_the_slot_alone)
{
	uint8_t id[16], stale[16], key[32], back[32];

	cr_assert_eq(rfs_keystore_create(ks, id, key), 0);
	memcpy(stale, id, 16);
	stale[12] ^= 0x40;
	cr_assert_eq(rfs_keystore_destroy(ks, stale), -EIO);
	cr_assert_eq(rfs_keystore_load(ks, id, back), 0, "the real file's key survives");
	cr_assert_eq(memcmp(key, back, 32), 0);
}

/* ---- format 3 ---- */

TestSuite(keystore3, .init = init3, .fini = fini);

Test(keystore3, ids_carry_the_copy_id_and_entries_live_in_its_folder)
{
	uint8_t id[16], key[32], back[32], copy[RFS_COPY_ID_SIZE], zero[RFS_COPY_ID_SIZE] = { 0 };
	char name[RFS_KEYSTORE_NAME_MAX], expect[RFS_KEYSTORE_NAME_MAX], path[160];
	uint64_t off;
	struct stat st;

	rfs_keystore_copy_id(ks, copy);
	cr_assert_neq(memcmp(copy, zero, sizeof(copy)), 0);
	cr_assert_eq(rfs_keystore_create(ks, id, key), 0);
	cr_assert_eq(memcmp(id + 8, copy, sizeof(copy)), 0, "the id's second half is the copy id");
	cr_assert_eq(rfs_keystore_load(ks, id, back), 0);
	cr_assert_eq(memcmp(back, key, 32), 0);
	rfs_keystore_entry_locate(ks, id, name, &off);
	snprintf(expect, sizeof(expect), "c%02x%02x%02x%02x%02x%02x%02x%02x/s00000000", copy[0], copy[1],
	         copy[2], copy[3], copy[4], copy[5], copy[6], copy[7]);
	cr_assert_str_eq(name, expect);
	snprintf(path, sizeof(path), "%s/keys/%s", dir, name);
	cr_assert_eq(stat(path, &st), 0, "no slot file at %s", path);
	snprintf(path, sizeof(path), "%s/keys/s00000000", dir);
	cr_assert_neq(stat(path, &st), 0, "format 3 keeps no slot file in keys/ itself");
	cr_assert_eq(rfs_keystore_destroy(ks, id), 0);
	cr_assert_eq(rfs_keystore_load(ks, id, back), -ENOENT);
}

/* A batch of entries made durable together (the folders made ahead for mkdir): every entry
** still opens; an id of another copy has no slot file here. */
Test(keystore3, a_batch_is_synced_together)
{
	uint8_t ids[8][16], key[8][32], back[32];

	for (int i = 0; i < 8; i++)
		cr_assert_eq(rfs_keystore_create(ks, ids[i], key[i]), 0);
	cr_assert_eq(rfs_keystore_sync_many(ks, (const uint8_t (*)[16])ids, 8), 0);
	cr_assert_eq(rfs_keystore_sync_many(ks, (const uint8_t (*)[16])ids, 0), 0);
	for (int i = 0; i < 8; i++) {
		cr_assert_eq(rfs_keystore_load(ks, ids[i], back), 0);
		cr_assert_eq(memcmp(back, key[i], 32), 0);
	}
	ids[3][8] ^= 1;                  /* another copy's id */
	cr_assert_eq(rfs_keystore_sync_many(ks, (const uint8_t (*)[16])ids, 8), -ENOENT);
}

/* Two copies of one vault (the same keys, each its own keys/ with its own
** copy id) hand out ids on their own and never the same one. */
Test(keystore3, two_copies_never_hand_out_one_id)
{
	static uint8_t a[200][16], b[200][16];
	uint8_t key[32];
	char other[128];
	struct rfs_keystore *ks2;
	int fd2;

	snprintf(other, sizeof(other), "%s/keys2", dir);
	cr_assert_eq(mkdir(other, 0700), 0);
	fd2 = open(other, O_RDONLY | O_DIRECTORY);
	cr_assert_eq(rfs_keystore_format(fd2, 3), 0);
	cr_assert_eq(rfs_keystore_open(&ks2, fd2, keys, 3), 0);
	for (int i = 0; i < 200; i++) {
		cr_assert_eq(rfs_keystore_create(ks, a[i], key), 0);
		cr_assert_eq(rfs_keystore_create(ks2, b[i], key), 0);
	}
	cr_assert_eq(memcmp(a[0], b[0], 8), 0, "both copies start at slot 0");
	for (int i = 0; i < 200; i++)
		for (int j = 0; j < 200; j++)
			cr_assert_neq(memcmp(a[i], b[j], 16), 0, "copy ids collide at %d, %d", i, j);
	/* Another copy's id is not this copy's to open (sync brings those). */
	cr_assert_eq(rfs_keystore_load(ks, b[0], key), -ENOENT);
	rfs_keystore_close(ks2);
	close(fd2);
}

Test(keystore3, a_keys_folder_without_its_copy_id_does_not_open)
{
	struct rfs_keystore *again = NULL;
	char path[160];

	snprintf(path, sizeof(path), "%s/keys/copy", dir);
	cr_assert_eq(unlink(path), 0);
	cr_assert_eq(rfs_keystore_open(&again, keys_fd, keys, 3), -EIO);
	cr_assert_null(again);
}

Test(keystore3, a_lost_tail_never_gives_a_slot_twice)
{
	assert_a_lost_tail_never_gives_a_slot_twice();
}
