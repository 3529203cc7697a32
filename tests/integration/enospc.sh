#!/bin/bash
# enospc: a full disk (issue 3, must hold 6). A vault on an 8 MiB tmpfs is
# filled until a write fails; the application must get ENOSPC, every file
# written and closed before still reads back byte-identical, the file that hit
# the limit reads without EIO (a true prefix), fsck is clean, the vault still
# mounts while full, and writing works again once space is freed.
# Must never: run outside its temp folder (the tmpfs is mounted inside it).
. "$(dirname "$0")/lib.sh"

M=$IT_TMP/mnt SRC=$IT_TMP/src
mkdir -p "$SRC"
small_disk 8m
# Ballast outside the vault on the same disk: deleting it later frees space the
# way an administrator would, without touching the vault.
head -c 2500000 /dev/zero >"$SMALL/ballast" || die "write ballast"
V=$SMALL/vault
PASSFILE=$IT_TMP/vault.pass
make_vault "$V" "$PASSFILE"
export PASSFILE
mount_vault "$V" "$M"

complete=0 partial=
for i in $(seq 1 60); do
	head -c $((250000 + i * 1000)) /dev/urandom >"$SRC/f$i"
	if dd if="$SRC/f$i" of="$M/f$i" bs=64k conv=fsync status=none 2>"$IT_TMP/dd.err"; then
		complete=$i
	else
		partial=f$i
		break
	fi
done
echo "# wrote $complete files before the disk filled; dd said: $(cat "$IT_TMP/dd.err")"
[ -n "$partial" ] || die "the 8 MiB disk never filled"
[ "$complete" -ge 5 ] && ok "$complete files written before the disk filled" ||
	not_ok "only $complete files fit on an 8 MiB vault"
assert_match "the writer got ENOSPC" 'No space left on device' "$(cat "$IT_TMP/dd.err")"
assert_eq "a new file on the full disk: created or ENOSPC, nothing else" 1 \
	"$("$POSIX_PROBE" op create "$M/more" | grep -Ecx 'OK|ENOSPC')"
r=$("$POSIX_PROBE" op mkdir "$M/dir")
[ "$r" = OK ] || [ "$r" = ENOSPC ] && ok "mkdir on the full disk: $r" || not_ok "mkdir on the full disk: $r"

check_files() {
	local when=$1 bad=0 i n
	for i in $(seq 1 "$complete"); do
		cmp -s "$SRC/f$i" "$M/f$i" || { bad=$((bad + 1)); echo "# $when: f$i differs"; }
	done
	assert_eq "$when: all $complete closed files byte-identical" 0 "$bad"
	assert_eq "$when: the file that hit the limit reads without error" OK \
		"$("$POSIX_PROBE" op read "$M/$partial")"
	cat "$M/$partial" >"$IT_TMP/partial" 2>/dev/null
	n=$(stat -c %s "$IT_TMP/partial")
	check "$when: its $n bytes are a true prefix of what was written" cmp -n "$n" "$IT_TMP/partial" "$SRC/$partial"
}
check_files "full disk, mounted"
umount_vault "$M" "$V"
fsck_clean "$V" "on the full disk"
if check "the vault mounts while the disk is full" recfs mount "$V" "$M" --passphrase-file "$PASSFILE"; then
	IT_MOUNTS+=("$M")
	check_files "full disk, after remount"
	check "umount on the full disk" recfs umount "$M"
fi
rm -f "$SMALL/ballast"
[ -n "${IT_KEEP:-}" ] && cp -a "$SMALL" "$IT_KEEP" && cp "$PASSFILE" "$IT_KEEP/"  # debugging aid
mount_vault "$V" "$M"
check_files "after freeing space outside the vault"

rm -f "$M/$partial" "$M/f1" "$M/f2" "$M/more"
rmdir "$M/dir" 2>/dev/null
check "writing works again once space is freed" cp "$SRC/f1" "$M/again"
check "the new file reads back" cmp "$SRC/f1" "$M/again"
umount_vault "$M" "$V"
fsck_clean "$V" "after freeing space"
finish
