/*
** recfs: the command-line program; main() and the table of subcommands.
**
** Owns: finding the subcommand (listed in commands.h) and handing it to
** cli_dispatch, `recfs --help`, `recfs help CMD` and `recfs --version`; and
** the hidden `recfs --man [CMD]` and `recfs --complete ...`
** that the build's man pages and the bash completion are made from (docgen.c).
** Must never: parse a subcommand's options (dispatch.c and each cmd_<name>.c
** do), or read a secret from argv or the environment.
*/
#include <stdio.h>
#include <string.h>

#include "crypto/secmem.h"
#include "tools/cli.h"
#include "tools/commands.h"
#include "tools/docgen.h"
#include "fs/escape.h"

#ifndef RECFS_VERSION
#define RECFS_VERSION "unknown"
#endif

struct command {
	char name[24];                /* as typed: its identifier's '_' is '-' */
	const struct cli_command *cmd;
	unsigned needs;
	const char *summary;
};

#define RFS_COMMAND_ENTRY(name, needs, summary) { #name, &cmd_##name, needs, summary },
static struct command commands[] = {
	RFS_COMMAND_LIST(RFS_COMMAND_ENTRY)
};
#undef RFS_COMMAND_ENTRY

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

/* The names as typed: close_service is close-service. */
static void type_names(void)
{
	for (size_t i = 0; i < N_COMMANDS; i++) {
		for (char *p = commands[i].name; *p; p++)
			*p = *p == '_' ? '-' : *p;
	}
}

static const struct command *find_command(const char *name)
{
	for (size_t i = 0; i < N_COMMANDS; i++) {
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	}
	return NULL;
}

/* What `recfs --help` says before and after the commands (recfs(1) says it too). */
static const char main_intro[] =
	"recfs keeps records in an encrypted vault and shows them as ordinary folders.\n";
static const char main_notes[] =
	"Passphrases are asked for on the terminal, or read from the first line of\n"
	"--passphrase-file FILE ('-' is standard input); never from arguments or the\n"
	"environment.\n"
	"\n"
	"Long work (fsck, verify, gc, dispose, archive, restore) draws one progress line on\n"
	"standard error when that is a terminal: items, bytes, rate and time left, cleared at\n"
	"the end. A pipe or a file gets nothing of it. RECFS_PROGRESS=0 turns it off, and\n"
	"RECFS_PROGRESS=1 draws it anywhere (for tests).\n"
	"\n"
	"Exit status: 0 done; 1 problems found (fsck); 2 usage error or failure.\n";

static int print_main_help(FILE *out)
{
	fprintf(out,
	        "usage: recfs COMMAND [ARGS...]\n"
	        "       recfs COMMAND --help\n"
	        "       recfs --version\n"
	        "\n%s\n"
	        "Commands:\n", main_intro);
	for (size_t i = 0; i < N_COMMANDS; i++)
		fprintf(out, "  %-13s %s\n", commands[i].name, commands[i].summary);
	fprintf(out, "\n%s", main_notes);
	return CLI_OK;
}

static int unknown_command(const char *name)
{
	fprintf(stderr, "recfs: '%s' is not a recfs command; see '%s --help'\n", rfs_escape_line(name), cli_program);
	return CLI_FAIL;
}

/* `recfs help [CMD]` is `recfs --help` or `recfs CMD --help`. */
static int run_help(int argc, char **argv)
{
	static char help_flag[] = "--help";
	const struct command *c;

	if (argc < 2)
		return print_main_help(stdout);
	c = find_command(argv[1]);
	if (!c)
		return unknown_command(argv[1]);
	char *help_argv[] = { argv[1], help_flag, NULL };

	cli_command = c->name;
	return cli_dispatch(c->cmd, c->needs, 2, help_argv);
}

static struct docgen_command as_docgen(const struct command *c)
{
	return (struct docgen_command){ c->name, c->cmd, c->needs, c->summary };
}

/* recfs --man [CMD]: recfs(1), or recfs-CMD(1), in roff on stdout. */
static int run_man(int argc, char **argv)
{
	struct docgen_command all[N_COMMANDS];
	const struct command *c;

	if (argc < 2) {
		for (size_t i = 0; i < N_COMMANDS; i++)
			all[i] = as_docgen(&commands[i]);
		docgen_main_page(stdout, RECFS_VERSION, main_intro, main_notes, all, N_COMMANDS);
		return CLI_OK;
	}
	if (!(c = find_command(argv[1])))
		return unknown_command(argv[1]);
	all[0] = as_docgen(c);
	docgen_command_page(stdout, RECFS_VERSION, &all[0]);
	return CLI_OK;
}

/* recfs --complete commands | options CMD | value-options CMD | subcommands CMD: the words
** the bash completion offers. */
static int run_complete(int argc, char **argv)
{
	const struct command *c;
	struct docgen_command d;

	if (argc == 2 && strcmp(argv[1], "commands") == 0) {
		for (size_t i = 0; i < N_COMMANDS; i++)
			printf("%s\n", commands[i].name);
		return CLI_OK;
	}
	if (argc == 3 && (!strcmp(argv[1], "options") || !strcmp(argv[1], "value-options") ||
	                  !strcmp(argv[1], "subcommands"))) {
		if (!(c = find_command(argv[2])))
			return unknown_command(argv[2]);
		d = as_docgen(c);
		if (!strcmp(argv[1], "subcommands"))
			docgen_subcommands(stdout, &d);
		else
			docgen_options(stdout, &d, argv[1][0] == 'v');
		return CLI_OK;
	}
	fprintf(stderr, "recfs: usage: recfs --complete commands | options COMMAND | value-options "
	                "COMMAND | subcommands COMMAND\n");
	return CLI_FAIL;
}

int main(int argc, char **argv)
{
	const struct command *c;

	type_names();
	if (argc > 0 && strchr(argv[0], '/'))
		cli_program = argv[0];
	if (argc < 2) {
		print_main_help(stderr);
		return CLI_FAIL;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
		return print_main_help(stdout);
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
		printf("recfs %s\n", RECFS_VERSION);
		return CLI_OK;
	}
	if (strcmp(argv[1], "help") == 0)
		return run_help(argc - 1, argv + 1);
	if (strcmp(argv[1], "--man") == 0)
		return run_man(argc - 1, argv + 1);
	if (strcmp(argv[1], "--complete") == 0)
		return run_complete(argc - 1, argv + 1);
	c = find_command(argv[1]);
	if (!c && argv[1][0] == '-') {
		fprintf(stderr, "recfs: unknown option '%s'; see '%s --help'\n", rfs_escape_line(argv[1]), cli_program);
		return CLI_FAIL;
	}
	if (!c)
		return unknown_command(argv[1]);
	cli_command = c->name;
	if (rfs_secmem_init() < 0) {
		cli_error("cannot initialise libsodium");
		return CLI_FAIL;
	}
	return cli_dispatch(c->cmd, c->needs, argc - 1, argv + 1);
}
