/*
** commands: the list of recfs subcommands, one line each.
**
** Owns: the name, entry point and one-line summary of every subcommand.
** Adding a command is one RFS_COMMAND line here plus its cmd_<name>.c in
** tools/meson.build. Must never: hold logic; recfs.c and each cmd_<name>.c
** expand this list for the dispatch table and the prototypes.
**
** Each entry point is `int cmd_<name>(int argc, char **argv)`: argv[0] is the
** command name, the result is the process exit code (see cli.h).
*/
#ifndef RECFS_TOOLS_COMMANDS_H
#define RECFS_TOOLS_COMMANDS_H

#define RFS_COMMAND_LIST(RFS_COMMAND) \
	RFS_COMMAND(init, "create a new vault (asks for a passphrase twice)") \
	RFS_COMMAND(mount, "unlock a vault and mount it as ordinary folders") \
	RFS_COMMAND(umount, "unmount a vault and wait until its daemon has finished") \
	RFS_COMMAND(passwd, "change a passphrase (rewraps the master key, re-encrypts nothing)") \
	RFS_COMMAND(fsck, "authenticate every name and block; list what is corrupt") \
	RFS_COMMAND(demo, "make, fill and mount a demo vault of a fictional council") \
	RFS_COMMAND(log, "list every version of a file, or the vault's recent activity") \
	RFS_COMMAND(show, "write one version of a file (--rev REV or --at DATE)") \
	RFS_COMMAND(diff, "show what changed in a file between two versions") \
	RFS_COMMAND(restore, "make an earlier version of a file the newest one") \
	RFS_COMMAND(flush, "return once every save made so far on a mount is committed") \
	RFS_COMMAND(verify, "check signatures, the chain of commits and every blob of history") \
	RFS_COMMAND(gc, "pack and compact history (never rewrites it)") \
	/* end of list: add commands (log, show, diff, restore, flush, verify, gc) above */

#define RFS_COMMAND_PROTOTYPE(name, summary) int cmd_##name(int argc, char **argv);
RFS_COMMAND_LIST(RFS_COMMAND_PROTOTYPE)
#undef RFS_COMMAND_PROTOTYPE

#endif
