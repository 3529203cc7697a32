/*
** keystore: keys/, one wrapped content key per file, found by file ID.
**
** Layout: a file ID is its slot number (u64 le) then 8 random bytes; slot s
** is the 72-byte entry at (s mod 65536) * 72 in keys/s<s / 65536, 8 hex>:
** O(1) lookups at any size, no inode per file. Each entry is
** nonce(24) || XChaCha20-Poly1305(key 32) with AD "recfs-key-v1" || file id.
** Owns: creating, loading and destroying entries. Destroying an entry is
** crypto-shredding: every version of that file, everywhere, becomes noise.
** Must never: keep an unwrapped key outside sodium_malloc memory, or put keys/ in git.
*/
#ifndef RECFS_CRYPTO_KEYSTORE_H
#define RECFS_CRYPTO_KEYSTORE_H

#include <stdint.h>
#include "crypto/subkeys.h"

#define RFS_FILE_ID_SIZE 16
#define RFS_KEYSTORE_ENTRY_SIZE (24 + 32 + 16)

struct rfs_keystore;

/* Open keys/ at dirfd (an open directory fd; it is dup'ed). keys is borrowed
** and must outlive the keystore. 0 or -errno. */
int rfs_keystore_open(struct rfs_keystore **ks, int keys_dirfd, const struct rfs_keys *keys);
void rfs_keystore_close(struct rfs_keystore *ks);

/* Ready a new keys/ folder (at vault creation). 0 or -errno. */
int rfs_keystore_format(int keys_dirfd);

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

/* Overwrite the entry with zeros and fsync, once it has authenticated under
** id (an entry of another file is never touched: -EIO). 0, -ENOENT, -errno. */
int rfs_keystore_destroy(struct rfs_keystore *ks, const uint8_t id[RFS_FILE_ID_SIZE]);

/* Where the entry of id lives: its slot file's name in keys/ and offset. */
void rfs_keystore_entry_locate(const uint8_t id[RFS_FILE_ID_SIZE], char name[16], uint64_t *offset);

#endif
