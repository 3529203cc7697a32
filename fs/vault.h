/*
** vault: one vault folder on disk, opened and unlocked.
**
**   VAULT/recfs.conf  VAULT/keys/  VAULT/live/  VAULT/history.git/  VAULT/lock
**
** Owns: creating a vault, checking it is one, unlocking it with a passphrase,
** the exclusive lock that makes the mount daemon the only writer, and (in
** fs/folder_keys.c) the cache of folder keys.
** Must never: leave a half-made vault that looks whole (creation builds in a
** temporary folder and renames), or open a vault of an unknown format version.
*/
#ifndef RECFS_FS_VAULT_H
#define RECFS_FS_VAULT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "crypto/keyslot.h"
#include "crypto/keystore.h"
#include "crypto/names.h"
#include "crypto/subkeys.h"
#include "fs/undo.h"

#define RFS_CONF_NAME "recfs.conf"
#define RFS_KEYS_DIR "keys"
#define RFS_LIVE_DIR "live"
#define RFS_HISTORY_DIR "history.git"
#define RFS_LOCK_NAME "lock"

struct rfs_folder_cache;

struct rfs_vault {
	char *path;                  /* absolute path of VAULT */
	int dirfd;                   /* VAULT */
	int live_fd;                 /* VAULT/live */
	int keys_fd;                 /* VAULT/keys */
	int lock_fd;                 /* VAULT/lock, flock'ed LOCK_EX when locked, else -1 */
	int slot;                    /* keyslot that opened it */
	struct rfs_conf conf;
	struct rfs_keys *keys;       /* sodium_malloc, read-only */
	struct rfs_keystore *ks;
	struct rfs_undo *undo;       /* VAULT/undo/, made at its first entry */
	unsigned format;             /* vault format: 2 (vault-wide name keys) or 3 (folder keys) */
	struct rfs_folder_cache *folders;   /* fs/folder_keys.c */
};

enum {
	RFS_OPEN_LOCK = 1,           /* take the exclusive lock (-EBUSY if held) */
};

/* Create a new vault at path (must not exist, or be an empty folder) with one
** keyslot. 0, -EEXIST (exists and is not empty), -errno. */
int rfs_vault_create(const char *path, const char *pass, size_t passlen,
                     const struct rfs_kdf *kdf, const char *slot_label);

/* The same, of vault format format (RFS_FORMAT_VERSION_MIN .. RFS_FORMAT_VERSION,
** else -EPROTONOSUPPORT): format 2 only for tests that check old vaults still work. */
int rfs_vault_create_format(const char *path, const char *pass, size_t passlen,
                            const struct rfs_kdf *kdf, const char *slot_label, unsigned format);

/* A new folder id for a folder about to be made: format 3 a new key store
** entry (its key is the folder key), made durable; format 2 random bytes.
** The caller writes it as the folder's .dirid. 0 or -errno. */
int rfs_vault_new_folder_id(struct rfs_vault *v, uint8_t dirid[RFS_DIRID_SIZE]);

/* n new folder ids at once, as rfs_vault_new_folder_id, their entries made durable together
** (one fdatasync per slot file, one fsync of its folder). 0 or -errno. */
int rfs_vault_new_folder_ids(struct rfs_vault *v, uint8_t (*dirids)[RFS_DIRID_SIZE], size_t n);

/* Open and unlock. Errors: -ENOENT (no such folder), -ENOTDIR / -EINVAL
** (not a vault; err says why), -EPROTONOSUPPORT (unknown format version),
** -EACCES (wrong passphrase), -EBUSY (locked: mounted elsewhere; err names
** the pid). err gets a one-line reason for the user. */
int rfs_vault_open(const char *path, const char *pass, size_t passlen, int flags,
                   struct rfs_vault **out, char *err, size_t errsz);

/* Read recfs.conf only (no passphrase): for passwd and checks. Same errors. */
int rfs_vault_read_conf(const char *path, struct rfs_conf *conf, char *err, size_t errsz);

/* Take the lock later (e.g. after fork). 0 or -EBUSY (err names the holder). */
int rfs_vault_lock(struct rfs_vault *v, char *err, size_t errsz);

/* Record the daemon's pid and mount point in the lock file (for recfs umount). */
int rfs_vault_lock_note(struct rfs_vault *v, pid_t pid, const char *mountpoint);

void rfs_vault_close(struct rfs_vault *v);

/* ---- fs/folder_keys.c: the keys of folders, a bounded cache ---- */

/* Folder keys kept at most (the arena is this many entries, one sodium_malloc). */
#define RFS_FOLDER_CACHE_ENTRIES 1024

/* The cache of v (format v->format), made at open. 0 or -ENOMEM. */
int rfs_folder_cache_open(struct rfs_vault *v);
void rfs_folder_cache_close(struct rfs_vault *v);

/* The keys of the folder whose id is dirid (format 3: its keystore entry; format 2: the
** vault-wide keys). *fk stays valid until rfs_vault_folder_keys_put. 0, -ENOENT (its key was
** destroyed: the folder was disposed of), -EIO, -errno. */
int rfs_vault_folder_keys_get(struct rfs_vault *v, const uint8_t dirid[16],
                              const struct rfs_folder_keys **fk);
void rfs_vault_folder_keys_put(struct rfs_vault *v, const struct rfs_folder_keys *fk);
/* Forget cached keys of these ids (after a shred). */
void rfs_vault_folder_keys_forget(struct rfs_vault *v, const uint8_t (*ids)[16], size_t n);

/* One name (rfs_name_seal / rfs_name_open) or symlink target (rfs_name_target_open)
** of the folder dirid, its keys got and put around it: for callers that handle
** one name at a time. Their returns, and -ENOENT when the folder's key was destroyed. */
int rfs_vault_name_seal(struct rfs_vault *v, const uint8_t dirid[16], const char *name,
                        char *out, size_t outsz);
int rfs_vault_name_open(struct rfs_vault *v, const uint8_t dirid[16], const char *text,
                        char *out, size_t outsz);
int rfs_vault_target_open(struct rfs_vault *v, const uint8_t dirid[16], const char *text,
                          char *out, size_t outsz);

#endif
