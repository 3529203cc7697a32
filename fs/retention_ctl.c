/*
** retention_ctl: the control verbs of retention (policy-load, policy-show, records, why, due,
** set, close, hold-add, hold-release, hold-list), served from the table rfs_retention_verbs.
**
** Owns: turning a request's fields into calls of fs/retention.h and its answers into data
** lines (the table in docs/CLI.md, "Control verbs"). Dates are YYYY-MM-DD, "" for none; paths
** are sent with a leading '/'.
** Must never: change state itself (fs/retention.c does, with the role check), or serve a verb
** that changes anything as RFS_VERB_PUBLIC.
*/
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fs/control.h"
#include "fs/ops.h"
#include "fs/retention.h"

#define MSG_SIZE 512

static void put_tab(FILE *out, const char *s)
{
	fputc('\t', out);
	rfs_control_put_field(out, s ? s : "");
}

static void put_date(FILE *out, struct rfs_date d)
{
	char buf[RFS_DATE_TEXT_SIZE] = "";

	if (rfs_date_is_set(d))
		(void)rfs_date_format(d, buf);
	put_tab(out, buf);
}

static void put_path(FILE *out, const char *path)
{
	fputc('\t', out);
	fputc('/', out);
	rfs_control_put_field(out, path);
}

/* Answer rc: with msg when there is one. */
static void finish(FILE *out, int rc, const char *msg)
{
	if (rc < 0 && msg && *msg)
		rfs_control_refuse(out, rc, msg);
	else
		rfs_control_reply(out, rc, NULL);
}

/* No policy, a format 2 vault: the read-only verbs answer as with no records. */
static struct rfs_retention *state_of(struct rfs_fs *fs)
{
	return fs->retention;
}

static void put_record(FILE *out, const struct rfs_retention_listing *l,
                       const struct rfs_retention_record *rec)
{
	const struct rfs_record_facts *f = &rec->facts;
	char *props = NULL;
	size_t len = 0;
	FILE *pf = open_memstream(&props, &len);

	for (size_t i = 0; pf && i < f->property_count; i++) {
		char d[RFS_DATE_TEXT_SIZE] = "";

		(void)rfs_date_format(f->properties[i].date, d);
		fprintf(pf, "%s%s=%s", i ? "," : "", f->properties[i].name, d);
	}
	if (pf)
		fclose(pf);
	fputs("record", out);
	put_path(out, rec->path);
	put_tab(out, l->policy->classes[rec->class_index].name);
	put_date(out, f->created);
	put_date(out, f->modified);
	put_date(out, f->closed);
	put_date(out, rec->trigger);
	put_date(out, rec->due);
	put_tab(out, rec->locked ? "1" : "0");
	put_tab(out, rec->holds);
	put_tab(out, props ? props : "");
	fputc('\n', out);
	free(props);
}

static void serve_records(struct rfs_fs *fs, const struct rfs_peer *peer, char **fld, int n,
                          int passed_fd, FILE *out)
{
	struct rfs_retention_listing l;
	int rc = state_of(fs) ? rfs_retention_list(state_of(fs), rfs_retention_today(), &l) : -ENOENT;

	(void)peer, (void)fld, (void)n, (void)passed_fd;
	if (rc == -ENOENT) {       /* no policy: nothing is a record */
		rfs_control_reply(out, 0, NULL);
		return;
	}
	for (size_t i = 0; rc == 0 && i < l.count; i++)
		put_record(out, &l, &l.records[i]);
	for (size_t i = 0; rc == 0 && i < l.unclassified_count; i++) {
		fputs("unclassified", out);
		put_path(out, l.unclassified[i]);
		fputc('\n', out);
	}
	if (rc == 0)
		rfs_retention_listing_end(&l);
	rfs_control_reply(out, rc, NULL);
}

static void serve_why(struct rfs_fs *fs, const struct rfs_peer *peer, char **fld, int n,
                      int passed_fd, FILE *out)
{
	struct rfs_retention_listing one;
	char sentence[1024];
	int rc;

	(void)peer, (void)n, (void)passed_fd;
	if (!state_of(fs)) {
		snprintf(sentence, sizeof(sentence), "%s: no retention policy is loaded", fld[1]);
		rc = -ENOENT;
	} else {
		rc = rfs_retention_why(state_of(fs), fld[1], sentence, sizeof(sentence), &one);
	}
	fputs("why", out);
	put_tab(out, sentence);
	fputc('\n', out);
	if (rc == 0) {
		put_record(out, &one, &one.records[0]);
		rfs_retention_listing_end(&one);
	}
	rfs_control_reply(out, rc == -ENOENT ? 0 : rc, NULL);
}

const char *rfs_retention_step_name(enum rfs_plan_step s)
{
	switch (s) {
	case RFS_STEP_DESTROY: return "destroy";
	case RFS_STEP_ARCHIVE_THEN_DESTROY: return "archive";
	case RFS_STEP_AWAIT_APPROVAL: return "review";
	default: return "held";
	}
}

static void serve_due(struct rfs_fs *fs, const struct rfs_peer *peer, char **fld, int n,
                      int passed_fd, FILE *out)
{
	struct rfs_date today = rfs_retention_today(), as_of = today;
	struct rfs_retention_listing l;
	struct rfs_record_facts *facts = NULL;
	struct rfs_plan *plan = NULL;
	int rc = 0;

	(void)peer, (void)n, (void)passed_fd;
	if (*fld[1] && rfs_date_parse(fld[1], strlen(fld[1]), &as_of) < 0) {
		rfs_control_refuse(out, -EINVAL, "--as-of takes a date YYYY-MM-DD");
		return;
	}
	/* Holds are judged on as_of: the listing is made for that day. */
	rc = state_of(fs) ? rfs_retention_list(state_of(fs), as_of, &l) : -ENOENT;
	if (rc == -ENOENT) {
		rfs_control_reply(out, 0, NULL);
		return;
	}
	if (rc == 0 && !(facts = calloc(l.count + 1, sizeof(*facts))))
		rc = -ENOMEM;
	for (size_t i = 0; rc == 0 && i < l.count; i++)
		facts[i] = l.records[i].facts;
	if (rc == 0)
		rc = rfs_plan_build(l.policy, facts, l.count, l.holds, l.hold_count, as_of, today, true,
		                    &plan);
	for (size_t i = 0; rc == 0 && i < plan->count; i++) {
		const struct rfs_plan_entry *e = &plan->entries[i];
		const struct rfs_retention_record *rec = &l.records[e->record];

		fputs("due", out);
		put_path(out, rec->path);
		put_tab(out, l.policy->classes[rec->class_index].name);
		put_tab(out, rfs_retention_step_name(e->step));
		put_date(out, e->trigger);
		put_date(out, e->due);
		put_tab(out, e->step == RFS_STEP_HELD ? l.holds[e->hold].name : "");
		fputc('\n', out);
	}
	rfs_plan_free(plan);
	free(facts);
	if (rc != -ENOENT && state_of(fs) && l.keep)
		rfs_retention_listing_end(&l);
	rfs_control_reply(out, rc, NULL);
}

static void serve_set(struct rfs_fs *fs, const struct rfs_peer *peer, char **fld, int n,
                      int passed_fd, FILE *out)
{
	size_t count = (size_t)(n - 2) / 2;
	const char **keys = calloc(count + 1, sizeof(char *));
	struct rfs_date *dates = calloc(count + 1, sizeof(*dates));
	char msg[MSG_SIZE] = "";
	int rc = keys && dates ? 0 : -ENOMEM;

	(void)passed_fd;
	if (rc == 0 && (n - 2) % 2 != 0)
		rc = -EINVAL;
	for (size_t i = 0; rc == 0 && i < count; i++) {
		keys[i] = fld[2 + 2 * i];
		if (rfs_date_parse(fld[3 + 2 * i], strlen(fld[3 + 2 * i]), &dates[i]) < 0) {
			snprintf(msg, sizeof(msg), "'%s' is not a date YYYY-MM-DD", fld[3 + 2 * i]);
			rc = -EINVAL;
		}
	}
	if (rc == 0)
		rc = rfs_retention_set(state_of(fs), peer, fld[1], keys, dates, count, msg, sizeof(msg));
	free(keys);
	free(dates);
	finish(out, rc, msg);
}

static void serve_close(struct rfs_fs *fs, const struct rfs_peer *peer, char **fld, int n,
                        int passed_fd, FILE *out)
{
	struct rfs_date on = rfs_retention_today();
	char msg[MSG_SIZE] = "";
	int rc = 0;

	(void)n, (void)passed_fd;
	if (*fld[2] && rfs_date_parse(fld[2], strlen(fld[2]), &on) < 0) {
		snprintf(msg, sizeof(msg), "'%s' is not a date YYYY-MM-DD", fld[2]);
		rc = -EINVAL;
	}
	if (rc == 0)
		rc = rfs_retention_close_record(state_of(fs), peer, fld[1], on, msg, sizeof(msg));
	finish(out, rc, msg);
}

static int put_hold(const struct rfs_retention_hold_info *h, void *arg)
{
	FILE *out = arg;
	char covers[2048] = "", count[24];
	size_t used = 0;

	if (h->hold->scope == RFS_HOLD_CLASS) {
		char a[RFS_DATE_TEXT_SIZE], b[RFS_DATE_TEXT_SIZE];

		if (rfs_date_is_set(h->hold->created_from) &&
		    rfs_date_format(h->hold->created_from, a) == 0 &&
		    rfs_date_format(h->hold->created_to, b) == 0)
			snprintf(covers, sizeof(covers), "%s created %s..%s", h->hold->class_name, a, b);
		else
			snprintf(covers, sizeof(covers), "%s", h->hold->class_name);
	}
	for (size_t i = 0; h->hold->scope == RFS_HOLD_RECORDS && i < h->hold->record_count; i++) {
		int w = snprintf(covers + used, sizeof(covers) - used, "%s/%s", i ? "," : "",
		                 h->hold->records[i]);

		if (w < 0 || (size_t)w >= sizeof(covers) - used)
			break;
		used += (size_t)w;
	}
	snprintf(count, sizeof(count), "%zu", h->count);
	fputs("hold", out);
	put_tab(out, h->hold->name);
	put_tab(out, h->placed_by);
	put_tab(out, h->placed_at);
	put_tab(out, h->hold->authority);
	put_tab(out, h->hold->scope == RFS_HOLD_CLASS ? "class" : "records");
	put_tab(out, covers);
	put_date(out, h->hold->until);
	put_tab(out, h->released_by);
	put_tab(out, h->released_at);
	put_tab(out, h->reason);
	put_tab(out, count);
	fputc('\n', out);
	return 0;
}

/* Every hold (name: only that one) as hold lines. */
static int list_holds(struct rfs_fs *fs, const char *name, FILE *out)
{
	struct rfs_retention_listing l;
	int rc = state_of(fs) ? rfs_retention_list(state_of(fs), rfs_retention_today(), &l) : -ENOENT;

	if (rc < 0)
		return rc == -ENOENT ? 0 : rc;
	if (!name) {
		rc = rfs_retention_holds(state_of(fs), &l, put_hold, out);
	} else {
		/* Only the newest hold of that name: the one just placed. */
		FILE *mem;
		char *text = NULL, *last = NULL;
		size_t len = 0;

		mem = open_memstream(&text, &len);
		rc = mem ? rfs_retention_holds(state_of(fs), &l, put_hold, mem) : -ENOMEM;
		if (mem)
			fclose(mem);
		for (char *p = text; rc == 0 && p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
			size_t nl = strlen(name);

			if (!strncmp(p, "hold\t", 5) && !strncmp(p + 5, name, nl) && p[5 + nl] == '\t')
				last = p;
		}
		if (last)
			fwrite(last, 1, strcspn(last, "\n") + 1, out);
		free(text);
	}
	rfs_retention_listing_end(&l);
	return rc;
}

static void serve_hold_add(struct rfs_fs *fs, const struct rfs_peer *peer, char **fld, int n,
                           int passed_fd, FILE *out)
{
	struct rfs_hold h = { .name = fld[1], .authority = fld[2], .class_name = fld[4] };
	char msg[MSG_SIZE] = "";
	int rc = 0;

	(void)passed_fd;
	h.scope = *fld[4] ? RFS_HOLD_CLASS : RFS_HOLD_RECORDS;
	h.records = (const char *const *)&fld[7];
	h.record_count = (size_t)(n - 7);
	if ((*fld[3] && rfs_date_parse(fld[3], strlen(fld[3]), &h.until) < 0) ||
	    (*fld[5] && rfs_date_parse(fld[5], strlen(fld[5]), &h.created_from) < 0) ||
	    (*fld[6] && rfs_date_parse(fld[6], strlen(fld[6]), &h.created_to) < 0)) {
		snprintf(msg, sizeof(msg), "dates are YYYY-MM-DD");
		rc = -EINVAL;
	} else if (rfs_date_is_set(h.created_from) != rfs_date_is_set(h.created_to) ||
	           (rfs_date_is_set(h.created_from) && rfs_date_cmp(h.created_from, h.created_to) > 0)) {
		snprintf(msg, sizeof(msg), "--created-between takes FROM..TO, FROM not after TO");
		rc = -EINVAL;
	} else if (h.scope == RFS_HOLD_CLASS ? h.record_count > 0 : h.record_count == 0) {
		snprintf(msg, sizeof(msg), "a hold covers record paths or one class, not both");
		rc = -EINVAL;
	} else if (!*h.authority) {
		snprintf(msg, sizeof(msg), "a hold needs its authority");
		rc = -EINVAL;
	}
	if (rc == 0)
		rc = rfs_retention_hold_add(state_of(fs), peer, &h, msg, sizeof(msg));
	if (rc == 0)
		rc = list_holds(fs, h.name, out);
	finish(out, rc, msg);
}

static void serve_hold_release(struct rfs_fs *fs, const struct rfs_peer *peer, char **fld,
                               int n, int passed_fd, FILE *out)
{
	char msg[MSG_SIZE] = "";
	int rc;

	(void)n, (void)passed_fd;
	rc = rfs_retention_hold_release(state_of(fs), peer, fld[1], fld[2], msg, sizeof(msg));
	finish(out, rc, msg);
}

static void serve_hold_list(struct rfs_fs *fs, const struct rfs_peer *peer, char **fld, int n,
                            int passed_fd, FILE *out)
{
	(void)peer, (void)fld, (void)n, (void)passed_fd;
	rfs_control_reply(out, list_holds(fs, NULL, out), NULL);
}

static int put_move(bool earlier, const char *path, const char *class_name,
                    struct rfs_date old_due, struct rfs_date new_due, void *arg)
{
	FILE *out = arg;

	fputs(earlier ? "earlier" : "moved", out);
	put_path(out, path);
	put_tab(out, class_name);
	put_date(out, old_due);
	put_date(out, new_due);
	fputc('\n', out);
	return 0;
}

static void serve_policy_load(struct rfs_fs *fs, const struct rfs_peer *peer, char **fld, int n,
                              int passed_fd, FILE *out)
{
	struct rfs_policy_report report = { 0 };
	char *text = malloc(RFS_POLICY_MAX_TEXT + 1), msg[MSG_SIZE] = "";
	size_t len = 0;
	int rc = text ? 0 : -ENOMEM;

	(void)n;
	if (rc == 0 && passed_fd < 0)
		rc = -EBADF;
	while (rc == 0 && len <= RFS_POLICY_MAX_TEXT) {
		ssize_t got = pread(passed_fd, text + len, RFS_POLICY_MAX_TEXT + 1 - len, (off_t)len);

		if (got < 0)
			rc = -errno;
		if (got <= 0)
			break;
		len += (size_t)got;
	}
	if (rc == 0)
		rc = rfs_retention_load_policy(state_of(fs), peer, text, len, !strcmp(fld[1], "1"),
		                               &report, put_move, out, msg, sizeof(msg));
	for (size_t i = 0; rc == -EINVAL && i < report.count; i++) {
		char lc[32];

		snprintf(lc, sizeof(lc), "%u\t%u", report.diags[i].line, report.diags[i].column);
		fprintf(out, "diag\t%s", lc);
		put_tab(out, report.diags[i].message);
		fputc('\n', out);
	}
	free(text);
	finish(out, rc, msg);
}

static void put_text_lines(FILE *out, const char *text)
{
	for (const char *p = text; p && *p;) {
		size_t l = strcspn(p, "\n");
		char *line = strndup(p, l);

		fputs("line", out);
		put_tab(out, line ? line : "");
		fputc('\n', out);
		free(line);
		p += l + (p[l] == '\n');
	}
}

static void serve_policy_show(struct rfs_fs *fs, const struct rfs_peer *peer, char **fld, int n,
                              int passed_fd, FILE *out)
{
	struct rfs_retention *r = state_of(fs);
	char rev[RFS_REV_HEX + 1], extra[32];
	uint64_t prev = 0;
	int rc = 0;

	(void)n, (void)passed_fd;
	if (!r || !rfs_retention_may(r, peer, RFS_ROLE_RECORDS_MANAGER)) {
		rfs_control_refuse(out, -EACCES, "only the records-manager role may read the policy");
		return;
	}
	if (!*fld[1]) {
		const char *text = rfs_retention_policy_text(r, &prev);

		if (!text) {
			rfs_control_refuse(out, -ENOENT, "no retention policy is loaded");
			return;
		}
		put_text_lines(out, text);
		snprintf(extra, sizeof(extra), "%llu", (unsigned long long)prev);
		rfs_control_reply(out, 0, extra);
		return;
	}
	if (!fs->history) {
		rfs_control_reply(out, -EROFS, NULL);
		return;
	}
	rc = rfs_history_flush(fs->history);
	rc = rc < 0 ? rc : rfs_history_resolve(fs->history, fld[1], rev);
	if (rc == 0) {
		int mem = memfd_create("recfs-policy", MFD_CLOEXEC);
		char *text = malloc(RFS_POLICY_MAX_TEXT + 2);
		ssize_t got = 0;

		rc = mem < 0 ? -errno : !text ? -ENOMEM : 0;
		if (rc == 0)
			rc = rfs_history_read(fs->history, rev, "/" RFS_RETENTION_POLICY, mem);
		if (rc == 0 && (got = pread(mem, text, RFS_POLICY_MAX_TEXT + 1, 0)) < 0)
			rc = -errno;
		if (rc == 0 && text && got >= 0) {
			text[got] = '\0';
			put_text_lines(out, text);
		}
		free(text);
		if (mem >= 0)
			close(mem);
	}
	if (rc == -ENOENT)
		rfs_control_refuse(out, rc, "no policy was loaded at that revision");
	else
		rfs_control_reply(out, rc, rc == 0 ? rev : NULL);
}

const struct rfs_control_verb rfs_retention_verbs[] = {
	{ "policy-load", 1, 1, RFS_VERB_ROLE, serve_policy_load },
	{ "policy-show", 1, 1, RFS_VERB_ROLE, serve_policy_show },
	{ "records", 0, 0, RFS_VERB_PUBLIC, serve_records },
	{ "why", 1, 1, RFS_VERB_PUBLIC, serve_why },
	{ "due", 1, 1, RFS_VERB_PUBLIC, serve_due },
	{ "set", 3, -1, RFS_VERB_ROLE, serve_set },
	{ "close", 2, 2, RFS_VERB_ROLE, serve_close },
	{ "hold-add", 6, -1, RFS_VERB_ROLE, serve_hold_add },
	{ "hold-release", 2, 2, RFS_VERB_ROLE, serve_hold_release },
	{ "hold-list", 0, 0, RFS_VERB_PUBLIC, serve_hold_list },
	{ NULL, 0, 0, RFS_VERB_OWNER, NULL },
};
