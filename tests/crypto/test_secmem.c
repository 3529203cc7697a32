/* Unit tests of crypto/secmem: start-up and the locked key pool. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "crypto/secmem.h"

#define MANY_KEYS 5000               /* more than two pool pages */

static void init(void)
{
	cr_assert_eq(rfs_secmem_init(), 0);
}

TestSuite(secmem, .init = init);

Test(secmem, init_disables_core_dumps)
{
	struct rlimit rl;

	cr_assert_eq(getrlimit(RLIMIT_CORE, &rl), 0);
	cr_assert_eq(rl.rlim_cur, 0);
	cr_assert_eq(rl.rlim_max, 0);
	cr_assert_eq(rfs_secmem_init(), 0, "a second init must be harmless");
}

Test(secmem, slots_are_wiped_distinct_and_reused_wiped)
{
	uint8_t **keys = calloc(MANY_KEYS, sizeof(*keys));

	for (int i = 0; i < MANY_KEYS; i++) {
		keys[i] = rfs_secmem_key_alloc();
		cr_assert_not_null(keys[i]);
		cr_assert(sodium_is_zero(keys[i], RFS_KEY_SIZE), "slot %d not wiped", i);
		memset(keys[i], (i % 255) + 1, RFS_KEY_SIZE);
	}
	for (int i = 0; i < MANY_KEYS; i++)
		for (int b = 0; b < RFS_KEY_SIZE; b++)
			cr_assert_eq(keys[i][b], (i % 255) + 1, "slot %d overlaps another", i);
	for (int i = 0; i < MANY_KEYS; i++)
		rfs_secmem_key_free(keys[i]);
	for (int i = 0; i < MANY_KEYS; i++) {
		keys[i] = rfs_secmem_key_alloc();
		cr_assert(sodium_is_zero(keys[i], RFS_KEY_SIZE), "reused slot %d not wiped", i);
	}
	for (int i = 0; i < MANY_KEYS; i++)
		rfs_secmem_key_free(keys[i]);
	free(keys);
	rfs_secmem_key_free(NULL);
}

Test(secmem, free_wipes_the_slot)
{
	uint8_t *k = rfs_secmem_key_alloc();

	memset(k, 0xab, RFS_KEY_SIZE);
	rfs_secmem_key_free(k);
	/* The slot now holds only the free-list link (8 bytes); no key byte survives. */
	for (int b = (int)sizeof(void *); b < RFS_KEY_SIZE; b++)
		cr_assert_eq(k[b], 0);
}

#define THREADS 4
#define ROUNDS 20000

static void *churn(void *arg)
{
	uint8_t mark = (uint8_t)(uintptr_t)arg;
	uint8_t *held[8];

	for (int r = 0; r < ROUNDS; r++) {
		for (int j = 0; j < 8; j++) {
			held[j] = rfs_secmem_key_alloc();
			if (held[j] == NULL || !sodium_is_zero(held[j], RFS_KEY_SIZE))
				return (void *)1;
			memset(held[j], mark, RFS_KEY_SIZE);
		}
		for (int j = 0; j < 8; j++) {
			for (int b = 0; b < RFS_KEY_SIZE; b++)
				if (held[j][b] != mark)
					return (void *)1;
			rfs_secmem_key_free(held[j]);
		}
	}
	return NULL;
}

Test(secmem, pool_is_thread_safe)
{
	pthread_t t[THREADS];
	void *res;

	for (uintptr_t i = 0; i < THREADS; i++)
		cr_assert_eq(pthread_create(&t[i], NULL, churn, (void *)(i + 1)), 0);
	for (int i = 0; i < THREADS; i++) {
		cr_assert_eq(pthread_join(t[i], &res), 0);
		cr_assert_null(res, "thread %d saw a shared or dirty slot", i);
	}
}
