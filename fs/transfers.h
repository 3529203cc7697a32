/*
** transfers: the transfer log, /.recfs/retention/transfers of the live tree: one line per
** archive, close-service, confirmation of a transfer, and disposal archive, in order.
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
struct rfs_transfer_list;
int rfs_transfers_list(struct rfs_fs *fs, struct rfs_transfer_list **list);
void rfs_transfers_free(struct rfs_transfer_list *list);

#endif
