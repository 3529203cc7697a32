/*
** dispose_ctl: the verbs dispose, disposals and certificate (see dispose.h
** for the order a disposal goes in), and the finish of a disposal a crash
** stopped. The plan is policy/'s rfs_plan_build over fs/retention.h's
** listing; the steps on live/ are fs/dispose.c's; the register's lines are
** fs/register.c's.
** Must never: dispose of anything as of a day but today, or of a record the
** plan does not say is due and free to go; let two disposals run at once.
*/
#include "fs/dispose.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "crypto/secmem.h"
#include "fs/faultpoint.h"
#include "fs/history/history.h"
#include "fs/live_restore.h"
#include "fs/log.h"
#include "fs/register.h"
#include "fs/retention.h"
#include "policy/policy.h"

/* One disposal at a time: each takes the next register number. */
static pthread_mutex_t dispose_lock = PTHREAD_MUTEX_INITIALIZER;

#define REGISTER_READ_MAX (((size_t)1 << 31) - 2)   /* beyond it: -EFBIG */
#define MAX_ARCHIVES_A_DAY 1000          /* of one record, before "cannot take" stops it */

/* ---- the register in live/ ------------------------------------------------------ */

/* The text of a file of the retention folder, whole, malloc'd ("" when there is none). */
static int read_whole(struct rfs_fs *fs, const char *path, char **text, size_t *len)
{
	int rc = rfs_live_read_whole(fs, path, REGISTER_READ_MAX, text, len);

	if (rc == -ENOENT) {
		*len = 0;
		rc = (*text = strdup("")) ? 0 : -ENOMEM;
	}
	return rc;
}

/* The register as the daemon has it now, checked (problems counted, lines to report). */
static int load_register(struct rfs_fs *fs, struct rfs_register *reg, FILE *report)
{
	char *text;
	size_t len;
	int rc = read_whole(fs, RFS_REGISTER_PATH, &text, &len);

	if (rc < 0)
		return rc;
	rc = rfs_register_load(text, len, fs->v->keys, reg, report);
	free(text);
	return rc;
}

/* ---- helpers ------------------------------------------------------------------ */

static void timestamp_now(char out[RFS_TIMESTAMP_TEXT_SIZE])
{
	time_t now = time(NULL);
	struct tm tm;

	localtime_r(&now, &tm);
	if (rfs_date_timestamp_format((struct rfs_timestamp){ now, (int32_t)tm.tm_gmtoff }, out) < 0)
		snprintf(out, RFS_TIMESTAMP_TEXT_SIZE, "%lld", (long long)now);
}

static void date_text(struct rfs_date d, char out[RFS_DATE_TEXT_SIZE])
{
	if (!rfs_date_is_set(d) || rfs_date_format(d, out) < 0)
		out[0] = '\0';
}

/* "login(uid)", as the journal names people. */
static void person(const struct rfs_peer *peer, char *out, size_t size)
{
	snprintf(out, size, "%s(%u)", peer->login, (unsigned)peer->uid);
}

static const char *unit_name(enum rfs_period_unit u, uint32_t n)
{
	if (u == RFS_DAYS)
		return n == 1 ? "day" : "days";
	if (u == RFS_MONTHS)
		return n == 1 ? "month" : "months";
	return n == 1 ? "year" : "years";
}

static const char *trigger_name(const struct rfs_policy_class *c)
{
	switch (c->trigger) {
	case RFS_TRIGGER_CREATED: return "created";
	case RFS_TRIGGER_MODIFIED: return "modified";
	case RFS_TRIGGER_CLOSED: return "closed";
	default: return c->trigger_property;
	}
}

static void rule_text(const struct rfs_policy_class *c, char *out, size_t size)
{
	snprintf(out, size, "%" PRIu32 " %s after %s, then %s", c->retain.count,
	         unit_name(c->retain.unit, c->retain.count), trigger_name(c),
	         c->then == RFS_ACTION_DESTROY ? "destroy" : c->then == RFS_ACTION_REVIEW ? "review"
	                                                                           : "archive");
}

/* "<class>-<record path with / as __>-<date>.tar", the copy-th of that day "...-<date>-<copy>.tar". */
static void archive_name(const char *class_name, const char *path, const char *date,
                         unsigned copy, char *out, size_t size)
{
	size_t n = (size_t)snprintf(out, size, "%s-", class_name);

	for (const char *p = path; *p && n + 3 < size; p++) {
		if (*p == '/') {
			out[n++] = '_';
			out[n++] = '_';
		} else {
			out[n++] = *p;
		}
	}
	if (copy > 1)
		snprintf(out + n, size - n, "-%s-%u.tar", date, copy);
	else
		snprintf(out + n, size - n, "-%s.tar", date);
}

/* Whether path is one of the comma-separated list (a leading '/' or not). */
static bool listed(const char *list, const char *path)
{
	size_t len;

	path += *path == '/';
	len = strlen(path);
	for (const char *p = list; *p;) {
		size_t n;

		p += *p == '/';
		n = strcspn(p, ",");
		if (n == len && !strncmp(p, path, n))
			return true;
		p += n + (p[n] == ',');
	}
	return false;
}

/* The journal's review-approve lines (fields: seq, timestamp, login(uid), action, path,
** reason), read once per run: who, path and reason point into text. */
struct approval {
	const char *who, *path, *reason;
};
struct approvals {
	bool read;
	char *text;
	size_t count;
	struct approval *list;
};

static void approvals_read(struct rfs_fs *fs, struct approvals *a)
{
	char *line, *save = NULL;
	size_t len, cap = 0;

	a->read = true;
	if (read_whole(fs, RFS_RETENTION_JOURNAL, &a->text, &len) < 0)
		return;
	for (line = strtok_r(a->text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *fld[8];
		int n = rfs_control_split_fields(line, fld, 8);

		if (n < 5 || strcmp(fld[3], "review-approve") != 0)
			continue;
		if (a->count == cap) {
			struct approval *m = realloc(a->list, (cap = cap ? cap * 2 : 16) * sizeof(*m));

			if (!m)
				return;                     /* the ones so far; the rest name nobody */
			a->list = m;
		}
		a->list[a->count++] = (struct approval){ fld[2], fld[4], n >= 6 ? fld[5] : "" };
	}
}

static void approvals_free(struct approvals *a)
{
	free(a->list);
	free(a->text);
	memset(a, 0, sizeof(*a));
}

/* Who approved the destruction of path: its newest review-approve line. */
static void approver_of(struct rfs_fs *fs, struct approvals *a, const char *path, char *who,
                        size_t whosz, char *reason, size_t reasonsz)
{
	who[0] = reason[0] = '\0';
	if (!a->read)
		approvals_read(fs, a);
	for (size_t i = a->count; i-- > 0;) {
		if (!strcmp(a->list[i].path, path)) {
			snprintf(who, whosz, "%s", a->list[i].who);
			snprintf(reason, reasonsz, "%s", a->list[i].reason);
			return;
		}
	}
}

/* ---- one disposal ------------------------------------------------------------------- */

struct run {
	struct rfs_fs *fs;
	struct rfs_retention *ret;
	const struct rfs_peer *peer;
	const char *reason;
	char today[RFS_DATE_TEXT_SIZE];
	FILE *out;
	struct approvals approvals;
	/* The register, read and checked once per run (rc < 0: why nothing is disposed); each
	** disposal appends its line to text and becomes last. */
	struct {
		bool read;
		int rc;
		char *text;
		size_t len;
		bool have_last;
		struct rfs_register_entry last;   /* only its number and entry_hash are used */
	} reg;
	char policy_rev[RFS_REV_HEX + 1];      /* the commit of policy.conf as loaded, or "" */
};

/* One record the plan lists, copied out of the listing (whose lock a write must not hold). */
struct due_item {
	char *path, *class_name, *hold, *authority;
	char rule[160];
	bool review_class;
	enum rfs_plan_step step;
	struct rfs_date trigger, due;
};

struct due_list {
	size_t count;
	struct due_item *items;
	char *archive;                 /* the policy's archive folder, or NULL */
	char *organisation;            /* the policy's, or NULL */
};

static void put_line(FILE *out, const char *tag, const char *const *fields, size_t n)
{
	fputs(tag, out);
	for (size_t i = 0; i < n; i++) {
		fputc('\t', out);
		rfs_control_put_field(out, fields[i] ? fields[i] : "");
	}
	fputc('\n', out);
}

static void skipped(struct run *x, const char *path, const char *why)
{
	const char *f[] = { path, why };

	put_line(x->out, "skipped", f, 2);
	rfs_log(LOG_WARNING, "dispose: %s not disposed: %s", path, why);
}

/* The register as this run has it: read and checked at the first disposal only. */
static int register_ready(struct run *x)
{
	struct rfs_register reg = { 0 };

	if (x->reg.read)
		return x->reg.rc;
	x->reg.read = true;
	x->reg.rc = read_whole(x->fs, RFS_REGISTER_PATH, &x->reg.text, &x->reg.len);
	if (x->reg.rc == 0)
		x->reg.rc = rfs_register_load(x->reg.text, x->reg.len, x->fs->v->keys, &reg, NULL);
	if (x->reg.rc == 0 && reg.problems)
		x->reg.rc = -EBADMSG;
	if (x->reg.rc == 0 && reg.count) {
		x->reg.have_last = true;
		x->reg.last.number = reg.entries[reg.count - 1].number;
		memcpy(x->reg.last.entry_hash, reg.entries[reg.count - 1].entry_hash, RFS_HASH_HEX + 1);
	}
	rfs_register_free(&reg);
	return x->reg.rc;
}

/* The register line and journal line of disposal e, written as the caller's saves. */
static int write_register(struct run *x, struct rfs_register_entry *e)
{
	char *line = NULL, number[24];
	struct rfs_who caller;
	const struct rfs_who *who = rfs_retention_author(x->ret, x->peer, &caller);
	int rc = rfs_register_line_after(x->reg.have_last ? &x->reg.last : NULL, e,
	                                 x->fs->v->keys, &line);
	size_t n = line ? strlen(line) : 0;

	/* An append: one write at the register's end and one save of the blocks it changed. */
	if (rc == 0)
		rc = x->reg.len > 0 ? rfs_live_append_file(x->fs, RFS_REGISTER_PATH, line, n, who)
		                    : rfs_live_write_file(x->fs, RFS_REGISTER_PATH, line, n, who);
	if (rc == 0) {
		x->reg.len += n;
		x->reg.have_last = true;
		x->reg.last.number = e->number;
		memcpy(x->reg.last.entry_hash, e->entry_hash, RFS_HASH_HEX + 1);
	}
	if (rc == 0) {
		const char *f[] = { number, e->path, e->class_name };

		snprintf(number, sizeof(number), "%" PRIu64, e->number);
		rc = rfs_retention_journal_append(x->ret, x->peer, "dispose", f, 3);
	}
	free(line);
	return rc;
}

/* Once per run: the commit of /.recfs/retention/policy.conf as loaded, so an auditor can
** 'recfs show --rev' the policy a disposal was under (the load committed first). */
static int newest_rev(const struct rfs_version *v, void *arg)
{
	snprintf(arg, RFS_REV_HEX + 1, "%s", v->rev);
	return 1;
}

static void find_policy_rev(struct run *x)
{
	x->policy_rev[0] = '\0';
	if (rfs_history_flush(x->fs->history) == 0)
		(void)rfs_history_log(x->fs->history, "/" RFS_RETENTION_POLICY, 1, newest_rev,
		                      x->policy_rev);
}

/* How many of the ids in d still have a key, or -ENOMEM. */
static long keys_left(struct rfs_fs *fs, const struct rfs_dispose_ids *d)
{
	uint8_t *key = rfs_secmem_key_alloc();
	long n = 0;

	for (size_t i = 0; key && i < d->count; i++)
		n += rfs_keystore_load(fs->v->ks, d->ids[i], key) == 0;
	rfs_secmem_key_free(key);
	return key ? n : -ENOMEM;
}

static void dispose_one(struct run *x, const struct due_list *dl, const struct due_item *it,
                        const struct rfs_subtree *sub)
{
	char err[512], name[512], trigger[RFS_DATE_TEXT_SIZE], due[RFS_DATE_TEXT_SIZE];
	char stamp[RFS_TIMESTAMP_TEXT_SIZE], runner[96], approver[96] = "", review[512] = "";
	char hash[65], counts[3][24], number[24];
	struct rfs_dispose_ids d = { 0 };
	int rc;

	if (it->step == RFS_STEP_ARCHIVE_THEN_DESTROY) {
		if (!dl->archive) {
			skipped(x, it->path, "the policy names no archive folder");
			return;
		}
		/* An archive already there is never overwritten: the next free name of the day. */
		rc = -EEXIST;
		for (unsigned copy = 1; rc == -EEXIST && copy <= MAX_ARCHIVES_A_DAY; copy++) {
			archive_name(it->class_name, it->path + (*it->path == '/'), x->today, copy, name,
			             sizeof(name));
			rc = rfs_dispose_archive(x->fs, x->peer, it->path, dl->archive, name, err, sizeof(err));
		}
		if (rc < 0) {
			skipped(x, it->path, err);
			return;
		}
	}
	if (it->review_class) {
		char why[400];

		approver_of(x->fs, &x->approvals, it->path, approver, sizeof(approver), why,
		            sizeof(why));
		snprintf(review, sizeof(review), "approved%s%s", *why ? ": " : "", why);
	}
	rc = rfs_dispose_collect(x->fs, it->path, sub && sub->ids ? sub : NULL, &d);
	if (rc == 0)
		rc = register_ready(x);
	if (rc < 0) {
		snprintf(err, sizeof(err), "%s", rc == -EBADMSG ? "the disposal register does not "
		         "verify ('recfs disposals' says why): nothing is disposed" : strerror(-rc));
		skipped(x, it->path, err);
		goto out;
	}
	uint64_t n = x->reg.have_last ? x->reg.last.number + 1 : 1;

	rc = rfs_dispose_write_list(x->fs, n, &d, hash);
	timestamp_now(stamp);
	date_text(it->trigger, trigger);
	date_text(it->due, due);
	person(x->peer, runner, sizeof(runner));
	struct rfs_register_entry e = {
		.timestamp = stamp, .path = it->path, .class_name = it->class_name, .rule = it->rule,
		.policy_rev = x->policy_rev, .trigger = trigger, .due = due, .approved_by = approver,
		.run_by = runner, .review = review, .organisation = dl->organisation,
		.authority = it->authority, .files = d.files, .folders = d.folders,
		.versions = d.versions,
	};
	memcpy(e.ids_sha256, hash, sizeof(e.ids_sha256));
	if (rc == 0)
		rc = write_register(x, &e);
	if (rc < 0) {
		snprintf(err, sizeof(err), "the register could not be written (%s): nothing is "
		         "destroyed", strerror(-rc));
		skipped(x, it->path, err);
		goto out;
	}
	/* From here the register names disposal n: what fails is finished at the next mount. */
	struct rfs_who caller;

	rc = rfs_dispose_remove(x->fs, it->path, rfs_retention_author(x->ret, x->peer, &caller));
	rfs_retention_live_changed(x->ret);   /* the record left live/ */
	if (rc == 0 || rc == -ENOENT)
		rc = rfs_history_flush(x->fs->history);
	RFS_FAULT_POINT("dispose_committed", x->fs->v->dirfd);
	if (rc == 0)
		rc = rfs_dispose_shred(x->fs, &d);
	if (rc < 0) {
		snprintf(err, sizeof(err), "disposal %" PRIu64 " is in the register but was stopped "
		         "(%s): it is finished at the next mount", n, strerror(-rc));
		skipped(x, it->path, err);
		goto out;
	}
	rfs_log(LOG_NOTICE, "dispose: disposal %" PRIu64 ": %s (%s) destroyed, run by %s%s%s", n,
	        it->path, it->class_name, runner, *approver ? ", approved by " : "", approver);
	snprintf(number, sizeof(number), "%" PRIu64, n);
	snprintf(counts[0], sizeof(counts[0]), "%zu", d.files);
	snprintf(counts[1], sizeof(counts[1]), "%zu", d.folders);
	snprintf(counts[2], sizeof(counts[2]), "%zu", d.versions);
	const char *f[] = { number, it->path, it->class_name, rfs_retention_step_name(it->step), counts[0],
	                    counts[1], counts[2] };
	put_line(x->out, "disposed", f, 7);
out:
	rfs_dispose_ids_free(&d);
}

/* ---- the verb dispose ---------------------------------------------------------------- */

/* Field order of the request: dry, as-of, reason, approve (comma-separated), extend, until. */
enum { F_DRY = 1, F_AS_OF, F_REASON, F_APPROVE, F_EXTEND, F_UNTIL, F_COUNT };

static void due_free(struct due_list *dl)
{
	for (size_t i = 0; i < dl->count; i++) {
		free(dl->items[i].path);
		free(dl->items[i].class_name);
		free(dl->items[i].hold);
		free(dl->items[i].authority);
	}
	free(dl->items);
	free(dl->archive);
	free(dl->organisation);
	memset(dl, 0, sizeof(*dl));
}

/* The plan as of as_of, copied out of the listing (a preview unless as_of is today). */
static int due_on(struct run *x, struct rfs_date as_of, struct rfs_date today, struct due_list *dl)
{
	struct rfs_retention_listing l = { 0 };
	struct rfs_record_facts *facts = NULL;
	struct rfs_plan *plan = NULL;
	int rc = rfs_retention_list(x->ret, as_of, &l);

	memset(dl, 0, sizeof(*dl));
	if (rc < 0)
		return rc;
	facts = calloc(l.count ? l.count : 1, sizeof(*facts));
	rc = facts ? 0 : -ENOMEM;
	for (size_t i = 0; rc == 0 && i < l.count; i++)
		facts[i] = l.records[i].facts;
	if (rc == 0)
		rc = rfs_plan_build(l.policy, facts, l.count, l.holds, l.hold_count, as_of, today,
		                    rfs_date_cmp(as_of, today) != 0, &plan);
	if (rc == 0 && plan->count && !(dl->items = calloc(plan->count, sizeof(*dl->items))))
		rc = -ENOMEM;
	if (rc == 0 && l.policy->archive && !(dl->archive = strdup(l.policy->archive)))
		rc = -ENOMEM;
	if (rc == 0 && l.policy->organisation && !(dl->organisation = strdup(l.policy->organisation)))
		rc = -ENOMEM;
	for (size_t i = 0; rc == 0 && i < plan->count; i++) {
		const struct rfs_plan_entry *pe = &plan->entries[i];
		const struct rfs_retention_record *rec = &l.records[pe->record];
		const struct rfs_policy_class *c = &l.policy->classes[rec->class_index];
		struct due_item *it = &dl->items[dl->count++];

		it->path = strdup(rec->path);
		it->class_name = strdup(c->name);
		it->hold = strdup(pe->step == RFS_STEP_HELD ? l.holds[pe->hold].name : "");
		if (c->authority && !(it->authority = strdup(c->authority)))
			rc = -ENOMEM;
		rule_text(c, it->rule, sizeof(it->rule));
		it->review_class = c->then == RFS_ACTION_REVIEW;
		it->step = pe->step;
		it->trigger = pe->trigger;
		it->due = pe->due;
		if (!it->path || !it->class_name || !it->hold)
			rc = -ENOMEM;
	}
	rfs_plan_free(plan);
	free(facts);
	rfs_retention_listing_end(&l);
	if (rc < 0)
		due_free(dl);
	return rc;
}

/* --approve and --extend: the review lines, by an approver, of records due for review. */
static int review(struct run *x, const struct due_list *dl, char **fld)
{
	const char *approve = fld[F_APPROVE], *extend = fld[F_EXTEND];
	size_t found = 0, wanted = *extend ? 1 : 0;

	for (const char *p = approve; *p; p += strcspn(p, ",") + (p[strcspn(p, ",")] == ','))
		wanted++;
	for (size_t i = 0; i < dl->count; i++) {
		const struct due_item *it = &dl->items[i];
		bool in_review = it->step == RFS_STEP_AWAIT_APPROVAL;
		int rc = 0;

		if (*approve && listed(approve, it->path) && in_review) {
			const char *f[] = { it->path, fld[F_REASON] };

			rc = rfs_retention_journal_append(x->ret, x->peer, "review-approve", f, 2);
			if (rc == 0)
				put_line(x->out, "approved", f, 1);
			found++;
		} else if (*extend && listed(extend, it->path) && in_review) {
			const char *f[] = { it->path, fld[F_UNTIL], fld[F_REASON] };

			rc = rfs_retention_journal_append(x->ret, x->peer, "review-extend", f, 3);
			if (rc == 0)
				put_line(x->out, "extended", f, 2);
			found++;
		}
		if (rc < 0)
			return rc;
	}
	if (found == wanted)
		return 0;
	rfs_control_refuse(x->out, -EINVAL, "a record given to --approve or --extend is not due for "
	                   "review today (see 'recfs due'): nothing after it was recorded");
	return -ECANCELED;
}

static void serve_dispose(struct rfs_fs *fs, const struct rfs_peer *peer, char **fld, int n,
                          int passed_fd, FILE *out)
{
	struct run x = { .fs = fs, .ret = fs->retention, .peer = peer, .reason = fld[F_REASON],
	                 .out = out };
	struct due_list dl = { 0 };
	struct rfs_date today = rfs_retention_today(), as_of = today, until;
	bool dry = !strcmp(fld[F_DRY], "1"), reviewing = *fld[F_APPROVE] || *fld[F_EXTEND];
	char msg[512];
	int rc;

	if (*fld[F_AS_OF] && (rfs_date_parse(fld[F_AS_OF], strlen(fld[F_AS_OF]), &as_of) < 0 || !dry)) {
		rfs_control_refuse(out, -EINVAL, "--as-of takes a date YYYY-MM-DD, with --dry-run only: "
		                   "a disposal runs as of today");
		return;
	}
	if (*fld[F_EXTEND] && (rfs_date_parse(fld[F_UNTIL], strlen(fld[F_UNTIL]), &until) < 0 ||
	                       rfs_date_cmp(until, today) <= 0 || !*fld[F_REASON])) {
		rfs_control_refuse(out, -EINVAL, "--extend needs --until DATE (after today) and --reason");
		return;
	}
	if (reviewing && dry) {
		rfs_control_refuse(out, -EINVAL, "--approve and --extend are decisions: not with --dry-run");
		return;
	}
	if (!dry) {
		rc = rfs_retention_change_refusal(x.ret, fs->v->path, msg, sizeof(msg));
		if (rc < 0) {
			rfs_control_refuse(out, rc, msg);
			return;
		}
	}
	bool manager = rfs_retention_may(x.ret, peer, RFS_ROLE_RECORDS_MANAGER);
	bool approver = rfs_retention_may(x.ret, peer, RFS_ROLE_APPROVER);

	if (reviewing ? !approver : !(manager || (dry && approver))) {
		snprintf(msg, sizeof(msg), "%s is not in the %s role of the policy in force", peer->login,
		         reviewing ? "approver" : "records-manager");
		rfs_control_refuse(out, -EACCES, msg);
		return;
	}
	if (!dry && !fs->history) {
		rfs_control_refuse(out, -EROFS, "a read-only mount disposes of nothing");
		return;
	}
	pthread_mutex_lock(&dispose_lock);
	date_text(today, x.today);
	rc = due_on(&x, as_of, today, &dl);
	if (rc == 0 && reviewing) {
		rc = review(&x, &dl, fld);
		due_free(&dl);
		/* An approver alone approves; the records manager disposes (now, if it is both). */
		if (rc == 0 && manager)
			rc = due_on(&x, today, today, &dl);
	}
	/* What history's index holds of every record to go, in one pass over it. */
	struct rfs_subtree *subs = rc == 0 && !dry ? calloc(dl.count ? dl.count : 1, sizeof(*subs)) : NULL;
	const char **paths = subs ? calloc(dl.count ? dl.count : 1, sizeof(*paths)) : NULL;
	size_t ngo = 0;

	for (size_t i = 0; paths && i < dl.count; i++) {
		if (dl.items[i].step == RFS_STEP_DESTROY ||
		    dl.items[i].step == RFS_STEP_ARCHIVE_THEN_DESTROY)
			paths[ngo++] = dl.items[i].path;
	}
	if (ngo)
		find_policy_rev(&x);
	if (paths && ngo && rfs_dispose_subtrees(fs, paths, ngo, subs) < 0)
		ngo = 0;                   /* each record asks on its own */
	/* Progress: of the records that go, the one step that takes long. */
	struct rfs_control_ticker tick;
	struct rfs_progress progress = rfs_control_ticker(&tick, out);
	size_t to_go = 0, gone = 0;

	for (size_t i = 0; !dry && i < dl.count; i++)
		to_go += dl.items[i].step == RFS_STEP_DESTROY ||
		         dl.items[i].step == RFS_STEP_ARCHIVE_THEN_DESTROY;
	if (to_go)
		rfs_progress_note(&progress, "records", 0, 0, to_go, 0);
	ngo = 0;
	for (size_t i = 0; rc == 0 && i < dl.count; i++) {
		const struct due_item *it = &dl.items[i];
		char trigger[RFS_DATE_TEXT_SIZE], due[RFS_DATE_TEXT_SIZE];

		date_text(it->trigger, trigger);
		date_text(it->due, due);
		const char *f[] = { it->path, it->class_name, rfs_retention_step_name(it->step), trigger, due, it->hold };

		if (dry)
			put_line(out, "would", f, 6);
		else if (it->step == RFS_STEP_HELD) {
			snprintf(msg, sizeof(msg), "held by the hold '%s'", it->hold);
			skipped(&x, it->path, msg);
		}
		else if (it->step == RFS_STEP_AWAIT_APPROVAL)
			skipped(&x, it->path, "awaiting approval (an approver's 'recfs dispose --approve')");
		else {
			dispose_one(&x, &dl, it, subs ? &subs[ngo++] : NULL);
			rfs_progress_note(&progress, "records", ++gone, 0, to_go, 0);
		}
	}
	for (size_t i = 0; subs && i < dl.count; i++)
		rfs_subtree_free(&subs[i]);
	free(subs);
	free(paths);
	approvals_free(&x.approvals);
	free(x.reg.text);
	pthread_mutex_unlock(&dispose_lock);
	due_free(&dl);
	if (rc != -ECANCELED)
		rfs_control_reply(out, rc == -ENOENT ? 0 : rc, NULL);   /* no policy: nothing is due */
}

/* ---- disposals and certificate --------------------------------------------------------- */

static void put_entry(FILE *out, const struct rfs_register_entry *e)
{
	char num[4][24];

	snprintf(num[0], sizeof(num[0]), "%" PRIu64, e->number);
	snprintf(num[1], sizeof(num[1]), "%" PRIu64, e->files);
	snprintf(num[2], sizeof(num[2]), "%" PRIu64, e->folders);
	snprintf(num[3], sizeof(num[3]), "%" PRIu64, e->versions);
	const char *f[] = { num[0], e->timestamp, e->path, e->class_name, e->rule, e->policy_rev,
	                    e->trigger, e->due, e->approved_by, e->run_by, e->review, num[1],
	                    num[2], num[3], e->entry_hash };

	put_line(out, "disposal", f, sizeof(f) / sizeof(f[0]));
}

/* Every line a report got, as "problem" lines. */
static void put_problems(FILE *out, char *text)
{
	char *line, *save = NULL;

	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		const char *f[] = { line };

		put_line(out, "problem", f, 1);
	}
}

/* The register checked: its entries, and a line per problem; ok carries the count. */
static void serve_disposals(struct rfs_fs *fs, const struct rfs_peer *peer, char **fld, int n,
                            int passed_fd, FILE *out)
{
	struct rfs_register reg;
	char *report = NULL, count[24];
	size_t len = 0;
	FILE *mem = open_memstream(&report, &len);
	int rc = mem ? load_register(fs, &reg, mem) : -ENOMEM;

	if (mem)
		fclose(mem);
	if (rc == 0) {
		for (size_t i = 0; i < reg.count; i++)
			put_entry(out, &reg.entries[i]);
		put_problems(out, report);
		snprintf(count, sizeof(count), "%lu", reg.problems);
		rfs_register_free(&reg);
	}
	free(report);
	rfs_control_reply(out, rc, rc == 0 ? count : NULL);
}

static void serve_certificate(struct rfs_fs *fs, const struct rfs_peer *peer, char **fld, int n,
                              int passed_fd, FILE *out)
{
	struct rfs_retention_listing l = { 0 };
	const struct rfs_register_entry *e;
	const struct rfs_policy_class *c = NULL;
	struct rfs_register reg;
	char *cert = NULL, *line, *save = NULL;
	uint64_t number = strtoull(fld[1], NULL, 10);
	int rc = load_register(fs, &reg, NULL);

	if (rc < 0) {
		rfs_control_reply(out, rc, NULL);
		return;
	}
	e = rfs_register_find(&reg, number);
	if (!e || reg.problems) {
		rfs_control_refuse(out, e ? -EBADMSG : -ENOENT,
		                   e ? "the disposal register does not verify: no certificate from it"
		                     : "no such disposal in the register");
		rfs_register_free(&reg);
		return;
	}
	/* A line of 18 fields keeps no organisation or authority: the policy in force now's. */
	bool listed_ok = !e->organisation &&
	                 rfs_retention_list(fs->retention, rfs_retention_today(), &l) == 0;

	if (listed_ok)
		c = rfs_policy_find_class(l.policy, e->class_name);
	rc = rfs_register_certificate(e, listed_ok ? l.policy->organisation : NULL,
	                              c ? c->authority : NULL, fs->v->keys, &cert);
	if (listed_ok)
		rfs_retention_listing_end(&l);
	for (line = rc == 0 ? strtok_r(cert, "\n", &save) : NULL; line;
	     line = strtok_r(NULL, "\n", &save)) {
		const char *f[] = { line };

		put_line(out, "c", f, 1);
	}
	free(cert);
	rfs_register_free(&reg);
	rfs_control_reply(out, rc, NULL);
}

const struct rfs_control_verb rfs_dispose_verbs[] = {
	{ "dispose", F_COUNT - 1, F_COUNT - 1, RFS_VERB_ROLE, serve_dispose },
	{ "disposals", 0, 0, RFS_VERB_PUBLIC, serve_disposals },
	{ "certificate", 1, 1, RFS_VERB_PUBLIC, serve_certificate },
	{ NULL, 0, 0, RFS_VERB_OWNER, NULL },
};

/* ---- after a crash ------------------------------------------------------------------------ */

int rfs_dispose_finish(struct rfs_fs *fs)
{
	struct rfs_register reg;
	struct rfs_dispose_ids d;
	uint64_t last;
	int rc = load_register(fs, &reg, NULL);

	if (rc < 0)
		return rc == -ENOENT ? 0 : rc;
	last = reg.count ? reg.entries[reg.count - 1].number : 0;
	/* A list that no register line names, with every key still there: that disposal stopped
	** before it began (a list some of whose keys are gone is kept, as evidence). */
	if (rfs_dispose_read_list(fs, last + 1, &d) == 0) {
		char name[24];
		int dfd = openat(fs->v->dirfd, RFS_DISPOSED_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		snprintf(name, sizeof(name), "%" PRIu64, last + 1);
		if (dfd >= 0 && keys_left(fs, &d) == (long)d.count && unlinkat(dfd, name, 0) == 0)
			rfs_log(LOG_WARNING, "dispose: %s/%s named no register line and nothing of it was "
			        "destroyed: removed (that disposal never began)", RFS_DISPOSED_DIR, name);
		if (dfd >= 0)
			close(dfd);
		rfs_dispose_ids_free(&d);
	}
	/* The newest disposal with keys left was stopped between its register line and its
	** shred: no save can have come since (the daemon was down), so what is left at its
	** path is the record itself. A finished one is left alone: its path may hold a new one. */
	if (last && rfs_dispose_read_list(fs, last, &d) == 0) {
		const struct rfs_register_entry *e = &reg.entries[reg.count - 1];

		if (keys_left(fs, &d) > 0) {
			rc = rfs_dispose_remove(fs, e->path, NULL);
			rfs_retention_live_changed(fs->retention);
			if (rc == 0 || rc == -ENOENT)
				rc = rfs_history_flush(fs->history);
			if (rc == 0)
				rc = rfs_dispose_shred(fs, &d);
			rfs_log(rc == 0 ? LOG_WARNING : LOG_ERR, "dispose: disposal %" PRIu64 " of %s was "
			        "stopped by a crash: %s", last, e->path, rc == 0 ? "finished now"
			                                                      : strerror(-rc));
		}
		rfs_dispose_ids_free(&d);
	}
	rfs_register_free(&reg);
	return rc == -ENOENT ? 0 : rc;
}
