/*
** godown: cut the power to an ext4 file system, as xfstests' godown does.
**
** Usage: godown MOUNTPOINT
** Calls EXT4_IOC_SHUTDOWN with EXT4_GOING_FLAGS_NOLOGFLUSH: from then on
** nothing more reaches the disk, neither data nor the journal, which is what a
** power cut leaves. Unmounting and mounting the image again replays the journal.
** Must never: be pointed at anything but a test's own loop-mounted image.
*/
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* From fs/ext4/ext4.h; not in the uapi headers of Debian 12. */
#define RFS_EXT4_IOC_SHUTDOWN _IOR('X', 125, uint32_t)
#define RFS_EXT4_GOING_FLAGS_NOLOGFLUSH 0x2

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: godown MOUNTPOINT\n");
		return 2;
	}
	int fd = open(argv[1], O_RDONLY | O_DIRECTORY);
	if (fd < 0) {
		fprintf(stderr, "godown: %s: %s\n", argv[1], strerror(errno));
		return 2;
	}
	uint32_t flags = RFS_EXT4_GOING_FLAGS_NOLOGFLUSH;
	if (ioctl(fd, RFS_EXT4_IOC_SHUTDOWN, &flags) < 0) {
		fprintf(stderr, "godown: shutdown of %s: %s\n", argv[1], strerror(errno));
		close(fd);
		return 1;
	}
	close(fd);
	return 0;
}
