/*
** xowner: see xowner.h.
*/
#include "fs/xowner.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <unistd.h>

#define HEADER_FILE_ID_OFFSET 4        /* after version (2) and flags (2) */

int rfs_xattr_owner_of(const char *path, bool is_dir, uint8_t owner[RFS_XATTR_OWNER_SIZE])
{
	char p[PATH_MAX];
	off_t at = is_dir ? 0 : HEADER_FILE_ID_OFFSET;
	ssize_t n;
	int fd;

	if (snprintf(p, sizeof(p), "%s%s", path, is_dir ? "/" RFS_DIRID_FILE : "") >= (int)sizeof(p))
		return -ENAMETOOLONG;
	fd = open(p, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return errno == ENOENT && is_dir ? -EIO : -errno;
	n = pread(fd, owner, RFS_XATTR_OWNER_SIZE, at);
	close(fd);
	return n == RFS_XATTR_OWNER_SIZE ? 0 : n < 0 ? -errno : -EIO;
}
