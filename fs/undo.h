/*
** undo: VAULT/undo/, one entry per file whose last block is being rewritten
** in place (docs/FORMAT.md 5, "Undo entries"). A power cut between the
** writeback of such a block and the journal commit of the file's new size
** would leave bytes that were durable unreadable: the entry keeps the old
** slot's ciphertext, so recovery can write it back.
**
** Owns: deciding when an entry is needed (once per file between two syncs
** that make the file durable), writing it durably before the in-place write,
** removing it once the file's new state is durable, and reading the entries a
** crash left for recovery.
** Must never: hold or write a plaintext byte (an entry is a copy of a sealed
** slot), nor remove an entry before the state it protects is superseded by a
** durable one.
*/
#ifndef RECFS_FS_UNDO_H
#define RECFS_FS_UNDO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "crypto/content.h"

#define RFS_UNDO_DIR "undo"

struct rfs_undo;

/* What one entry holds: block `index` of the file as it was sealed when the
** file's plaintext size was `size` (slot_len = that block's length + 40). */
struct rfs_undo_entry {
	uint64_t index, size;
	size_t slot_len;
	uint8_t slot[RFS_SLOT_SIZE];
};

/* Open the vault's undo folder if it exists (it is made at the first entry),
** remembering the entries a crash left. 0 or -errno (-ENOMEM). */
int rfs_undo_open(int vault_fd, struct rfs_undo **out);
void rfs_undo_close(struct rfs_undo *u);

/* Before rewriting block index of the file open on fd (plaintext size `size`)
** in place: make an entry durable unless the file's durable state is already
** covered. 0, then rfs_undo_end once the in-place write is done (no sync may
** begin in between), or -errno: no in-place write may follow, and no end. */
int rfs_undo_begin(struct rfs_undo *u, int fd, const uint8_t id[16], uint64_t index, uint64_t size);
void rfs_undo_end(struct rfs_undo *u);

/* A write starts from an empty file: nothing of it is durable yet, so no
** entry is needed until the next sync. */
void rfs_undo_fresh(struct rfs_undo *u, const uint8_t id[16]);

/* A sync of one file (op_fsync) or of the vault (history's syncfs): take the
** token before it, and report how it went after. A success removes the
** entries it made unneeded. */
uint64_t rfs_undo_file_sync_begin(struct rfs_undo *u, const uint8_t id[16]);
void rfs_undo_file_sync_done(struct rfs_undo *u, const uint8_t id[16], uint64_t token, bool ok);
uint64_t rfs_undo_vault_sync_begin(struct rfs_undo *u);
void rfs_undo_vault_sync_done(struct rfs_undo *u, uint64_t token, bool ok);

/* The file was deleted: its entry goes too. */
void rfs_undo_drop(struct rfs_undo *u, const uint8_t id[16]);

/* Recovery: the entry a crash left for id. 0, -ENOENT, or -EIO (malformed). */
int rfs_undo_leftover(struct rfs_undo *u, const uint8_t id[16], struct rfs_undo_entry *e);
/* Recovery is done with what the crash left: remove those entries. */
void rfs_undo_drop_leftovers(struct rfs_undo *u);

#endif
