/*
** dispose: `recfs dispose`, served by the mount daemon: due records destroyed
** (every version, names and paths included), the register and the journal
** written, an archive first where the class says so. The verbs dispose,
** disposals and certificate (fs/dispose_ctl.c) and the steps they take (here).
**
** A disposal of record N goes in exactly this order: check (due, approved,
** not held) -> archive if the class says so (fs/archive_build.h; a failure
** stops that record, nothing destroyed) -> write VAULT/disposed/N (the ids it
** destroys, fsync'd) -> append register line N and the journal line -> remove
** the record from live/ as deletions by the user who ran it -> flush history
** (the removal committed) -> shred every listed id (rfs_keystore_destroy) ->
** forget cached keys -> reload what history knows was disposed. A crash
** between the commit and the shred is finished at the next mount
** (rfs_dispose_finish: the register names N, the list is there).
** Owns: those steps, VAULT/disposed/, and what the walk of a record's tree in
** live/ (fs/walk.h) does to count and remove it.
** Must never: destroy a record that is not due today, is held, awaits
** approval, or whose archive is not durable; run as of any day but today;
** write a byte of a record's content anywhere but into its archive.
*/
#ifndef RECFS_FS_DISPOSE_H
#define RECFS_FS_DISPOSE_H

#include <stddef.h>
#include <stdint.h>

#include "fs/control.h"
#include "fs/ops.h"

/* What a disposal destroys: every file id and folder id of the record. */
struct rfs_dispose_ids {
	size_t files, folders, versions;       /* ever inside it */
	size_t count;
	uint8_t (*ids)[16];
};
void rfs_dispose_ids_free(struct rfs_dispose_ids *d);

struct rfs_subtree;

/* Every id of the record at path ("cases/smith", from the mount's root) and its counts:
** from history's index of what was ever inside it (sub, when rfs_dispose_subtrees made it
** already; NULL: asked here), and from live/. 0, -ENOENT, -errno. */
int rfs_dispose_collect(struct rfs_fs *fs, const char *path, const struct rfs_subtree *sub,
                        struct rfs_dispose_ids *out);

/* For a run of n records (format 3): what history's index says was ever inside each, with
** one pass over the index for them all. out[i] is zeroed for a record not in live/. 0, or
** -errno with every out[i] freed (each record then asks on its own). */
int rfs_dispose_subtrees(struct rfs_fs *fs, const char *const *paths, size_t n,
                         struct rfs_subtree *out);

/* The record's archive (fs/archive_build.h: as it stands, with its history, signed) as
** dir/name and dir/name.minisig, made as name.part and renamed once whole and durable,
** with VAULTNAME.pub beside them and a transfer log entry as peer's. -EEXIST: name or its
** signature is there already (the caller picks another). err says why. 0 or -errno. */
int rfs_dispose_archive(struct rfs_fs *fs, const struct rfs_peer *peer, const char *path,
                        const char *dir, const char *name, char *err, size_t errsz);

/* VAULT/disposed/N: the ids, fsync'd (file and folder); hash gets its SHA-256 hex. */
int rfs_dispose_write_list(struct rfs_fs *fs, uint64_t n, const struct rfs_dispose_ids *d,
                           char hash[65]);
/* Read VAULT/disposed/N back. -ENOENT when there is none. */
int rfs_dispose_read_list(struct rfs_fs *fs, uint64_t n, struct rfs_dispose_ids *out);

/* Remove the record at path from live/, deepest first, each entry recorded as deleted
** and the kernel told, each deletion committed as who's (NULL: the mount's). -ENOENT when it
** is not there (already removed). */
int rfs_dispose_remove(struct rfs_fs *fs, const char *path, const struct rfs_who *who);

/* Shred every id of d (an id already shredded is fine), then forget cached keys and
** tell history to reload the disposed lists. 0 or the first error. */
int rfs_dispose_shred(struct rfs_fs *fs, const struct rfs_dispose_ids *d);

/* At mount: finish the newest disposal if a crash stopped it after its register line
** (remove what is left of the record, commit, shred), and drop a list that no register
** line names (the disposal never happened). 0 or -errno. */
int rfs_dispose_finish(struct rfs_fs *fs);

/* The verbs dispose (roles checked inside), disposals and certificate (every local user). */
extern const struct rfs_control_verb rfs_dispose_verbs[];


#endif
