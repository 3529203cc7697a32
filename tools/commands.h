/*
** commands: the list of recfs subcommands, one line each, saying what each
** one needs; and what a command hands to the dispatcher (dispatch.c).
**
** Owns: the name, the needs and the one-line summary of every subcommand, and
** the shape of a command (struct cli_command) and of what it is given to run
** (struct cli_ctx).
** Adding a command is one RFS_COMMAND line here plus its cmd_<name>.c in
** tools/meson.build. A '_' in a command's name is typed and shown as '-' (close-service). Must never: hold logic; recfs.c and each cmd_<name>.c
** expand this list for the dispatch table and the declarations.
**
** What a command needs is done for it, once, by the dispatcher, before its
** run(): the common options (--passphrase-file, --vault, -h/--help), the
** count of its arguments, and opening the vault, its history or its mount.
** The dispatcher closes what it opened after run() returns. A command keeps
** what its own options say in static variables of its cmd_<name>.c: a
** process runs one command.
*/
#ifndef RECFS_TOOLS_COMMANDS_H
#define RECFS_TOOLS_COMMANDS_H

#include "fs/mountinfo.h"
#include "tools/cli.h"
#include "tools/history_cli.h"

/* What a command needs (the second field of its RFS_COMMAND line). */
enum cli_needs {
	/* It takes --passphrase-file FILE (ctx->passfile; NULL: ask on the terminal). */
	CLI_NEEDS_PASSPHRASE = 1 << 0,
	/* ARG1 is VAULT: checked and unlocked before run (ctx->vault). */
	CLI_NEEDS_VAULT = 1 << 1,
	/* ARG1 is VAULT, or its mount point: its history, through its daemon when
	** one serves it, else opened directly (ctx->hist). */
	CLI_NEEDS_HISTORY = 1 << 2,
	/* ARG1 is PATH inside a mount, or with --vault VAULT relative to the
	** vault's root: its history as for CLI_NEEDS_HISTORY (ctx->hist). */
	CLI_NEEDS_PATH = 1 << 3,
	/* With CLI_NEEDS_PATH: with --vault, PATH may be left out (the whole vault). */
	CLI_PATH_OPTIONAL = 1 << 4,
	/* ARG1 is inside a mounted recfs vault, whose daemon does the work (ctx->mount). */
	CLI_NEEDS_DAEMON = 1 << 5,
	/* Not read-only: the vault is opened locked, so refused while it is
	** mounted (a history command then asks its daemon instead). */
	CLI_LOCKS_VAULT = 1 << 6,
};

#define RFS_COMMAND_LIST(RFS_COMMAND) \
	RFS_COMMAND(init, CLI_NEEDS_PASSPHRASE, \
	            "create a new vault (asks for a passphrase twice)") \
	RFS_COMMAND(mount, CLI_NEEDS_PASSPHRASE, \
	            "unlock a vault and mount it as ordinary folders") \
	RFS_COMMAND(umount, 0, \
	            "unmount a vault and wait until its daemon has finished") \
	RFS_COMMAND(passwd, CLI_NEEDS_PASSPHRASE, \
	            "change a passphrase (rewraps the master key, re-encrypts nothing)") \
	RFS_COMMAND(key, CLI_NEEDS_PASSPHRASE, \
	            "list, add and remove keyslots (a passphrase per person); add a recovery key") \
	RFS_COMMAND(fsck, CLI_NEEDS_VAULT | CLI_NEEDS_PASSPHRASE | CLI_LOCKS_VAULT, \
	            "authenticate every name and block; list what is corrupt") \
	RFS_COMMAND(demo, 0, \
	            "make, fill and mount a demo vault of a fictional council") \
	RFS_COMMAND(log, CLI_NEEDS_PATH | CLI_PATH_OPTIONAL | CLI_NEEDS_PASSPHRASE, \
	            "list every version of a file, or the vault's recent activity") \
	RFS_COMMAND(show, CLI_NEEDS_PATH | CLI_NEEDS_PASSPHRASE, \
	            "write one version of a file (--rev REV or --at DATE)") \
	RFS_COMMAND(diff, CLI_NEEDS_PATH | CLI_NEEDS_PASSPHRASE, \
	            "show what changed in a file between two versions") \
	RFS_COMMAND(restore, CLI_NEEDS_PATH | CLI_NEEDS_PASSPHRASE | CLI_LOCKS_VAULT, \
	            "make an earlier version of a file the newest one") \
	RFS_COMMAND(status, 0, \
	            "where a vault is mounted, by whom, saves waiting, history, holds, key slots") \
	RFS_COMMAND(flush, CLI_NEEDS_DAEMON, \
	            "return once every save made so far on a mount is committed") \
	RFS_COMMAND(verify, CLI_NEEDS_HISTORY | CLI_NEEDS_PASSPHRASE, \
	            "check signatures, the chain of commits and every blob of history") \
	RFS_COMMAND(gc, CLI_NEEDS_HISTORY | CLI_NEEDS_PASSPHRASE | CLI_LOCKS_VAULT, \
	            "pack and compact history (never rewrites it)") \
	RFS_COMMAND(policy, 0, \
	            "check a retention policy, load it into a mounted vault, or show it") \
	RFS_COMMAND(records, 0, \
	            "list every record: class, trigger dates, due date, lock, holds") \
	RFS_COMMAND(why, 0, \
	            "say which record a path is in, and why it is locked or held") \
	RFS_COMMAND(due, 0, \
	            "list the records due for disposal today or on a date") \
	RFS_COMMAND(set, 0, \
	            "set dated properties of a record (end=2023-08-31)") \
	RFS_COMMAND(close, 0, \
	            "record the closed event of a record") \
	RFS_COMMAND(hold, 0, \
	            "place, release and list holds and moratoria") \
	RFS_COMMAND(dispose, 0, \
	            "destroy the records due today (--dry-run: show them); approve reviews") \
	RFS_COMMAND(disposals, 0, \
	            "the disposal register, checked; a signed certificate of one disposal") \
	RFS_COMMAND(archive, 0, \
	            "write a folder's records (and history) as a signed BagIt tarball; verify one") \
	RFS_COMMAND(close_service, 0, \
	            "archive a closed service's records with their history, then close and lock them") \
	RFS_COMMAND(transfer, 0, \
	            "confirm that the receiver of an archive has checked it (dates 'transferred')") \
	RFS_COMMAND(transfers, 0, \
	            "the transfer log: archives, closed services, confirmations") \
	/* end of list */

/* The positional arguments a command takes: at least min, at most max;
** names is what "expects NAMES" says ("VAULT MOUNTPOINT"). */
struct cli_args {
	int min, max;
	const char *names;
};

/* What a command is given: set up by the dispatcher from its needs. */
struct cli_ctx {
	int argc;                      /* the positional arguments, after the options */
	char **argv;
	unsigned needs;                /* its line's needs; an option may drop some */
	struct cli_args args;          /* its arguments; an option may change them */
	const char *passfile;          /* CLI_NEEDS_PASSPHRASE: --passphrase-file, or NULL */
	const char *vault_option;      /* CLI_NEEDS_PATH: --vault VAULT, or NULL */
	struct rfs_vault *vault;       /* CLI_NEEDS_VAULT */
	struct hcli hist;              /* CLI_NEEDS_HISTORY, CLI_NEEDS_PATH */
	struct rfs_mount_entry mount;  /* CLI_NEEDS_DAEMON */
};

/* One of a command's own options. getopt returns key: the short option's
** letter where it has one (in shortopts), else a letter of its own. */
struct cli_option {
	const char *name;      /* the long option, without "--"; NULL: a short option only */
	int key;
	int has_arg;           /* no_argument or required_argument */
	const char **value;    /* the value is stored here; or NULL */
	bool *flag;            /* set true when given; or NULL */
};
/* An option that sets *flag, or that stores its value in *value. */
#define CLI_FLAG(name, key, flag) { name, key, no_argument, NULL, flag }
#define CLI_VALUE(name, key, value) { name, key, required_argument, value, NULL }
/* An option that the command's option() hook reads. */
#define CLI_HOOK(name, key, has_arg) { name, key, has_arg, NULL, NULL }

/* One command, defined by its cmd_<name>.c as `const struct cli_command cmd_<name>`.
** Every hook returns CLI_OK to go on, or the exit status to stop with. */
struct cli_command {
	const struct cli_help *help;
	const char *shortopts;           /* its own short options ("h" is added), or NULL */
	const struct cli_option *options; /* its own options, ending in { 0 }, or NULL */
	struct cli_args args;
	/* One of its CLI_HOOK options, in the order given. */
	int (*option)(struct cli_ctx *ctx, int opt, char *arg);
	/* After the options and the count of arguments, before the setup. */
	int (*check)(const struct cli_ctx *ctx);
	int (*run)(struct cli_ctx *ctx);
	/* Frees what its options kept, however the command ended. */
	void (*done)(void);
};

#define RFS_COMMAND_DECLARATION(name, needs, summary) extern const struct cli_command cmd_##name;
RFS_COMMAND_LIST(RFS_COMMAND_DECLARATION)
#undef RFS_COMMAND_DECLARATION

/* Parse argv (argv[0] is the command's name), set up what needs says, run the
** command and close what was set up. Returns the process exit status. */
int cli_dispatch(const struct cli_command *cmd, unsigned needs, int argc, char **argv);

/* After recfs key or passwd changed keyslot slot (labelled name) of vault: record it in the
** vault's history through its daemon when it is mounted (fs/keyslots_ctl.c), or say that it
** is not mounted. CLI_OK or CLI_FAIL (printed). */
int cmd_key_record(const char *vault, const char *action, int slot, const char *name);

#endif
