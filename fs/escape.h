/*
** escape: names made safe for a terminal, as ls -b and git do.
**
** Owns: the one escaping rule of every human-readable output (log, verify,
** fsck, show, error messages): control characters (C0, DEL, C1), bytes that
** are not valid UTF-8, and the backslash itself become C escapes (\n, \t,
** \\, \033), so a name can neither fake a line nor reach the terminal raw;
** and the JSON string and CSV field forms of the same text, for --json and
** --csv listings and for the tag files of an archive.
** Must never: hand a terminal's escapes to JSON or CSV (each has its own), or be
** used for paths handed to the system.
*/
#ifndef RECFS_FS_ESCAPE_H
#define RECFS_FS_ESCAPE_H

#include <stddef.h>
#include <stdio.h>

/* Escape in into out (always NUL-terminated; cut short, never mid-escape, when
** out is too small: 4 * strlen(in) + 1 always fits). Returns out. */
char *rfs_escape(char *out, size_t outsz, const char *in);

/* rfs_escape into one of eight static buffers of 4 * PATH_MAX + 1 bytes:
** for a few arguments of one printf. Not thread-safe (commands only). */
const char *rfs_escape_line(const char *in);

/* s as a JSON string, quotes included (RFC 8259): ", \\ and control characters (C1
** too) escaped, a byte that is not UTF-8 as U+FFFD. NULL is "". */
void rfs_escape_json(FILE *f, const char *s);
/* s as one CSV field (RFC 4180): quoted, quotes doubled, when it holds a comma, a
** quote, CR or LF. NULL is empty. */
void rfs_escape_csv(FILE *f, const char *s);

#endif
