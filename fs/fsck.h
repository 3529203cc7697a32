/*
** fsck: authenticate every name, header and block of live/.
**
** Owns: the offline integrity check. Reports each damaged file once, by its
** clear path where the path still decrypts (else by its ciphertext path). A
** key that is absent is "destroyed" when VAULT/disposed/N lists its id, else
** corrupt.
** Must never: modify the vault.
*/
#ifndef RECFS_FS_FSCK_H
#define RECFS_FS_FSCK_H

#include <stdint.h>
#include <stdio.h>
#include "fs/progress.h"
#include "fs/vault.h"

struct rfs_fsck_result {
	unsigned long files, dirs, symlinks, blocks;
	unsigned long bad;           /* damaged entries reported */
	unsigned long destroyed;     /* keys absent whose ids VAULT/disposed/N lists (not damage) */
	unsigned long leftovers;     /* files or folders killed processes left (not damage) */
	uint64_t leftover_bytes;
};

/* Walk live/ and write one line per problem to report:
**   "corrupt: <clear path>: <what>"
** one line per key a disposal destroyed (format 3; not a problem):
**   "destroyed: <path>: key destroyed by disposal <N>"
** then one line per leftover of a killed daemon or view (never removed here):
**   "leftover: <path> (<bytes> bytes): <what it is>; <what removes it>"
** progress (may be NULL) is told of the files checked and their bytes, of totals from a
** walk of names and sizes made first (only when someone watches).
** Returns 0 (even with problems) or -errno on I/O failure. */
int rfs_fsck(struct rfs_vault *v, FILE *report, struct rfs_fsck_result *res,
             const struct rfs_progress *progress);

#endif
