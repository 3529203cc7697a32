/*
** recfs status [MOUNTPOINT|VAULT] [--json]: what a vault is doing: where and since when it is
** mounted and by whom, saves not yet committed, the last commit, the size of history, the
** policy's revision, the holds in force and the key slots' labels.
**
** Owns: putting together what the daemon says (the control verb status, fs/status_ctl.c) and
** what the vault's folder shows without a passphrase (recfs.conf's key slot labels, the size
** and packs of history.git, the revision its ref names), and printing it as text or JSON.
** Must never: ask for a passphrase, open the vault, or count as use of a mount (fs/idle.h).
*/
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "crypto/keyslot.h"
#include "fs/control.h"
#include "fs/escape.h"
#include "fs/mountinfo.h"
#include "fs/vault.h"
#include "tools/cli.h"
#include "tools/commands.h"
#include "tools/mounts.h"

#define MAX_HOLDS 256
#define MAX_ITEM 256

/* What is known; "" (or -1) for what is not. */
struct status {
	char vault[PATH_MAX], mountpoint[PATH_MAX];
	bool mounted, daemon;             /* in the mount table; its daemon answered */
	char mounted_by[64], last_rev[48], last_login[64], last_name[256];
	int64_t mounted_at, mounted_by_uid, idle_seconds, pending, last_time, policy_rev;
	bool read_only;
	uint64_t history_bytes, packs;
	char holds[MAX_HOLDS][MAX_ITEM];
	size_t nholds;
	char slots[RFS_MAX_KEYSLOTS][64];
	size_t nslots;
	bool conf_read;                   /* recfs.conf could be read (it is 0600: the owner's) */
	unsigned format;
};

static bool json;

static const struct cli_option status_options[] = { CLI_FLAG("json", 'j', &json), { 0 } };

static int64_t num(const char *s)
{
	return *s ? strtoll(s, NULL, 10) : -1;
}

static int status_line(char **fld, int n, void *arg)
{
	struct status *s = arg;

	if (!strcmp(fld[0], "hold") && n >= 2 && s->nholds < MAX_HOLDS) {
		snprintf(s->holds[s->nholds++], MAX_ITEM, "%s", fld[1]);
		return 0;
	}
	if (strcmp(fld[0], "status") || n < 3)
		return 0;
	const char *k = fld[1], *v = fld[2];

	if (!strcmp(k, "mountpoint"))
		snprintf(s->mountpoint, sizeof(s->mountpoint), "%s", v);
	else if (!strcmp(k, "mounted_at"))
		s->mounted_at = num(v);
	else if (!strcmp(k, "mounted_by_uid"))
		s->mounted_by_uid = num(v);
	else if (!strcmp(k, "mounted_by"))
		snprintf(s->mounted_by, sizeof(s->mounted_by), "%s", v);
	else if (!strcmp(k, "read_only"))
		s->read_only = !strcmp(v, "1");
	else if (!strcmp(k, "idle_seconds"))
		s->idle_seconds = num(v);
	else if (!strcmp(k, "pending_saves"))
		s->pending = num(v);
	else if (!strcmp(k, "last_rev"))
		snprintf(s->last_rev, sizeof(s->last_rev), "%s", v);
	else if (!strcmp(k, "last_time"))
		s->last_time = num(v);
	else if (!strcmp(k, "last_login"))
		snprintf(s->last_login, sizeof(s->last_login), "%s", v);
	else if (!strcmp(k, "last_name"))
		snprintf(s->last_name, sizeof(s->last_name), "%s", v);
	else if (!strcmp(k, "policy_revision"))
		s->policy_rev = num(v);
	return 0;
}

static uint64_t tree_bytes;

static int add_size(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)path, (void)ftw;
	if (flag == FTW_F && S_ISREG(st->st_mode))
		tree_bytes += (uint64_t)st->st_size;
	return 0;
}

/* From the vault's folder, without a passphrase: history's size, packs and ref; key slots. */
static void from_disk(struct status *s)
{
	char path[PATH_MAX + 64], line[256], err[256];
	struct rfs_conf conf;
	struct dirent *de;
	FILE *f;
	DIR *d;

	snprintf(path, sizeof(path), "%s/%s", s->vault, RFS_HISTORY_DIR);
	tree_bytes = 0;
	(void)nftw(path, add_size, 16, FTW_PHYS);
	s->history_bytes = tree_bytes;
	snprintf(path, sizeof(path), "%s/%s/objects/pack", s->vault, RFS_HISTORY_DIR);
	if ((d = opendir(path))) {
		while ((de = readdir(d))) {
			size_t l = strlen(de->d_name);

			s->packs += l > 5 && !strcmp(de->d_name + l - 5, ".pack");
		}
		closedir(d);
	}
	if (!*s->last_rev) {
		snprintf(path, sizeof(path), "%s/%s/refs/heads/main", s->vault, RFS_HISTORY_DIR);
		if ((f = fopen(path, "re"))) {
			if (fgets(line, sizeof(line), f) && strlen(line) >= 40)
				snprintf(s->last_rev, sizeof(s->last_rev), "%.40s", line);
			fclose(f);
		}
	}
	if (rfs_vault_read_conf(s->vault, &conf, err, sizeof(err)) == 0) {
		s->conf_read = true;
		s->format = conf.format_version;
		for (size_t i = 0; i < RFS_MAX_KEYSLOTS; i++)
			if (conf.slots[i].in_use)
				snprintf(s->slots[s->nslots++], sizeof(s->slots[0]), "%s", conf.slots[i].label);
	}
}

/* t as ISO 8601: local time with its offset to read, UTC ("Z") in JSON. */
static void iso_time(int64_t t, char out[40])
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (t < 0 || !(json ? gmtime_r(&tt, &tm) : localtime_r(&tt, &tm)) ||
	    !strftime(out, 40, json ? "%Y-%m-%dT%H:%M:%SZ" : "%Y-%m-%dT%H:%M:%S%z", &tm))
		snprintf(out, 40, "%s", "");
}

static void json_num(const char *key, int64_t n, bool known)
{
	if (known)
		printf(",\"%s\":%" PRId64, key, n);
	else
		printf(",\"%s\":null", key);
}

static void json_str(const char *key, const char *v)
{
	printf(",\"%s\":", key);
	if (v && *v)
		rfs_escape_json(stdout, v);
	else
		fputs("null", stdout);
}

static void print_json(const struct status *s)
{
	char t[40];

	fputs("{\"vault\":", stdout);
	rfs_escape_json(stdout, s->vault);
	printf(",\"mounted\":%s", s->mounted ? "true" : "false");
	json_str("mountpoint", s->mountpoint);
	iso_time(s->daemon ? s->mounted_at : -1, t);
	json_str("mounted_at", t);
	json_str("mounted_by", s->mounted_by);
	json_num("mounted_by_uid", s->mounted_by_uid, s->daemon);
	if (s->mounted)
		printf(",\"read_only\":%s", s->read_only ? "true" : "false");
	else
		fputs(",\"read_only\":null", stdout);
	json_num("idle_seconds", s->idle_seconds, s->daemon && s->idle_seconds > 0);
	json_num("pending_saves", s->pending, s->pending >= 0);
	fputs(",\"last_commit\":", stdout);
	if (*s->last_rev) {
		fputs("{\"rev\":", stdout);
		rfs_escape_json(stdout, s->last_rev);
		iso_time(s->last_time, t);
		json_str("time", t);
		json_str("login", s->last_login);
		json_str("name", s->last_name);
		fputs("}", stdout);
	} else {
		fputs("null", stdout);
	}
	printf(",\"history_bytes\":%" PRIu64 ",\"packs\":%" PRIu64, s->history_bytes, s->packs);
	json_num("policy_load", s->policy_rev, s->policy_rev >= 0);
	json_num("holds_in_force", (int64_t)s->nholds, s->daemon);
	fputs(",\"holds\":", stdout);
	if (s->daemon) {
		fputs("[", stdout);
		for (size_t i = 0; i < s->nholds; i++) {
			fputs(i ? "," : "", stdout);
			rfs_escape_json(stdout, s->holds[i]);
		}
		fputs("]", stdout);
	} else {
		fputs("null", stdout);
	}
	fputs(",\"keyslots\":", stdout);
	for (size_t i = 0; s->conf_read && i < s->nslots; i++) {
		fputs(i ? "," : "[", stdout);
		rfs_escape_json(stdout, s->slots[i]);
	}
	fputs(!s->conf_read ? "null" : s->nslots ? "]" : "[]", stdout);
	json_num("format", s->format, s->conf_read);
	fputs("}\n", stdout);
}

static void print_text(const struct status *s)
{
	char t[40];

	printf("vault:          %s\n", rfs_escape_line(s->vault));
	if (s->daemon) {
		iso_time(s->mounted_at, t);
		printf("mounted:        at %s since %s by %s (uid %" PRId64 ")%s\n",
		       rfs_escape_line(s->mountpoint), t, rfs_escape_line(s->mounted_by),
		       s->mounted_by_uid, s->read_only ? ", read-only" : "");
		if (s->idle_seconds > 0)
			printf("idle unmount:   after %" PRId64 " s without use\n", s->idle_seconds);
	} else if (s->mounted) {
		printf("mounted:        at %s, read-only (its daemon serves no status)\n",
		       rfs_escape_line(s->mountpoint));
	} else {
		printf("mounted:        no\n");
	}
	if (s->pending >= 0)
		printf("saves waiting:  %" PRId64 "\n", s->pending);
	if (*s->last_rev && *s->last_login) {
		iso_time(s->last_time, t);
		printf("last commit:    %.12s  %s  by %s%s%s%s\n", s->last_rev, t,
		       rfs_escape_line(s->last_login), *s->last_name ? " (" : "",
		       rfs_escape_line(s->last_name), *s->last_name ? ")" : "");
	} else if (*s->last_rev) {
		printf("last commit:    %.12s\n", s->last_rev);
	} else {
		printf("last commit:    none\n");
	}
	printf("history:        %" PRIu64 " bytes, %" PRIu64 " pack%s\n", s->history_bytes, s->packs,
	       s->packs == 1 ? "" : "s");
	if (s->daemon) {
		if (s->policy_rev >= 0)
			printf("policy:         revision %" PRId64 "\n", s->policy_rev);
		else
			printf("policy:         none loaded\n");
		printf("holds in force: %zu", s->nholds);
		for (size_t i = 0; i < s->nholds; i++)
			printf("%s%s", i ? ", " : ": ", rfs_escape_line(s->holds[i]));
		putchar('\n');
	}
	if (!s->conf_read)
		printf("key slots:      unknown (%s/%s is not readable to you)\n",
		       rfs_escape_line(s->vault), RFS_CONF_NAME);
	else
		printf("key slots:      %zu", s->nslots);
	for (size_t i = 0; s->conf_read && i < s->nslots; i++)
		printf("%s%s", i ? ", " : ": ", rfs_escape_line(s->slots[i]));
	if (s->conf_read)
		putchar('\n');
	if (!s->daemon)
		printf("(the saves waiting, the last commit's time and author, the policy and the "
		       "holds are known once it is mounted: recfs mount %s MOUNTPOINT)\n",
		       cli_shell_quote(s->vault));
}

static int status_run(struct cli_ctx *ctx)
{
	const char *arg = ctx->argc ? ctx->argv[0] : ".";
	char abs[PATH_MAX], conf[PATH_MAX + 16], msg[512];
	struct rfs_mount_entry m;
	struct status *s = calloc(1, sizeof(*s));
	struct stat st;
	int rc;

	if (!s) {
		cli_error("out of memory");
		return CLI_FAIL;
	}
	s->mounted_at = s->mounted_by_uid = s->idle_seconds = s->pending = s->last_time = -1;
	s->policy_rev = -1;
	if (rfs_mountinfo_abspath(arg, abs) < 0) {
		cli_error("%s: %s", arg, strerror(errno));
		free(s);
		return CLI_FAIL;
	}
	if (rfs_mountinfo_find(abs, true, &m) == 0 && !strcmp(m.fstype, RFS_FSTYPE)) {
		if (rfs_source_is_snapshot(m.source)) {
			cli_error("%s is a read-only view of history (%s); ask for the status of the "
			          "vault itself", m.mountpoint, m.source);
			free(s);
			return CLI_FAIL;
		}
		snprintf(s->vault, sizeof(s->vault), "%s", m.source);
		snprintf(s->mountpoint, sizeof(s->mountpoint), "%s", m.mountpoint);
		s->mounted = true;
	} else {
		snprintf(conf, sizeof(conf), "%s/%s", abs, RFS_CONF_NAME);
		if (stat(conf, &st) != 0) {
			cli_error("%s is not a recfs vault (no %s), nor a mount of one, nor inside one",
			          arg, RFS_CONF_NAME);
			free(s);
			return CLI_FAIL;
		}
		snprintf(s->vault, sizeof(s->vault), "%s", abs);
	}
	rc = rfs_control_call(s->vault, -1, (const char *[]){ "status" }, 1, status_line, s, msg,
	                      sizeof(msg));
	if (rc == 0) {
		s->daemon = s->mounted = true;
	} else if (rc == -EACCES && !*msg) {
		cli_error("cannot reach %s/%s: the vault folder is not open to you (its owner can "
		          "allow it with 'chmod o+x %s')", s->vault, RFS_CONTROL_NAME,
		          cli_shell_quote(s->vault));
		free(s);
		return CLI_FAIL;
	} else if (rc != -ECONNREFUSED && rc != -ENOENT) {
		cli_error("the daemon of %s did not answer: %s", s->vault, *msg ? msg : strerror(-rc));
		free(s);
		return CLI_FAIL;
	}
	if (s->mounted && !s->daemon)
		s->read_only = true;          /* only read-only mounts serve no control socket */
	from_disk(s);
	if (json)
		print_json(s);
	else
		print_text(s);
	free(s);
	return fflush(stdout) == 0 ? CLI_OK : CLI_FAIL;
}

static const struct cli_help status_help = {
	"[MOUNTPOINT|VAULT] [--json]",
	"What a vault is doing: where it is mounted, since when and by whom, the saves not yet\n"
	"committed, the last commit (revision, time, author), the size of history.git and its\n"
	"packs, the revision of the policy in force, the holds in force and the labels of the\n"
	"key slots. Of a vault that is not mounted it says what its folder shows without a\n"
	"passphrase (key slots, history's size, packs and newest revision); the rest needs a\n"
	"mount. Asks for no passphrase, and is no use of the mount for -o idle.\n"
	"MOUNTPOINT|VAULT is the vault, its mount point or a path inside it (default: the\n"
	"current folder). Any local user may ask; the last commit's time and author are shown\n"
	"to the mounting user and root only, as recfs log is.\n"
	"\n"
	"  --json      one JSON object (fields in docs/JSON.md); null for what is not known\n"
	"  -h, --help  show this help\n",
};

const struct cli_command cmd_status = {
	.help = &status_help, .options = status_options, .args = { 0, 1, "[MOUNTPOINT|VAULT]" },
	.run = status_run,
};
