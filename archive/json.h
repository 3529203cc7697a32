/*
** json: a small strict JSON reader (RFC 8259) for OCFL inventories: the whole
** text in, a tree of values out, in one arena freed at once.
**
** Owns: the grammar (no comments, no trailing commas, no leading zeros, no
** control characters in strings, no lone surrogates, no duplicate keys),
** string escapes to UTF-8, and the limits on depth and values.
** Must never: read past len, recurse deeper than max_depth, or allocate more
** than the limits allow (a hostile inventory gets -E2BIG, not memory).
*/
#ifndef RECFS_ARCHIVE_JSON_H
#define RECFS_ARCHIVE_JSON_H

#include <stdbool.h>
#include <stddef.h>

enum rfs_json_type { RFS_JSON_NULL, RFS_JSON_FALSE, RFS_JSON_TRUE, RFS_JSON_NUMBER,
                     RFS_JSON_STRING, RFS_JSON_ARRAY, RFS_JSON_OBJECT };

struct rfs_json_member;

struct rfs_json {
	enum rfs_json_type type;
	size_t n;                          /* STRING: bytes; ARRAY, OBJECT: members */
	union {
		const char *str;           /* STRING: UTF-8, NUL-terminated (may hold \0 when n says so);
		                           ** NUMBER: its text as written */
		struct rfs_json *items;    /* ARRAY */
		struct rfs_json_member *members;  /* OBJECT: sorted by key (bytes), keys unique */
	} u;
	double num;                        /* NUMBER */
};
struct rfs_json_member {
	const char *key;                   /* UTF-8, NUL-terminated */
	size_t key_len;
	struct rfs_json value;
};

struct rfs_json_limits {
	unsigned max_depth;                /* nesting of arrays and objects; 0: 64 */
	size_t max_values;                 /* every value and key counts; 0: 4,000,000 */
};

struct rfs_json_doc;
/* Parse len bytes (not NUL-terminated). 0; -EINVAL malformed (err says what, with line and
** column); -E2BIG a limit is exceeded; -ENOMEM. */
int rfs_json_parse(const char *text, size_t len, const struct rfs_json_limits *lim,
                   struct rfs_json_doc **out, char *err, size_t errsz);
const struct rfs_json *rfs_json_root(const struct rfs_json_doc *d);
void rfs_json_free(struct rfs_json_doc *d);
/* A member of an object by key, or NULL (absent, or v is not an object). */
const struct rfs_json *rfs_json_get(const struct rfs_json *v, const char *key);
/* The string of v when it is a string without \0, else NULL. */
const char *rfs_json_string(const struct rfs_json *v);

#endif
