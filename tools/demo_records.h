/*
** demo_records: the records of Northmoor Borough Council, a fictional council.
**
** Owns: the content of the demo vault, as a list of saves in date order:
** which file, its bytes, which member of staff saved it, and when. Some
** files are saved several times by different staff (a care plan revised at
** each review, a contract varied, a client list updated), so a caller that
** records versions (issue 4) gets a history worth looking at. And the
** retention story told on top of them once the demo's policy is loaded:
** which records closed or ended when, and the holds placed on them.
** Dates of that story count back from the year the caller gives, so that the
** same cases are due (or not) whenever the demo runs.
** Must never: name a real person, do any I/O or read a clock; every name here
** is invented.
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

/* Generate every save and hand each to fn. this_year is the year the demo runs in
** (its retention story's dates count back from it). 0, fn's non-zero result, or -ENOMEM. */
int demo_records_generate(int this_year, demo_save_fn fn, void *ctx);

/* ---- the retention story, told once every save is made and the policy loaded ---- */

enum demo_action_kind {
	DEMO_SET,          /* recfs set PATH KEY=DATE */
	DEMO_CLOSE,        /* recfs close PATH --on DATE */
	DEMO_HOLD_RECORD,  /* recfs hold add PATH --name --authority */
	DEMO_HOLD_CLASS,   /* recfs hold add --class --created-between FROM..TO --name --authority */
};

#define DEMO_DATE_SIZE 11  /* "YYYY-MM-DD" and its NUL */
/* The closed telecare service's folder, from the mount's root. */
#define DEMO_CLOSED_SERVICE "telecare-alarm-service (closed 2023)"

struct demo_action {
	enum demo_action_kind kind;
	char path[128];            /* the record (below the vault's root), or "" for a class hold */
	const char *key;           /* DEMO_SET: the dated property */
	char date[DEMO_DATE_SIZE]; /* DEMO_SET, DEMO_CLOSE */
	const char *hold_name;     /* holds */
	char authority[192];       /* holds */
	const char *class_name;    /* DEMO_HOLD_CLASS */
	char from[DEMO_DATE_SIZE], to[DEMO_DATE_SIZE];  /* DEMO_HOLD_CLASS: created between */
};

typedef int (*demo_action_fn)(const struct demo_action *action, void *ctx);

/* Hand each action of the retention story to fn, in order. 0 or fn's non-zero result. */
int demo_records_retention(int this_year, demo_action_fn fn, void *ctx);

/* The story's case due for review, and its case under the named hold (paths below the root). */
void demo_records_story_cases(int this_year, char due[128], char held[128]);

#endif
