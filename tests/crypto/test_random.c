/* Unit tests of crypto/random: nonces from the per-thread pool are never handed out twice, in one
** thread, across threads, or in a forked child and its parent. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "crypto/random.h"
#include "crypto/secmem.h"

#define NONCE 24
#define N 4096

static void init(void)
{
	cr_assert_eq(rfs_secmem_init(), 0);
}

TestSuite(random, .init = init);

static int cmp_nonce(const void *a, const void *b)
{
	return memcmp(a, b, NONCE);
}

static void assert_distinct(uint8_t (*v)[NONCE], size_t n)
{
	qsort(v, n, NONCE, cmp_nonce);
	for (size_t i = 1; i < n; i++)
		cr_assert_neq(memcmp(v[i - 1], v[i], NONCE), 0, "nonce %zu handed out twice", i);
}

static void *take(void *arg)
{
	uint8_t (*v)[NONCE] = arg;
	for (size_t i = 0; i < N; i++)
		rfs_random_nonce(v[i], NONCE);
	return NULL;
}

Test(random, nonces_of_two_threads_are_all_distinct)
{
	static uint8_t v[2 * N][NONCE];
	pthread_t t;
	cr_assert_eq(pthread_create(&t, NULL, take, v[N]), 0);
	take(v);
	pthread_join(t, NULL);
	assert_distinct(v, 2 * N);
}

/* The child's copy of the pool would give it the parent's next nonces. */
Test(random, a_forked_child_does_not_reuse_the_parents_nonces)
{
	uint8_t first[NONCE], parent[8][NONCE], child[8][NONCE];
	int p[2];

	rfs_random_nonce(first, NONCE);          /* the pool is filled */
	cr_assert_eq(pipe(p), 0);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		for (int i = 0; i < 8; i++)
			rfs_random_nonce(child[i], NONCE);
		_exit(write(p[1], child, sizeof child) == (ssize_t)sizeof child ? 0 : 1);
	}
	for (int i = 0; i < 8; i++)
		rfs_random_nonce(parent[i], NONCE);
	cr_assert_eq(read(p[0], child, sizeof child), (ssize_t)sizeof child);
	int status;
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	for (int i = 0; i < 8; i++)
		for (int j = 0; j < 8; j++)
			cr_assert_neq(memcmp(parent[i], child[j], NONCE), 0, "parent %d = child %d", i, j);
	close(p[0]);
	close(p[1]);
}

Test(random, a_long_request_bypasses_the_pool)
{
	uint8_t a[512], b[512];
	rfs_random_nonce(a, sizeof a);
	rfs_random_nonce(b, sizeof b);
	cr_assert_neq(memcmp(a, b, sizeof a), 0);
}
