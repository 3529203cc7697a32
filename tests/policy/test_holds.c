/* Unit tests of policy/holds: holds by record, by class, by creation range, with until and
** release; locks; trigger and due dates, "no trigger date". */
#include <errno.h>

#include "fixture.h"
#include "leak_check.h"

TestSuite(holds, .fini = leak_check);

static const char *const smith[] = { "cases/smith", "cases/jones" };

Test(holds, a_hold_on_named_records)
{
	struct rfs_policy *p = load_anytown();
	struct rfs_record_facts a = record("cases/smith", CASE, D(2010, 1, 1));
	struct rfs_record_facts b = record("cases/brown", CASE, D(2010, 1, 1));
	struct rfs_record_facts c = record("cases/smith/x", CASE, D(2010, 1, 1));
	struct rfs_hold h = { .name = "complaint-17", .scope = RFS_HOLD_RECORDS, .records = smith,
	                      .record_count = 2, .placed = D(2020, 5, 1) };

	cr_expect_eq(rfs_holds_record_held(p, &a, &h, 1, D(2020, 5, 1)), 0);   /* from the day placed */
	cr_expect_eq(rfs_holds_record_held(p, &a, &h, 1, D(2030, 1, 1)), 0);   /* no until: for ever */
	cr_expect_eq(rfs_holds_record_held(p, &a, &h, 1, D(2020, 4, 30)), -ENOENT);
	cr_expect_eq(rfs_holds_record_held(p, &b, &h, 1, D(2021, 1, 1)), -ENOENT);
	cr_expect_eq(rfs_holds_record_held(p, &c, &h, 1, D(2021, 1, 1)), -ENOENT);  /* exact record path */
	/* until is the last day held; released is the first day free */
	h.until = D(2022, 12, 31);
	cr_expect_eq(rfs_holds_record_held(p, &a, &h, 1, D(2022, 12, 31)), 0);
	cr_expect_eq(rfs_holds_record_held(p, &a, &h, 1, D(2023, 1, 1)), -ENOENT);
	h.released = D(2021, 6, 1);
	cr_expect_eq(rfs_holds_record_held(p, &a, &h, 1, D(2021, 5, 31)), 0);
	cr_expect_eq(rfs_holds_record_held(p, &a, &h, 1, D(2021, 6, 1)), -ENOENT);
	/* no placed day: held on any day before release */
	h.placed = RFS_DATE_NONE;
	cr_expect_eq(rfs_holds_record_held(p, &a, &h, 1, D(1990, 1, 1)), 0);
	rfs_policy_free(p);
}

Test(holds, a_class_moratorium_with_a_creation_range)
{
	struct rfs_policy *p = load_anytown();
	struct rfs_hold holds[2] = {
		{ .name = "other", .scope = RFS_HOLD_RECORDS, .records = smith, .record_count = 1 },
		{ .name = "iicsa", .authority = "IICSA chair's direction", .scope = RFS_HOLD_CLASS,
		  .class_name = "adult-social-care-case", .created_from = D(1990, 1, 1),
		  .created_to = D(2005, 12, 31), .placed = D(2015, 7, 9) },
	};
	struct rfs_record_facts in = record("cases/a", CASE, D(1990, 1, 1));
	struct rfs_record_facts last = record("cases/b", CASE, D(2005, 12, 31));
	struct rfs_record_facts after = record("cases/c", CASE, D(2006, 1, 1));
	struct rfs_record_facts before = record("cases/d", CASE, D(1989, 12, 31));
	struct rfs_record_facts unknown = record("cases/e", CASE, RFS_DATE_NONE);
	struct rfs_record_facts contract = record("contracts/f", CONTRACT, D(2000, 1, 1));

	cr_expect_eq(rfs_holds_record_held(p, &in, holds, 2, D(2016, 1, 1)), 1);
	cr_expect_eq(rfs_holds_record_held(p, &last, holds, 2, D(2016, 1, 1)), 1);
	cr_expect_eq(rfs_holds_record_held(p, &after, holds, 2, D(2016, 1, 1)), -ENOENT);
	cr_expect_eq(rfs_holds_record_held(p, &before, holds, 2, D(2016, 1, 1)), -ENOENT);
	cr_expect_eq(rfs_holds_record_held(p, &unknown, holds, 2, D(2016, 1, 1)), 1);  /* unknown: held */
	cr_expect_eq(rfs_holds_record_held(p, &contract, holds, 2, D(2016, 1, 1)), -ENOENT);
	cr_expect_eq(rfs_holds_record_held(p, &in, holds, 2, D(2015, 7, 8)), -ENOENT);
	/* without a range the whole class is held */
	holds[1].created_from = holds[1].created_to = RFS_DATE_NONE;
	cr_expect_eq(rfs_holds_record_held(p, &after, holds, 2, D(2016, 1, 1)), 1);
	/* the first hold in force is named */
	struct rfs_record_facts s = record("cases/smith", CASE, D(2000, 1, 1));
	cr_expect_eq(rfs_holds_record_held(p, &s, holds, 2, D(2016, 1, 1)), 0);
	cr_expect_eq(rfs_holds_record_held(p, &s, holds, 0, D(2016, 1, 1)), -ENOENT);
	rfs_policy_free(p);
}

Test(holds, malformed_holds_and_facts_are_refused)
{
	struct rfs_policy *p = load_anytown();
	struct rfs_record_facts r = record("cases/a", CASE, D(2000, 1, 1));
	struct rfs_hold h = { .name = "x", .scope = RFS_HOLD_CLASS, .class_name = "deeds" };

	cr_expect_eq(rfs_holds_record_held(p, &r, &h, 1, D(2016, 1, 1)), -ENOENT);  /* unknown class */
	h.created_from = D(2001, 1, 1);
	cr_expect_eq(rfs_holds_record_held(p, &r, &h, 1, D(2016, 1, 1)), -EINVAL);  /* half a range */
	h.created_to = D(2000, 12, 31);
	cr_expect_eq(rfs_holds_record_held(p, &r, &h, 1, D(2016, 1, 1)), -EINVAL);  /* from > to */
	h.created_to = D(2001, 1, 1);
	cr_expect_eq(rfs_holds_record_held(p, &r, &h, 1, D(2016, 1, 1)), -ENOENT);
	h.until = D(2023, 2, 29);
	cr_expect_eq(rfs_holds_record_held(p, &r, &h, 1, D(2016, 1, 1)), -EINVAL);
	h.until = RFS_DATE_NONE;
	h.class_name = NULL;
	cr_expect_eq(rfs_holds_record_held(p, &r, &h, 1, D(2016, 1, 1)), -EINVAL);
	h.scope = (enum rfs_hold_scope)9;
	cr_expect_eq(rfs_holds_record_held(p, &r, &h, 1, D(2016, 1, 1)), -EINVAL);
	h.scope = RFS_HOLD_CLASS;
	h.class_name = "deeds";
	struct rfs_date bad_day = D(2021, 2, 29);
	struct rfs_date *fields[] = { &h.placed, &h.until, &h.released, &h.created_from,
	                              &h.created_to };
	for (size_t i = 0; i < 5; i++) {
		struct rfs_date keep = *fields[i];
		*fields[i] = bad_day;
		cr_expect_eq(rfs_holds_record_held(p, &r, &h, 1, D(2016, 1, 1)), -EINVAL, "field %zu", i);
		*fields[i] = keep;
	}
	struct rfs_date *facts[] = { &r.created, &r.modified, &r.closed, &r.extended_until };
	for (size_t i = 0; i < 4; i++) {
		struct rfs_date keep = *facts[i];
		*facts[i] = bad_day;
		cr_expect_eq(rfs_holds_record_held(p, &r, &h, 1, D(2016, 1, 1)), -EINVAL, "fact %zu", i);
		*facts[i] = keep;
	}
	struct rfs_record_property bad_date = { "end", bad_day };
	r.properties = &bad_date;
	r.property_count = 1;
	cr_expect_eq(rfs_holds_record_locked(p, &r, D(2016, 1, 1)), -EINVAL);
	r.properties = NULL;
	r.property_count = 0;
	/* a NULL entry among named records is skipped */
	const char *with_null[] = { NULL, "cases/a" };
	struct rfs_hold named = { .name = "n", .scope = RFS_HOLD_RECORDS, .records = with_null,
	                          .record_count = 2 };
	cr_expect_eq(rfs_holds_record_held(p, &r, &named, 1, D(2016, 1, 1)), 0);
	struct rfs_hold none = { .name = "y", .scope = RFS_HOLD_RECORDS, .record_count = 1 };
	cr_expect_eq(rfs_holds_record_held(p, &r, &none, 1, D(2016, 1, 1)), -EINVAL);
	cr_expect_eq(rfs_holds_record_held(p, &r, NULL, 0, D(2016, 2, 30)), -EINVAL);
	r.class_index = 4;
	cr_expect_eq(rfs_holds_record_held(p, &r, NULL, 0, D(2016, 1, 1)), -EINVAL);
	r.class_index = CASE;
	r.closed = D(2020, 13, 1);
	cr_expect_eq(rfs_holds_record_held(p, &r, NULL, 0, D(2016, 1, 1)), -EINVAL);
	cr_expect_eq(rfs_holds_record_locked(p, &r, D(2016, 1, 1)), -EINVAL);
	r.closed = RFS_DATE_NONE;
	r.path = NULL;
	cr_expect_eq(rfs_holds_record_held(p, &r, NULL, 0, D(2016, 1, 1)), -EINVAL);
	struct rfs_record_property bad = { NULL, D(2020, 1, 1) };
	r.path = "cases/a";
	r.properties = &bad;
	r.property_count = 1;
	struct rfs_date due;
	cr_expect_eq(rfs_holds_record_due(p, &r, &due), -EINVAL);
	rfs_policy_free(p);
}

Test(holds, locks_follow_the_class_rule_and_the_closed_event)
{
	struct rfs_policy *p = load("[class open]\nrecords = a/*\nretain = 1 year after created\n"
	                            "then = destroy\n"
	                            "[class shut]\nrecords = b/*\nretain = 1 year after created\n"
	                            "then = destroy\nlock = always\n"
	                            "[class when]\nrecords = c/*\nretain = 1 year after closed\n"
	                            "then = destroy\nlock = when closed\n");
	struct rfs_record_facts a = record("a/1", 0, D(2000, 1, 1));
	struct rfs_record_facts b = record("b/1", 1, D(2000, 1, 1));
	struct rfs_record_facts c = record("c/1", 2, D(2000, 1, 1));

	a.closed = D(2001, 1, 1);
	cr_expect_eq(rfs_holds_record_locked(p, &a, D(2020, 1, 1)), 0);   /* never, even closed */
	cr_expect_eq(rfs_holds_record_locked(p, &b, D(2000, 1, 1)), 1);
	cr_expect_eq(rfs_holds_record_locked(p, &c, D(2020, 1, 1)), 0);   /* not closed */
	c.closed = D(2019, 3, 4);
	cr_expect_eq(rfs_holds_record_locked(p, &c, D(2019, 3, 3)), 0);
	cr_expect_eq(rfs_holds_record_locked(p, &c, D(2019, 3, 4)), 1);   /* from the closing day */
	cr_expect_eq(rfs_holds_record_locked(p, &c, D(2030, 1, 1)), 1);
	cr_expect_eq(rfs_holds_record_locked(p, &c, RFS_DATE_NONE), -EINVAL);
	rfs_policy_free(p);
}

Test(holds, triggers_and_due_dates)
{
	struct rfs_policy *p = load_anytown();
	struct rfs_date t, due;
	struct rfs_record_property end = { "end", D(2017, 8, 31) };
	struct rfs_record_property other = { "start", D(2010, 8, 31) };
	struct rfs_record_property both[2] = { other, end };

	struct rfs_record_facts kase = record("cases/a", CASE, D(2001, 1, 1));
	cr_expect_eq(rfs_holds_record_due(p, &kase, &due), 0);
	cr_expect_not(rfs_date_is_set(due));                /* not closed: no trigger date */
	kase.closed = D(2016, 2, 29);
	cr_expect_eq(rfs_holds_record_trigger(p, &kase, &t), 0);
	cr_expect_eq(rfs_date_cmp(t, D(2016, 2, 29)), 0);
	cr_expect_eq(rfs_holds_record_due(p, &kase, &due), 0);
	cr_expect_eq(rfs_date_cmp(due, D(2024, 2, 29)), 0);  /* 8 years: a leap year again */
	/* a review that extends moves the due date, never earlier */
	kase.extended_until = D(2026, 1, 1);
	cr_expect_eq(rfs_holds_record_due(p, &kase, &due), 0);
	cr_expect_eq(rfs_date_cmp(due, D(2026, 1, 1)), 0);
	kase.extended_until = D(2020, 1, 1);
	cr_expect_eq(rfs_holds_record_due(p, &kase, &due), 0);
	cr_expect_eq(rfs_date_cmp(due, D(2024, 2, 29)), 0);

	struct rfs_record_facts contract = record("contracts/a", CONTRACT, D(2010, 1, 1));
	cr_expect_eq(rfs_holds_record_due(p, &contract, &due), 0);
	cr_expect_not(rfs_date_is_set(due));                /* no 'end' property */
	contract.properties = &other;
	contract.property_count = 1;
	cr_expect_eq(rfs_holds_record_due(p, &contract, &due), 0);
	cr_expect_not(rfs_date_is_set(due));                /* another property is no trigger */
	contract.properties = both;
	contract.property_count = 2;
	cr_expect_eq(rfs_holds_record_due(p, &contract, &due), 0);
	cr_expect_eq(rfs_date_cmp(due, D(2023, 8, 31)), 0);

	struct rfs_record_facts tender = record("tenders/unsuccessful/a", TENDER, D(2024, 2, 29));
	cr_expect_eq(rfs_holds_record_due(p, &tender, &due), 0);
	cr_expect_eq(rfs_date_cmp(due, D(2025, 2, 28)), 0);
	/* a due date past 9999 is never */
	tender.created = D(9999, 1, 1);
	cr_expect_eq(rfs_holds_record_due(p, &tender, &due), -ERANGE);
	cr_expect_not(rfs_date_is_set(due));
	rfs_policy_free(p);

	p = load("[class m]\nrecords = a/*\nretain = 18 months after modified\nthen = destroy\n");
	struct rfs_record_facts m = record("a/1", 0, D(2020, 1, 1));
	m.modified = D(2022, 8, 31);
	cr_expect_eq(rfs_holds_record_due(p, &m, &due), 0);
	cr_expect_eq(rfs_date_cmp(due, D(2024, 2, 29)), 0);
	rfs_policy_free(p);
}
