/*
** xattrs: the user.* extended attributes of every version, in history.
**
** Owns: the side blob that carries a file's or folder's sealed attributes in
** a commit's tree (docs/HISTORY.md, "Extended attributes"): reading them from
** live/ exactly as they are stored there (sealed names, sealed values, so
** the blob is the same whenever live/ is), parsing it, opening it for show
** and restore, checking it for verify, and putting a version's set back on
** a file or folder of live/, sealed again for where it is now.
** Must never: put a clear name or value into history.git or live/, keep a
** clear value past the set that holds it (wiped on free), or hand out a
** value that did not authenticate.
*/
#include "fs/history/internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>
#include "crypto/content.h"
#include "crypto/names.h"
#include "crypto/secmem.h"
#include "fs/log.h"
#include "fs/xowner.h"

#define USER "user."
#define USER_LEN 5

bool rfs_xattrs_is_side(const char *name)
{
	return !strncmp(name, RFS_XATTRS_SIDE, sizeof RFS_XATTRS_SIDE - 1) ||
	       !strcmp(name, RFS_XATTRS_MARKER);
}

char *rfs_xattrs_side_path(const char *cpath, bool is_dir)
{
	size_t n = strlen(cpath) + sizeof RFS_XATTRS_SIDE + 1;
	char *s = malloc(n);
	if (!s)
		return NULL;
	const char *slash = strrchr(cpath, '/');
	if (is_dir)
		snprintf(s, n, "%s%s%s", cpath, cpath[0] ? "/" : "", RFS_XATTRS_SIDE);
	else if (slash)
		snprintf(s, n, "%.*s/%s%s", (int)(slash - cpath), cpath, RFS_XATTRS_SIDE, slash + 1);
	else
		snprintf(s, n, "%s%s", RFS_XATTRS_SIDE, cpath);
	return s;
}

char *rfs_xattrs_owner_of_side(const char *path)
{
	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;
	size_t dir = slash ? (size_t)(slash - path) : 0;
	char *p = NULL;
	if (!strcmp(base, RFS_XATTRS_MARKER) || !strcmp(base, RFS_XATTRS_SIDE))
		p = strndup(path, dir);          /* the root's marker, a folder's own: the folder */
	else if (!strncmp(base, RFS_XATTRS_SIDE, sizeof RFS_XATTRS_SIDE - 1) &&
	         (p = malloc(strlen(path) + 1)))
		sprintf(p, "%.*s%s%s", (int)dir, path, slash ? "/" : "", base + sizeof RFS_XATTRS_SIDE - 1);
	return p;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* One attempt: -EAGAIN when the attributes changed under us. */
static int from_live_once(const char *path, struct rfs_bytes *b)
{
	ssize_t n = listxattr(path, NULL, 0);
	if (n < 0)
		return errno == ENOTSUP ? 0 : -errno;
	char *list = n ? malloc((size_t)n) : NULL;
	if (n && !list)
		return -ENOMEM;
	ssize_t got = n ? listxattr(path, list, (size_t)n) : 0;
	if (got < 0) {
		free(list);
		return errno == ERANGE ? -EAGAIN : -errno;
	}
	size_t count = 0;
	char **names = got ? calloc((size_t)got, sizeof *names) : NULL;
	for (char *q = list; names && q < list + got; q += strlen(q) + 1)
		if (!strncmp(q, USER, USER_LEN) && q[USER_LEN])
			names[count++] = q;
	int rc = got && !names ? -ENOMEM : 0;
	if (count)
		qsort(names, count, sizeof *names, by_name);
	uint8_t *val = NULL;
	size_t kept = 0;
	if (rc == 0 && count) {
		rfs_bytes_put(b, RFS_XATTRS_MAGIC, sizeof RFS_XATTRS_MAGIC - 1);
		rfs_bytes_u32(b, 0);             /* the count, once known */
	}
	for (size_t i = 0; rc == 0 && i < count; i++) {
		ssize_t vlen = getxattr(path, names[i], NULL, 0);
		if (vlen < 0 && errno == ENODATA)
			continue;                    /* removed meanwhile */
		uint8_t *nv = vlen >= 0 ? realloc(val, (size_t)vlen + 1) : NULL;
		if (vlen < 0)
			rc = -errno;
		else if (!nv)
			rc = -ENOMEM;
		else if ((val = nv), getxattr(path, names[i], val, (size_t)vlen) != vlen)
			rc = -EAGAIN;
		if (rc < 0)
			break;
		rfs_bytes_str(b, names[i] + USER_LEN);
		rfs_bytes_u32(b, (uint32_t)vlen);
		rfs_bytes_put(b, val, (size_t)vlen);
		kept++;
	}
	free(val);
	free(names);
	free(list);
	if (rc == 0 && b->err)
		rc = b->err;
	if (rc == 0 && kept) {
		for (int i = 0; i < 4; i++)
			b->p[sizeof RFS_XATTRS_MAGIC - 1 + (size_t)i] = (uint8_t)(kept >> (8 * i));
	} else if (rc == 0) {
		b->len = 0;                      /* every one went meanwhile: none */
	}
	return rc;
}

int rfs_xattrs_from_live(const char *path, uint8_t **blob, size_t *len)
{
	*blob = NULL;
	*len = 0;
	int rc = -EAGAIN;
	for (int tries = 0; rc == -EAGAIN && tries < 8; tries++) {
		struct rfs_bytes b = { 0 };
		rc = from_live_once(path, &b);
		if (rc == 0 && b.len) {
			*blob = b.p;             /* ciphertext only: handed over as it is */
			*len = b.len;
			b.p = NULL;
		}
		rfs_bytes_free(&b);
	}
	return rc;
}

/* ---- parsing a side blob ---- */

struct raw_entry {
	char name[RFS_ENC_NAME_MAX + 1];  /* sealed, without "user." */
	const uint8_t *val;
	size_t len;
};

/* The next entry of blob at *off; 1, 0 at the end, -EIO when malformed. */
static int next_entry(struct rfs_reader *r, uint32_t *left, struct raw_entry *e)
{
	if (r->off == 0) {
		uint8_t magic[sizeof RFS_XATTRS_MAGIC - 1];
		rfs_bytes_read(r, magic, sizeof magic);
		*left = rfs_bytes_read_u32(r);
		if (r->err || memcmp(magic, RFS_XATTRS_MAGIC, sizeof magic) || *left == 0)
			return -EIO;
	}
	if (*left == 0)
		return r->off == r->len ? 0 : -EIO;
	(*left)--;
	char *name = rfs_bytes_read_str(r);
	uint32_t len = rfs_bytes_read_u32(r);
	int rc = r->err || !name || !name[0] || strlen(name) >= sizeof e->name || len > r->len - r->off
	         ? -EIO : 1;
	if (rc == 1) {
		strcpy(e->name, name);
		e->val = r->p + r->off;
		e->len = len;
		r->off += len;
	}
	free(name);
	return rc;
}

void rfs_history_xattrs_free(struct rfs_xattr_set *s)
{
	for (size_t i = 0; s && i < s->count; i++) {
		if (s->v[i].value)
			rfs_secmem_wipe(s->v[i].value, s->v[i].len);
		free(s->v[i].value);
	}
	if (s) {
		free(s->v);
		s->v = NULL;
		s->count = 0;
	}
}

int rfs_xattrs_open(const uint8_t *blob, size_t len, const uint8_t owner[16],
                    const struct rfs_xattr_keys *xk, struct rfs_xattr_set *out)
{
	struct rfs_reader r = { .p = blob, .len = len };
	struct raw_entry e;
	uint32_t left = 0;
	size_t cap = 0;
	int rc;
	out->count = 0;
	out->v = NULL;
	while ((rc = next_entry(&r, &left, &e)) == 1) {
		char clear[256];
		if (e.len < RFS_BLOCK_OVERHEAD || rfs_bytes_grow(&out->v, &cap, out->count,
		                                                 sizeof *out->v, 4) < 0) {
			rc = e.len < RFS_BLOCK_OVERHEAD ? -EIO : -ENOMEM;
			break;
		}
		struct rfs_xattr *x = &out->v[out->count];
		size_t plen = e.len - RFS_BLOCK_OVERHEAD;
		x->value = malloc(e.len);        /* the open writes len + overhead at most */
		x->len = plen;
		if (!x->value) {
			rc = -ENOMEM;
			break;
		}
		out->count++;
		int n = rfs_name_xattr_open(clear, sizeof clear, e.name, xk);
		if (n < 0 || rfs_name_xattr_value_open(x->value, e.val, e.len, owner, e.name, xk) < 0) {
			rc = -EIO;
			break;
		}
		snprintf(x->name, sizeof x->name, "%s%.*s", USER, n, clear);
	}
	if (rc < 0)
		rfs_history_xattrs_free(out);
	return rc < 0 ? rc : 0;
}

void rfs_xattrs_put_raw(struct rfs_history *h, const git_oid *blob, int dirfd, const char *name)
{
	char path[64 + 256];
	if (snprintf(path, sizeof path, "/proc/self/fd/%d%s%s", dirfd, name[0] ? "/" : "", name) >=
	    (int)sizeof path)
		return;
	struct stat st;
	git_blob *b = NULL;
	if ((name[0] && fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) ||
	    git_blob_lookup(&b, h->repo, blob) < 0)
		return;
	struct rfs_reader r = { .p = git_blob_rawcontent(b), .len = (size_t)git_blob_rawsize(b) };
	struct raw_entry e;
	uint32_t left = 0;
	while (next_entry(&r, &left, &e) == 1) {
		char bname[USER_LEN + sizeof e.name];
		snprintf(bname, sizeof bname, "%s%s", USER, e.name);
		if (setxattr(path, bname, e.val, e.len, 0) != 0)
			break;
	}
	git_blob_free(b);
}

/* ---- a version's set, read from history ---- */

/* The owner of path's attributes at this version and the keys that seal them. */
struct side {
	bool is_dir;
	uint8_t owner[16];
	uint8_t keys_of[16];              /* the folder whose keys seal them */
	char *path;                       /* of the side blob in the tree */
};

static bool is_empty_blob(struct rfs_history *h, const git_tree_entry *e)
{
	git_blob *b = NULL;
	bool empty = git_tree_entry_type(e) == GIT_OBJECT_BLOB &&
	             git_blob_lookup(&b, h->repo, git_tree_entry_id(e)) == 0 && git_blob_rawsize(b) == 0;
	git_blob_free(b);
	return empty;
}

static int side_of(struct rfs_history *h, git_tree *root, const char *cpath,
                   const git_tree_entry *e, struct side *s)
{
	s->is_dir = e ? git_tree_entry_type(e) == GIT_OBJECT_TREE && !rfs_objects_is_chunked(h->repo, e)
	              : true;            /* the root */
	int rc = 0;
	if (s->is_dir) {
		rc = rfs_read_dirid_in_tree(h, root, cpath, s->owner);
		memcpy(s->keys_of, s->owner, 16);
	} else if (git_tree_entry_filemode(e) == GIT_FILEMODE_LINK) {
		rc = -ENODATA;               /* a link holds none */
	} else {
		rc = rfs_read_file_id(h, e, s->owner);
		if (rc == -EIO && is_empty_blob(h, e))
			rc = -ENODATA;               /* an empty file has no id, so it holds none */
		rfs_read_parent_dirid(h, root, cpath, s->keys_of);
	}
	if (rc == 0 && !(s->path = rfs_xattrs_side_path(cpath, s->is_dir)))
		rc = -ENOMEM;
	return rc;
}

/* Open the side blob at s in root under the keys of its folder. */
static int open_side(struct rfs_history *h, git_tree *root, const struct side *s,
                     struct rfs_xattr_set *out)
{
	git_tree_entry *se = NULL;
	int rc = git_tree_entry_bypath(&se, root, s->path);
	if (rc == GIT_ENOTFOUND)
		return 0;                        /* none at this version */
	git_blob *b = NULL;
	if (rc < 0 || git_blob_lookup(&b, h->repo, git_tree_entry_id(se)) < 0) {
		git_tree_entry_free(se);
		return -EIO;
	}
	git_tree_entry_free(se);
	const struct rfs_folder_keys *fk = NULL;
	rc = rfs_vault_folder_keys_get(h->v, s->keys_of, &fk);
	if (rc == -ENOENT)
		rc = -EKEYREVOKED;               /* destroyed with its folder */
	if (rc == 0)
		rc = rfs_xattrs_open(git_blob_rawcontent(b), (size_t)git_blob_rawsize(b), s->owner,
		                     s->is_dir ? &fk->own : &fk->entries, out);
	rfs_vault_folder_keys_put(h->v, fk);
	git_blob_free(b);
	return rc;
}

static int by_clear_name(const void *a, const void *b)
{
	return strcmp(((const struct rfs_xattr *)a)->name, ((const struct rfs_xattr *)b)->name);
}

int rfs_history_xattrs(struct rfs_history *h, const char *rev, const char *clear_path,
                       struct rfs_xattr_set *out)
{
	memset(out, 0, sizeof *out);
	char cpath[8192];
	git_tree *root = NULL;
	git_tree_entry *e = NULL;
	struct side s = { 0 };
	pthread_mutex_lock(&h->git_lock);
	int rc = rfs_read_root_at(h, rev, &root);
	bool is_root = rc == 0 && strspn(clear_path, "/") == strlen(clear_path);
	if (rc == 0 && !is_root)
		rc = rfs_read_resolve_clear(h, root, clear_path, cpath, sizeof cpath, &e, NULL);
	if (is_root)
		cpath[0] = 0;
	if (rc == 0)
		out->recorded = git_tree_entry_byname(root, RFS_XATTRS_MARKER) != NULL;
	if (rc == 0)
		rc = side_of(h, root, cpath, e, &s);
	if (rc == 0)
		rc = open_side(h, root, &s, out);
	if (rc == -ENODATA)
		rc = 0;
	if (rc == -EIO)
		rfs_log(LOG_ERR, "history: the extended attributes of %s at %.12s do not authenticate "
		        "(tampered or damaged); run 'recfs verify %s'", clear_path, rev, h->v->path);
	free(s.path);
	git_tree_entry_free(e);
	git_tree_free(root);
	pthread_mutex_unlock(&h->git_lock);
	bool rec = out->recorded;
	if (rc < 0)
		rfs_history_xattrs_free(out);
	else if (out->count)
		qsort(out->v, out->count, sizeof *out->v, by_clear_name);   /* as getfattr lists them */
	out->recorded = rc == 0 && rec;
	return rc;
}

/* ---- putting a version's set back on live/ ---- */

int rfs_history_xattrs_apply(struct rfs_vault *v, int fd, bool is_dir, const uint8_t dir[16],
                             const struct rfs_xattr_set *set)
{
	if (!set->recorded)
		return 0;                        /* history from before attributes were kept: as it is */
	char path[64];
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	uint8_t owner[RFS_XATTR_OWNER_SIZE];
	const struct rfs_folder_keys *fk = NULL;
	int rc = rfs_xattr_owner_of(path, is_dir, owner);
	if (rc == -EIO && set->count == 0)
		return 0;                        /* an empty file: it has no id, so it holds none */
	if (rc == 0)
		rc = rfs_vault_folder_keys_get(v, dir, &fk);
	const struct rfs_xattr_keys *xk = fk ? (is_dir ? &fk->own : &fk->entries) : NULL;
	/* The current user.* set goes first, whole: the version's replaces it. By path, since fd
	** may be an O_PATH descriptor (a folder restore's). */
	ssize_t n = rc == 0 ? listxattr(path, NULL, 0) : 0;
	char *list = n > 0 ? malloc((size_t)n) : NULL;
	if (n > 0 && !list)
		rc = -ENOMEM;
	if (rc == 0 && n > 0 && (n = listxattr(path, list, (size_t)n)) < 0)
		rc = -errno;
	for (char *q = list; rc == 0 && n > 0 && q < list + n; q += strlen(q) + 1)
		if (!strncmp(q, USER, USER_LEN) && removexattr(path, q) != 0 && errno != ENODATA)
			rc = -errno;
	free(list);
	for (size_t i = 0; rc == 0 && i < set->count; i++) {
		char bname[USER_LEN + RFS_ENC_NAME_MAX + 1];
		const struct rfs_xattr *x = &set->v[i];
		uint8_t *ct = malloc(x->len + RFS_BLOCK_OVERHEAD);
		memcpy(bname, USER, USER_LEN);
		rc = !ct ? -ENOMEM
		     : rfs_name_xattr_seal(bname + USER_LEN, sizeof bname - USER_LEN, x->name + USER_LEN,
		                           xk) < 0 ? -ERANGE : 0;
		if (rc == 0)
			rc = rfs_name_xattr_value_seal(ct, x->value, x->len, owner, bname + USER_LEN, xk);
		if (rc == 0 && setxattr(path, bname, ct, x->len + RFS_BLOCK_OVERHEAD, 0) != 0)
			rc = -errno;
		free(ct);
	}
	rfs_vault_folder_keys_put(v, fk);
	return rc;
}

/* ---- verify ---- */

int rfs_xattrs_check_tree(struct rfs_history *h, git_tree *t, const uint8_t dirid[16],
                          rfs_xattrs_bad_fn bad, void *arg)
{
	int rc = 0;
	const struct rfs_folder_keys *fk = NULL;
	bool keys_tried = false;
	for (size_t i = 0; rc == 0 && i < git_tree_entrycount(t); i++) {
		const git_tree_entry *e = git_tree_entry_byindex(t, i);
		const char *name = git_tree_entry_name(e);
		if (strncmp(name, RFS_XATTRS_SIDE, sizeof RFS_XATTRS_SIDE - 1))
			continue;
		if (!keys_tried) {
			keys_tried = true;
			if (rfs_vault_folder_keys_get(h->v, dirid, &fk) < 0)
				return 0;            /* a folder key gone: verify reports the key itself */
		}
		bool own = !name[sizeof RFS_XATTRS_SIDE - 1];
		uint8_t owner[16];
		const char *why = NULL;
		git_blob *b = NULL;
		const git_tree_entry *of = own ? NULL
		                         : git_tree_entry_byname(t, name + sizeof RFS_XATTRS_SIDE - 1);
		if (own)
			memcpy(owner, dirid, 16);
		else if (!of || git_tree_entry_filemode(of) == GIT_FILEMODE_LINK ||
		         (git_tree_entry_type(of) == GIT_OBJECT_TREE && !rfs_objects_is_chunked(h->repo, of)))
			why = "they belong to no file of the folder";
		else if (rfs_read_file_id(h, of, owner) < 0)
			why = "their file has no readable header";
		if (!why && (git_tree_entry_type(e) != GIT_OBJECT_BLOB ||
		             git_blob_lookup(&b, h->repo, git_tree_entry_id(e)) < 0))
			why = "the blob cannot be read";
		struct rfs_xattr_set set = { 0 };
		if (!why && rfs_xattrs_open(git_blob_rawcontent(b), (size_t)git_blob_rawsize(b), owner,
		                            own ? &fk->own : &fk->entries, &set) < 0)
			why = "a name or value does not authenticate";
		rfs_history_xattrs_free(&set);
		git_blob_free(b);
		if (why)
			rc = bad(arg, git_tree_entry_id(e), why);
	}
	rfs_vault_folder_keys_put(h->v, fk);
	return rc;
}
