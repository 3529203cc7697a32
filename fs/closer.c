/*
** closer: see closer.h. A ring of descriptors under one mutex; the threads
** close them in the order given, and a drain waits until every descriptor
** handed over before it is closed.
** Must never: close a descriptor twice, or drop one (a full ring or a
** failed start closes it in the caller).
*/
#include "fs/closer.h"

#include <errno.h>
#include <pthread.h>
#include <unistd.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t work = PTHREAD_COND_INITIALIZER;   /* something queued, or stop */
static pthread_cond_t idle = PTHREAD_COND_INITIALIZER;   /* a close finished */
static int ring[RFS_CLOSER_MAX];
static unsigned head, count;
static unsigned long handed, closed; /* totals: a drain waits for closed to reach handed */
static unsigned starts;
static bool stopping;
static pthread_t threads[RFS_CLOSER_THREADS];
static unsigned nthreads;

static void *closer_main(void *arg)
{
	(void)arg;
	pthread_setname_np(pthread_self(), RFS_CLOSER_NAME);
	pthread_mutex_lock(&mu);
	for (;;) {
		while (!count && !stopping)
			pthread_cond_wait(&work, &mu);
		if (!count)
			break;
		int fd = ring[head];
		head = (head + 1) % RFS_CLOSER_MAX;
		count--;
		pthread_mutex_unlock(&mu);
		close(fd);
		pthread_mutex_lock(&mu);
		closed++;
		pthread_cond_broadcast(&idle);
	}
	pthread_mutex_unlock(&mu);
	return NULL;
}

int rfs_closer_start(void)
{
	int rc = 0;

	pthread_mutex_lock(&mu);
	if (starts++ == 0) {
		stopping = false;
		for (nthreads = 0; nthreads < RFS_CLOSER_THREADS; nthreads++) {
			rc = -pthread_create(&threads[nthreads], NULL, closer_main, NULL);
			if (rc < 0)
				break;
		}
		if (nthreads == 0) {
			starts = 0;              /* none started: every put closes at once */
		} else {
			rc = 0;                  /* fewer threads still close everything */
		}
	}
	pthread_mutex_unlock(&mu);
	return rc;
}

void rfs_closer_stop(void)
{
	unsigned n;

	pthread_mutex_lock(&mu);
	if (starts == 0 || --starts > 0) {
		pthread_mutex_unlock(&mu);
		return;
	}
	stopping = true;
	n = nthreads;
	pthread_cond_broadcast(&work);
	pthread_mutex_unlock(&mu);
	for (unsigned i = 0; i < n; i++)
		pthread_join(threads[i], NULL);
	pthread_mutex_lock(&mu);
	nthreads = 0;
	pthread_mutex_unlock(&mu);
}

void rfs_closer_put(int fd)
{
	if (fd < 0)
		return;
	pthread_mutex_lock(&mu);
	if (!nthreads || stopping || count == RFS_CLOSER_MAX) {
		pthread_mutex_unlock(&mu);
		close(fd);
		return;
	}
	ring[(head + count) % RFS_CLOSER_MAX] = fd;
	count++;
	handed++;
	pthread_cond_signal(&work);
	pthread_mutex_unlock(&mu);
}

bool rfs_closer_drain(void)
{
	pthread_mutex_lock(&mu);
	unsigned long until = handed;
	bool waited = closed < until;
	while (closed < until)
		pthread_cond_wait(&idle, &mu);
	pthread_mutex_unlock(&mu);
	return waited;
}
