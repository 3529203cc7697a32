/*
** idle: see idle.h. One thread per mount, ticking once a second: a tick that finds
** rfs_fs.used set starts the idle time again.
*/
#include "fs/idle.h"

#include <errno.h>
#include <pthread.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fs/log.h"
#include "fs/ops.h"

extern char **environ;

#define IDLE_MAX_SECONDS (365u * 24 * 3600)

struct rfs_idle {
	struct rfs_fs *fs;
	char *mountpoint;
	unsigned seconds;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop;
};

int rfs_idle_parse(const char *text, unsigned *seconds)
{
	char *end;
	unsigned long long n, unit = 1;

	if (!text || *text < '0' || *text > '9')
		return -EINVAL;
	errno = 0;
	n = strtoull(text, &end, 10);
	if (errno)
		return -EINVAL;
	if (*end && end[1])
		return -EINVAL;
	switch (*end) {
	case '\0': case 's': unit = 1; break;
	case 'm': unit = 60; break;
	case 'h': unit = 3600; break;
	case 'd': unit = 86400; break;
	default: return -EINVAL;
	}
	if (n == 0 || n > IDLE_MAX_SECONDS / unit)
		return -EINVAL;
	*seconds = (unsigned)(n * unit);
	return 0;
}

/* Ask for the unmount, as recfs umount does; 0 when it was done. */
static int unmount(const char *mountpoint)
{
	char *argv[] = { "fusermount3", "-u", (char *)mountpoint, NULL };
	pid_t pid;
	int status;

	if (geteuid() == 0)
		return umount2(mountpoint, 0) == 0 ? 0 : -errno;
	if (posix_spawnp(&pid, argv[0], NULL, NULL, argv, environ) != 0)
		return -ENOENT;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -ECHILD;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EBUSY;
}

static void *watch(void *arg)
{
	struct rfs_idle *w = arg;
	struct timespec next;
	unsigned quiet = 0;
	bool told = false;

	clock_gettime(CLOCK_MONOTONIC, &next);
	pthread_mutex_lock(&w->lock);
	while (!w->stop) {
		next.tv_sec++;
		if (pthread_cond_timedwait(&w->cond, &w->lock, &next) != ETIMEDOUT || w->stop)
			continue;
		if (atomic_exchange(&w->fs->used, false)) {
			quiet = 0;
			continue;
		}
		if (++quiet < w->seconds)
			continue;
		pthread_mutex_unlock(&w->lock);
		int rc = unmount(w->mountpoint);
		pthread_mutex_lock(&w->lock);
		if (rc == 0) {
			rfs_log(LOG_INFO, "unmounted %s after %u s without use", w->mountpoint, w->seconds);
			break;
		}
		if (!told)
			rfs_log(LOG_NOTICE, "idle for %u s, but %s is busy (files or folders open "
			        "there): unmounting once they are closed", w->seconds, w->mountpoint);
		told = true;
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

int rfs_idle_start(struct rfs_fs *fs, const char *mountpoint, unsigned seconds,
                   struct rfs_idle **out)
{
	struct rfs_idle *w = calloc(1, sizeof(*w));
	pthread_condattr_t ca;
	int rc;

	if (!w || !(w->mountpoint = strdup(mountpoint))) {
		free(w);
		return -ENOMEM;
	}
	w->fs = fs;
	w->seconds = seconds;
	pthread_mutex_init(&w->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->cond, &ca);
	pthread_condattr_destroy(&ca);
	atomic_store(&fs->used, false);
	rc = -pthread_create(&w->thread, NULL, watch, w);
	if (rc < 0) {
		pthread_cond_destroy(&w->cond);
		pthread_mutex_destroy(&w->lock);
		free(w->mountpoint);
		free(w);
		return rc;
	}
	*out = w;
	return 0;
}

void rfs_idle_stop(struct rfs_idle *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	w->stop = true;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
	free(w->mountpoint);
	free(w);
}
