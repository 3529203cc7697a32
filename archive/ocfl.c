/*
** ocfl: see ocfl.h.
*/
#include "archive/ocfl.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto/encoding.h"

struct content {
	uint8_t digest[64];
	char *path;
};
struct state {
	char *logical;
	size_t idx;                    /* into contents */
};
struct version {
	int64_t created;
	int tz;
	char *user_name, *user_address, *message;
	size_t first, n;               /* its range of states */
};
struct rfs_ocfl {
	char *id;
	struct content *contents;
	size_t n_contents, cap_contents;
	struct state *states;
	size_t n_states, cap_states;
	struct version *versions;
	size_t n_versions, cap_versions;
	bool open;
};

int rfs_ocfl_grow(void **arr, size_t n, size_t *cap, size_t sz)
{
	size_t nc;
	void *p;

	if (n < *cap)
		return 0;
	nc = *cap ? *cap * 2 : 16;
	if (!(p = reallocarray(*arr, nc, sz)))
		return -ENOMEM;
	*arr = p;
	*cap = nc;
	return 0;
}

static char *dup_or_null(const char *s, bool *fail)
{
	char *d = s ? strdup(s) : NULL;

	if (s && !d)
		*fail = true;
	return d;
}

int rfs_ocfl_new(const char *id, struct rfs_ocfl **out)
{
	struct rfs_ocfl *o = calloc(1, sizeof(*o));

	*out = NULL;
	if (!o || !(o->id = strdup(id))) {
		free(o);
		return -ENOMEM;
	}
	*out = o;
	return 0;
}

void rfs_ocfl_free(struct rfs_ocfl *o)
{
	if (!o)
		return;
	for (size_t i = 0; i < o->n_contents; i++)
		free(o->contents[i].path);
	for (size_t i = 0; i < o->n_states; i++)
		free(o->states[i].logical);
	for (size_t i = 0; i < o->n_versions; i++) {
		free(o->versions[i].user_name);
		free(o->versions[i].user_address);
		free(o->versions[i].message);
	}
	free(o->contents);
	free(o->states);
	free(o->versions);
	free(o->id);
	free(o);
}

int rfs_ocfl_version_begin(struct rfs_ocfl *o, int64_t created, int tz_offset_min,
                           const char *user_name, const char *user_address,
                           const char *message, unsigned *n)
{
	struct version *v;
	bool fail = false;

	if (o->open || tz_offset_min <= -24 * 60 || tz_offset_min >= 24 * 60)
		return -EINVAL;
	if (rfs_ocfl_grow((void **)&o->versions, o->n_versions, &o->cap_versions, sizeof(*v)) < 0)
		return -ENOMEM;
	v = &o->versions[o->n_versions];
	memset(v, 0, sizeof(*v));
	v->created = created;
	v->tz = tz_offset_min;
	v->user_name = dup_or_null(user_name, &fail);
	v->user_address = dup_or_null(user_name ? user_address : NULL, &fail);
	v->message = dup_or_null(message, &fail);
	v->first = o->n_states;
	o->n_versions++;              /* freed with the object even when it failed */
	if (fail)
		return -ENOMEM;
	o->open = true;
	*n = (unsigned)o->n_versions;
	return 0;
}

int rfs_ocfl_content(struct rfs_ocfl *o, const uint8_t digest[64], const char *content_path,
                     size_t *idx)
{
	struct content *c;

	if (rfs_ocfl_grow((void **)&o->contents, o->n_contents, &o->cap_contents, sizeof(*c)) < 0)
		return -ENOMEM;
	c = &o->contents[o->n_contents];
	memcpy(c->digest, digest, 64);
	if (!(c->path = strdup(content_path)))
		return -ENOMEM;
	*idx = o->n_contents++;
	return 0;
}

int rfs_ocfl_state(struct rfs_ocfl *o, const char *logical, size_t idx)
{
	struct state *s;

	if (!o->open || idx >= o->n_contents)
		return -EINVAL;
	if (rfs_ocfl_grow((void **)&o->states, o->n_states, &o->cap_states, sizeof(*s)) < 0)
		return -ENOMEM;
	s = &o->states[o->n_states];
	if (!(s->logical = strdup(logical)))
		return -ENOMEM;
	s->idx = idx;
	o->n_states++;
	o->versions[o->n_versions - 1].n++;
	return 0;
}

/* Path order with '/' before every other byte, so that a folder's paths follow it at once. */
static int path_cmp(const char *a, const char *b)
{
	for (;; a++, b++) {
		unsigned ca = (unsigned char)*a, cb = (unsigned char)*b;

		if (ca == cb) {
			if (!ca)
				return 0;
			continue;
		}
		ca = ca == '/' ? 1 : ca;
		cb = cb == '/' ? 1 : cb;
		return ca < cb ? -1 : 1;
	}
}

static int state_path_cmp(const void *a, const void *b)
{
	return path_cmp(((const struct state *)a)->logical, ((const struct state *)b)->logical);
}

int rfs_ocfl_version_end(struct rfs_ocfl *o)
{
	struct version *v;

	if (!o->open)
		return -EINVAL;
	o->open = false;
	v = &o->versions[o->n_versions - 1];
	if (v->n > 1)   /* qsort of no states would be given NULL */
		qsort(o->states + v->first, v->n, sizeof(struct state), state_path_cmp);
	for (size_t i = v->first; i + 1 < v->first + v->n; i++) {
		const char *a = o->states[i].logical, *b = o->states[i + 1].logical;
		size_t la = strlen(a);

		if (strcmp(a, b) == 0)
			return -EEXIST;
		if (strncmp(a, b, la) == 0 && b[la] == '/')
			return -ENOTDIR;
	}
	return 0;
}

unsigned rfs_ocfl_head(const struct rfs_ocfl *o)
{
	return (unsigned)o->n_versions;
}

int64_t rfs_ocfl_head_created(const struct rfs_ocfl *o)
{
	return o->n_versions ? o->versions[o->n_versions - 1].created : 0;
}

void rfs_ocfl_rfc3339(char buf[64], int64_t created, int tz_offset_min)
{
	time_t t = (time_t)(created + (int64_t)tz_offset_min * 60);
	int off = tz_offset_min < 0 ? -tz_offset_min : tz_offset_min;
	struct tm tm;

	gmtime_r(&t, &tm);
	snprintf(buf, 64, "%04d-%02d-%02dT%02d:%02d:%02d%c%02d:%02d", tm.tm_year + 1900,
	         tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
	         tz_offset_min < 0 ? '-' : '+', off / 60, off % 60);
}

size_t rfs_ocfl_utf8_len(const unsigned char *s)
{
	unsigned c = s[0];
	size_t n;
	uint32_t cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4, cp = c & 0x07;
	else
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

/* s as a JSON string (RFC 8259): the short escapes where JSON has them, other controls
** as \u00XX, UTF-8 as it is; a byte that is not UTF-8 becomes U+FFFD. */
static void json_string(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	fputc('"', f);
	while (*p) {
		size_t n = rfs_ocfl_utf8_len(p);

		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p == '\b')
			fputs("\\b", f);
		else if (*p == '\f')
			fputs("\\f", f);
		else if (*p == '\n')
			fputs("\\n", f);
		else if (*p == '\r')
			fputs("\\r", f);
		else if (*p == '\t')
			fputs("\\t", f);
		else if (*p < 0x20)
			fprintf(f, "\\u%04x", *p);
		else if (n == 0)
			fputs("\xef\xbf\xbd", f);
		else
			fwrite(p, 1, n, f);
		p += n ? n : 1;
	}
	fputc('"', f);
}

static void indent(FILE *f, int depth)
{
	for (int i = 0; i < depth; i++)
		fputs("  ", f);
}

/* "key": at depth (the caller writes the value). */
static void key(FILE *f, int depth, const char *k, bool *first)
{
	fputs(*first ? "\n" : ",\n", f);
	*first = false;
	indent(f, depth);
	json_string(f, k);
	fputs(": ", f);
}

static void close_obj(FILE *f, int depth, bool empty, char c)
{
	if (!empty) {
		fputc('\n', f);
		indent(f, depth);
	}
	fputc(c, f);
}

struct pair {
	const uint8_t *digest;
	const char *path;
};

static int pair_cmp(const void *a, const void *b)
{
	const struct pair *x = a, *y = b;
	int c = memcmp(x->digest, y->digest, 64);

	return c ? c : strcmp(x->path, y->path);
}

/* { digest: [paths] } of pairs sorted by digest, then path (byte order, as JSON's
** sorted keys compare). */
static void digest_map(FILE *f, int depth, struct pair *pairs, size_t n)
{
	char hex[129];
	bool first = true;

	qsort(pairs, n, sizeof(*pairs), pair_cmp);
	fputc('{', f);
	for (size_t i = 0; i < n; i++) {
		bool new_digest = i == 0 || memcmp(pairs[i].digest, pairs[i - 1].digest, 64) != 0;

		if (new_digest) {
			if (i > 0)
				close_obj(f, depth + 1, false, ']');
			rfs_hex_encode(hex, pairs[i].digest, 64);
			key(f, depth + 1, hex, &first);
			fputc('[', f);
		} else {
			fputc(',', f);
		}
		fputc('\n', f);
		indent(f, depth + 2);
		json_string(f, pairs[i].path);
	}
	if (n > 0)
		close_obj(f, depth + 1, false, ']');
	close_obj(f, depth, n == 0, '}');
}

static int vname_cmp(const void *a, const void *b)
{
	char x[16], y[16];

	snprintf(x, sizeof(x), "v%u", *(const unsigned *)a);
	snprintf(y, sizeof(y), "v%u", *(const unsigned *)b);
	return strcmp(x, y);
}

static void version_json(FILE *f, const struct rfs_ocfl *o, const struct version *v,
                         struct pair *pairs)
{
	char when[64];
	bool first = true;

	fputc('{', f);
	rfs_ocfl_rfc3339(when, v->created, v->tz);
	key(f, 3, "created", &first);
	json_string(f, when);
	if (v->message) {
		key(f, 3, "message", &first);
		json_string(f, v->message);
	}
	for (size_t i = 0; i < v->n; i++) {
		const struct state *s = &o->states[v->first + i];

		pairs[i].digest = o->contents[s->idx].digest;
		pairs[i].path = s->logical;
	}
	key(f, 3, "state", &first);
	digest_map(f, 3, pairs, v->n);
	if (v->user_name) {
		bool ufirst = true;

		key(f, 3, "user", &first);
		fputc('{', f);
		if (v->user_address) {
			key(f, 4, "address", &ufirst);
			json_string(f, v->user_address);
		}
		key(f, 4, "name", &ufirst);
		json_string(f, v->user_name);
		close_obj(f, 3, false, '}');
	}
	close_obj(f, 2, false, '}');
}

int rfs_ocfl_inventory(const struct rfs_ocfl *o, char **text, size_t *len)
{
	size_t most = o->n_contents;
	struct pair *pairs;
	unsigned *order;
	char head[16];
	bool first = true;
	FILE *f;
	int rc = 0;

	*text = NULL;
	if (o->n_versions == 0 || o->open)
		return -EINVAL;
	for (size_t i = 0; i < o->n_versions; i++)
		most = o->versions[i].n > most ? o->versions[i].n : most;
	pairs = calloc(most ? most : 1, sizeof(*pairs));
	order = calloc(o->n_versions, sizeof(*order));
	f = open_memstream(text, len);
	if (!pairs || !order || !f) {
		rc = -ENOMEM;
		goto out;
	}
	snprintf(head, sizeof(head), "v%zu", o->n_versions);
	fputc('{', f);
	key(f, 1, "digestAlgorithm", &first);
	json_string(f, "sha512");
	key(f, 1, "head", &first);
	json_string(f, head);
	key(f, 1, "id", &first);
	json_string(f, o->id);
	for (size_t i = 0; i < o->n_contents; i++) {
		pairs[i].digest = o->contents[i].digest;
		pairs[i].path = o->contents[i].path;
	}
	key(f, 1, "manifest", &first);
	digest_map(f, 1, pairs, o->n_contents);
	key(f, 1, "type", &first);
	json_string(f, "https://ocfl.io/1.1/spec/#inventory");
	key(f, 1, "versions", &first);
	fputc('{', f);
	/* Sorted keys: "v1", "v10", "v2", ... as JSON's sorted keys compare strings. */
	for (size_t i = 0; i < o->n_versions; i++)
		order[i] = (unsigned)i + 1;
	qsort(order, o->n_versions, sizeof(*order), vname_cmp);
	first = true;
	for (size_t i = 0; i < o->n_versions; i++) {
		char name[16];

		snprintf(name, sizeof(name), "v%u", order[i]);
		key(f, 2, name, &first);
		version_json(f, o, &o->versions[order[i] - 1], pairs);
	}
	close_obj(f, 1, false, '}');
	close_obj(f, 0, false, '}');
	fputc('\n', f);
out:
	if (f && fclose(f) != 0 && rc == 0)
		rc = -ENOMEM;
	free(pairs);
	free(order);
	if (rc < 0) {
		free(*text);
		*text = NULL;
	}
	return rc;
}
