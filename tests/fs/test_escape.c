/* Unit tests of fs/escape: names shown on a terminal cannot fake a line or
** send escape sequences (issue "Keep every promise", item 19). */
#include <criterion/criterion.h>
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
