/*
** dname: the names of entries in a folder of live/, on disk.
**
** Owns: sealing a clear name into its backing name, the ".n" side file that
** holds a long sealed name, opening a backing name back to clear, and a
** folder's id file (.dirid): made, read, and taken out of a folder that goes.
** Must never: return a clear name that did not authenticate.
*/
#ifndef RECFS_FS_DNAME_H
#define RECFS_FS_DNAME_H

#include <stdbool.h>
#include <stdint.h>

#include "crypto/names.h"

struct rfs_sealed_name {
	char text[RFS_ENC_NAME_MAX + 1];   /* the sealed name */
	char backing[256];                 /* its name on disk */
	bool is_long;
};

/* Seal name for the folder whose keys are fk. 0, -EINVAL, -ENAMETOOLONG. */
int rfs_dname_seal(const struct rfs_folder_keys *fk, const char *name, struct rfs_sealed_name *sn);

/* Write the side file of a long name (nothing for a short one). 0 or -errno. */
int rfs_dname_write_long(int dirfd, const struct rfs_sealed_name *sn);

/* Write a folder's .dirid (O_EXCL) and make it durable. 0 or -errno. */
int rfs_dname_write_dirid(int dirfd, const uint8_t dirid[RFS_DIRID_SIZE]);

/* Read the folder's .dirid. 0, -ENOENT when there is none, -EIO when it is
** short, or -errno. */
int rfs_dname_read_dirid(int dirfd, uint8_t dirid[RFS_DIRID_SIZE]);

/* Before the empty folder dirfd is removed or renamed over: take its .dirid
** out of the way (side files whose long-named entry is gone, left by a power
** cut, go first: they are not entries), keeping the id in dirid so that rfs_dname_write_dirid can
** put it back if the removal fails. 0, -ENOTEMPTY, -EIO or -errno. */
int rfs_dname_take_dirid(int dirfd, uint8_t dirid[RFS_DIRID_SIZE]);

/* Remove the side file of backing, if it is a long name. */
void rfs_dname_remove_long(int dirfd, const char *backing);

/* Clear name (capacity 256) of the entry backing in dirfd; -EIO when it does not authenticate. */
int rfs_dname_open(const struct rfs_folder_keys *fk, int dirfd, const char *backing,
                   char clear[256]);

/* 0 when the folder dirfd (any descriptor of it, O_PATH too) holds nothing,
** or nothing but its .dirid when but_dirid; else -ENOTEMPTY or -errno.
** A folder without even a .dirid is a mkdir cut short by a crash: it has no
** names to lose, so it may be given a new folder id. */
int rfs_dname_folder_empty(int dirfd, bool but_dirid);

#endif
