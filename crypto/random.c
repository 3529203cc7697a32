/*
** random: randombytes_buf behind rfs_random_bytes (see random.h).
** Must never: be called before rfs_secmem_init.
*/
#include "crypto/random.h"

#include <sodium.h>

void rfs_random_bytes(void *buf, size_t len)
{
	randombytes_buf(buf, len);
}
