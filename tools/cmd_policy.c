/*
** recfs policy check FILE | load [VAULT] FILE [--confirm] | show [VAULT] [--rev REV]:
** check a retention policy offline, load it into a mounted vault, or show the one in force.
** Must never: load a policy with errors, or one that makes records due earlier without
** --confirm (the daemon refuses it; this only asks).
*/
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "policy/policy.h"
#include "tools/cli.h"
#include "tools/commands.h"
#include "tools/retention_cli.h"

static const struct cli_help policy_help = {
	"check FILE\n"
	"       recfs policy load [VAULT] FILE [--confirm]\n"
	"       recfs policy show [VAULT] [--rev REV]",
	"check  validate FILE (docs/POLICY.md) without a vault: every error as\n"
	"       FILE:LINE:COLUMN: message; exit 1 when there are errors\n"
	"load   validate FILE, list the records whose due date moves, and store it as the\n"
	"       policy of the mounted vault (a new version in history). A policy that makes\n"
	"       records due earlier is refused unless --confirm is given\n"
	"show   the policy in force, or with --rev REV (a revision or a date) as it was then\n"
	"\n"
	"VAULT is the vault, its mount point or any path inside the mount (default: the\n"
	"current folder). load needs the records-manager role.\n"
	"  --confirm      accept records becoming due earlier\n"
	"  --rev REV      show the policy as it was at REV\n",
};

static bool confirm;
static const char *rev;

static const struct cli_option policy_options[] = {
	CLI_FLAG("confirm", 'c', &confirm),
	CLI_VALUE("rev", 'r', &rev),
	{ 0 },
};

/* Read FILE whole (at most the policy's limit, plus one byte to tell it is over). */
static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = malloc(RFS_POLICY_MAX_TEXT + 2);

	*len = 0;
	if (!f || !buf) {
		if (f)
			fclose(f);
		free(buf);
		cli_error("%s: %s", path, strerror(errno));
		return NULL;
	}
	*len = fread(buf, 1, RFS_POLICY_MAX_TEXT + 1, f);
	if (ferror(f)) {
		cli_error("%s: %s", path, strerror(errno));
		free(buf);
		buf = NULL;
	}
	fclose(f);
	return buf;
}

static void print_diag(const char *file, unsigned line, unsigned column, const char *message)
{
	fprintf(stderr, "%s:%u:%u: %s\n", file, line, column, message);
}

static int policy_check(const char *file)
{
	struct rfs_policy_report report = { 0 };
	struct rfs_policy *p = NULL;
	size_t len;
	char *text = read_file(file, &len);
	int rc;

	if (!text)
		return CLI_FAIL;
	rc = rfs_policy_parse(text, len, &p, &report);
	free(text);
	if (rc == -EFBIG) {
		cli_error("%s is larger than %d bytes", file, RFS_POLICY_MAX_TEXT);
		return CLI_PROBLEMS;
	}
	if (rc < 0 && rc != -EINVAL) {
		cli_error("%s: %s", file, strerror(-rc));
		return CLI_FAIL;
	}
	for (size_t i = 0; i < report.count; i++)
		print_diag(file, report.diags[i].line, report.diags[i].column, report.diags[i].message);
	if (report.truncated)
		fprintf(stderr, "%s: more errors not shown\n", file);
	if (rc < 0)
		return CLI_PROBLEMS;
	printf("%s: %zu classes, no errors\n", file, p->class_count);
	rfs_policy_free(p);
	return CLI_OK;
}

struct load_out {
	const char *file;
	size_t earlier, moved;
};

static int load_line(char **fld, int n, void *arg)
{
	struct load_out *o = arg;

	if (!strcmp(fld[0], "diag") && n == 4) {
		print_diag(o->file, (unsigned)strtoul(fld[1], NULL, 10),
		           (unsigned)strtoul(fld[2], NULL, 10), fld[3]);
	} else if ((!strcmp(fld[0], "earlier") || !strcmp(fld[0], "moved")) && n == 5) {
		bool earlier = fld[0][0] == 'e';

		printf("%s %s (%s): due %s -> %s\n", earlier ? "earlier" : "moved  ", fld[1], fld[2],
		       *fld[3] ? fld[3] : "never", *fld[4] ? fld[4] : "never");
		if (earlier)
			o->earlier++;
		else
			o->moved++;
	}
	return 0;
}

static int policy_load(const char *where, const char *file)
{
	struct rcli_target t;
	struct load_out o = { file, 0, 0 };
	int fd, rc;

	if (rcli_find(where, &t) != CLI_OK)
		return CLI_FAIL;
	fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		cli_error("%s: %s", file, strerror(errno));
		return CLI_FAIL;
	}
	rc = rcli_call(t.vault, fd, (const char *[]){ "policy-load", confirm ? "1" : "0" }, 2,
	               load_line, &o);
	close(fd);
	if (rc == CLI_OK)
		printf("loaded %s: %zu records due earlier, %zu moved later or set\n", file, o.earlier,
		       o.moved);
	return rc;
}

static int show_line(char **fld, int n, void *arg)
{
	(void)arg;
	if (!strcmp(fld[0], "line") && n == 2)
		printf("%s\n", fld[1]);
	return 0;
}

static int policy_show(const char *where)
{
	struct rcli_target t;

	if (rcli_find(where, &t) != CLI_OK)
		return CLI_FAIL;
	return rcli_call(t.vault, -1, (const char *[]){ "policy-show", rev ? rev : "" }, 2,
	                 show_line, NULL);
}

static int policy_run(struct cli_ctx *ctx)
{
	const char *sub = ctx->argv[0];
	int rest = ctx->argc - 1;

	if (!strcmp(sub, "check") && rest == 1 && !confirm && !rev)
		return policy_check(ctx->argv[1]);
	if (!strcmp(sub, "load") && (rest == 1 || rest == 2) && !rev)
		return policy_load(rest == 2 ? ctx->argv[1] : ".", ctx->argv[rest]);
	if (!strcmp(sub, "show") && rest <= 1 && !confirm)
		return policy_show(rest == 1 ? ctx->argv[1] : ".");
	cli_error("usage: recfs policy check FILE | load [VAULT] FILE [--confirm] | "
	          "show [VAULT] [--rev REV]");
	return cli_usage_error();
}

const struct cli_command cmd_policy = {
	.help = &policy_help, .options = policy_options,
	.args = { 1, 3, "check|load|show ..." }, .run = policy_run,
};
