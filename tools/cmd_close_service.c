/*
** recfs close-service PATH --out FILE [--recipient age1...]... [--on DATE] [--to NAME]
** [--note TEXT]: a service has closed: the daemon checks that its records may be closed, then
** `recfs archive PATH --history` (tools/cmd_archive.c, run as it is) writes FILE, then the
** daemon closes and locks every record under PATH and logs the close-service.
** Must never: archive what it would then be refused to close (the checks come first), or
** write the archive any other way than recfs archive does.
*/
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/mountinfo.h"
#include "tools/cli.h"
#include "tools/commands.h"
#include "tools/retention_cli.h"

#define MAX_RECIPIENTS 64

static const char *out_file, *on, *to, *note;
static const char *recipients[MAX_RECIPIENTS];
static size_t n_recipients;

static const struct cli_option close_service_options[] = {
	CLI_VALUE("out", 'o', &out_file),
	CLI_HOOK("recipient", 'r', required_argument),
	CLI_VALUE("on", 'O', &on),
	CLI_VALUE("to", 't', &to),
	CLI_VALUE("note", 'n', &note),
	{ 0 },
};

static int close_service_option(struct cli_ctx *ctx, int opt, char *arg)
{
	(void)ctx, (void)opt;
	if (n_recipients == MAX_RECIPIENTS) {
		cli_error("at most %d recipients", MAX_RECIPIENTS);
		return CLI_FAIL;
	}
	recipients[n_recipients++] = arg;
	return CLI_OK;
}

struct reply {
	size_t records, held;
	bool print;                     /* the closing, not the checks */
};

static int close_service_line(char **fld, int n, void *arg)
{
	struct reply *r = arg;

	if (strcmp(fld[0], "record") != 0 || n != 3)
		return 0;
	r->records++;
	r->held += *fld[2] != '\0';
	if (r->print && *fld[2])
		printf("  held       %s (hold %s): closed, and never disposed of while held\n", fld[1],
		       fld[2]);
	return 0;
}

/* recfs archive PATH --out FILE --history [--recipient R]... [--note TEXT], as typed. */
static int archive(const char *path)
{
	char *argv[8 + 2 * MAX_RECIPIENTS];
	int argc = 0;

	argv[argc++] = (char *)"archive";
	argv[argc++] = (char *)path;
	argv[argc++] = (char *)"--out";
	argv[argc++] = (char *)out_file;
	argv[argc++] = (char *)"--history";
	for (size_t i = 0; i < n_recipients; i++) {
		argv[argc++] = (char *)"--recipient";
		argv[argc++] = (char *)recipients[i];
	}
	if (note) {
		argv[argc++] = (char *)"--note";
		argv[argc++] = (char *)note;
	}
	argv[argc] = NULL;
	optind = 0;                     /* getopt afresh, for the archive's options */
	return cli_dispatch(&cmd_archive, 0, argc, argv);
}

/* FILE as recfs archive names it in the log: its folder resolved, then its name. */
static int archive_path(char out[PATH_MAX])
{
	char abs[PATH_MAX], dir[PATH_MAX], base[PATH_MAX], real[PATH_MAX];

	if (rfs_mountinfo_abspath(out_file, abs) < 0)
		return -errno;
	snprintf(dir, sizeof(dir), "%s", abs);
	snprintf(base, sizeof(base), "%s", basename(abs));
	if (!realpath(dirname(dir), real))
		return -errno;
	return snprintf(out, PATH_MAX, "%s/%s", real, base) < PATH_MAX ? 0 : -ENAMETOOLONG;
}

static int close_service_run(struct cli_ctx *ctx)
{
	char file[PATH_MAX];
	struct rcli_target t;
	struct reply r = { 0 };
	int rc = CLI_OK;

	if (!out_file) {
		cli_error("close-service needs --out FILE (FILE.tar[.gz|.zst][.age])");
		return cli_usage_error();
	}
	if (on)
		rc = rcli_date("--on", on);
	if (rc == CLI_OK)
		rc = rcli_find(ctx->argv[0], &t);
	if (rc == CLI_OK && (!t.path[0] || !strcmp(t.path, "/"))) {
		cli_error("%s: give the service's folder inside the mount", ctx->argv[0]);
		rc = CLI_FAIL;
	}
	const char *args[] = { "close-service", t.path, "", on ? on : "", to ? to : "",
	                       note ? note : "" };

	if (rc == CLI_OK)
		rc = rcli_call(t.vault, -1, args, 6, close_service_line, &r);
	if (rc == CLI_OK)
		rc = archive(ctx->argv[0]);
	if (rc == CLI_OK && archive_path(file) < 0) {
		cli_error("%s: %s", out_file, strerror(errno));
		rc = CLI_FAIL;
	}
	if (rc == CLI_OK) {
		args[2] = file;
		r = (struct reply){ .print = true };
		rc = rcli_call(t.vault, -1, args, 6, close_service_line, &r);
	}
	if (rc == CLI_OK)
		printf("closed and locked for good: %zu record%s%s\n", r.records,
		       r.records == 1 ? "" : "s", r.held ? ", held ones too" : "");
	else if (args[2][0])
		cli_error("%s was written, but its records were not closed: see above, then 'recfs "
		          "close-service' again with another --out", file);
	return rc;
}

static const struct cli_help close_service_help = {
	"PATH --out FILE [--recipient age1...]... [--on DATE] [--to NAME] [--note TEXT]",
	"A service has closed, or passes to another provider: archive its records (those under\n"
	"PATH, as the retention policy defines them) with their whole history to FILE, as\n"
	"'recfs archive --history' does, then record the closed event of each record (on DATE,\n"
	"default today; a record closed already keeps its date) and lock it for good: every\n"
	"change is refused, and the policy governs its disposal from then on. A held record is\n"
	"archived and closed too, and reported: nothing held is ever disposed of.\n"
	"\n"
	"  --out FILE         FILE.tar, .tar.gz, .tgz or .tar.zst; .age after it with --recipient\n"
	"  --recipient age1.. encrypt FILE to this age recipient (repeat for several)\n"
	"  --on DATE          the day the service closed (YYYY-MM-DD)\n"
	"  --to NAME          who receives the records, for the transfer log\n"
	"  --note TEXT        the bag's Internal-Sender-Description\n"
	"\n"
	"FILE.minisig (its signature) and VAULT.pub (the vault's archive key) are written beside\n"
	"it: 'minisign -Vm FILE -p VAULT.pub' checks it. The transfer log records the archive and\n"
	"the close-service ('recfs transfers'); 'recfs transfer confirm FILE' records the\n"
	"receiver's confirmation. Needs the records-manager role; nothing is written when it is\n"
	"refused.\n",
};

const struct cli_command cmd_close_service = {
	.help = &close_service_help, .options = close_service_options, .args = { 1, 1, "PATH" },
	.option = close_service_option, .run = close_service_run,
};
