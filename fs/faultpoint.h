/*
** faultpoint: named points in the daemon's write paths where a test can cut
** the power (EXT4_IOC_SHUTDOWN with NOLOGFLUSH on the vault's file system), to
** reach windows no outside timing can hit. Compiled in only with the meson
** option fault_points (RFS_FAULT_POINTS); otherwise every point is nothing.
** RECFS_FAULT_CUT=NAME[:N][:sync] in the daemon's environment arms one point:
** its N-th pass (default 1) cuts, then the daemon carries on, and every later
** write fails as after a power cut. ":sync" first commits ext4's journal (as
** its 5 s timer may have), so that what the point follows is on the disk.
** RECFS_FAULT_DELAY=NAME:MS makes every pass of NAME sleep MS ms first, so a
** test can see what waits for the work after the point.
** Must never: be compiled into a release build; read the environment there;
** change what the code around a point does, except through the cut or the delay.
*/
#ifndef RECFS_FS_FAULTPOINT_H
#define RECFS_FS_FAULTPOINT_H

#ifdef RFS_FAULT_POINTS
/* NAME's pass; anyfd: any descriptor (O_PATH too) on the vault's file system. */
void rfs_fault_point(const char *name, int anyfd);
#define RFS_FAULT_POINT(name, anyfd) rfs_fault_point((name), (anyfd))
#else
#define RFS_FAULT_POINT(name, anyfd) ((void)0)
#endif

#endif
