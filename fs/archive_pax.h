/*
** archive_pax: the archive a disposal of an `archive` class writes before it
** destroys anything: a pax tarball (libarchive) of the record's current files
** with their clear names, modes and mtimes, and last a manifest,
** manifest-sha512.txt, that `sha512sum -c` checks once the tarball is
** unpacked. (A stand-in until the archive issue brings BagIt.)
**
** Owns: the tarball's layout, writing it as NAME.part beside its final name,
** fsync'ing it, renaming it into place and fsync'ing the folder.
** Must never: write a byte of the record anywhere but into the tarball (the
** daemon streams each file from its read path; no temporary copy), leave
** a tarball under its final name that is not whole and durable, or replace
** an archive already there (-EEXIST: the caller picks another name).
*/
#ifndef RECFS_FS_ARCHIVE_PAX_H
#define RECFS_FS_ARCHIVE_PAX_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#define RFS_PAX_MANIFEST "manifest-sha512.txt"

struct rfs_pax;

/* Start dir/name (as dir/name.part; it must not exist). err gets a line that
** names the folder when it is missing or cannot be written. 0 or -errno. */
int rfs_pax_start(const char *dir, const char *name, struct rfs_pax **out, char *err,
                  size_t errsz);

/* One entry; path is relative ("contracts/acme/a.pdf"). A file's content
** follows through rfs_pax_data, size bytes in all, then rfs_pax_file_end. */
int rfs_pax_folder(struct rfs_pax *p, const char *path, mode_t mode, uid_t uid, gid_t gid,
                   struct timespec mtime);
int rfs_pax_symlink(struct rfs_pax *p, const char *path, const char *target, uid_t uid,
                    gid_t gid, struct timespec mtime);
int rfs_pax_file(struct rfs_pax *p, const char *path, mode_t mode, uid_t uid, gid_t gid,
                 struct timespec mtime, uint64_t size);
int rfs_pax_data(struct rfs_pax *p, const void *buf, size_t len);
int rfs_pax_file_end(struct rfs_pax *p);

/* Add the manifest, close, fsync, rename into place, fsync the folder. p is
** freed whatever happens; on failure the .part file is removed. 0 or -errno. */
int rfs_pax_finish(struct rfs_pax *p);
/* Give up: remove the .part file and free p. NULL is allowed. */
void rfs_pax_abort(struct rfs_pax *p);

#endif
