/*
** verify: reads any archive of a closed service (a pax tar, optionally gzip
** or zstd, optionally age-encrypted, with FILE.minisig beside it) once, as a
** stream, and checks it: the signature, the BagIt bag (bagit.txt, bag-info's
** Payload-Oxum, both SHA-512 manifests) and every OCFL object inside it.
**
** Owns: the problem kinds and their stable names, the report, the exit code.
** Must never: extract a byte to disk, follow a path or link out of the bag,
** or let a hostile input grow memory beyond the documented limits (the
** counts of entries, manifest lines pending and inventory sizes are capped;
** file sizes never matter); a problem is reported, never a crash.
*/
#ifndef RECFS_ARCHIVE_VERIFY_H
#define RECFS_ARCHIVE_VERIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rfs_age_identities;

enum rfs_archive_problem_kind { /* stable names in rfs_archive_problem_name(): */
	RFS_AP_MISSING, RFS_AP_EXTRA, RFS_AP_CHANGED, RFS_AP_MANIFEST_MALFORMED, RFS_AP_BAG_MALFORMED,
	RFS_AP_OCFL_MISMATCH, RFS_AP_UNSAFE_PATH, RFS_AP_UNSAFE_LINK, RFS_AP_TRUNCATED,
	RFS_AP_NOT_ARCHIVE, RFS_AP_LIMIT, RFS_AP_BAD_SIGNATURE, RFS_AP_NO_SIGNATURE,
	RFS_AP_NO_IDENTITY, RFS_AP_WRONG_IDENTITY };
/* names: missing, extra, changed, manifest-malformed, bag-malformed, ocfl-mismatch, unsafe-path,
** unsafe-link, truncated, not-an-archive, limit, bad-signature, no-signature, no-identity,
** wrong-identity */
struct rfs_archive_problem { enum rfs_archive_problem_kind kind; char *path; char *detail; };
struct rfs_archive_report {
	bool encrypted, signed_ok;
	char key_id[17];                 /* hex of the signature's key id, "" if none */
	char *trusted_comment, *bag_name;
	uint64_t files, bytes, objects, versions;
	struct rfs_archive_problem *problems; size_t n_problems;  /* the first 100 */
	uint64_t problems_total;
	int exit_code;                   /* 0 good, 1 content, 3 unreadable, 4 signature, 5 decryption */
	bool signature_checked;          /* FILE.minisig and a key were there to check */
};
typedef void (*rfs_archive_verify_progress_fn)(void *arg, uint64_t bytes_read, uint64_t total_bytes);
struct rfs_archive_verify_options {
	const struct rfs_age_identities *identities;   /* NULL: none */
	const char *pubkey_path;     /* NULL: FILE.minisig's key is looked for as *.pub beside FILE */
	rfs_archive_verify_progress_fn progress; void *progress_arg;  /* bytes read of FILE */
	void (*progress_entries)(void *progress_arg, uint64_t entries);  /* tar entries read, or NULL */
};
int  rfs_archive_verify(const char *file, const struct rfs_archive_verify_options *o,
                        struct rfs_archive_report *rep);   /* 0 (see rep), -errno: cannot start */
void rfs_archive_report_free(struct rfs_archive_report *rep);
const char *rfs_archive_problem_name(enum rfs_archive_problem_kind k);

/* The limits (a hostile archive meets "limit" beyond them, never more memory). */
#define RFS_ARCHIVE_VERIFY_MAX_PROBLEMS 100u        /* kept in the report; all are counted */
#define RFS_ARCHIVE_VERIFY_MAX_ENTRIES 1000000u     /* tar entries, plus manifest lines pending */
#define RFS_ARCHIVE_VERIFY_MAX_NAMES (128u << 20)   /* bytes of all their names and link targets */
#define RFS_ARCHIVE_VERIFY_MAX_PATH 4096u           /* bytes of one path */
#define RFS_ARCHIVE_VERIFY_MAX_LINE 65536u          /* bytes of one manifest line */
#define RFS_ARCHIVE_VERIFY_MAX_TAG (1u << 20)       /* bagit.txt, bag-info.txt, sidecars */
#define RFS_ARCHIVE_VERIFY_MAX_INVENTORY (64u << 20) /* one inventory.json */
#define RFS_ARCHIVE_VERIFY_MAX_SIGNATURE 65536u     /* FILE.minisig, a .pub */
#define RFS_ARCHIVE_VERIFY_MAX_PENDING 200000u      /* manifest lines whose file has not come yet */
/* A compression bomb: the tar stream may grow to MAX_EXPANSION times the bytes of FILE read
** so far, plus EXPANSION_SLACK; real records compress far less (gzip tops out near 1030). */
#define RFS_ARCHIVE_VERIFY_MAX_EXPANSION 500u
#define RFS_ARCHIVE_VERIFY_EXPANSION_SLACK (64ull << 20)

#endif
