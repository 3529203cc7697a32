/*
** archive_verify_cli: `recfs archive verify FILE`: runs archive/verify with the
** identity and public key given, shows progress while reading, prints the
** report (text or JSON) and returns its exit code.
**
** Owns: the report's text and JSON forms (stable field names).
** Must never: print a byte of the archive's content, or a secret of the identity.
*/
#ifndef RECFS_TOOLS_ARCHIVE_VERIFY_CLI_H
#define RECFS_TOOLS_ARCHIVE_VERIFY_CLI_H

#include <stdbool.h>

/* identity_path, pubkey_path: or NULL. The exit code: 0 valid, 1 content, 2 usage or the file
** cannot be opened, 3 unreadable, 4 signature, 5 decryption. */
int archive_verify_cli_run(const char *file, const char *identity_path, const char *pubkey_path,
                           bool json);

#endif
