/*
** json: a small strict JSON reader (RFC 8259) for OCFL inventories.
**
** Owns: recursive descent over the text, bounded by max_depth; values and
** decoded strings in one arena (chunks), children gathered on a scratch
** stack and copied into the arena when their array or object closes.
** Must never: read past len, or allocate beyond the limits: the arena is at
** most a few times the text (strings decode shorter than they are written)
** plus max_values values.
*/
#include "archive/json.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_CHUNK (256u << 10)

struct chunk {
	struct chunk *next;
	size_t used, size;
	_Alignas(max_align_t) unsigned char mem[];
};

struct rfs_json_doc {
	struct chunk *chunks;
	struct rfs_json root;
};

/* One pending child: an array item, or an object member (key set). */
struct slot {
	const char *key;
	size_t key_len;
	struct rfs_json value;
};

struct parser {
	const char *s, *end, *p;
	struct rfs_json_doc *doc;
	struct slot *stack;
	size_t sp, cap;
	size_t values, max_values;
	unsigned depth, max_depth;
	int rc;
	char *err;
	size_t errsz;
};

static void *arena_alloc(struct parser *ps, size_t n)
{
	n = (n + 15u) & ~(size_t)15u;
	struct chunk *c = ps->doc->chunks;
	if (!c || c->size - c->used < n) {
		size_t size = n > ARENA_CHUNK ? n : ARENA_CHUNK;
		c = malloc(sizeof(*c) + size);
		if (!c)
			return NULL;
		c->size = size;
		c->used = 0;
		c->next = ps->doc->chunks;
		ps->doc->chunks = c;
	}
	void *m = c->mem + c->used;
	c->used += n;
	return m;
}

static int fail(struct parser *ps, int rc, const char *what)
{
	if (ps->rc)
		return ps->rc;
	size_t line = 1, col = 1;
	for (const char *q = ps->s; q < ps->p && q < ps->end; q++) {
		if (*q == '\n') {
			line++;
			col = 1;
		} else {
			col++;
		}
	}
	if (ps->err && ps->errsz)
		snprintf(ps->err, ps->errsz, "%s at line %zu, column %zu", what, line, col);
	ps->rc = rc;
	return rc;
}

static void skip_ws(struct parser *ps)
{
	while (ps->p < ps->end &&
	       (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
		ps->p++;
}

static int count_value(struct parser *ps)
{
	if (++ps->values > ps->max_values)
		return fail(ps, -E2BIG, "too many values");
	return 0;
}

static int hex4(const char *p, unsigned *out)
{
	unsigned v = 0;
	for (int i = 0; i < 4; i++) {
		char c = p[i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

static size_t put_utf8(char *o, uint32_t cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xC0 | (cp >> 6));
		o[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xE0 | (cp >> 12));
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		o[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	o[0] = (char)(0xF0 | (cp >> 18));
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
	o[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

/* Length of the valid UTF-8 sequence at p (RFC 3629: no overlongs, no
** surrogates, at most U+10FFFF), or 0. */
static size_t utf8_len(const unsigned char *p, const unsigned char *end)
{
	unsigned char c = p[0];
	size_t n;
	uint32_t cp, min;
	if (c < 0x80)
		return 1;
	if ((c & 0xE0) == 0xC0) {
		n = 2;
		cp = c & 0x1F;
		min = 0x80;
	} else if ((c & 0xF0) == 0xE0) {
		n = 3;
		cp = c & 0x0F;
		min = 0x800;
	} else if ((c & 0xF8) == 0xF0) {
		n = 4;
		cp = c & 0x07;
		min = 0x10000;
	} else {
		return 0;
	}
	if ((size_t)(end - p) < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3F);
	}
	if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	return n;
}

/* A string at ps->p (on the opening quote), decoded into the arena. */
static int parse_string(struct parser *ps, const char **out, size_t *out_len)
{
	const char *q = ++ps->p;
	/* First pass: find the end; the decoded form is never longer than the text. */
	while (q < ps->end && *q != '"')
		q += (*q == '\\' && ps->end - q > 1) ? 2 : 1;
	if (q >= ps->end)
		return fail(ps, -EINVAL, "unterminated string");
	char *o = arena_alloc(ps, (size_t)(q - ps->p) + 1);
	if (!o)
		return fail(ps, -ENOMEM, "out of memory");
	size_t n = 0;
	while (*ps->p != '"') {
		unsigned char c = (unsigned char)*ps->p;
		if (c < 0x20)
			return fail(ps, -EINVAL, "control character in a string");
		if (c != '\\') {
			size_t l = utf8_len((const unsigned char *)ps->p, (const unsigned char *)q);
			if (!l)
				return fail(ps, -EINVAL, "invalid UTF-8 in a string");
			memcpy(o + n, ps->p, l);
			n += l;
			ps->p += l;
			continue;
		}
		ps->p++;
		char e = *ps->p++;
		switch (e) {
		case '"': o[n++] = '"'; break;
		case '\\': o[n++] = '\\'; break;
		case '/': o[n++] = '/'; break;
		case 'b': o[n++] = '\b'; break;
		case 'f': o[n++] = '\f'; break;
		case 'n': o[n++] = '\n'; break;
		case 'r': o[n++] = '\r'; break;
		case 't': o[n++] = '\t'; break;
		case 'u': {
			unsigned u, lo;
			if (q - ps->p < 4 || hex4(ps->p, &u))
				return fail(ps, -EINVAL, "bad \\u escape");
			ps->p += 4;
			uint32_t cp = u;
			if (u >= 0xDC00 && u <= 0xDFFF)
				return fail(ps, -EINVAL, "lone low surrogate");
			if (u >= 0xD800 && u <= 0xDBFF) {
				if (q - ps->p < 6 || ps->p[0] != '\\' || ps->p[1] != 'u' ||
				    hex4(ps->p + 2, &lo) || lo < 0xDC00 || lo > 0xDFFF)
					return fail(ps, -EINVAL, "lone high surrogate");
				ps->p += 6;
				cp = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
			}
			/* \uXXXX is 6 bytes, its UTF-8 at most 3; a pair 12 for 4. */
			n += put_utf8(o + n, cp);
			break;
		}
		default:
			ps->p--;
			return fail(ps, -EINVAL, "bad escape");
		}
	}
	ps->p++;
	o[n] = '\0';
	*out = o;
	*out_len = n;
	return 0;
}

static int parse_number(struct parser *ps, struct rfs_json *v)
{
	const char *st = ps->p, *q = ps->p;
	if (q < ps->end && *q == '-')
		q++;
	if (q >= ps->end)
		return fail(ps, -EINVAL, "bad number");
	if (*q == '0') {
		q++;
	} else if (*q >= '1' && *q <= '9') {
		while (q < ps->end && *q >= '0' && *q <= '9')
			q++;
	} else {
		return fail(ps, -EINVAL, "bad number");
	}
	if (q < ps->end && *q == '.') {
		q++;
		if (q >= ps->end || *q < '0' || *q > '9')
			return fail(ps, -EINVAL, "bad number: digits must follow '.'");
		while (q < ps->end && *q >= '0' && *q <= '9')
			q++;
	}
	if (q < ps->end && (*q == 'e' || *q == 'E')) {
		q++;
		if (q < ps->end && (*q == '+' || *q == '-'))
			q++;
		if (q >= ps->end || *q < '0' || *q > '9')
			return fail(ps, -EINVAL, "bad number: digits must follow the exponent");
		while (q < ps->end && *q >= '0' && *q <= '9')
			q++;
	}
	size_t len = (size_t)(q - st);
	char *t = arena_alloc(ps, len + 1);
	if (!t)
		return fail(ps, -ENOMEM, "out of memory");
	memcpy(t, st, len);
	t[len] = '\0';
	v->type = RFS_JSON_NUMBER;
	v->u.str = t;
	v->n = len;
	v->num = strtod(t, NULL);
	ps->p = q;
	return 0;
}

static int push(struct parser *ps, const struct slot *s)
{
	if (ps->sp == ps->cap) {
		size_t cap = ps->cap ? ps->cap * 2 : 64;
		struct slot *ns = realloc(ps->stack, cap * sizeof(*ns));
		if (!ns)
			return fail(ps, -ENOMEM, "out of memory");
		ps->stack = ns;
		ps->cap = cap;
	}
	ps->stack[ps->sp++] = *s;
	return 0;
}

static int cmp_member(const void *a, const void *b)
{
	const struct rfs_json_member *x = a, *y = b;
	size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
	int c = memcmp(x->key, y->key, n);
	if (c)
		return c;
	return (x->key_len > y->key_len) - (x->key_len < y->key_len);
}

static int parse_value(struct parser *ps, struct rfs_json *v);

static int parse_container(struct parser *ps, struct rfs_json *v, bool object)
{
	char close = object ? '}' : ']';
	if (++ps->depth > ps->max_depth)
		return fail(ps, -E2BIG, "nested too deeply");
	ps->p++;
	size_t base = ps->sp;
	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == close) {
		ps->p++;
	} else {
		for (;;) {
			struct slot s = { 0 };
			skip_ws(ps);
			if (object) {
				if (ps->p >= ps->end || *ps->p != '"')
					return fail(ps, -EINVAL, "expected a key");
				if (count_value(ps) || parse_string(ps, &s.key, &s.key_len))
					return ps->rc;
				skip_ws(ps);
				if (ps->p >= ps->end || *ps->p != ':')
					return fail(ps, -EINVAL, "expected ':'");
				ps->p++;
			}
			if (parse_value(ps, &s.value) || push(ps, &s))
				return ps->rc;
			skip_ws(ps);
			if (ps->p < ps->end && *ps->p == ',') {
				ps->p++;
				continue;
			}
			if (ps->p < ps->end && *ps->p == close) {
				ps->p++;
				break;
			}
			return fail(ps, -EINVAL, object ? "expected ',' or '}'" : "expected ',' or ']'");
		}
	}
	size_t n = ps->sp - base;
	v->n = n;
	if (object) {
		struct rfs_json_member *m = n ? arena_alloc(ps, n * sizeof(*m)) : NULL;
		if (n && !m)
			return fail(ps, -ENOMEM, "out of memory");
		for (size_t i = 0; i < n; i++) {
			m[i].key = ps->stack[base + i].key;
			m[i].key_len = ps->stack[base + i].key_len;
			m[i].value = ps->stack[base + i].value;
		}
		if (n > 1)
			qsort(m, n, sizeof(*m), cmp_member);
		for (size_t i = 1; i < n; i++)
			if (!cmp_member(&m[i - 1], &m[i]))
				return fail(ps, -EINVAL, "duplicate key");
		v->type = RFS_JSON_OBJECT;
		v->u.members = m;
	} else {
		struct rfs_json *items = n ? arena_alloc(ps, n * sizeof(*items)) : NULL;
		if (n && !items)
			return fail(ps, -ENOMEM, "out of memory");
		for (size_t i = 0; i < n; i++)
			items[i] = ps->stack[base + i].value;
		v->type = RFS_JSON_ARRAY;
		v->u.items = items;
	}
	ps->sp = base;
	ps->depth--;
	return 0;
}

static bool literal(struct parser *ps, const char *word)
{
	size_t n = strlen(word);
	if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n))
		return false;
	ps->p += n;
	return true;
}

static int parse_value(struct parser *ps, struct rfs_json *v)
{
	memset(v, 0, sizeof(*v));
	skip_ws(ps);
	if (count_value(ps))
		return ps->rc;
	if (ps->p >= ps->end)
		return fail(ps, -EINVAL, "unexpected end");
	switch (*ps->p) {
	case '{':
		return parse_container(ps, v, true);
	case '[':
		return parse_container(ps, v, false);
	case '"':
		v->type = RFS_JSON_STRING;
		return parse_string(ps, &v->u.str, &v->n);
	case 't':
		v->type = RFS_JSON_TRUE;
		return literal(ps, "true") ? 0 : fail(ps, -EINVAL, "bad literal");
	case 'f':
		v->type = RFS_JSON_FALSE;
		return literal(ps, "false") ? 0 : fail(ps, -EINVAL, "bad literal");
	case 'n':
		v->type = RFS_JSON_NULL;
		return literal(ps, "null") ? 0 : fail(ps, -EINVAL, "bad literal");
	default:
		if (*ps->p == '-' || (*ps->p >= '0' && *ps->p <= '9'))
			return parse_number(ps, v);
		return fail(ps, -EINVAL, "unexpected character");
	}
}

void rfs_json_free(struct rfs_json_doc *d)
{
	if (!d)
		return;
	for (struct chunk *c = d->chunks, *n; c; c = n) {
		n = c->next;
		free(c);
	}
	free(d);
}

int rfs_json_parse(const char *text, size_t len, const struct rfs_json_limits *lim,
                   struct rfs_json_doc **out, char *err, size_t errsz)
{
	*out = NULL;
	if (err && errsz)
		err[0] = '\0';
	struct parser ps = {
		.s = text, .end = text + len, .p = text,
		.max_depth = lim && lim->max_depth ? lim->max_depth : 64,
		.max_values = lim && lim->max_values ? lim->max_values : 4000000,
		.err = err, .errsz = errsz,
	};
	ps.doc = calloc(1, sizeof(*ps.doc));
	if (!ps.doc)
		return -ENOMEM;
	/* A BOM is not JSON text (RFC 8259 section 8.1: MUST NOT add). */
	if (!parse_value(&ps, &ps.doc->root)) {
		skip_ws(&ps);
		if (ps.p != ps.end)
			fail(&ps, -EINVAL, "text after the value");
	}
	free(ps.stack);
	if (ps.rc) {
		rfs_json_free(ps.doc);
		return ps.rc;
	}
	*out = ps.doc;
	return 0;
}

const struct rfs_json *rfs_json_root(const struct rfs_json_doc *d)
{
	return d ? &d->root : NULL;
}

const struct rfs_json *rfs_json_get(const struct rfs_json *v, const char *key)
{
	if (!v || v->type != RFS_JSON_OBJECT)
		return NULL;
	struct rfs_json_member k = { .key = key, .key_len = strlen(key) };
	const struct rfs_json_member *m = bsearch(&k, v->u.members, v->n, sizeof(k), cmp_member);
	return m ? &m->value : NULL;
}

const char *rfs_json_string(const struct rfs_json *v)
{
	if (!v || v->type != RFS_JSON_STRING || strlen(v->u.str) != v->n)
		return NULL;
	return v->u.str;
}
