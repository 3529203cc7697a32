/*
** keyslots: the keyslot log /.recfs/retention/keyslots of a mounted vault (fs/keyslots_ctl.c).
**
** Owns: the verb keyslot-event (a change recfs key or recfs passwd made while mounted, by the
** person who asked), and at mount the entries of changes made while the vault was not mounted.
** Must never: hold a passphrase, a recovery key or a wrapped key.
*/
#ifndef RECFS_FS_KEYSLOTS_H
#define RECFS_FS_KEYSLOTS_H

struct rfs_fs;

/* At mount (read-write): compare recfs.conf's slots with what the log last says of each, and
** append one entry per difference (who: "unknown", the change was made unmounted; when: the
** slot's added time, else now), in one save of the mount's own. Slot 0 (init's) counts as
** it is until the log names it. 0 or -errno (logged; the mount goes on). */
int rfs_keyslots_reconcile(struct rfs_fs *fs);

#endif
