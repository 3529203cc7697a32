/*
** commit_record: the sealed record inside each commit message, and the
** encoding of who/when/what that the event index shares.
**
** Owns: serialising who/when/what (clear paths included) and sealing it with
** XChaCha20-Poly1305 under keys->history, bound to the vault and the commit's tree.
** Must never: emit a clear path outside the sealed bytes.
*/
#ifndef RECFS_FS_HISTORY_COMMIT_RECORD_H
#define RECFS_FS_HISTORY_COMMIT_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <git2.h>
#include "crypto/subkeys.h"
#include "fs/history/bytes.h"
#include "fs/history/history.h"

#define RFS_RECORD_VERSION 1            /* vault format 2: clear paths in the sealed record */
#define RFS_RECORD_VERSION_2 2          /* vault format 3: paths sealed under folder keys */

/* An event's path as record v2 stores it: nonce || XChaCha20-Poly1305 under
** the parent folder's path key (heap; NULL until sealed or read). */
struct rfs_sealed_path {
	uint8_t *p;
	size_t len;
};

struct rfs_event {
	uint8_t kind, type;
	uint8_t file_id[16];
	uint32_t mode, uid, gid;
	int64_t mtime_sec;
	uint32_t mtime_nsec;
	uint64_t size;
	char *path, *path_old, *restored_from, *property;   /* heap, "" when absent */
	/* v2 only */
	uint8_t dir[16], dir_old[16];     /* parent folders' ids of path / path_old (zero: none, the root) */
	struct rfs_sealed_path spath, spath_old;
	bool destroyed;                   /* read: the key of dir is gone (path, property "") */
	bool destroyed_old;               /* read: the key of dir_old is gone (path_old "") */
};

struct rfs_record {
	uint8_t version;                  /* RFS_RECORD_VERSION or _2 */
	uint64_t seq;
	git_oid parent;                   /* all zero for the first commit */
	int64_t time_sec;
	uint32_t time_nsec;
	int32_t tz_minutes;
	char *login, *full_name, *host;
	size_t nevents;
	struct rfs_event *events;
};

/* Who saved and when (time, nanoseconds, time zone, login, full name, host):
** the part of a record that the sealed record and the index both carry. */
void rfs_record_who_encode(struct rfs_bytes *b, const struct rfs_record *r);
void rfs_record_who_decode(struct rfs_reader *rd, struct rfs_record *r);

/* An event in the encoding of record version (v2: its paths must be sealed, see
** rfs_record_paths_seal). decode of v2 keeps the sealed paths and leaves path,
** path_old and property "" until rfs_record_paths_open. */
void rfs_record_event_encode(struct rfs_bytes *b, const struct rfs_event *e, uint8_t version);
int rfs_record_event_decode(struct rfs_reader *r, struct rfs_event *e, uint8_t version);
/* v2: seal e's path (with its property) under the path key of e->dir and its
** old path under e->dir_old's (the root's own events: keys->history), once. 0 or -errno. */
int rfs_record_paths_seal(struct rfs_vault *v, struct rfs_event *e);
/* v2: open the sealed paths; a folder whose key is gone sets destroyed /
** destroyed_old and leaves that path "" (not an error). 0, -EIO (does not
** authenticate), -ENOMEM. */
int rfs_record_paths_open(struct rfs_vault *v, struct rfs_event *e);
/* A folder's key of one purpose for history (format 3: from its folder keys,
** found with rfs_vault_folder_keys_get; a zero dir, the root's own events:
** the vault-wide history / index key). Release with rfs_record_folder_key_put.
** 0, -ENOENT (the folder's key was destroyed), -errno. */
enum rfs_folder_purpose { RFS_HKEY_PATH, RFS_HKEY_TAG };
struct rfs_folder_key {
	const uint8_t *key;               /* 32 bytes, valid until put */
	const void *held;                 /* what the vault's cache lent (NULL: vault-wide) */
};
int rfs_record_folder_key(struct rfs_vault *v, const uint8_t dir[16], enum rfs_folder_purpose p,
                          struct rfs_folder_key *out);
void rfs_record_folder_key_put(struct rfs_vault *v, struct rfs_folder_key *k);
bool rfs_record_id_is_zero(const uint8_t id[16]);
/* The record version a vault writes (its format: 2 -> 1, 3 -> 2). */
uint8_t rfs_record_version_of(const struct rfs_vault *v);
void rfs_record_event_clear(struct rfs_event *e);
char *rfs_record_str(const char *s);     /* NULL -> "" */
/* Seal r into a commit message (heap text, base64url + "\n"). 0 or -errno. */
int rfs_record_seal(const struct rfs_record *r, struct rfs_vault *v, const git_oid *tree, char **msg);
/* Open a commit message. 0, -EIO (does not authenticate: changed or forged), -ENOMEM. */
int rfs_record_open(struct rfs_record *r, const char *msg, struct rfs_vault *v, const git_oid *tree);
void rfs_record_clear(struct rfs_record *r);

/* Fill a public rfs_version view of event e of record r at commit rev. */
void rfs_record_version_fill(struct rfs_version *v, const struct rfs_record *r, const struct rfs_event *e,
                      const git_oid *rev);

#endif
