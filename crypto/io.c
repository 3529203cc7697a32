/*
** io: read-until-done, write-until-done and the folder fsync (see io.h).
** Must never: allocate, log, or retry anything but EINTR and short counts.
*/
#include "crypto/io.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

/* read(2) (off NULL) or pread(2) at *off until len bytes or the end of the file. */
static int read_upto(int fd, void *buf, size_t len, const uint64_t *off, size_t *got)
{
	uint8_t *p = buf;

	*got = 0;
	while (*got < len) {
		ssize_t n = off ? pread(fd, p + *got, len - *got, (off_t)(*off + *got))
		                : read(fd, p + *got, len - *got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		*got += (size_t)n;
	}
	return 0;
}

int rfs_io_pread_upto(int fd, void *buf, size_t len, uint64_t off, size_t *got)
{
	return read_upto(fd, buf, len, &off, got);
}

int rfs_io_read_upto(int fd, void *buf, size_t len, size_t *got)
{
	return read_upto(fd, buf, len, NULL, got);
}

int rfs_io_pread_all(int fd, void *buf, size_t len, uint64_t off)
{
	size_t got;
	int rc = read_upto(fd, buf, len, &off, &got);

	if (rc < 0)
		return rc;
	return got == len ? 0 : -EIO;   /* shorter than asked: cut or shrinking */
}

/* write(2) (off NULL) or pwrite(2) at *off until all of len is written. */
static int write_all(int fd, const void *buf, size_t len, const uint64_t *off)
{
	const uint8_t *p = buf;
	size_t done = 0;

	while (done < len) {
		ssize_t n = off ? pwrite(fd, p + done, len - done, (off_t)(*off + done))
		                : write(fd, p + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;   /* nothing written: never loop on it */
		done += (size_t)n;
	}
	return 0;
}

int rfs_io_pwrite_all(int fd, const void *buf, size_t len, uint64_t off)
{
	return write_all(fd, buf, len, &off);
}

int rfs_io_write_all(int fd, const void *buf, size_t len)
{
	return write_all(fd, buf, len, NULL);
}

int rfs_io_fsync_dir(int dirfd, const char *name)
{
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd) != 0)
		rc = -errno;
	close(fd);
	return rc;
}
