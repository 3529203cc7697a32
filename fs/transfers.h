/*
** transfers: the transfer log, /.recfs/retention/transfers of the live tree: one line per
** archive, close-service, confirmation of a transfer, and disposal archive, in order.
**
**   seq  kind  when  on  login  name  path  file  sha512  key-id  pubkey  to  note  receipt
**   N-recipients  recipient...  N-records  record...
**
** Fields are tab-separated; '%', tab, CR and LF inside one are written %XX (the control
** socket's encoding). kind is archive, close-service, confirmed or disposal; when is ISO 8601
** with the vault's offset; on is YYYY-MM-DD or empty; seq counts 1, 2, ... and every line
** ends in LF. A line that breaks any of this makes the whole log unreadable: nothing is
** appended to a log that does not parse.
**
** Owns: the line format (fields escaped, parsed back strictly), appending one entry (one save
** in history, attributed to the person who asked), and reading the log back.
** Must never: hold record content (only paths, digests, keys and people); rewrite or drop an
** entry already written; let a FUSE request change it (it lives under /.recfs/retention/).
*/
#ifndef RECFS_FS_TRANSFERS_H
#define RECFS_FS_TRANSFERS_H

#include <stddef.h>
#include <stdint.h>

#include "fs/control.h"

#define RFS_TRANSFERS_PATH ".recfs/retention/transfers"

struct rfs_fs;

enum rfs_transfer_kind { RFS_TRANSFER_ARCHIVE = 1, RFS_TRANSFER_CLOSE_SERVICE = 2,
                         RFS_TRANSFER_CONFIRMED = 3, RFS_TRANSFER_DISPOSAL = 4 };
struct rfs_transfer {
	enum rfs_transfer_kind kind;
	uint64_t seq;                    /* set by append */
	int64_t when;                    /* set by append */
	const char *on;                  /* YYYY-MM-DD: --on of close-service / confirm, or NULL */
	const char *login, *name;        /* who: set by append from the peer */
	const char *path;                /* the folder archived */
	const char *file;                /* the tarball's absolute path */
	const char *sha512;              /* hex of the tarball */
	const char *key_id, *pubkey;     /* the signing key: hex id, and its public key (base64 line) */
	const char *const *recipients; size_t n_recipients;
	const char *const *records; size_t n_records;
	const char *to, *note, *receipt; /* or NULL */
};
int rfs_transfers_append(struct rfs_fs *fs, const struct rfs_peer *peer, struct rfs_transfer *t,
                         char *err, size_t errsz);
/* Every entry, oldest first; the strings live in *list until rfs_transfers_free. */
struct rfs_transfer_list {
	size_t count;
	struct rfs_transfer *entries;
	uint64_t *ends;                  /* the log's length up to and including entry i's line */
	void *keep;                      /* what the strings point into */
};
/* 0 (no log yet: an empty list), -EINVAL (it does not parse: a log line says where), -errno. */
int rfs_transfers_list(struct rfs_fs *fs, struct rfs_transfer_list **list);
void rfs_transfers_free(struct rfs_transfer_list *list);

/* Parse len bytes of log text (for recfs log, which reads it from history). err (may be NULL)
** gets "line N: what is wrong". 0, -EINVAL, -ENOMEM. */
int rfs_transfers_parse(const char *text, size_t len, struct rfs_transfer_list **list, char *err,
                        size_t errsz);
/* t's line as the log holds it (when with the vault's offset), with its '\n'; malloc'd, or
** NULL. The transfers verb sends it as it is. */
char *rfs_transfers_line(const struct rfs_transfer *t);
/* "archive", "close-service", "confirmed", "disposal"; NULL for another value. */
const char *rfs_transfer_kind_name(enum rfs_transfer_kind k);
/* The newest archive, close-service or disposal entry whose sha512 is hex, or NULL. */
const struct rfs_transfer *rfs_transfers_find(const struct rfs_transfer_list *list, const char *hex);

/* The verbs of fs/transfers_ctl.c. */
extern const struct rfs_control_verb rfs_transfers_verbs[];

#endif
