/* Unit tests of policy/classify: the record of a path, the most specific pattern winning,
** containers, unclassified paths, wildcards and hidden names. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "policy/policy.h"
#include "anytown.h"
#include "leak_check.h"

TestSuite(classify, .fini = leak_check);

static struct rfs_policy *load(const char *text)
{
	struct rfs_policy *p = NULL;
	struct rfs_policy_report r;

	cr_assert_eq(rfs_policy_parse(text, strlen(text), &p, &r), 0, "%u:%u %s",
	             r.count ? r.diags[0].line : 0, r.count ? r.diags[0].column : 0,
	             r.count ? r.diags[0].message : "");
	return p;
}

/* path is in a record of class want_class whose path is want_record. */
static void expect_record(const struct rfs_policy *p, const char *path, const char *want_class,
                          const char *want_record)
{
	struct rfs_classification c;

	cr_assert_eq(rfs_classify_path(p, path, strlen(path), &c), 0, "%s", path);
	cr_assert_eq(c.place, RFS_PLACE_RECORD, "%s: place %d", path, c.place);
	cr_expect_str_eq(p->classes[c.class_index].name, want_class, "%s", path);
	cr_expect_eq(c.record_len, strlen(want_record), "%s: record '%.*s'", path,
	             (int)c.record_len, path);
	cr_expect_eq(strncmp(path, want_record, c.record_len), 0, "%s", path);
}

static void expect_place(const struct rfs_policy *p, const char *path, enum rfs_place want)
{
	struct rfs_classification c;

	cr_assert_eq(rfs_classify_path(p, path, strlen(path), &c), 0, "%s", path);
	cr_expect_eq(c.place, want, "%s: place %d, want %d", path, c.place, want);
}

#define CLASS(name, pattern) \
	"[class " name "]\nrecords = " pattern "\nretain = 1 year after created\nthen = destroy\n"

Test(classify, anytown_records)
{
	struct rfs_policy *p = load(anytown_policy);

	expect_record(p, "cases/smith-j", "adult-social-care-case", "cases/smith-j");
	expect_record(p, "cases/smith-j/letters/2019-01-04.odt", "adult-social-care-case",
	              "cases/smith-j");
	expect_record(p, "contracts/acme-care", "provider-contract", "contracts/acme-care");
	expect_record(p, "contracts/acme-care/signed.pdf", "provider-contract",
	              "contracts/acme-care");
	/* the more specific pattern wins below contracts/sealed */
	expect_record(p, "contracts/sealed/lease-1998", "contract-under-seal",
	              "contracts/sealed/lease-1998");
	expect_record(p, "contracts/sealed/lease-1998/deed.pdf", "contract-under-seal",
	              "contracts/sealed/lease-1998");
	expect_record(p, "contracts/sealedx", "provider-contract", "contracts/sealedx");
	expect_record(p, "tenders/unsuccessful/bid-7/a", "unsuccessful-tender",
	              "tenders/unsuccessful/bid-7");
	/* folders above records */
	expect_place(p, "", RFS_PLACE_CONTAINER);
	expect_place(p, "cases", RFS_PLACE_CONTAINER);
	expect_place(p, "contracts", RFS_PLACE_CONTAINER);
	expect_place(p, "contracts/sealed", RFS_PLACE_CONTAINER);  /* not a provider contract */
	expect_place(p, "tenders", RFS_PLACE_CONTAINER);
	expect_place(p, "tenders/unsuccessful", RFS_PLACE_CONTAINER);
	/* outside every class */
	expect_place(p, "tenders/won", RFS_PLACE_UNCLASSIFIED);
	expect_place(p, "tenders/won/bid-1", RFS_PLACE_UNCLASSIFIED);
	expect_place(p, "minutes", RFS_PLACE_UNCLASSIFIED);
	expect_place(p, "Cases/smith", RFS_PLACE_UNCLASSIFIED);   /* names are case-sensitive */
	expect_place(p, "case", RFS_PLACE_UNCLASSIFIED);
	expect_place(p, "casesx/a", RFS_PLACE_UNCLASSIFIED);
	/* hidden names are not matched by a wildcard */
	expect_place(p, "cases/.Trash-1000", RFS_PLACE_UNCLASSIFIED);
	expect_place(p, "cases/.~lock.x#/y", RFS_PLACE_UNCLASSIFIED);
	expect_record(p, "cases/a/.~lock.letter.odt#", "adult-social-care-case", "cases/a");
	rfs_policy_free(p);
}

Test(classify, specificity_counts_literal_levels_then_literal_characters)
{
	struct rfs_policy *p = load(CLASS("any", "*/*")
	                            CLASS("lit1", "cases/*")
	                            CLASS("star-prefix", "cases/c*")
	                            CLASS("two-literal", "cases/closed/*"));

	expect_record(p, "x/y", "any", "x/y");
	expect_record(p, "x/y/z/w", "any", "x/y");
	expect_record(p, "cases/open", "lit1", "cases/open");
	expect_record(p, "cases/c1", "star-prefix", "cases/c1");  /* 6 literal characters > 5 */
	expect_record(p, "cases/c1/z/w", "star-prefix", "cases/c1");
	expect_record(p, "cases/closed/k", "two-literal", "cases/closed/k");
	expect_place(p, "cases/closed", RFS_PLACE_CONTAINER);
	expect_place(p, "cases", RFS_PLACE_CONTAINER);
	expect_place(p, "x", RFS_PLACE_CONTAINER);
	rfs_policy_free(p);
}

Test(classify, wildcards_inside_one_name)
{
	struct rfs_policy *p = load(CLASS("q", "a/case-????")
	                            CLASS("mid", "b/*-20*-x")
	                            CLASS("dot", "c/.*")
	                            CLASS("ext", "d/*.pdf")
	                            CLASS("utf", "e/é?")
	                            CLASS("spaces", "Social Care/Case *"));

	expect_record(p, "a/case-0001", "q", "a/case-0001");
	expect_place(p, "a/case-001", RFS_PLACE_UNCLASSIFIED);
	expect_place(p, "a/case-00001", RFS_PLACE_UNCLASSIFIED);
	expect_record(p, "b/smith-2019-x", "mid", "b/smith-2019-x");
	expect_record(p, "b/a-20-x-20-x", "mid", "b/a-20-x-20-x");   /* backtracking */
	expect_record(p, "b/-20-x", "mid", "b/-20-x");               /* '*' may match nothing */
	expect_place(p, "b/smith-2019-y", RFS_PLACE_UNCLASSIFIED);
	expect_place(p, "b/smith-2019-x-", RFS_PLACE_UNCLASSIFIED);
	expect_record(p, "c/.hidden", "dot", "c/.hidden");
	expect_record(p, "c/.h/x", "dot", "c/.h");
	expect_record(p, "d/minutes.pdf", "ext", "d/minutes.pdf");
	expect_place(p, "d/.pdf", RFS_PLACE_UNCLASSIFIED);          /* '*' never takes a leading '.' */
	expect_place(p, "d/minutes.pdf.bak", RFS_PLACE_UNCLASSIFIED);
	expect_record(p, "e/éa", "utf", "e/éa");
	expect_record(p, "e/éé", "utf", "e/éé");                     /* '?' is one character */
	expect_place(p, "e/é", RFS_PLACE_UNCLASSIFIED);
	expect_record(p, "e/é\xff", "utf", "e/é\xff");               /* an invalid byte is one too */
	expect_record(p, "Social Care/Case 12/notes", "spaces", "Social Care/Case 12");
	rfs_policy_free(p);
}

Test(classify, a_policy_without_classes_classifies_nothing)
{
	struct rfs_policy *p = load("organisation = X\n");

	expect_place(p, "", RFS_PLACE_UNCLASSIFIED);
	expect_place(p, "cases/a", RFS_PLACE_UNCLASSIFIED);
	rfs_policy_free(p);
}

Test(classify, malformed_paths)
{
	struct rfs_policy *p = load(anytown_policy);
	struct rfs_classification c;
	const char *bad[] = { "/cases/a", "cases/a/", "cases//a", "./cases", "cases/./a", "cases/..",
	                      "..", "/" };
	char longname[300];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_expect_eq(rfs_classify_path(p, bad[i], strlen(bad[i]), &c), -EINVAL, "%s", bad[i]);
	cr_expect_eq(rfs_classify_path(p, "cases/a\0b", 9, &c), -EINVAL);
	memset(longname, 'n', sizeof(longname));
	memcpy(longname, "cases/", 6);
	cr_expect_eq(rfs_classify_path(p, longname, 6 + 256, &c), -ENAMETOOLONG);
	cr_expect_eq(rfs_classify_path(p, longname, 6 + 255, &c), 0);
	cr_expect_eq(c.place, RFS_PLACE_RECORD);
	/* len bounds the path: "cases/ab" read as "cases/a" */
	cr_assert_eq(rfs_classify_path(p, "cases/ab", 7, &c), 0);
	cr_expect_eq(c.record_len, 7);
	/* '...' and 'a..b' are names; '...' is hidden, so no wildcard takes it */
	expect_place(p, "cases/...", RFS_PLACE_UNCLASSIFIED);
	expect_record(p, "cases/a..b", "adult-social-care-case", "cases/a..b");
	rfs_policy_free(p);
}
