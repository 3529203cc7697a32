/*
** output: see output.h.
*/
#include "tools/output.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "fs/escape.h"

int rfs_output_choose(bool json, bool csv, enum rfs_output_format *out)
{
	if (json && csv)
		return -EINVAL;
	*out = json ? RFS_OUTPUT_JSON : csv ? RFS_OUTPUT_CSV : RFS_OUTPUT_TEXT;
	return 0;
}

void rfs_output_begin(struct rfs_output *o, FILE *f, enum rfs_output_format format,
                      const char *const *fields, size_t nfields)
{
	*o = (struct rfs_output){ f, format, fields, nfields, 0 };
	if (format == RFS_OUTPUT_JSON) {
		fputc('[', f);
	} else if (format == RFS_OUTPUT_CSV) {
		for (size_t i = 0; i < nfields; i++) {
			if (i)
				fputc(',', f);
			rfs_escape_csv(f, fields[i]);
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

		if (o->format == RFS_OUTPUT_JSON) {
			fputs(i ? ", " : o->rows ? ",\n {" : "\n {", o->f);
			rfs_escape_json(o->f, o->fields[i]);
			fputs(": ", o->f);
			rfs_escape_json(o->f, v);
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
	else
		fputs(o->format == RFS_OUTPUT_CSV ? "\r\n" : "\n", o->f);
	o->rows++;
}

int rfs_output_end(struct rfs_output *o)
{
	if (o->format == RFS_OUTPUT_JSON)
		fputs(o->rows ? "\n]\n" : "]\n", o->f);
	return fflush(o->f) == 0 && !ferror(o->f) ? 0 : -EIO;
}
