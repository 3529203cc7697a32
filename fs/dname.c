/*
** dname: see dname.h.
*/
#include "fs/dname.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>


static void side_name(char out[256 + 8], const char *backing)
{
	snprintf(out, 256 + 8, "%s%s", backing, RFS_LONG_SUFFIX);
}

int rfs_dname_seal(const struct rfs_folder_keys *fk, const char *name, struct rfs_sealed_name *sn)
{
	int rc = rfs_name_seal(sn->text, sizeof(sn->text), name, fk);

	if (rc < 0)
		return rc;
	sn->is_long = rfs_name_backing(sn->backing, sn->text);
	return 0;
}

int rfs_dname_write_long(int dirfd, const struct rfs_sealed_name *sn)
{
	char side[256 + 8];
	size_t len = strlen(sn->text);
	int fd, rc = 0;

	if (!sn->is_long)
		return 0;
	side_name(side, sn->backing);
	fd = openat(dirfd, side, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0400);
	if (fd < 0)
		return -errno;
	if (write(fd, sn->text, len) != (ssize_t)len)
		rc = -EIO;
	/* Durable before the name is used: without it, a power cut leaves a file
	** that was fsync'd with its folder but whose name no longer opens. Long
	** names are rare, so one sync each costs little. */
	else if (fdatasync(fd) != 0)
		rc = -errno;
	close(fd);
	return rc;
}

int rfs_dname_write_dirid(int dirfd, const uint8_t dirid[RFS_DIRID_SIZE])
{
	int fd = openat(dirfd, RFS_DIRID_FILE, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0400);
	int rc = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, dirid, RFS_DIRID_SIZE) != (ssize_t)RFS_DIRID_SIZE)
		rc = errno ? -errno : -EIO;
	/* Durable before the folder is used: a power cut must never leave a
	** folder whose files were fsync'd but whose id is empty (all EIO). */
	else if (fdatasync(fd) != 0)
		rc = -errno;
	close(fd);
	return rc;
}

int rfs_dname_read_dirid(int dirfd, uint8_t dirid[RFS_DIRID_SIZE])
{
	int fd = openat(dirfd, RFS_DIRID_FILE, O_RDONLY | O_CLOEXEC);
	int rc = 0;

	if (fd < 0)
		return -errno;
	if (read(fd, dirid, RFS_DIRID_SIZE) != RFS_DIRID_SIZE)
		rc = -EIO;
	close(fd);
	return rc;
}

/* Remove the side files in dirfd whose long-named entry is not there. A power cut can make one:
** the side file is made durable before the create or mkdir that needed it, which the cut then
** lost. Hidden from listings, it would make the folder's rmdir ENOTEMPTY for ever. */
static void drop_orphan_side_files(int dirfd)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *dp = fd < 0 ? NULL : fdopendir(fd);
	size_t sl = strlen(RFS_LONG_SUFFIX);
	struct dirent *de;

	if (!dp) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((de = readdir(dp)) != NULL) {
		size_t n = strlen(de->d_name);
		char owner[256];
		struct stat st;

		if (n <= sl || n - sl >= sizeof(owner) || strcmp(de->d_name + n - sl, RFS_LONG_SUFFIX))
			continue;
		memcpy(owner, de->d_name, n - sl);
		owner[n - sl] = '\0';
		if (rfs_name_is_long(owner) && fstatat(dirfd, owner, &st, AT_SYMLINK_NOFOLLOW) != 0 &&
		    errno == ENOENT)
			(void)unlinkat(dirfd, de->d_name, 0);
	}
	closedir(dp);
}

int rfs_dname_take_dirid(int dirfd, uint8_t dirid[RFS_DIRID_SIZE])
{
	int rc = rfs_dname_folder_empty(dirfd, true);

	if (rc == -ENOTEMPTY) {
		drop_orphan_side_files(dirfd);
		rc = rfs_dname_folder_empty(dirfd, true);
	}

	if (rc == 0 && rfs_dname_read_dirid(dirfd, dirid) < 0)
		rc = -EIO;
	if (rc == 0 && unlinkat(dirfd, RFS_DIRID_FILE, 0) != 0)
		rc = -errno;
	return rc;
}

void rfs_dname_remove_long(int dirfd, const char *backing)
{
	char side[256 + 8];

	if (!rfs_name_is_long(backing))
		return;
	side_name(side, backing);
	(void)unlinkat(dirfd, side, 0);
}

/* The sealed text a long name's side file holds; it must hash to backing. */
static int read_long(int dirfd, const char *backing, char text[RFS_ENC_NAME_MAX + 1])
{
	char side[256 + 8], check[256];
	int fd;
	ssize_t n;

	side_name(side, backing);
	fd = openat(dirfd, side, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -EIO;
	n = read(fd, text, RFS_ENC_NAME_MAX);
	close(fd);
	if (n <= 0)
		return -EIO;
	text[n] = '\0';
	if (strlen(text) != (size_t)n)
		return -EIO;
	rfs_name_backing(check, text);
	return strcmp(check, backing) == 0 ? 0 : -EIO;
}

int rfs_dname_open(const struct rfs_folder_keys *fk, int dirfd, const char *backing,
                   char clear[256])
{
	char text[RFS_ENC_NAME_MAX + 1];
	const char *sealed = backing;

	if (rfs_name_is_long(backing)) {
		if (read_long(dirfd, backing, text) < 0)
			return -EIO;
		sealed = text;
	}
	return rfs_name_open(clear, 256, sealed, fk) < 0 ? -EIO : 0;
}

int rfs_dname_folder_empty(int dirfd, bool but_dirid)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *dp = fd < 0 ? NULL : fdopendir(fd);
	struct dirent *de;
	int rc = 0;

	if (!dp) {
		rc = -errno;
		if (fd >= 0)
			close(fd);
		return rc;
	}
	while ((de = readdir(dp)) != NULL) {
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") &&
		    !(but_dirid && !strcmp(de->d_name, RFS_DIRID_FILE))) {
			rc = -ENOTEMPTY;
			break;
		}
	}
	closedir(dp);
	return rc;
}
