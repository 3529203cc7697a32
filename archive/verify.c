/*
** verify: one pass over an archive of a closed service, as a stream:
**
**   FILE --read, BLAKE2b for FILE.minisig--> [age reader] --> libarchive
**        (gzip | zstd | none, tar/pax) --> each entry once: SHA-512 of its bytes
**
** then the bag's checks against a table of the entries seen (path, kind,
** digest, size, flags). Manifest lines are checked as they stream; a line
** whose file has not come yet waits in the table (at most MAX_PENDING), so
** bags in any entry order verify, and a manifest of millions of lines costs
** nothing when its payload came first (as recfs writes it).
**
** Owns: the checks, the classification of every failure into a problem kind,
** the limits, and the exit code.
** Must never: write anything to disk, follow a path out of the bag, keep
** more than one inventory's text at a time, or crash on any input.
*/
#include "archive/verify.h"

#include "archive/json.h"
#include "crypto/age.h"
#include "crypto/digest.h"
#include "crypto/encoding.h"
#include "crypto/minisign.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BUF_SIZE (64u << 10)
#define MAX_KEYS 64u             /* *.pub files tried beside FILE */
#define MAX_LINK_HOPS 40u

enum {
	N_SEEN = 1u << 0,        /* an entry of the tar */
	N_FILE = 1u << 1,        /* regular file or hard link: digest and size are its own */
	N_DIR = 1u << 2,
	N_SYMLINK = 1u << 3,     /* link: its resolved target */
	N_LISTED = 1u << 4,      /* in manifest-sha512.txt or tagmanifest-sha512.txt */
	N_EXPECT = 1u << 5,      /* not seen yet, or a link: digest is the manifest's */
	N_OCFL = 1u << 6,        /* in an OCFL inventory's manifest */
	N_ROOT = 1u << 7,        /* an OCFL object's root folder */
	N_INVENTORY = 1u << 8,   /* an object's inventory.json was read before its declaration */
};

struct expect {                  /* an OCFL digest for a file not seen yet */
	uint8_t digest[RFS_SHA512_SIZE];
	const char *source;
};

struct object {
	char *content_dir;           /* "content" unless the inventory says otherwise */
	bool inventory;              /* its inventory.json was checked */
};

struct node {
	struct node *next;
	uint32_t hash, flags;
	uint64_t size;
	uint8_t digest[RFS_SHA512_SIZE];
	struct expect *ocfl;
	char *link;                  /* N_SYMLINK: its target, bag-relative */
	size_t object;               /* N_ROOT: its index in objects */
	char path[];                 /* bag-relative, no trailing '/' */
};

/* Line splitter of a manifest streamed through it. */
struct lines {
	char *buf;
	size_t len;
	uint64_t lineno;
	bool overflow;
};

struct entry_sink {              /* what the current entry's bytes feed besides its digest */
	enum { S_NONE, S_BUFFER, S_MANIFEST, S_TAGMANIFEST } kind;
	char *buf;
	size_t len, cap;
	bool too_big;
};

struct v {
	const struct rfs_archive_verify_options *o;
	struct rfs_archive_report *rep;
	const char *file;
	int fd;
	uint64_t total, raw_read;
	uint64_t data_bytes;         /* of every entry, as read (holes of sparse files too) */
	bool raw_eof;
	struct rfs_minisign_hash bh;
	unsigned char *peek;
	size_t peek_len, peek_off;
	struct rfs_age_reader *age;
	int stream_err;              /* why the source failed, -errno */
	unsigned char *buf;
	unsigned kinds;              /* bit per problem kind seen */
	bool fatal;                  /* reading stopped: the end checks would only add noise */

	struct node **tab;
	size_t tab_size, n_nodes, n_pending;
	size_t name_bytes;           /* of the nodes' paths and links' targets */
	struct object *objects;
	size_t n_objects;
	char *bag;                   /* the bag folder's name */
	bool have_bagit, have_manifest, have_tagmanifest, have_data;
	bool compressed;             /* the plaintext starts as gzip or zstd do */
	bool plain_seen;
	bool payload_closed;         /* the manifest came after data/: its payload is all seen */
	uint64_t oxum_bytes, oxum_files;
	bool oxum_set;
	struct lines ml;
};

const char *rfs_archive_problem_name(enum rfs_archive_problem_kind k)
{
	static const char *const names[] = {
		[RFS_AP_MISSING] = "missing", [RFS_AP_EXTRA] = "extra", [RFS_AP_CHANGED] = "changed",
		[RFS_AP_MANIFEST_MALFORMED] = "manifest-malformed",
		[RFS_AP_BAG_MALFORMED] = "bag-malformed", [RFS_AP_OCFL_MISMATCH] = "ocfl-mismatch",
		[RFS_AP_UNSAFE_PATH] = "unsafe-path", [RFS_AP_UNSAFE_LINK] = "unsafe-link",
		[RFS_AP_TRUNCATED] = "truncated", [RFS_AP_NOT_ARCHIVE] = "not-an-archive",
		[RFS_AP_LIMIT] = "limit", [RFS_AP_BAD_SIGNATURE] = "bad-signature",
		[RFS_AP_NO_SIGNATURE] = "no-signature", [RFS_AP_NO_IDENTITY] = "no-identity",
		[RFS_AP_WRONG_IDENTITY] = "wrong-identity",
	};
	if ((unsigned)k >= sizeof(names) / sizeof(names[0]) || !names[k])
		return "unknown";
	return names[k];
}

/* A problem at path (in_bag: relative to the bag's folder). Only the first ones are
** formatted: a hostile manifest may bring millions. */
static void vproblem(struct v *v, enum rfs_archive_problem_kind kind, bool in_bag, const char *path,
                     const char *fmt, va_list ap)
{
	struct rfs_archive_report *rep = v->rep;
	v->kinds |= 1u << kind;
	rep->problems_total++;
	if (rep->n_problems >= RFS_ARCHIVE_VERIFY_MAX_PROBLEMS)
		return;
	if (!rep->problems) {
		rep->problems = calloc(RFS_ARCHIVE_VERIFY_MAX_PROBLEMS, sizeof(*rep->problems));
		if (!rep->problems)
			return;
	}
	char detail[512];
	vsnprintf(detail, sizeof(detail), fmt, ap);
	struct rfs_archive_problem *p = &rep->problems[rep->n_problems];
	p->kind = kind;
	if (in_bag && v->bag && asprintf(&p->path, "%s%s%s", v->bag, *path ? "/" : "", path) < 0)
		p->path = NULL;
	else if (!in_bag || !v->bag)
		p->path = strdup(path ? path : "");
	p->detail = strdup(detail);
	if (!p->path || !p->detail) {
		free(p->path);
		free(p->detail);
		return;
	}
	rep->n_problems++;
}

__attribute__((format(printf, 5, 6)))
static void report(struct v *v, enum rfs_archive_problem_kind kind, bool in_bag, const char *path,
                   const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vproblem(v, kind, in_bag, path, fmt, ap);
	va_end(ap);
}
/* At a path of the file system (FILE, FILE.minisig), or in the bag (relative to its folder). */
#define problem(v, kind, path, ...) report(v, kind, false, path, __VA_ARGS__)
#define problem_in(v, kind, rel, ...) report(v, kind, true, rel, __VA_ARGS__)

static void short_hex(char out[17], const uint8_t *d)
{
	rfs_hex_encode(out, d, 8);
}

/* ---- the table of entries ---- */

static uint32_t hash_path(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

static struct node *lookup(struct v *v, const char *path)
{
	if (!v->tab_size)
		return NULL;
	uint32_t h = hash_path(path);
	for (struct node *n = v->tab[h & (v->tab_size - 1)]; n; n = n->next)
		if (n->hash == h && !strcmp(n->path, path))
			return n;
	return NULL;
}

static int grow(struct v *v)
{
	size_t size = v->tab_size ? v->tab_size * 2 : 4096;
	struct node **t = calloc(size, sizeof(*t));
	if (!t)
		return -ENOMEM;
	for (size_t i = 0; i < v->tab_size; i++) {
		for (struct node *n = v->tab[i], *next; n; n = next) {
			next = n->next;
			n->next = t[n->hash & (size - 1)];
			t[n->hash & (size - 1)] = n;
		}
	}
	free(v->tab);
	v->tab = t;
	v->tab_size = size;
	return 0;
}

/* The node of path, made when absent. NULL: out of memory or the entry limit (reported). */
static struct node *intern(struct v *v, const char *path)
{
	struct node *n = lookup(v, path);
	if (n)
		return n;
	if (v->n_nodes >= RFS_ARCHIVE_VERIFY_MAX_ENTRIES) {
		if (!v->fatal)
			problem(v, RFS_AP_LIMIT, v->file,
			        "more than %u entries and manifest lines: verify stops here",
			        RFS_ARCHIVE_VERIFY_MAX_ENTRIES);
		v->fatal = true;
		return NULL;
	}
	size_t len = strlen(path);
	if (v->name_bytes + len > RFS_ARCHIVE_VERIFY_MAX_NAMES) {
		if (!v->fatal)
			problem(v, RFS_AP_LIMIT, v->file,
			        "names of more than %u MiB in all: verify stops here",
			        RFS_ARCHIVE_VERIFY_MAX_NAMES >> 20);
		v->fatal = true;
		return NULL;
	}
	if (v->n_nodes >= v->tab_size / 2 && grow(v))
		goto nomem;
	n = calloc(1, sizeof(*n) + len + 1);
	if (!n)
		goto nomem;
	memcpy(n->path, path, len + 1);
	n->hash = hash_path(path);
	n->next = v->tab[n->hash & (v->tab_size - 1)];
	v->tab[n->hash & (v->tab_size - 1)] = n;
	v->n_nodes++;
	v->name_bytes += len;
	return n;
nomem:
	if (!v->fatal)
		problem(v, RFS_AP_LIMIT, v->file, "out of memory after %zu entries", v->n_nodes);
	v->fatal = true;
	return NULL;
}

static void free_table(struct v *v)
{
	for (size_t i = 0; i < v->tab_size; i++) {
		for (struct node *n = v->tab[i], *next; n; n = next) {
			next = n->next;
			free(n->ocfl);
			free(n->link);
			free(n);
		}
	}
	free(v->tab);
	for (size_t i = 0; i < v->n_objects; i++)
		free(v->objects[i].content_dir);
	free(v->objects);
}

/* ---- paths ---- */

enum path_verdict { P_OK, P_ABSOLUTE, P_DOTDOT, P_ODD };

/* A tar name: relative, no ".." segment; "." and empty segments are odd. */
static enum path_verdict check_path(const char *p)
{
	if (p[0] == '/')
		return P_ABSOLUTE;
	enum path_verdict odd = P_OK;
	const char *s = p;
	for (;;) {
		const char *e = strchr(s, '/');
		size_t n = e ? (size_t)(e - s) : strlen(s);
		if (n == 2 && s[0] == '.' && s[1] == '.')
			return P_DOTDOT;
		if ((n == 1 && s[0] == '.') || (n == 0 && e))
			odd = P_ODD;
		if (!e)
			break;
		s = e + 1;
	}
	return odd;
}

/* Append the segment s (n bytes) to the path out of len bytes. false: it does not fit. */
static bool push_segment(char *out, size_t *len, size_t outsz, const char *s, size_t n)
{
	if (*len + 1 + n + 1 > outsz)
		return false;
	if (*len)
		out[(*len)++] = '/';
	memcpy(out + *len, s, n);
	*len += n;
	out[*len] = '\0';
	return true;
}

/* target of a symbolic link at rel (bag-relative), resolved lexically within the bag into
** out. false: absolute, or it climbs out of the bag. */
static bool resolve_link(const char *rel, const char *target, char *out, size_t outsz)
{
	if (target[0] == '/' || !target[0])
		return false;
	size_t len = 0;
	const char *slash = strrchr(rel, '/');
	if (slash) {
		len = (size_t)(slash - rel);
		if (len >= outsz)
			return false;
		memcpy(out, rel, len);
	}
	out[len] = '\0';
	const char *s = target;
	for (;;) {
		const char *e = strchr(s, '/');
		size_t n = e ? (size_t)(e - s) : strlen(s);
		if (n == 2 && s[0] == '.' && s[1] == '.') {
			if (!len)
				return false;
			char *up = strrchr(out, '/');
			len = up ? (size_t)(up - out) : 0;
			out[len] = '\0';
		} else if (n && !(n == 1 && s[0] == '.') && !push_segment(out, &len, outsz, s, n)) {
			return false;
		}
		if (!e)
			break;
		s = e + 1;
	}
	return true;
}

/* path with every link along it replaced by its target (a link's target may itself pass
** through links to folders), into out. false: a loop, or too long. */
static bool canonical(struct v *v, const char *path, char *out, size_t outsz, unsigned *hops)
{
	size_t len = 0;
	out[0] = '\0';
	for (const char *s = path; *s;) {
		const char *e = strchr(s, '/');
		size_t n = e ? (size_t)(e - s) : strlen(s);
		if (!push_segment(out, &len, outsz, s, n))
			return false;
		struct node *nd = lookup(v, out);
		if (nd && (nd->flags & N_SYMLINK) && nd->link) {
			char t[RFS_ARCHIVE_VERIFY_MAX_PATH];
			if (++*hops > MAX_LINK_HOPS || !canonical(v, nd->link, t, sizeof(t), hops))
				return false;
			len = strlen(t);
			if (len + 1 > outsz)
				return false;
			memcpy(out, t, len + 1);
		}
		s = e ? e + 1 : s + n;
	}
	return true;
}

/* The file a node stands for, through links; NULL: dangling, a folder, or a loop. */
static struct node *follow(struct v *v, struct node *n)
{
	if ((n->flags & N_SEEN) && (n->flags & N_FILE))
		return n;
	if (!(n->flags & N_SYMLINK))
		return NULL;
	char path[RFS_ARCHIVE_VERIFY_MAX_PATH];
	unsigned hops = 0;
	if (!canonical(v, n->path, path, sizeof(path), &hops))
		return NULL;
	struct node *t = lookup(v, path);
	return t && (t->flags & N_SEEN) && (t->flags & N_FILE) ? t : NULL;
}

/* ---- the source: FILE's bytes, hashed for the signature as they pass ---- */

static ssize_t raw_read(struct v *v, void *buf, size_t len)
{
	if (v->peek_off < v->peek_len) {
		size_t n = v->peek_len - v->peek_off;
		if (n > len)
			n = len;
		memcpy(buf, v->peek + v->peek_off, n);
		v->peek_off += n;
		return (ssize_t)n;
	}
	if (v->raw_eof)
		return 0;
	ssize_t n;
	do
		n = read(v->fd, buf, len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (n == 0) {
		v->raw_eof = true;
		return 0;
	}
	rfs_minisign_hash_update(&v->bh, buf, (size_t)n);
	v->raw_read += (uint64_t)n;
	if (v->o && v->o->progress)
		v->o->progress(v->o->progress_arg, v->raw_read, v->total);
	return n;
}

static ssize_t age_source(void *arg, void *buf, size_t len)
{
	return raw_read(arg, buf, len);
}

static la_ssize_t la_read(struct archive *a, void *arg, const void **out)
{
	struct v *v = arg;
	ssize_t n = v->age ? rfs_age_reader_read(v->age, v->buf, BUF_SIZE)
	                   : raw_read(v, v->buf, BUF_SIZE);
	if (n < 0) {
		v->stream_err = (int)n;
		archive_set_error(a, (int)-n, "%s", strerror((int)-n));
		return -1;
	}
	if (!v->plain_seen && n >= 4) {
		const unsigned char *b = v->buf;
		v->compressed = (b[0] == 0x1f && b[1] == 0x8b) ||
		                (b[0] == 0x28 && b[1] == 0xb5 && b[2] == 0x2f && b[3] == 0xfd);
	}
	v->plain_seen = true;
	*out = v->buf;
	return n;
}

/* ---- manifests ---- */

static int unhex(uint8_t out[RFS_SHA512_SIZE], const char *s, size_t n)
{
	char low[2 * RFS_SHA512_SIZE];
	if (n != sizeof(low))
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		low[i] = (s[i] >= 'A' && s[i] <= 'F') ? (char)(s[i] - 'A' + 'a') : s[i];
	return rfs_hex_decode(out, RFS_SHA512_SIZE, low);
}

/* BagIt's percent-encoding of CR, LF and '%' (RFC 8493 section 2.1.3), in place. */
static void percent_decode(char *s)
{
	char *o = s;
	for (const char *p = s; *p;) {
		if (p[0] == '%' && p[1] && p[2]) {
			char c = 0;
			if (p[1] == '0' && (p[2] == 'A' || p[2] == 'a'))
				c = '\n';
			else if (p[1] == '0' && (p[2] == 'D' || p[2] == 'd'))
				c = '\r';
			else if (p[1] == '2' && p[2] == '5')
				c = '%';
			if (c) {
				*o++ = c;
				p += 3;
				continue;
			}
		}
		*o++ = *p++;
	}
	*o = '\0';
}

static void check_digest(struct v *v, struct node *n, const uint8_t want[RFS_SHA512_SIZE],
                         const char *whose)
{
	char a[17], b[17];
	if (!memcmp(n->digest, want, RFS_SHA512_SIZE))
		return;
	short_hex(a, want);
	short_hex(b, n->digest);
	problem_in(v, RFS_AP_CHANGED, n->path,
		   "SHA-512 %s... in %s, but the file's is %s...", a, whose, b);
}

static void manifest_line(struct v *v, char *line, size_t len, bool tag)
{
	const char *mf = tag ? "tagmanifest-sha512.txt" : "manifest-sha512.txt";
	uint64_t no = v->ml.lineno;
	if (len && line[len - 1] == '\r')
		line[--len] = '\0';
	size_t h = 0;
	while (h < len && line[h] != ' ' && line[h] != '\t')
		h++;
	size_t s = h;
	while (s < len && (line[s] == ' ' || line[s] == '\t'))
		s++;
	uint8_t want[RFS_SHA512_SIZE];
	if (h == len || s == len || unhex(want, line, h) || memchr(line, '\0', len)) {
		problem_in(v, RFS_AP_MANIFEST_MALFORMED, mf,
			   "line %llu: not \"<128 hex digits> <path>\"", (unsigned long long)no);
		return;
	}
	char *path = line + s;
	percent_decode(path);
	if (check_path(path) != P_OK || strlen(path) >= RFS_ARCHIVE_VERIFY_MAX_PATH) {
		problem_in(v, RFS_AP_MANIFEST_MALFORMED, mf,
			   "line %llu: the path is absolute, has '..', '.' or an empty segment, or is too long",
			   (unsigned long long)no);
		return;
	}
	bool data = !strncmp(path, "data/", 5);
	if (data == tag) {
		problem_in(v, RFS_AP_MANIFEST_MALFORMED, mf,
			   tag ? "line %llu: a payload file (data/...) belongs in manifest-sha512.txt"
			       : "line %llu: not a payload file (data/...)", (unsigned long long)no);
		return;
	}
	struct node *n = lookup(v, path);
	if (n && (n->flags & N_LISTED)) {
		problem_in(v, RFS_AP_MANIFEST_MALFORMED, mf,
			   "line %llu: %s is listed twice", (unsigned long long)no, path);
		return;
	}
	if (!n && !tag && v->payload_closed) {
		problem_in(v, RFS_AP_MISSING, path,
			   "listed in manifest-sha512.txt, but not in the tar");
		return;
	}
	if (!n) {
		if (v->n_pending >= RFS_ARCHIVE_VERIFY_MAX_PENDING) {
			problem_in(v, RFS_AP_LIMIT, mf,
				   "line %llu: more than %u listed files not (yet) in the tar: verify stops here",
				   (unsigned long long)no, RFS_ARCHIVE_VERIFY_MAX_PENDING);
			v->fatal = true;
			return;
		}
		n = intern(v, path);
		if (!n)
			return;
		v->n_pending++;
		n->flags |= N_LISTED | N_EXPECT;
		memcpy(n->digest, want, sizeof(want));
		return;
	}
	n->flags |= N_LISTED;
	if (n->flags & N_FILE) {
		check_digest(v, n, want, mf);
	} else if (n->flags & N_SYMLINK) {
		n->flags |= N_EXPECT;     /* its target may come later: checked at the end */
		memcpy(n->digest, want, sizeof(want));
	} else {
		problem_in(v, RFS_AP_CHANGED, n->path,
			   "listed in %s, but it is a folder", mf);
	}
}

static void lines_feed(struct v *v, const char *data, size_t len, bool tag)
{
	struct lines *l = &v->ml;
	while (len && !v->fatal) {
		const char *nl = memchr(data, '\n', len);
		size_t take = nl ? (size_t)(nl - data) : len;
		if (!l->overflow) {
			if (l->len + take >= RFS_ARCHIVE_VERIFY_MAX_LINE) {
				l->overflow = true;
			} else {
				memcpy(l->buf + l->len, data, take);
				l->len += take;
			}
		}
		if (!nl)
			return;
		l->lineno++;
		if (l->overflow) {
			problem_in(v, RFS_AP_MANIFEST_MALFORMED,
				   tag ? "tagmanifest-sha512.txt" : "manifest-sha512.txt",
				   "line %llu: longer than %u bytes", (unsigned long long)l->lineno,
				   RFS_ARCHIVE_VERIFY_MAX_LINE);
		} else {
			l->buf[l->len] = '\0';
			manifest_line(v, l->buf, l->len, tag);
		}
		l->len = 0;
		l->overflow = false;
		data = nl + 1;
		len -= take + 1;
	}
}

static void lines_end(struct v *v, bool tag)
{
	struct lines *l = &v->ml;
	if (l->len || l->overflow)
		lines_feed(v, "\n", 1, tag);   /* a last line without its LF */
	l->lineno = 0;
}

/* ---- tag files ---- */

static void check_bagit(struct v *v, const char *t, size_t len)
{
	v->have_bagit = true;
	unsigned maj, min;
	if (len > 3 && !memcmp(t, "\xEF\xBB\xBF", 3)) {   /* RFC 8493 forbids a BOM here */
		problem_in(v, RFS_AP_BAG_MALFORMED, "bagit.txt", "starts with a BOM");
		return;
	}
	if (sscanf(t, "BagIt-Version: %u.%u", &maj, &min) != 2 ||
	    !strstr(t, "\nTag-File-Character-Encoding: "))
		problem_in(v, RFS_AP_BAG_MALFORMED, "bagit.txt",
			   "not \"BagIt-Version: M.N\" then \"Tag-File-Character-Encoding: ...\"");
}

static void check_baginfo(struct v *v, const char *t)
{
	for (const char *l = t; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
		unsigned long long bytes, files;
		if (!strncmp(l, "Payload-Oxum:", 13)) {
			if (sscanf(l + 13, " %llu.%llu", &bytes, &files) != 2) {
				problem_in(v, RFS_AP_BAG_MALFORMED, "bag-info.txt",
					   "Payload-Oxum is not \"<bytes>.<files>\"");
				return;
			}
			v->oxum_set = true;
			v->oxum_bytes = bytes;
			v->oxum_files = files;
		}
	}
}

/* ---- OCFL ---- */

static bool version_number(const char *k, unsigned long *num, size_t *width)
{
	if (k[0] != 'v' || !k[1] || k[1] < '0' || k[1] > '9' || strlen(k) > 12)
		return false;
	char *end;
	*num = strtoul(k + 1, &end, 10);
	*width = strlen(k + 1);
	return !*end && *num > 0;
}

/* The object at root (bag-relative) has its inventory text: check it against what the
** tar holds (and what it will bring: expectations wait on nodes). */
static void check_inventory(struct v *v, const char *root, size_t obj, const char *text, size_t len)
{
	char at[RFS_ARCHIVE_VERIFY_MAX_PATH + 64];
	char err[200];
	snprintf(at, sizeof(at), "%s/inventory.json", root);
	struct rfs_json_doc *doc;
	struct rfs_json_limits lim = { .max_depth = 16, .max_values = 1000000 };
	int rc = rfs_json_parse(text, len, &lim, &doc, err, sizeof(err));
	if (rc) {
		problem_in(v, rc == -E2BIG ? RFS_AP_LIMIT : RFS_AP_OCFL_MISMATCH, at, "does not parse: %s",
			   rc == -ENOMEM ? "out of memory" : err);
		return;
	}
	v->objects[obj].inventory = true;
	v->rep->objects++;
	const struct rfs_json *inv = rfs_json_root(doc);
	const char *type = rfs_json_string(rfs_json_get(inv, "type"));
	const char *alg = rfs_json_string(rfs_json_get(inv, "digestAlgorithm"));
	const char *head = rfs_json_string(rfs_json_get(inv, "head"));
	const struct rfs_json *cd = rfs_json_get(inv, "contentDirectory");
	const struct rfs_json *manifest = rfs_json_get(inv, "manifest");
	const struct rfs_json *versions = rfs_json_get(inv, "versions");
	if (inv->type != RFS_JSON_OBJECT || !rfs_json_string(rfs_json_get(inv, "id")) || !type ||
	    strncmp(type, "https://ocfl.io/1.", 18) || !alg || !head ||
	    !manifest || manifest->type != RFS_JSON_OBJECT || !versions ||
	    versions->type != RFS_JSON_OBJECT || (cd && !rfs_json_string(cd))) {
		problem_in(v, RFS_AP_OCFL_MISMATCH, at,
			   "not an OCFL inventory: id, type, digestAlgorithm, head, manifest and versions are needed");
		goto out;
	}
	if (strcmp(alg, "sha512")) {
		problem_in(v, RFS_AP_OCFL_MISMATCH, at, "digestAlgorithm is \"%s\": verify checks sha512 only",
			   alg);
		goto out;
	}
	const char *content = cd ? rfs_json_string(cd) : "content";
	if (!*content || strchr(content, '/') || !strcmp(content, ".") || !strcmp(content, "..")) {
		problem_in(v, RFS_AP_OCFL_MISMATCH, at, "contentDirectory \"%s\" is not one plain name",
			   content);
		goto out;
	}
	free(v->objects[obj].content_dir);
	v->objects[obj].content_dir = strdup(content);

	/* Versions: v1..vN, unpadded or all zero-padded to one width, head the last. */
	unsigned long max = 0;
	bool ok = true, padded = false;
	size_t width0 = 0;
	for (size_t i = 0; i < versions->n; i++)
		padded |= versions->u.members[i].key[1] == '0';
	for (size_t i = 0; i < versions->n; i++) {
		unsigned long num;
		size_t width;
		const char *k = versions->u.members[i].key;
		if (!version_number(k, &num, &width)) {
			problem_in(v, RFS_AP_OCFL_MISMATCH, at, "version \"%s\" is not v<number>", k);
			ok = false;
			continue;
		}
		if (padded && width0 && width != width0) {
			problem_in(v, RFS_AP_OCFL_MISMATCH, at, "version \"%s\": its zero-padding differs", k);
			ok = false;
		}
		width0 = width;
		if (num > max)
			max = num;
		const struct rfs_json *state = rfs_json_get(&versions->u.members[i].value, "state");
		if (!state || state->type != RFS_JSON_OBJECT ||
		    !rfs_json_string(rfs_json_get(&versions->u.members[i].value, "created"))) {
			problem_in(v, RFS_AP_OCFL_MISMATCH, at, "version %s has no state or no created", k);
			ok = false;
			continue;
		}
		for (size_t j = 0; j < state->n; j++) {
			const char *d = state->u.members[j].key;
			uint8_t dg[RFS_SHA512_SIZE];
			bool found = false;
			/* manifest keys are sorted: compare decoded digests to be case-blind */
			if (!unhex(dg, d, strlen(d))) {
				char low[2 * RFS_SHA512_SIZE + 1];
				rfs_hex_encode(low, dg, RFS_SHA512_SIZE);
				found = rfs_json_get(manifest, low) != NULL || rfs_json_get(manifest, d) != NULL;
			}
			if (!found) {
				problem_in(v, RFS_AP_OCFL_MISMATCH, at,
					   "version %s's state has digest %.16s..., which the manifest lacks", k, d);
			}
		}
	}
	if (ok) {
		if (max != versions->n)
			problem_in(v, RFS_AP_OCFL_MISMATCH, at, "%zu versions, numbered up to v%lu: a gap",
				   versions->n, max);
		unsigned long hn;
		size_t hw;
		if (!version_number(head, &hn, &hw) || hn != max || !rfs_json_get(versions, head))
			problem_in(v, RFS_AP_OCFL_MISMATCH, at, "head is \"%s\", not the last version", head);
	}
	v->rep->versions += versions->n;

	/* Manifest: every content path holds its digest. */
	for (size_t i = 0; i < manifest->n && !v->fatal; i++) {
		const struct rfs_json_member *m = &manifest->u.members[i];
		uint8_t dg[RFS_SHA512_SIZE];
		if (unhex(dg, m->key, m->key_len) || m->value.type != RFS_JSON_ARRAY) {
			problem_in(v, RFS_AP_OCFL_MISMATCH, at, "manifest key %.20s... is not a SHA-512 with a list",
				   m->key);
			continue;
		}
		for (size_t j = 0; j < m->value.n && !v->fatal; j++) {
			const char *cp = rfs_json_string(&m->value.u.items[j]);
			char bp[RFS_ARCHIVE_VERIFY_MAX_PATH + 64];
			const char *slash = cp ? strchr(cp, '/') : NULL;
			unsigned long num;
			size_t w;
			char vdir[16];
			if (slash && (size_t)(slash - cp) < sizeof(vdir)) {
				memcpy(vdir, cp, (size_t)(slash - cp));
				vdir[slash - cp] = '\0';
			} else {
				vdir[0] = '\0';
			}
			if (!cp || check_path(cp) != P_OK || !version_number(vdir, &num, &w) ||
			    strncmp(slash + 1, content, strlen(content)) ||
			    slash[1 + strlen(content)] != '/' ||
			    snprintf(bp, sizeof(bp), "%s/%s", root, cp) >= (int)RFS_ARCHIVE_VERIFY_MAX_PATH) {
				problem_in(v, RFS_AP_OCFL_MISMATCH, at,
					   "content path \"%s\" is not v<N>/%s/<a plain relative path>",
					   cp ? cp : "(not a string)", content);
				continue;
			}
			struct node *n = intern(v, bp);
			if (!n)
				break;
			n->flags |= N_OCFL;
			if ((n->flags & N_SEEN) && (n->flags & N_FILE)) {
				if (memcmp(n->digest, dg, sizeof(dg))) {
					char a[17], b[17];
					short_hex(a, dg);
					short_hex(b, n->digest);
					problem_in(v, RFS_AP_OCFL_MISMATCH, bp,
						   "SHA-512 %s... in its inventory, but the file's is %s...", a, b);
				}
			} else if (n->flags & N_SEEN) {
				problem_in(v, RFS_AP_OCFL_MISMATCH, bp,
					   "in its inventory's manifest, but not a file");
			} else if (!n->ocfl) {
				n->ocfl = malloc(sizeof(*n->ocfl));
				if (n->ocfl) {
					memcpy(n->ocfl->digest, dg, sizeof(dg));
					n->ocfl->source = "its inventory";
				}
			}
		}
	}
out:
	rfs_json_free(doc);
}

static void check_sidecar(struct v *v, const char *root, const char *t)
{
	char inv[RFS_ARCHIVE_VERIFY_MAX_PATH + 64];
	snprintf(inv, sizeof(inv), "%s/inventory.json", root);
	size_t h = strcspn(t, " \t");
	uint8_t dg[RFS_SHA512_SIZE];
	const char *name = t + h + strspn(t + h, " \t");
	if (unhex(dg, t, h) || strncmp(name, "inventory.json", 14) ||
	    (name[14] && strcmp(name + 14, "\n"))) {
		problem_in(v, RFS_AP_OCFL_MISMATCH, inv,
			   "inventory.json.sha512 is not \"<digest> inventory.json\"");
		return;
	}
	struct node *n = intern(v, inv);
	if (!n)
		return;
	if (n->flags & N_SEEN) {
		if (memcmp(n->digest, dg, sizeof(dg)))
			problem_in(v, RFS_AP_OCFL_MISMATCH, inv,
				   "its SHA-512 differs from inventory.json.sha512");
	} else if (!n->ocfl && (n->ocfl = malloc(sizeof(*n->ocfl)))) {
		memcpy(n->ocfl->digest, dg, sizeof(dg));
		n->ocfl->source = "inventory.json.sha512";
	}
}

/* The object root of rel when rel is ROOT/<leaf>, with ROOT a known object; or -1. */
static long object_of_parent(struct v *v, const char *rel, char *root, size_t rootsz)
{
	const char *slash = strrchr(rel, '/');
	if (!slash || (size_t)(slash - rel) >= rootsz)
		return -1;
	memcpy(root, rel, (size_t)(slash - rel));
	root[slash - rel] = '\0';
	struct node *n = lookup(v, root);
	return n && (n->flags & N_ROOT) ? (long)n->object : -1;
}

static void declare_object(struct v *v, const char *rel, const char *text, size_t len)
{
	char root[RFS_ARCHIVE_VERIFY_MAX_PATH];
	const char *slash = strrchr(rel, '/');
	memcpy(root, rel, (size_t)(slash - rel));
	root[slash - rel] = '\0';
	if (len != 16 || memcmp(text, "ocfl_object_1.1\n", 16)) {
		problem_in(v, RFS_AP_OCFL_MISMATCH, rel,
			   "the declaration must hold \"ocfl_object_1.1\\n\"");
	}
	struct node *n = intern(v, root);
	if (!n || (n->flags & N_ROOT))
		return;
	struct object *o = realloc(v->objects, (v->n_objects + 1) * sizeof(*o));
	if (!o)
		return;
	v->objects = o;
	o[v->n_objects] = (struct object){ 0 };
	n->flags |= N_ROOT;
	n->object = v->n_objects++;
	if (n->flags & N_INVENTORY)
		problem_in(v, RFS_AP_OCFL_MISMATCH, root,
			   "inventory.json comes before 0=ocfl_object_1.1 in the tar: not checked");
}

/* ---- entries ---- */

static bool is_tagmanifest(const char *rel)
{
	return !strncmp(rel, "tagmanifest-", 12) && !strchr(rel, '/');
}

/* The tar stream has grown past what FILE's bytes can honestly give: a bomb. Reported once. */
static bool bomb(struct v *v, struct archive *a)
{
	/* the tar stream, or the files' bytes when more (a sparse file's holes cost no stream) */
	uint64_t plain = (uint64_t)archive_filter_bytes(a, 0);
	if (v->data_bytes > plain)
		plain = v->data_bytes;
	if (plain <= RFS_ARCHIVE_VERIFY_EXPANSION_SLACK + RFS_ARCHIVE_VERIFY_MAX_EXPANSION * v->raw_read)
		return false;
	problem(v, RFS_AP_LIMIT, v->file,
	        "%llu bytes of tar from %llu of the file: more than %u-fold, a compression bomb; "
	        "verify stops",
	        (unsigned long long)plain, (unsigned long long)v->raw_read, RFS_ARCHIVE_VERIFY_MAX_EXPANSION);
	v->fatal = true;
	return true;
}

/* Read the current entry's bytes once: digest, and the sink its name asks for. */
static int read_entry(struct v *v, struct archive *a, struct node *n, struct entry_sink *sk,
                      size_t cap)
{
	struct rfs_sha512 sh;
	rfs_sha512_init(&sh);
	uint64_t size = 0;
	for (;;) {
		la_ssize_t r = archive_read_data(a, v->buf + BUF_SIZE, BUF_SIZE);
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		v->data_bytes += (uint64_t)r;
		if (bomb(v, a) || v->fatal)      /* a limit met inside: read no further */
			return 0;
		const char *d = (const char *)v->buf + BUF_SIZE;
		rfs_sha512_update(&sh, d, (size_t)r);
		size += (uint64_t)r;
		if (sk->kind == S_BUFFER && !sk->too_big) {
			if (sk->len + (size_t)r > cap) {
				sk->too_big = true;
			} else {
				if (sk->len + (size_t)r + 1 > sk->cap) {
					size_t nc = sk->cap ? sk->cap : 4096;
					while (nc < sk->len + (size_t)r + 1)
						nc *= 2;
					char *nb = realloc(sk->buf, nc);
					if (!nb) {
						sk->too_big = true;
						continue;
					}
					sk->buf = nb;
					sk->cap = nc;
				}
				memcpy(sk->buf + sk->len, d, (size_t)r);
				sk->len += (size_t)r;
				sk->buf[sk->len] = '\0';
			}
		} else if (sk->kind == S_MANIFEST || sk->kind == S_TAGMANIFEST) {
			lines_feed(v, d, (size_t)r, sk->kind == S_TAGMANIFEST);
		}
	}
	uint8_t dg[RFS_SHA512_SIZE];
	rfs_sha512_final(&sh, dg);
	memcpy(n->digest, dg, sizeof(dg));   /* an expected digest was saved by the caller */
	n->size = size;
	return 0;
}

static void arrived(struct v *v, struct node *n, const uint8_t *expect, bool expected)
{
	if (expected) {
		v->n_pending--;
		n->flags &= ~(uint32_t)N_EXPECT;
		check_digest(v, n, expect,
		             !strncmp(n->path, "data/", 5) ? "manifest-sha512.txt" : "tagmanifest-sha512.txt");
	}
	if (n->ocfl) {
		if (memcmp(n->ocfl->digest, n->digest, RFS_SHA512_SIZE))
			problem_in(v, RFS_AP_OCFL_MISMATCH, n->path,
				   "its SHA-512 differs from %s's", n->ocfl->source);
		free(n->ocfl);
		n->ocfl = NULL;
	}
}

/* One tar entry. Returns -1 when libarchive failed reading its data. */
static int entry(struct v *v, struct archive *a, struct archive_entry *e)
{
	char rel[RFS_ARCHIVE_VERIFY_MAX_PATH];
	const char *name = archive_entry_pathname_utf8(e);
	if (!name)
		name = archive_entry_pathname(e);
	if (!name || !*name) {
		problem(v, RFS_AP_BAG_MALFORMED, v->file, "an entry without a name");
		return 0;
	}
	size_t nlen = strlen(name);
	if (nlen >= RFS_ARCHIVE_VERIFY_MAX_PATH) {
		problem(v, RFS_AP_LIMIT, v->file, "an entry's name is longer than %u bytes: %.60s...",
		        RFS_ARCHIVE_VERIFY_MAX_PATH, name);
		return 0;
	}
	char path[RFS_ARCHIVE_VERIFY_MAX_PATH];
	memcpy(path, name, nlen + 1);
	while (nlen > 1 && path[nlen - 1] == '/')
		path[--nlen] = '\0';
	switch (check_path(path)) {
	case P_ABSOLUTE:
		problem(v, RFS_AP_UNSAFE_PATH, path, "an absolute path: left alone");
		return 0;
	case P_DOTDOT:
		problem(v, RFS_AP_UNSAFE_PATH, path, "a path with '..': left alone");
		return 0;
	case P_ODD:
		problem(v, RFS_AP_BAG_MALFORMED, path, "a path with an empty or '.' segment: left alone");
		return 0;
	case P_OK:
		break;
	}
	size_t seg = strcspn(path, "/");
	if (!v->bag) {
		v->bag = strndup(path, seg);
		v->rep->bag_name = v->bag ? strdup(v->bag) : NULL;
		if (!v->bag)
			return 0;
	}
	if (seg != strlen(v->bag) || strncmp(path, v->bag, seg)) {
		problem(v, RFS_AP_BAG_MALFORMED, path, "outside the bag's folder %s/", v->bag);
		return 0;
	}
	if (!path[seg])
		return 0;                        /* the bag's folder itself */
	snprintf(rel, sizeof(rel), "%s", path + seg + 1);

	/* Links first: one that leaves the bag is reported wherever it stands. */
	const char *hl = archive_entry_hardlink_utf8(e);
	if (!hl)
		hl = archive_entry_hardlink(e);
	mode_t type = archive_entry_filetype(e);
	char t[RFS_ARCHIVE_VERIFY_MAX_PATH], link[RFS_ARCHIVE_VERIFY_MAX_PATH];
	const char *hl_rel = NULL;
	if (hl) {
		snprintf(t, sizeof(t), "%s", hl);
		size_t tl = strlen(t);
		while (tl > 1 && t[tl - 1] == '/')
			t[--tl] = '\0';
		size_t ts = strcspn(t, "/");
		if (check_path(t) != P_OK || ts != strlen(v->bag) || strncmp(t, v->bag, ts) || !t[ts]) {
			problem(v, RFS_AP_UNSAFE_LINK, path, "a hard link to %s, outside the bag: left alone",
			        hl);
			return 0;
		}
		hl_rel = t + ts + 1;
	} else if (type == AE_IFLNK) {
		const char *tg = archive_entry_symlink_utf8(e);
		if (!tg)
			tg = archive_entry_symlink(e);
		if (!tg || !resolve_link(rel, tg, link, sizeof(link))) {
			problem(v, RFS_AP_UNSAFE_LINK, path, "a link to %s, outside the bag", tg ? tg : "?");
			return 0;
		}
	}
	struct node *n = intern(v, rel);
	if (!n)
		return 0;
	if (v->payload_closed && !strncmp(rel, "data/", 5) && !(n->flags & N_SEEN)) {
		/* its manifest line, if any, was already counted missing */
		problem(v, RFS_AP_BAG_MALFORMED, path,
		        "comes after manifest-sha512.txt, which followed the payload: not checked");
		n->flags |= N_SEEN | N_LISTED | N_DIR;
		return 0;
	}
	if (n->flags & N_SEEN) {
		problem(v, RFS_AP_BAG_MALFORMED, path, "appears twice in the tar");
		return 0;
	}
	if (!strcmp(rel, "data") || !strncmp(rel, "data/", 5))
		v->have_data = true;
	bool expected = n->flags & N_EXPECT;
	uint8_t expect[RFS_SHA512_SIZE];
	memcpy(expect, n->digest, sizeof(expect));
	n->flags |= N_SEEN;
	bool payload = !strncmp(rel, "data/", 5);

	if (hl) {
		struct node *target = lookup(v, hl_rel);
		if (!target || !(target->flags & N_SEEN) || !(target->flags & N_FILE)) {
			problem(v, RFS_AP_BAG_MALFORMED, path, "a hard link to %s, which is not an earlier file",
			        hl);
			return 0;
		}
		n->flags |= N_FILE;
		memcpy(n->digest, target->digest, RFS_SHA512_SIZE);
		n->size = target->size;
	} else if (type == AE_IFDIR) {
		n->flags |= N_DIR;
		if (expected) {
			v->n_pending--;
			n->flags &= ~(uint32_t)N_EXPECT;
			problem(v, RFS_AP_CHANGED, path, "listed as a file, but it is a folder");
		}
		return 0;
	} else if (type == AE_IFLNK) {
		n->flags |= N_SYMLINK;
		n->link = strdup(link);
		v->name_bytes += strlen(link);
		if (expected)
			v->n_pending--;           /* N_EXPECT stays: the end follows the link */
		return 0;
	} else if (type == AE_IFREG) {
		struct entry_sink sk = { .kind = S_NONE };
		size_t cap = RFS_ARCHIVE_VERIFY_MAX_TAG;
		char root[RFS_ARCHIVE_VERIFY_MAX_PATH];
		const char *base = strrchr(rel, '/');
		base = base ? base + 1 : rel;
		long obj = payload ? object_of_parent(v, rel, root, sizeof(root)) : -1;
		enum { T_NONE, T_BAGIT, T_BAGINFO, T_DECL, T_INV, T_SIDECAR } what = T_NONE;
		if (!strcmp(rel, "bagit.txt"))
			what = T_BAGIT;
		else if (!strcmp(rel, "bag-info.txt"))
			what = T_BAGINFO;
		else if (!strcmp(rel, "manifest-sha512.txt"))
			sk.kind = S_MANIFEST;
		else if (!strcmp(rel, "tagmanifest-sha512.txt"))
			sk.kind = S_TAGMANIFEST;
		else if (payload && !strcmp(base, "0=ocfl_object_1.1") && base != rel + 5)
			what = T_DECL;
		else if (obj >= 0 && !strcmp(base, "inventory.json"))
			what = T_INV, cap = RFS_ARCHIVE_VERIFY_MAX_INVENTORY;
		else if (obj >= 0 && !strcmp(base, "inventory.json.sha512"))
			what = T_SIDECAR;
		else if (payload && !strcmp(base, "inventory.json"))
			n->flags |= N_INVENTORY;   /* an object's, if a declaration follows */
		if (what != T_NONE)
			sk.kind = S_BUFFER;
		if (sk.kind == S_MANIFEST) {
			v->have_manifest = true;
			v->payload_closed = v->have_data;
		}
		if (sk.kind == S_TAGMANIFEST)
			v->have_tagmanifest = true;
		n->flags |= N_FILE;
		int rc = read_entry(v, a, n, &sk, cap);
		if (sk.kind == S_MANIFEST || sk.kind == S_TAGMANIFEST)
			lines_end(v, sk.kind == S_TAGMANIFEST);
		if (rc || v->fatal) {            /* not read to its end: no digest */
			n->flags &= ~(uint32_t)N_FILE;
			free(sk.buf);
			return rc;
		}
		if (sk.too_big) {
			problem(v, RFS_AP_LIMIT, path, "larger than %zu bytes: not read as %s", cap,
			        what == T_INV ? "an inventory" : "a tag file");
		} else if (sk.kind == S_BUFFER) {
			const char *text = sk.buf ? sk.buf : "";
			if (what == T_BAGIT)
				check_bagit(v, text, sk.len);
			else if (what == T_BAGINFO)
				check_baginfo(v, text);
			else if (what == T_DECL)
				declare_object(v, rel, text, sk.len);
			else if (what == T_INV)
				check_inventory(v, root, (size_t)obj, text, sk.len);
			else if (what == T_SIDECAR)
				check_sidecar(v, root, text);
		}
		free(sk.buf);
	} else {
		problem(v, RFS_AP_BAG_MALFORMED, path, "not a file, folder or link: left alone");
		return 0;
	}
	arrived(v, n, expect, expected);
	return 0;
}

/* ---- the end: what the manifests and inventories say is there, and is not ---- */

/* The payload as its manifest lists it: files, hard links, and links to files (with their
** target's size), as Payload-Oxum counts them. */
static void count_payload(struct v *v)
{
	for (size_t i = 0; i < v->tab_size; i++) {
		for (struct node *n = v->tab[i]; n; n = n->next) {
			struct node *t = strncmp(n->path, "data/", 5) || !(n->flags & N_SEEN) ? NULL
			                                                                    : follow(v, n);
			if (t) {
				v->rep->files++;
				v->rep->bytes += t->size;
			}
		}
	}
}

static void end_checks(struct v *v)
{
	if (!v->bag) {
		problem(v, RFS_AP_BAG_MALFORMED, v->file, "no bag folder in the tar");
		return;
	}
	if (!v->have_bagit)
		problem_in(v, RFS_AP_BAG_MALFORMED, "bagit.txt", "the bag has none");
	if (!v->have_data)
		problem_in(v, RFS_AP_BAG_MALFORMED, "data", "the bag has no data/");
	if (!v->have_manifest)
		problem_in(v, RFS_AP_BAG_MALFORMED, "manifest-sha512.txt",
			   "the bag has none");
	if (v->oxum_set && (v->oxum_bytes != v->rep->bytes || v->oxum_files != v->rep->files))
		problem_in(v, RFS_AP_BAG_MALFORMED, "bag-info.txt",
			   "Payload-Oxum is %llu.%llu, but the payload holds %llu.%llu",
			   (unsigned long long)v->oxum_bytes, (unsigned long long)v->oxum_files,
			   (unsigned long long)v->rep->bytes, (unsigned long long)v->rep->files);
	for (size_t i = 0; i < v->tab_size; i++) {
		for (struct node *n = v->tab[i]; n; n = n->next) {
			bool payload = !strncmp(n->path, "data/", 5);
			if ((n->flags & N_LISTED) && !(n->flags & N_SEEN)) {
				problem_in(v, RFS_AP_MISSING, n->path, "listed in %s, but not in the tar",
					   payload ? "manifest-sha512.txt" : "tagmanifest-sha512.txt");
			} else if ((n->flags & N_SYMLINK) && (n->flags & N_LISTED)) {
				struct node *t = follow(v, n);
				if (!t)
					problem_in(v, RFS_AP_CHANGED, n->path,
					           "listed, but the link leads to no file");
				else if (memcmp(t->digest, n->digest, RFS_SHA512_SIZE))
					problem_in(v, RFS_AP_CHANGED, n->path,
					           "the SHA-512 of the file it links to differs from the manifest's");
			} else if ((n->flags & N_SEEN) && !(n->flags & N_LISTED) && !(n->flags & N_DIR)) {
				bool file = (n->flags & N_FILE) || follow(v, n);
				if (payload && file && v->have_manifest)
					problem_in(v, RFS_AP_EXTRA, n->path,
					           "in the tar, but not in manifest-sha512.txt");
				else if (!payload && file && v->have_tagmanifest && !is_tagmanifest(n->path))
					problem_in(v, RFS_AP_EXTRA, n->path,
					           "a tag file not in tagmanifest-sha512.txt");
			}
			if (n->ocfl && !(n->flags & N_SEEN))
				problem_in(v, RFS_AP_OCFL_MISMATCH, n->path, "in %s, but not in the tar",
				           n->ocfl->source);
			if (n->flags & N_ROOT) {
				if (!v->objects[n->object].inventory)
					problem_in(v, RFS_AP_OCFL_MISMATCH, n->path,
					           "an OCFL object without a readable inventory.json");
			}
			/* A content file of an object that its inventory does not list. */
			if ((n->flags & N_SEEN) && (n->flags & N_FILE) && !(n->flags & N_OCFL) && payload) {
				char pre[RFS_ARCHIVE_VERIFY_MAX_PATH];
				snprintf(pre, sizeof(pre), "%s", n->path);
				for (char *s = strchr(pre, '/'); s; s = strchr(s + 1, '/')) {
					*s = '\0';
					struct node *r = lookup(v, pre);
					*s = '/';
					if (!r || !(r->flags & N_ROOT) || !v->objects[r->object].inventory)
						continue;
					const char *cd = v->objects[r->object].content_dir;
					unsigned long num;
					size_t w;
					char vdir[16];
					const char *after = s + 1, *sl = strchr(after, '/');
					if (!sl || (size_t)(sl - after) >= sizeof(vdir))
						break;
					memcpy(vdir, after, (size_t)(sl - after));
					vdir[sl - after] = '\0';
					if (version_number(vdir, &num, &w) && cd &&
					    !strncmp(sl + 1, cd, strlen(cd)) && sl[1 + strlen(cd)] == '/')
						problem_in(v, RFS_AP_OCFL_MISMATCH, n->path,
							   "a content file its inventory's manifest does not list");
					break;
				}
			}
		}
	}
}

/* ---- the signature ---- */

/* A small regular file, whole (a FIFO or device named *.pub must not block or stream). */
static char *slurp(const char *path, size_t max, size_t *len, int *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		*err = fd < 0 ? -errno : -EINVAL;
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	char *b = malloc(max + 1);
	size_t n = 0;
	ssize_t r = 0;
	while (b && n <= max && (r = read(fd, b + n, max + 1 - n)) > 0)
		n += (size_t)r;
	int e = r < 0 ? -errno : 0;
	close(fd);
	if (!b || e || n > max) {
		free(b);
		*err = !b ? -ENOMEM : e ? e : -EFBIG;
		return NULL;
	}
	b[n] = '\0';
	*len = n;
	*err = 0;
	return b;
}

static void check_signature(struct v *v, const uint8_t hash[64])
{
	char sigpath[4096 + 16];
	snprintf(sigpath, sizeof(sigpath), "%s.minisig", v->file);
	size_t siglen;
	int err;
	char *sig = slurp(sigpath, RFS_ARCHIVE_VERIFY_MAX_SIGNATURE, &siglen, &err);
	if (!sig) {
		problem(v, RFS_AP_NO_SIGNATURE, sigpath, "%s: the signature must lie beside the archive",
		        strerror(-err));
		return;
	}
	char trusted[1024] = "";
	uint8_t keyid[8], pk[32], sig_keyid[8];
	int rc = -ENOKEY;
	bool any_key = false;
	if (v->o && v->o->pubkey_path) {
		size_t len;
		char *t = slurp(v->o->pubkey_path, RFS_ARCHIVE_VERIFY_MAX_SIGNATURE, &len, &err);
		if (!t) {
			problem(v, RFS_AP_NO_SIGNATURE, v->o->pubkey_path, "cannot read the public key: %s",
			        strerror(-err));
			free(sig);
			return;
		}
		if (rfs_minisign_pubkey_parse(t, len, keyid, pk)) {
			problem(v, RFS_AP_NO_SIGNATURE, v->o->pubkey_path, "not a minisign public key");
			free(t);
			free(sig);
			return;
		}
		free(t);
		any_key = true;
		rc = rfs_minisign_verify(sig, siglen, keyid, pk, hash, sig_keyid, trusted, sizeof(trusted));
	} else {
		char dir[4096];
		snprintf(dir, sizeof(dir), "%s", v->file);
		char *sl = strrchr(dir, '/');
		if (sl)
			sl[sl == dir ? 1 : 0] = '\0';
		else
			snprintf(dir, sizeof(dir), ".");
		DIR *d = opendir(dir);
		struct dirent *de;
		unsigned tried = 0;
		while (d && rc == -ENOKEY && tried < MAX_KEYS && (de = readdir(d))) {
			size_t l = strlen(de->d_name);
			if (l < 5 || strcmp(de->d_name + l - 4, ".pub"))
				continue;
			char kp[8192];
			snprintf(kp, sizeof(kp), "%s/%s", dir, de->d_name);
			size_t len;
			char *t = slurp(kp, RFS_ARCHIVE_VERIFY_MAX_SIGNATURE, &len, &err);
			tried++;
			if (!t)
				continue;
			if (!rfs_minisign_pubkey_parse(t, len, keyid, pk)) {
				any_key = true;
				rc = rfs_minisign_verify(sig, siglen, keyid, pk, hash, sig_keyid, trusted,
				                         sizeof(trusted));
			}
			free(t);
		}
		if (d)
			closedir(d);
	}
	v->rep->signature_checked = rc == 0 || rc == -EBADMSG;
	if (rc == 0 || rc == -EBADMSG) {
		rfs_minisign_keyid_hex(keyid, v->rep->key_id);
	} else if (rc == -ENOKEY && any_key) {
		rfs_minisign_keyid_hex(sig_keyid, v->rep->key_id);
	}
	if (rc == 0) {
		v->rep->signed_ok = true;
		v->rep->trusted_comment = strdup(trusted);
	} else if (rc == -EBADMSG) {
		problem(v, RFS_AP_BAD_SIGNATURE, v->file,
		        "the signature in %s does not match the file: it was changed, or signed by another",
		        sigpath);
	} else if (rc == -EINVAL) {
		problem(v, RFS_AP_BAD_SIGNATURE, sigpath, "not a minisign signature");
	} else if (any_key) {
		problem(v, RFS_AP_NO_SIGNATURE, sigpath,
		        "signed by key id %s, which no public key given or beside the file has; give it with --pubkey",
		        v->rep->key_id);
	} else {
		problem(v, RFS_AP_NO_SIGNATURE, sigpath,
		        "no public key to check it: give one with --pubkey, or put the vault's .pub beside the file");
	}
	free(sig);
}

/* ---- reading ---- */

static void classify_failure(struct v *v, struct archive *a, uint64_t entries)
{
	bool started = entries > 0;
	const char *msg = archive_error_string(a);
	/* the source ran out, and what came was an archive (a filter or the tar recognised) */
	bool known = started || archive_format(a) != 0 || v->compressed;
	if (v->stream_err == -EBADMSG && v->age)
		problem(v, RFS_AP_CHANGED, v->file,
		        "an encrypted chunk does not authenticate: the file was changed, or cut short");
	else if (v->stream_err == -EPIPE || (!v->stream_err && v->raw_eof && known))
		problem(v, RFS_AP_TRUNCATED, v->file, "ends early%s%s%s", msg ? " (" : "",
		        msg ? msg : "", msg ? ")" : "");
	else if (v->stream_err)
		problem(v, RFS_AP_TRUNCATED, v->file, "cannot be read: %s", strerror(-v->stream_err));
	else if (msg && strstr(msg, "too large"))
		problem(v, RFS_AP_LIMIT, v->file, "a header larger than verify reads (%s)", msg);
	else if (!started)
		problem(v, RFS_AP_NOT_ARCHIVE, v->file, "not a tar, tar.gz or tar.zst archive (%s)",
		        msg ? msg : "unknown format");
	else
		problem(v, RFS_AP_NOT_ARCHIVE, v->file, "damaged after %llu entries: %s",
		        (unsigned long long)entries,
		        msg ? msg : "unknown error");
	v->fatal = true;
}

static void read_tar(struct v *v)
{
	struct archive *a = archive_read_new();
	if (!a) {
		problem(v, RFS_AP_LIMIT, v->file, "out of memory");
		v->fatal = true;
		return;
	}
	archive_read_support_filter_gzip(a);
	archive_read_support_filter_zstd(a);
	archive_read_support_filter_none(a);
	archive_read_support_format_tar(a);
	bool started = false;
	if (archive_read_open(a, v, NULL, la_read, NULL) != ARCHIVE_OK) {
		classify_failure(v, a, 0);
		archive_read_free(a);
		return;
	}
	uint64_t entries = 0;
	int64_t after_last = 0;
	for (;;) {
		struct archive_entry *e;
		int r = archive_read_next_header(a, &e);
		if (r == ARCHIVE_EOF)
			break;
		if (r < ARCHIVE_WARN) {
			classify_failure(v, a, entries);
			break;
		}
		started = true;
		entries++;
		if (v->o && v->o->progress_entries)
			v->o->progress_entries(v->o->progress_arg, entries);
		if (bomb(v, a))
			break;
		if (entry(v, a, e)) {
			classify_failure(v, a, entries);
			break;
		}
		if (v->fatal)
			break;
		after_last = archive_filter_bytes(a, 0);
	}
	/* A tar ends with two zero blocks; a stream cut at an entry's edge lacks them. */
	if (!v->fatal && started && archive_filter_bytes(a, 0) < after_last + 1024) {
		problem(v, RFS_AP_TRUNCATED, v->file,
		        "ends after %llu entries without the tar's end (two zero blocks): cut short",
		        (unsigned long long)entries);
		v->fatal = true;
	}
	if (!started && !v->fatal) {
		problem(v, RFS_AP_NOT_ARCHIVE, v->file, "an empty archive: no entries");
		v->fatal = true;
	}
	archive_read_free(a);
}

static unsigned exit_of(unsigned kinds)
{
	const unsigned dec = 1u << RFS_AP_NO_IDENTITY | 1u << RFS_AP_WRONG_IDENTITY;
	const unsigned unread = 1u << RFS_AP_TRUNCATED | 1u << RFS_AP_NOT_ARCHIVE | 1u << RFS_AP_LIMIT;
	const unsigned sig = 1u << RFS_AP_BAD_SIGNATURE | 1u << RFS_AP_NO_SIGNATURE;
	if (kinds & dec)
		return 5;
	if (kinds & unread)
		return 3;
	if (kinds & sig)
		return 4;
	return kinds ? 1 : 0;
}

int rfs_archive_verify(const char *file, const struct rfs_archive_verify_options *o,
                       struct rfs_archive_report *rep)
{
	memset(rep, 0, sizeof(*rep));
	int fd = open(file, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);   /* a FIFO must not block */
	if (fd < 0)
		return -errno;
	struct stat st;
	int e = fstat(fd, &st) ? -errno : S_ISDIR(st.st_mode) ? -EISDIR : S_ISREG(st.st_mode) ? 0 : -EINVAL;
	if (e) {
		close(fd);
		return e;
	}
	struct v v = { .o = o, .rep = rep, .file = file, .fd = fd, .total = (uint64_t)st.st_size };
	v.buf = malloc(2 * BUF_SIZE);
	v.ml.buf = malloc(RFS_ARCHIVE_VERIFY_MAX_LINE + 1);
	v.peek = malloc(64);
	if (!v.buf || !v.ml.buf || !v.peek) {
		free(v.buf);
		free(v.ml.buf);
		free(v.peek);
		close(fd);
		return -ENOMEM;
	}
	rfs_minisign_hash_init(&v.bh);

	/* Peek at the head: age, or the archive itself. */
	while (v.peek_len < 64) {
		v.peek_off = v.peek_len;     /* nothing to hand back yet */
		ssize_t n = raw_read(&v, v.peek + v.peek_len, 64 - v.peek_len);
		if (n <= 0)
			break;
		v.peek_len += (size_t)n;
	}
	v.peek_off = 0;
	if (!v.peek_len) {
		problem(&v, RFS_AP_NOT_ARCHIVE, file, "an empty file");
		v.fatal = true;
	} else if (rfs_age_looks_encrypted(v.peek, v.peek_len)) {
		rep->encrypted = true;
		if (!o || !o->identities) {
			problem(&v, RFS_AP_NO_IDENTITY, file,
			        "encrypted with age: give the recipient's key with --identity FILE");
			v.fatal = true;
		} else {
			int rc = rfs_age_reader_start(o->identities, age_source, &v, &v.age);
			if (rc == -ENOKEY) {
				problem(&v, RFS_AP_WRONG_IDENTITY, file,
				        "encrypted with age to other recipients: none of the identities given opens it");
				v.fatal = true;
			} else if (rc == -EPIPE || (rc == -EBADMSG && v.raw_eof)) {
				problem(&v, RFS_AP_TRUNCATED, file, "ends inside its age header");
				v.fatal = true;
			} else if (rc) {
				problem(&v, RFS_AP_NOT_ARCHIVE, file, "its age header does not read (%s)",
				        strerror(-rc));
				v.fatal = true;
			}
		}
	}
	if (!v.fatal)
		read_tar(&v);
	count_payload(&v);
	if (!v.fatal)
		end_checks(&v);

	/* The signature covers every byte of FILE: read what the tar did not need. */
	while (!v.raw_eof) {
		ssize_t n = raw_read(&v, v.buf, BUF_SIZE);
		if (n < 0) {
			problem(&v, RFS_AP_TRUNCATED, file, "cannot be read: %s", strerror((int)-n));
			break;
		}
		if (n == 0)
			break;
	}
	uint8_t hash[64];
	rfs_minisign_hash_final(&v.bh, hash);
	check_signature(&v, hash);

	rfs_age_reader_free(v.age);
	rep->exit_code = (int)exit_of(v.kinds);
	free_table(&v);
	free(v.bag);
	free(v.buf);
	free(v.ml.buf);
	free(v.peek);
	close(fd);
	return 0;
}

void rfs_archive_report_free(struct rfs_archive_report *rep)
{
	if (!rep)
		return;
	for (size_t i = 0; i < rep->n_problems; i++) {
		free(rep->problems[i].path);
		free(rep->problems[i].detail);
	}
	free(rep->problems);
	free(rep->trusted_comment);
	free(rep->bag_name);
	memset(rep, 0, sizeof(*rep));
}
