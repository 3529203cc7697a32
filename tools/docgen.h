/*
** docgen: the man pages and the completion words of recfs, written from the
** same tables that `--help` prints (each command's struct cli_help and
** option table, and the RFS_COMMAND list), so that they cannot drift.
**
** Owns: turning a command's help into roff (recfs.1, recfs-COMMAND.1), and
** listing a command's long options for the bash completion.
** Must never: open a vault, read a passphrase, or hold text of its own about
** a command that its --help does not also say.
*/
#ifndef RECFS_TOOLS_DOCGEN_H
#define RECFS_TOOLS_DOCGEN_H

#include <stdbool.h>
#include <stdio.h>
#include "tools/commands.h"

/* One subcommand, as recfs.c lists it. */
struct docgen_command {
	const char *name;                 /* as typed: close-service */
	const struct cli_command *cmd;
	unsigned needs;
	const char *summary;
};

/* recfs(1): the main help's intro, every command with its page, and the help's notes. */
void docgen_main_page(FILE *out, const char *version, const char *intro, const char *notes,
                      const struct docgen_command *cmds, size_t n);
/* recfs-NAME(1): its usage, its help text and the common options its needs add. */
void docgen_command_page(FILE *out, const char *version, const struct docgen_command *c);
/* Every long option that c takes ("--json"), one a line, the common ones included; with
** with_value, only those that take a value ("--rev"). */
void docgen_options(FILE *out, const struct docgen_command *c, bool with_value);
/* The words that c's usage lines start with, when they are lower-case words ("add",
** "release", "list" for hold), one a line: its subcommands. */
void docgen_subcommands(FILE *out, const struct docgen_command *c);

#endif
