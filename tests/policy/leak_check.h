/* Makes a leak fail the test program. Criterion runs each test in a worker process and does
** not look at the worker's exit status once the test has reported, and ignores assertions in a
** fini step, so LeakSanitizer's report alone fails nothing. A worker that aborts in its fini
** step does make the program exit 1, so each suite here checks for leaks there and aborts. */
#ifndef RECFS_TEST_LEAK_CHECK_H
#define RECFS_TEST_LEAK_CHECK_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>

static inline void leak_check(void)
{
	if (__lsan_do_recoverable_leak_check() != 0) {
		fprintf(stderr, "memory leaked (report above): failing the test program\n");
		abort();
	}
}
#else
static inline void leak_check(void)
{
}
#endif

#endif
