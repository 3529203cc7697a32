/*
** test_helpers: shared fixtures for the unit tests of crypto/ and fs/: real libsodium
** keys and real temporary folders (never mocks).
*/
#ifndef RECFS_TEST_HELPERS_H
#define RECFS_TEST_HELPERS_H

#include <criterion/criterion.h>
#include <ftw.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/secmem.h"
#include "crypto/subkeys.h"

/* Subkeys of a fresh random master key. */
static inline struct rfs_keys *test_random_keys(void)
{
	uint8_t master[RFS_MASTER_KEY_SIZE];
	struct rfs_keys *k;

	cr_assert_eq(rfs_secmem_init(), 0);
	randombytes_buf(master, sizeof(master));
	k = rfs_keys_derive(master);
	cr_assert_not_null(k);
	return k;
}

static inline void test_make_tmpdir(char path[64])
{
	snprintf(path, 64, "/tmp/recfs-unit-XXXXXX");
	cr_assert_not_null(mkdtemp(path), "mkdtemp failed");
}

static inline int test_rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	return remove(path);
}

static inline void test_remove_tree(const char *path)
{
	nftw(path, test_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Write len bytes to path (created or truncated). */
static inline void test_write_file(const char *path, const void *buf, size_t len)
{
	FILE *f = fopen(path, "wb");

	cr_assert_not_null(f, "cannot create %s", path);
	cr_assert_eq(fwrite(buf, 1, len, f), len);
	cr_assert_eq(fclose(f), 0);
}

#endif
