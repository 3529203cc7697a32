/*
** recovery_key: the random 256-bit recovery key, as a person reads it and types it back.
**
** Owns: drawing a key, its grouped form (13 groups of 4 base32 characters and a 14th, a check
** of the others, joined by '-'), and turning what a person typed back into the canonical text
** that the recovery keyslot is wrapped under (the 52 characters without groups or check).
** Must never: keep the key or its text outside sodium_malloc memory (struct rfs_secret), or
** write it anywhere but the one line printed by recfs key recovery.
*/
#ifndef RECFS_TOOLS_RECOVERY_KEY_H
#define RECFS_TOOLS_RECOVERY_KEY_H

#include <stddef.h>

#include "tools/passphrase.h"

#define RFS_RECOVERY_KEY_CHARS 52        /* ceil(256 / 5) base32 characters */

/* Draw a key: canon gets its canonical text, grouped the form to print. 0 or -ENOMEM. */
int rfs_recovery_key_generate(struct rfs_secret **canon, struct rfs_secret **grouped);

/* What a person typed (any case, spaces and '-' ignored, 0/1/8 read as O/I/B) into the
** canonical text in *canon. 0, or -EINVAL with err saying what is wrong (length, a
** character, the check group), or -ENOMEM. */
int rfs_recovery_key_parse(const char *typed, size_t len, struct rfs_secret **canon, char *err,
                           size_t errsz);

#endif
