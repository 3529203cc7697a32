/*
** random: randombytes_buf behind rfs_random_bytes, and a per-thread pool of
** nonces (see random.h).
** Must never: be called before rfs_secmem_init, hand out one nonce twice (in
** one process or across a fork), or serve a key from the pool.
*/
#include "crypto/random.h"

#include <pthread.h>
#include <sodium.h>
#include <string.h>

void rfs_random_bytes(void *buf, size_t len)
{
	randombytes_buf(buf, len);
}

/* One getrandom per 42 block nonces instead of one each (16 calls per file of
** a tar x, 1.7 us each on a VM). A nonce is stored in clear beside its
** ciphertext and needs only to be unpredictable and unique under its key:
** bytes of the system generator are that whether taken one nonce at a time or
** in a run. A fork copies the pool, so the child's handler makes it refill:
** parent and child never seal with the same nonce. */
#define POOL_BYTES 1024

static _Thread_local struct {
	uint8_t b[POOL_BYTES];
	size_t at;                       /* bytes before this were handed out and wiped */
	unsigned gen;                    /* fork_gen when filled */
} pool = { .at = POOL_BYTES };
static unsigned fork_gen;            /* bumped in a forked child (atomic) */
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void after_fork_child(void)
{
	__atomic_add_fetch(&fork_gen, 1, __ATOMIC_RELAXED);
}

static void atfork_init(void)
{
	pthread_atfork(NULL, NULL, after_fork_child);
}

void rfs_random_nonce(void *out, size_t len)
{
	pthread_once(&atfork_once, atfork_init);
	if (len > POOL_BYTES / 4) {
		randombytes_buf(out, len);
		return;
	}
	unsigned gen = __atomic_load_n(&fork_gen, __ATOMIC_RELAXED);
	if (pool.gen != gen || POOL_BYTES - pool.at < len) {
		randombytes_buf(pool.b, POOL_BYTES);
		pool.at = 0;
		pool.gen = gen;
	}
	memcpy(out, pool.b + pool.at, len);
	sodium_memzero(pool.b + pool.at, len);
	pool.at += len;
}
