/*
** fs_fixture: what the unit tests of fs/ share: a real vault, created with
** the cheap key derivation in a fresh folder under /tmp and opened, and
** removed again (never mocks).
*/
#ifndef RECFS_TESTS_FS_FIXTURE_H
#define RECFS_TESTS_FS_FIXTURE_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "crypto/secmem.h"
#include "fs/vault.h"
#include "tests/crypto/test_helpers.h"

#define TEST_PASSPHRASE "correct horse battery staple"

struct test_vault {
	char top[64];              /* the folder that holds the vault */
	char path[96];             /* top/vault */
	struct rfs_vault *v;       /* open, unlocked, not locked */
};

/* Create top/vault with one keyslot (TEST_PASSPHRASE, cheap KDF); open it when open is set. */
static inline void test_vault_make(struct test_vault *t, bool open)
{
	struct rfs_kdf kdf;
	char err[256] = "";

	cr_assert_eq(rfs_secmem_init(), 0);
	test_make_tmpdir(t->top);
	snprintf(t->path, sizeof(t->path), "%s/vault", t->top);
	rfs_keyslot_kdf_insecure_fast(&kdf);
	cr_assert_eq(rfs_vault_create(t->path, TEST_PASSPHRASE, strlen(TEST_PASSPHRASE), &kdf, "test"), 0);
	t->v = NULL;
	if (open)
		cr_assert_eq(rfs_vault_open(t->path, TEST_PASSPHRASE, strlen(TEST_PASSPHRASE), 0, &t->v,
		                            err, sizeof(err)), 0, "%s", err);
}

static inline void test_vault_remove(struct test_vault *t)
{
	rfs_vault_close(t->v);
	t->v = NULL;
	test_remove_tree(t->top);
}

#endif
