/*
** history_cli: shared plumbing of the history subcommands (see history_cli.h).
*/
#include "tools/history_cli.h"

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "fs/control.h"
#include "fs/escape.h"
#include "tools/cli.h"
#include "tools/mounts.h"

static int clear_from(const char *rel, char out[PATH_MAX])
{
	while (rel && rel[0] == '/')
		rel++;
	if (snprintf(out, PATH_MAX, "/%s", rel ? rel : "") >= PATH_MAX)
		return -ENAMETOOLONG;
	size_t n = strlen(out);
	while (n > 1 && (out[n - 1] == '/' || (out[n - 1] == '.' && out[n - 2] == '/')))
		out[--n] = 0;                    /* "a/", "a/." and "." name the folder itself */
	return 0;
}

/* The daemon notes "pid\nmountpoint\n" in VAULT/lock. */
static void mountpoint_from_lock(struct hcli *x)
{
	char path[PATH_MAX + 8], buf[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", x->vault, RFS_LOCK_NAME);
	f = fopen(path, "re");
	if (!f)
		return;
	if (fgets(buf, sizeof buf, f) && fgets(buf, sizeof buf, f)) {
		buf[strcspn(buf, "\n")] = '\0';
		memcpy(x->mountpoint, buf, sizeof buf);
	}
	fclose(f);
}

int hcli_open(const char *vault, const char *path, const char *passfile, bool writable,
              struct hcli *x)
{
	memset(x, 0, sizeof *x);
	if (vault) {
		snprintf(x->vault, sizeof x->vault, "%s", vault);
		if (clear_from(path, x->clear) < 0) {
			cli_error("%s: path too long", path);
			return CLI_FAIL;
		}
	} else {
		char abs[PATH_MAX];
		struct rfs_mount_entry m;
		if (!path || rfs_mountinfo_abspath(path, abs) < 0 || rfs_mountinfo_find(abs, true, &m) != 0) {
			cli_error("%s is not inside a mounted vault; give --vault VAULT and a path "
			          "relative to the vault's root", path ? path : "(no path)");
			return CLI_FAIL;
		}
		snprintf(x->vault, sizeof x->vault, "%s", m.source);
		snprintf(x->mountpoint, sizeof x->mountpoint, "%s", m.mountpoint);
		clear_from(abs + strlen(m.mountpoint), x->clear);
		x->mounted = true;
		/* A view of history (mount --at) names its vault VAULT@REV. */
		if (rfs_source_is_snapshot(x->vault))
			*strrchr(x->vault, '@') = '\0';
	}
	if (!x->mounted) {
		/* VAULT may be given as its mount point. */
		struct rfs_mount_entry m;
		char abs[PATH_MAX];

		if (rfs_mountinfo_abspath(x->vault, abs) == 0 && rfs_mountinfo_find(abs, false, &m) == 0 &&
		    strcmp(m.fstype, RFS_FSTYPE) == 0 && !rfs_source_is_snapshot(m.source))
			snprintf(x->vault, sizeof x->vault, "%s", m.source);
	}
	if (rfs_control_ping(x->vault) == 0) {
		x->remote = true;
		if (!x->mounted)
			mountpoint_from_lock(x);
		return CLI_OK;
	}
	if (writable && x->mounted) {
		cli_error("%s is mounted but its daemon does not answer; unmount and retry with --vault",
		          x->vault);
		return CLI_FAIL;
	}
	if (cli_unlock_vault(x->vault, passfile, writable ? RFS_OPEN_LOCK : 0, &x->v) != CLI_OK)
		return CLI_FAIL;
	struct passwd *pw = getpwuid(getuid());
	char host[256] = "unknown";
	gethostname(host, sizeof host - 1);
	char name[256] = "";
	if (pw && pw->pw_gecos)
		snprintf(name, sizeof name, "%.*s", (int)strcspn(pw->pw_gecos, ","), pw->pw_gecos);
	struct rfs_who who = { pw ? pw->pw_name : "unknown", name, host };
	char err[CLI_ERRSZ];
	int rc = rfs_history_open(x->v, &who, writable ? 0 : RFS_HISTORY_READONLY, &x->h, err, sizeof err);
	if (rc < 0) {
		cli_error("%s", err);
		rfs_vault_close(x->v);
		x->v = NULL;
		return CLI_FAIL;
	}
	return CLI_OK;
}

void hcli_close(struct hcli *x)
{
	free(x->register_text);
	x->register_text = NULL;
	rfs_history_close(x->h);
	rfs_vault_close(x->v);
	x->h = NULL;
	x->v = NULL;
}

int hcli_revision(struct hcli *x, const char *rev, const char *at, char out[RFS_REV_HEX + 1])
{
	if (rev && at) {
		cli_error("give --rev or --at, not both");
		return CLI_FAIL;
	}
	if ((rev && !rev[0]) || (at && !at[0])) {
		cli_error("%s is empty; give a revision from '%s log' (7 or more hex digits) or HEAD, "
		          "or a date such as 2023-03-31", rev ? "--rev" : "--at", cli_program);
		return CLI_FAIL;
	}
	const char *spec = rev ? rev : at ? at : "HEAD";
	int rc = hcli_resolve(x, spec, out);
	bool datelike = strlen(spec) >= 10 && spec[0] >= '0' && spec[0] <= '9' && spec[4] == '-' &&
	                spec[7] == '-';
	if (rc == -EINVAL && datelike)
		cli_error("'%s' is not a date that exists (no such day or time); write a real local "
		          "date, 2023-03-31 or 2023-03-31T14:05", spec);
	else if (rc == -EINVAL)
		cli_error("'%s' is neither a revision (7+ hex digits) nor a date (2023-03-31 or "
		          "2023-03-31T14:05)", spec);
	else if (rc == -ENOENT)
		cli_error("no version %s %s in %s", at ? "at or before" : "named", spec,
		          x->vault);
	else if (rc < 0)
		cli_error("cannot read history of %s: %s", x->vault, strerror(-rc));
	return rc < 0 ? CLI_FAIL : CLI_OK;
}

#define REGISTER_PATH "/.recfs/retention/register"

void hcli_register_load(struct hcli *x)
{
	if (!x->register_read) {
		x->register_read = true;
		int mem = memfd_create("recfs-register", MFD_CLOEXEC);
		struct stat st;
		if (mem >= 0 && hcli_read_at(x, "HEAD", REGISTER_PATH, mem) == 0 && fstat(mem, &st) == 0 &&
		    (x->register_text = calloc(1, (size_t)st.st_size + 1)) &&
		    pread(mem, x->register_text, (size_t)st.st_size, 0) != st.st_size) {
			free(x->register_text);
			x->register_text = NULL;
		}
		if (mem >= 0)
			close(mem);
	}
}

/* The class the register gives disposal n ("" when it names none). */
static void register_class(struct hcli *x, uint64_t n, char *out, size_t outsz)
{
	out[0] = 0;
	hcli_register_load(x);
	char num[24];
	int len = snprintf(num, sizeof num, "%llu\t", (unsigned long long)n);
	for (const char *line = x->register_text; line && *line;) {
		const char *end = strchr(line, '\n');
		if (!strncmp(line, num, (size_t)len)) {   /* N  timestamp  path  class ... */
			const char *f = line;
			for (int i = 0; i < 3 && f; i++) {
				f = strchr(f, '\t');
				f = f && (!end || f < end) ? f + 1 : NULL;
			}
			if (f)
				snprintf(out, outsz, "%.*s", (int)strcspn(f, "\t\n"), f);
			return;
		}
		line = end ? end + 1 : NULL;
	}
}

void hcli_destroyed_text(struct hcli *x, uint64_t n, bool with_date, char *out, size_t outsz)
{
	if (!n) {
		snprintf(out, outsz, "destroyed (its key is missing, and no disposal lists it: run 'recfs verify')");
		return;
	}
	char cls[128], date[32] = "", path[PATH_MAX + 32];
	struct stat st;
	struct tm tm;
	register_class(x, n, cls, sizeof cls);
	snprintf(path, sizeof path, "%s/disposed/%llu", x->vault, (unsigned long long)n);
	if (stat(path, &st) == 0 && localtime_r(&st.st_mtime, &tm))
		strftime(date, sizeof date, "%Y-%m-%d", &tm);
	if (with_date && date[0] && cls[0])
		snprintf(out, outsz, "destroyed on %s under class %s (disposal %llu)", date,
		         rfs_escape_line(cls), (unsigned long long)n);
	else if (with_date && date[0])
		snprintf(out, outsz, "destroyed on %s (disposal %llu)", date, (unsigned long long)n);
	else if (cls[0])
		snprintf(out, outsz, "destroyed (disposal %llu, class %s)", (unsigned long long)n,
		         rfs_escape_line(cls));
	else
		snprintf(out, outsz, "destroyed (disposal %llu)", (unsigned long long)n);
}

void hcli_report(struct hcli *x, const char *rev, int rc)
{
	if (rc == -EKEYREVOKED) {
		struct rfs_version v;
		char text[512];
		hcli_destroyed_text(x, hcli_stat_at(x, rev, x->clear, &v) == -EKEYREVOKED ? v.disposal : 0,
		                    true, text, sizeof text);
		cli_error("%s: %s", rfs_escape_line(x->clear), text);
		return;
	}
	const char *why = rc == -ENOENT ? "no such file in that version (see 'recfs log')"
	                  : rc == -EISDIR ? "is a folder"
	                  : rc == -EKEYREJECTED ? "its key was destroyed (disposed of): no version can be read"
	                  : rc == -EIO ? "does not authenticate: run 'recfs verify'"
	                  : rc == -ENODATA ? "an object of that version is missing from history.git: "
	                                     "run 'recfs verify', then restore history.git from a backup or mirror"
	                  : strerror(-rc);
	cli_error("%s at %.12s: %s", x->clear, rev, why);
}

int hcli_log(struct hcli *x, const char *clear_path, size_t limit, rfs_version_cb cb, void *arg)
{
	return x->remote ? rfs_control_log(x->vault, clear_path, limit, cb, arg)
	                 : rfs_history_log(x->h, clear_path, limit, cb, arg);
}

int hcli_resolve(struct hcli *x, const char *spec, char out[RFS_REV_HEX + 1])
{
	return x->remote ? rfs_control_resolve(x->vault, spec, out)
	                 : rfs_history_resolve(x->h, spec, out);
}

int hcli_stat_at(struct hcli *x, const char *rev, const char *path, struct rfs_version *out)
{
	int rc = x->remote ? rfs_control_stat(x->vault, rev, path, out)
	                   : rfs_history_stat(x->h, rev, path, out);
	return rc == 0 && out->destroyed ? -EKEYREVOKED : rc;
}

struct seq_of {
	const char *rev;
	uint64_t seq;
};

static int find_seq(const struct rfs_version *v, void *arg)
{
	struct seq_of *s = arg;

	if (strcmp(v->rev, s->rev) != 0)
		return 0;
	s->seq = v->seq;
	return 1;
}

struct located {
	uint64_t seq;                     /* the revision's place in history */
	uint64_t at;                      /* the commit of the event found */
	char path[PATH_MAX];
	bool found, gone;
};

/* Newest first: the first event of the file at or before seq names its path
** then. One commit may hold a deletion at the path and a save of a file that
** stood there before (recfs log lists both): the save is the version. */
static int find_path(const struct rfs_version *v, void *arg)
{
	struct located *l = arg;

	if (v->seq > l->seq)
		return 0;
	if (l->found && v->seq != l->at)
		return 1;                         /* past that commit: its deletion stands */
	if (!l->found || v->kind != RFS_SAVE_DELETED) {   /* the first, or a save beside it */
		snprintf(l->path, sizeof l->path, "%s", v->path);
		l->found = true;
		l->at = v->seq;
		l->gone = v->kind == RFS_SAVE_DELETED;
	}
	return l->gone ? 0 : 1;
}

/* Where x->clear was at rev: the file is followed across renames (recfs log
** lists its versions under their paths of the time). 0 or -ENOENT. */
int hcli_locate(struct hcli *x, const char *rev, char path[PATH_MAX])
{
	struct rfs_version v;
	struct seq_of s = { rev, 0 };
	struct located l = { 0 };
	int rc;

	snprintf(path, PATH_MAX, "%s", x->clear);
	rc = hcli_stat_at(x, rev, x->clear, &v);
	if (rc == 0 || rc == -EKEYREVOKED)
		return rc;                       /* there, or destroyed: nothing to follow */
	rc = hcli_log(x, NULL, 0, find_seq, &s);
	if (rc < 0 || s.seq == 0)
		return -ENOENT;
	l.seq = s.seq;
	rc = hcli_log(x, x->clear, 0, find_path, &l);
	if (rc < 0 || !l.found || l.gone)
		return -ENOENT;
	snprintf(path, PATH_MAX, "%s", l.path);
	return 0;
}

int hcli_stat(struct hcli *x, const char *rev, struct rfs_version *out)
{
	char path[PATH_MAX];
	int rc = hcli_locate(x, rev, path);

	return rc < 0 ? rc : hcli_stat_at(x, rev, path, out);
}

int hcli_read(struct hcli *x, const char *rev, int out_fd)
{
	char path[PATH_MAX];
	int rc = hcli_locate(x, rev, path);

	return rc < 0 ? rc : hcli_read_at(x, rev, path, out_fd);
}

int hcli_read_at(struct hcli *x, const char *rev, const char *path, int out_fd)
{
	return x->remote ? rfs_control_read(x->vault, rev, path, out_fd)
	                 : rfs_history_read(x->h, rev, path, out_fd);
}

int hcli_xattrs(struct hcli *x, const char *rev, struct rfs_xattr_set *out)
{
	char path[PATH_MAX];
	int rc = hcli_locate(x, rev, path);

	if (rc < 0)
		return rc;
	return x->remote ? rfs_control_xattrs(x->vault, rev, path, out)
	                 : rfs_history_xattrs(x->h, rev, path, out);
}

int hcli_verify(struct hcli *x, FILE *report, struct rfs_verify_result *res,
                const struct rfs_progress *progress)
{
	return x->remote ? rfs_control_verify(x->vault, report, res, progress)
	                 : rfs_history_verify(x->h, report, res, progress);
}

int hcli_gc(struct hcli *x, const struct rfs_progress *progress)
{
	return x->remote ? rfs_control_gc(x->vault, progress) : rfs_history_gc(x->h, progress);
}

static int any_version(const struct rfs_version *v, void *arg)
{
	(void)v;
	*(bool *)arg = true;
	return 1;
}

int hcli_require_history(struct hcli *x)
{
	bool found = false;
	int rc;

	if (!strcmp(x->clear, "/"))
		return CLI_OK;
	rc = hcli_log(x, x->clear, 1, any_version, &found);
	if (rc < 0) {
		cli_error("cannot read the history of %s: %s", x->vault, strerror(-rc));
		return CLI_FAIL;
	}
	if (!found) {
		cli_error("no version of %s in history; see '%s log' for the paths it holds",
		          x->clear, cli_program);
		return CLI_FAIL;
	}
	return CLI_OK;
}
