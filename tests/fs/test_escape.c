/* Unit tests of fs/escape: names shown on a terminal cannot fake a line or
** send escape sequences (issue "Keep every promise", item 19). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/escape.h"

static void expect(const char *in, const char *want)
{
	char out[256];

	cr_assert_str_eq(rfs_escape(out, sizeof(out), in), want, "escaping '%s'", in);
}

Test(escape, controls_and_backslash)
{
	expect("plain name.txt", "plain name.txt");
	expect("a\nb", "a\\nb");
	expect("tab\there", "tab\\there");
	expect("cr\r", "cr\\r");
	expect("\x1b[31mred", "\\033[31mred");
	expect("del\x7f", "del\\177");
	expect("back\\slash", "back\\\\slash");
	expect("fake\\nline", "fake\\\\nline");
}

Test(escape, utf8_kept_invalid_and_c1_escaped)
{
	expect("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\x84", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\x84");
	expect("c1 \xc2\x9b" "31m", "c1 \\302\\23331m");
	expect("raw \x9b", "raw \\233");
	expect("overlong \xc0\xaf", "overlong \\300\\257");
	expect("surrogate \xed\xa0\x80", "surrogate \\355\\240\\200");
	expect("cut \xe2\x82", "cut \\342\\202");
}

Test(escape, never_cut_mid_escape)
{
	char out[6];

	cr_assert_str_eq(rfs_escape(out, sizeof(out), "ab\ncd"), "ab\\nc");
	cr_assert_str_eq(rfs_escape(out, sizeof(out), "abcd\n"), "abcd");
	cr_assert_eq(strlen(rfs_escape(out, sizeof(out), "\x1b\x1b")), 4);
}

/* What rfs_escape_json or rfs_escape_csv writes for in. */
static void expect_form(void (*form)(FILE *, const char *), const char *in, const char *want)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	cr_assert_not_null(f);
	form(f, in);
	fclose(f);
	cr_assert_str_eq(text, want, "the form of '%s'", in ? in : "(null)");
	free(text);
}

Test(escape, json_strings)
{
	expect_form(rfs_escape_json, "Mrs \xc3\x93 Briain/notes 1.txt", "\"Mrs \xc3\x93 Briain/notes 1.txt\"");
	expect_form(rfs_escape_json, "q\"b\\n\nt\t\x01\x7f", "\"q\\\"b\\\\n\\nt\\t\\u0001\\u007f\"");
	expect_form(rfs_escape_json, "c1 \xc2\x9b!", "\"c1 \\u009b!\"");
	expect_form(rfs_escape_json, "bad \xff\xc3", "\"bad \\ufffd\\ufffd\"");
	expect_form(rfs_escape_json, NULL, "\"\"");
}

Test(escape, csv_fields)
{
	expect_form(rfs_escape_csv, "plain", "plain");
	expect_form(rfs_escape_csv, "a,b", "\"a,b\"");
	expect_form(rfs_escape_csv, "say \"hi\"", "\"say \"\"hi\"\"\"");
	expect_form(rfs_escape_csv, "two\nlines", "\"two\nlines\"");
	expect_form(rfs_escape_csv, NULL, "");
}
