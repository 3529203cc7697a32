/* Unit tests of policy/policy.c: the example loads as written; every error has its line,
** column and message; every branch of the syntax. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/policy.h"
#include "anytown.h"
#include "leak_check.h"

TestSuite(parse, .fini = leak_check);

static struct rfs_policy *load(const char *text)
{
	struct rfs_policy *p = NULL;
	struct rfs_policy_report r;
	int rc = rfs_policy_parse(text, strlen(text), &p, &r);

	cr_assert_eq(rc, 0, "refused (%d): %u:%u %s", rc, r.count ? r.diags[0].line : 0,
	             r.count ? r.diags[0].column : 0, r.count ? r.diags[0].message : "");
	cr_assert_eq(r.count, 0);
	return p;
}

/* text must fail with exactly one error, at line:column, whose message contains want. */
static void expect_error(const char *text, unsigned line, unsigned column, const char *want)
{
	struct rfs_policy *p = (struct rfs_policy *)1;
	struct rfs_policy_report r;
	int rc = rfs_policy_parse(text, strlen(text), &p, &r);

	cr_assert_eq(rc, -EINVAL, "accepted:\n%s", text);
	cr_assert_null(p);
	cr_assert_eq(r.count, 1, "%zu errors for:\n%s\nfirst %u:%u %s", r.count, text,
	             r.diags[0].line, r.diags[0].column, r.diags[0].message);
	cr_expect_eq(r.diags[0].line, line, "line %u, want %u: %s", r.diags[0].line, line,
	             r.diags[0].message);
	cr_expect_eq(r.diags[0].column, column, "column %u, want %u: %s", r.diags[0].column, column,
	             r.diags[0].message);
	cr_expect(strstr(r.diags[0].message, want), "message '%s' lacks '%s'", r.diags[0].message,
	          want);
}

#define CLASS_HEAD "[class c]\nrecords = a/*\nthen = destroy\n"
#define CLASS_HEAD_NO_RECORDS "[class c]\nretain = 1 year after created\nthen = destroy\n"

Test(parse, anytown_example_loads_exactly_as_written)
{
	struct rfs_policy *p = load(anytown_policy);

	cr_expect_str_eq(p->organisation, "Anytown Council");
	cr_expect_str_eq(p->archive, "/srv/records/archive");
	const struct rfs_policy_role_members *rm = &p->roles[RFS_ROLE_RECORDS_MANAGER];
	cr_assert(rm->defined);
	cr_assert_eq(rm->count, 2);
	cr_expect_str_eq(rm->members[0].name, "recordsteam");
	cr_expect(rm->members[0].group);
	cr_expect_str_eq(rm->members[1].name, "jsmith");
	cr_expect_not(rm->members[1].group);
	const struct rfs_policy_role_members *ap = &p->roles[RFS_ROLE_APPROVER];
	cr_assert_eq(ap->count, 1);
	cr_expect_str_eq(ap->members[0].name, "informationgovernance");
	cr_expect(ap->members[0].group);

	cr_assert_eq(p->class_count, 4);
	const struct rfs_policy_class *c = &p->classes[0];
	cr_expect_str_eq(c->name, "adult-social-care-case");
	cr_expect_str_eq(c->records, "cases/*");
	cr_expect_eq(c->retain.count, 8);
	cr_expect_eq(c->retain.unit, RFS_YEARS);
	cr_expect_eq(c->trigger, RFS_TRIGGER_CLOSED);
	cr_expect_null(c->trigger_property);
	cr_expect_eq(c->then, RFS_ACTION_REVIEW);
	cr_expect_eq(c->lock, RFS_LOCK_WHEN_CLOSED);
	cr_expect_str_eq(c->authority,
	                 "NHS Records Management Code of Practice 2021, adult social care records");
	cr_expect_eq(c->line, 9);

	c = &p->classes[1];
	cr_expect_str_eq(c->name, "provider-contract");
	cr_expect_str_eq(c->records, "contracts/*");
	cr_expect_eq(c->retain.count, 6);
	cr_expect_eq(c->trigger, RFS_TRIGGER_PROPERTY);
	cr_expect_str_eq(c->trigger_property, "end");
	cr_expect_eq(c->then, RFS_ACTION_ARCHIVE);
	cr_expect_eq(c->lock, RFS_LOCK_NEVER);
	cr_expect_str_eq(c->authority, "Limitation Act 1980 s.5");

	c = &p->classes[2];
	cr_expect_str_eq(c->name, "contract-under-seal");
	cr_expect_eq(c->retain.count, 12);
	cr_expect_eq(c->then, RFS_ACTION_DESTROY);
	cr_expect_str_eq(c->authority, "Limitation Act 1980 s.8");

	c = &p->classes[3];
	cr_expect_str_eq(c->name, "unsuccessful-tender");
	cr_expect_str_eq(c->records, "tenders/unsuccessful/*");
	cr_expect_eq(c->retain.count, 1);
	cr_expect_eq(c->retain.unit, RFS_YEARS);
	cr_expect_eq(c->trigger, RFS_TRIGGER_CREATED);
	cr_expect_null(c->authority);
	cr_expect_eq(rfs_policy_find_class(p, "contract-under-seal"), &p->classes[2]);
	cr_expect_null(rfs_policy_find_class(p, "deeds"));
	cr_expect_str_eq(rfs_policy_role_name(RFS_ROLE_APPROVER), "approver");
	cr_expect_null(rfs_policy_role_name(RFS_ROLE_COUNT));
	rfs_policy_free(p);
}

/* anytown.conf seeds the fuzzers: it must be the same text as anytown.h. */
Test(parse, the_fuzzers_seed_is_the_example)
{
	static char buf[4096];
	FILE *f = fopen(RECFS_ANYTOWN_CONF, "rb");

	cr_assert_not_null(f, "%s", RECFS_ANYTOWN_CONF);
	size_t n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	cr_assert_eq(n, strlen(anytown_policy));
	cr_assert_eq(memcmp(buf, anytown_policy, n), 0);
}

Test(parse, empty_and_comment_only_policies_load)
{
	struct rfs_policy *p = load("");
	cr_expect_eq(p->class_count, 0);
	cr_expect_null(p->organisation);
	cr_expect_not(p->roles[RFS_ROLE_RECORDS_MANAGER].defined);
	rfs_policy_free(p);
	p = load("# nothing\n   \n\t# still nothing\n#\n");
	cr_expect_eq(p->class_count, 0);
	rfs_policy_free(p);
	rfs_policy_free(NULL);
}

Test(parse, line_ends_blanks_comments_and_byte_order_mark)
{
	struct rfs_policy *p = load("\xEF\xBB\xBF" "organisation=A#1 Council # comment\r\n"
	                            "\t[ class  x ]\t\r\n"
	                            "records=a/*\n"
	                            "  retain =\t3   days\tafter   modified   \n"
	                            "then=destroy\nauthority = s.5#2 # comment\n");
	cr_expect_str_eq(p->organisation, "A#1 Council");  /* '#' after a letter is text */
	cr_assert_eq(p->class_count, 1);
	cr_expect_str_eq(p->classes[0].name, "x");
	cr_expect_eq(p->classes[0].retain.count, 3);
	cr_expect_eq(p->classes[0].retain.unit, RFS_DAYS);
	cr_expect_eq(p->classes[0].trigger, RFS_TRIGGER_MODIFIED);
	cr_expect_str_eq(p->classes[0].authority, "s.5#2");
	rfs_policy_free(p);
	/* no newline at the end, singular units, months */
	p = load("[class x]\nrecords = a/*\nretain = 1 month after closed\nthen = destroy");
	cr_expect_eq(p->classes[0].retain.unit, RFS_MONTHS);
	rfs_policy_free(p);
	p = load("[class x]\nrecords = a/*\nretain = 1 day after closed\nthen = destroy\n"
	         "lock = always\n[class y]\nrecords = b/*\nretain = 2 months after x_y-2\n"
	         "then = destroy\nlock = never\n");
	cr_expect_eq(p->classes[0].retain.unit, RFS_DAYS);
	cr_expect_eq(p->classes[0].lock, RFS_LOCK_ALWAYS);
	cr_expect_eq(p->classes[1].lock, RFS_LOCK_NEVER);
	cr_expect_str_eq(p->classes[1].trigger_property, "x_y-2");
	rfs_policy_free(p);
}

Test(parse, the_syntax_error_of_the_brief)
{
	expect_error(CLASS_HEAD "retain = 8 yeras after closed\n", 4, 12,
	             "unknown unit 'yeras': write days, months or years");
}

Test(parse, unknown_keys_in_each_section)
{
	expect_error("organization = Anytown\n", 1, 1, "unknown key 'organization' at the top");
	expect_error("records = a/*\n", 1, 1, "class keys go under a [class NAME] header");
	expect_error(CLASS_HEAD "retain = 1 year after created\nretian = 1 year after created\n", 5, 1,
	             "unknown key 'retian' in [class c]");
	expect_error("[roles]\nauditor = bob\n", 2, 1, "unknown role 'auditor'");
	expect_error(CLASS_HEAD "retain = 1 year after created\n  Then = review\n", 5, 3,
	             "unknown key 'Then'");
}

Test(parse, missing_keys_are_named_at_the_class_header)
{
	expect_error("[class c]\nrecords = a/*\nthen = destroy\n", 1, 1,
	             "[class c] has no retain");
	expect_error("[class c]\nretain = 1 year after created\nthen = destroy\n", 1, 1,
	             "[class c] has no records");
	expect_error("[class c]\nrecords = a/*\nretain = 1 year after created\n[roles]\n", 1, 1,
	             "[class c] has no then");
	/* all three, each reported, in order, and the next class is checked too */
	struct rfs_policy *p = NULL;
	struct rfs_policy_report r;
	const char *text = "[class c]\n[class d]\nrecords = b/*\n";
	cr_assert_eq(rfs_policy_parse(text, strlen(text), &p, &r), -EINVAL);
	cr_assert_eq(r.count, 5);
	cr_expect(strstr(r.diags[0].message, "[class c] has no records"));
	cr_expect(strstr(r.diags[1].message, "[class c] has no retain"));
	cr_expect(strstr(r.diags[2].message, "[class c] has no then"));
	cr_expect_eq(r.diags[3].line, 2);
	cr_expect(strstr(r.diags[3].message, "[class d] has no retain"));
	cr_expect(strstr(r.diags[4].message, "[class d] has no then"));
}

Test(parse, malformed_periods)
{
	expect_error(CLASS_HEAD "retain = eight years after closed\n", 4, 10,
	             "'eight' is not a number");
	expect_error(CLASS_HEAD "retain = 8\n", 4, 11, "the period has no unit");
	expect_error(CLASS_HEAD "retain = 8years after closed\n", 4, 10, "'8years' is not a number");
	expect_error(CLASS_HEAD "retain = 8 weeks after closed\n", 4, 12, "unknown unit 'weeks'");
	expect_error(CLASS_HEAD "retain = 8 Years after closed\n", 4, 12, "unknown unit 'Years'");
	expect_error(CLASS_HEAD "retain = 8 years\n", 4, 17, "needs 'after TRIGGER'");
	expect_error(CLASS_HEAD "retain = 8 years from closed\n", 4, 18, "expected 'after', not 'from'");
	expect_error(CLASS_HEAD "retain = 8 years after\n", 4, 23, "has no trigger");
	expect_error(CLASS_HEAD "retain = 8 years after Closed\n", 4, 24, "'Closed' is not a trigger");
	expect_error(CLASS_HEAD "retain = 8 years after 1st-contact\n", 4, 24, "is not a trigger");
	expect_error(CLASS_HEAD "retain = 8 years after end.date\n", 4, 24, "is not a trigger");
	expect_error(CLASS_HEAD "retain = 8 years after closed or end\n", 4, 31,
	             "unexpected 'or' after the trigger");
	expect_error(CLASS_HEAD "retain = 8 years after closed#x\n", 4, 24, "is not a trigger");
	expect_error(CLASS_HEAD "retain = 0 days after closed\n", 4, 10, "0 keeps nothing");
	expect_error(CLASS_HEAD "retain = 1001 years after closed\n", 4, 15, "at most 1000 years");
	expect_error(CLASS_HEAD "retain = 12001 months after closed\n", 4, 16, "at most 1000 years");
	expect_error(CLASS_HEAD "retain = 366001 days after closed\n", 4, 17, "at most 1000 years");
	expect_error(CLASS_HEAD "retain = 99999999999999999999999 days after closed\n", 4, 34,
	             "at most 1000 years");
	expect_error(CLASS_HEAD "retain = -1 days after closed\n", 4, 10, "not a number");
	char name[80];
	memset(name, 'p', 65);
	name[65] = '\0';
	char text[200];
	snprintf(text, sizeof(text), CLASS_HEAD "retain = 1 day after %s\n", name);
	expect_error(text, 4, 22, "at most 64");
	/* the limits themselves load */
	struct rfs_policy *p = load(CLASS_HEAD "retain = 1000 years after closed\n");
	rfs_policy_free(p);
	p = load(CLASS_HEAD "retain = 366000 days after closed\n");
	rfs_policy_free(p);
	p = load(CLASS_HEAD "retain = 12000 months after closed\n");
	rfs_policy_free(p);
	p = load(CLASS_HEAD "retain = 007 years after closed\n");
	cr_expect_eq(p->classes[0].retain.count, 7);
	rfs_policy_free(p);
}

Test(parse, unknown_actions_and_lock_values)
{
	expect_error("[class c]\nrecords = a/*\nretain = 1 year after created\nthen = delete\n", 4, 8,
	             "unknown action 'delete': destroy, review or archive");
	expect_error("[class c]\nrecords = a/*\nretain = 1 year after created\nthen = archive\n", 4, 8,
	             "then = archive needs 'archive = FOLDER'");
	struct rfs_policy *p = load("archive = /a\n[class c]\nrecords = a/*\n"
	                            "retain = 1 year after created\nthen = archive\n");
	cr_expect_eq(p->classes[0].then, RFS_ACTION_ARCHIVE);
	rfs_policy_free(p);
	const char *bad_locks[] = { "sometimes", "when", "when open", "when closed now", "Always",
	                            "closed" };
	for (size_t i = 0; i < sizeof(bad_locks) / sizeof(bad_locks[0]); i++) {
		char text[200];
		snprintf(text, sizeof(text), CLASS_HEAD "retain = 1 year after created\nlock = %s\n",
		         bad_locks[i]);
		expect_error(text, 5, 8, "lock is never, when closed or always");
	}
	p = load(CLASS_HEAD "retain = 1 year after created\nlock = when \t closed\n");
	cr_expect_eq(p->classes[0].lock, RFS_LOCK_WHEN_CLOSED);
	rfs_policy_free(p);
}

Test(parse, duplicates)
{
	expect_error(CLASS_HEAD "retain = 1 year after created\n[class c]\nrecords = b/*\n", 5, 8,
	             "class c is defined twice (first at line 1)");
	expect_error(CLASS_HEAD "retain = 1 year after created\nrecords = b/*\n", 5, 1,
	             "records is set twice in [class c] (first at line 2)");
	expect_error("organisation = A\norganisation = B\n", 2, 1,
	             "organisation is set twice (first at line 1)");
	expect_error("archive = /a\narchive = /b\n", 2, 1, "archive is set twice");
	expect_error("[roles]\napprover = a\napprover = b\n", 3, 1,
	             "role approver is given twice (first at line 2)");
	expect_error("[roles]\n[roles]\n", 2, 2, "a second [roles] section (the first is at line 1)");
	expect_error("[roles]\napprover = a, b, a\n", 2, 18, "'a' is named twice");
	/* a user and a group of one name are two members */
	struct rfs_policy *p = load("[roles]\napprover = a, @a\n");
	cr_expect_eq(p->roles[RFS_ROLE_APPROVER].count, 2);
	rfs_policy_free(p);
}

Test(parse, roles_syntax)
{
	expect_error("[roles]\napprover = a,, b\n", 2, 14, "an empty name in the list");
	expect_error("[roles]\napprover = a, b,\n", 2, 17, "an empty name in the list");
	expect_error("[roles]\napprover = , b\n", 2, 12, "an empty name in the list");
	expect_error("[roles]\napprover = @\n", 2, 12, "'@' is not a user or @group name");
	expect_error("[roles]\napprover = @ it\n", 2, 12, "'@ it' is not a user or @group name");
	expect_error("[roles]\napprover = john smith\n", 2, 12, "'john smith' is not a user");
	expect_error("[roles]\napprover = -x\n", 2, 12, "'-x' is not a user");
	expect_error("[roles]\napprover = a;b\n", 2, 12, "'a;b' is not a user");
	expect_error("[roles]\napprover =\n", 2, 10, "approver has no value");
	struct rfs_policy *p = load("[roles]\napprover = J.Smith, svc-backup$, anne@council.example,"
	                            " @info_gov, _x\nrecords-manager = root\n");
	const struct rfs_policy_role_members *ap = &p->roles[RFS_ROLE_APPROVER];
	cr_assert_eq(ap->count, 5);
	cr_expect_str_eq(ap->members[0].name, "J.Smith");
	cr_expect_str_eq(ap->members[1].name, "svc-backup$");
	cr_expect_str_eq(ap->members[2].name, "anne@council.example");
	cr_expect_str_eq(ap->members[3].name, "info_gov");
	cr_expect(ap->members[3].group);
	rfs_policy_free(p);
	expect_error("[roles]\napprover = $\n", 2, 12, "not a user");
}

Test(parse, sections_and_lines)
{
	expect_error("[roles\n", 1, 6, "a section header ends with ']'");
	expect_error("[class]\n", 1, 7, "[class NAME] needs a name");
	expect_error("[class   ]\n", 1, 10, "[class NAME] needs a name");
	expect_error("[classes]\n", 1, 2, "unknown section [classes]");
	expect_error("[]\n", 1, 1, "unknown section []");
	expect_error("[ retention ]\nfoo = bar\n", 1, 3, "unknown section [retention]");
	expect_error("[class two words]\n", 1, 8, "'two words' is not a class name");
	expect_error("[class -x]\n", 1, 8, "is not a class name");
	expect_error("[class a/b]\n", 1, 8, "is not a class name");
	expect_error("organisation\n", 1, 1, "expected KEY = VALUE or a [section] header");
	expect_error("  = x\n", 1, 3, "no key before '='");
	expect_error("organisation = # nothing\n", 1, 14, "organisation has no value");
	expect_error("archive = srv/records\n", 1, 11, "archive is an absolute folder");
	/* keys of a refused section are not reported again */
	expect_error("[retention]\nanything = at all\n", 1, 2, "unknown section");
	expect_error("[class c c]\nanything = at all\n", 1, 8, "'c c' is not a class name");
	expect_error(CLASS_HEAD "retain = 1 year after created\n[class c]\nanything = at all\n", 5, 8,
	             "class c is defined twice");
	/* '=' inside a value belongs to the value */
	struct rfs_policy *p = load("organisation = a = b\n");
	cr_expect_str_eq(p->organisation, "a = b");
	rfs_policy_free(p);
	p = load("[class Deeds_2.0]\nrecords = a/*\nretain = 1 year after created\nthen=destroy\n");
	cr_expect_str_eq(p->classes[0].name, "Deeds_2.0");
	rfs_policy_free(p);
}

Test(parse, records_patterns)
{
	expect_error(CLASS_HEAD_NO_RECORDS "records = /cases/*\n", 4, 11, "no empty level");
	expect_error(CLASS_HEAD_NO_RECORDS "records = cases/\n", 4, 17, "no empty level");
	expect_error(CLASS_HEAD_NO_RECORDS "records = cases//*\n", 4, 17, "no empty level");
	expect_error(CLASS_HEAD_NO_RECORDS "records = cases/**\n", 4, 17, "'**' is not supported");
	expect_error(CLASS_HEAD_NO_RECORDS "records = cases/[ab]*\n", 4, 17, "reserved");
	expect_error(CLASS_HEAD_NO_RECORDS "records = cases/{a,b}\n", 4, 17, "reserved");
	expect_error(CLASS_HEAD_NO_RECORDS "records = cases/a\\*\n", 4, 18, "reserved");
	expect_error(CLASS_HEAD_NO_RECORDS "records = cases/../*\n", 4, 17, "'.' and '..'");
	expect_error(CLASS_HEAD_NO_RECORDS "records = ./*\n", 4, 11, "'.' and '..'");
	expect_error(CLASS_HEAD_NO_RECORDS "records = cases / *\n", 4, 16, "starts or ends with a space");
	expect_error(CLASS_HEAD_NO_RECORDS "records = cases/ *\n", 4, 17, "starts or ends with a space");
	char text[600], level[300];
	memset(level, 'x', 256);
	level[256] = '\0';
	snprintf(text, sizeof(text), CLASS_HEAD_NO_RECORDS "records = a/%s\n", level);
	expect_error(text, 4, 13, "longer than a name can be");
	level[255] = '\0';
	snprintf(text, sizeof(text), CLASS_HEAD_NO_RECORDS "records = a/%s\n", level);
	struct rfs_policy *p = load(text);
	rfs_policy_free(p);
	p = load(CLASS_HEAD_NO_RECORDS "records = Social Care/Case ?? */.hidden*/é\n");
	cr_expect_str_eq(p->classes[0].records, "Social Care/Case ?? */.hidden*/é");
	rfs_policy_free(p);
}

Test(parse, equally_specific_overlapping_patterns_are_an_error)
{
	expect_error("[class a]\nrecords = cases/*\nretain = 1 year after created\nthen = destroy\n"
	             "[class b]\nrecords   = cases/*\nretain = 2 years after created\nthen = destroy\n",
	             6, 13, "records 'cases/*' of class b and 'cases/*' of class a (line 2) are as "
	                    "specific as each other");
	expect_error("[class a]\nrecords = c*/x\nretain = 1 year after created\nthen = destroy\n"
	             "[class b]\nrecords = *c/x\nretain = 2 years after created\nthen = destroy\n",
	             6, 11, "can match the same path");
	expect_error("[class a]\nrecords = cases/*\nretain = 1 year after created\nthen = destroy\n"
	             "[class b]\nrecords = cases/*/*\nretain = 2 years after created\nthen = destroy\n",
	             6, 11, "as specific as each other");
	/* as specific, but no path matches both: fine */
	struct rfs_policy *p = load(
		"[class a]\nrecords = cases/*\nretain = 1 year after created\nthen = destroy\n"
		"[class b]\nrecords = tasks/*\nretain = 2 years after created\nthen = destroy\n"
		"[class c]\nrecords = x/a*b\nretain = 2 years after created\nthen = destroy\n"
		"[class d]\nrecords = x/b*a\nretain = 2 years after created\nthen = destroy\n"
		"[class e]\nrecords = y/*\nretain = 2 years after created\nthen = destroy\n"
		"[class f]\nrecords = .y/*\nretain = 2 years after created\nthen = destroy\n");
	rfs_policy_free(p);
	/* a leading '.' is matched only by a literal '.': *x and .x never meet, but .* and .x do */
	p = load("[class a]\nrecords = z/*x\nretain = 1 year after created\nthen = destroy\n"
	         "[class b]\nrecords = z/.x\nretain = 1 year after created\nthen = destroy\n");
	rfs_policy_free(p);
	expect_error("[class a]\nrecords = z/.*\nretain = 1 year after created\nthen = destroy\n"
	             "[class b]\nrecords = z/?x\nretain = 1 year after created\nthen = destroy\n"
	             "[class c]\nrecords = z/.?\nretain = 1 year after created\nthen = destroy\n",
	             10, 11, "class c and 'z/.*' of class a");
	/* more specific wins, so no error */
	p = load(anytown_policy);
	rfs_policy_free(p);
}

Test(parse, bytes_that_are_not_plain_text)
{
	expect_error("organisation = A\x01" "B\n", 1, 17, "control character 0x01");
	expect_error("organisation = A\x7F\n", 1, 17, "control character 0x7F");
	expect_error("organisation = A\rB\n", 1, 17, "control character 0x0D");
	expect_error("organisation = \xC3\xA9\xFF\n", 1, 17, "invalid UTF-8 (byte 0xFF)");
	expect_error("organisation = \xC0\xAF\n", 1, 16, "invalid UTF-8 (byte 0xC0)");
	expect_error("organisation = \xED\xA0\x80\n", 1, 16, "invalid UTF-8 (byte 0xED)");
	expect_error("organisation = \xF4\x90\x80\x80\n", 1, 16, "invalid UTF-8");
	expect_error("organisation = \xE2\x82\n", 1, 16, "invalid UTF-8");
	expect_error("organisation = \xE2\x82x\n", 1, 16, "invalid UTF-8");
	/* columns count characters, not bytes */
	expect_error("organisation = Ærø\nx\n", 2, 1, "expected KEY = VALUE");
	expect_error("[class ø]\nrecords = ø/*\nretain = 1 yéar after closed\nthen = destroy\n", 1, 8,
	             "not a class name");
	expect_error(CLASS_HEAD "retain = 1 yéar after closed\n", 4, 12, "unknown unit 'yéar'");
	const char with_nul[] = "organisation = A\0B\n";
	struct rfs_policy *p = NULL;
	struct rfs_policy_report r;
	cr_assert_eq(rfs_policy_parse(with_nul, sizeof(with_nul) - 1, &p, &r), -EINVAL);
	cr_expect_eq(r.diags[0].column, 17);
	cr_expect(strstr(r.diags[0].message, "control character 0x00"));
}

Test(parse, every_error_is_reported_with_its_place)
{
	const char *text = "organisation\n"
	                   "[class a]\n"
	                   "records = a/*\n"
	                   "retain = 8 yeras after closed\n"
	                   "then = delete\n"
	                   "lock = sometimes\n"
	                   "[class b]\n"
	                   "retain = 1 year after created\n";
	struct rfs_policy *p = NULL;
	struct rfs_policy_report r;
	cr_assert_eq(rfs_policy_parse(text, strlen(text), &p, &r), -EINVAL);
	cr_assert_null(p);
	cr_assert_eq(r.count, 6);
	unsigned want[6][2] = { { 1, 1 }, { 4, 12 }, { 5, 8 }, { 6, 8 }, { 7, 1 }, { 7, 1 } };
	for (size_t i = 0; i < 6; i++) {
		cr_expect_eq(r.diags[i].line, want[i][0], "diag %zu: %u:%u %s", i, r.diags[i].line,
		             r.diags[i].column, r.diags[i].message);
		cr_expect_eq(r.diags[i].column, want[i][1], "diag %zu", i);
	}
	cr_expect_not(r.truncated);
	/* a class's missing key is found at its end, and reported in line order */
	text = "[class a]\nrecords = a/*\nretain = 8 yeras after closed\nlock = sometimes\n";
	cr_assert_eq(rfs_policy_parse(text, strlen(text), &p, &r), -EINVAL);
	cr_assert_eq(r.count, 3);
	cr_expect_eq(r.diags[0].line, 1);
	cr_expect(strstr(r.diags[0].message, "has no then"));
	cr_expect_eq(r.diags[1].line, 3);
	cr_expect_eq(r.diags[2].line, 4);
	text = "[class a]\nrecords = a/*\nretain = 8 yeras after closed\nlock = sometimes\n"
	       "[class b]\nretain = 1 day after created\nnonsense\n";
	cr_assert_eq(rfs_policy_parse(text, strlen(text), &p, &r), -EINVAL);
	cr_assert_eq(r.count, 6);
	unsigned order[6][2] = { { 1, 1 }, { 3, 12 }, { 4, 8 }, { 5, 1 }, { 5, 1 }, { 7, 1 } };
	for (size_t i = 0; i < 6; i++) {
		cr_expect_eq(r.diags[i].line, order[i][0], "diag %zu: %u:%u %s", i, r.diags[i].line,
		             r.diags[i].column, r.diags[i].message);
		cr_expect_eq(r.diags[i].column, order[i][1], "diag %zu", i);
	}
	cr_expect(strstr(r.diags[3].message, "[class b] has no records"));
	cr_expect(strstr(r.diags[4].message, "[class b] has no then"));
}

Test(parse, too_many_errors_are_truncated_and_long_values_quoted_short)
{
	char text[4096] = "";
	for (int i = 0; i < 40; i++)
		strcat(text, "nonsense\n");
	struct rfs_policy *p = NULL;
	struct rfs_policy_report r;
	cr_assert_eq(rfs_policy_parse(text, strlen(text), &p, &r), -EINVAL);
	cr_expect_eq(r.count, RFS_POLICY_MAX_DIAGS);
	cr_expect(r.truncated);
	/* a report is optional */
	cr_expect_eq(rfs_policy_parse(text, strlen(text), &p, NULL), -EINVAL);
	/* a quoted value is cut at 60 bytes, on a character boundary */
	char longkey[300] = "x";  /* so byte 60 falls inside a character */
	for (int i = 0; i < 40; i++)
		strcat(longkey, "é");
	strcat(longkey, " = 1\n");
	cr_assert_eq(rfs_policy_parse(longkey, strlen(longkey), &p, &r), -EINVAL);
	char want[80] = "'x";  /* 1 + 29 * 2 = 59 bytes: the 30th character would cross 60 */
	for (int i = 0; i < 29; i++)
		strcat(want, "é");
	strcat(want, "'");
	cr_expect(strstr(r.diags[0].message, want), "%s", r.diags[0].message);
}

Test(parse, size_limit)
{
	size_t n = RFS_POLICY_MAX_TEXT + 1;
	char *big = malloc(n);
	struct rfs_policy *p = NULL;
	struct rfs_policy_report r;

	cr_assert_not_null(big);
	memset(big, '\n', n);
	cr_expect_eq(rfs_policy_parse(big, n, &p, &r), -EFBIG);
	cr_expect_null(p);
	cr_expect_eq(r.count, 1);
	cr_expect_eq(rfs_policy_parse(big, n - 1, &p, &r), 0);
	cr_expect_eq(p->class_count, 0);
	rfs_policy_free(p);
	free(big);
}

Test(parse, many_classes)
{
	char *text = malloc(200 * 100);
	size_t len = 0;
	for (int i = 0; i < 200; i++)
		len += (size_t)sprintf(text + len, "[class c%d]\nrecords = d%d/*\nretain = %d days after "
		                                   "created\nthen = destroy\n", i, i, i + 1);
	struct rfs_policy *p = NULL;
	cr_assert_eq(rfs_policy_parse(text, len, &p, NULL), 0);
	cr_expect_eq(p->class_count, 200);
	cr_expect_str_eq(p->classes[199].name, "c199");
	cr_expect_eq(p->classes[199].retain.count, 200);
	rfs_policy_free(p);
	free(text);
}
