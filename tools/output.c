/*
** output: see output.h.
*/
#include "tools/output.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "fs/escape.h"
#include "policy/policy.h"

int rfs_output_choose(bool json, bool csv, enum rfs_output_format *out)
{
	if (json && csv)
		return -EINVAL;
	*out = json ? RFS_OUTPUT_JSON : csv ? RFS_OUTPUT_CSV : RFS_OUTPUT_TEXT;
	return 0;
}

const char *rfs_output_name(const char *field)
{
	return field + (*field == '#' || *field == '?' || *field == '@');
}

/* Is v an integer as JSON writes one (-?[0-9]+, no leading zero)? */
static bool is_integer(const char *v)
{
	v += *v == '-';
	if (!*v || (v[0] == '0' && v[1]))
		return false;
	return strspn(v, "0123456789") == strlen(v);
}

void rfs_output_json_value(FILE *f, const char *field, const char *value)
{
	const char *v = value ? value : "";

	if ((*field == '#' || *field == '?') && !*v)
		fputs("null", f);
	else if ((*field == '#' && is_integer(v)) ||
	         (*field == '?' && (!strcmp(v, "true") || !strcmp(v, "false"))))
		fputs(v, f);
	else
		rfs_escape_json(f, v);
}

void rfs_output_begin(struct rfs_output *o, FILE *f, enum rfs_output_format format,
                      const char *const *fields, size_t nfields)
{
	*o = (struct rfs_output){ f, format, fields, nfields, 0, false };
	if (format == RFS_OUTPUT_JSON) {
		fputc('[', f);
	} else if (format == RFS_OUTPUT_CSV) {
		for (size_t i = 0; i < nfields; i++) {
			if (i)
				fputc(',', f);
			rfs_escape_csv(f, rfs_output_name(fields[i]));
		}
		fputs("\r\n", f);
	}
}

/* Text: is any of values[from..n) non-empty (trailing empty fields are left out)? */
static bool has_more(const char *const *values, size_t from, size_t n)
{
	for (size_t i = from; i < n; i++) {
		if (values[i] && *values[i])
			return true;
	}
	return false;
}

void rfs_output_row(struct rfs_output *o, const char *const *values)
{
	for (size_t i = 0; i < o->nfields; i++) {
		const char *v = values[i] ? values[i] : "";
		char utc[RFS_TIMESTAMP_TEXT_SIZE];
		struct rfs_timestamp t;

		if (o->format != RFS_OUTPUT_TEXT && *o->fields[i] == '@' &&
		    rfs_date_timestamp_parse(v, strlen(v), &t) == 0) {
			t.utc_offset = 0;
			if (rfs_date_timestamp_format(t, utc) == 0)
				v = utc;
		}

		if (o->format == RFS_OUTPUT_JSON || o->format == RFS_OUTPUT_JSON_LINES) {
			bool lines = o->format == RFS_OUTPUT_JSON_LINES;   /* compact: one line a row */

			if (i)
				fputs(lines ? "," : ", ", o->f);
			else
				fputs(lines ? "{" : o->rows ? ",\n {" : "\n {", o->f);
			rfs_escape_json(o->f, rfs_output_name(o->fields[i]));
			fputs(lines ? ":" : ": ", o->f);
			rfs_output_json_value(o->f, o->fields[i], v);
		} else if (o->format == RFS_OUTPUT_CSV) {
			if (i)
				fputc(',', o->f);
			rfs_escape_csv(o->f, v);
		} else if (*v || has_more(values, i + 1, o->nfields)) {
			fprintf(o->f, "%s%s", i ? "  " : "", *v ? v : "-");
		}
	}
	if (o->format == RFS_OUTPUT_JSON)
		fputc('}', o->f);
	else if (o->format == RFS_OUTPUT_JSON_LINES)
		fputs("}\n", o->f);
	else
		fputs(o->format == RFS_OUTPUT_CSV ? "\r\n" : "\n", o->f);
	o->rows++;
}

void rfs_output_report_begin(struct rfs_output *o, FILE *f, const char *vault,
                             const char *const *fields, size_t nfields)
{
	fputs("{\"vault\": ", f);
	rfs_escape_json(f, vault);
	fputs(", \"findings\": ", f);
	rfs_output_begin(o, f, RFS_OUTPUT_JSON, fields, nfields);
	o->inner = true;
}

int rfs_output_end(struct rfs_output *o)
{
	if (o->format == RFS_OUTPUT_JSON)
		fputs(o->rows ? "\n]" : "]", o->f);
	if (o->format == RFS_OUTPUT_JSON && !o->inner)
		fputc('\n', o->f);
	return fflush(o->f) == 0 && !ferror(o->f) ? 0 : -EIO;
}
