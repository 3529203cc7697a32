/*
** xowner: the 16 bytes an extended attribute value is bound to (FORMAT.md
** section 7): a regular file's file id (header bytes 4..19), a folder's dirid.
**
** Owns: reading that id from a backing object in live/.
** Must never: read anything but the clear header's id or the .dirid file.
*/
#ifndef RECFS_FS_XOWNER_H
#define RECFS_FS_XOWNER_H

#include <stdbool.h>
#include <stdint.h>
#include "crypto/names.h"

/* path names the backing object (e.g. "/proc/self/fd/N"). 0, or -EIO when it
** holds no id (an empty backing file, a folder without .dirid), or -errno. */
int rfs_xattr_owner_of(const char *path, bool is_dir, uint8_t owner[RFS_XATTR_OWNER_SIZE]);

#endif
