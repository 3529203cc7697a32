/* Shared by the holds and plan tests: the Anytown policy and record facts made up by hand. */
#ifndef RECFS_TEST_POLICY_FIXTURE_H
#define RECFS_TEST_POLICY_FIXTURE_H

#include <criterion/criterion.h>
#include <string.h>

#include "policy/policy.h"
#include "anytown.h"

enum { CASE, CONTRACT, SEALED, TENDER };  /* class indexes of the Anytown policy */

static inline struct rfs_date D(int y, int m, int d)
{
	return (struct rfs_date){ y, m, d };
}

static inline struct rfs_policy *load(const char *text)
{
	struct rfs_policy *p = NULL;

	cr_assert_eq(rfs_policy_parse(text, strlen(text), &p, NULL), 0);
	return p;
}

static inline struct rfs_policy *load_anytown(void)
{
	return load(anytown_policy);
}

static inline struct rfs_record_facts record(const char *path, size_t class_index,
                                             struct rfs_date created)
{
	return (struct rfs_record_facts){ .path = path, .class_index = class_index,
	                                  .created = created, .modified = created };
}

#endif
