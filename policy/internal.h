/*
** internal: what the policy module's files share and callers never see: compiled `records`
** patterns, UTF-8 decoding, the hold lookup without its checks.
**
** Owns: the pattern representation (one array of characters per folder level), and the
** unchecked half of the hold lookup that plan.c shares with holds.c.
** Must never: be included from outside policy/ (policy.h is the API).
*/
#ifndef RECFS_POLICY_INTERNAL_H
#define RECFS_POLICY_INTERNAL_H

#include "policy/policy.h"

#define RFS_PATTERN_STAR 0xFFFFFFFFu  /* '*': any run of characters inside one name */
#define RFS_PATTERN_ANY 0xFFFFFFFEu   /* '?': one character */
#define RFS_NAME_MAX 255

struct rfs_pattern_segment {
	uint32_t *chars;          /* characters, RFS_PATTERN_STAR and RFS_PATTERN_ANY */
	size_t len;
	const char *text;         /* the level as written (inside the pattern's own copy) */
	size_t text_len;
	bool literal;             /* no wildcard: matched by comparing bytes */
};

struct rfs_pattern {
	char *text;                 /* the pattern as written, NUL-terminated */
	size_t segment_count;
	struct rfs_pattern_segment *segments;
	unsigned literal_segments;  /* segments without '*' or '?' */
	unsigned literal_chars;     /* characters other than '*' and '?' */
};

/* The next character of s[*pos..len): a code point of valid UTF-8, else 0x110000 + the byte
** (so any name can be matched). Advances *pos by at least one byte. */
uint32_t rfs_classify_utf8_next(const char *s, size_t len, size_t *pos);
/* Byte offset of the first invalid UTF-8 sequence in s, or len if it is all valid. */
size_t rfs_classify_utf8_check(const char *s, size_t len);

/* Compile a `records` value. On -EINVAL, *error_at is the byte offset of the fault in text
** and *error names it; -ENOMEM. */
int rfs_classify_pattern_compile(const char *text, size_t len, struct rfs_pattern **out,
                        size_t *error_at, const char **error);
void rfs_classify_pattern_free(struct rfs_pattern *pattern);

/* >0 if a is more specific than b, <0 if less, 0 if as specific (docs/POLICY.md). */
int rfs_classify_pattern_cmp_specificity(const struct rfs_pattern *a, const struct rfs_pattern *b);

/* 1 if some path is covered by both patterns (each matches its first levels), 0 if none,
** -ENOMEM. */
int rfs_classify_pattern_overlap(const struct rfs_pattern *a, const struct rfs_pattern *b);

/* rfs_holds_record_held in two steps, so a plan checks its holds once, not once per record:
** -EINVAL for any malformed hold; then the index of the first hold in force, or -ENOENT
** (record and day already checked by the caller). */
int rfs_holds_check(const struct rfs_hold *holds, size_t hold_count);
int rfs_holds_record_held_checked(const struct rfs_policy *policy, const struct rfs_record_facts *record,
                            const struct rfs_hold *holds, size_t hold_count, struct rfs_date day);

#endif
