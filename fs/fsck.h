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

/* One finding of the walk, handed to the caller (who prints it as text or JSON). */
struct rfs_fsck_finding {
	const char *kind;       /* "corrupt" (damage), "destroyed" (a key a disposal destroyed, format
	                           3; not damage), "leftover" (of a killed daemon or view; never
	                           removed here) */
	const char *path;       /* corrupt, destroyed: the clear path, "/..." as it is (not escaped),
	                           or the ciphertext path where the name does not decrypt; leftover:
	                           its path on disk, VAULT/... */
	const char *detail;     /* what is wrong, or what it is and what removes it */
	uint64_t bytes;         /* leftover: its size */
	uint64_t disposal;      /* destroyed: the number of the disposal */
};
typedef void (*rfs_fsck_report_fn)(void *arg, const struct rfs_fsck_finding *f);

/* Walk live/ and hand report each damaged entry, each key a disposal destroyed, then each
** leftover of a killed process. progress (may be NULL) is told of the files checked and their
** bytes, of totals from a walk of names and sizes made first (only when someone watches).
** Returns 0 (even with problems) or -errno on I/O failure. */
int rfs_fsck(struct rfs_vault *v, rfs_fsck_report_fn report, void *arg,
             struct rfs_fsck_result *res, const struct rfs_progress *progress);

#endif
