/*
** names: encryption of path components, symlink targets and xattrs.
**
** A name is sealed deterministically per directory (SIV style):
**   tag   = BLAKE2b-128(key = name_mac, dirid[16] || name)
**   ct    = XChaCha20(key = name_enc, nonce = tag || 0^8) XOR name
**   text  = base64url(tag || ct), no padding
** Opening recomputes the tag; a mismatch is -EIO. Same name in two folders
** (different dirids) encrypts differently; renaming a folder re-encrypts
** nothing below it (its dirid lives inside it, in RFS_DIRID_FILE).
** A text longer than 255 bytes is stored as RFS_LONG_PREFIX + base64url(
** BLAKE2b-256(text)), and the full text sits beside it in that name +
** RFS_LONG_SUFFIX. Internal names all start with '.', which base64url never does.
** Symlink targets and xattr values are sealed with XChaCha20-Poly1305 under
** a meta key and a random nonce. xattr names are sealed like file names
** with a fixed all-0xff dirid.
** Every key comes from a struct rfs_folder_keys, the keys of one folder:
** format 3 derives them from the folder's own key (its keystore entry, so
** shredding that entry makes every name in it noise); format 2 copies the
** vault-wide subkeys, so one code path serves both (docs/FORMAT.md).
** Must never: accept a name that does not authenticate, or emit '/' or NUL.
*/
#ifndef RECFS_CRYPTO_NAMES_H
#define RECFS_CRYPTO_NAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "crypto/subkeys.h"

#define RFS_DIRID_SIZE 16
#define RFS_DIRID_FILE ".dirid"
#define RFS_LONG_PREFIX ".L"
#define RFS_LONG_SUFFIX ".n"
#define RFS_TMP_PREFIX ".tmp."     /* a file being made whole before it is renamed in */
#define RFS_NAME_TAG 16
/* base64url of 16 + 255 bytes */
#define RFS_ENC_NAME_MAX 362
/* ".L" + base64url(32) = 2 + 43 */
#define RFS_LONG_NAME_LEN 45
#define RFS_FOLDER_KEY_SIZE 32

/* Ids of the keys derived from a folder key with crypto_kdf, context
** "recfsdir" (part of format 3: never renumber). */
enum rfs_folder_subkey_id {
	RFS_FOLDER_NAME_MAC = 1,   /* SIV tag of the names in it                         */
	RFS_FOLDER_NAME_ENC = 2,   /* XChaCha20 stream of the names in it                */
	RFS_FOLDER_META = 3,       /* symlink targets in it, xattrs of the files in it   */
	RFS_FOLDER_PATH = 4,       /* event paths of history under it (fs/history)       */
	RFS_FOLDER_TAG = 5,        /* index path tags under it (fs/history)              */
	RFS_FOLDER_OWN = 6,        /* xattr names and values of the folder itself        */
};

/* The keys that seal xattrs (names by SIV under mac/enc, values by AEAD under
** aead) of one kind of owner. In format 3 mac and enc are derived from aead
** (crypto_kdf ids 1 and 2, context "recfsxat"); in format 2 they are the
** vault's name keys and aead is its meta key. */
struct rfs_xattr_keys {
	uint8_t mac[32];
	uint8_t enc[32];
	uint8_t aead[32];
};

/* The keys of one folder. Lives in sodium_malloc memory owned by a cache
** (fs/folder_keys.c): pass it by pointer, never copy it to the stack. */
struct rfs_folder_keys {
	uint8_t dirid[RFS_DIRID_SIZE];    /* the folder's id: bound into every name's tag */
	uint8_t name_mac[32];
	uint8_t name_enc[32];
	struct rfs_xattr_keys entries;    /* aead = meta: symlink targets and file xattrs in it */
	struct rfs_xattr_keys own;        /* aead = own: the folder's own xattrs */
	uint8_t path[32];                 /* format 3 only (format 2: the history key) */
	uint8_t tag[32];                  /* format 3 only (format 2: the index key) */
};

/* Format 3: derive fk for the folder dirid from its 32-byte folder key. */
void rfs_folder_keys_derive(struct rfs_folder_keys *fk, const uint8_t dirid[RFS_DIRID_SIZE],
                            const uint8_t folder_key[RFS_FOLDER_KEY_SIZE]);

/* Format 2: fk for the folder dirid from the vault-wide subkeys, sealing
** exactly what format 2 always sealed. */
void rfs_folder_keys_from_vault(struct rfs_folder_keys *fk, const uint8_t dirid[RFS_DIRID_SIZE],
                                const struct rfs_keys *k);

/* Seal a clear name (1..255 bytes, no '/', not "." or "..") for the folder fk
** into out (capacity outsz >= RFS_ENC_NAME_MAX + 1). Returns the text length,
** -EINVAL, -ENAMETOOLONG. */
int rfs_name_seal(char *out, size_t outsz, const char *name, const struct rfs_folder_keys *fk);

/* Open a name sealed in the folder fk into out (capacity >= 256). Returns the
** clear length or -EIO. */
int rfs_name_open(char *out, size_t outsz, const char *text, const struct rfs_folder_keys *fk);

/* The on-disk name for a sealed text: the text itself when it fits NAME_MAX,
** else the hashed long form. out holds 256. Returns true when long. */
bool rfs_name_backing(char out[256], const char *text);

/* Names the FUSE layer must hide in listings: RFS_DIRID_FILE, *RFS_LONG_SUFFIX, RFS_TMP_PREFIX*. */
bool rfs_name_is_internal(const char *backing);
/* A hashed long name (RFS_LONG_PREFIX..., not the .n side file). */
bool rfs_name_is_long(const char *backing);

/* Targets (1..4095 bytes) of symlinks in the folder fk. seal returns text
** length or -ENAMETOOLONG; out holds rfs_b64_len(len + 40) + 1. open returns
** clear length or -EIO. */
int rfs_name_target_seal(char *out, size_t outsz, const char *target,
                         const struct rfs_folder_keys *fk);
int rfs_name_target_open(char *out, size_t outsz, const char *text,
                         const struct rfs_folder_keys *fk);

/* xattr names without the "user." prefix, under xk: &fk->entries for a file
** in the folder fk, &fk->own for the folder fk itself. Same return
** conventions as names. */
int rfs_name_xattr_seal(char *out, size_t outsz, const char *name, const struct rfs_xattr_keys *xk);
int rfs_name_xattr_open(char *out, size_t outsz, const char *text, const struct rfs_xattr_keys *xk);

/* xattr values: out holds len + 40. The AD binds the value to its owner (a
** file's 16-byte file id, or a folder's dirid) and to its sealed name (without
** "user."), so it cannot be moved to another file or attribute.
** seal: 0 or -ERANGE (name too long); open: 0 or -EIO. */
#define RFS_XATTR_OWNER_SIZE 16
int rfs_name_xattr_value_seal(uint8_t *out, const uint8_t *val, size_t len,
                         const uint8_t owner[RFS_XATTR_OWNER_SIZE], const char *sealed_name,
                         const struct rfs_xattr_keys *xk);
int rfs_name_xattr_value_open(uint8_t *out, const uint8_t *ct, size_t ct_len,
                         const uint8_t owner[RFS_XATTR_OWNER_SIZE], const char *sealed_name,
                         const struct rfs_xattr_keys *xk);

#endif
