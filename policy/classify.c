/*
** classify: `records` patterns, which class and record a path belongs to, and which patterns
** are equally specific and overlap (an error at check time).
**
** Owns: the pattern syntax ('*' and '?' inside one name, a leading '.' matched only by a
** literal '.'), the specificity order, and the record of a path.
** Must never: guess between two equally specific patterns (the parser refuses such policies),
** or call a path a record because a less specific pattern covers it when a more specific one
** passes through it (contracts/sealed is a folder of sealed contracts, not a contract).
*/
#include "policy/internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

uint32_t rfs_classify_utf8_next(const char *s, size_t len, size_t *pos)
{
	const unsigned char *u = (const unsigned char *)s + *pos;
	size_t left = len - *pos;
	uint32_t c, min;
	size_t n;

	if (u[0] < 0x80) {
		*pos += 1;
		return u[0];
	}
	if (u[0] >= 0xC2 && u[0] <= 0xDF) {
		n = 2, c = u[0] & 0x1F, min = 0x80;
	} else if (u[0] >= 0xE0 && u[0] <= 0xEF) {
		n = 3, c = u[0] & 0x0F, min = 0x800;
	} else if (u[0] >= 0xF0 && u[0] <= 0xF4) {
		n = 4, c = u[0] & 0x07, min = 0x10000;
	} else {
		goto invalid;
	}
	if (left < n)
		goto invalid;
	for (size_t i = 1; i < n; i++) {
		if ((u[i] & 0xC0) != 0x80)
			goto invalid;
		c = (c << 6) | (u[i] & 0x3F);
	}
	if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
		goto invalid;
	*pos += n;
	return c;
invalid:
	*pos += 1;
	return 0x110000u + u[0];
}

size_t rfs_classify_utf8_check(const char *s, size_t len)
{
	size_t pos = 0;

	while (pos < len) {
		size_t at = pos;
		if (rfs_classify_utf8_next(s, len, &pos) >= 0x110000u)
			return at;
	}
	return len;
}

void rfs_classify_pattern_free(struct rfs_pattern *pattern)
{
	if (!pattern)
		return;
	for (size_t i = 0; i < pattern->segment_count; i++)
		free(pattern->segments[i].chars);
	free(pattern->segments);
	free(pattern->text);
	free(pattern);
}

/* Why segment text[start..end) cannot be one level of a pattern, or NULL; *at is where. */
static const char *segment_fault(const char *text, size_t start, size_t end, size_t *at)
{
	*at = start;
	if (end == start)
		return "a pattern has no empty level: no leading, trailing or doubled '/'";
	if (end - start > RFS_NAME_MAX)
		return "a level of a pattern is longer than a name can be (255 bytes)";
	if (text[start] == ' ' || text[start] == '\t' || text[end - 1] == ' ' ||
	    text[end - 1] == '\t') {
		*at = text[start] == ' ' || text[start] == '\t' ? start : end - 1;
		return "a level of a pattern starts or ends with a space (write cases/*, not cases / *)";
	}
	if ((end - start == 1 && text[start] == '.') ||
	    (end - start == 2 && text[start] == '.' && text[start + 1] == '.'))
		return "'.' and '..' are not names a pattern can match";
	for (size_t i = start; i < end; i++) {
		*at = i;
		if (strchr("[]{}\\", text[i]))
			return "'[', ']', '{', '}' and '\\' are reserved in patterns: only '*' and '?' "
			       "are wildcards";
		if (text[i] == '*' && i + 1 < end && text[i + 1] == '*')
			return "'**' is not supported: each '*' matches inside one name";
	}
	return NULL;
}

static int compile_segment(const char *text, size_t start, size_t end,
                           struct rfs_pattern_segment *seg, struct rfs_pattern *p)
{
	bool literal = true;

	seg->chars = malloc((end - start) * sizeof(uint32_t));
	if (!seg->chars)
		return -ENOMEM;
	seg->len = 0;
	for (size_t pos = start; pos < end;) {
		uint32_t c = rfs_classify_utf8_next(text, end, &pos);
		if (c == '*' || c == '?') {
			c = c == '*' ? RFS_PATTERN_STAR : RFS_PATTERN_ANY;
			literal = false;
		} else {
			p->literal_chars++;
		}
		seg->chars[seg->len++] = c;
	}
	p->literal_segments += literal;
	seg->literal = literal;
	seg->text = p->text + start;
	seg->text_len = end - start;
	return 0;
}

int rfs_classify_pattern_compile(const char *text, size_t len, struct rfs_pattern **out,
                        size_t *error_at, const char **error)
{
	struct rfs_pattern *p = calloc(1, sizeof(*p));
	size_t levels = 1;
	int rc = 0;

	if (!p)
		return -ENOMEM;
	for (size_t i = 0; i < len; i++)
		levels += text[i] == '/';
	p->segments = calloc(levels, sizeof(*p->segments));
	p->text = malloc(len + 1);
	if (!p->segments || !p->text) {
		rfs_classify_pattern_free(p);
		return -ENOMEM;
	}
	memcpy(p->text, text, len);
	p->text[len] = '\0';
	for (size_t start = 0; start <= len && rc == 0;) {
		const char *slash = memchr(text + start, '/', len - start);
		size_t end = slash ? (size_t)(slash - text) : len;
		*error = segment_fault(text, start, end, error_at);
		rc = *error ? -EINVAL : compile_segment(text, start, end,
		                                        &p->segments[p->segment_count++], p);
		start = end + 1;
	}
	if (rc != 0) {
		rfs_classify_pattern_free(p);
		return rc;
	}
	*out = p;
	return 0;
}

int rfs_classify_pattern_cmp_specificity(const struct rfs_pattern *a, const struct rfs_pattern *b)
{
	if (a->literal_segments != b->literal_segments)
		return a->literal_segments > b->literal_segments ? 1 : -1;
	if (a->literal_chars != b->literal_chars)
		return a->literal_chars > b->literal_chars ? 1 : -1;
	return 0;
}

/* Does one pattern level match the name name[0..len)? A leading '.' needs a literal '.'. */
static bool segment_matches(const struct rfs_pattern_segment *seg, const char *name, size_t len)
{
	const uint32_t *p = seg->chars;
	size_t pi = 0, ni = 0, star = SIZE_MAX, mark = 0;

	if (seg->literal)
		return seg->text_len == len && memcmp(seg->text, name, len) == 0;
	if (len > 0 && name[0] == '.' && !(seg->len > 0 && p[0] == '.'))
		return false;
	while (ni < len) {
		size_t next = ni;
		uint32_t c = rfs_classify_utf8_next(name, len, &next);
		if (pi < seg->len && (p[pi] == RFS_PATTERN_ANY || p[pi] == c)) {
			pi++;
			ni = next;
		} else if (pi < seg->len && p[pi] == RFS_PATTERN_STAR) {
			star = pi++;
			mark = ni;
		} else if (star != SIZE_MAX) {
			pi = star + 1;
			rfs_classify_utf8_next(name, len, &mark);  /* the star takes one more character */
			ni = mark;
		} else {
			return false;
		}
	}
	while (pi < seg->len && p[pi] == RFS_PATTERN_STAR)
		pi++;
	return pi == seg->len;
}

/* Search state of two levels read side by side: positions i, j, and whether a character
** was produced yet (a leading '.' must be literal on both sides). */
struct overlap_search {
	const struct rfs_pattern_segment *a, *b;
	uint8_t *seen;
};

static bool is_literal(uint32_t c)
{
	return c != RFS_PATTERN_STAR && c != RFS_PATTERN_ANY;
}

static bool overlap_from(struct overlap_search *s, size_t i, size_t j, int started)
{
	const struct rfs_pattern_segment *a = s->a, *b = s->b;
	size_t bit = ((i * (b->len + 1) + j) << 1) | (size_t)started;

	if (s->seen[bit >> 3] & (1u << (bit & 7)))
		return false;
	s->seen[bit >> 3] |= (uint8_t)(1u << (bit & 7));
	if (i == a->len && j == b->len)
		return started;
	if (i < a->len && a->chars[i] == RFS_PATTERN_STAR && overlap_from(s, i + 1, j, started))
		return true;
	if (j < b->len && b->chars[j] == RFS_PATTERN_STAR && overlap_from(s, i, j + 1, started))
		return true;
	if (i == a->len || j == b->len)
		return false;
	uint32_t ca = a->chars[i], cb = b->chars[j];
	bool fa = is_literal(ca), fb = is_literal(cb);
	if (fa && fb && ca != cb)
		return false;
	uint32_t c = fa ? ca : fb ? cb : 0;  /* 0: both wildcards, any character but '.' */
	if (!started && c == '.' && !(fa && fb))
		return false;
	return overlap_from(s, ca == RFS_PATTERN_STAR ? i : i + 1,
	                    cb == RFS_PATTERN_STAR ? j : j + 1, 1);
}

static int segments_overlap(const struct rfs_pattern_segment *a,
                            const struct rfs_pattern_segment *b)
{
	size_t bits = (a->len + 1) * (b->len + 1) * 2;
	struct overlap_search s = { a, b, calloc((bits + 7) / 8, 1) };

	if (!s.seen)
		return -ENOMEM;
	int rc = overlap_from(&s, 0, 0, 0);
	free(s.seen);
	return rc;
}

int rfs_classify_pattern_overlap(const struct rfs_pattern *a, const struct rfs_pattern *b)
{
	size_t levels = a->segment_count < b->segment_count ? a->segment_count : b->segment_count;

	for (size_t i = 0; i < levels; i++) {
		int rc = segments_overlap(&a->segments[i], &b->segments[i]);
		if (rc <= 0)
			return rc;
	}
	return 1;
}

/* 0 if path is "" or names joined by '/' (none empty, ".", ".." or holding a NUL),
** -EINVAL if not, -ENAMETOOLONG for a name over 255 bytes. */
static int check_path(const char *path, size_t len)
{
	if (len == 0)
		return 0;
	for (size_t start = 0; start <= len;) {
		const char *slash = memchr(path + start, '/', len - start);
		size_t end = slash ? (size_t)(slash - path) : len;
		size_t n = end - start;
		if (n == 0 || (n == 1 && path[start] == '.') ||
		    (n == 2 && path[start] == '.' && path[start + 1] == '.') ||
		    memchr(path + start, '\0', n))
			return -EINVAL;
		if (n > RFS_NAME_MAX)
			return -ENAMETOOLONG;
		start = end + 1;
	}
	return 0;
}

/* How many leading levels of pattern match path; *record_len is the byte length of those. */
static size_t matched_levels(const struct rfs_pattern *p, const char *path, size_t len,
                             size_t *record_len)
{
	size_t level = 0, start = 0;

	while (level < p->segment_count && start < len) {
		const char *slash = memchr(path + start, '/', len - start);
		size_t end = slash ? (size_t)(slash - path) : len;
		if (!segment_matches(&p->segments[level], path + start, end - start))
			return SIZE_MAX;
		level++;
		*record_len = end;
		start = end + 1;
	}
	return level;
}

int rfs_classify_path(const struct rfs_policy *policy, const char *path, size_t len,
                        struct rfs_classification *out)
{
	const struct rfs_pattern *best = NULL;
	bool best_owns = false;
	int rc = check_path(path, len);

	if (rc != 0)
		return rc;
	*out = (struct rfs_classification){ RFS_PLACE_UNCLASSIFIED, 0, 0 };
	for (size_t c = 0; c < policy->class_count; c++) {
		const struct rfs_pattern *p = policy->classes[c].pattern;
		if (best && rfs_classify_pattern_cmp_specificity(p, best) <= 0)
			continue;  /* cannot win: not worth matching */
		size_t record_len = 0, levels = matched_levels(p, path, len, &record_len);
		if (levels == SIZE_MAX)
			continue;
		best = p;
		best_owns = levels == p->segment_count;
		out->place = best_owns ? RFS_PLACE_RECORD : RFS_PLACE_CONTAINER;
		out->class_index = best_owns ? c : 0;
		out->record_len = best_owns ? record_len : 0;
	}
	return 0;
}
