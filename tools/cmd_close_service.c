/*
** recfs close-service PATH --out FILE [--recipient age1...]... [--on DATE] [--to NAME]
** [--note TEXT]: a service has closed: its records are archived with their history, then
** each is closed and locked for good, asked of the daemon; one entry in the transfer log.
** Must never: write the archive itself (the daemon does, into FILE's descriptor).
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/archive_out.h"
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
	(void)ctx;
	if (opt == 'r' && n_recipients == MAX_RECIPIENTS) {
		cli_error("at most %d recipients", MAX_RECIPIENTS);
		return CLI_FAIL;
	}
	if (opt == 'r')
		recipients[n_recipients++] = arg;
	return CLI_OK;
}

struct reply {
	struct archive_out out;
	size_t records, held;
};

static int close_service_line(char **fld, int n, void *arg)
{
	struct reply *r = arg;

	if (archive_out_line(&r->out, fld, n))
		return 0;
	if (strcmp(fld[0], "record") != 0 || n != 3)
		return 0;
	r->records++;
	if (*fld[2]) {
		r->held++;
		printf("held: %s (hold %s): archived and closed; it is never disposed of while held\n",
		       fld[1], fld[2]);
	}
	return 0;
}

static int close_service_run(struct cli_ctx *ctx)
{
	const char **args = calloc(6 + n_recipients, sizeof(char *));
	struct rcli_target t;
	struct reply r = { 0 };
	int rc = args ? CLI_OK : CLI_FAIL;

	if (rc == CLI_OK && !out_file) {
		cli_error("close-service needs --out FILE (FILE.tar[.gz|.zst][.age])");
		rc = cli_usage_error();
	}
	if (rc == CLI_OK && on)
		rc = rcli_date("--on", on);
	if (rc == CLI_OK)
		rc = rcli_find(ctx->argv[0], &t);
	if (rc == CLI_OK && (!t.path[0] || !strcmp(t.path, "/"))) {
		cli_error("%s: give the service's folder inside the mount", ctx->argv[0]);
		rc = CLI_FAIL;
	}
	if (rc == CLI_OK)
		rc = archive_out_open(out_file, n_recipients, &r.out);
	if (rc == CLI_OK) {
		args[0] = "close-service";
		args[1] = t.path;
		args[2] = r.out.path;
		args[3] = on ? on : "";
		args[4] = to ? to : "";
		args[5] = note ? note : "";
		for (size_t i = 0; i < n_recipients; i++)
			args[6 + i] = recipients[i];
		rc = rcli_call(t.vault, r.out.fd, args, 6 + n_recipients, close_service_line, &r);
		if (r.out.finished) {
			printf("archived %s to %s: %llu bytes, %llu files, %llu records with %llu "
			       "versions%s\n", t.path, r.out.path, (unsigned long long)r.out.bytes,
			       (unsigned long long)r.out.files, (unsigned long long)r.out.objects,
			       (unsigned long long)r.out.versions,
			       n_recipients ? ", encrypted with age" : "");
			printf("sha512 %s\nsigned by key %s: %s.minisig, public key %s.pub\n", r.out.sha512,
			       r.out.key_id, r.out.path, r.out.path);
		}
		if (archive_out_close(&r.out) != CLI_OK)
			rc = CLI_FAIL;
	}
	if (rc == CLI_OK)
		printf("closed and locked for good: %zu record%s%s%s%s\n", r.records,
		       r.records == 1 ? "" : "s", r.held ? " (" : "",
		       r.held ? "held ones too" : "", r.held ? ")" : "");
	free(args);
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
	"FILE.minisig (its signature) and FILE.pub (the vault's archive key) are written beside\n"
	"it: 'minisign -Vm FILE -p FILE.pub' checks it. The transfer log records it ('recfs\n"
	"transfers'); 'recfs transfer confirm FILE' records the receiver's confirmation.\n"
	"Needs the records-manager role.\n",
};

const struct cli_command cmd_close_service = {
	.help = &close_service_help, .options = close_service_options, .args = { 1, 1, "PATH" },
	.option = close_service_option, .run = close_service_run,
};
