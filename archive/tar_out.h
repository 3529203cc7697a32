/*
** tar_out: the deterministic pax tar under a bag, and the chain its bytes go
** through: libarchive (pax restricted, optional gzip or zstd), then optional
** age encryption, then SHA-512 and BLAKE2b-512 of the final bytes, then the fd.
**
** Owns: every tar header's fields (uid/gid 0, no user or group names, no
** atime or ctime, whole-second mtimes, fixed modes) and the gzip header
** without a timestamp, so that equal input gives equal bytes.
** Must never: choose paths (the bag does and checks them), write anywhere
** but the caller's fd, or hold more than libarchive's and age's blocks and the
** writer thread's 1 MiB (the last stage runs on a thread of its own).
** Internal to archive/.
*/
#ifndef RECFS_ARCHIVE_TAR_OUT_H
#define RECFS_ARCHIVE_TAR_OUT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "archive/bag.h"

struct rfs_tar;

/* Starts the chain on out->fd (from its current offset). 0 or -errno. */
int rfs_tar_start(const struct rfs_bag_out *out, struct rfs_tar **t, char *err, size_t errsz);
/* A folder entry (path without the trailing '/'): 0755. */
int rfs_tar_folder(struct rfs_tar *t, const char *path, int64_t mtime);
/* A regular file of size bytes: rfs_tar_data until size bytes, then rfs_tar_file_end
** (-EIO when the data was more or less than size). Mode 0755 when mode has an x bit, else 0644. */
int rfs_tar_file_begin(struct rfs_tar *t, const char *path, mode_t mode, int64_t mtime,
                       uint64_t size);
int rfs_tar_data(struct rfs_tar *t, const void *buf, size_t len);
int rfs_tar_file_end(struct rfs_tar *t);
/* A hard link to target, an earlier file entry of this tar (size 0). */
int rfs_tar_hardlink(struct rfs_tar *t, const char *path, const char *target, mode_t mode,
                     int64_t mtime);
int rfs_tar_symlink(struct rfs_tar *t, const char *path, const char *target, int64_t mtime);
/* Ends the tar, the compression and the age stream; the digests and count of the bytes
** written to the fd. Frees t. */
int rfs_tar_finish(struct rfs_tar *t, uint8_t sha512[64], uint8_t blake2b512[64],
                   uint64_t *bytes, char *err, size_t errsz);
void rfs_tar_abort(struct rfs_tar *t);

#endif
