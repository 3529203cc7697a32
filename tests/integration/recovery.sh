#!/bin/bash
# recovery: crash recovery signs only what authenticates, and a vault closed
# cleanly is never "recovered" (issue "Keep every promise", item 11). live/ is
# tampered with after a clean close (a file deleted, one rolled back to an
# older ciphertext, a byte flipped) and the old clean mark deleted: the next
# mount must not commit any of it, and says so. After a real crash (SIGKILL),
# recovery commits the files the crash left unsaved, leaves out a file that
# does not authenticate (naming it), and says how many it recovered and where
# the list is. After a kill (the file system still mounted), it reads only what
# changed since the mount that crashed; a forged mark makes it read all of live/.
# Must never: run outside its temp folder.
. "$(dirname "$0")/lib.sh"

V=$IT_TMP/vault M=$IT_TMP/mnt
G=(git --git-dir="$V/history.git")
make_vault "$V"
mount_vault "$V" "$M"
head -c 100 /dev/urandom >"$IT_TMP/a"
head -c 5000 /dev/urandom >"$IT_TMP/b.old"
head -c 5000 /dev/urandom >"$IT_TMP/b"
head -c 20000 /dev/urandom >"$IT_TMP/c"
cp "$IT_TMP/a" "$M/a"
cp "$IT_TMP/b.old" "$M/b"
cp "$IT_TMP/c" "$M/c"
recfs flush "$M" >/dev/null || not_ok "flush"
# live/ backing files by size: a < b < c (names are sealed)
live_of() {
	find "$V/live" -maxdepth 1 -type f ! -name '.*' -printf '%s %p\n' | sort -n | sed -n "$1p" | cut -d' ' -f2
}
LA=$(live_of 1) LB=$(live_of 2) LC=$(live_of 3)
cp "$LB" "$IT_TMP/b.old.cipher"
cp "$IT_TMP/b" "$M/b"
umount_vault "$M" "$V"
for f in "$LA" "$LB" "$LC"; do cp -p "$f" "$IT_TMP/$(basename "$f").good"; done
N0=$("${G[@]}" rev-list --count HEAD)
check "the clean vault verifies" recfs verify "$V" --passphrase-file "$V.pass"

# 1. Tampering after a clean close, and the clean mark removed.
rm -f "$LA"
cp "$IT_TMP/b.old.cipher" "$LB"
flip_byte "$LC" 200
rm -f "$V/history.git/recfs/clean"
mkdir -p "$M"
out=$(recfs mount "$V" "$M" --passphrase-file "$V.pass" 2>&1)
rc=$?
if [ $rc -eq 0 ]; then
	not_ok "the writable mount of a tampered vault was refused (it mounted)"
	recfs umount "$M"
	wait_unlocked "$V"
else
	ok "the writable mount of a tampered vault was refused"
fi
assert_match "the mount says live/ was changed while the vault was closed" "tamper|changed while" "$out"
assert_match "the mount names recfs verify" "recfs verify" "$out"
assert_eq "the tampered state was not committed" "$N0" "$("${G[@]}" rev-list --count HEAD)"
out=$(recfs verify "$V" --passphrase-file "$V.pass" 2>&1)
assert_match "verify still reports the tampering" "live/ differs" "$out"
for f in "$LA" "$LB" "$LC"; do cp -p "$IT_TMP/$(basename "$f").good" "$f"; done
check "put back, the vault verifies" recfs verify "$V" --passphrase-file "$V.pass"

# 2. A real crash: files saved just before a SIGKILL, then a byte of c flipped.
mount_vault "$V" "$M"
for i in $(seq 1 20); do echo "saved before the crash $i" >"$M/d$i"; done
pid=$(daemon_pid "$M")
kill -9 "$pid"
wait "$pid" 2>/dev/null
fusermount3 -uz "$M" 2>/dev/null
wait_unlocked "$V"
lag=$((N0 - $("${G[@]}" rev-list --count HEAD)))
flip_byte "$LC" 300
out=$(recfs mount "$V" "$M" --passphrase-file "$V.pass" 2>&1)
rc=$?
echo "# mount after the crash said: $out"
[ $rc -eq 0 ] && ok "the vault mounts after the crash" || not_ok "the vault mounts after the crash (exit $rc: $out)"
n=$(printf '%s' "$out" | sed -n 's/.*recovered \([0-9]*\) file.*/\1/p' | head -n1)
[ -n "$n" ] && [ "$n" -ge 1 ] && [ "$n" -le 20 ] && ok "the mount says it recovered $n files" ||
	not_ok "the mount says how many files it recovered (got: $out)"
assert_match "the mount says where the list is" "recfs log" "$out"
assert_match "the mount names the file that does not authenticate" "/c[:; ].*authenticate" "$out"
for i in $(seq 1 20); do
	grep -qx "saved before the crash $i" "$M/d$i" || not_ok "d$i lost"
done
recfs umount "$M" >/dev/null 2>&1 || fusermount3 -uz "$M"
wait_unlocked "$V"
missing=0
for i in $(seq 1 20); do
	recfs show --vault "$V" --passphrase-file "$V.pass" "/d$i" --rev HEAD >"$IT_TMP/d.out" 2>/dev/null &&
		grep -qx "saved before the crash $i" "$IT_TMP/d.out" || missing=$((missing + 1))
done
assert_eq "every file saved before the crash is in history" 0 "$missing"
recfs show --vault "$V" --passphrase-file "$V.pass" /c --rev HEAD >"$IT_TMP/c.hist" 2>/dev/null
check "history keeps c as it was saved, not the damaged copy" cmp "$IT_TMP/c.hist" "$IT_TMP/c"
out=$(recfs verify "$V" --passphrase-file "$V.pass" 2>&1)
assert_eq "verify reports only the damaged c against history" 1 "$(printf '%s\n' "$out" | grep -c 'live/ differs')"
: "$lag"

# 3. After a kill, recovery reads only what changed since the mount that crashed
# (while the file system holding live/ stays mounted: its page cache holds every
# write): a folder of 200 files that mount left alone is not read again, a file
# of it rewritten is. Without that mount's signed mark (a power cut, a reboot or
# a remount make it name another boot or mount), or with a forged one, live/ is
# read whole, as before.
W=$IT_TMP/big WM=$IT_TMP/bigm
make_vault "$W"
mount_vault "$W" "$WM"
mkdir "$WM/old"
for i in $(seq 1 200); do head -c 32768 /dev/urandom >"$WM/old/f$i"; done
umount_vault "$WM" "$W"
sleep 2.5                            # older than the next mount by more than its slack (2 s)
crash_after_saves() {
	mount_vault "$W" "$WM"
	mkdir -p "$WM/new"
	for i in 1 2 3 4 5; do echo "round $1 file $i" >"$WM/new/g$i"; done
	echo "round $1 rewrote this" >"$WM/old/f7"
	crash_daemon "$WM" "$W"
}
# Mount; got: the bytes the daemon had read once its mount was up (recovery is done by then).
read_by_mount() {
	mount_vault "$W" "$WM"
	got=$(awk '/^rchar/ { print $2 }' "/proc/$(daemon_pid "$WM")/io")
}
in_history() {
	recfs show --vault "$W" --passphrase-file "$W.pass" "$1" --rev HEAD 2>&1
}
crash_after_saves 1
check "a kill leaves the signed mark of the mount that crashed" grep -q '^recfs-since 1 ' "$W/history.git/recfs/since"
read_by_mount
echo "# recovery with the mark read $got bytes (live/ holds 6.5 MB)"
check "with the mark, recovery read under 2 MB" test "$got" -lt 2000000
umount_vault "$WM" "$W"
assert_eq "... and history holds the file of the untouched folder rewritten before the kill" \
	"round 1 rewrote this" "$(in_history /old/f7)"
assert_eq "... and the new files" "round 1 file 5" "$(in_history /new/g5)"
check "... and live/ is what the newest commit holds" recfs verify "$W" --passphrase-file "$W.pass"

crash_after_saves 2
read -r -a mark <"$W/history.git/recfs/since"
mark[4]=$((mark[4] + 100000000000))  # 100 s later: files changed before then would be skipped
echo "${mark[*]}" >"$W/history.git/recfs/since"
read_by_mount
echo "# recovery with a forged mark read $got bytes"
check "a forged mark (a later time) is not believed: live/ is read whole" test "$got" -gt 6000000
umount_vault "$WM" "$W"
assert_eq "... and history holds the rewritten file" "round 2 rewrote this" "$(in_history /old/f7)"
check "... and live/ is what the newest commit holds" recfs verify "$W" --passphrase-file "$W.pass"
finish
