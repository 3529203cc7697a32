/*
** dispatch: running one subcommand (see commands.h).
**
** Owns: the common options (--passphrase-file, --vault, -h/--help), the check
** of the positional arguments, and the setup that a command's needs ask for:
** unlocking its vault, opening its history (through its daemon when one
** serves it), or finding the mount whose daemon does the work; then closing
** what was opened once the command has run.
** Must never: read a passphrase that the command does not need, print
** anything when setting up succeeds, or leave a vault unlocked or a history
** open once the command has run.
*/
#include <stdio.h>
#include <string.h>

#include "tools/commands.h"
#include "tools/passphrase.h"

/* A command's own long options, and the three common ones, and { 0 }. */
#define CLI_MAX_OPTIONS 24

/* What parse_options returns when the command goes on (exit statuses are >= 0). */
#define CLI_GO_ON (-1)

/* The options table and short options of cmd with needs. 0, or -1 when its
** own table is too long (a mistake in the command). */
static int build_options(const struct cli_command *cmd, unsigned needs,
                         struct option options[CLI_MAX_OPTIONS], char *shortopts, size_t shortsz)
{
	static const struct option passphrase = CLI_PASSPHRASE_FILE_OPTION;
	static const struct option recovery = CLI_RECOVERY_KEY_FILE_OPTION;
	static const struct option vault = HCLI_VAULT_OPTION;
	static const struct option help = CLI_HELP_OPTION;
	size_t n = 0;

	for (const struct cli_option *o = cmd->options; o && o->key; o++) {
		if (n + 5 > CLI_MAX_OPTIONS)
			return -1;
		if (o->name)
			options[n++] = (struct option){ o->name, o->has_arg, NULL, o->key };
	}
	if (needs & CLI_NEEDS_PATH)
		options[n++] = vault;
	if (needs & CLI_NEEDS_PASSPHRASE) {
		options[n++] = passphrase;
		options[n++] = recovery;
	}
	options[n++] = help;
	memset(&options[n], 0, sizeof(options[n]));
	snprintf(shortopts, shortsz, "h%s", cmd->shortopts ? cmd->shortopts : "");
	return 0;
}

/* One of the command's own options: stored, or handed to its hook. */
static int own_option(const struct cli_command *cmd, struct cli_ctx *ctx, int key, char *arg)
{
	const struct cli_option *o = cmd->options;

	while (o->key != key)
		o++;
	if (o->value)
		*o->value = arg;
	else if (o->flag)
		*o->flag = true;
	else
		return cmd->option(ctx, key, arg);
	return CLI_OK;
}

/* Read the options into ctx (the common ones) or hand them to the command.
** CLI_GO_ON, or the exit status (help shown, or a mistake printed). */
static int parse_options(const struct cli_command *cmd, struct cli_ctx *ctx, int argc, char **argv)
{
	struct option options[CLI_MAX_OPTIONS];
	const char *recovery_file = NULL;
	char shortopts[32];
	int c, rc;

	if (build_options(cmd, ctx->needs, options, shortopts, sizeof(shortopts)) < 0) {
		cli_error("too many options");   /* a mistake in the command's table */
		return CLI_FAIL;
	}
	while ((c = cli_next_option(argc, argv, shortopts, options)) != -1) {
		switch (c) {
		case 'p': ctx->passfile = optarg; break;
		case 0x52ec: recovery_file = optarg; break;
		case 'V': ctx->vault_option = optarg; break;
		case 'h': return cli_print_help(cmd->help);
		case '?': return cli_usage_error();
		default:
			rc = own_option(cmd, ctx, c, optarg);
			if (rc != CLI_OK)
				return rc;
			break;
		}
	}
	if (recovery_file && ctx->passfile) {
		cli_error("--passphrase-file and --recovery-key-file both say how to open the vault; "
		          "give one of them");
		return CLI_FAIL;
	}
	if (recovery_file)
		rfs_secret_use_recovery_key(recovery_file);
	ctx->argc = argc - optind;
	ctx->argv = argv + optind;
	return CLI_GO_ON;
}

static int check_arguments(const struct cli_ctx *ctx)
{
	int min = ctx->args.min;

	if ((ctx->needs & CLI_PATH_OPTIONAL) && ctx->vault_option)
		min = 0;
	return cli_check_args(ctx->argc, ctx->argv, min, ctx->args.max, ctx->args.names) < 0 ? CLI_FAIL
	                                                                                     : CLI_OK;
}

/* The recfs mount holding path, whose daemon serves it. */
static int find_daemon(const char *path, struct rfs_mount_entry *m)
{
	char abs[PATH_MAX];

	if (rfs_mountinfo_abspath(path, abs) < 0 || rfs_mountinfo_find(abs, true, m) != 0 ||
	    strcmp(m->fstype, RFS_FSTYPE) != 0) {
		cli_error("%s is not inside a mounted recfs vault", path);
		return CLI_FAIL;
	}
	return CLI_OK;
}

static int set_up(struct cli_ctx *ctx)
{
	bool locks = ctx->needs & CLI_LOCKS_VAULT;
	const char *arg = ctx->argc > 0 ? ctx->argv[0] : NULL;

	if (ctx->needs & CLI_NEEDS_VAULT)
		return cli_unlock_vault(arg, ctx->passfile, locks ? RFS_OPEN_LOCK : 0, &ctx->vault);
	if (ctx->needs & CLI_NEEDS_HISTORY)
		return hcli_open(arg, NULL, ctx->passfile, locks, &ctx->hist);
	if (ctx->needs & CLI_NEEDS_PATH)
		return hcli_open(ctx->vault_option, arg, ctx->passfile, locks, &ctx->hist);
	if (ctx->needs & CLI_NEEDS_DAEMON)
		return find_daemon(arg, &ctx->mount);
	return CLI_OK;
}

static void tear_down(struct cli_ctx *ctx)
{
	if (ctx->needs & (CLI_NEEDS_HISTORY | CLI_NEEDS_PATH))
		hcli_close(&ctx->hist);
	rfs_vault_close(ctx->vault);
	ctx->vault = NULL;
}

/* Everything but cmd->done. The exit status. */
static int dispatch(const struct cli_command *cmd, struct cli_ctx *ctx, int argc, char **argv)
{
	int rc = parse_options(cmd, ctx, argc, argv);

	if (rc != CLI_GO_ON)
		return rc;
	if (check_arguments(ctx) != CLI_OK)
		return CLI_FAIL;
	if (cmd->check && (rc = cmd->check(ctx)) != CLI_OK)
		return rc;
	if (set_up(ctx) != CLI_OK)
		return CLI_FAIL;
	rc = cmd->run(ctx);
	tear_down(ctx);
	return rc;
}

int cli_dispatch(const struct cli_command *cmd, unsigned needs, int argc, char **argv)
{
	struct cli_ctx ctx = { .needs = needs, .args = cmd->args };
	int rc = dispatch(cmd, &ctx, argc, argv);

	if (cmd->done)
		cmd->done();
	return rc;
}
