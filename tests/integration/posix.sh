#!/bin/bash
# posix: syscall-level checks (posix_probe) on a mounted vault, then the same
# data checked again after umount + remount, then recfs fsck must be clean.
# Must never: run outside its temp folder.
. "$(dirname "$0")/lib.sh"

[ -x "$POSIX_PROBE" ] || die "POSIX_PROBE=$POSIX_PROBE is not executable"
V=$IT_TMP/vault M=$IT_TMP/mnt
make_vault "$V"
mount_vault "$V" "$M"

mkdir "$M/t" || die "mkdir on the mount failed"
if "$POSIX_PROBE" write "$M/t"; then ok "posix_probe write"; else not_ok "posix_probe write (see not ok lines above)"; fi

umount_vault "$M" "$V"
# The second mount uses the ordinary (daemonising) mode.
recfs mount "$V" "$M" --passphrase-file "$V.pass" || die "remount (background mode) failed"
IT_MOUNTS+=("$M")
check "recfs mount returned with the vault mounted" is_mounted "$M"
if "$POSIX_PROBE" verify "$M/t"; then ok "posix_probe verify after remount"; else not_ok "posix_probe verify after remount"; fi
check "recfs umount" recfs umount "$M"
check "vault lock free once recfs umount returned" vault_unlocked "$V"
check "not in /proc/mounts after umount" not_mounted "$M"

fsck_clean "$V" "after the posix run"
finish
