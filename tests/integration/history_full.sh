#!/bin/bash
# history_full: history on a full disk (issue "Keep every promise", item 6,
# second and third bullets; item 20). A file saved while the disk has room for
# live/ but not for history: the error says the disk is full (not "Invalid
# argument"); history catches up as soon as space is freed, within the same
# mount at the next flush, and across unmounts and a mount made while the disk
# was still full (never marked clean while behind). A big file committed
# empty and caught up later is logged "recovered" at its size and mode.
# Must never: run outside its temp folder (the tmpfs is mounted inside it).
. "$(dirname "$0")/lib.sh"

M=$IT_TMP/mnt
small_disk 32m
V=$SMALL/vault
PASSFILE=$IT_TMP/vault.pass
export PASSFILE
make_vault "$V" "$PASSFILE"
G=(git --git-dir="$V/history.git")

# fill: leave about 64 KiB free on the tmpfs (ballast outside the vault).
fill() {
	dd if=/dev/zero of="$SMALL/ballast" bs=64k status=none 2>/dev/null
	truncate -s -65536 "$SMALL/ballast"
}
in_history() {   # in_history CLEAR_PATH FILE: history's newest version of the path is FILE
	recfs show --vault "$V" --passphrase-file "$PASSFILE" "$1" --rev HEAD >"$IT_TMP/show.out" 2>"$IT_TMP/show.err" &&
		cmp -s "$IT_TMP/show.out" "$2"
}
head -c 50000 /dev/urandom >"$IT_TMP/f1"
head -c 50000 /dev/urandom >"$IT_TMP/f2"

# 1. Within one mount: the flush fails saying the disk is full, then catches up.
mount_vault "$V" "$M"
echo start >"$M/s0"
recfs flush "$M" >/dev/null || not_ok "first flush"
fill
check "a 50 kB file fits in live/ on the nearly full disk" cp "$IT_TMP/f1" "$M/f1"
out=$(recfs flush "$M" 2>&1)
rc=$?
echo "# flush on the full disk: $out"
[ $rc -ne 0 ] && ok "flush fails while history cannot be written" || not_ok "flush fails while history cannot be written (it succeeded)"
assert_match "the error says the disk is full" "no space|disk is full" "$out"
if printf '%s' "$out" | grep -qi 'invalid argument'; then
	not_ok "the error is not 'Invalid argument': $out"
else
	ok "the error is not 'Invalid argument'"
fi
rm -f "$SMALL/ballast"
check "once space is freed, flush succeeds" recfs flush "$M"
umount_vault "$M" "$V"
check "history caught up within the mount: f1 is in history" in_history /f1 "$IT_TMP/f1"

# 2. Across mounts: saved while full, unmounted, mounted and unmounted while
# still full, then space freed: the next mount catches up.
mount_vault "$V" "$M"
fill
check "f2 fits in live/ on the nearly full disk" cp "$IT_TMP/f2" "$M/f2"
umount_vault "$M" "$V" >/dev/null
mount_vault "$V" "$M"
umount_vault "$M" "$V" >/dev/null
rm -f "$SMALL/ballast"
mount_vault "$V" "$M"
umount_vault "$M" "$V"
check "history caught up at the mount after space was freed: f2 is in history" in_history /f2 "$IT_TMP/f2"
check "and the vault verifies" recfs verify "$V" --passphrase-file "$PASSFILE"

# 3. A big save (streamed into a pack of its own) that does not fit: the
# error says the disk is full, not "Invalid argument" (item 20).
head -c 9000000 /dev/urandom >"$IT_TMP/big"
mount_vault "$V" "$M"
dd if=/dev/zero of="$SMALL/ballast" bs=64k status=none 2>/dev/null
truncate -s -$((9500 * 1024)) "$SMALL/ballast"
check "a 9 MB file fits in live/" cp "$IT_TMP/big" "$M/big"
out=$(recfs flush "$M" 2>&1)
echo "# flush of the big save on the full disk: $out"
assert_match "the big save's error says the disk is full" "no space|disk is full" "$out"
rm -f "$SMALL/ballast"
check "once space is freed, the big save reaches history" recfs flush "$M"
mode=$(stat -c %04a "$M/big")
umount_vault "$M" "$V"
check "the big file is in history" in_history /big "$IT_TMP/big"
# Its catch-up commit says what it saved: /big was committed empty at its
# create, so the blob became a chunked file's tree (git calls that blob deleted).
vlog() {
	recfs log --vault "$V" --passphrase-file "$PASSFILE" "$@" --json-lines 2>/dev/null
}
newest=$(vlog /big -n 1)
echo "# log /big: $newest"
assert_match "log /big: the catch-up is \"recovered\", not \"deleted\"" '"what":"recovered"' "$newest"
assert_match "log /big: the size saved" '"size":9000000,' "$newest"
assert_match "log /big: the mode saved ($mode)" "\"mode\":\"$mode\"" "$newest"
assert_eq "the vault's log says the same of /big" "$newest" "$(vlog | grep -m1 '"path":"/big"')"

# 4. A save lost on the full disk, then a small change to the same file: that save holds only
# the change, and history must not build its version on the one before the lost save. Every
# version of /big is one live/ had (empty at its create, as in 3). Before the change the small save was committed as the
# change over the version before the lost one: a file no one ever had.
head -c 9000000 /dev/urandom >"$IT_TMP/big1"
head -c 65536 /dev/urandom >"$IT_TMP/start2"
cp "$IT_TMP/big1" "$IT_TMP/big2"
dd if="$IT_TMP/start2" of="$IT_TMP/big2" conv=notrunc status=none
mount_vault "$V" "$M"
dd if=/dev/zero of="$SMALL/ballast" bs=64k status=none 2>/dev/null
truncate -s -$((1024 * 1024)) "$SMALL/ballast"
check "the whole file overwritten in place on the full disk" \
	dd if="$IT_TMP/big1" of="$M/big" bs=1M conv=notrunc,fsync status=none
out=$(recfs flush "$M" 2>&1)
echo "# flush of the overwrite on the full disk: $out"
check "then its first 64 KiB" dd if="$IT_TMP/start2" of="$M/big" conv=notrunc,fsync status=none
recfs flush "$M" >/dev/null 2>&1
rm -f "$SMALL/ballast"
check "once space is freed, history catches up" recfs flush "$M"
umount_vault "$M" "$V"
check "the newest version is live/'s" in_history /big "$IT_TMP/big2"
n=0
for rev in $(vlog /big | python3 -c 'import json,sys; [print(json.loads(l)["rev"]) for l in sys.stdin]'); do
	recfs show --vault "$V" --passphrase-file "$PASSFILE" /big --rev "$rev" >"$IT_TMP/show.out" 2>/dev/null || continue
	n=$((n + 1))
	[ ! -s "$IT_TMP/show.out" ] || cmp -s "$IT_TMP/show.out" "$IT_TMP/big" || cmp -s "$IT_TMP/show.out" "$IT_TMP/big1" ||
		cmp -s "$IT_TMP/show.out" "$IT_TMP/big2" ||
		not_ok "version $rev of /big is none that live/ had ($(cmp "$IT_TMP/show.out" "$IT_TMP/big2" 2>&1 | head -c 100))"
done
check "versions of /big were read ($n)" test "$n" -ge 2
finish
