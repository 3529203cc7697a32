/*
** idle: the watch that unmounts a mount nobody has used for a while (mount -o idle=DURATION).
**
** Owns: the parsing of DURATION, and a thread that, once the file system has had no FUSE
** request and no control request that touches content (rfs_fs.used) for that long, asks for
** the unmount as `recfs umount` does (fusermount3 -u, never lazy: the kernel refuses it while
** a file or a working folder is open there, and the watch tries again a second later). The
** daemon's ordinary shutdown then commits every save and wipes the keys (fs/mount.c).
** Must never: unmount lazily, unmount while files are open, or wait on the FUSE loop.
*/
#ifndef RECFS_FS_IDLE_H
#define RECFS_FS_IDLE_H

struct rfs_fs;
struct rfs_idle;

/* "30s", "15m", "2h", "1d" or a number of seconds, into *seconds (1 s .. 365 d). 0 or -EINVAL. */
int rfs_idle_parse(const char *text, unsigned *seconds);

/* Watch fs, mounted at mountpoint (copied), from a thread. 0 or -errno. */
int rfs_idle_start(struct rfs_fs *fs, const char *mountpoint, unsigned seconds,
                   struct rfs_idle **out);
/* Stop watching (before the FUSE session goes away). NULL is allowed. */
void rfs_idle_stop(struct rfs_idle *w);

#endif
