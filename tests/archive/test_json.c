/* Unit tests of archive/json: the grammar of RFC 8259 (what it takes, what it refuses, with
** line and column), escapes and surrogates to UTF-8, numbers, sorted unique keys, and the
** limits that keep a hostile inventory from costing memory. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "archive/json.h"

static int parse(const char *text, struct rfs_json_doc **d, char *err, size_t errsz)
{
	return rfs_json_parse(text, strlen(text), NULL, d, err, errsz);
}

static void refuse(const char *text, int want)
{
	struct rfs_json_doc *d = (void *)1;
	char err[200];
	int rc = parse(text, &d, err, sizeof(err));
	cr_expect_eq(rc, want, "%s: %d, not %d (%s)", text, rc, want, err);
	cr_expect_null(d, "%s: no document on failure", text);
	cr_expect(strstr(err, "line ") != NULL, "%s: the error says where: %s", text, err);
}

Test(json, an_inventory_shape)
{
	const char *t = "{\n  \"versions\": {\"v1\": {\"state\": {}}},\n  \"head\": \"v1\",\n"
	                "  \"manifest\": {\"ab\": [\"v1/content/a\", \"v1/content/b\"]},\n"
	                "  \"n\": -12.5e2, \"t\": true, \"f\": false, \"z\": null, \"e\": []\n}";
	struct rfs_json_doc *d;
	char err[200];
	cr_assert_eq(parse(t, &d, err, sizeof(err)), 0, "%s", err);
	const struct rfs_json *r = rfs_json_root(d);
	cr_assert_eq(r->type, RFS_JSON_OBJECT);
	cr_expect_eq(r->n, 8);
	/* members sorted by key */
	for (size_t i = 1; i < r->n; i++)
		cr_expect(strcmp(r->u.members[i - 1].key, r->u.members[i].key) < 0);
	cr_expect_str_eq(rfs_json_string(rfs_json_get(r, "head")), "v1");
	const struct rfs_json *m = rfs_json_get(rfs_json_get(r, "manifest"), "ab");
	cr_assert_not_null(m);
	cr_assert_eq(m->type, RFS_JSON_ARRAY);
	cr_assert_eq(m->n, 2);
	cr_expect_str_eq(rfs_json_string(&m->u.items[1]), "v1/content/b");
	const struct rfs_json *n = rfs_json_get(r, "n");
	cr_expect_eq(n->type, RFS_JSON_NUMBER);
	cr_expect_eq(n->num, -1250.0);
	cr_expect_str_eq(n->u.str, "-12.5e2");
	cr_expect_eq(rfs_json_get(r, "t")->type, RFS_JSON_TRUE);
	cr_expect_eq(rfs_json_get(r, "f")->type, RFS_JSON_FALSE);
	cr_expect_eq(rfs_json_get(r, "z")->type, RFS_JSON_NULL);
	cr_expect_eq(rfs_json_get(r, "e")->n, 0);
	cr_expect_null(rfs_json_get(r, "absent"));
	cr_expect_null(rfs_json_get(m, "x"), "an array has no members");
	cr_expect_null(rfs_json_string(n), "a number is not a string");
	rfs_json_free(d);
}

Test(json, escapes_and_surrogates)
{
	struct rfs_json_doc *d;
	char err[200];
	cr_assert_eq(parse("[\"a\\\"\\\\\\/\\b\\f\\n\\r\\t\", \"\\u00e9\\u20AC\", \"\\ud83d\\ude00\", "
	                   "\"caf\xc3\xa9\", \"nul\\u0000in\"]", &d, err, sizeof(err)), 0, "%s", err);
	const struct rfs_json *a = rfs_json_root(d);
	cr_expect_str_eq(a->u.items[0].u.str, "a\"\\/\b\f\n\r\t");
	cr_expect_str_eq(a->u.items[1].u.str, "\xc3\xa9\xe2\x82\xac");
	cr_expect_str_eq(a->u.items[2].u.str, "\xf0\x9f\x98\x80");
	cr_expect_str_eq(a->u.items[3].u.str, "caf\xc3\xa9");
	cr_expect_eq(a->u.items[4].n, 6);
	cr_expect_null(rfs_json_string(&a->u.items[4]), "a string holding \\0 is no C string");
	rfs_json_free(d);
}

Test(json, scalars_at_the_top)
{
	struct rfs_json_doc *d;
	char err[200];
	cr_assert_eq(parse("  0 ", &d, err, sizeof(err)), 0);
	cr_expect_eq(rfs_json_root(d)->num, 0.0);
	rfs_json_free(d);
	cr_assert_eq(parse("\"x\"", &d, err, sizeof(err)), 0);
	rfs_json_free(d);
}

Test(json, malformed)
{
	refuse("", -EINVAL);
	refuse("   ", -EINVAL);
	refuse("{", -EINVAL);
	refuse("[1,]", -EINVAL);
	refuse("{\"a\":1,}", -EINVAL);
	refuse("{\"a\" 1}", -EINVAL);
	refuse("{a:1}", -EINVAL);
	refuse("[1 2]", -EINVAL);
	refuse("01", -EINVAL);
	refuse("-", -EINVAL);
	refuse("1.", -EINVAL);
	refuse(".5", -EINVAL);
	refuse("1e", -EINVAL);
	refuse("+1", -EINVAL);
	refuse("tru", -EINVAL);
	refuse("nulll", -EINVAL);
	refuse("[1] [2]", -EINVAL);
	refuse("\"abc", -EINVAL);
	refuse("\"a\\", -EINVAL);
	refuse("\"\\x\"", -EINVAL);
	refuse("\"\\u12\"", -EINVAL);
	refuse("\"\\ud800\"", -EINVAL);
	refuse("\"\\ud800\\u0041\"", -EINVAL);
	refuse("\"\\udc00\"", -EINVAL);
	refuse("\"tab\there\"", -EINVAL);
	refuse("\"\xc3\"", -EINVAL);           /* cut UTF-8 */
	refuse("\"\xc0\xaf\"", -EINVAL);       /* overlong */
	refuse("\"\xed\xa0\x80\"", -EINVAL);   /* a surrogate in UTF-8 */
	refuse("\xef\xbb\xbf{}", -EINVAL);     /* BOM */
	refuse("{\"a\":1,\"a\":2}", -EINVAL);  /* duplicate key */
	refuse("// c\n{}", -EINVAL);
}

Test(json, where_the_error_is)
{
	struct rfs_json_doc *d;
	char err[200];
	cr_assert_eq(parse("{\n  \"a\": [1,\n  x]}", &d, err, sizeof(err)), -EINVAL);
	cr_expect(strstr(err, "line 3, column 3") != NULL, "%s", err);
}

Test(json, nesting_limit)
{
	size_t n = 100000;
	char *t = malloc(2 * n + 1);
	memset(t, '[', n);
	memset(t + n, ']', n);
	t[2 * n] = '\0';
	struct rfs_json_doc *d;
	char err[200];
	/* deep nesting is refused before the stack grows with it */
	cr_expect_eq(rfs_json_parse(t, 2 * n, NULL, &d, err, sizeof(err)), -E2BIG);
	struct rfs_json_limits lim = { .max_depth = 3 };
	cr_expect_eq(rfs_json_parse("[[[1]]]", 7, &lim, &d, err, sizeof(err)), 0);
	rfs_json_free(d);
	cr_expect_eq(rfs_json_parse("[[[[1]]]]", 9, &lim, &d, err, sizeof(err)), -E2BIG);
	free(t);
}

Test(json, value_limit)
{
	struct rfs_json_limits lim = { .max_values = 10 };
	struct rfs_json_doc *d;
	char err[200];
	const char *ok = "[1,2,3,4,5,6,7,8,9]";
	const char *big = "[1,2,3,4,5,6,7,8,9,10]";
	cr_expect_eq(rfs_json_parse(ok, strlen(ok), &lim, &d, err, sizeof(err)), 0);
	rfs_json_free(d);
	cr_expect_eq(rfs_json_parse(big, strlen(big), &lim, &d, err, sizeof(err)), -E2BIG);
}

Test(json, not_nul_terminated)
{
	/* the text ends at len, whatever follows in memory */
	const char t[] = "[1,2]garbage";
	struct rfs_json_doc *d;
	char err[200];
	cr_expect_eq(rfs_json_parse(t, 5, NULL, &d, err, sizeof(err)), 0);
	rfs_json_free(d);
	cr_expect_eq(rfs_json_parse("\"abc\"", 3, NULL, &d, err, sizeof(err)), -EINVAL);
	cr_expect_eq(rfs_json_parse("tr", 2, NULL, &d, err, sizeof(err)), -EINVAL);
	cr_expect_eq(rfs_json_parse("1", 0, NULL, &d, err, sizeof(err)), -EINVAL);
}

Test(json, a_large_array)
{
	size_t n = 200000;
	char *t = malloc(n * 2 + 2);
	t[0] = '[';
	for (size_t i = 0; i < n; i++) {
		t[1 + 2 * i] = '7';
		t[2 + 2 * i] = i + 1 < n ? ',' : ']';
	}
	struct rfs_json_doc *d;
	char err[200];
	cr_assert_eq(rfs_json_parse(t, 2 * n + 1, NULL, &d, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(rfs_json_root(d)->n, n);
	cr_expect_eq(rfs_json_root(d)->u.items[n - 1].num, 7.0);
	rfs_json_free(d);
	free(t);
}
