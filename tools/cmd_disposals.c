/*
** recfs disposals MOUNTPOINT [--json|--csv] [--certificate N]: the disposal register,
** checked line by line (hash chain and signatures), or the signed certificate of one
** disposal.
** Must never: show a register whose check failed without saying so (exit 1), or a
** certificate from one.
*/
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/control.h"
#include "tools/cli.h"
#include "tools/commands.h"
#include "tools/output.h"

static const struct cli_help disposals_help = {
	"MOUNTPOINT [--json|--csv] [--certificate N]",
	"List the disposal register of the mounted vault: one line per disposal, with\n"
	"the record's path, class, rule, policy revision, trigger and due dates, who\n"
	"approved it and who ran it, the review, and how many files, folders and\n"
	"versions were destroyed. Every line's hash, its link to the line before and\n"
	"its signature by the vault's key are checked; a problem is one line on\n"
	"stderr. Anyone who can reach the mount may read it.\n"
	"\n"
	"  --json, --csv       the listing as JSON or CSV (field names as in docs/CLI.md)\n"
	"  --certificate N     print the certificate of destruction of disposal N: text,\n"
	"                      the vault's public key (PEM) and a signature that\n"
	"                      'openssl pkeyutl -verify -pubin -inkey KEY.pem -rawin\n"
	"                      -in TEXT -sigfile SIG' checks (SIG: the base64 decoded)\n"
	"\n"
	"Exit status: 0 the register checks; 1 it does not; 2 it could not be read.\n",
};

static bool json, csv;
static const char *certificate;

struct listing {
	struct rfs_output o;
	unsigned long problems;
};

static int disposal_line(char **fld, int n, void *arg)
{
	struct listing *l = arg;

	if (!strcmp(fld[0], "disposal") && n == 16)
		rfs_output_row(&l->o, (const char *const *)fld + 1);
	else if (!strcmp(fld[0], "problem") && n == 2) {
		cli_error("%s", fld[1]);
		l->problems++;
	}
	return 0;
}

static int certificate_line(char **fld, int n, void *arg)
{
	if (!strcmp(fld[0], "c") && n == 2)
		printf("%s\n", fld[1]);
	return 0;
}

static int disposals_run(struct cli_ctx *ctx)
{
	static const char *const fields[] = {
		"number", "date", "path", "class", "rule", "policy_revision", "trigger", "due",
		"approved_by", "run_by", "review", "files", "folders", "versions", "entry_hash",
	};
	enum rfs_output_format format;
	struct listing l = { 0 };
	char msg[512] = "";
	int rc;

	if (rfs_output_choose(json, csv, &format) < 0) {
		cli_error("--json and --csv: choose one");
		return cli_usage_error();
	}
	if (certificate) {
		const char *args[] = { "certificate", certificate };

		rc = rfs_control_call(ctx->mount.source, -1, args, 2, certificate_line, NULL, msg,
		                      sizeof(msg));
	} else {
		const char *args[] = { "disposals" };

		rfs_output_begin(&l.o, stdout, format, fields, sizeof(fields) / sizeof(fields[0]));
		rc = rfs_control_call(ctx->mount.source, -1, args, 1, disposal_line, &l, msg,
		                      sizeof(msg));
		if (rfs_output_end(&l.o) < 0 && rc == 0)
			rc = -EIO;
	}
	if (rc < 0) {
		cli_error("%s", *msg ? msg : strerror(-rc));
		return rc == -EBADMSG ? CLI_PROBLEMS : CLI_FAIL;
	}
	return l.problems ? CLI_PROBLEMS : CLI_OK;
}

static const struct cli_option disposals_options[] = {
	CLI_FLAG("json", 'j', &json),
	CLI_FLAG("csv", 'c', &csv),
	CLI_VALUE("certificate", 'C', &certificate),
	{ 0 },
};

const struct cli_command cmd_disposals = {
	.help = &disposals_help, .options = disposals_options, .args = { 1, 1, "MOUNTPOINT" },
	.run = disposals_run,
};
