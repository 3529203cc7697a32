/*
** closer: the last close of a removed file or folder, made by threads of
** their own instead of in the request that removed it. On ext4 that close
** frees the inode's blocks, and with the discard mount option (or without a
** journal) it waits for the device to discard them, which took 1 to 3 ms a
** file on the benchmark machine: rm -rf paid it in every UNLINK's reply. A
** removal holds a descriptor across its unlinkat and hands it over here.
** Owns: a bounded queue of descriptors and the threads that close them.
** Must never: hold more than RFS_CLOSER_MAX descriptors (a full queue makes
** the caller close it itself); leave one open after rfs_closer_stop; hold
** space that a write or statfs is waiting for (they call rfs_closer_drain).
*/
#ifndef RECFS_FS_CLOSER_H
#define RECFS_FS_CLOSER_H

#include <stdbool.h>

#define RFS_CLOSER_MAX 256             /* descriptors waiting, at most */
#define RFS_CLOSER_THREADS 4           /* closes at once (discards overlap) */
#define RFS_CLOSER_NAME "recfs-closer"  /* the threads' name (/proc/PID/task/TID/comm) */

/* Start the threads (one set per process; a second start only counts). 0 or -errno. */
int rfs_closer_start(void);
/* Close everything handed over, then stop the threads (after the last start's stop). */
void rfs_closer_stop(void);
/* Close fd later, on a closer thread; at once when none runs or the queue is full. */
void rfs_closer_put(int fd);
/* Wait until everything handed over so far is closed. true: something was
** (space may have been freed: a write that failed with ENOSPC may try again). */
bool rfs_closer_drain(void);

#endif
