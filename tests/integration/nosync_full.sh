#!/bin/bash
# nosync_full: plain writes without fsync on a full disk (issue 4, item 6).
# On a 16 MiB tmpfs, dd without fsync writes 64 MiB: a write(2) itself must
# fail with ENOSPC (not only the close), and the size the mount shows must be
# what was stored: the same after a remount, never more than the disk holds.
# Must never: run outside its temp folder (the tmpfs is mounted inside it).
. "$(dirname "$0")/lib.sh"

M=$IT_TMP/mnt
small_disk 16m
V=$SMALL/vault
PASSFILE=$IT_TMP/vault.pass
make_vault "$V" "$PASSFILE"
export PASSFILE
mount_vault "$V" "$M"

timeout 60 dd if=/dev/zero of="$M/big" bs=64k count=1024 status=none 2>"$IT_TMP/dd.err"
rc=$?
echo "# dd exit $rc: $(cat "$IT_TMP/dd.err")"
assert_match "a write itself fails with ENOSPC" "error writing.*No space left on device" "$(cat "$IT_TMP/dd.err")"
shown=$(stat -c %s "$M/big")
echo "# the mount shows $shown bytes"
[ "$shown" -le $((16 * 1024 * 1024)) ] && ok "the size shown ($shown) fits on the 16 MiB disk" ||
	not_ok "the size shown ($shown) is more than the 16 MiB disk holds"
assert_eq "what reads back is zeros, all of it" OK \
	"$(cmp -n "$shown" "$M/big" /dev/zero >/dev/null 2>&1 && [ "$(wc -c <"$M/big")" = "$shown" ] && echo OK)"
# A second writer on the full disk fails at once as well.
timeout 60 dd if=/dev/zero of="$M/more" bs=4k count=100 status=none 2>"$IT_TMP/dd2.err"
assert_match "a second file's write fails with ENOSPC too" "No space left on device" "$(cat "$IT_TMP/dd2.err")"
remount "$V" "$M"
assert_eq "after a remount the stored size is the size that was shown" "$shown" "$(stat -c %s "$M/big")"
rm -f "$M/big" "$M/more"
check "once space is freed, writing works again" dd if=/dev/zero of="$M/again" bs=64k count=16 status=none
assert_eq "... and the file has its full size" 1048576 "$(stat -c %s "$M/again")"
umount_vault "$M" "$V"
finish
