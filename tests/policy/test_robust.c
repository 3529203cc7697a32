/* Unit tests of policy/ under hostile conditions: every allocation failing in turn (each must
** give -ENOMEM and leak nothing: LeakSanitizer checks), and random edits of the example policy
** (each is a policy or an error with a place, never a crash). The allocator is wrapped at link
** time (-Wl,--wrap), so only this test program sees failures. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "fixture.h"
#include "leak_check.h"

TestSuite(robust, .fini = leak_check);

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);

static long allocations_left = -1;   /* -1: never fail */

static bool allocation_fails(void)
{
	if (allocations_left < 0)
		return false;
	return allocations_left-- == 0;
}

void *__wrap_malloc(size_t n)
{
	return allocation_fails() ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t size)
{
	return allocation_fails() ? NULL : __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t n)
{
	return allocation_fails() ? NULL : __real_realloc(p, n);
}

/* Parse text with allocation 0, 1, 2, ... failing until none fails: each failure must be
** -ENOMEM with no policy. Returns the policy of the first parse that succeeds, and how many
** failed before it. */
static struct rfs_policy *parse_through_failures(const char *text, long *failures)
{
	for (long n = 0;; n++) {
		struct rfs_policy *p = NULL;
		allocations_left = n;
		int rc = rfs_policy_parse(text, strlen(text), &p, NULL);
		allocations_left = -1;
		if (rc == 0) {
			*failures = n;
			return p;
		}
		cr_assert_eq(rc, -ENOMEM, "allocation %ld failed: %d", n, rc);
		cr_assert_null(p);
	}
}

Test(robust, every_allocation_of_a_parse_may_fail)
{
	const char *text = "archive = /a\n[roles]\napprover = @a, b, c, d, e, f, g\n"
	                   "[class x]\nrecords = a/*\nretain = 1 day after end\nthen = archive\n"
	                   "authority = A\n[class y]\nrecords = b/*\nretain = 1 day after created\n"
	                   "then = destroy\n";
	long failures;
	struct rfs_policy *p = parse_through_failures(text, &failures);

	cr_expect_eq(p->class_count, 2);
	cr_expect_eq(p->roles[RFS_ROLE_APPROVER].count, 7);
	cr_expect_gt(failures, 20);
	rfs_policy_free(p);
	/* the example, with its ambiguity check */
	rfs_policy_free(parse_through_failures(anytown_policy, &failures));
	/* growing the class table past its first 8 */
	char many[4096] = "";
	for (int i = 0; i < 20; i++)
		sprintf(many + strlen(many), "[class c%d]\nrecords = d%d/*\nretain = 1 day after "
		                             "created\nthen = destroy\n", i, i);
	p = parse_through_failures(many, &failures);
	cr_expect_eq(p->class_count, 20);
	rfs_policy_free(p);
}

Test(robust, every_allocation_of_a_plan_may_fail)
{
	struct rfs_policy *p = load_anytown();
	static struct rfs_record_facts r[200];
	struct rfs_plan *plan;

	for (int i = 0; i < 200; i++) {
		r[i] = record("tenders/unsuccessful/x", TENDER, D(2000, 1, 1));
	}
	for (long n = 0;; n++) {
		allocations_left = n;
		int rc = rfs_plan_build(p, r, 200, NULL, 0, D(2026, 1, 1), D(2026, 1, 1), false, &plan);
		allocations_left = -1;
		if (rc == 0) {
			cr_expect_eq(plan->count, 200);
			rfs_plan_free(plan);
			break;
		}
		cr_assert_eq(rc, -ENOMEM);
		cr_assert_null(plan);
	}
	rfs_policy_free(p);
}

static uint64_t rng_state = 0x9E3779B97F4A7C15u;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* One random edit: a byte changed, inserted or removed, or a piece of the text repeated. */
static size_t mutate(char *buf, size_t len, size_t cap)
{
	static const char interesting[] = "[]=#@,/*?. \t\n\r\0\xC3\xA9\xFF";
	size_t at = len ? rng() % len : 0;
	char c = rng() % 2 ? interesting[rng() % (sizeof(interesting) - 1)] : (char)rng();

	switch (rng() % 4) {
	case 0:
		if (len)
			buf[at] = c;
		return len;
	case 1:
		if (len + 1 > cap)
			return len;
		memmove(buf + at + 1, buf + at, len - at);
		buf[at] = c;
		return len + 1;
	case 2:
		if (len)
			memmove(buf + at, buf + at + 1, len - at - 1);
		return len ? len - 1 : 0;
	default: {
		size_t from = len ? rng() % len : 0, n = rng() % 40;
		if (from + n > len)
			n = len - from;
		if (len + n > cap)
			return len;
		memmove(buf + at + n, buf + at, len - at);
		memmove(buf + at, buf + (from >= at ? from + n : from), n);
		return len + n;
	}
	}
}

Test(robust, random_edits_of_the_example_are_a_policy_or_errors_with_places)
{
	static char buf[8192];
	size_t loaded = 0, refused = 0;
	const char *paths[] = { "", "cases", "cases/a", "contracts/sealed/b/c", "x/y/z" };

	for (int round = 0; round < 20000; round++) {
		size_t len = strlen(anytown_policy);
		memcpy(buf, anytown_policy, len);
		for (int edits = 1 + (int)(rng() % 8); edits > 0; edits--)
			len = mutate(buf, len, sizeof(buf));
		unsigned lines = 1;
		for (size_t i = 0; i < len; i++)
			lines += buf[i] == '\n';
		struct rfs_policy *p = NULL;
		struct rfs_policy_report r;
		int rc = rfs_policy_parse(buf, len, &p, &r);
		if (rc == 0) {
			loaded++;
			for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
				struct rfs_classification c;
				cr_assert_eq(rfs_classify_path(p, paths[i], strlen(paths[i]), &c), 0);
				cr_assert(c.place != RFS_PLACE_RECORD || c.class_index < p->class_count);
			}
			rfs_policy_free(p);
			continue;
		}
		refused++;
		cr_assert_eq(rc, -EINVAL, "round %d", round);
		cr_assert_null(p);
		cr_assert_gt(r.count, 0, "round %d", round);
		for (size_t i = 0; i < r.count; i++) {
			cr_assert(r.diags[i].line >= 1 && r.diags[i].line <= lines, "round %d", round);
			cr_assert_geq(r.diags[i].column, 1);
			cr_assert_gt(strlen(r.diags[i].message), 10);
		}
	}
	cr_expect_gt(loaded, 100);   /* a comment or an authority edited still loads */
	cr_expect_gt(refused, 10000);
}
