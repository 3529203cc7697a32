/* Unit tests of policy/plan: what is due as of a day, held records kept, reviews awaiting an
** approver, archives first, and never a disposal as of a day other than today. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "fixture.h"
#include "leak_check.h"

TestSuite(plan, .fini = leak_check);

#define TODAY D(2026, 12, 1)

static const char *const held_paths[] = { "cases/held" };

/* The walk of issue 11: closed and held cases, a moratorium, ended contracts, tenders. */
struct scene {
	struct rfs_record_property ended7, ended5, sealed_end;
	struct rfs_record_facts r[10];
	struct rfs_hold holds[2];
};

static void make_scene(struct scene *s)
{
	s->ended7 = (struct rfs_record_property){ "end", D(2019, 11, 30) };
	s->ended5 = (struct rfs_record_property){ "end", D(2021, 12, 1) };
	s->sealed_end = (struct rfs_record_property){ "end", D(2014, 12, 1) };
	s->r[0] = record("cases/closed-9y", CASE, D(2008, 3, 1));
	s->r[0].closed = D(2017, 11, 1);
	s->r[1] = s->r[0];
	s->r[1].path = "cases/closed-9y-approved";
	s->r[1].approved = true;
	s->r[2] = s->r[0];
	s->r[2].path = "cases/held";
	s->r[3] = record("cases/moratorium", CASE, D(1995, 6, 1));
	s->r[3].closed = D(2010, 1, 1);
	s->r[4] = record("cases/open", CASE, D(2020, 1, 1));                    /* no trigger date */
	s->r[5] = record("contracts/ended-7y", CONTRACT, D(2012, 1, 1));
	s->r[5].properties = &s->ended7;
	s->r[5].property_count = 1;
	s->r[6] = record("contracts/ended-5y", CONTRACT, D(2016, 1, 1));
	s->r[6].properties = &s->ended5;
	s->r[6].property_count = 1;
	s->r[7] = record("contracts/sealed/lease", SEALED, D(1990, 1, 1));
	s->r[7].properties = &s->sealed_end;
	s->r[7].property_count = 1;
	s->r[8] = record("tenders/unsuccessful/due-today", TENDER, D(2025, 12, 1));
	s->r[9] = record("tenders/unsuccessful/due-tomorrow", TENDER, D(2025, 12, 2));
	s->holds[0] = (struct rfs_hold){ .name = "complaint", .scope = RFS_HOLD_RECORDS,
	                                 .records = held_paths, .record_count = 1,
	                                 .placed = D(2024, 1, 1) };
	s->holds[1] = (struct rfs_hold){ .name = "iicsa", .scope = RFS_HOLD_CLASS,
	                                 .class_name = "adult-social-care-case",
	                                 .created_from = D(1990, 1, 1), .created_to = D(2000, 12, 31),
	                                 .placed = D(2015, 7, 9) };
}

static void expect_entry(const struct rfs_plan *plan, size_t i, size_t record,
                         enum rfs_plan_step step, struct rfs_date due)
{
	cr_assert_lt(i, plan->count);
	cr_expect_eq(plan->entries[i].record, record, "entry %zu: record %zu, want %zu", i,
	             plan->entries[i].record, record);
	cr_expect_eq(plan->entries[i].step, step, "entry %zu: step %d, want %d", i,
	             plan->entries[i].step, step);
	cr_expect_eq(rfs_date_cmp(plan->entries[i].due, due), 0, "entry %zu: due %d-%d-%d", i,
	             plan->entries[i].due.year, plan->entries[i].due.month, plan->entries[i].due.day);
}

Test(plan, the_anytown_walk_as_of_today)
{
	struct rfs_policy *p = load_anytown();
	struct scene s;
	struct rfs_plan *plan;

	make_scene(&s);
	cr_assert_eq(rfs_plan_build(p, s.r, 10, s.holds, 2, TODAY, TODAY, false, &plan), 0);
	cr_expect_not(plan->preview);
	cr_expect_eq(rfs_date_cmp(plan->as_of, TODAY), 0);
	cr_assert_eq(plan->count, 7);
	expect_entry(plan, 0, 0, RFS_STEP_AWAIT_APPROVAL, D(2025, 11, 1));
	cr_expect_eq(rfs_date_cmp(plan->entries[0].trigger, D(2017, 11, 1)), 0);
	expect_entry(plan, 1, 1, RFS_STEP_DESTROY, D(2025, 11, 1));
	expect_entry(plan, 2, 2, RFS_STEP_HELD, D(2025, 11, 1));
	cr_expect_eq(plan->entries[2].hold, 0);
	expect_entry(plan, 3, 3, RFS_STEP_HELD, D(2018, 1, 1));
	cr_expect_eq(plan->entries[3].hold, 1);
	expect_entry(plan, 4, 5, RFS_STEP_ARCHIVE_THEN_DESTROY, D(2025, 11, 30));
	cr_expect_eq(rfs_date_cmp(plan->entries[4].trigger, D(2019, 11, 30)), 0);
	expect_entry(plan, 5, 7, RFS_STEP_DESTROY, D(2026, 12, 1));   /* due today: due */
	expect_entry(plan, 6, 8, RFS_STEP_DESTROY, D(2026, 12, 1));
	rfs_plan_free(plan);
	rfs_policy_free(p);
}

Test(plan, previews_of_other_days_are_never_disposals)
{
	struct rfs_policy *p = load_anytown();
	struct scene s;
	struct rfs_plan *plan = (struct rfs_plan *)1;

	make_scene(&s);
	cr_expect_eq(rfs_plan_build(p, s.r, 10, s.holds, 2, D(2026, 12, 2), TODAY, false, &plan),
	             -EINVAL);
	cr_expect_null(plan);
	cr_expect_eq(rfs_plan_build(p, s.r, 10, s.holds, 2, D(2026, 11, 30), TODAY, false, &plan),
	             -EINVAL);
	/* tomorrow, as a preview: the tender due tomorrow joins */
	cr_assert_eq(rfs_plan_build(p, s.r, 10, s.holds, 2, D(2026, 12, 2), TODAY, true, &plan), 0);
	cr_expect(plan->preview);
	cr_expect_eq(plan->count, 8);
	expect_entry(plan, 7, 9, RFS_STEP_DESTROY, D(2026, 12, 2));
	rfs_plan_free(plan);
	/* a preview of today is no preview */
	cr_assert_eq(rfs_plan_build(p, s.r, 10, s.holds, 2, TODAY, TODAY, true, &plan), 0);
	cr_expect_not(plan->preview);
	rfs_plan_free(plan);
	/* in 2028 the 5-year contract is due too; the hold ending in 2027 no longer holds */
	s.holds[0].until = D(2027, 6, 30);
	cr_assert_eq(rfs_plan_build(p, s.r, 10, s.holds, 2, D(2028, 1, 1), TODAY, true, &plan), 0);
	cr_expect_eq(plan->count, 9);
	expect_entry(plan, 2, 2, RFS_STEP_AWAIT_APPROVAL, D(2025, 11, 1));
	expect_entry(plan, 5, 6, RFS_STEP_ARCHIVE_THEN_DESTROY, D(2027, 12, 1));
	rfs_plan_free(plan);
	/* in the past, before the moratorium was placed, the moratorium case was not held */
	s.holds[1].placed = D(2020, 1, 1);
	cr_assert_eq(rfs_plan_build(p, s.r, 10, s.holds, 2, D(2018, 6, 1), TODAY, true, &plan), 0);
	cr_expect_eq(plan->count, 1);
	expect_entry(plan, 0, 3, RFS_STEP_AWAIT_APPROVAL, D(2018, 1, 1));
	rfs_plan_free(plan);
	rfs_policy_free(p);
}

Test(plan, bad_input_gives_no_plan)
{
	struct rfs_policy *p = load_anytown();
	struct scene s;
	struct rfs_plan *plan = (struct rfs_plan *)1;

	make_scene(&s);
	cr_expect_eq(rfs_plan_build(p, s.r, 10, s.holds, 2, D(2026, 2, 29), D(2026, 2, 29), true,
	                            &plan), -EINVAL);
	cr_expect_null(plan);
	cr_expect_eq(rfs_plan_build(p, s.r, 10, s.holds, 2, TODAY, RFS_DATE_NONE, true, &plan),
	             -EINVAL);
	s.r[4].class_index = 99;
	cr_expect_eq(rfs_plan_build(p, s.r, 10, s.holds, 2, TODAY, TODAY, false, &plan), -EINVAL);
	s.r[4].class_index = CASE;
	s.r[0].path = NULL;
	cr_expect_eq(rfs_plan_build(p, s.r, 10, s.holds, 2, TODAY, TODAY, false, &plan), -EINVAL);
	s.r[0].path = "cases/a";
	s.holds[1].created_to = RFS_DATE_NONE;
	cr_expect_eq(rfs_plan_build(p, s.r, 10, s.holds, 2, TODAY, TODAY, false, &plan), -EINVAL);
	cr_expect_null(plan);
	/* a due date past 9999 is never due, and not listed */
	s.holds[1].created_to = D(2000, 12, 31);
	s.r[8].created = D(9999, 6, 1);
	cr_assert_eq(rfs_plan_build(p, s.r, 10, s.holds, 2, TODAY, TODAY, false, &plan), 0);
	cr_expect_eq(plan->count, 6);
	rfs_plan_free(plan);
	/* nothing to plan is an empty plan */
	cr_assert_eq(rfs_plan_build(p, NULL, 0, NULL, 0, TODAY, TODAY, false, &plan), 0);
	cr_expect_eq(plan->count, 0);
	rfs_plan_free(plan);
	rfs_plan_free(NULL);
	rfs_policy_free(p);
}

Test(plan, a_hundred_thousand_records)
{
	struct rfs_policy *p = load_anytown();
	size_t n = 100000;
	struct rfs_record_facts *r = calloc(n, sizeof(*r));
	char (*paths)[32] = calloc(n, 32);
	struct rfs_plan *plan;
	struct scene s;

	make_scene(&s);
	cr_assert(r && paths);
	for (size_t i = 0; i < n; i++) {
		snprintf(paths[i], 32, "cases/c%zu", i);
		r[i] = record(paths[i], CASE, D(1980 + (int)(i % 40), 1 + (int)(i % 12), 1));
		r[i].closed = D(2000 + (int)(i % 26), 1 + (int)(i % 12), 1 + (int)(i % 28));
	}
	cr_assert_eq(rfs_plan_build(p, r, n, s.holds, 2, TODAY, TODAY, false, &plan), 0);
	size_t due = 0, held = 0;
	for (size_t i = 0; i < n; i++) {
		struct rfs_date d;
		cr_assert_eq(rfs_holds_record_due(p, &r[i], &d), 0);
		if (rfs_date_cmp(d, TODAY) <= 0) {
			due++;
			held += r[i].created.year >= 1990 && r[i].created.year <= 2000;
		}
	}
	cr_expect_eq(plan->count, due);
	size_t held_in_plan = 0;
	for (size_t i = 0; i < plan->count; i++)
		held_in_plan += plan->entries[i].step == RFS_STEP_HELD;
	cr_expect_eq(held_in_plan, held);
	rfs_plan_free(plan);
	free(paths);
	free(r);
	rfs_policy_free(p);
}
