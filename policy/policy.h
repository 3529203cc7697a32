/*
** policy: the retention schedule as pure functions of (policy, record facts, date).
**
** Owns: the config syntax (docs/POLICY.md), classification of paths into records, calendar
** arithmetic, holds, locks, due dates and the disposal plan.
** Must never: do I/O, read a clock or the time zone database, or depend on anything but libc.
** Every function returns 0 or a negative errno; nothing is allocated but what a *_free frees.
*/
#ifndef RECFS_POLICY_POLICY_H
#define RECFS_POLICY_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- calendar dates (policy/date.c) -------------------------------------------------- */

/* A day of the proleptic Gregorian calendar, years 1 to 9999. {0,0,0} is "no date". */
struct rfs_date {
	int32_t year;
	int32_t month;   /* 1..12 */
	int32_t day;     /* 1..31 */
};

#define RFS_DATE_NONE ((struct rfs_date){ 0, 0, 0 })
#define RFS_DATE_TEXT_SIZE 11        /* "YYYY-MM-DD" and its NUL */
#define RFS_TIMESTAMP_TEXT_SIZE 26   /* "YYYY-MM-DDTHH:MM:SS+HH:MM" and its NUL */
#define RFS_MAX_UTC_OFFSET (18 * 3600)

enum rfs_period_unit { RFS_DAYS, RFS_MONTHS, RFS_YEARS };

/* A retention period such as "8 years". */
struct rfs_period {
	uint32_t count;
	enum rfs_period_unit unit;
};

/* A moment and the UTC offset it was written in (ISO 8601 with an offset). */
struct rfs_timestamp {
	int64_t unix_seconds;
	int32_t utc_offset;  /* seconds east of UTC, at most RFS_MAX_UTC_OFFSET either way */
};

bool rfs_date_is_set(struct rfs_date d);
/* A real day between 0001-01-01 and 9999-12-31. */
bool rfs_date_valid(struct rfs_date d);
/* <0, 0, >0 like strcmp. "No date" sorts before every date. */
int rfs_date_cmp(struct rfs_date a, struct rfs_date b);
int rfs_date_days_in_month(int32_t year, int32_t month);

/* d plus n days, months or years (n may be negative). Months and years keep the day of the
** month and clamp it to the month's last day (31 Jan + 1 month = 28 or 29 Feb, 29 Feb + 1 year
** = 28 Feb). -EINVAL for an invalid d, -ERANGE outside years 1..9999. */
int rfs_date_add(struct rfs_date d, int64_t n, enum rfs_period_unit unit, struct rfs_date *out);
int rfs_date_add_period(struct rfs_date d, struct rfs_period p, struct rfs_date *out);

/* Days since 1970-01-01 (negative before), and back. */
int rfs_date_to_days(struct rfs_date d, int64_t *days);
int rfs_date_from_days(int64_t days, struct rfs_date *out);

/* Exactly "YYYY-MM-DD" (ISO 8601 extended calendar date), len bytes, no NUL needed. -EINVAL. */
int rfs_date_parse(const char *text, size_t len, struct rfs_date *out);
/* out holds RFS_DATE_TEXT_SIZE bytes. -EINVAL for an invalid d. */
int rfs_date_format(struct rfs_date d, char out[RFS_DATE_TEXT_SIZE]);

/* The local day of a Unix time at a UTC offset given by the caller (the vault's zone). */
int rfs_date_from_unix(int64_t unix_seconds, int32_t utc_offset, struct rfs_date *out);

/* Exactly "YYYY-MM-DDTHH:MM:SSZ" or "...SS+HH:MM" / "...SS-HH:MM"; no fractions, no leap
** second. Z is offset 0. -EINVAL. */
int rfs_date_timestamp_parse(const char *text, size_t len, struct rfs_timestamp *out);
/* Offset 0 is written "Z". out holds RFS_TIMESTAMP_TEXT_SIZE bytes. -EINVAL, -ERANGE. */
int rfs_date_timestamp_format(struct rfs_timestamp t, char out[RFS_TIMESTAMP_TEXT_SIZE]);
/* The local day of t in its own offset. */
int rfs_date_timestamp_local_date(struct rfs_timestamp t, struct rfs_date *out);

/* ---- the policy (policy/policy.c) ------------------------------------------------------- */

enum rfs_action { RFS_ACTION_DESTROY, RFS_ACTION_REVIEW, RFS_ACTION_ARCHIVE };
enum rfs_lock_rule { RFS_LOCK_NEVER, RFS_LOCK_WHEN_CLOSED, RFS_LOCK_ALWAYS };
enum rfs_trigger {
	RFS_TRIGGER_CREATED,   /* the record's first version */
	RFS_TRIGGER_MODIFIED,  /* the record's last version */
	RFS_TRIGGER_CLOSED,    /* the 'closed' event (recfs close) */
	RFS_TRIGGER_PROPERTY,  /* a dated property of the record, named by trigger_property */
};
enum rfs_role { RFS_ROLE_RECORDS_MANAGER, RFS_ROLE_APPROVER, RFS_ROLE_COUNT };

struct rfs_pattern;  /* a compiled `records` pattern (policy/classify.c) */

struct rfs_policy_member {
	char *name;   /* user or group name, without the '@' */
	bool group;   /* written @name */
};

struct rfs_policy_role_members {
	bool defined;                      /* the [roles] section names this role */
	size_t count;
	struct rfs_policy_member *members;
};

struct rfs_policy_class {
	char *name;
	char *records;                     /* the pattern as written */
	struct rfs_pattern *pattern;
	struct rfs_period retain;
	enum rfs_trigger trigger;
	char *trigger_property;            /* RFS_TRIGGER_PROPERTY only, else NULL */
	enum rfs_action then;
	enum rfs_lock_rule lock;           /* RFS_LOCK_NEVER when not written */
	char *authority;                   /* NULL when not written */
	unsigned line;                     /* of its [class NAME] header */
};

struct rfs_policy {
	char *organisation;                /* NULL when not written */
	char *archive;                     /* absolute folder, NULL when not written */
	struct rfs_policy_role_members roles[RFS_ROLE_COUNT];
	size_t class_count;
	struct rfs_policy_class *classes;  /* in the order written */
};

#define RFS_POLICY_MAX_TEXT (1024 * 1024)
#define RFS_POLICY_MAX_DIAGS 32
#define RFS_POLICY_DIAG_SIZE 240

/* One error: line and column (1-based; the column counts characters, a tab is one). */
struct rfs_policy_diag {
	unsigned line;
	unsigned column;
	char message[RFS_POLICY_DIAG_SIZE];
};

/* Every error of one parse, in line order, up to RFS_POLICY_MAX_DIAGS (then truncated). */
struct rfs_policy_report {
	size_t count;
	bool truncated;
	struct rfs_policy_diag diags[RFS_POLICY_MAX_DIAGS];
};

/* Parse len bytes of config text (no NUL needed). On success *out is a policy that the caller
** frees with rfs_policy_free. On -EINVAL (the text has errors) *out is NULL and report lists
** them; -EFBIG over RFS_POLICY_MAX_TEXT; -ENOMEM. report may be NULL. */
int rfs_policy_parse(const char *text, size_t len, struct rfs_policy **out,
                     struct rfs_policy_report *report);
void rfs_policy_free(struct rfs_policy *policy);

/* The class called name, or NULL. */
const struct rfs_policy_class *rfs_policy_find_class(const struct rfs_policy *policy,
                                                     const char *name);
const char *rfs_policy_role_name(enum rfs_role role);

/* ---- classification (policy/classify.c) ------------------------------------------------ */

enum rfs_place {
	RFS_PLACE_UNCLASSIFIED,  /* no class covers this path: never disposed */
	RFS_PLACE_CONTAINER,     /* a folder above records: cases above cases/NAME */
	RFS_PLACE_RECORD,        /* the record itself or anything inside it */
};

struct rfs_classification {
	enum rfs_place place;
	size_t class_index;      /* RFS_PLACE_RECORD: index into policy->classes */
	size_t record_len;       /* RFS_PLACE_RECORD: path[0..record_len) is the record's path */
};

/* Classify a path relative to the mount's root: components joined by '/', no leading or
** trailing '/', no empty, "." or ".." component; "" is the root. -EINVAL for a malformed
** path. The most specific pattern wins (docs/POLICY.md, "Which class a path belongs to"). */
int rfs_classify_path(const struct rfs_policy *policy, const char *path, size_t len,
                        struct rfs_classification *out);

/* ---- holds, locks, due dates (policy/holds.c) ------------------------------------------ */

enum rfs_hold_scope { RFS_HOLD_RECORDS, RFS_HOLD_CLASS };

/* A hold as the daemon keeps it. Nothing here is owned by the policy module. */
struct rfs_hold {
	const char *name;
	const char *authority;
	enum rfs_hold_scope scope;
	const char *const *records;    /* RFS_HOLD_RECORDS: record paths */
	size_t record_count;
	const char *class_name;        /* RFS_HOLD_CLASS */
	struct rfs_date created_from;  /* RFS_HOLD_CLASS: optional inclusive range of the */
	struct rfs_date created_to;    /* record's creation day (both set, or both none) */
	struct rfs_date placed;        /* the day it was placed: it holds from that day */
	struct rfs_date until;         /* optional: it holds through that day, not after */
	struct rfs_date released;      /* optional: it holds no more from that day */
};

/* What the daemon knows of one record. Dates it does not know are RFS_DATE_NONE. */
struct rfs_record_property {
	const char *name;
	struct rfs_date date;
};

struct rfs_record_facts {
	const char *path;              /* the record's path, as rfs_classify_path gave it */
	size_t class_index;
	struct rfs_date created;
	struct rfs_date modified;
	struct rfs_date closed;
	const struct rfs_record_property *properties;
	size_t property_count;
	struct rfs_date extended_until; /* a review kept it until this day (optional) */
	bool approved;                  /* an approver approved its destruction (review classes) */
};

/* Index of the first hold that holds the record on day, or -ENOENT if none does. -EINVAL for
** an invalid day, malformed facts (bad class index, no path, an invalid date), or any malformed
** hold (an invalid date, half a creation range or one that ends before it starts, no class). */
int rfs_holds_record_held(const struct rfs_policy *policy, const struct rfs_record_facts *record,
                    const struct rfs_hold *holds, size_t hold_count, struct rfs_date day);

/* 1 if the record's class locks it on day (always; or when closed and closed on or before
** day), 0 if not, -EINVAL for a bad class index or day. Holds are separate: rfs_holds_record_held. */
int rfs_holds_record_locked(const struct rfs_policy *policy, const struct rfs_record_facts *record,
                      struct rfs_date day);

/* The trigger date of the record's rule, or RFS_DATE_NONE ("no trigger date"). */
int rfs_holds_record_trigger(const struct rfs_policy *policy, const struct rfs_record_facts *record,
                       struct rfs_date *out);

/* Due date = trigger + retain, or the review's extended_until when later. RFS_DATE_NONE when
** the trigger date is missing (never due). -ERANGE past 9999-12-31 (never due, too). */
int rfs_holds_record_due(const struct rfs_policy *policy, const struct rfs_record_facts *record,
                   struct rfs_date *out);

/* ---- the disposal plan (policy/plan.c) ------------------------------------------------- */

enum rfs_plan_step {
	RFS_STEP_DESTROY,             /* due, not held: destroy now */
	RFS_STEP_ARCHIVE_THEN_DESTROY,/* due, not held: archive to policy->archive, then destroy */
	RFS_STEP_AWAIT_APPROVAL,      /* due, not held, review class, not approved yet */
	RFS_STEP_HELD,                /* due, but a hold stops it: never disposed */
};

struct rfs_plan_entry {
	size_t record;                /* index into the caller's records */
	enum rfs_plan_step step;
	struct rfs_date trigger;
	struct rfs_date due;
	size_t hold;                  /* RFS_STEP_HELD: index into the caller's holds */
};

/* The records due on as_of, in the caller's order. Entries point into the caller's arrays. */
struct rfs_plan {
	struct rfs_date as_of;
	bool preview;                 /* as_of is not today: shown, never carried out */
	size_t count;
	struct rfs_plan_entry *entries;
};

/* Plan as of as_of, holds judged on as_of. A plan for any day but today is only a preview:
** -EINVAL unless allow_preview (recfs due, dispose --dry-run --as-of); a disposal passes
** allow_preview false, so it never runs as of a later day. Records whose due date is missing
** or past 9999 are never due and not listed. *out is freed with rfs_plan_free. -EINVAL for bad
** dates, facts or holds; -ENOMEM. */
int rfs_plan_build(const struct rfs_policy *policy, const struct rfs_record_facts *records,
                   size_t record_count, const struct rfs_hold *holds, size_t hold_count,
                   struct rfs_date as_of, struct rfs_date today, bool allow_preview,
                   struct rfs_plan **out);
void rfs_plan_free(struct rfs_plan *plan);

#endif
