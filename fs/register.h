/*
** register: the disposal register, /.recfs/retention/register: one line per
** disposal, hash-chained and signed with the vault's signing key, and the
** certificate of destruction made from one of its lines.
**
**   N  timestamp  path  class  rule  policy-rev  trigger  due  approved-by
**   run-by  review  organisation  authority  files  folders  versions
**   ids-sha256  prev-entry-hash  entry-hash  signature
**
** organisation and the class's authority are the policy's at the disposal; a line of
** 18 fields (written before they were kept) has neither. policy-rev is the commit of
** /.recfs/retention/policy.conf as loaded (an older line may hold the journal's seq).
**
** Fields are tab-separated; '%', tab, CR and LF inside one are written %XX.
** entry-hash is the SHA-256 (hex) of the line up to and including
** prev-entry-hash (the first line's prev is 64 zeros); signature is the
** Ed25519 signature of the 64 hex characters of entry-hash, in base64.
** Owns: the line format, building the next line, checking the whole chain,
** and the certificate's text and signature.
** Must never: hold record content (only the stub: path, class, rule, dates,
** counts, people); accept a line whose hash, signature, number or link to the
** line before does not check.
*/
#ifndef RECFS_FS_REGISTER_H
#define RECFS_FS_REGISTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "crypto/subkeys.h"

/* Where it lives in the mount, and the list of ids a disposal shreds (VAULT/disposed/N). */
#define RFS_REGISTER_PATH ".recfs/retention/register"
#define RFS_DISPOSED_DIR "disposed"
#define RFS_REGISTER_FIELDS 20
#define RFS_REGISTER_FIELDS_OLD 18             /* a line without organisation and authority */
#define RFS_HASH_HEX 64

/* One disposal. Strings are NUL-terminated; "" when there is none. */
struct rfs_register_entry {
	uint64_t number;                       /* 1, 2, ... in order */
	const char *timestamp;                 /* ISO 8601 with offset */
	const char *path;                      /* the record's path (the stub) */
	const char *class_name;
	const char *rule;                      /* "8 years after closed" */
	const char *policy_rev;                /* commit of the policy in force */
	const char *trigger, *due;             /* YYYY-MM-DD */
	const char *approved_by, *run_by;      /* "login(uid)" */
	const char *review;                    /* the review's decision and reason, or "" */
	const char *organisation, *authority;  /* the policy's then; NULL: an 18-field line */
	uint64_t files, folders, versions;
	char ids_sha256[RFS_HASH_HEX + 1];     /* SHA-256 of VAULT/disposed/N */
	char prev_hash[RFS_HASH_HEX + 1];
	char entry_hash[RFS_HASH_HEX + 1];
	char signature[96];
};

/* The register as read: every line that parsed, in order. */
struct rfs_register {
	size_t count;
	struct rfs_register_entry *entries;
	char *text;                            /* owns the entries' strings */
	unsigned long problems;                /* lines written to the report by rfs_register_load */
};

/* Parse len bytes of register text and check every line: field count,
** numbers 1, 2, ... , the chain, each hash and signature under k's public
** key. One line per problem to report (may be NULL), e.g.
** "disposal register: line 2: entry hash does not match its line (changed)".
** 0 (problems counted in reg->problems) or -ENOMEM. */
int rfs_register_load(const char *text, size_t len, const struct rfs_keys *k,
                      struct rfs_register *reg, FILE *report);
void rfs_register_free(struct rfs_register *reg);

/* The next line for e (its number, prev_hash, entry_hash and signature are
** set here from reg), malloc'd in *line with its '\n'. 0 or -ENOMEM. */
int rfs_register_next_line(const struct rfs_register *reg, struct rfs_register_entry *e,
                           const struct rfs_keys *k, char **line);
/* The same after the entry last (NULL: e is the first), for a run that appends several. */
int rfs_register_line_after(const struct rfs_register_entry *last, struct rfs_register_entry *e,
                            const struct rfs_keys *k, char **line);

/* The entry numbered n, or NULL. */
const struct rfs_register_entry *rfs_register_find(const struct rfs_register *reg, uint64_t n);

/* The certificate of destruction of e: its text lines, then the vault's
** public key as PEM and the base64 signature of the text before them, so
**   openssl pkeyutl -verify -pubin -inkey KEY.pem -rawin -in TEXT -sigfile SIG
** checks it. organisation and authority are e's (those of the policy in force
** at the disposal); for an 18-field line the caller's (NULL: "-"). malloc'd in
** *out. 0 or -ENOMEM. */
int rfs_register_certificate(const struct rfs_register_entry *e, const char *organisation,
                             const char *authority, const struct rfs_keys *k, char **out);

struct rfs_history;
struct rfs_vault;

/* For recfs verify: the register of history's newest commit, checked as rfs_register_load
** does, and each entry's list VAULT/disposed/N against its ids-sha256. One line per
** problem to report; returns how many (an unreadable register counts as one). */
unsigned long rfs_register_verify(struct rfs_history *h, struct rfs_vault *v, FILE *report);

/* The SHA-256 hex of len bytes (of VAULT/disposed/N). */
void rfs_register_hash_hex(const void *data, size_t len, char out[RFS_HASH_HEX + 1]);

#endif
