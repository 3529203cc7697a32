/*
** keystore: keys/, one wrapped content key per file, found by file ID.
**
** Layout (format 2): a file ID is its slot number (u64 le) then 8 random
** bytes; slot s is the 72-byte entry at (s mod 65536) * 72 in
** keys/s<s / 65536, 8 hex>: O(1) lookups at any size, no inode per file.
** Format 3: an ID (file or folder) is slot (u64 le) then this copy's copy id
** (8 random bytes made at init, in keys/copy); each copy has its own slot
** files and next in keys/c<copy id, 16 hex>/, so two copies of a vault never
** hand out one ID. Each entry is nonce(24) || XChaCha20-Poly1305(key 32)
** with AD "recfs-key-v1" || id.
** Owns: creating, loading and destroying entries. Destroying an entry is
** crypto-shredding: every version of that file, everywhere, becomes noise.
** Must never: keep an unwrapped key outside sodium_malloc memory, or put keys/ in git.
*/
#ifndef RECFS_CRYPTO_KEYSTORE_H
#define RECFS_CRYPTO_KEYSTORE_H

#include <stddef.h>
#include <stdint.h>
#include "crypto/subkeys.h"

#define RFS_FILE_ID_SIZE 16
#define RFS_KEYSTORE_ENTRY_SIZE (24 + 32 + 16)
#define RFS_COPY_ID_SIZE 8
/* "c" + 16 hex + "/" + "s" + 8 hex + NUL */
#define RFS_KEYSTORE_NAME_MAX 28

struct rfs_keystore;

/* Open keys/ at dirfd (an open directory fd; it is dup'ed) of a vault of
** format (2 or 3). keys is borrowed and must outlive the keystore. 0, -EIO
** (format 3 without a readable keys/copy), or -errno. */
int rfs_keystore_open(struct rfs_keystore **ks, int keys_dirfd, const struct rfs_keys *keys,
                      unsigned format);
void rfs_keystore_close(struct rfs_keystore *ks);

/* Ready a new keys/ folder (at vault creation): format 3 makes this copy's
** copy id (keys/copy) and its slot folder, durable. 0 or -errno. */
int rfs_keystore_format(int keys_dirfd, unsigned format);

/* This copy's copy id (format 3; zeros for format 2). */
void rfs_keystore_copy_id(const struct rfs_keystore *ks, uint8_t out[RFS_COPY_ID_SIZE]);

/* New file id (the next free slot) and random key, written to keys/ (not
** fsync'd: see rfs_keystore_sync). A slot is never handed out twice, even
** after a power cut lost the tail of a slot file (keys/next keeps the bound).
** Safe from several threads. */
int rfs_keystore_create(struct rfs_keystore *ks, uint8_t id_out[RFS_FILE_ID_SIZE],
                        uint8_t key_out[32]);

/* 0, -ENOENT (no entry: shredded or never existed), -EIO (entry fails to authenticate). */
int rfs_keystore_load(struct rfs_keystore *ks, const uint8_t id[RFS_FILE_ID_SIZE],
                      uint8_t key_out[32]);

/* fsync the entry's slot file and keys/, so a durable file has a durable key. */
int rfs_keystore_sync(struct rfs_keystore *ks, const uint8_t id[RFS_FILE_ID_SIZE]);

/* The same for n entries at once: each slot file they are in once, then keys/. */
int rfs_keystore_sync_many(struct rfs_keystore *ks, const uint8_t (*ids)[RFS_FILE_ID_SIZE], size_t n);

/* Overwrite the entry with zeros and fsync, once it has authenticated under
** id (an entry of another file is never touched: -EIO). 0, -ENOENT, -errno. */
int rfs_keystore_destroy(struct rfs_keystore *ks, const uint8_t id[RFS_FILE_ID_SIZE]);

/* Where the entry of id lives: its slot file's path in keys/ and offset. */
void rfs_keystore_entry_locate(const struct rfs_keystore *ks, const uint8_t id[RFS_FILE_ID_SIZE],
                               char name[RFS_KEYSTORE_NAME_MAX], uint64_t *offset);

#endif
