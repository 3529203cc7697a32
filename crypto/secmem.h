/*
** secmem: a pool of 32-byte key slots in locked, guarded memory.
**
** Owns: every per-file content key the daemon holds. Slots come from
** sodium_malloc'd pages (mlocked, excluded from core dumps), so a daemon
** holding 100k open keys pays one allocation per 2k keys, not one each.
** Must never: hand out memory that is not wiped on free.
** Thread-safe.
*/
#ifndef RECFS_CRYPTO_SECMEM_H
#define RECFS_CRYPTO_SECMEM_H

#include <stdint.h>

#define RFS_KEY_SIZE 32

/* Initialise libsodium and disable core dumps. Returns 0 or -errno. Call once. */
int rfs_crypto_init(void);

/* A wiped 32-byte slot, or NULL when memory is exhausted. */
uint8_t *rfs_key_alloc(void);

/* Wipe and return a slot to the pool. NULL is allowed. */
void rfs_key_free(uint8_t *key);

#endif
