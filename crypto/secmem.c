/*
** secmem: libsodium start-up, and a pool of 32-byte key slots in
** sodium_malloc'd pages (locked in RAM, guard pages, no core dumps).
**
** Owns: every per-file content key the daemon holds.
** Must never: return a slot that still holds a previous key, or give a page
** back to the system without sodium_free wiping it. Pages are kept for reuse
** for the life of the process, so the pool's footprint is its peak.
*/
#include "crypto/secmem.h"

#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <sys/resource.h>

#define POOL_PAGE_BYTES (64u * 1024u)
#define POOL_SLOTS_PER_PAGE (POOL_PAGE_BYTES / RFS_KEY_SIZE)

/* A free slot holds only the link to the next free slot. */
union pool_slot {
	union pool_slot *next;
	uint8_t key[RFS_KEY_SIZE];
};

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static union pool_slot *pool_free_list;

int rfs_secmem_init(void)
{
	struct rlimit no_core = { 0, 0 };

	if (sodium_init() < 0)
		return -EIO;
	/* Keys must not reach a core file. (PR_SET_DUMPABLE=0 is not used: it
	** makes /proc/self/fd unreadable, which the FUSE daemon relies on.) */
	if (setrlimit(RLIMIT_CORE, &no_core) != 0)
		return -errno;
	return 0;
}

/* Called with pool_lock held. */
static int pool_grow(void)
{
	union pool_slot *page = sodium_malloc(POOL_PAGE_BYTES);

	if (page == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < POOL_SLOTS_PER_PAGE; i++) {
		page[i].next = pool_free_list;
		pool_free_list = &page[i];
	}
	return 0;
}

uint8_t *rfs_secmem_key_alloc(void)
{
	union pool_slot *slot = NULL;

	pthread_mutex_lock(&pool_lock);
	if (pool_free_list != NULL || pool_grow() == 0) {
		slot = pool_free_list;
		pool_free_list = slot->next;
	}
	pthread_mutex_unlock(&pool_lock);
	if (slot == NULL)
		return NULL;
	sodium_memzero(slot->key, RFS_KEY_SIZE);
	return slot->key;
}

void rfs_secmem_key_free(uint8_t *key)
{
	union pool_slot *slot = (union pool_slot *)(void *)key;

	if (key == NULL)
		return;
	sodium_memzero(key, RFS_KEY_SIZE);
	pthread_mutex_lock(&pool_lock);
	slot->next = pool_free_list;
	pool_free_list = slot;
	pthread_mutex_unlock(&pool_lock);
}

void *rfs_secmem_alloc(size_t len)
{
	return sodium_malloc(len);
}

void rfs_secmem_free(void *p)
{
	sodium_free(p);
}

void rfs_secmem_wipe(void *p, size_t len)
{
	sodium_memzero(p, len);
}
