/*
** demo_records: the records of Northmoor Borough Council, a fictional council.
**
** Owns: the content of the demo vault, as a list of saves in date order:
** which file, its bytes, which member of staff saved it, and when. Some
** files are saved several times by different staff (a care plan revised at
** each review, a contract varied, a client list updated), so a caller that
** records versions (issue 4) gets a history worth looking at.
** Must never: name a real person or do any I/O; every name here is invented.
*/
#ifndef RECFS_TOOLS_DEMO_RECORDS_H
#define RECFS_TOOLS_DEMO_RECORDS_H

#include <stddef.h>
#include <time.h>

struct demo_save {
	const char *path;        /* below the vault's root, '/'-separated */
	const char *staff;       /* login name, e.g. "jpemberton" */
	const char *staff_name;  /* full name, e.g. "Joanne Pemberton" */
	time_t when;             /* when it was saved (UTC) */
	const void *data;
	size_t len;
};

/* Called once per save, oldest first; a non-zero return stops and is returned. */
typedef int (*demo_save_fn)(const struct demo_save *save, void *ctx);

/* Generate every save and hand each to fn. 0, fn's non-zero result, or -ENOMEM. */
int demo_records_generate(demo_save_fn fn, void *ctx);

#endif
