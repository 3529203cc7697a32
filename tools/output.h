/*
** output: the one place that prints a listing (records, due, holds, disposals) as text, as
** JSON (--json) or as CSV (--csv).
**
** Owns: the formats. A listing is rows of named fields given as text, every row with the same
** fields in the same order. A field name may start with a type mark, which is not part of the
** name: '#' an integer, '?' a boolean ("true"/"false"); in JSON such a value is written bare, and
** an empty one as null (a value that is not of the type stays a string, so the document always
** parses). '@' a timestamp (ISO 8601 with an offset): in JSON and CSV it is given in UTC, "Z". Text: one row per line, fields separated by two spaces, "-" for an empty field
** (trailing empty fields left out), no header. JSON: one array of objects whose keys are the
** field names, strings escaped per RFC 8259 (controls as \uXXXX, invalid UTF-8 bytes as
** U+FFFD). JSON lines: the same objects, one per line, compact (no space), no array. CSV: a header line of the
** field names, then one line per row, CRLF line ends, a field quoted when it holds a comma, a
** quote, CR or LF (quotes doubled), as RFC 4180 says.
** Must never: reorder or rename fields (their names are documented in docs/JSON.md), or leave a
** JSON array unclosed once begun.
*/
#ifndef RECFS_TOOLS_OUTPUT_H
#define RECFS_TOOLS_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

enum rfs_output_format { RFS_OUTPUT_TEXT, RFS_OUTPUT_JSON, RFS_OUTPUT_CSV, RFS_OUTPUT_JSON_LINES };

struct rfs_output {
	FILE *f;
	enum rfs_output_format format;
	const char *const *fields;     /* the field names, each with its type mark if any; borrowed */
	size_t nfields;
	size_t rows;
	bool inner;                    /* the array is a field of a report object */
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

/* A report as JSON (fsck, verify): writes {"vault": VAULT, "findings": and begins the array of
** findings with these fields. rfs_output_end then closes the array, and the caller writes
** "complete" and its counts after ", " and closes the object with "}\n". */
void rfs_output_report_begin(struct rfs_output *o, FILE *f, const char *vault,
                             const char *const *fields, size_t nfields);

/* value as a JSON value of the type field's mark gives (see above); field's mark only is read. */
void rfs_output_json_value(FILE *f, const char *field, const char *value);
/* field without its type mark. */
const char *rfs_output_name(const char *field);


#endif
