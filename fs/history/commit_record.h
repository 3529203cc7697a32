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

#include <stddef.h>
#include <stdint.h>
#include <git2.h>
#include "crypto/subkeys.h"
#include "fs/history/bytes.h"
#include "fs/history/history.h"

#define RFS_RECORD_VERSION 1

struct rfs_event {
	uint8_t kind, type;
	uint8_t file_id[16];
	uint32_t mode, uid, gid;
	int64_t mtime_sec;
	uint32_t mtime_nsec;
	uint64_t size;
	char *path, *path_old, *restored_from, *property;   /* heap, "" when absent */
};

struct rfs_record {
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

void rfs_record_event_encode(struct rfs_bytes *b, const struct rfs_event *e);
int rfs_record_event_decode(struct rfs_reader *r, struct rfs_event *e);
void rfs_record_event_clear(struct rfs_event *e);
char *rfs_record_str(const char *s);     /* NULL -> "" */
/* Seal r into a commit message (heap text, base64url + "\n"). 0 or -errno. */
int rfs_record_seal(const struct rfs_record *r, const struct rfs_keys *k,
                    const uint8_t vault_id[16], const git_oid *tree, char **msg);
/* Open a commit message. 0, -EIO (does not authenticate: changed or forged), -ENOMEM. */
int rfs_record_open(struct rfs_record *r, const char *msg, const struct rfs_keys *k,
                    const uint8_t vault_id[16], const git_oid *tree);
void rfs_record_clear(struct rfs_record *r);

/* Fill a public rfs_version view of event e of record r at commit rev. */
void rfs_record_version_fill(struct rfs_version *v, const struct rfs_record *r, const struct rfs_event *e,
                      const git_oid *rev);

#endif
