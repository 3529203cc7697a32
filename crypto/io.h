/*
** io: the loops every layer needs around read(2) and write(2), and the one
** folder fsync. The lowest layer: crypto/, fs/ and tools/ all use it.
**
** Owns: retrying EINTR and short transfers until done, saying why it stopped.
** Must never: allocate, log, or hide an error (every call returns 0 / -errno).
*/
#ifndef RECFS_CRYPTO_IO_H
#define RECFS_CRYPTO_IO_H

#include <stddef.h>
#include <stdint.h>

/* pread(2) len bytes at off until done. 0, -errno, or -EIO when the file
** ends first. */
int rfs_io_pread_all(int fd, void *buf, size_t len, uint64_t off);

/* pread(2) at off until len bytes or the end of the file; *got: how many
** were read. 0 or -errno. */
int rfs_io_pread_upto(int fd, void *buf, size_t len, uint64_t off, size_t *got);

/* read(2) until len bytes or the end of the file; *got: how many. 0 or -errno. */
int rfs_io_read_upto(int fd, void *buf, size_t len, size_t *got);

/* pwrite(2) len bytes at off until done. 0, -errno, or -EIO when nothing is written. */
int rfs_io_pwrite_all(int fd, const void *buf, size_t len, uint64_t off);

/* write(2) len bytes until done. 0, -errno, or -EIO when nothing is written. */
int rfs_io_write_all(int fd, const void *buf, size_t len);

/* fsync(2) the folder name at dirfd (AT_FDCWD; "." for dirfd itself, which
** may be an O_PATH descriptor): what was created, renamed or removed in it
** becomes durable. 0 or -errno. */
int rfs_io_fsync_dir(int dirfd, const char *name);

#endif
