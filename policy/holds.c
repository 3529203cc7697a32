/*
** holds: whether a record is held or locked on a day, its trigger date and its due date.
**
** Owns: the meaning of a hold's dates (placed, until, released), of a class-and-date-range
** hold (a moratorium), of a class's lock rule, and of "no trigger date".
** Must never: call a record free of holds when a fact it needs is unknown (a record of unknown
** creation day is held by every range hold of its class), or make up a trigger date.
*/
#include "policy/internal.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

/* An unset date is fine; a set one must be a real day. */
static bool date_ok(struct rfs_date d)
{
	return !rfs_date_is_set(d) || rfs_date_valid(d);
}

static int check_record(const struct rfs_policy *policy, const struct rfs_record_facts *r)
{
	if (r->class_index >= policy->class_count || !date_ok(r->created) ||
	    !date_ok(r->modified) || !date_ok(r->closed) || !date_ok(r->extended_until))
		return -EINVAL;
	for (size_t i = 0; i < r->property_count; i++)
		if (!r->properties[i].name || !date_ok(r->properties[i].date))
			return -EINVAL;
	return 0;
}

static int check_hold(const struct rfs_hold *h)
{
	if (!date_ok(h->placed) || !date_ok(h->until) || !date_ok(h->released))
		return -EINVAL;
	if (h->scope == RFS_HOLD_RECORDS)
		return h->records || h->record_count == 0 ? 0 : -EINVAL;
	if (h->scope != RFS_HOLD_CLASS || !h->class_name ||
	    rfs_date_is_set(h->created_from) != rfs_date_is_set(h->created_to) ||
	    !date_ok(h->created_from) || !date_ok(h->created_to))
		return -EINVAL;
	if (rfs_date_is_set(h->created_from) && rfs_date_cmp(h->created_from, h->created_to) > 0)
		return -EINVAL;
	return 0;
}

/* Is the hold in force on day: placed on or before it, not past until, not released? */
static bool hold_in_force(const struct rfs_hold *h, struct rfs_date day)
{
	if (rfs_date_is_set(h->placed) && rfs_date_cmp(day, h->placed) < 0)
		return false;
	if (rfs_date_is_set(h->until) && rfs_date_cmp(day, h->until) > 0)
		return false;
	return !rfs_date_is_set(h->released) || rfs_date_cmp(day, h->released) < 0;
}

static bool hold_covers(const struct rfs_policy *policy, const struct rfs_hold *h,
                        const struct rfs_record_facts *r)
{
	if (h->scope == RFS_HOLD_RECORDS) {
		for (size_t i = 0; i < h->record_count; i++)
			if (h->records[i] && strcmp(h->records[i], r->path) == 0)
				return true;
		return false;
	}
	if (strcmp(h->class_name, policy->classes[r->class_index].name) != 0)
		return false;
	if (!rfs_date_is_set(h->created_from) || !rfs_date_is_set(r->created))
		return true;
	return rfs_date_cmp(r->created, h->created_from) >= 0 &&
	       rfs_date_cmp(r->created, h->created_to) <= 0;
}

int rfs_holds_check(const struct rfs_hold *holds, size_t hold_count)
{
	if (hold_count > INT_MAX)
		return -EINVAL;  /* the index of a hold is returned as an int */
	for (size_t i = 0; i < hold_count; i++)
		if (check_hold(&holds[i]) != 0)
			return -EINVAL;
	return 0;
}

int rfs_holds_record_held_checked(const struct rfs_policy *policy, const struct rfs_record_facts *record,
                            const struct rfs_hold *holds, size_t hold_count, struct rfs_date day)
{
	for (size_t i = 0; i < hold_count; i++)
		if (hold_in_force(&holds[i], day) && hold_covers(policy, &holds[i], record))
			return (int)i;
	return -ENOENT;
}

int rfs_holds_record_held(const struct rfs_policy *policy, const struct rfs_record_facts *record,
                    const struct rfs_hold *holds, size_t hold_count, struct rfs_date day)
{
	if (check_record(policy, record) != 0 || !rfs_date_valid(day) || !record->path ||
	    rfs_holds_check(holds, hold_count) != 0)
		return -EINVAL;
	return rfs_holds_record_held_checked(policy, record, holds, hold_count, day);
}

int rfs_holds_record_locked(const struct rfs_policy *policy, const struct rfs_record_facts *record,
                      struct rfs_date day)
{
	int rc = check_record(policy, record);

	if (rc != 0 || !rfs_date_valid(day))
		return -EINVAL;
	switch (policy->classes[record->class_index].lock) {
	case RFS_LOCK_ALWAYS:
		return 1;
	case RFS_LOCK_WHEN_CLOSED:
		return rfs_date_is_set(record->closed) && rfs_date_cmp(record->closed, day) <= 0;
	case RFS_LOCK_NEVER:
		return 0;
	}
	return -EINVAL;
}

int rfs_holds_record_trigger(const struct rfs_policy *policy, const struct rfs_record_facts *record,
                       struct rfs_date *out)
{
	int rc = check_record(policy, record);
	const struct rfs_policy_class *cls;

	if (rc != 0)
		return rc;
	cls = &policy->classes[record->class_index];
	*out = RFS_DATE_NONE;
	switch (cls->trigger) {
	case RFS_TRIGGER_CREATED: *out = record->created; break;
	case RFS_TRIGGER_MODIFIED: *out = record->modified; break;
	case RFS_TRIGGER_CLOSED: *out = record->closed; break;
	case RFS_TRIGGER_PROPERTY:
		for (size_t i = 0; i < record->property_count; i++)
			if (strcmp(record->properties[i].name, cls->trigger_property) == 0)
				*out = record->properties[i].date;
		break;
	}
	return 0;
}

int rfs_holds_record_due(const struct rfs_policy *policy, const struct rfs_record_facts *record,
                   struct rfs_date *out)
{
	struct rfs_date trigger, due;
	int rc = rfs_holds_record_trigger(policy, record, &trigger);

	*out = RFS_DATE_NONE;
	if (rc != 0 || !rfs_date_is_set(trigger))
		return rc;
	rc = rfs_date_add_period(trigger, policy->classes[record->class_index].retain, &due);
	if (rc != 0)
		return rc;
	if (rfs_date_is_set(record->extended_until) && rfs_date_cmp(record->extended_until, due) > 0)
		due = record->extended_until;
	*out = due;
	return 0;
}
