/*
** walk: see walk.h. A folder's entries are read whole (names only), opened,
** sorted by clear name, then visited one by one, each with one lookup held
** only for its visit.
*/
#include "fs/walk.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs/history/bytes.h"
#include "fs/ops_internal.h"

struct child {
	char *clear, *backing;
};

static int child_cmp(const void *a, const void *b)
{
	return strcmp(((const struct child *)a)->clear, ((const struct child *)b)->clear);
}

/* The entries of the folder fd (clear and backing names), sorted by clear name. */
static int read_children(const struct rfs_folder_keys *fk, int fd, struct child **out, size_t *n)
{
	size_t cap = 0;
	struct dirent *d;
	DIR *dp = fdopendir(fd);
	int rc = dp ? 0 : -errno;

	*out = NULL;
	*n = 0;
	if (!dp)
		close(fd);
	while (rc == 0 && (errno = 0, d = readdir(dp)) != NULL) {
		char clear[256];

		if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, "..") ||
		    rfs_name_is_internal(d->d_name))
			continue;
		rc = rfs_dname_open(fk, dirfd(dp), d->d_name, clear);
		if (rc == 0)
			rc = rfs_bytes_grow(out, &cap, *n, sizeof(**out), 16);
		if (rc == 0) {
			(*out)[*n].clear = strdup(clear);
			(*out)[*n].backing = strdup(d->d_name);
			rc = (*out)[*n].clear && (*out)[*n].backing ? 0 : -ENOMEM;
			(*n)++;
		}
	}
	if (rc == 0 && errno)
		rc = -errno;
	if (dp)
		closedir(dp);
	if (rc == 0 && *n)
		qsort(*out, *n, sizeof(**out), child_cmp);
	return rc;
}

/* Every entry of the folder e->in, depth first. */
static int walk_folder(struct rfs_fs *fs, const struct rfs_walk_entry *e, rfs_walk_fn fn, void *arg)
{
	const struct rfs_folder_keys *fk = NULL;
	struct child *kids = NULL;
	size_t nkids = 0;
	int pfd, dfd, rc = rfs_ops_folder_keys(fs, e->in, &fk);

	if (rc < 0)
		return rc;
	if ((pfd = inode_fd(fs, e->in)) < 0) {
		rfs_vault_folder_keys_put(fs->v, fk);
		return pfd;
	}
	dfd = openat(pfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	rc = dfd < 0 ? -errno : read_children(fk, dfd, &kids, &nkids);
	for (size_t i = 0; rc == 0 && i < nkids; i++) {
		struct fuse_entry_param fe;
		struct rfs_walk_entry child = { .dir = e->in, .dirfd = pfd, .name = kids[i].clear,
		                                .backing = kids[i].backing };
		char *path = NULL;

		rc = rfs_ops_make_entry(fs, e->in, pfd, kids[i].clear, kids[i].backing, &fe, &child.in);
		if (rc == -ENOENT)
			rc = 0;                /* gone since it was read: nothing to visit */
		else if (rc == 0 && asprintf(&path, "%s%s%s", e->path, *e->path ? "/" : "",
		                             kids[i].clear) < 0)
			rc = -ENOMEM;
		else if (rc == 0) {
			child.path = path;
			child.st = fe.attr;
			rc = rfs_walk_visit(fs, &child, fn, arg);
		}
		if (child.in)
			rfs_inode_forget(&fs->it, child.in, 1);
		free(path);
	}
	for (size_t i = 0; i < nkids; i++) {
		free(kids[i].clear);
		free(kids[i].backing);
	}
	free(kids);
	inode_fd_done(fs, e->in);
	rfs_vault_folder_keys_put(fs->v, fk);
	return rc;
}

int rfs_walk_visit(struct rfs_fs *fs, const struct rfs_walk_entry *e, rfs_walk_fn fn, void *arg)
{
	int rc = fn(fs, e, true, arg);

	if (rc == 0 && S_ISDIR(e->st.st_mode))
		rc = walk_folder(fs, e, fn, arg);
	rc = rc < 0 ? rc : fn(fs, e, false, arg);
	return rc < 0 ? rc : 0;
}

void rfs_walk_put(struct rfs_fs *fs, struct rfs_walk_at *r)
{
	if (r->top.dirfd >= 0 && r->top.dir)
		inode_fd_done(fs, r->top.dir);
	while (r->nheld > 0)
		rfs_inode_forget(&fs->it, r->held[--r->nheld], 1);
}

int rfs_walk_get(struct rfs_fs *fs, const char *path, struct rfs_walk_at *r)
{
	struct rfs_inode *dir = &fs->it.root;
	const char *p = path + (*path == '/');

	memset(r, 0, sizeof(*r));
	r->top.dirfd = -1;
	while (*p) {
		size_t n = strcspn(p, "/");
		struct fuse_entry_param fe;
		struct rfs_sealed_name sn;
		struct rfs_inode *child;
		int dfd, rc;

		if (n == 0 || n >= sizeof(r->name) || r->nheld == sizeof(r->held) / sizeof(r->held[0]))
			return -EINVAL;
		memcpy(r->name, p, n);
		r->name[n] = '\0';
		p += n + (p[n] == '/');
		rc = rfs_ops_seal_name(fs, dir, r->name, &sn);
		if (rc < 0)
			return rc;
		if ((dfd = inode_fd(fs, dir)) < 0)
			return dfd;
		rc = rfs_ops_make_entry(fs, dir, dfd, r->name, sn.backing, &fe, &child);
		if (rc < 0) {
			inode_fd_done(fs, dir);
			return rc;
		}
		r->held[r->nheld++] = child;
		if (!*p) {                           /* the folder itself: its parent's fd stays held */
			snprintf(r->backing, sizeof(r->backing), "%s", sn.backing);
			r->top = (struct rfs_walk_entry){ dir, child, dfd, r->name, r->backing,
			                                  path + (*path == '/'), fe.attr };
			return S_ISDIR(fe.attr.st_mode) ? 0 : -ENOTDIR;
		}
		inode_fd_done(fs, dir);
		dir = child;
	}
	return -EINVAL;
}

int rfs_walk_record(struct rfs_fs *fs, const char *path, rfs_walk_fn fn, void *arg)
{
	struct rfs_walk_at *r = malloc(sizeof(*r));
	int rc = r ? rfs_walk_get(fs, path, r) : -ENOMEM;

	if (rc == 0)
		rc = rfs_walk_visit(fs, &r->top, fn, arg);
	if (r)
		rfs_walk_put(fs, r);
	free(r);
	return rc;
}
