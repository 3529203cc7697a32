/*
** archive_out: the client's side of a command that has the daemon write an archive (recfs
** close-service; the seam for recfs archive): FILE made here, never over an existing file,
** its descriptor passed to the daemon; then from the reply, FILE.minisig and the vault's
** archive public key FILE.pub beside it.
** Must never: write anything of the archive itself (the daemon does, into the descriptor), or
** leave a FILE behind that the daemon did not finish (it is removed).
*/
#ifndef RECFS_TOOLS_ARCHIVE_OUT_H
#define RECFS_TOOLS_ARCHIVE_OUT_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct archive_out {
	char path[PATH_MAX];              /* FILE, absolute */
	int fd;                           /* -1 when closed */
	char *signature, *pubkey;         /* FILE.minisig and the public key, from the reply */
	char sha512[129], key_id[17];
	uint64_t bytes, files, objects, versions;
	bool finished;                    /* the reply's "archive" line came: FILE is whole */
};

/* Check FILE's name (.tar, .tar.gz, .tgz, .tar.zst, then .age exactly when encrypted) and make
** it (0644, O_EXCL). Prints what is wrong. CLI_OK or CLI_FAIL. */
int archive_out_open(const char *file, size_t n_recipients, struct archive_out *o);
/* A data line of the reply: signature, pubkey, archive, left-out (printed as a warning).
** True when it was one of these. */
bool archive_out_line(struct archive_out *o, char **fld, int n);
/* After the call: when FILE is whole, write FILE.minisig and FILE.pub (CLI_OK, or CLI_FAIL
** printed); when it is not, remove FILE. Frees what o holds. */
int archive_out_close(struct archive_out *o);

#endif
