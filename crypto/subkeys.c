/*
** subkeys: the master key and the purpose-bound keys derived from it.
**
** Owns: derivation of every subkey (crypto_kdf, context "recfs-v1", ids from
** subkeys.h), the Ed25519 key pair from the signing seed, and the archive signing
** key pair (subkey 9) with its minisign key id.
** Must never: keep a key outside sodium_malloc memory, or leave the key block
** writable after derivation.
*/
#include "crypto/subkeys.h"

#include <errno.h>

#include <sodium.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define RFS_KDF_CONTEXT "recfs-v1"

/* The archive key's minisign id: BLAKE2b-256 of its public key under this key (a fixed
** context: part of the format), first 8 bytes. Derived, so the same vault always says it. */
#define RFS_ARCHIVE_KEYID_CONTEXT "recfs archive key id v1"

_Static_assert(sizeof(RFS_KDF_CONTEXT) - 1 == crypto_kdf_CONTEXTBYTES,
               "crypto_kdf context must be exactly 8 bytes");
_Static_assert(sizeof(RFS_ARCHIVE_KEYID_CONTEXT) - 1 >= crypto_generichash_KEYBYTES_MIN,
               "BLAKE2b key too short");

static void derive(uint8_t out[32], enum rfs_subkey_id id, const uint8_t master[32])
{
	crypto_kdf_derive_from_key(out, 32, (uint64_t)id, RFS_KDF_CONTEXT, master);
}

static void archive_sign_keys(struct rfs_keys *k, const uint8_t master[32])
{
	uint8_t id[32];

	derive(k->archive_sign_seed, RFS_SUBKEY_ARCHIVE_SIGN, master);
	crypto_sign_seed_keypair(k->archive_sign_pk, k->archive_sign_sk, k->archive_sign_seed);
	crypto_generichash(id, sizeof(id), k->archive_sign_pk, sizeof(k->archive_sign_pk),
	                   (const uint8_t *)RFS_ARCHIVE_KEYID_CONTEXT, sizeof(RFS_ARCHIVE_KEYID_CONTEXT) - 1);
	memcpy(k->archive_key_id, id, sizeof(k->archive_key_id));
}

struct rfs_keys *rfs_keys_derive(const uint8_t master[RFS_MASTER_KEY_SIZE])
{
	struct rfs_keys *k = sodium_malloc(sizeof(*k));

	if (k == NULL)
		return NULL;
	memcpy(k->master, master, RFS_MASTER_KEY_SIZE);
	derive(k->name_mac, RFS_SUBKEY_NAME_MAC, master);
	derive(k->name_enc, RFS_SUBKEY_NAME_ENC, master);
	derive(k->keystore, RFS_SUBKEY_KEYSTORE, master);
	derive(k->sign_seed, RFS_SUBKEY_SIGN_SEED, master);
	derive(k->meta, RFS_SUBKEY_META, master);
	derive(k->history, RFS_SUBKEY_HISTORY, master);
	derive(k->index, RFS_SUBKEY_INDEX, master);
	derive(k->conf, RFS_SUBKEY_CONF, master);
	crypto_sign_seed_keypair(k->sign_pk, k->sign_sk, k->sign_seed);
	archive_sign_keys(k, master);
	sodium_mprotect_readonly(k);
	return k;
}

int rfs_keys_lock(const struct rfs_keys *keys)
{
	/* The system call itself: sanitizer builds turn mlock() into a no-op, and
	** the key block must be locked in every build. The kernel rounds to pages. */
	return syscall(SYS_mlock, keys, sizeof(*keys)) == 0 ? 0 : -errno;
}

void rfs_keys_free(struct rfs_keys *keys)
{
	if (keys == NULL)
		return;
	sodium_mprotect_readwrite(keys);
	sodium_memzero(keys, sizeof(*keys));
	sodium_free(keys);
}
