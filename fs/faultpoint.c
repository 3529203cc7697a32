/*
** faultpoint: the power cut at a named point (see faultpoint.h). Built only
** with -Dfault_points=true. Owns the parsing of RECFS_FAULT_CUT and
** RECFS_FAULT_DELAY, and the pass count of the one armed point.
** Must never: cut any file system but the one holding the vault; cut twice.
*/
#include "fs/faultpoint.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "fs/log.h"

/* From fs/ext4/ext4.h, as in tests/integration/godown.c. */
#define RFS_EXT4_IOC_SHUTDOWN _IOR('X', 125, uint32_t)
#define RFS_EXT4_GOING_FLAGS_NOLOGFLUSH 0x2

static pthread_once_t armed_once = PTHREAD_ONCE_INIT;
static char armed_name[64];
static unsigned long armed_pass;
static bool armed_sync;        /* ":sync": commit the journal first, as its 5 s timer would have */
static atomic_ulong passes;
static char delayed_name[64];
static unsigned long delay_ms;

static void arm_delay(void)
{
	const char *spec = getenv("RECFS_FAULT_DELAY");
	size_t n = spec ? strcspn(spec, ":") : 0;
	if (!n || n >= sizeof delayed_name || spec[n] != ':')
		return;
	memcpy(delayed_name, spec, n);
	delayed_name[n] = 0;
	delay_ms = strtoul(spec + n + 1, NULL, 10);
}

static void arm(void)
{
	arm_delay();
	const char *spec = getenv("RECFS_FAULT_CUT");
	if (!spec || !*spec)
		return;
	size_t n = strcspn(spec, ":");
	if (n >= sizeof armed_name)
		return;
	memcpy(armed_name, spec, n);
	armed_name[n] = 0;
	armed_pass = 1;
	if (spec[n] == ':') {
		char *end;
		unsigned long pass = strtoul(spec + n + 1, &end, 10);
		if (end != spec + n + 1)
			armed_pass = pass;
		armed_sync = strstr(end, "sync") != NULL;
	}
}

static void cut(const char *name, int anyfd)
{
	uint32_t flags = RFS_EXT4_GOING_FLAGS_NOLOGFLUSH;
	/* An O_PATH descriptor takes no ioctl: open the folder it names. */
	int fd = fcntl(anyfd, F_GETFL) & O_PATH ? openat(anyfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
	                                         : fcntl(anyfd, F_DUPFD_CLOEXEC, 0);
	int rc = 0;

	if (fd < 0 || (armed_sync && syncfs(fd) != 0) || ioctl(fd, RFS_EXT4_IOC_SHUTDOWN, &flags) < 0)
		rc = -errno;
	if (fd >= 0)
		close(fd);
	rfs_log(LOG_WARNING, "fault point %s: power cut %s", name, rc ? strerror(-rc) : "done");
}

void rfs_fault_point(const char *name, int anyfd)
{
	pthread_once(&armed_once, arm);
	if (delay_ms && strcmp(name, delayed_name) == 0) {
		struct timespec ts = { .tv_sec = (time_t)(delay_ms / 1000),
		                       .tv_nsec = (long)(delay_ms % 1000) * 1000000L };
		rfs_log(LOG_NOTICE, "fault point %s: a delay of %lu ms", name, delay_ms);
		nanosleep(&ts, NULL);
	}
	if (!armed_name[0] || strcmp(name, armed_name) != 0)
		return;
	if (atomic_fetch_add(&passes, 1) + 1 == armed_pass)
		cut(name, anyfd);
}
