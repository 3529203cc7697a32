/*
** passphrase: reading secrets for the recfs command.
**
** Owns: the only ways a passphrase enters recfs: the first line of a file
** (--passphrase-file FILE, '-' for standard input), or the terminal with echo
** off. The secret lives in sodium_malloc memory and is wiped when freed.
** Must never: take a secret from argv or the environment, read through stdio
** (its buffers are not wiped), prompt when standard input is not a terminal,
** or leave the terminal with echo off.
*/
#ifndef RECFS_TOOLS_PASSPHRASE_H
#define RECFS_TOOLS_PASSPHRASE_H

#include <stdbool.h>
#include <stddef.h>

#define RFS_PASSPHRASE_MAX 1024

struct rfs_secret {
	size_t len;
	char text[RFS_PASSPHRASE_MAX + 1];   /* NUL-terminated */
};

/* Read an existing passphrase: from file when file is not NULL (first line,
** without its newline), else from /dev/tty after printing prompt.
** 0 with *out set (free with rfs_secret_free), or -errno with err set. */
int rfs_secret_read(const char *file, const char *prompt, struct rfs_secret **out,
                    char *err, size_t errsz);

/* From now on, rfs_secret_read reads the recovery key (recfs key recovery) from file
** instead of a passphrase: the canonical text its keyslot is wrapped under. For
** --recovery-key-file, set once by the dispatcher. */
void rfs_secret_use_recovery_key(const char *file);
/* Whether rfs_secret_use_recovery_key was called. */
bool rfs_secret_recovery_in_use(void);

/* Read a new passphrase: from file, or asked twice on the terminal (prompt,
** then "Repeat: ") and compared. An empty passphrase is refused (-EINVAL). */
int rfs_secret_read_new(const char *file, const char *prompt, struct rfs_secret **out,
                        char *err, size_t errsz);

/* Wipe and free. NULL is allowed. */
void rfs_secret_free(struct rfs_secret *s);

#endif
