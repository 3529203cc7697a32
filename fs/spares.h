/*
** spares: folders made ahead for mkdir, in VAULT/spare/.
**
** Each spare is an empty backing folder whose .dirid is written and fdatasync'd, and
** (format 3) whose folder key's entry is durable, all before it gets its ready name
** ("r" + 16 hex; "t" + 16 hex while it is made). A thread of its own keeps a few ready;
** mkdir renames one into live/ (fs/ops_dir.c), so no sync waits in its request, and no
** folder reaches live/ before its key and id are on the disk. Spares are kept over an
** unmount or a crash and used at the next mount; one cut short while made is removed.
** An unused spare's key entry is like the one a crash between a file's key and its
** create leaves: named by nothing, harmless.
** Owns: making, checking and handing out spares.
** Must never: hand out or remove a folder that holds anything but its .dirid, or make
** a request wait for the maker; run on a read-only mount.
*/
#ifndef RECFS_FS_SPARES_H
#define RECFS_FS_SPARES_H

#include <stdint.h>
#include <sys/types.h>

#include "crypto/names.h"
#include "fs/vault.h"

#define RFS_SPARE_DIR "spare"
#define RFS_SPARE_NAME 18                 /* "r" + 16 hex + NUL */

struct rfs_spares;

struct rfs_spare {
	char name[RFS_SPARE_NAME];            /* in VAULT/spare/ */
	uint8_t dirid[RFS_DIRID_SIZE];
	gid_t gid;                            /* its group, as made */
};

/* Open VAULT/spare/ (made if missing), take back its ready spares, remove the ones cut
** short, and start the maker. 0 or -errno (the mount goes on without: mkdir as before). */
int rfs_spares_open(struct rfs_vault *v, struct rfs_spares **out);

/* Stop the maker; spares stay on the disk for the next mount. NULL is fine. */
void rfs_spares_close(struct rfs_spares *s);

/* VAULT/spare/, for the rename out of it. */
int rfs_spares_dirfd(const struct rfs_spares *s);

/* A ready spare, now the caller's: 0, or -EAGAIN when there is none (s NULL too). */
int rfs_spares_take(struct rfs_spares *s, struct rfs_spare *out);

/* A spare taken but not moved (still in VAULT/spare/ under its name): ready again. */
void rfs_spares_give_back(struct rfs_spares *s, const struct rfs_spare *sp);

/* The backing file system cannot rename a spare into place: make no more. */
void rfs_spares_disable(struct rfs_spares *s);

#endif
