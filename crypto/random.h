/*
** random: bytes from the system's cryptographic generator (folder ids,
** master keys), for code outside crypto/ that needs them; and nonces.
** Must never: fall back to a weaker generator.
*/
#ifndef RECFS_CRYPTO_RANDOM_H
#define RECFS_CRYPTO_RANDOM_H

#include <stddef.h>

void rfs_random_bytes(void *buf, size_t len);

/* len random bytes for a nonce (public, unique under its key), from a
** per-thread pool of the same generator's bytes, refilled after a fork.
** Never for keys or other secrets: use rfs_random_bytes. */
void rfs_random_nonce(void *out, size_t len);

#endif
