/*
** status_ctl: the control verb status, served from the table rfs_status_verbs.
**
**   status -> status KEY VALUE (one line each: vault, mountpoint, mounted_at, mounted_by_uid,
**             mounted_by, read_only, idle_seconds, pending_saves, last_rev, last_time,
**             last_login, last_name, policy_revision), hold NAME (each hold in force today)
**
** Owns: what a running daemon says of itself for `recfs status`. Public: every local user may
** ask, as for records and hold-list, and learns nothing those and the mount table do not
** show but the count of saves waiting; the last commit (its author) is only for the
** mounting user and root, as recfs log is.
** Must never: flush, wait on the committer, count as use of the mount (fs/idle.h), or say
** anything of a file's name or content.
*/
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "fs/control.h"
#include "fs/history/history.h"
#include "fs/ops.h"
#include "fs/retention.h"
#include "policy/policy.h"

static void put_kv(FILE *out, const char *key, const char *value)
{
	fputs("status\t", out);
	rfs_control_put_field(out, key);
	fputc('\t', out);
	rfs_control_put_field(out, value ? value : "");
	fputc('\n', out);
}

static void put_num(FILE *out, const char *key, uint64_t n)
{
	char v[24];

	snprintf(v, sizeof(v), "%" PRIu64, n);
	put_kv(out, key, v);
}

static int put_last(const struct rfs_version *v, void *arg)
{
	FILE *out = arg;
	char t[24];

	snprintf(t, sizeof(t), "%" PRId64, v->time);
	put_kv(out, "last_rev", v->rev);
	put_kv(out, "last_time", t);
	put_kv(out, "last_login", v->login);
	put_kv(out, "last_name", v->full_name);
	return 0;
}

/* A hold in force today: placed, not released, not past its until date. */
static int put_hold_in_force(const struct rfs_retention_hold_info *h, void *arg)
{
	struct rfs_date today = rfs_retention_today();
	const struct rfs_hold *hold = h->hold;

	if (rfs_date_is_set(hold->placed) && rfs_date_cmp(hold->placed, today) > 0)
		return 0;
	if (rfs_date_is_set(hold->released) && rfs_date_cmp(hold->released, today) <= 0)
		return 0;
	if (rfs_date_is_set(hold->until) && rfs_date_cmp(hold->until, today) < 0)
		return 0;
	fputs("hold\t", arg);
	rfs_control_put_field(arg, hold->name);
	fputc('\n', arg);
	return 0;
}

static void serve_status(struct rfs_fs *fs, const struct rfs_peer *peer, char **fld, int n,
                         int passed_fd, FILE *out)
{
	struct rfs_retention_listing l;
	uint64_t rev = 0;
	int rc = 0;

	(void)fld, (void)n, (void)passed_fd;
	put_kv(out, "vault", fs->v->path);
	put_kv(out, "mountpoint", fs->mountpoint);
	put_num(out, "mounted_at", (uint64_t)fs->mounted_at);
	put_num(out, "mounted_by_uid", fs->mounted_by);
	put_kv(out, "mounted_by", fs->mounted_login);
	put_kv(out, "read_only", fs->read_only ? "1" : "0");
	put_num(out, "idle_seconds", fs->idle_seconds);
	if (fs->history) {
		put_num(out, "pending_saves", rfs_history_pending(fs->history));
		if (peer->owner) {
			rc = rfs_history_log(fs->history, NULL, 1, put_last, out);
			rc = rc == -ENOENT ? 0 : rc;
		}
	}
	if (rc == 0 && fs->retention) {
		if (rfs_retention_policy_text(fs->retention, &rev))
			put_num(out, "policy_revision", rev);
		rc = rfs_retention_list(fs->retention, rfs_retention_today(), &l);
		if (rc == 0) {
			rc = rfs_retention_holds(fs->retention, &l, put_hold_in_force, out);
			rfs_retention_listing_end(&l);
		}
		rc = rc == -ENOENT ? 0 : rc;
	}
	rfs_control_reply(out, rc, NULL);
}

const struct rfs_control_verb rfs_status_verbs[] = {
	{ "status", 0, 0, RFS_VERB_PUBLIC, serve_status },
	{ NULL, 0, 0, RFS_VERB_OWNER, NULL },
};
