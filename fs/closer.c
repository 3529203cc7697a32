/*
** closer: see closer.h. A ring of descriptors under one mutex; the threads
** take them in the order given (each has a number, its place in that order),
** and a drain waits until every descriptor numbered below the count handed
** over when it began is closed: taken off the ring, and no thread still in
** its close.
** Must never: close a descriptor twice, or drop one (a full ring or a
** failed start closes it in the caller).
*/
#include "fs/closer.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <unistd.h>

#define IDLE UINT64_MAX

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t work = PTHREAD_COND_INITIALIZER;   /* something queued, or stop */
static pthread_cond_t idle = PTHREAD_COND_INITIALIZER;   /* a close finished */
static int ring[RFS_CLOSER_MAX];
static unsigned head, count;
static uint64_t handed;               /* descriptors handed over so far (the next one's number) */
static uint64_t closing[RFS_CLOSER_THREADS];  /* each thread's descriptor in its close, or IDLE */
static unsigned starts;
static bool stopping;
static pthread_t threads[RFS_CLOSER_THREADS];
static unsigned nthreads;

static void *closer_main(void *arg)
{
	uint64_t *mine = arg;

	pthread_setname_np(pthread_self(), RFS_CLOSER_NAME);
	pthread_mutex_lock(&mu);
	for (;;) {
		while (!count && !stopping)
			pthread_cond_wait(&work, &mu);
		if (!count)
			break;
		int fd = ring[head];
		*mine = handed - count;      /* its number */
		head = (head + 1) % RFS_CLOSER_MAX;
		count--;
		pthread_mutex_unlock(&mu);
		close(fd);
		pthread_mutex_lock(&mu);
		*mine = IDLE;
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
			closing[nthreads] = IDLE;
			rc = -pthread_create(&threads[nthreads], NULL, closer_main, &closing[nthreads]);
			if (rc < 0)
				break;
		}
		if (nthreads == 0)
			starts = 0;              /* none started: every put closes at once */
		else
			rc = 0;                  /* fewer threads still close everything */
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

/* Every descriptor numbered below until is closed. mu held. */
static bool closed_below(uint64_t until)
{
	if (handed - count < until)      /* some are still on the ring */
		return false;
	for (unsigned i = 0; i < nthreads; i++)
		if (closing[i] < until)
			return false;
	return true;
}

bool rfs_closer_drain(void)
{
	pthread_mutex_lock(&mu);
	uint64_t until = handed;
	bool waited = !closed_below(until);
	while (!closed_below(until))
		pthread_cond_wait(&idle, &mu);
	pthread_mutex_unlock(&mu);
	return waited;
}
