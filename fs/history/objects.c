/*
** objects: what recfs reads back from history.git's objects, shared by every
** reader above it (index, read, recover, verify): a commit's sealed record
** opened, and whether a tree entry is a chunked file.
** Must never: write to the repository, or call the history modules above it
** (capture, queue, apply, commit, index, read, recover, verify).
*/
#include "fs/history/internal.h"

#include <errno.h>

bool rfs_objects_is_chunked(git_repository *repo, const git_tree_entry *e)
{
	if (git_tree_entry_type(e) != GIT_OBJECT_TREE)
		return false;
	git_tree *t = NULL;
	if (git_tree_lookup(&t, repo, git_tree_entry_id(e)) < 0)
		return false;
	bool yes = git_tree_entry_byname(t, RFS_CHUNK_MARKER) != NULL;
	git_tree_free(t);
	return yes;
}

int rfs_objects_read_record(struct rfs_history *h, const git_oid *oid, struct rfs_record *r)
{
	git_commit *c = NULL;
	if (git_commit_lookup(&c, h->repo, oid) < 0)
		return -ENOENT;
	int rc = rfs_record_open(r, git_commit_message_raw(c), h->v,
	                         git_commit_tree_id(c));
	git_commit_free(c);
	return rc;
}

