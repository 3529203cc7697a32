/*
** internal: what the policy module's files share and callers never see: compiled `records`
** patterns, UTF-8 decoding.
**
** Owns: the pattern representation (one array of characters per folder level).
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
};

struct rfs_pattern {
	size_t segment_count;
	struct rfs_pattern_segment *segments;
	unsigned literal_segments;  /* segments without '*' or '?' */
	unsigned literal_chars;     /* characters other than '*' and '?' */
};

/* The next character of s[*pos..len): a code point of valid UTF-8, else 0x110000 + the byte
** (so any name can be matched). Advances *pos by at least one byte. */
uint32_t rfs_utf8_next(const char *s, size_t len, size_t *pos);
/* Byte offset of the first invalid UTF-8 sequence in s, or len if it is all valid. */
size_t rfs_utf8_check(const char *s, size_t len);

/* Compile a `records` value. On -EINVAL, *error_at is the byte offset of the fault in text
** and *error names it; -ENOMEM. */
int rfs_pattern_compile(const char *text, size_t len, struct rfs_pattern **out,
                        size_t *error_at, const char **error);
void rfs_pattern_free(struct rfs_pattern *pattern);

/* >0 if a is more specific than b, <0 if less, 0 if as specific (docs/POLICY.md). */
int rfs_pattern_cmp_specificity(const struct rfs_pattern *a, const struct rfs_pattern *b);

/* 1 if some path is covered by both patterns (each matches its first levels), 0 if none,
** -ENOMEM. */
int rfs_pattern_overlap(const struct rfs_pattern *a, const struct rfs_pattern *b);

#endif
