/*
** escape: names made safe for a terminal, as ls -b and git do.
**
** Owns: the one escaping rule of every human-readable output (log, verify,
** fsck, show, error messages): control characters (C0, DEL, C1), bytes that
** are not valid UTF-8, and the backslash itself become C escapes (\n, \t,
** \\, \033), so a name can neither fake a line nor reach the terminal raw.
** Must never: be used for --json (JSON has its own escapes) or for paths
** handed to the system.
*/
#ifndef RECFS_FS_ESCAPE_H
#define RECFS_FS_ESCAPE_H

#include <stddef.h>

/* Escape in into out (always NUL-terminated; cut short, never mid-escape, when
** out is too small: 4 * strlen(in) + 1 always fits). Returns out. */
char *rfs_escape(char *out, size_t outsz, const char *in);

/* rfs_escape into one of eight static buffers of 4 * PATH_MAX + 1 bytes:
** for a few arguments of one printf. Not thread-safe (commands only). */
const char *rfs_escape_line(const char *in);

#endif
