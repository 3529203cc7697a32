/*
** f1_shim: stand-ins for the folder-key API of vault format 3 until it is
** merged (fs/vault.h). Must never: outlive that merge.
*/
#ifndef RECFS_FS_HISTORY_F1_SHIM_H
#define RECFS_FS_HISTORY_F1_SHIM_H
#include <errno.h>
#include "fs/vault.h"
struct rfs_folder_keys;
static inline unsigned rfs_vault_format(const struct rfs_vault *v) { return v->conf.format_version; }
static inline int rfs_vault_folder_keys_get(struct rfs_vault *v, const uint8_t dirid[16],
                                            const struct rfs_folder_keys **fk)
{
	(void)dirid;
	*fk = (const struct rfs_folder_keys *)v->keys;
	return 0;
}
static inline void rfs_vault_folder_keys_put(struct rfs_vault *v, const struct rfs_folder_keys *fk)
{
	(void)v;
	(void)fk;
}
static inline const uint8_t *rfs_folder_keys_path(const struct rfs_folder_keys *fk)
{
	return ((const struct rfs_keys *)fk)->name_enc;
}
static inline const uint8_t *rfs_folder_keys_tag(const struct rfs_folder_keys *fk)
{
	return ((const struct rfs_keys *)fk)->name_mac;
}
#endif
