/*
** keyslot: recfs.conf, the vault's only clear-text file, and its keyslots.
**
** Owns: reading and atomically rewriting recfs.conf; wrapping the master key
** under a passphrase (Argon2id -> XChaCha20-Poly1305) and unwrapping it.
** Must never: write a secret to recfs.conf or keep a passphrase-derived key
** outside sodium_malloc memory.
*/
#ifndef RECFS_CRYPTO_KEYSLOT_H
#define RECFS_CRYPTO_KEYSLOT_H

#include <stddef.h>
#include <stdint.h>

#define RFS_FORMAT_VERSION 3       /* what 'recfs init' makes: folder keys (docs/FORMAT.md) */
#define RFS_FORMAT_VERSION_MIN 2   /* the oldest this recfs opens: vault-wide name keys */
#define RFS_MAX_KEYSLOTS 8
#define RFS_SALT_SIZE 16                 /* crypto_pwhash_SALTBYTES */
#define RFS_WRAP_NONCE_SIZE 24
#define RFS_WRAPPED_KEY_SIZE (32 + 16)
#define RFS_CONF_TAG_SIZE 16
/* Bounds on a keyslot's Argon2id cost: libsodium's minimum, and a ceiling well
** above SENSITIVE (ops 4, 1 GiB) so that an edited recfs.conf cannot make an
** unlock run for minutes or allocate all memory. */
#define RFS_KDF_OPS_MAX 32u
#define RFS_KDF_MEM_MAX (4ull << 30)

struct rfs_kdf {
	uint64_t opslimit;
	uint64_t memlimit;               /* bytes */
};

/* Production default: crypto_pwhash OPSLIMIT/MEMLIMIT_MODERATE. */
void rfs_keyslot_kdf_default(struct rfs_kdf *kdf);
/* Clearly insecure minimum, for tests only (recfs init --insecure-fast-kdf). */
void rfs_keyslot_kdf_insecure_fast(struct rfs_kdf *kdf);

struct rfs_keyslot {
	int in_use;
	char label[64];                  /* free text, e.g. "jsmith" or "recovery"; [A-Za-z0-9._@-] only */
	uint8_t salt[RFS_SALT_SIZE];
	struct rfs_kdf kdf;
	uint8_t nonce[RFS_WRAP_NONCE_SIZE];
	uint8_t wrapped[RFS_WRAPPED_KEY_SIZE];
	uint64_t added;                  /* Unix seconds it was added; 0: unknown (older vaults) */
};

struct rfs_conf {
	unsigned format_version;         /* RFS_FORMAT_VERSION_MIN .. RFS_FORMAT_VERSION */
	char cipher[32];                 /* "xchacha20poly1305" */
	unsigned block_size;             /* 4096 */
	unsigned chunk_blocks;           /* history chunk = chunk_blocks ciphertext blocks (15) */
	uint8_t vault_id[16];            /* random, names this vault */
	/* "mac" line: one tag per setting (cipher, block-size, chunk-blocks,
	** vault-id) under the conf_mac subkey; see rfs_keyslot_conf_seal. */
	uint8_t tags[4][RFS_CONF_TAG_SIZE];
	struct rfs_keyslot slots[RFS_MAX_KEYSLOTS];
};

/* Fill c for a new vault with fresh vault_id and no slots. */
void rfs_keyslot_conf_init(struct rfs_conf *c);

/* Parse path. Returns 0, -ENOENT (no such file), -EPERM (no permission to
** read it), -EPROTONOSUPPORT (format version newer/older/unknown: err says
** which), -EINVAL (malformed, not a regular file, too large: err says why). */
int rfs_keyslot_conf_read(const char *path, struct rfs_conf *c, char *err, size_t errsz);

/* Compute the settings' tags (the "mac" line) under conf_key, the conf_mac
** subkey (docs/FORMAT.md section 2). Call before rfs_keyslot_conf_write on a new vault. */
void rfs_keyslot_conf_seal(struct rfs_conf *c, const uint8_t conf_key[32]);

/* Check every setting's tag under conf_key. 0, or -EBADMSG with *bad set to
** the name of the first setting that does not authenticate. */
int rfs_keyslot_conf_authenticate(const struct rfs_conf *c, const uint8_t conf_key[32], const char **bad);

/* Write atomically (temp file, fsync, rename, fsync dir), mode 0600. 0 or -errno. */
int rfs_keyslot_conf_write(const char *path, const struct rfs_conf *c);

/* Replace keyslot slot of the recfs.conf at path with now, under a lock on
** its folder, provided it still holds was (what the caller unlocked and
** changed): 0, -ESTALE when another writer changed that slot meanwhile
** (nothing written), -EEXIST when now's label is another slot's, -EBUSY when
** no slot would be left (now not in use), or -errno. An empty was/now (all
** zeros) adds or removes a slot. */
int rfs_keyslot_conf_replace_slot(const char *path, int slot, const struct rfs_keyslot *was,
                          const struct rfs_keyslot *now);

/* Wrap master into a free slot (added: now). Returns the slot index, -ENOSPC if full, -ENOMEM. */
int rfs_keyslot_add(struct rfs_conf *c, const char *label, const uint8_t master[32],
                    const char *pass, size_t passlen, const struct rfs_kdf *kdf);

/* Try every slot. 0 and the slot index in *slot, or -EACCES (no slot opens), -ENOMEM. */
int rfs_keyslot_unlock(const struct rfs_conf *c, const char *pass, size_t passlen,
                       uint8_t master_out[32], int *slot);

/* Rewrap one slot under a new passphrase (same master). 0 or -errno. */
int rfs_keyslot_rewrap(struct rfs_conf *c, int slot, const uint8_t master[32],
                       const char *newpass, size_t newlen, const struct rfs_kdf *kdf);

/* Free a slot; refuses (-EBUSY) to remove the last one. */
int rfs_keyslot_remove(struct rfs_conf *c, int slot);

#endif
