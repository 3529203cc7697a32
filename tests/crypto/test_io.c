/* Unit tests of crypto/io: the read/write loops and the folder fsync, on real files. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "crypto/io.h"

static int temp_file(void)
{
	char path[] = "/tmp/recfs-io-XXXXXX";
	int fd = mkstemp(path);

	cr_assert_geq(fd, 0);
	unlink(path);
	return fd;
}

Test(io, pwrite_then_pread_all_round_trip_and_short_file_is_eio)
{
	int fd = temp_file();
	uint8_t buf[10000], back[10000];

	for (size_t i = 0; i < sizeof buf; i++)
		buf[i] = (uint8_t)(i * 7);
	cr_assert_eq(rfs_io_pwrite_all(fd, buf, sizeof buf, 100), 0);
	cr_assert_eq(rfs_io_pread_all(fd, back, sizeof back, 100), 0);
	cr_assert_arr_eq(back, buf, sizeof buf);
	cr_assert_eq(rfs_io_pread_all(fd, back, sizeof back, 101), -EIO, "the file ends first");
	size_t got;
	cr_assert_eq(rfs_io_pread_upto(fd, back, sizeof back, 101, &got), 0);
	cr_assert_eq(got, sizeof back - 1);
	cr_assert_eq(rfs_io_pread_upto(fd, back, 10, 1u << 20, &got), 0);
	cr_assert_eq(got, 0);
	close(fd);
	cr_assert_eq(rfs_io_pread_all(fd, back, 1, 0), -EBADF);
	cr_assert_eq(rfs_io_pwrite_all(fd, back, 1, 0), -EBADF);
}

/* A socket pair moves at most its buffer at a time: the loops must go on. */
Test(io, write_all_and_read_upto_finish_short_transfers)
{
	int sv[2];
	size_t len = 1u << 20;
	uint8_t *out = malloc(len), *in = malloc(len);

	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	for (size_t i = 0; i < len; i++)
		out[i] = (uint8_t)(i ^ (i >> 8));
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		close(sv[0]);
		_exit(rfs_io_write_all(sv[1], out, len) == 0 ? 0 : 1);
	}
	close(sv[1]);
	size_t got;
	cr_assert_eq(rfs_io_read_upto(sv[0], in, len + 1, &got), 0);
	cr_assert_eq(got, len, "reads to the end");
	cr_assert_arr_eq(in, out, len);
	close(sv[0]);
	free(out);
	free(in);
}

Test(io, fsync_dir)
{
	cr_assert_eq(rfs_io_fsync_dir(AT_FDCWD, "/tmp"), 0);
	cr_assert_eq(rfs_io_fsync_dir(AT_FDCWD, "/nonexistent-recfs"), -ENOENT);
	int fd = open("/tmp", O_PATH | O_DIRECTORY);
	cr_assert_eq(rfs_io_fsync_dir(fd, "."), 0, "an O_PATH folder descriptor works");
	close(fd);
	cr_assert_eq(rfs_io_fsync_dir(AT_FDCWD, "/etc/hostname"), -ENOTDIR);
}
