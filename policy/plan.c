/*
** plan: the disposal plan as of a day: which records are due, and for each what happens next.
**
** Owns: the order of conditions (due, then held, then the class's action and its approval).
** Must never: plan a disposal for any day but today (other days are previews only), list a
** record that is not due, or let a held record be anything but RFS_STEP_HELD.
*/
#include "policy/internal.h"

#include <errno.h>
#include <stdlib.h>

static enum rfs_plan_step step_of(const struct rfs_policy_class *cls, bool approved)
{
	switch (cls->then) {
	case RFS_ACTION_REVIEW:
		return approved ? RFS_STEP_DESTROY : RFS_STEP_AWAIT_APPROVAL;
	case RFS_ACTION_ARCHIVE:
		return RFS_STEP_ARCHIVE_THEN_DESTROY;
	case RFS_ACTION_DESTROY:
		break;
	}
	return RFS_STEP_DESTROY;
}

static int append(struct rfs_plan *plan, size_t *capacity, struct rfs_plan_entry e)
{
	if (plan->count == *capacity) {
		size_t cap = *capacity ? *capacity * 2 : 64;
		struct rfs_plan_entry *grown = realloc(plan->entries, cap * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		plan->entries = grown;
		*capacity = cap;
	}
	plan->entries[plan->count++] = e;
	return 0;
}

/* The entry for record i if it is due on as_of (1), 0 if it is not due, or an error. */
static int plan_record(const struct rfs_policy *policy, const struct rfs_record_facts *r,
                       const struct rfs_hold *holds, size_t hold_count, struct rfs_date as_of,
                       struct rfs_plan_entry *e)
{
	int rc = rfs_holds_record_due(policy, r, &e->due);

	if (rc == 0 && !r->path)
		return -EINVAL;
	if (rc == -ERANGE || (rc == 0 && !rfs_date_is_set(e->due)))
		return 0;  /* never due: past 9999, or no trigger date */
	if (rc != 0)
		return rc;
	if (rfs_date_cmp(e->due, as_of) > 0)
		return 0;
	rfs_holds_record_trigger(policy, r, &e->trigger);
	rc = rfs_holds_record_held_checked(policy, r, holds, hold_count, as_of);
	if (rc >= 0) {
		e->step = RFS_STEP_HELD;
		e->hold = (size_t)rc;
		return 1;
	}
	e->step = step_of(&policy->classes[r->class_index], r->approved);
	return 1;
}

int rfs_plan_build(const struct rfs_policy *policy, const struct rfs_record_facts *records,
                   size_t record_count, const struct rfs_hold *holds, size_t hold_count,
                   struct rfs_date as_of, struct rfs_date today, bool allow_preview,
                   struct rfs_plan **out)
{
	struct rfs_plan *plan;
	size_t capacity = 0;
	int rc = 0;

	*out = NULL;
	if (!rfs_date_valid(as_of) || !rfs_date_valid(today))
		return -EINVAL;
	if (rfs_date_cmp(as_of, today) != 0 && !allow_preview)
		return -EINVAL;  /* a disposal happens today, never as of another day */
	if (rfs_holds_check(holds, hold_count) != 0)
		return -EINVAL;
	plan = calloc(1, sizeof(*plan));
	if (!plan)
		return -ENOMEM;
	plan->as_of = as_of;
	plan->preview = rfs_date_cmp(as_of, today) != 0;
	for (size_t i = 0; i < record_count && rc == 0; i++) {
		struct rfs_plan_entry e = { .record = i };
		rc = plan_record(policy, &records[i], holds, hold_count, as_of, &e);
		if (rc == 1)
			rc = append(plan, &capacity, e);
	}
	if (rc != 0) {
		rfs_plan_free(plan);
		return rc;
	}
	*out = plan;
	return 0;
}

void rfs_plan_free(struct rfs_plan *plan)
{
	if (!plan)
		return;
	free(plan->entries);
	free(plan);
}
