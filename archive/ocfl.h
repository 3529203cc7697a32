/*
** ocfl: the inventory of one OCFL 1.1 object (https://ocfl.io/1.1/spec/), built
** version by version in memory and written as its inventory.json text.
**
** Owns: the inventory's JSON (keys sorted, two-space indent, RFC 8259 strings,
** RFC 3339 dates with their offset), the version names v1..vN, and the rules
** that a version's logical paths are unique and none is a folder of another.
** Must never: read or write content (the bag does, and says which digests it
** stored where), or hold more than one object's counts.
** Internal to archive/.
*/
#ifndef RECFS_ARCHIVE_OCFL_H
#define RECFS_ARCHIVE_OCFL_H

#include <stddef.h>
#include <stdint.h>

#define RFS_OCFL_NAMASTE "0=ocfl_object_1.1"
#define RFS_OCFL_NAMASTE_TEXT "ocfl_object_1.1\n"

struct rfs_ocfl;

int  rfs_ocfl_new(const char *id, struct rfs_ocfl **o);   /* 0 or -ENOMEM */
void rfs_ocfl_free(struct rfs_ocfl *o);
/* A new version (created: seconds since the epoch, shown at tz_offset_min east of UTC);
** user_name, user_address, message may be NULL (left out). *n: its number. */
int  rfs_ocfl_version_begin(struct rfs_ocfl *o, int64_t created, int tz_offset_min,
                            const char *user_name, const char *user_address,
                            const char *message, unsigned *n);
/* Content stored at content_path (from the object's root) with this digest: once per digest
** (the caller sees to it). *idx names it for rfs_ocfl_state. */
int  rfs_ocfl_content(struct rfs_ocfl *o, const uint8_t digest[64], const char *content_path,
                      size_t *idx);
/* The open version has the file logical with content idx. */
int  rfs_ocfl_state(struct rfs_ocfl *o, const char *logical, size_t idx);
/* -EEXIST: a logical path was given twice; -ENOTDIR: one is a folder of another. */
int  rfs_ocfl_version_end(struct rfs_ocfl *o);
unsigned rfs_ocfl_head(const struct rfs_ocfl *o);          /* 0: no version yet */
int64_t rfs_ocfl_head_created(const struct rfs_ocfl *o);
/* inventory.json's text (heap, *len bytes, ends with '\n'). -EINVAL with no version. */
int  rfs_ocfl_inventory(const struct rfs_ocfl *o, char **text, size_t *len);
/* Grows *arr (n used, *cap room, elements of sz bytes) to hold one more. 0 or -ENOMEM.
** (The bag's arrays grow the same way.) */
int  rfs_ocfl_grow(void **arr, size_t n, size_t *cap, size_t sz);
/* Length of the valid UTF-8 sequence at s (1..4), or 0 when it is not one (overlong,
** surrogate, past U+10FFFF, cut short). */
size_t rfs_ocfl_utf8_len(const unsigned char *s);
/* created at tz_offset_min as RFC 3339 ("2024-05-01T09:30:00+01:00"); buf of 64. */
void rfs_ocfl_rfc3339(char buf[64], int64_t created, int tz_offset_min);

#endif
