/*
** bag: one BagIt 1.0 bag (RFC 8493) in one deterministic pax tarball, with
** the OCFL 1.1 objects of the records' history inside its payload.
**
** Owns: the bag's layout (bagit.txt, data/history/..., data/records/...,
** manifest-sha512.txt, bag-info.txt, tag files, tagmanifest-sha512.txt), the
** path and link checks of every entry, and the read-once-or-twice protocol
** by which content is digested before it is stored.
** Must never: know the vault (content comes through callbacks), write a
** byte anywhere but the caller's fd, keep more than 1 MiB of one file, or
** emit an absolute path, a "..", or a link that leaves data/records.
*/
#ifndef RECFS_ARCHIVE_BAG_H
#define RECFS_ARCHIVE_BAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum rfs_bag_compress { RFS_BAG_PLAIN, RFS_BAG_GZIP, RFS_BAG_ZSTD };
/* From a file name: .tar, .tar.gz|.tgz, .tar.zst, each optionally + ".age". -EINVAL otherwise. */
int rfs_bag_compress_of(const char *name, enum rfs_bag_compress *c, bool *age_suffix);
struct rfs_bag_info {
	const char *name;                /* the bag's folder: the service folder's name */
	const char *source_organization; /* or NULL */
	const char *external_identifier;
	const char *software_agent;      /* "recfs 0.1.0" */
	const char *note;                /* Internal-Sender-Description, or NULL */
	int64_t state_time;              /* Bagging-Date, and mtimes of tag files and structure */
};
struct rfs_bag_out {
	int fd;                          /* written from its current offset; not closed */
	enum rfs_bag_compress compress;
	const uint8_t (*recipients)[32]; /* age X25519 recipients; n_recipients 0: not encrypted */
	size_t n_recipients;
};
struct rfs_bag_result {
	uint8_t sha512[64];              /* of every byte written to fd */
	uint8_t blake2b512[64];          /* the same bytes, for minisign (rfs_minisign_sign's hash) */
	uint64_t bytes;                  /* written to fd */
	uint64_t payload_files, payload_bytes;
	uint64_t objects, versions;
};
typedef int (*rfs_bag_put_fn)(void *put_arg, const void *buf, size_t len);
/* The plaintext of one file, on demand: call put for every piece, size bytes in all. The bag
** may call it twice (digest first, then store) and not at all when key was seen. 0 or -errno. */
typedef int (*rfs_bag_read_fn)(void *arg, rfs_bag_put_fn put, void *put_arg);
struct rfs_bag;
int rfs_bag_start(const struct rfs_bag_info *info, const struct rfs_bag_out *out,
                  struct rfs_bag **b, char *err, size_t errsz);
/* History first: each object, its versions oldest first. dir: under data/history/. */
int rfs_bag_object_begin(struct rfs_bag *b, const char *dir, const char *id);
int rfs_bag_version_begin(struct rfs_bag *b, int64_t created, int tz_offset_min,
                          const char *user_name, const char *user_address, const char *message);
/* One file of this version's state. key: a content identity the caller vouches for (equal keys
** mean equal bytes; the git object id of the version's entry), or NULL. */
int rfs_bag_version_file(struct rfs_bag *b, const char *logical, int64_t mtime, uint64_t size,
                         const char *key, rfs_bag_read_fn read, void *arg);
int rfs_bag_version_end(struct rfs_bag *b);
int rfs_bag_object_end(struct rfs_bag *b);
/* Then the records as they stand, under data/records/ (parents first; caller's order). */
int rfs_bag_folder(struct rfs_bag *b, const char *rel, mode_t mode, int64_t mtime);
int rfs_bag_file(struct rfs_bag *b, const char *rel, mode_t mode, int64_t mtime, uint64_t size,
                 const char *key, rfs_bag_read_fn read, void *arg);
/* -EXDEV: the target is absolute or leaves data/records (left out; the caller reports it). */
int rfs_bag_symlink(struct rfs_bag *b, const char *rel, const char *target, int64_t mtime);
int rfs_bag_tag_file(struct rfs_bag *b, const char *name, const void *data, size_t len);
/* Manifests, bag-info, tag manifest, end of tar, compression and age. Frees b. */
int rfs_bag_finish(struct rfs_bag *b, struct rfs_bag_result *res, char *err, size_t errsz);
void rfs_bag_abort(struct rfs_bag *b);
void rfs_bag_progress(const struct rfs_bag *b, uint64_t *files, uint64_t *payload_bytes);
/* Why the last call that failed did ("" when none did): names the path and what to do. */
const char *rfs_bag_error(const struct rfs_bag *b);

#endif
