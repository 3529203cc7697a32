/*
** output: the one place that prints a listing (records, due, holds, disposals) as text, as
** JSON (--json) or as CSV (--csv).
**
** Owns: the three formats. A listing is rows of named string fields, every row with the same
** fields in the same order. Text: one row per line, fields separated by two spaces, "-" for an
** empty field (trailing empty fields left out), no header. JSON: one array of objects whose keys are the field names, strings
** escaped per RFC 8259 (controls as \uXXXX, invalid UTF-8 bytes as U+FFFD). CSV: a header line
** of the field names, then one line per row, CRLF line ends, a field quoted when it holds a
** comma, a quote, CR or LF (quotes doubled), as RFC 4180 says.
** Must never: reorder or rename fields (their names are documented in docs/CLI.md), or leave a
** JSON array unclosed once begun.
*/
#ifndef RECFS_TOOLS_OUTPUT_H
#define RECFS_TOOLS_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

enum rfs_output_format { RFS_OUTPUT_TEXT, RFS_OUTPUT_JSON, RFS_OUTPUT_CSV };

struct rfs_output {
	FILE *f;
	enum rfs_output_format format;
	const char *const *fields;     /* the field names, borrowed */
	size_t nfields;
	size_t rows;
};

/* The format that --json / --csv ask for; -EINVAL when both are given. */
int rfs_output_choose(bool json, bool csv, enum rfs_output_format *out);

/* Start a listing of rows with these fields (CSV: writes the header; JSON: the '['). */
void rfs_output_begin(struct rfs_output *o, FILE *f, enum rfs_output_format format,
                      const char *const *fields, size_t nfields);
/* One row: values[i] is field i ("" or NULL for none). */
void rfs_output_row(struct rfs_output *o, const char *const *values);
/* End the listing (JSON: the ']'). 0, or -EIO when writing failed. */
int rfs_output_end(struct rfs_output *o);


#endif
