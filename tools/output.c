/*
** output: see output.h.
*/
#include "tools/output.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

int rfs_output_choose(bool json, bool csv, enum rfs_output_format *out)
{
	if (json && csv)
		return -EINVAL;
	*out = json ? RFS_OUTPUT_JSON : csv ? RFS_OUTPUT_CSV : RFS_OUTPUT_TEXT;
	return 0;
}

/* Length of the valid UTF-8 sequence at s (1 to 4), or 0 when it is not one. */
static size_t utf8_len(const unsigned char *s)
{
	size_t n = s[0] < 0x80 ? 1 : s[0] >= 0xC2 && s[0] <= 0xDF ? 2
	         : s[0] >= 0xE0 && s[0] <= 0xEF ? 3 : s[0] >= 0xF0 && s[0] <= 0xF4 ? 4 : 0;

	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
	}
	if (n == 3 && ((s[0] == 0xE0 && s[1] < 0xA0) || (s[0] == 0xED && s[1] >= 0xA0)))
		return 0;   /* overlong, or a surrogate */
	if (n == 4 && ((s[0] == 0xF0 && s[1] < 0x90) || (s[0] == 0xF4 && s[1] >= 0x90)))
		return 0;   /* overlong, or past U+10FFFF */
	return n;
}

void rfs_output_json_string(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");

	fputc('"', f);
	while (*p) {
		size_t n = utf8_len(p);

		if (*p == '"' || *p == '\\') {
			fprintf(f, "\\%c", *p);
		} else if (*p == '\n') {
			fputs("\\n", f);
		} else if (*p == '\t') {
			fputs("\\t", f);
		} else if (*p < 0x20 || *p == 0x7F) {
			fprintf(f, "\\u%04x", *p);
		} else if (n == 0) {
			fputs("\\ufffd", f);
			n = 1;
		} else {
			fwrite(p, 1, n, f);
		}
		p += n ? n : 1;
	}
	fputc('"', f);
}

void rfs_output_csv_field(FILE *f, const char *s)
{
	s = s ? s : "";
	if (!strpbrk(s, ",\"\r\n")) {
		fputs(s, f);
		return;
	}
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', f);
		fputc(*s, f);
	}
	fputc('"', f);
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
			rfs_output_csv_field(f, fields[i]);
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
			rfs_output_json_string(o->f, o->fields[i]);
			fputs(": ", o->f);
			rfs_output_json_string(o->f, v);
		} else if (o->format == RFS_OUTPUT_CSV) {
			if (i)
				fputc(',', o->f);
			rfs_output_csv_field(o->f, v);
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
