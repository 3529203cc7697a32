#!/usr/bin/env bash
# leftovers: what a killed daemon (tmp_pack_* files) or a killed
# `mount --at` (its copy of a revision, inside the vault) leaves behind is
# reported by fsck and removed by the next mount and by gc; a running view's
# copy is never touched.
. "$(dirname "$0")/lib.sh"

V=$IT_TMP/vault
M=$IT_TMP/mnt
P=$V/history.git/objects/pack
make_vault "$V"
mount_vault "$V" "$M"
echo first >"$M/a.txt"
check "flush" recfs flush "$M"
REV=$(recfs log "$M/a.txt" --json-lines -n 1 | sed -n 's/.*"rev":"\([^"]*\)".*/\1/p')

kill_mount() {      # kill_mount MNT: SIGKILL its foreground daemon, lazily unmount
	local pid
	pid=$(daemon_pid "$1")
	kill -9 "$pid"
	wait "$pid" 2>/dev/null
	fusermount3 -uz "$1" 2>/dev/null
	rm -f "$1.daemon.log"
}

# ---- a daemon killed while it streams a big save into a pack ----
# A 200 MiB save is streamed into a pack of its own after its fsync; the
# daemon is killed once its tmp_pack_ file holds 20 MiB of it.
( head -c $((200 << 20)) /dev/zero | tr '\0' 'x' | dd of="$M/big" bs=1M conv=fsync status=none ) &
W=$!
caught=
for i in $(seq 1 3000); do
	if [ -n "$(find "$P" -name 'tmp_pack_*' -size +20M 2>/dev/null)" ]; then caught=1; break; fi
	sleep 0.01
done
kill_mount "$M"
wait "$W" 2>/dev/null
wait_unlocked "$V"
if [ -z "$caught" ]; then
	# Missed the moment (the save was quicker than the poll): the file as the
	# writer leaves it, the pack header and some entries, never renamed.
	echo "# did not catch the daemon writing a pack: planting a tmp_pack_ file as it leaves one"
	printf 'PACK\0\0\0\2\0\0\0\10' >"$P/tmp_pack_AbC123"
	head -c 300000 /dev/urandom >>"$P/tmp_pack_AbC123"
	chmod 600 "$P/tmp_pack_AbC123"
fi
ls "$P"/tmp_pack_* >"$IT_TMP/tmp.lst" 2>/dev/null
assert_eq "the killed daemon left a tmp_pack_ file" 1 "$([ -s "$IT_TMP/tmp.lst" ] && echo 1)"
mkdir -p "$IT_TMP/saved" && cp -a "$P"/tmp_pack_* "$IT_TMP/saved/"
# and a pack killed between its two renames (its .pack without its .idx)
printf 'PACK\0\0\0\2\0\0\0\0' >"$P/pack-0123456789abcdef0123456789abcdef01234567.pack"

recfs fsck "$V" --passphrase-file "$V.pass" >"$IT_TMP/fsck.out" 2>&1
assert_eq "fsck reports the tmp_pack_ left by the killed daemon" "$(wc -l <"$IT_TMP/tmp.lst")" \
	"$(grep -c '^leftover: .*/objects/pack/tmp_pack_.*killed recfs daemon.*recfs gc' "$IT_TMP/fsck.out")"
check "fsck reports the half-published pack" grep -q '^leftover: .*pack-0123456789abcdef.*\.pack' "$IT_TMP/fsck.out"
check "fsck's summary counts the leftovers" grep -q 'leftovers of killed processes' "$IT_TMP/fsck.out"
check "fsck removes nothing" test -s "$IT_TMP/tmp.lst" -a -e "$(head -1 "$IT_TMP/tmp.lst")"

mount_vault "$V" "$M"
assert_eq "the next mount removes every tmp_pack_ file" 0 "$(ls "$P" | grep -c '^tmp_')"
assert_eq "the next mount removes a .pack without its .idx" 0 "$(ls "$P" | grep -c '^pack-0123456789abcdef')"
assert_eq "the mounted vault still reads" first "$(cat "$M/a.txt")"

# gc removes them too (the killed daemon's file again, as it left it)
cp -a "$IT_TMP/saved"/tmp_pack_* "$P/"
check "recfs gc on the mount" recfs gc "$M"
assert_eq "gc removes every tmp_pack_ file" 0 "$(ls "$P" | grep -c '^tmp_')"

# ---- a killed mount --at leaves its copy of the revision in the vault ----
mount_vault "$V" "$IT_TMP/view1" --at "$REV"
assert_eq "the view shows the revision" first "$(cat "$IT_TMP/view1/a.txt")"
kill_mount "$IT_TMP/view1"
assert_eq "a killed mount --at leaves its copy in the vault" 1 "$(ls -d "$V"/at-* 2>/dev/null | wc -l)"
mount_vault "$V" "$IT_TMP/view2" --at "$REV"      # a view that keeps running
assert_eq "two copies now" 2 "$(ls -d "$V"/at-* | wc -l)"
check "recfs gc on the mount beside a running view" recfs gc "$M"
assert_eq "gc removes the killed view's copy, not the running one's" 1 "$(ls -d "$V"/at-* | wc -l)"
assert_eq "the running view still reads after gc" first "$(cat "$IT_TMP/view2/a.txt")"

kill_mount "$IT_TMP/view2"
umount_vault "$M" "$V"
recfs fsck "$V" --passphrase-file "$V.pass" >"$IT_TMP/fsck2.out" 2>&1
check "fsck reports the killed view's copy" \
	grep -q "^leftover: $V/at-.*killed 'recfs mount --at'" "$IT_TMP/fsck2.out"
mount_vault "$V" "$M"
assert_eq "the next mount removes the killed view's copy" 0 "$(ls -d "$V"/at-* 2>/dev/null | wc -l)"
umount_vault "$M" "$V"
recfs fsck "$V" --passphrase-file "$V.pass" >"$IT_TMP/fsck3.out" 2>&1
assert_eq "fsck finds no leftover once they are removed" 0 "$(grep -c '^leftover' "$IT_TMP/fsck3.out")"
finish
