/*
** secmem: a pool of 32-byte key slots in locked, guarded memory.
**
** Owns: every per-file content key the daemon holds. Slots come from
** sodium_malloc'd pages (mlocked, excluded from core dumps), so a daemon
** holding 100k open keys pays one allocation per 2k keys, not one each.
** Also random bytes and wiping for fs/, which names no libsodium call itself.
** Must never: hand out memory that is not wiped on free.
** Thread-safe.
*/
#ifndef RECFS_CRYPTO_SECMEM_H
#define RECFS_CRYPTO_SECMEM_H

#include <stddef.h>
#include <stdint.h>

#define RFS_KEY_SIZE 32

/* Initialise libsodium and disable core dumps. Returns 0 or -errno. Call once. */
int rfs_crypto_init(void);

/* A wiped 32-byte slot, or NULL when memory is exhausted. */
uint8_t *rfs_key_alloc(void);

/* Wipe and return a slot to the pool. NULL is allowed. */
void rfs_key_free(uint8_t *key);

/* n unpredictable bytes (libsodium's generator), for ids and temp names. */
void rfs_secmem_random(void *buf, size_t n);

/* Wipe n bytes of buf in a way the compiler cannot leave out. */
void rfs_secmem_wipe(void *buf, size_t n);

#endif
