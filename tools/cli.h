/*
** cli: small helpers shared by every recfs subcommand.
**
** Owns: the exit codes, the one-line error format "recfs: <cmd>: message",
** --help output, option parsing on top of getopt_long, and unlocking a vault
** with a passphrase while turning every failure into one clear line.
** Must never: print a passphrase or key, or exit the process itself (commands
** return an exit code so that main can clean up).
*/
#ifndef RECFS_TOOLS_CLI_H
#define RECFS_TOOLS_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include "fs/vault.h"

/* Exit codes of every command. */
enum {
	CLI_OK = 0,          /* done */
	CLI_PROBLEMS = 1,    /* ran, and found problems (fsck, verify) */
	CLI_FAIL = 2,        /* usage error, or could not do what was asked */
};

#define CLI_ERRSZ 512

/* The running command ("init", ...), and how to call this program again in
** hints: argv[0] when it holds a slash (a build tree), else "recfs". */
extern const char *cli_command;
extern const char *cli_program;

/* "recfs: <cmd>: <message>\n" on stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "recfs: <cmd>: warning: <message>\n" on stderr. */
void cli_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* What `recfs CMD --help` prints: a usage line, then free text. */
struct cli_help {
	const char *usage;   /* "VAULT [--passphrase-file FILE]" (after "recfs <cmd> ") */
	const char *text;    /* description and options, lines ending in '\n' */
};

/* Every command accepts -h/--help (the dispatcher adds it). */
#define CLI_HELP_OPTION { "help", no_argument, NULL, 'h' }
/* --passphrase-file FILE, as 'p', for every command that unlocks a vault. */
#define CLI_PASSPHRASE_FILE_OPTION { "passphrase-file", required_argument, NULL, 'p' }
/* --recovery-key-file FILE, beside it: open with the recovery key (recfs key recovery). */
#define CLI_RECOVERY_KEY_FILE_OPTION { "recovery-key-file", required_argument, NULL, 0x52ec }

/* getopt_long with recfs messages. Returns the option, -1 at the end, or '?'
** after printing "unknown option"/"needs an argument" (return cli_usage_error
** then). shortopts is as for getopt_long, without a leading ':'. */
int cli_next_option(int argc, char **argv, const char *shortopts, const struct option *longopts);

/* Print the help to stdout; returns CLI_OK. */
int cli_print_help(const struct cli_help *help);
/* After a usage mistake: "see 'recfs <cmd> --help'"; returns CLI_FAIL. */
int cli_usage_error(void);
/* Check the positional arguments left after options (args[0..count-1]);
** prints what is missing or extra. names is e.g. "VAULT MOUNTPOINT".
** 0 when they fit, else -1. */
int cli_check_args(int count, char **args, int min, int max, const char *names);

/* malloc'd "dir/name"; NULL only when out of memory (then it prints). */
char *cli_path_join(const char *dir, const char *name);

/* Shell-quote s for a hint the user may paste: s itself when it is safe,
** else a quoted copy in one of four static buffers (valid for a few calls). */
const char *cli_shell_quote(const char *s);

/* Run argv (searched in PATH, no shell) and wait. Returns its exit status,
** or -errno when it could not run. */
int cli_run(char *const argv[]);

/* The Argon2id cost for a new keyslot: the default, or (with a printed
** warning) the insecure fast one that tests use. */
void cli_choose_kdf(bool insecure_fast, struct rfs_kdf *kdf);

/* Wait for a child process: its exit status, 128 + signal, or -errno. */
int cli_wait_child(pid_t pid);

/* Print one line for a failure of rfs_vault_open / rfs_vault_read_conf on
** path, with what to do. rc is the negative errno, reason the library's err. */
void cli_report_vault_error(const char *path, int rc, const char *reason);

/* Does a process (a mount daemon, fsck) hold VAULT/lock? */
bool cli_vault_is_locked(const char *vault);

/* Check path is a vault (recfs.conf readable, known version) and, with
** RFS_OPEN_LOCK in flags, that it is not mounted. Prints what is wrong.
** CLI_OK or CLI_FAIL. Call it before asking for a passphrase. */
int cli_check_vault(const char *path, int flags);

struct rfs_secret;

/* Read the passphrase of the vault at path: from passfile, or the terminal
** ("Passphrase for PATH: "). CLI_OK with *out set, or CLI_FAIL (printed). */
int cli_read_vault_passphrase(const char *path, const char *passfile, struct rfs_secret **out);

/* rfs_vault_open with pass; prints any failure. CLI_OK or CLI_FAIL. */
int cli_open_vault(const char *path, const struct rfs_secret *pass, int flags, struct rfs_vault **out);

/* All three above: check, read the passphrase, open. CLI_OK or CLI_FAIL. */
int cli_unlock_vault(const char *path, const char *passfile, int flags, struct rfs_vault **out);

#endif
