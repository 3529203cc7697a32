/*
** secmem: a pool of 32-byte key slots in locked, guarded memory.
**
** Owns: every per-file content key the daemon holds. Slots come from
** sodium_malloc'd pages (mlocked, excluded from core dumps), so a daemon
** holding 100k open keys pays one allocation per 2k keys, not one each.
** Must never: hand out memory that is not wiped on free.
** Also the only doorway to sodium_malloc and sodium_memzero for fs/ and
** tools/: rfs_secmem_alloc, rfs_secmem_free, rfs_secmem_wipe.
** Thread-safe.
*/
#ifndef RECFS_CRYPTO_SECMEM_H
#define RECFS_CRYPTO_SECMEM_H

#include <stddef.h>
#include <stdint.h>

#define RFS_KEY_SIZE 32

/* Initialise libsodium and disable core dumps. Returns 0 or -errno. Call once. */
int rfs_secmem_init(void);

/* A wiped 32-byte slot, or NULL when memory is exhausted. */
uint8_t *rfs_secmem_key_alloc(void);

/* Wipe and return a slot to the pool. NULL is allowed. */
void rfs_secmem_key_free(uint8_t *key);

/* len bytes of locked, guarded memory (sodium_malloc), or NULL. */
void *rfs_secmem_alloc(size_t len);
/* Wipe and free memory from rfs_secmem_alloc. NULL is allowed. */
void rfs_secmem_free(void *p);
/* Wipe len bytes in a way the compiler cannot drop (sodium_memzero). */
void rfs_secmem_wipe(void *p, size_t len);

#endif
