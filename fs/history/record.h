/*
** record: the sealed record inside each commit message, and the byte
** encoding shared with the event index.
**
** Owns: serialising who/when/what (clear paths included) and sealing it with
** XChaCha20-Poly1305 under keys->history, bound to the vault and the commit's tree.
** Must never: emit a clear path outside the sealed bytes.
*/
#ifndef RECFS_FS_HISTORY_RECORD_H
#define RECFS_FS_HISTORY_RECORD_H

#include <stddef.h>
#include <stdint.h>
#include <git2.h>
#include "crypto/subkeys.h"
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

/* A growable byte buffer; wiped on free (it may hold clear paths). */
struct rfs_bytes {
	uint8_t *p;
	size_t len, cap;
	int err;
};
void rfs_bytes_put(struct rfs_bytes *b, const void *data, size_t n);
void rfs_bytes_u8(struct rfs_bytes *b, uint8_t v);
void rfs_bytes_u32(struct rfs_bytes *b, uint32_t v);
void rfs_bytes_u64(struct rfs_bytes *b, uint64_t v);
void rfs_bytes_str(struct rfs_bytes *b, const char *s);
void rfs_bytes_free(struct rfs_bytes *b);

/* A reader over bytes; any overrun sets err. */
struct rfs_reader {
	const uint8_t *p;
	size_t len, off;
	int err;
};
uint8_t rfs_read_u8(struct rfs_reader *r);
uint32_t rfs_read_u32(struct rfs_reader *r);
uint64_t rfs_read_u64(struct rfs_reader *r);
void rfs_read_bytes(struct rfs_reader *r, void *out, size_t n);
char *rfs_read_str(struct rfs_reader *r);  /* heap, NUL-terminated */

/* Who saved and when (time, nanoseconds, time zone, login, full name, host):
** the part of a record that the sealed record and the index both carry. */
void rfs_record_who_encode(struct rfs_bytes *b, const struct rfs_record *r);
void rfs_record_who_decode(struct rfs_reader *rd, struct rfs_record *r);

void rfs_event_encode(struct rfs_bytes *b, const struct rfs_event *e);
int rfs_event_decode(struct rfs_reader *r, struct rfs_event *e);
void rfs_event_clear(struct rfs_event *e);
char *rfs_strdup0(const char *s);     /* NULL -> "" */
/* Make room for one more element in the array *vp (n used, *cap allocated,
** elem bytes each; first capacity first): doubles it when full. 0 or -ENOMEM. */
int rfs_grow(void *vp, size_t *cap, size_t n, size_t elem, size_t first);
/* write(2) until done. 0 or -errno. */
int rfs_write_all(int fd, const uint8_t *p, size_t n);

/* Seal r into a commit message (heap text, base64url + "\n"). 0 or -errno. */
int rfs_record_seal(const struct rfs_record *r, const struct rfs_keys *k,
                    const uint8_t vault_id[16], const git_oid *tree, char **msg);
/* Open a commit message. 0, -EIO (does not authenticate: changed or forged), -ENOMEM. */
int rfs_record_open(struct rfs_record *r, const char *msg, const struct rfs_keys *k,
                    const uint8_t vault_id[16], const git_oid *tree);
void rfs_record_clear(struct rfs_record *r);

/* Fill a public rfs_version view of event e of record r at commit rev. */
void rfs_version_fill(struct rfs_version *v, const struct rfs_record *r, const struct rfs_event *e,
                      const git_oid *rev);

#endif
