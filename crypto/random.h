/*
** random: bytes from the system's cryptographic generator (folder ids,
** master keys), for code outside crypto/ that needs them.
** Must never: fall back to a weaker generator.
*/
#ifndef RECFS_CRYPTO_RANDOM_H
#define RECFS_CRYPTO_RANDOM_H

#include <stddef.h>

void rfs_random_bytes(void *buf, size_t len);

#endif
