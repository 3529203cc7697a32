/*
** progress: how long work in fs/ (fsck, verify, gc, a restore, a disposal, an archive) says
** how far it has got, to whoever watches: a command's progress line (tools/progress.h), or
** the daemon's "p" lines to its client (rfs_control_progress in fs/control.h).
**
** Owns: the shape of one report: a count of items in a unit ("objects", "files in live/";
** NULL: files; "": no count) with its total, bytes with their total (0: not known). A change
** of unit starts a new phase (its own rate).
** Must never: cost the work anything when no one watches (fn NULL: rfs_progress_note returns
** at once), or carry a name, a path or a byte of content: only counts.
*/
#ifndef RECFS_FS_PROGRESS_H
#define RECFS_FS_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rfs_progress {
	/* Called as often as the work likes (per object, per MiB): fn limits what it draws. */
	void (*fn)(void *arg, const char *unit, uint64_t items, uint64_t bytes,
	           uint64_t total_items, uint64_t total_bytes);
	void *arg;
};

static inline bool rfs_progress_watched(const struct rfs_progress *p)
{
	return p != NULL && p->fn != NULL;
}

static inline void rfs_progress_note(const struct rfs_progress *p, const char *unit,
                                     uint64_t items, uint64_t bytes, uint64_t total_items,
                                     uint64_t total_bytes)
{
	if (rfs_progress_watched(p))
		p->fn(p->arg, unit, items, bytes, total_items, total_bytes);
}

#endif
