/*
** keystore: keys/, one wrapped content key per file, found by file ID.
**
** Layout: keys/XX/<32 hex file id>, XX the first byte of the id in hex (256
** fan-out folders keep lookups O(1) at a million files). Each entry is
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

/* Create all 256 fan-out folders (at vault creation). 0 or -errno. */
int rfs_keystore_format(int keys_dirfd);

/* New random file id and key, written to keys/ (not fsync'd: see rfs_keystore_sync). */
int rfs_keystore_create(struct rfs_keystore *ks, uint8_t id_out[RFS_FILE_ID_SIZE],
                        uint8_t key_out[32]);

/* 0, -ENOENT (no entry: shredded or never existed), -EIO (entry fails to authenticate). */
int rfs_keystore_load(struct rfs_keystore *ks, const uint8_t id[RFS_FILE_ID_SIZE],
                      uint8_t key_out[32]);

/* fsync the entry and its folder, so a durable file has a durable key. */
int rfs_keystore_sync(struct rfs_keystore *ks, const uint8_t id[RFS_FILE_ID_SIZE]);

/* Overwrite the entry with zeros, fsync, unlink, fsync the folder. 0, -ENOENT, -errno. */
int rfs_keystore_destroy(struct rfs_keystore *ks, const uint8_t id[RFS_FILE_ID_SIZE]);

/* Path of an entry relative to keys/, e.g. "ab/ab12...". out holds 2+1+32+1. */
void rfs_keystore_entry_name(char out[40], const uint8_t id[RFS_FILE_ID_SIZE]);

#endif
