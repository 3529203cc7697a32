/*
** cfile: random-access plaintext I/O on one ciphertext file (crypto/content.h).
**
** Owns: mapping plaintext offsets to slots, read-modify-write of partial
** blocks, keeping the final-block flag and the header's NONEMPTY flag true,
** holes, truncation up and down, the undo entry (fs/undo.h) before a block
** whose old sealed form holds durable bytes is rewritten in place, and, after
** a crash only, putting right what a power cut left half written.
** Must never: return bytes that did not authenticate, or write a plaintext byte.
** Not thread-safe: the caller serialises writers (and readers against writers).
*/
#ifndef RECFS_FS_CFILE_H
#define RECFS_FS_CFILE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "crypto/keystore.h"
#include "fs/undo.h"

struct rfs_cfile {
	int fd;                       /* backing file, O_RDWR or O_RDONLY */
	const uint8_t *key;           /* the file's content key (32 bytes, secmem) */
	uint8_t file_id[RFS_FILE_ID_SIZE];
	uint16_t hdr_flags;
	uint64_t size;                /* plaintext size */
	struct rfs_undo *undo;        /* NULL: no undo entries (a file not yet named, recovery) */
};

/* Read the header of fd, load and check the file's key into key_out
** (32 bytes, caller-owned secure memory). 0, -ENODATA (a 0-byte backing
** file: an empty file with no header and no key yet), -EIO (no/forged
** header, or a size the NONEMPTY flag denies: why in *why), -ENOENT (key
** destroyed), -EPROTONOSUPPORT. */
int rfs_cfile_load(struct rfs_keystore *ks, int fd, uint8_t *key_out,
                   uint8_t file_id_out[RFS_FILE_ID_SIZE], uint16_t *flags_out,
                   const char **why);

/* The header of fd and its key, authenticated; the size is not looked at.
** Same errors as rfs_cfile_load, but for the size. */
int rfs_cfile_load_header(struct rfs_keystore *ks, int fd, uint8_t *key_out,
                          uint8_t file_id_out[RFS_FILE_ID_SIZE], uint16_t *flags_out,
                          const char **why);

/* Give a new, empty backing file (size 0) a fresh id, key and header. */
int rfs_cfile_init(struct rfs_keystore *ks, int fd, uint8_t *key_out,
                   uint8_t file_id_out[RFS_FILE_ID_SIZE]);
/* The same, and hdr_out (NULL, or RFS_HEADER_SIZE bytes) gets the file's whole
** ciphertext as written: history then need not read it back. */
int rfs_cfile_init_kept(struct rfs_keystore *ks, int fd, uint8_t *key_out,
                        uint8_t file_id_out[RFS_FILE_ID_SIZE], uint8_t *hdr_out);

/* Empty a file whatever its state (O_TRUNC discards the content anyway):
** ftruncate it to 0 bytes, then write an empty header. The id and key are
** key/file_id when have_key; else the header's own, if it authenticates;
** else a new id and key (*new_key). -EPROTONOSUPPORT (a newer format) or
** -errno, and then the file may be 0 bytes: still an empty file. */
int rfs_cfile_reset(struct rfs_keystore *ks, int fd, uint8_t *key, uint8_t file_id[RFS_FILE_ID_SIZE],
                    bool have_key, bool *new_key);

/* Give a new, empty backing file the header of an existing file (same id and
** key): a file rebuilt whole beside the original before it replaces it. */
int rfs_cfile_init_as(int fd, const uint8_t *key, const uint8_t file_id[RFS_FILE_ID_SIZE]);

/* Plaintext size from the backing size (fstat). 0 or -errno/-EIO. */
int rfs_cfile_stat_size(int fd, uint64_t *size);

/* Read up to len bytes at off, decrypted in place in this thread's scratch
** buffer: *out is valid until this thread's next rfs_cfile_* call. Returns
** bytes read (0 at EOF), -ENOMEM or -EIO. */
ssize_t rfs_cfile_read(struct rfs_cfile *cf, size_t len, uint64_t off, const uint8_t **out);

/* Until rfs_cfile_share_end, this thread's reads and writes of more than
** 128 KiB use one of a few buffers shared by all threads (waiting for one
** when all are lent), not a buffer of the thread's own that keeps its size:
** for the FUSE handlers, which call end once the read's reply is sent. */
void rfs_cfile_share_begin(void);
void rfs_cfile_share_end(void);

/* Write len bytes at off. Returns len or -errno (-ENOSPC, -EIO, -EFBIG). */
ssize_t rfs_cfile_write(struct rfs_cfile *cf, const uint8_t *buf, size_t len, uint64_t off);

/* The same with off a multiple of RFS_BLOCK_SIZE (else -EINVAL) and the bytes laid out
** one block per slot: block k at slots + k * RFS_SLOT_SIZE + RFS_BLOCK_NONCE. Each is
** sealed in place (slots then holds ciphertext): no buffer is borrowed. */
ssize_t rfs_cfile_write_slots(struct rfs_cfile *cf, uint8_t *slots, size_t len, uint64_t off);

/* One of the shared buffers of rfs_cfile_share_begin, of at least n bytes, without
** waiting: NULL when fewer than two are free (the last stays for the handlers, which
** wait for one). Given back with rfs_cfile_give. */
uint8_t *rfs_cfile_lend(size_t n);
void rfs_cfile_give(uint8_t *buf);

/* Set the plaintext size; bytes past an old end read as zeros. 0 or -errno. */
int rfs_cfile_truncate(struct rfs_cfile *cf, uint64_t size);

/* Authenticate every slot (for fsck). 0, or -EIO with the block number in *bad_block. */
int rfs_cfile_check(struct rfs_cfile *cf, uint64_t *bad_block);
/* The same for the blocks from first on, at most n of them (fsck's progress, a MiB at a
** time); *checked gets how many were. */
int rfs_cfile_check_blocks(struct rfs_cfile *cf, uint64_t first, uint64_t n, uint64_t *checked,
                           uint64_t *bad_block);

/* What rfs_cfile_after_crash did. */
enum rfs_cfile_fix {
	RFS_FIX_NONE,                 /* the file authenticates as it is */
	RFS_FIX_UNDONE,               /* its undo entry was written back: the last durable state */
	RFS_FIX_RESEALED,             /* blocks resealed with the right final flag; nothing lost */
	RFS_FIX_CUT,                  /* a torn tail cut off: the longest prefix that authenticates */
};

/* After a crash only (never on a vault closed cleanly): cf has its header
** loaded (rfs_cfile_load_header) on a descriptor open for writing, and
** cf->undo, if set, may hold the entry the crash left. Put right what a
** power cut left half written: write the undo entry back when the block it
** holds no longer authenticates at the size on disk; reseal blocks whose
** final flag an append or a truncation left wrong; cut a torn tail (blocks
** that do not authenticate, or slots never written, up to the end) back to
** the longest prefix that does. Every change is fdatasync'd. Sets cf->size.
** 0 (with *fix), -EIO when the damage is not of that kind (a bad block
** followed by good ones, a bad header), or -errno. */
int rfs_cfile_after_crash(struct rfs_cfile *cf, enum rfs_cfile_fix *fix);

#endif
