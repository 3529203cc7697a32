/*
** progress: one self-redrawing status line on stderr for long commands
** (archive, fsck, verify, gc, dispose, restore): counts, bytes, rate and time left.
**
** Owns: the progress line and when it is drawn.
** Must never: write anything when stderr is not a terminal (unless
** RECFS_PROGRESS=1 forces it, for tests), or touch stdout (but to pass on the
** command's own lines, progress_report).
*/
#ifndef RECFS_TOOLS_PROGRESS_H
#define RECFS_TOOLS_PROGRESS_H

#include <stdint.h>
#include <stdio.h>

#include "fs/progress.h"

struct progress;   /* NULL-safe: every call accepts NULL */
/* Draws on stderr only when stderr is a terminal (or RECFS_PROGRESS=1 forces it, for tests);
** otherwise returns a handle that prints nothing. what: "archive", "verify", ... */
struct progress *progress_start(const char *what, uint64_t total_items, uint64_t total_bytes);
void progress_set_total(struct progress *p, uint64_t total_items, uint64_t total_bytes);
void progress_update(struct progress *p, uint64_t items, uint64_t bytes);  /* absolute; redraws <= 10/s */
void progress_end(struct progress *p);    /* clears the line, frees */

/* What long work in fs/ reports to (rfs_fsck, hcli_verify, a daemon's "p" lines, ...),
** drawn as p's line: its unit names the items ("objects"; NULL: files; "": bytes only),
** and a new unit is a new phase, drawn at once, with a rate of its own. When p draws
** nothing the sink's fn is NULL, so the work skips what it does only for a progress line. */
struct rfs_progress progress_sink(struct progress *p);

/* Takes the line away now (before a line of output); the next update draws it again. */
void progress_clear(struct progress *p);

/* Where a command writes lines while p draws (fsck's damage, verify's problems): out itself
** when p draws nothing (out byte for byte as without p), else a line-buffered stream to out
** that takes the progress line away before each line, so the two never mix on a terminal.
** Valid until progress_end, which flushes it. NULL when out of memory. */
FILE *progress_report(struct progress *p, FILE *out);

#endif
