/*
** recfs log [PATH] [--json|--json-lines|--csv]: every version of PATH, or the vault's recent
** activity, as text or through tools/output.
** Must never: write to the vault.
*/
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "tools/cli.h"
#include "tools/commands.h"
#include "fs/escape.h"
#include "tools/history_cli.h"
#include "tools/output.h"
#include "fs/control.h"
#include "fs/mountinfo.h"
#include "fs/transfers.h"

static const struct cli_help log_help = {
	"[PATH] [--vault VAULT] [--json|--json-lines|--csv] [-n N] [--passphrase-file FILE]\n"
	"       recfs log --daemon MOUNTPOINT|VAULT",
	"List every version of PATH (newest first): revision, date, author, what\n"
	"happened, size. Without PATH, the vault's recent activity.\n"
	"\n"
	"  --vault VAULT  the vault is not mounted: PATH is relative to its root\n"
	"  --json         one JSON array of objects (fields in docs/JSON.md)\n"
	"  --json-lines   the same objects, one per line\n"
	"  --csv          CSV with a header line, the same fields\n"
	"  -n N           at most N versions (default: all; 50 without PATH)\n"
	"  --daemon       instead, the mount daemon's last few hundred log lines (kept\n"
	"                 in memory only; for the user who mounted, or root)\n"
	"  --passphrase-file FILE, -h/--help\n"
	"\n"
	"A version a disposal destroyed is one line \"destroyed (disposal N, class X)\"\n"
	"with no path: nothing inside a destroyed record can be read or looked up.\n",
};

struct log_out {
	bool json, json_lines, csv;
	struct rfs_output o;              /* the listing, unless text */
	size_t shown;
	struct hcli *x;                   /* for what a disposal's register line says */
	struct rfs_transfer_list *transfers;   /* the transfer log at HEAD, or NULL */
};

#define TRANSFERS_PATH "/" RFS_TRANSFERS_PATH

/* The transfer log at HEAD, read before the walk (a mounted vault's daemon answers one request
** at a time); NULL when there is none or it does not parse (its saves then show as saves). */
static struct rfs_transfer_list *load_transfers(struct hcli *x)
{
	struct rfs_transfer_list *l = NULL;
	int mem = memfd_create("recfs-transfers", MFD_CLOEXEC);
	struct stat st;
	char *text = NULL;

	if (mem >= 0 && hcli_read_at(x, "HEAD", TRANSFERS_PATH, mem) == 0 && fstat(mem, &st) == 0 &&
	    (text = malloc((size_t)st.st_size + 1)) && pread(mem, text, (size_t)st.st_size, 0) == st.st_size)
		(void)rfs_transfers_parse(text, (size_t)st.st_size, &l, NULL, 0);
	free(text);
	if (mem >= 0)
		close(mem);
	return l;
}

/* s for the text output (escaped), or as it is for JSON and CSV. */
static const char *shown(const struct log_out *o, const char *s)
{
	return o->o.format != RFS_OUTPUT_TEXT ? s : rfs_escape_line(s ? s : "");
}

/* The save of the transfer log that appended an entry: the entry, as one line. The log only
** grows, so the entry is the one whose line ends at the version's size. */
static bool transfer_text(const struct log_out *o, const struct rfs_version *v, char *what, size_t sz)
{
	const struct rfs_transfer *t = NULL;
	char rcpt[48] = "", keys[64] = "";

	if (!o->transfers || v->kind == RFS_SAVE_CREATED || !v->path ||
	    strcmp(v->path, TRANSFERS_PATH) != 0)
		return false;
	for (size_t i = 0; i < o->transfers->count && !t; i++)
		if (o->transfers->ends[i] == v->size)
			t = &o->transfers->entries[i];
	if (!t)
		return false;
	if (t->n_recipients)
		snprintf(rcpt, sizeof(rcpt), " for %zu recipient%s", t->n_recipients,
		         t->n_recipients == 1 ? "" : "s");
	snprintf(keys, sizeof(keys), "sha512 %.12s..., key %.12s", t->sha512 ? t->sha512 : "-",
	         t->key_id ? t->key_id : "-");
	switch (t->kind) {
	case RFS_TRANSFER_CLOSE_SERVICE:
		snprintf(what, sz, "closed the service %s (%zu record%s, closed %s), archived in "
		         "%s%s%s%s, %s, by %s", shown(o, t->path), t->n_records,
		         t->n_records == 1 ? "" : "s", t->on ? t->on : "-",
		         shown(o, t->file), rcpt, t->to ? ", for " : "", t->to ? shown(o, t->to) : "",
		         keys, shown(o, t->name));
		break;
	case RFS_TRANSFER_CONFIRMED:
		snprintf(what, sz, "confirmed the transfer of %s (%s, %s) on %s: receipt %s, by %s",
		         shown(o, t->path), shown(o, t->file), keys, t->on ? t->on : "-",
		         shown(o, t->receipt), shown(o, t->name));
		break;
	default:
		snprintf(what, sz, "archived %s%s to %s%s, %s, by %s", shown(o, t->path),
		         t->kind == RFS_TRANSFER_DISPOSAL ? " before its disposal" : "",
		         shown(o, t->file), rcpt, keys, shown(o, t->name));
	}
	return true;
}

/* The fields of --json, --json-lines and --csv (docs/JSON.md). */
static const char *const log_fields[] = {
	"rev", "#seq", "date", "login", "name", "host", "what", "path", "#size", "mode",
	"?destroyed", "#disposal",
};
#define LOG_FIELDS (sizeof(log_fields) / sizeof(log_fields[0]))

static int print_version(const struct rfs_version *v, void *arg)
{
	struct log_out *o = arg;
	bool text = o->o.format == RFS_OUTPUT_TEXT;
	char date[40];
	time_t t = (time_t)v->time;
	struct tm tm;
	/* Local time to read; UTC for a program. */
	if (text)
		localtime_r(&t, &tm);
	else
		gmtime_r(&t, &tm);
	strftime(date, sizeof date, text ? "%Y-%m-%dT%H:%M:%S%z" : "%Y-%m-%dT%H:%M:%SZ", &tm);
	char what[4200];
	if (transfer_text(o, v, what, sizeof what))
		;
	else if (v->destroyed)               /* its folder's key is gone: no path, no name */
		hcli_destroyed_text(o->x, v->disposal, false, what, sizeof what);
	else if (v->kind == RFS_SAVE_RENAMED)
		snprintf(what, sizeof what, "renamed from %s", shown(o, v->path_old));
	else if (v->kind == RFS_SAVE_RESTORED)
		snprintf(what, sizeof what, "restored from %.12s", v->restored_from);
	else if (v->kind == RFS_SAVE_PROPERTY && v->property[0])
		snprintf(what, sizeof what, "property changed (%s)", shown(o, v->property));
	else
		snprintf(what, sizeof what, "%s", rfs_save_kind_name(v->kind));
	o->shown++;
	if (!text) {
		char seq[24], size[24], mode[8], disposal[24] = "";

		snprintf(seq, sizeof seq, "%llu", (unsigned long long)v->seq);
		snprintf(size, sizeof size, "%llu", (unsigned long long)v->size);
		snprintf(mode, sizeof mode, "%04o", v->mode & 07777);
		if (v->destroyed)
			snprintf(disposal, sizeof disposal, "%llu", (unsigned long long)v->disposal);
		const char *row[LOG_FIELDS] = { v->rev, seq, date, v->login, v->full_name, v->host, what,
		                                v->path, size, mode, v->destroyed ? "true" : "false",
		                                disposal };
		rfs_output_row(&o->o, row);
	} else {
		/* Names, paths and authors are escaped: a name cannot fake a line or
		** send escape sequences to the terminal. */
		printf("%.12s  %s  %-24s %-22s %10llu  %s\n", v->rev, date,
		       rfs_escape_line(v->full_name[0] ? v->full_name : v->login), what,
		       (unsigned long long)v->size, rfs_escape_line(v->path));
	}
	return 0;
}

/* recfs log --daemon: the daemon of the vault mounted at (or found at) where. */
static int show_daemon_log(const char *where)
{
	char abs[PATH_MAX], vault[PATH_MAX];
	struct rfs_mount_entry m;
	int rc;

	snprintf(vault, sizeof vault, "%s", where);
	if (rfs_mountinfo_abspath(where, abs) == 0 && rfs_mountinfo_find(abs, false, &m) == 0 &&
	    !strcmp(m.fstype, RFS_FSTYPE))
		snprintf(vault, sizeof vault, "%s", m.source);
	rc = rfs_control_daemon_log(vault, stdout);
	if (rc == -ECONNREFUSED || rc == -ENOENT || rc == -ENOTDIR)
		cli_error("no daemon serves %s; give the mount point or vault of a mount (read-only "
		          "mounts keep no log)", where);
	else if (rc < 0)
		cli_error("cannot read the daemon's log of %s: %s", where, strerror(-rc));
	return rc < 0 ? CLI_FAIL : CLI_OK;
}

static struct log_out out;
static long limit = -1;
static bool daemon_log;

static int log_option(struct cli_ctx *ctx, int opt, char *arg)
{
	char *end;

	switch (opt) {
	case 'D':
		/* Another question, to the daemon: no history is opened. */
		daemon_log = true;
		ctx->needs &= ~(unsigned)(CLI_NEEDS_PATH | CLI_PATH_OPTIONAL);
		ctx->args = (struct cli_args){ 1, 1, "MOUNTPOINT" };
		break;
	case 'n':
		limit = strtol(arg, &end, 10);
		if (*end || end == arg || limit < 1) {
			cli_error("-n wants a count of versions (1 or more), not '%s'", arg);
			return CLI_FAIL;
		}
		break;
	}
	return CLI_OK;
}

static int log_run(struct cli_ctx *ctx)
{
	struct hcli *x = &ctx->hist;

	if (daemon_log)
		return show_daemon_log(ctx->argv[0]);
	if (out.json + out.json_lines + out.csv > 1) {
		cli_error("give one of --json, --json-lines and --csv");
		return CLI_FAIL;
	}
	out.o.format = out.json ? RFS_OUTPUT_JSON : out.json_lines ? RFS_OUTPUT_JSON_LINES
	             : out.csv ? RFS_OUTPUT_CSV : RFS_OUTPUT_TEXT;
	bool whole = !strcmp(x->clear, "/");
	if (limit < 0)
		limit = whole ? 50 : 0;
	out.x = x;
	char disposed[PATH_MAX + 16];
	snprintf(disposed, sizeof disposed, "%s/disposed", x->vault);
	if (access(disposed, F_OK) == 0)
		hcli_register_load(x);           /* not from inside the log's callback */
	if (whole || !strcmp(x->clear, TRANSFERS_PATH))
		out.transfers = load_transfers(x);
	rfs_output_begin(&out.o, stdout, out.o.format, log_fields, LOG_FIELDS);
	int rc = hcli_log(x, whole ? NULL : x->clear, (size_t)limit, print_version, &out);
	rfs_transfers_free(out.transfers);
	if (rfs_output_end(&out.o) < 0 && rc == 0) {
		cli_error("cannot write the log of %s", x->vault);
		return CLI_FAIL;
	}
	if (rc < 0)
		cli_error("cannot read the history of %s: %s", x->vault, strerror(-rc));
	else if (!whole && out.shown == 0) {
		cli_error("no version of %s in history; see '%s log --vault VAULT' for the paths it holds",
		          x->clear, cli_program);
		rc = -ENOENT;
	}
	return rc < 0 ? CLI_FAIL : CLI_OK;
}

static const struct cli_option log_options[] = {
	CLI_FLAG("json", 'j', &out.json), CLI_FLAG("json-lines", 'J', &out.json_lines),
	CLI_FLAG("csv", 'C', &out.csv), CLI_HOOK("daemon", 'D', no_argument),
	CLI_HOOK(NULL, 'n', required_argument), { 0 },
};

const struct cli_command cmd_log = {
	.help = &log_help, .shortopts = "n:", .options = log_options, .args = { 1, 1, "PATH" },
	.option = log_option, .run = log_run,
};
