/* Unit tests of crypto/subkeys: derivation, separation, signing, read-only. */
#include <criterion/criterion.h>
#include <setjmp.h>
#include <signal.h>
#include <sodium.h>
#include <string.h>

#include "crypto/secmem.h"
#include "crypto/subkeys.h"

static uint8_t master[RFS_MASTER_KEY_SIZE];

static void init(void)
{
	cr_assert_eq(rfs_secmem_init(), 0);
	randombytes_buf(master, sizeof(master));
}

TestSuite(subkeys, .init = init);

Test(subkeys, derivation_matches_crypto_kdf_with_format_ids)
{
	struct rfs_keys *k = rfs_keys_derive(master);
	const uint8_t *by_id[] = { NULL, k->name_mac, k->name_enc, k->keystore, k->sign_seed,
	                           k->meta, k->history, k->index };
	uint8_t expect[32];

	cr_assert_eq(memcmp(k->master, master, 32), 0);
	for (uint64_t id = RFS_SUBKEY_NAME_MAC; id <= RFS_SUBKEY_INDEX; id++) {
		crypto_kdf_derive_from_key(expect, 32, id, "recfs-v1", master);
		cr_assert_eq(memcmp(by_id[id], expect, 32), 0, "subkey %llu", (unsigned long long)id);
	}
	rfs_keys_free(k);
}

Test(subkeys, every_subkey_differs_and_depends_on_master)
{
	uint8_t other[32];
	struct rfs_keys *a = rfs_keys_derive(master), *b;
	const uint8_t *ka[] = { a->master, a->name_mac, a->name_enc, a->keystore, a->sign_seed,
	                        a->meta, a->history, a->index };

	for (size_t i = 0; i < 8; i++)
		for (size_t j = i + 1; j < 8; j++)
			cr_assert_neq(memcmp(ka[i], ka[j], 32), 0, "keys %zu and %zu equal", i, j);
	b = rfs_keys_derive(master);
	cr_assert_eq(memcmp(a, b, sizeof(*a)), 0, "derivation must be deterministic");
	rfs_keys_free(b);
	memcpy(other, master, 32);
	other[0] ^= 1;
	b = rfs_keys_derive(other);
	cr_assert_neq(memcmp(a->name_mac, b->name_mac, 32), 0);
	cr_assert_neq(memcmp(a->sign_pk, b->sign_pk, 32), 0);
	cr_assert_neq(memcmp(a->archive_sign_pk, b->archive_sign_pk, 32), 0);
	cr_assert_neq(memcmp(a->archive_key_id, b->archive_key_id, 8), 0);
	rfs_keys_free(b);
	rfs_keys_free(a);
}

Test(subkeys, sign_pair_signs_and_verifies)
{
	struct rfs_keys *k = rfs_keys_derive(master);
	const uint8_t msg[] = "commit 1";
	uint8_t sig[crypto_sign_BYTES], pk[32];

	cr_assert_eq(crypto_sign_ed25519_sk_to_pk(pk, k->sign_sk), 0);
	cr_assert_eq(memcmp(pk, k->sign_pk, 32), 0);
	crypto_sign_detached(sig, NULL, msg, sizeof(msg), k->sign_sk);
	cr_assert_eq(crypto_sign_verify_detached(sig, msg, sizeof(msg), k->sign_pk), 0);
	sig[3] ^= 1;
	cr_assert_neq(crypto_sign_verify_detached(sig, msg, sizeof(msg), k->sign_pk), 0);
	rfs_keys_free(k);
	rfs_keys_free(NULL);
}

/* Subkey 9: the archive signing pair and its key id, derived, stable, and its own key
** (another master gives another: every_subkey_differs_and_depends_on_master). */
Test(subkeys, archive_sign_key_is_derived_stable_and_separate)
{
	struct rfs_keys *a = rfs_keys_derive(master), *b = rfs_keys_derive(master);
	uint8_t seed[32], pk[32], sk[64], id[32];
	const uint8_t msg[] = "tarball";
	uint8_t sig[crypto_sign_BYTES];

	crypto_kdf_derive_from_key(seed, 32, 9, "recfs-v1", master);
	crypto_sign_seed_keypair(pk, sk, seed);
	cr_assert_eq(RFS_SUBKEY_ARCHIVE_SIGN, 9);
	cr_assert_eq(memcmp(a->archive_sign_seed, seed, 32), 0);
	cr_assert_eq(memcmp(a->archive_sign_pk, pk, 32), 0);
	cr_assert_eq(memcmp(a->archive_sign_sk, sk, 64), 0);
	crypto_generichash(id, 32, pk, 32, (const uint8_t *)"recfs archive key id v1", 23);
	cr_assert_eq(memcmp(a->archive_key_id, id, 8), 0, "key id = BLAKE2b-256 under its context, first 8");
	/* Stable across derivations; never the commit key, nor any other subkey. */
	cr_assert_eq(memcmp(a->archive_sign_pk, b->archive_sign_pk, 32), 0);
	cr_assert_eq(memcmp(a->archive_key_id, b->archive_key_id, 8), 0);
	cr_assert_neq(memcmp(a->archive_sign_pk, a->sign_pk, 32), 0);
	cr_assert_neq(memcmp(a->archive_sign_seed, a->sign_seed, 32), 0);
	cr_assert_neq(memcmp(a->archive_sign_seed, a->conf, 32), 0);
	crypto_sign_detached(sig, NULL, msg, sizeof(msg), a->archive_sign_sk);
	cr_assert_eq(crypto_sign_verify_detached(sig, msg, sizeof(msg), a->archive_sign_pk), 0);
	cr_assert_neq(crypto_sign_verify_detached(sig, msg, sizeof(msg), a->sign_pk), 0);
	rfs_keys_free(b);
	rfs_keys_free(a);
}

static sigjmp_buf after_fault;

static void on_fault(int sig)
{
	(void)sig;
	siglongjmp(after_fault, 1);
}

/* Our own SIGSEGV handler (ASan would otherwise abort the test process). */
Test(subkeys, derived_keys_are_read_only)
{
	struct rfs_keys *k = rfs_keys_derive(master);
	struct sigaction sa = { .sa_handler = on_fault }, old;
	volatile int faulted = 0;

	sigemptyset(&sa.sa_mask);
	cr_assert_eq(sigaction(SIGSEGV, &sa, &old), 0);
	if (sigsetjmp(after_fault, 1) == 0)
		((volatile uint8_t *)k->name_mac)[0] ^= 1;
	else
		faulted = 1;
	sigaction(SIGSEGV, &old, NULL);
	cr_assert(faulted, "writing a derived key did not fault");
	rfs_keys_free(k);
}
