/*
** verify and gc: prove the history was not rewritten; compact it.
**
** verify names each problem it finds (see history.h); gc writes every
** reachable object into one uncompressed pack and removes the rest.
** Must never: change a commit or move the ref (gc keeps every reachable object).
*/
#include "fs/register.h"
#include "fs/history/internal.h"
#include "fs/escape.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "crypto/content.h"
#include "crypto/encoding.h"
#include "crypto/keystore.h"
#include "crypto/names.h"
#include "crypto/secmem.h"
#include "crypto/sign.h"

/* ---- a set of object ids ---- */

struct oidset {
	git_oid *v;
	size_t n, cap;                    /* cap is a power of two; empty slots are all zero */
};

static bool oid_zero(const git_oid *o)
{
	static const git_oid z;
	return !memcmp(o, &z, sizeof z);
}

/* true when newly added */
static bool oidset_add(struct oidset *s, const git_oid *o)
{
	if ((s->n + 1) * 2 > s->cap) {
		struct oidset t = { calloc(s->cap ? s->cap * 2 : 1024, sizeof(git_oid)), 0,
		                    s->cap ? s->cap * 2 : 1024 };
		if (!t.v)
			return false;
		for (size_t i = 0; i < s->cap; i++)
			if (!oid_zero(&s->v[i]))
				oidset_add(&t, &s->v[i]);
		free(s->v);
		*s = t;
	}
	size_t h;
	memcpy(&h, o->id, sizeof h);
	for (size_t i = h & (s->cap - 1);; i = (i + 1) & (s->cap - 1)) {
		if (oid_zero(&s->v[i])) {
			s->v[i] = *o;
			s->n++;
			return true;
		}
		if (git_oid_equal(&s->v[i], o))
			return false;
	}
}

/* .dirid blob id -> the 16 bytes it holds: a folder's .dirid is one blob in every
** version of its tree, read once. */
struct dirid_map {
	struct { git_oid blob; uint8_t dirid[16]; } *v;
	size_t n, cap;                    /* cap a power of two; an empty slot's blob is zero */
};

static size_t oid_hash(const git_oid *o)
{
	size_t h;
	memcpy(&h, o->id, sizeof h);
	return h;
}

static bool dirid_get(const struct dirid_map *m, const git_oid *blob, uint8_t dirid[16])
{
	for (size_t i = m->cap ? oid_hash(blob) & (m->cap - 1) : 0; m->cap && !oid_zero(&m->v[i].blob);
	     i = (i + 1) & (m->cap - 1))
		if (git_oid_equal(&m->v[i].blob, blob)) {
			memcpy(dirid, m->v[i].dirid, 16);
			return true;
		}
	return false;
}

static void dirid_put(struct dirid_map *m, const git_oid *blob, const uint8_t dirid[16])
{
	if ((m->n + 1) * 2 > m->cap) {
		struct dirid_map t = { calloc(m->cap ? m->cap * 2 : 256, sizeof *m->v), 0,
		                       m->cap ? m->cap * 2 : 256 };
		if (!t.v)
			return;                  /* only a cache: the blob is read again */
		for (size_t i = 0; i < m->cap; i++)
			if (!oid_zero(&m->v[i].blob))
				dirid_put(&t, &m->v[i].blob, m->v[i].dirid);
		free(m->v);
		*m = t;
	}
	size_t i = oid_hash(blob) & (m->cap - 1);
	while (!oid_zero(&m->v[i].blob) && !git_oid_equal(&m->v[i].blob, blob))
		i = (i + 1) & (m->cap - 1);
	if (oid_zero(&m->v[i].blob))
		m->n++;
	m->v[i].blob = *blob;
	memcpy(m->v[i].dirid, dirid, 16);
}

/* One entry of a tree, from the raw object or from libgit2's parse. */
struct tentry {
	const char *name;
	const git_oid *id;
	git_filemode_t mode;
	git_object_t type;
};

/* A depth of the tree walk: the raw tree read there and its entries. */
struct level {
	struct rfs_pack_buf raw;
	struct tentry *e;
	size_t n, cap;
};

/* ---- reachable objects ---- */

struct walk {
	struct rfs_history *h;
	struct oidset seen;
	git_oid *list;                    /* in visit order (gc packs them) */
	size_t n, cap;
	FILE *report;
	struct rfs_verify_result *res;
	const git_oid *commit;
	bool read_blobs;
	struct oidset key_ids;            /* file ids and dirids whose keys/ entry was checked (verify) */
	uint8_t *key;                     /* sodium memory for a key being checked */
	struct { uint64_t n; unsigned long keys; } gone[64];   /* destroyed keys, per disposal */
	size_t ngone;
	const struct rfs_progress *progress;
	const char *unit;                 /* of the phase under way */
	uint64_t items, bytes, total_items, total_bytes;
	struct rfs_pack_reader *reader;   /* packed objects, each read once (NULL: libgit2 reads) */
	struct rfs_pack_buf blob;         /* the blob being checked */
	struct level *levels;             /* one per depth of the tree walk, reused */
	size_t nlevels;
	struct dirid_map dirids;          /* .dirid blob -> the folder id it holds */
	struct oidset xattr_checked;      /* side blobs checked, with their owner and folder */
};

/* One more item of the phase done (bytes of it read). */
static void advance(struct walk *w, uint64_t bytes)
{
	w->items++;
	w->bytes += bytes;
	rfs_progress_note(w->progress, w->unit, w->items, w->bytes, w->total_items, w->total_bytes);
}

static void phase(struct walk *w, const char *unit, uint64_t total_items, uint64_t total_bytes)
{
	w->unit = unit;
	w->items = w->bytes = 0;
	w->total_items = total_items;
	w->total_bytes = total_bytes;
	rfs_progress_note(w->progress, unit, 0, 0, total_items, total_bytes);
}

/* The loose objects of objects/: counted (their number and bytes added), or removed with
** their folders. */
static void loose_objects(int objdir, bool remove, uint64_t *count, uint64_t *bytes)
{
	for (int i = 0; i < 256; i++) {
		char sub[3];
		snprintf(sub, sizeof sub, "%02x", i);
		int fd = openat(objdir, sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
		if (!d) {
			if (fd >= 0)
				close(fd);
			continue;
		}
		struct dirent *de;
		struct stat st;
		while ((de = readdir(d))) {
			if (de->d_name[0] == '.')
				continue;
			if (remove) {
				unlinkat(dirfd(d), de->d_name, 0);
			} else if (fstatat(dirfd(d), de->d_name, &st, 0) == 0) {
				(*count)++;
				*bytes += (uint64_t)st.st_size;
			}
		}
		closedir(d);
		if (remove)
			unlinkat(objdir, sub, AT_REMOVEDIR);
	}
}

/* What history.git holds, from metadata only, for the totals of a progress line: the
** object count in each pack's index (its fan-out table's last entry) and the packs' sizes,
** plus the loose objects. An estimate: unreachable objects are counted too. */
static void history_size(struct rfs_history *h, uint64_t *objects, uint64_t *bytes)
{
	int objdir = openat(h->v->dirfd, RFS_HISTORY_DIR "/objects", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int fd = objdir >= 0 ? openat(objdir, "pack", O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;
	struct stat st;

	*objects = *bytes = 0;
	while (d && (de = readdir(d))) {
		size_t len = strlen(de->d_name);
		uint8_t head[8 + 256 * 4];
		int ifd;

		if (strncmp(de->d_name, "pack-", 5) || len < 5)
			continue;
		if (!strcmp(de->d_name + len - 5, ".pack") && fstatat(dirfd(d), de->d_name, &st, 0) == 0)
			*bytes += (uint64_t)st.st_size;
		if (strcmp(de->d_name + len - 4, ".idx") ||
		    (ifd = openat(dirfd(d), de->d_name, O_RDONLY | O_CLOEXEC)) < 0)
			continue;
		if (pread(ifd, head, sizeof head, 0) == (ssize_t)sizeof head &&
		    !memcmp(head, "\377tOc", 4)) {
			const uint8_t *last = head + sizeof head - 4;   /* version 2: fan-out[255] */
			*objects += (uint64_t)last[0] << 24 | (uint64_t)last[1] << 16 |
			            (uint64_t)last[2] << 8 | last[3];
		}
		close(ifd);
	}
	if (d)
		closedir(d);
	else if (fd >= 0)
		close(fd);
	if (objdir >= 0) {
		loose_objects(objdir, false, objects, bytes);
		close(objdir);
	}
}

static void problem(struct walk *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(struct walk *w, const char *fmt, ...)
{
	if (w->report) {
		char line[4096];
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(line, sizeof line, fmt, ap);
		va_end(ap);
		fprintf(w->report, "%s\n", rfs_escape_line(line));   /* a path cannot fake a line */
	}
	if (w->res)
		w->res->problems++;
}

/* An absent key whose id a disposal lists: destroyed content, counted. True
** when listed; false leaves it a problem for the caller to report. */
static bool destroyed(struct walk *w, const uint8_t id[16])
{
	uint64_t n = rfs_history_disposed_by(w->h, id);
	if (!n)
		return false;
	size_t i = 0;
	while (i < w->ngone && w->gone[i].n != n)
		i++;
	if (i == w->ngone && i < sizeof w->gone / sizeof w->gone[0])
		w->gone[w->ngone++].n = n;
	if (i < w->ngone)
		w->gone[i].keys++;
	if (w->res)
		w->res->destroyed++;
	return true;
}

static void report_destroyed(struct walk *w)
{
	for (size_t i = 0; w->report && i < w->ngone; i++)
		fprintf(w->report, "destroyed (disposal %llu): %lu keys of files and folders it lists are "
		        "gone, as it recorded; not a problem\n", (unsigned long long)w->gone[i].n,
		        w->gone[i].keys);
}

/* Format 3: the key of folder dirid (once per id) must open, or be destroyed. */
static void check_folder_key(struct walk *w, const uint8_t dirid[16])
{
	git_oid id = { { 0 } };
	memcpy(id.id, dirid, 16);
	if (w->h->v->format < 3 || !oidset_add(&w->key_ids, &id))
		return;
	const struct rfs_folder_keys *fk;
	int rc = rfs_vault_folder_keys_get(w->h->v, dirid, &fk);
	if (rc == 0) {
		rfs_vault_folder_keys_put(w->h->v, fk);
		return;
	}
	char hex[33], where[RFS_KEYSTORE_NAME_MAX], c[41];
	uint64_t off;
	rfs_hex_encode(hex, dirid, 16);
	rfs_keystore_entry_locate(w->h->v->ks, dirid, where, &off);
	if (rc == -ENOENT && destroyed(w, dirid))
		return;
	problem(w, "folder key %s (keys/%s at offset %llu) in commit %s %s: the names and paths in "
	        "that folder cannot be read; restore keys/ from a backup", hex, where,
	        (unsigned long long)off, git_oid_tostr(c, sizeof c, w->commit),
	        rc == -ENOENT ? "is zeroed, and no disposal lists it" : "does not authenticate");
}

/* An object gc packs (verify lists none). */
static int keep(struct walk *w, const git_oid *o)
{
	if (w->read_blobs)
		return 0;
	if (rfs_bytes_grow(&w->list, &w->cap, w->n, sizeof *w->list, 1024) < 0)
		return -ENOMEM;
	w->list[w->n++] = *o;
	return 0;
}

/* ---- keys/: every file that live/ or history needs has a key that opens ---- */

/* The keys/ entry of the file whose header starts data: -EIO (does not
** authenticate), -ENOENT (zeroed or past the end), 0, or 1 (not a header,
** or already checked). */
static int check_key_of(struct walk *w, const uint8_t *data, size_t len, char where[64],
                        uint8_t file_id[16])
{
	struct rfs_header hd;
	if (!w->h->v->ks || len < RFS_HEADER_SIZE || rfs_content_header_parse(&hd, data, len) < 0)
		return 1;
	git_oid id = { { 0 } };
	memcpy(id.id, hd.file_id, sizeof hd.file_id);
	memcpy(file_id, hd.file_id, 16);
	if (!oidset_add(&w->key_ids, &id))
		return 1;
	if (!w->key && !(w->key = rfs_secmem_key_alloc()))
		return 1;
	int rc = rfs_keystore_load(w->h->v->ks, hd.file_id, w->key);
	char name[RFS_KEYSTORE_NAME_MAX];
	uint64_t off;
	rfs_keystore_entry_locate(w->h->v->ks, hd.file_id, name, &off);
	snprintf(where, 64, "keys/%s at offset %llu", name, (unsigned long long)off);
	return rc == -EIO || rc == -ENOENT ? rc : 0;
}

/* A name in live/ (or a tree) that holds a file's ciphertext. */
static bool content_name(const char *name)
{
	return name[0] != '.' || rfs_name_is_long(name);
}

/* Each regular file under cpath in live/: its key must open. A zeroed key is
** a shredded file; with no disposal register yet, none of live/ may be. */
static void check_live_keys(struct walk *w, int root, const char *cpath, int depth)
{
	int fd = openat(root, cpath[0] ? cpath : ".", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return;
	}
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!content_name(de->d_name))
			continue;
		char child[4096];
		snprintf(child, sizeof child, "%s%s%s", cpath, cpath[0] ? "/" : "", de->d_name);
		struct stat st;                  /* the type from readdir when it says (no stat) */
		mode_t type = de->d_type == DT_DIR ? S_IFDIR : de->d_type == DT_REG ? S_IFREG : 0;
		if (!type && fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0)
			type = st.st_mode & S_IFMT;
		if (type == S_IFDIR && depth < 256) {
			check_live_keys(w, root, child, depth + 1);
			continue;
		}
		if (type != S_IFREG)
			continue;
		advance(w, 0);
		uint8_t hdr[RFS_HEADER_SIZE];
		int ffd = openat(dirfd(d), de->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		ssize_t n = ffd >= 0 ? pread(ffd, hdr, sizeof hdr, 0) : -1;
		if (ffd >= 0)
			close(ffd);
		char where[64];
		uint8_t id[16];
		int rc = n == (ssize_t)sizeof hdr ? check_key_of(w, hdr, sizeof hdr, where, id) : 1;
		if (rc == -ENOENT && destroyed(w, id))
			continue;
		if (rc == -EIO)
			problem(w, "content key of live/%s does not authenticate (%s is damaged or forged): "
			        "the file cannot be read; restore keys/ from a backup", child, where);
		else if (rc == -ENOENT)
			problem(w, "content key of live/%s is zeroed (%s), and no disposal destroyed it: "
			        "the file cannot be read; restore keys/ from a backup", child, where);
	}
	closedir(d);
}

/* A blob that begins a file's ciphertext in history: its key, if not zeroed
** (a shredded file's history stays), must open. */
static void check_history_key(struct walk *w, const struct tentry *e, bool chunked,
                              const uint8_t *data, size_t len)
{
	if (e->mode != GIT_FILEMODE_BLOB ||
	    (chunked ? strcmp(e->name, "00000000") : !content_name(e->name)))
		return;
	char where[64], c[41];
	uint8_t id[16];
	int rc = check_key_of(w, data, len, where, id);
	if (rc == -EIO)
		problem(w, "content key of a file in commit %s does not authenticate (%s is damaged "
		        "or forged): its versions cannot be read; restore keys/ from a backup",
		        git_oid_tostr(c, sizeof c, w->commit), where);
	else if (rc == -ENOENT && !destroyed(w, id) && w->h->v->format >= 3)
		problem(w, "content key of a file in commit %s is zeroed (%s), and no disposal lists it: "
		        "its versions cannot be read; restore keys/ from a backup",
		        git_oid_tostr(c, sizeof c, w->commit), where);
}

/* A side blob of attributes that does not open for its owner (xattrs.c). */
static int xattrs_bad(void *arg, const git_oid *blob, const char *why)
{
	struct walk *w = arg;
	char b[41], c[41];
	problem(w, "extended attributes %s in commit %s do not authenticate: %s; restore "
	        "history.git from a backup or mirror", git_oid_tostr(b, sizeof b, blob),
	        git_oid_tostr(c, sizeof c, w->commit), why);
	return 0;
}

/* The level for depth (grown as the walk goes deeper). */
static struct level *level_at(struct walk *w, size_t depth)
{
	if (depth >= w->nlevels) {
		size_t n = depth + 8;
		struct level *nl = realloc(w->levels, n * sizeof *nl);
		if (!nl)
			return NULL;
		memset(nl + w->nlevels, 0, (n - w->nlevels) * sizeof *nl);
		w->levels = nl;
		w->nlevels = n;
	}
	return &w->levels[depth];
}

static int add_entry(struct level *l, const char *name, const git_oid *id, git_filemode_t mode,
                     git_object_t type)
{
	if (rfs_bytes_grow(&l->e, &l->cap, l->n, sizeof *l->e, 64) < 0)
		return -ENOMEM;
	l->e[l->n++] = (struct tentry){ name, id, mode, type };
	return 0;
}

/* A raw tree's entries: "<octal mode> <name>\0<20-byte id>", each. -EIO when it is
** not one (libgit2 then reads it and says what is wrong). */
static int parse_tree(struct level *l)
{
	uint8_t *p = l->raw.p, *end = p + l->raw.len;
	l->n = 0;
	while (p < end) {
		unsigned mode = 0;
		while (p < end && *p >= '0' && *p <= '7' && mode < 01000000)
			mode = mode * 8 + (unsigned)(*p++ - '0');
		if (p >= end || *p++ != ' ')
			return -EIO;
		uint8_t *nul = memchr(p, 0, (size_t)(end - p));
		if (!nul || nul == p || (size_t)(end - nul) < 1 + GIT_OID_RAWSZ)
			return -EIO;
		git_filemode_t fm;
		git_object_t type = GIT_OBJECT_BLOB;
		if ((mode & 0170000) == 0040000) {
			fm = GIT_FILEMODE_TREE;
			type = GIT_OBJECT_TREE;
		} else if ((mode & 0170000) == 0120000) {
			fm = GIT_FILEMODE_LINK;
		} else if ((mode & 0170000) == 0160000) {
			fm = GIT_FILEMODE_COMMIT;
			type = GIT_OBJECT_COMMIT;
		} else if ((mode & 0170000) == 0100000 || !(mode & 0170000)) {
			fm = mode & 0100 ? GIT_FILEMODE_BLOB_EXECUTABLE : GIT_FILEMODE_BLOB;
		} else {
			return -EIO;
		}
		if (add_entry(l, (const char *)p, (const git_oid *)(nul + 1), fm, type) < 0)
			return -ENOMEM;
		p = nul + 1 + GIT_OID_RAWSZ;
	}
	return 0;
}

static const struct tentry *entry_named(const struct level *l, const char *name)
{
	for (size_t i = 0; i < l->n; i++)
		if (!strcmp(l->e[i].name, name))
			return &l->e[i];
	return NULL;
}

/* An object's bytes and type: from the packs, else from libgit2 (*obj, freed by the
** caller). 0, or libgit2's error (its message in git_error_last). */
static int read_object(struct walk *w, const git_oid *id, git_odb_object **obj,
                       const uint8_t **data, size_t *len, git_object_t *type)
{
	if (rfs_pack_reader_read(w->reader, id, type, &w->blob) == 0) {
		*data = w->blob.p;
		*len = w->blob.len;
		return 0;
	}
	int err = git_odb_read(obj, w->h->odb, id);
	if (err == 0 && w->res) {
		w->res->objects_read++;        /* the reader counts its own */
		w->res->bytes_read += git_odb_object_size(*obj);
	}
	*data = err == 0 ? git_odb_object_data(*obj) : NULL;
	*len = err == 0 ? git_odb_object_size(*obj) : 0;
	*type = err == 0 ? git_odb_object_type(*obj) : GIT_OBJECT_INVALID;
	return err;
}

/* The folder id a tree's .dirid holds (each .dirid blob read once): 0, or -EIO. */
static int dirid_of(struct walk *w, const struct level *l, uint8_t dirid[16])
{
	const struct tentry *e = entry_named(l, RFS_DIRID_FILE);
	if (!e || e->type != GIT_OBJECT_BLOB)
		return -EIO;
	if (dirid_get(&w->dirids, e->id, dirid))
		return 0;
	git_odb_object *obj = NULL;
	const uint8_t *data;
	size_t len;
	git_object_t type;
	int rc = read_object(w, e->id, &obj, &data, &len, &type) == 0 && type == GIT_OBJECT_BLOB &&
	         len == 16 ? 0 : -EIO;
	if (rc == 0) {
		memcpy(dirid, data, 16);
		dirid_put(&w->dirids, e->id, dirid);
	}
	git_odb_object_free(obj);
	return rc;
}

/* Whether the side blobs of attributes in tree l were all checked already, beside the same
** owner in a folder of the same id: a tree that changed elsewhere need not open them again.
** Each is marked as checked. */
static bool xattrs_seen(struct walk *w, const struct level *l, const uint8_t dirid[16])
{
	bool all = true;
	for (size_t i = 0; i < l->n; i++) {
		const struct tentry *e = &l->e[i];
		if (strncmp(e->name, RFS_XATTRS_SIDE, sizeof RFS_XATTRS_SIDE - 1))
			continue;
		const struct tentry *of = e->name[sizeof RFS_XATTRS_SIDE - 1]
		                              ? entry_named(l, e->name + sizeof RFS_XATTRS_SIDE - 1) : NULL;
		struct rfs_sha1 s;
		git_oid key;
		uint32_t modes[2] = { (uint32_t)e->mode, of ? (uint32_t)of->mode : 0 };
		rfs_sha1_init(&s);
		rfs_sha1_update(&s, e->name, strlen(e->name) + 1);
		rfs_sha1_update(&s, e->id->id, GIT_OID_RAWSZ);
		if (of)
			rfs_sha1_update(&s, of->id->id, GIT_OID_RAWSZ);
		rfs_sha1_update(&s, modes, sizeof modes);
		rfs_sha1_update(&s, dirid, 16);
		rfs_sha1_final(&s, key.id);
		if (oidset_add(&w->xattr_checked, &key))
			all = false;
	}
	return all;
}

static int walk_tree(struct walk *w, const git_oid *tree_oid, size_t depth)
{
	if (!oidset_add(&w->seen, tree_oid))
		return 0;
	char c[41], t[41];
	git_tree *t_obj = NULL;
	struct level *l = level_at(w, depth);
	git_object_t type;
	if (!l)
		return -ENOMEM;
	l->n = 0;
	if (rfs_pack_reader_read(w->reader, tree_oid, &type, &l->raw) < 0 || type != GIT_OBJECT_TREE ||
	    parse_tree(l) < 0) {
		/* not in the packs as a plain tree: libgit2 reads it, and names what is wrong */
		int err = git_tree_lookup(&t_obj, w->h->repo, tree_oid);
		if (err == GIT_ENOTFOUND) {
			problem(w, "missing object %s in commit %s: history.git does not hold it; restore "
			        "history.git from a backup or mirror", git_oid_tostr(t, sizeof t, tree_oid),
			        git_oid_tostr(c, sizeof c, w->commit));
			return 0;
		} else if (err < 0) {
			const git_error *e = git_error_last();
			problem(w, "corrupt object %s in commit %s: %s", git_oid_tostr(t, sizeof t, tree_oid),
			        git_oid_tostr(c, sizeof c, w->commit), e ? e->message : "unreadable tree");
			return 0;
		}
		if (w->res)
			w->res->objects_read++;
		l->n = 0;
		for (size_t i = 0; i < git_tree_entrycount(t_obj); i++) {
			const git_tree_entry *e = git_tree_entry_byindex(t_obj, i);
			if (add_entry(l, git_tree_entry_name(e), git_tree_entry_id(e),
			              git_tree_entry_filemode(e), git_tree_entry_type(e)) < 0) {
				git_tree_free(t_obj);
				return -ENOMEM;
			}
		}
	}
	if (w->res)
		w->res->trees++;
	advance(w, 0);
	int rc = keep(w, tree_oid);
	bool chunked = entry_named(l, RFS_CHUNK_MARKER) != NULL;
	uint8_t dirid[16];
	if (w->read_blobs && !chunked && dirid_of(w, l, dirid) == 0) {
		check_folder_key(w, dirid);
		if (!xattrs_seen(w, l, dirid) &&
		    (t_obj || git_tree_lookup(&t_obj, w->h->repo, tree_oid) == 0)) {
			if (w->res)
				w->res->xattr_trees++;   /* rfs_xattrs_check_tree opens each side blob */
			rfs_xattrs_check_tree(w->h, t_obj, dirid, xattrs_bad, w);
		}
	}
	for (size_t i = 0; rc == 0 && i < w->levels[depth].n; i++) {
		l = &w->levels[depth];           /* a deeper walk may have moved the levels */
		const struct tentry *e = &l->e[i];
		const git_oid *id = e->id;
		if (e->type == GIT_OBJECT_TREE) {
			rc = walk_tree(w, id, depth + 1);
			continue;
		}
		if (!oidset_add(&w->seen, id))
			continue;
		if (w->res)
			w->res->blobs++;
		rc = keep(w, id);
		git_odb_object *obj = NULL;
		const uint8_t *data = NULL;
		size_t len = 0;
		git_object_t otype;
		int err;
		uint8_t had[16];
		if (w->read_blobs && dirid_get(&w->dirids, id, had)) {
			err = 0;                     /* a .dirid, read (and its id checked) above */
			data = had;
			len = 16;
		} else if (w->read_blobs) {
			err = read_object(w, id, &obj, &data, &len, &otype);
		} else if (rfs_pack_reader_has(w->reader, id)) {
			err = 0;
		} else {
			err = git_odb_read_header(&len, &otype, w->h->odb, id);
		}
		if (err == GIT_ENOTFOUND) {
			problem(w, "missing object %s in commit %s: history.git does not hold it; restore "
			        "history.git from a backup or mirror", git_oid_tostr(t, sizeof t, id),
			        git_oid_tostr(c, sizeof c, w->commit));
		} else if (err < 0) {
			const git_error *ge = git_error_last();
			problem(w, "corrupt object %s in commit %s: %s", git_oid_tostr(t, sizeof t, id),
			        git_oid_tostr(c, sizeof c, w->commit), ge ? ge->message : "unreadable blob");
		} else if (w->res && w->read_blobs) {
			check_history_key(w, e, chunked, data, len);
		}
		advance(w, err < 0 ? 0 : len);
		git_odb_object_free(obj);
	}
	git_tree_free(t_obj);
	return rc;
}

/* ---- the commit chain ---- */

static bool signature_ok(struct rfs_history *h, git_oid *oid, bool *present)
{
	git_buf sig = { 0 }, data = { 0 };
	*present = git_commit_extract_signature(&sig, &data, h->repo, oid, RFS_SIG_FIELD) == 0;
	bool ok = false;
	uint8_t raw[RFS_SIGNATURE_SIZE];
	if (*present && sig.size > 8 && !strncmp(sig.ptr, "ed25519 ", 8) &&
	    rfs_b64_decode(raw, sizeof raw, sig.ptr + 8, sig.size - 8) == (long)sizeof raw)
		ok = rfs_sign_verify(raw, data.ptr, data.size, h->v->keys) == 0;
	git_buf_dispose(&sig);
	git_buf_dispose(&data);
	return ok;
}

static uint64_t seq_of(struct rfs_history *h, const git_oid *oid, bool *ok)
{
	struct rfs_record r;
	*ok = rfs_objects_read_record(h, oid, &r) == 0;
	uint64_t seq = *ok ? r.seq : 0;
	if (*ok)
		rfs_record_clear(&r);
	return seq;
}

/* Check one commit against its sealed record; report what is wrong. */
/* Not a problem: which files a recovery after a crash brought back, and what
** it did to them ("cut to N bytes by the power cut"), one line each. */
static void report_recovered(struct walk *w, const struct rfs_record *r, const char *rev)
{
	char when[32], line[4096];
	time_t t = (time_t)r->time_sec;
	struct tm tm;

	if (!w->report || !gmtime_r(&t, &tm) || !strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm))
		return;
	for (size_t i = 0; i < r->nevents; i++) {
		const struct rfs_event *e = &r->events[i];
		if (e->kind != RFS_SAVE_RECOVERED || !e->path[0])
			continue;
		snprintf(line, sizeof line, "recovered after a crash in commit %.12s (%s): %s%s%s", rev, when,
		         e->path, e->property[0] ? ": " : "", e->property);
		fprintf(w->report, "%s\n", rfs_escape_line(line));
	}
}

static void check_commit(struct walk *w, git_commit *c, git_oid *oid)
{
	struct rfs_history *h = w->h;
	char x[41], p[41];
	git_oid_tostr(x, sizeof x, oid);
	bool present, sig_ok = signature_ok(h, oid, &present);
	struct rfs_record r;
	bool rec_ok = rfs_record_open(&r, git_commit_message_raw(c), h->v,
	                              git_commit_tree_id(c)) == 0;
	if (!present) {
		problem(w, "unsigned commit %s", x);
	} else if (!rec_ok) {
		problem(w, "changed commit %s: its sealed record does not match its content", x);
	} else if (r.time_sec != git_commit_time(c)) {
		problem(w, "changed commit %s: its time differs from its sealed record", x);
	} else {
		const git_oid *actual = git_commit_parentcount(c) ? git_commit_parent_id(c, 0) : NULL;
		bool want_parent = !oid_zero(&r.parent);
		if (!actual && want_parent) {
			problem(w, "removed commit: the commits before %s (seq %llu) are missing", x,
			        (unsigned long long)r.seq);
		} else if (actual && !want_parent) {
			problem(w, "changed commit %s: it was the first commit but now has a parent", x);
		} else if (actual && !git_oid_equal(actual, &r.parent)) {
			bool pok;
			uint64_t pseq = seq_of(h, actual, &pok);
			git_oid_tostr(p, sizeof p, actual);
			if (pok && pseq < r.seq - 1)
				problem(w, "removed commit: seq %llu..%llu missing between %s and %s",
				        (unsigned long long)pseq + 1, (unsigned long long)r.seq - 1, p, x);
			else if (pok && pseq >= r.seq)
				problem(w, "reordered commits: %s (seq %llu) follows %s (seq %llu)", x,
				        (unsigned long long)r.seq, p, (unsigned long long)pseq);
			else
				problem(w, "changed commit %s: its parent differs from its sealed record", x);
		} else if (!sig_ok) {
			problem(w, "forged signature on commit %s", x);
		} else {
			report_recovered(w, &r, x);
			for (size_t i = 0; i < r.nevents; i++) {   /* paths sealed under gone folder keys */
				if (r.events[i].destroyed)
					check_folder_key(w, r.events[i].dir);
				if (r.events[i].destroyed_old)
					check_folder_key(w, r.events[i].dir_old);
			}
		}
	}
	if (rec_ok)
		rfs_record_clear(&r);
}

static void check_head_record(struct walk *w, uint64_t ref_seq, const git_oid *ref_oid,
                              const struct oidset *chain)
{
	uint64_t seq;
	git_oid rec;
	int rc = rfs_commit_read_head_record(w->h, &seq, &rec);
	char a[41], b[41];
	git_oid_tostr(a, sizeof a, ref_oid);
	if (rc == -ENOENT)
		problem(w, "signed head record %s/%s/head is missing", RFS_HISTORY_DIR, RFS_SIDE_DIR);
	else if (rc < 0)
		problem(w, "forged head record %s/%s/head: its signature does not verify", RFS_HISTORY_DIR,
		        RFS_SIDE_DIR);
	else if (seq > ref_seq)
		problem(w, "ref moved backwards: %s is at seq %llu (%s), the vault recorded seq %llu (%s)",
		        RFS_HISTORY_REF, (unsigned long long)ref_seq, a, (unsigned long long)seq,
		        git_oid_tostr(b, sizeof b, &rec));
	else if (!git_oid_equal(&rec, ref_oid)) {
		struct oidset probe = *chain;     /* read-only membership test */
		bool in_chain = false;
		size_t hsh;
		memcpy(&hsh, rec.id, sizeof hsh);
		for (size_t i = hsh & (probe.cap - 1); probe.cap && !oid_zero(&probe.v[i]);
		     i = (i + 1) & (probe.cap - 1))
			if (git_oid_equal(&probe.v[i], &rec)) {
				in_chain = true;
				break;
			}
		if (!in_chain)
			problem(w, "ref moved to another history: the vault recorded %s (seq %llu), "
			        "which %s (%s) does not contain", git_oid_tostr(b, sizeof b, &rec),
			        (unsigned long long)seq, RFS_HISTORY_REF, a);
	}
}

static int on_live_diff(struct rfs_history *h, const char *cpath, char what, void *arg)
{
	struct walk *w = arg;
	problem(w, "live/ differs from the newest commit at %s (%s)", cpath[0] ? cpath : "(root)",
	        what == 'A' ? "only in live/" : what == 'D' ? "missing from live/" : "content differs");
	return 0;
}

static void check_live(struct walk *w, git_commit *head)
{
	struct rfs_history *h = w->h;
	if (!h->stage && rfs_stage_attach(h->odb, NULL, &h->stage) < 0)
		return;
	h->hash_only = true;
	git_oid live;
	git_tree *a = NULL, *b = NULL;
	int rc = rfs_recover_capture_live(h, &live);
	h->hash_only = false;
	if (rc < 0) {
		problem(w, "live/ cannot be read: %s", strerror(-rc));
	} else if (!git_oid_equal(&live, git_commit_tree_id(head))) {
		/* The diff may need a blob that hashing did not store: then, and
		** whenever it names nothing, say so without a path. */
		unsigned long before = w->res->problems;
		if (git_commit_tree(&a, head) == 0 && git_tree_lookup(&b, h->repo, &live) == 0)
			rfs_recover_tree_diff(h, a, b, on_live_diff, w);
		if (w->res->problems == before)
			problem(w, "live/ differs from the newest commit");
	}
	git_tree_free(a);
	git_tree_free(b);
}

/* Walk the first-parent chain from the ref at start; visit calls per commit. */
static int walk_chain(struct walk *w, bool verify, const git_oid *start)
{
	struct rfs_history *h = w->h;
	struct oidset chain = { 0 };
	git_oid oid = *start, child;
	uint64_t ref_seq = 0;
	bool first = true;
	int rc = 0;
	char x[41], y[41];
	while (rc == 0) {
		git_commit *c = NULL;
		if (git_commit_lookup(&c, h->repo, &oid) < 0) {
			if (verify && first)
				problem(w, "corrupt object %s: the newest commit cannot be read", git_oid_tostr(x, sizeof x, &oid));
			else if (verify)
				problem(w, "removed commit: %s, the parent of %s, is missing",
				        git_oid_tostr(x, sizeof x, &oid), git_oid_tostr(y, sizeof y, &child));
			break;
		}
		oidset_add(&chain, &oid);
		if (w->res)
			w->res->commits++;
		advance(w, 0);
		w->commit = &oid;
		rc = keep(w, &oid);
		if (verify) {
			check_commit(w, c, &oid);
			if (first) {
				bool ok;
				ref_seq = seq_of(h, &oid, &ok);
			}
		}
		if (rc == 0)
			rc = walk_tree(w, git_commit_tree_id(c), 0);
		if (verify && first && rc == 0)
			check_live(w, c);
		first = false;
		bool more = git_commit_parentcount(c) > 0;
		child = oid;
		if (more)
			oid = *git_commit_parent_id(c, 0);
		git_commit_free(c);
		if (!more)
			break;
	}
	if (verify && rc == 0)
		check_head_record(w, ref_seq, start, &chain);
	free(chain.v);
	return rc;
}

/* HEAD must name refs/heads/main: git, and every mirror, show what it names. */
static void check_head_symref(struct walk *w)
{
	git_reference *r = NULL;
	const char *to = NULL;
	if (git_reference_lookup(&r, w->h->repo, "HEAD") == 0)
		to = git_reference_type(r) == GIT_REFERENCE_SYMBOLIC ? git_reference_symbolic_target(r)
		                                                      : "a commit (detached)";
	if (!to || strcmp(to, RFS_HISTORY_REF))
		problem(w, "HEAD points at %s, not %s: git and its mirrors show another history than "
		        "recfs; set it back with 'git --git-dir=%s/%s symbolic-ref HEAD %s'",
		        to ? to : "nothing", RFS_HISTORY_REF, w->h->v->path, RFS_HISTORY_DIR,
		        RFS_HISTORY_REF);
	git_reference_free(r);
}

/* What the walk held; the reader's counts go to the result. */
static void walk_free(struct walk *w)
{
	if (w->reader && w->res) {
		const struct rfs_pack_reader_counts *n = rfs_pack_reader_counts(w->reader);
		w->res->objects_read += (unsigned long)n->objects;
		w->res->bytes_read += n->inflated;
	}
	rfs_pack_reader_close(w->reader);
	for (size_t i = 0; i < w->nlevels; i++) {
		free(w->levels[i].raw.p);
		free(w->levels[i].e);
	}
	free(w->levels);
	free(w->blob.p);
	free(w->dirids.v);
	free(w->xattr_checked.v);
	free(w->key_ids.v);
	free(w->seen.v);
	free(w->list);
}

int rfs_history_verify(struct rfs_history *h, FILE *report, struct rfs_verify_result *res,
                       const struct rfs_progress *progress)
{
	struct rfs_verify_result dummy;
	memset(res ? res : &dummy, 0, sizeof *res);
	struct walk w = { .h = h, .report = report, .res = res ? res : &dummy, .read_blobs = true,
	                  .progress = progress };
	uint64_t objects = 0, bytes = 0;
	pthread_mutex_lock(&h->git_lock);
	/* The ref as it stands on disk, not as this process last set it: verify
	** through the daemon must see what was done to the vault under it. */
	git_oid start = h->ref_head;
	bool have_ref = h->have_ref;
	git_reference *ref = NULL;
	int rc = git_reference_lookup(&ref, h->repo, RFS_HISTORY_REF);
	if (rc == 0 && git_reference_target(ref)) {
		start = *git_reference_target(ref);
		have_ref = true;
	} else if (rc == GIT_ENOTFOUND) {
		have_ref = false;
	}
	git_reference_free(ref);
	rc = 0;
	phase(&w, "files in live/", 0, 0);
	check_live_keys(&w, h->v->live_fd, "", 0);   /* first: live/ files are named by path */
	if (rfs_progress_watched(progress))
		history_size(h, &objects, &bytes);
	phase(&w, "objects", objects, bytes);
	if (h->packs && rfs_pack_reader_open(h->packs, &w.reader) < 0)
		w.reader = NULL;                 /* libgit2 reads every object, as before */
	if (have_ref)
		rc = walk_chain(&w, true, &start);
	else if (h->side_fd >= 0 && faccessat(h->side_fd, "head", F_OK, 0) == 0)
		problem(&w, "ref moved backwards: %s is missing but the vault recorded a head", RFS_HISTORY_REF);
	else if (rfs_history_vanished(h))
		problem(&w, "history has vanished: %s and its signed head record are missing, but live/ "
		        "holds records", RFS_HISTORY_REF);
	if (rc == 0)
		check_head_symref(&w);
	report_destroyed(&w);
	pthread_mutex_unlock(&h->git_lock);
	if (rc == 0)                   /* the disposal register's chain and lists (fs/register.h) */
		w.res->problems += rfs_register_verify(h, h->v, report);
	rfs_secmem_key_free(w.key);
	walk_free(&w);
	return rc;
}

/* ---- gc ---- */

/* Names of the pack files now in objects/pack, as a NUL-separated list. */
static char *list_packs(int packdir)
{
	int fd = dup(packdir);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d)
		return NULL;
	struct rfs_bytes b = { 0 };
	struct dirent *de;
	while ((de = readdir(d)))
		if (!strncmp(de->d_name, "pack-", 5))
			rfs_bytes_put(&b, de->d_name, strlen(de->d_name) + 1);
	rfs_bytes_u8(&b, 0);
	closedir(d);
	char *out = b.err ? NULL : malloc(b.len);
	if (out)
		memcpy(out, b.p, b.len);
	rfs_bytes_free(&b);
	return out;
}



/* The objects of one save not yet committed (gc keeps them). A small
** save's blob still in memory is staged by the committer: not here yet. */
static int walk_pending(struct walk *w, const struct rfs_pending *p)
{
	const struct rfs_capture *c = &p->cap;
	int rc = 0;
	if (c->state == CAP_ENTRY && !p->blob) {
		if (c->mode == GIT_FILEMODE_TREE)
			rc = walk_tree(w, &c->oid, 0);
		else if (oidset_add(&w->seen, &c->oid))
			rc = keep(w, &c->oid);
	}
	for (size_t i = 0; c->state == CAP_CHUNKS && i < c->ncap && rc == 0; i++)
		if (oidset_add(&w->seen, &c->coid[i]))
			rc = keep(w, &c->coid[i]);
	if (rc == 0 && c->has_side && oidset_add(&w->seen, &c->side))
		rc = keep(w, &c->side);
	return rc;
}

/* Every object that a save not yet committed refers to: queued, or in the
** batch the committer took. git_lock held: no capture is half done (each
** puts its result on its save before it lets go of git_lock). */
static int walk_uncommitted(struct walk *w)
{
	struct rfs_history *h = w->h;
	int rc = 0;
	w->commit = &h->head;
	pthread_mutex_lock(&h->q_lock);
	for (const struct rfs_pending *p = h->committing; p && rc == 0; p = p->next)
		rc = walk_pending(w, p);
	for (const struct rfs_pending *p = h->q_head; p && rc == 0; p = p->next)
		rc = walk_pending(w, p);
	pthread_mutex_unlock(&h->q_lock);
	/* The zero chunk is written only when missing, and libgit2's object
	** cache may still say it exists after its pack is gone. */
	if (rc == 0 && h->hole_known && git_odb_exists(h->odb, &h->hole_oid) &&
	    oidset_add(&w->seen, &h->hole_oid))
		rc = keep(w, &h->hole_oid);
	return rc;
}

/* gc holds pack_lock and git_lock throughout: no pack is merged, spilled
** or streamed while it decides, every commit is behind the ref once it has
** published, and every save not yet committed is on the queue or the
** committer's batch with its objects named. What it keeps is all of that;
** it removes only the packs that were there when it listed them. */
/* The objects gc packs, read in order for the pack writer, and counted for progress. */
struct gc_source {
	struct rfs_pack_odb_list list;
	struct walk *w;
};

static int gc_source(void *arg, size_t i, struct rfs_pack_obj *obj)
{
	struct gc_source *g = arg;
	git_object_t type;
	int rc = 0;
	if (rfs_pack_reader_read(g->w->reader, &g->list.list[i], &type, &g->w->blob) == 0)
		*obj = (struct rfs_pack_obj){ .oid = g->list.list[i], .type = type, .data = g->w->blob.p,
		                              .len = g->w->blob.len };
	else                                 /* loose, staged, a delta: libgit2 reads it */
		rc = rfs_pack_odb_list_source(&g->list, i, obj);

	if (rc == 0)
		advance(g->w, obj->len);
	return rc;
}

int rfs_history_gc(struct rfs_history *h, const struct rfs_progress *progress)
{
	pthread_mutex_lock(&h->pack_lock);
	pthread_mutex_lock(&h->git_lock);
	int rc = h->stage ? rfs_commit_publish(h) : 0;
	struct walk w = { .h = h, .progress = progress };
	uint64_t objects = 0, bytes = 0;
	int objdir = openat(h->v->dirfd, RFS_HISTORY_DIR "/objects", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int packdir = objdir >= 0 ? openat(objdir, "pack", O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
	if (rc == 0 && packdir < 0)
		rc = -errno;
	if (rc == 0) {                      /* no pack is being written now: any tmp_ is a leftover */
		rfs_stream_close_all(h);          /* (a stream's save reads live/ instead) */
		(void)rfs_history_leftovers(h->v, true, NULL, NULL);
	}
	if (rc == 0 && rfs_progress_watched(progress))
		history_size(h, &objects, &bytes);
	phase(&w, "objects listed", objects, bytes);
	if (rc == 0 && rfs_pack_reader_open(h->packs, &w.reader) < 0)
		w.reader = NULL;                 /* libgit2 reads every object, as before */
	if (rc == 0 && h->have_ref)
		rc = walk_chain(&w, false, &h->ref_head);
	/* Never drop what the signed head record names, even when the ref was
	** moved back or away from it: keep its chain too. */
	uint64_t rseq;
	git_oid rec;
	if (rc == 0 && rfs_commit_read_head_record(h, &rseq, &rec) == 0 && rseq &&
	    git_odb_exists(h->odb, &rec) && !(h->have_ref && git_oid_equal(&rec, &h->ref_head)))
		rc = walk_chain(&w, false, &rec);
	if (rc == 0 && h->stage)
		rc = walk_uncommitted(&w);
	char *before = rc == 0 ? list_packs(packdir) : NULL;
	if (rc == 0 && !before)
		rc = -ENOMEM;
	struct gc_source src = { { h->odb, w.list, NULL }, &w };
	char name[41] = "";
	phase(&w, "objects packed", w.n, w.bytes);
	if (rc == 0)
		rc = rfs_pack_write(h->packs, w.n, gc_source, &src, name);
	git_odb_object_free(src.list.cur);
	if (rc == 0) {
		char keep_prefix[60];
		snprintf(keep_prefix, sizeof keep_prefix, "pack-%s.", name);
		for (const char *p = before; *p; p += strlen(p) + 1)
			if (!name[0] || strncmp(p, keep_prefix, strlen(keep_prefix)))
				unlinkat(packdir, p, 0);
		loose_objects(objdir, true, NULL, NULL);
		rc = rfs_pack_reload(h->packs);
	}
	free(before);
	walk_free(&w);
	if (packdir >= 0)
		close(packdir);
	if (objdir >= 0)
		close(objdir);
	pthread_mutex_unlock(&h->git_lock);
	pthread_mutex_unlock(&h->pack_lock);
	return rc;
}
