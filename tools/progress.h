/*
** progress: one self-redrawing status line on stderr for long commands
** (archive, verify): counts, bytes, rate and time left.
**
** Owns: the progress line and when it is drawn.
** Must never: write anything when stderr is not a terminal (unless
** RECFS_PROGRESS=1 forces it, for tests), or touch stdout.
*/
#ifndef RECFS_TOOLS_PROGRESS_H
#define RECFS_TOOLS_PROGRESS_H

#include <stdint.h>

struct progress;   /* NULL-safe: every call accepts NULL */
/* Draws on stderr only when stderr is a terminal (or RECFS_PROGRESS=1 forces it, for tests);
** otherwise returns a handle that prints nothing. what: "archive", "verify", ... */
struct progress *progress_start(const char *what, uint64_t total_items, uint64_t total_bytes);
void progress_set_total(struct progress *p, uint64_t total_items, uint64_t total_bytes);
void progress_update(struct progress *p, uint64_t items, uint64_t bytes);  /* absolute; redraws <= 10/s */
void progress_end(struct progress *p);    /* clears the line, frees */

#endif
