/*
** archive_build: `recfs archive PATH`, served by the mount daemon: the
** records under a clear path of the mount, as they stand and (with history)
** each as an OCFL object of its committed versions, written as one signed
** BagIt bag (archive/bag.h) to a descriptor the caller made.
**
** Owns: the walk of PATH's records (as the retention policy defines them;
** each top-level folder without one), of their history in the vault's log,
** the tag files (records.csv, records.json, the schedule), the signature by
** the vault's archive key.
** Must never: write a byte of a record's plaintext anywhere but into the bag
** (it reads through the daemon's read path and the history reader; no
** temporary plaintext anywhere), hold a whole file in memory, archive what
** is not committed (it flushes history first), or put a destroyed record's
** or version's content in the bag (their stubs only).
*/
#ifndef RECFS_FS_ARCHIVE_BUILD_H
#define RECFS_FS_ARCHIVE_BUILD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "archive/bag.h"
#include "fs/ops.h"

struct rfs_archive_request {
	const char *path;                /* clear path from the mount's root ("/Telecare") */
	bool history;
	const char *note;                /* or NULL */
	const uint8_t (*recipients)[32]; size_t n_recipients;
	enum rfs_bag_compress compress;
	int out_fd;                      /* the caller made it; written from offset 0 */
	void (*progress)(void *arg, uint64_t files, uint64_t bytes, uint64_t total_files, uint64_t total_bytes);
	void *progress_arg;
};

struct rfs_archive_outcome {
	struct rfs_bag_result bag;
	char *signature;                 /* FILE.minisig text, heap */
	char *pubkey;                    /* the vault's archive public key file text, heap */
	char key_id[17];                 /* hex */
	char **records; size_t n_records;   /* the records archived (clear paths) */
	char **held; size_t n_held;         /* those under a hold */
	char **left_out; size_t n_left_out; /* links left out, with why */
};

/* Flushes history first, so the archive is the committed state; reads
** through the daemon's read path (no temporary plaintext anywhere). On
** failure err names what and out is freed. 0 or -errno. */
int  rfs_archive_build(struct rfs_fs *fs, const struct rfs_archive_request *req,
                       struct rfs_archive_outcome *out, char *err, size_t errsz);
void rfs_archive_outcome_free(struct rfs_archive_outcome *o);

#endif
