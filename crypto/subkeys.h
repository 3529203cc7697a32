/*
** subkeys: the master key and the purpose-bound keys derived from it.
**
** Owns: the unwrapped master key while a vault is open. One key never serves
** two purposes: each subkey is crypto_kdf_derive_from_key(master, id, "recfs-v1").
** Must never: store or print any key; live outside sodium_malloc memory.
*/
#ifndef RECFS_CRYPTO_SUBKEYS_H
#define RECFS_CRYPTO_SUBKEYS_H

#include <stdint.h>

#define RFS_MASTER_KEY_SIZE 32

/* Subkey ids (part of the format: never renumber). */
enum rfs_subkey_id {
	RFS_SUBKEY_NAME_MAC = 1,   /* SIV tag of names            */
	RFS_SUBKEY_NAME_ENC = 2,   /* XChaCha20 stream of names   */
	RFS_SUBKEY_KEYSTORE = 3,   /* wraps per-file keys in keys/ */
	RFS_SUBKEY_SIGN_SEED = 4,  /* Ed25519 seed for commits    */
	RFS_SUBKEY_META = 5,       /* symlink targets, xattrs     */
	RFS_SUBKEY_HISTORY = 6,    /* commit messages and authors */
	RFS_SUBKEY_INDEX = 7,      /* history path index          */
	RFS_SUBKEY_CONF = 8,       /* tags of recfs.conf settings */
	RFS_SUBKEY_ARCHIVE_SIGN = 9, /* Ed25519 seed for archives' minisign signatures */
};

struct rfs_keys {
	uint8_t master[32];
	uint8_t name_mac[32];
	uint8_t name_enc[32];
	uint8_t keystore[32];
	uint8_t sign_seed[32];
	uint8_t meta[32];
	uint8_t history[32];
	uint8_t index[32];
	uint8_t conf[32];
	uint8_t sign_pk[32];       /* crypto_sign public key from sign_seed */
	uint8_t sign_sk[64];       /* crypto_sign secret key from sign_seed */
	/* Signs archives of closed services and nothing else (minisign format). */
	uint8_t archive_sign_seed[32]; /* subkey 9 */
	uint8_t archive_sign_pk[32];
	uint8_t archive_sign_sk[64];
	uint8_t archive_key_id[8]; /* minisign key id: BLAKE2b of the public key */
};

/* Derive all subkeys into fresh sodium_malloc memory, then make it read-only.
** Returns NULL on allocation failure. */
struct rfs_keys *rfs_keys_derive(const uint8_t master[RFS_MASTER_KEY_SIZE]);

/* Lock the block in RAM again. A forked child does not inherit its parent's
** memory locks: the mount daemon calls this after the fork. 0 or -errno. */
int rfs_keys_lock(const struct rfs_keys *keys);

/* Wipe and free. NULL is allowed. */
void rfs_keys_free(struct rfs_keys *keys);

#endif
