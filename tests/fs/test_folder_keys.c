/* Unit tests of fs/folder_keys: the bounded cache of folder keys, on a real
** vault (format 3, and format 2 for the vault-wide keys), with real threads. */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <time.h>
#include <unistd.h>

#include "fs/dname.h"
#include "tests/fs/fs_fixture.h"

#define MANY (RFS_FOLDER_CACHE_ENTRIES + RFS_FOLDER_CACHE_ENTRIES / 2)

static struct test_vault t;

static void make(unsigned format)
{
	struct rfs_kdf kdf;
	char err[256] = "";

	cr_assert_eq(rfs_secmem_init(), 0);
	test_make_tmpdir(t.top);
	snprintf(t.path, sizeof(t.path), "%s/vault", t.top);
	rfs_keyslot_kdf_insecure_fast(&kdf);
	cr_assert_eq(rfs_vault_create_format(t.path, TEST_PASSPHRASE, strlen(TEST_PASSPHRASE), &kdf,
	                                     "test", format), 0);
	cr_assert_eq(rfs_vault_open(t.path, TEST_PASSPHRASE, strlen(TEST_PASSPHRASE), 0, &t.v, err,
	                            sizeof(err)), 0, "%s", err);
	cr_assert_eq(t.v->format, format);
}

static void init3(void) { make(3); }
static void init2(void) { make(2); }
static void fini(void) { test_vault_remove(&t); }

/* A folder id whose key is in the key store (not synced: a unit test needs no durability). */
static void new_id(uint8_t id[16])
{
	uint8_t *key = sodium_malloc(32);

	cr_assert_not_null(key);
	cr_assert_eq(rfs_keystore_create(t.v->ks, id, key), 0);
	sodium_free(key);
}

/* What the keys of id must be: derived afresh from its keystore entry. */
static void assert_keys_of(const struct rfs_folder_keys *fk, const uint8_t id[16])
{
	struct rfs_folder_keys *want = sodium_malloc(sizeof(*want));
	uint8_t *key = sodium_malloc(32);

	cr_assert(want && key);
	cr_assert_eq(memcmp(fk->dirid, id, 16), 0, "entry of another folder");
	cr_assert_eq(rfs_keystore_load(t.v->ks, id, key), 0);
	rfs_folder_keys_derive(want, id, key);
	cr_assert_eq(sodium_memcmp(fk, want, sizeof(*want)), 0, "keys differ from the derivation");
	sodium_free(key);
	sodium_free(want);
}

TestSuite(folder_keys, .init = init3, .fini = fini);

Test(folder_keys, the_root_folder_id_is_a_keystore_entry)
{
	uint8_t root[16], copy[RFS_COPY_ID_SIZE];
	const struct rfs_folder_keys *fk;

	cr_assert_eq(rfs_dname_read_dirid(t.v->live_fd, root), 0);
	rfs_keystore_copy_id(t.v->ks, copy);
	cr_assert_eq(memcmp(root + 8, copy, 8), 0, "the root's id carries this copy's id");
	cr_assert_eq(rfs_vault_folder_keys_get(t.v, root, &fk), 0);
	assert_keys_of(fk, root);
	rfs_vault_folder_keys_put(t.v, fk);
}

Test(folder_keys, more_folders_than_entries_all_come_back_right)
{
	static uint8_t ids[MANY][16];
	const struct rfs_folder_keys *fk;

	for (int i = 0; i < MANY; i++)
		new_id(ids[i]);
	for (int round = 0; round < 2; round++)
		for (int i = 0; i < MANY; i++) {
			cr_assert_eq(rfs_vault_folder_keys_get(t.v, ids[i], &fk), 0);
			assert_keys_of(fk, ids[i]);
			rfs_vault_folder_keys_put(t.v, fk);
		}
}

Test(folder_keys, an_entry_in_use_is_never_evicted)
{
	static uint8_t ids[MANY][16];
	const struct rfs_folder_keys *held[8], *fk;

	for (int i = 0; i < MANY; i++)
		new_id(ids[i]);
	for (int i = 0; i < 8; i++)
		cr_assert_eq(rfs_vault_folder_keys_get(t.v, ids[i], &held[i]), 0);
	for (int round = 0; round < 3; round++)
		for (int i = 8; i < MANY; i++) {
			cr_assert_eq(rfs_vault_folder_keys_get(t.v, ids[i], &fk), 0);
			rfs_vault_folder_keys_put(t.v, fk);
		}
	for (int i = 0; i < 8; i++) {
		assert_keys_of(held[i], ids[i]);
		rfs_vault_folder_keys_put(t.v, held[i]);
	}
}

Test(folder_keys, a_destroyed_folder_key_is_enoent_once_forgotten)
{
	uint8_t id[16], other[16];
	const struct rfs_folder_keys *fk, *kept;

	new_id(id);
	new_id(other);
	cr_assert_eq(rfs_vault_folder_keys_get(t.v, id, &kept), 0);
	cr_assert_eq(rfs_vault_folder_keys_get(t.v, other, &fk), 0);
	rfs_vault_folder_keys_put(t.v, fk);
	cr_assert_eq(rfs_keystore_destroy(t.v->ks, id), 0);
	rfs_vault_folder_keys_forget(t.v, (const uint8_t (*)[16])id, 1);
	/* In use while forgotten: valid until its put, never found again. */
	cr_assert_eq(memcmp(kept->dirid, id, 16), 0);
	cr_assert_eq(rfs_vault_folder_keys_get(t.v, id, &fk), -ENOENT);
	rfs_vault_folder_keys_put(t.v, kept);
	cr_assert_eq(rfs_vault_folder_keys_get(t.v, id, &fk), -ENOENT);
	cr_assert_eq(rfs_vault_folder_keys_get(t.v, other, &fk), 0, "another folder is untouched");
	assert_keys_of(fk, other);
	rfs_vault_folder_keys_put(t.v, fk);
}

Test(folder_keys, a_folder_id_never_made_is_enoent)
{
	uint8_t id[16];
	const struct rfs_folder_keys *fk;

	new_id(id);
	id[0] ^= 0x40;                       /* a slot never handed out */
	cr_assert_eq(rfs_vault_folder_keys_get(t.v, id, &fk), -ENOENT);
}

struct waiter {
	const uint8_t *id;
	int rc;
	volatile int done;
};

static void *get_one(void *arg)
{
	struct waiter *w = arg;
	const struct rfs_folder_keys *fk;

	w->rc = rfs_vault_folder_keys_get(t.v, w->id, &fk);
	w->done = 1;
	if (w->rc == 0)
		rfs_vault_folder_keys_put(t.v, fk);
	return NULL;
}

Test(folder_keys, with_every_entry_in_use_a_get_waits_for_a_put)
{
	static uint8_t ids[RFS_FOLDER_CACHE_ENTRIES + 1][16];
	static const struct rfs_folder_keys *held[RFS_FOLDER_CACHE_ENTRIES];
	struct waiter w = { 0 };
	pthread_t th;

	for (int i = 0; i <= RFS_FOLDER_CACHE_ENTRIES; i++)
		new_id(ids[i]);
	for (int i = 0; i < RFS_FOLDER_CACHE_ENTRIES; i++)
		cr_assert_eq(rfs_vault_folder_keys_get(t.v, ids[i], &held[i]), 0);
	w.id = ids[RFS_FOLDER_CACHE_ENTRIES];
	cr_assert_eq(pthread_create(&th, NULL, get_one, &w), 0);
	usleep(200 * 1000);
	cr_assert_eq(w.done, 0, "a get took an entry in use");
	rfs_vault_folder_keys_put(t.v, held[0]);
	pthread_join(th, NULL);
	cr_assert_eq(w.rc, 0);
	for (int i = 1; i < RFS_FOLDER_CACHE_ENTRIES; i++) {
		cr_assert_eq(memcmp(held[i]->dirid, ids[i], 16), 0, "entry %d taken while in use", i);
		rfs_vault_folder_keys_put(t.v, held[i]);
	}
}

#define THREADS 4
static uint8_t shared_ids[MANY][16];
static volatile int wrong;

static void *churn(void *arg)
{
	unsigned seed = (unsigned)(uintptr_t)arg;

	for (int i = 0; i < 4000; i++) {
		const struct rfs_folder_keys *a, *b;
		int x = (int)(rand_r(&seed) % MANY), y = (int)(rand_r(&seed) % MANY);

		if (rfs_vault_folder_keys_get(t.v, shared_ids[x], &a) != 0) {
			wrong = 1;
			continue;
		}
		/* Two at once, as a rename holds both folders' keys. */
		if (rfs_vault_folder_keys_get(t.v, shared_ids[y], &b) == 0) {
			if (memcmp(b->dirid, shared_ids[y], 16) != 0)
				wrong = 1;
			rfs_vault_folder_keys_put(t.v, b);
		} else {
			wrong = 1;
		}
		if (memcmp(a->dirid, shared_ids[x], 16) != 0)
			wrong = 1;
		rfs_vault_folder_keys_put(t.v, a);
	}
	return NULL;
}

Test(folder_keys, many_threads_each_get_the_keys_they_asked_for)
{
	pthread_t th[THREADS];

	for (int i = 0; i < MANY; i++)
		new_id(shared_ids[i]);
	for (uintptr_t i = 0; i < THREADS; i++)
		cr_assert_eq(pthread_create(&th[i], NULL, churn, (void *)(i + 1)), 0);
	for (int i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	cr_assert_eq(wrong, 0, "a thread got another folder's keys or an error");
}

/* A hit costs a lock and a hash lookup: far below the name sealing it serves. */
Test(folder_keys, a_hit_is_cheap)
{
	uint8_t id[16];
	const struct rfs_folder_keys *fk;
	struct timespec t0, t1;
	double ns;

	new_id(id);
	cr_assert_eq(rfs_vault_folder_keys_get(t.v, id, &fk), 0);
	rfs_vault_folder_keys_put(t.v, fk);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < 100000; i++) {
		rfs_vault_folder_keys_get(t.v, id, &fk);
		rfs_vault_folder_keys_put(t.v, fk);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ns = ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec)) / 100000;
	cr_assert_lt(ns, 5000.0, "a hit took %.0f ns", ns);
}

TestSuite(folder_keys2, .init = init2, .fini = fini);

Test(folder_keys2, format_2_folders_have_the_vault_wide_keys)
{
	uint8_t root[16], any[16];
	const struct rfs_folder_keys *fk;

	cr_assert_eq(rfs_dname_read_dirid(t.v->live_fd, root), 0);
	randombytes_buf(any, sizeof(any));
	cr_assert_eq(rfs_vault_folder_keys_get(t.v, root, &fk), 0);
	cr_assert_eq(memcmp(fk->name_mac, t.v->keys->name_mac, 32), 0);
	cr_assert_eq(memcmp(fk->name_enc, t.v->keys->name_enc, 32), 0);
	cr_assert_eq(memcmp(fk->entries.aead, t.v->keys->meta, 32), 0);
	cr_assert_eq(memcmp(fk->own.aead, t.v->keys->meta, 32), 0);
	rfs_vault_folder_keys_put(t.v, fk);
	cr_assert_eq(rfs_vault_folder_keys_get(t.v, any, &fk), 0, "format 2: any folder id has keys");
	cr_assert_eq(memcmp(fk->dirid, any, 16), 0);
	rfs_vault_folder_keys_put(t.v, fk);
	cr_assert_eq(rfs_vault_new_folder_id(t.v, any), 0);
}
