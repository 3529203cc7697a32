/*
** mounts: unmounting recfs mounts, and starting them (the mount table itself
** is read by fs/mountinfo).
**
** Owns: the unmount that waits until the daemon has let go of VAULT/lock, so
** the next command can open the vault.
** Must never: unmount anything that is not a recfs mount, or go through a shell.
*/
#ifndef RECFS_TOOLS_MOUNTS_H
#define RECFS_TOOLS_MOUNTS_H

#include <stdbool.h>
#include <stddef.h>

#include "fs/mountinfo.h"

/* Unmount the recfs mount at mountpoint (fusermount3 -u, -z when lazy), then
** wait up to timeout_s seconds until VAULT/lock is free. Prints nothing;
** err gets one line. 0, -ENOENT (not mounted), -EINVAL (not a recfs mount),
** -EBUSY (fusermount3 failed), -ETIMEDOUT (daemon still running), -errno. */
int rfs_unmount_and_wait(const char *mountpoint, bool lazy, unsigned timeout_s,
                         char *err, size_t errsz);

/* True for the source of a `recfs mount --at` view: "VAULT@<40 hex>". */
bool rfs_source_is_snapshot(const char *source);

struct rfs_mount_opts;

/* Everything `recfs mount` does after parsing: check the mount point and the
** vault, read the passphrase (passfile or terminal), then unlock and mount.
** In the background case a child process unlocks and mounts while this one
** waits, so the caller carries on (and can print) once the mount is up.
** Every failure is printed. Returns CLI_OK, or CLI_FAIL with nothing mounted. */
int cmd_mount_start(const char *vault, const char *passfile, const char *mountpoint,
                    const struct rfs_mount_opts *o);

#endif
