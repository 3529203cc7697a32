/* Unit tests of tools/output: the type marks of a field (integer, boolean, timestamp) in JSON,
** JSON lines and CSV, and a report's findings array inside its object. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/output.h"

static const char *const fields[] = { "name", "#size", "?held", "@when" };

/* The listing of rows (4 values each) in format, as one string (caller frees). */
static char *listing(enum rfs_output_format format, const char *const (*rows)[4], size_t n)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	struct rfs_output o;

	cr_assert_not_null(f);
	rfs_output_begin(&o, f, format, fields, 4);
	for (size_t i = 0; i < n; i++)
		rfs_output_row(&o, rows[i]);
	cr_assert_eq(rfs_output_end(&o), 0);
	fclose(f);
	return text;
}

static const char *const rows[][4] = {
	{ "a,\"b\"", "12", "true", "2026-01-02T03:04:05+01:00" },
	{ "c", "", "", "" },
	{ "d", "012", "yes", "not a time" },
};

Test(output, json_types)
{
	char *s = listing(RFS_OUTPUT_JSON, rows, 3);

	cr_assert_str_eq(s, "[\n"
	                 " {\"name\": \"a,\\\"b\\\"\", \"size\": 12, \"held\": true, \"when\": \"2026-01-02T02:04:05Z\"},\n"
	                 " {\"name\": \"c\", \"size\": null, \"held\": null, \"when\": \"\"},\n"
	                 " {\"name\": \"d\", \"size\": \"012\", \"held\": \"yes\", \"when\": \"not a time\"}\n"
	                 "]\n");
	free(s);
}

Test(output, json_lines_compact)
{
	char *s = listing(RFS_OUTPUT_JSON_LINES, rows, 2);

	cr_assert_str_eq(s, "{\"name\":\"a,\\\"b\\\"\",\"size\":12,\"held\":true,\"when\":\"2026-01-02T02:04:05Z\"}\n"
	                 "{\"name\":\"c\",\"size\":null,\"held\":null,\"when\":\"\"}\n");
	free(s);
}

Test(output, csv_names_without_marks)
{
	char *s = listing(RFS_OUTPUT_CSV, rows, 1);

	cr_assert_str_eq(s, "name,size,held,when\r\n\"a,\"\"b\"\"\",12,true,2026-01-02T02:04:05Z\r\n");
	free(s);
}

Test(output, text_keeps_the_time_as_given)
{
	char *s = listing(RFS_OUTPUT_TEXT, rows, 1);

	cr_assert_str_eq(s, "a,\"b\"  12  true  2026-01-02T03:04:05+01:00\n");
	free(s);
}

Test(output, empty_json_listing)
{
	char *s = listing(RFS_OUTPUT_JSON, rows, 0);

	cr_assert_str_eq(s, "[]\n");
	free(s);
}

Test(output, report_object)
{
	static const char *const ff[] = { "kind", "?problem" };
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	struct rfs_output o;

	rfs_output_report_begin(&o, f, "/v\"x", ff, 2);
	rfs_output_row(&o, (const char *const[]){ "corrupt", "true" });
	rfs_output_end(&o);
	fputs(", \"problems\": 1}\n", f);
	fclose(f);
	cr_assert_str_eq(text, "{\"vault\": \"/v\\\"x\", \"findings\": [\n {\"kind\": \"corrupt\", \"problem\": true}\n], \"problems\": 1}\n");
	free(text);
}
