#!/bin/bash
# logtags: every writer of the event index leaves index.tags caught up and
# durable, so the first `recfs log PATH` of a mount reads its path's events,
# never the whole index. Counted with the bytes the daemon reads (rchar in
# /proc/PID/io) during one `log`, against the index's size: after the vault
# was filled and cleanly unmounted, after an offline writer (`restore
# --vault`), and after a kill -9 that followed a commit's sync (whose mount
# reads the index only past the table's end). `log --vault`
# (which loads the index) leaves the table alone; `log MNT -n BIG` (the whole vault) and the
# path's log answer as `log --vault` does, byte for byte.
# Must never: run outside its temp folder.
. "$(dirname "$0")/lib.sh"

V=$IT_TMP/vault M=$IT_TMP/mnt
PF=(--passphrase-file "$V.pass")
TAGS=$V/history.git/recfs/index.tags
make_vault "$V"
mount_vault "$V" "$M"
mkdir "$M/case" "$M/bulk"
echo one >"$M/case/doc"
for i in $(seq 1 600); do : >"$M/bulk/f$i"; done
recfs flush "$M" >/dev/null
umount_vault "$M" "$V"
ISIZE=$(stat -c %s "$V/history.git/recfs/index")
echo "# the index holds $ISIZE bytes"
tags_state() { dd if="$TAGS" bs=1 skip=40 count=1 status=none; }
assert_eq "the daemon's clean unmount leaves index.tags caught up and durable" "D" "$(tags_state)"

# read_by_log PATH: got = the bytes the daemon read while it answered one log of PATH.
read_by_log() {
	local io=/proc/$(daemon_pid "$M")/io before
	before=$(awk '/^rchar/ { print $2 }' "$io")
	out=$(recfs log "$M$1" 2>&1)
	got=$(( $(awk '/^rchar/ { print $2 }' "$io") - before ))
}
mount_vault "$V" "$M"
read_by_log /case/doc
echo "# the first log after the mount read $got bytes"
check "the first log PATH after a clean mount reads under a tenth of the index" test "$got" -lt $((ISIZE / 10))
assert_match "... and finds the file" "created" "$out"
umount_vault "$M" "$V"

# An offline writer: restore --vault commits and appends to the index.
rev=$(recfs log --vault "$V" "${PF[@]}" --json-lines /case/doc | head -n 1 | sed -E 's/.*"rev":"([0-9a-f]+)".*/\1/')
check "offline restore --vault" recfs restore --vault "$V" "${PF[@]}" /case/doc --rev "$rev"
check "log --vault leaves index.tags in place" test -f "$TAGS"
assert_eq "the offline writer leaves it durable" "D" "$(tags_state)"
mount_vault "$V" "$M"
read_by_log /case/doc
echo "# the first log after the offline restore read $got bytes"
check "the first log PATH after an offline writer reads under a tenth of the index" test "$got" -lt $((ISIZE / 10))
assert_match "... and shows the restore" "restored" "$out"
assert_eq "log PATH through the daemon is log --vault's, byte for byte" \
	"$(recfs log --vault "$V" "${PF[@]}" /case/doc 2>&1)" "$out"

# crash_and_mount STATE WHAT: kill the daemon, check index.tags says STATE,
# mount again; read = the bytes that mount read (recovery included).
crash_and_mount() {
	crash_daemon "$M" "$V"
	assert_eq "a kill after $2 leaves index.tags '$1'" "$1" "$(tags_state)"
	mount_vault "$V" "$M"
	read=$(awk '/^rchar/ { print $2 }' "/proc/$(daemon_pid "$M")/io")
	echo "# the mount after that kill read $read bytes"
}
# A kill after a commit's sync: the table the sync made durable is believed.
echo three >"$M/case/doc"
recfs flush "$M" >/dev/null
echo four >"$M/case/doc"
recfs flush "$M" >/dev/null
crash_and_mount D "a commit's sync"
read_d=$read
read_by_log /case/doc
echo "# the first log after the kill read $got bytes"
check "the first log PATH after the kill reads under a tenth of the index" test "$got" -lt $((ISIZE / 10))
assert_match "... and shows the last save" "saved" "$out"
# The same kill with the table being changed ('V'): that mount reads the whole index.
echo five >"$M/case/doc"
recfs log "$M/case/doc" >/dev/null
crash_and_mount V "a lookup that changed the table"
check "the mount after a kill with a durable table reads the index from where the table ends" \
	test $((read_d + ISIZE / 2)) -lt "$read"
assert_match "... and the first log rebuilds the table and answers" "saved" "$(recfs log "$M/case/doc" 2>&1)"
all=$(recfs log -n 100000 "$M" 2>&1)
umount_vault "$M" "$V"
assert_eq "log MNT -n 100000 (all) from index.tags is log --vault's, byte for byte" \
	"$(recfs log --vault "$V" "${PF[@]}" -n 100000 / 2>&1)" "$all"
assert_eq "... with every event of the vault" "$(recfs log --vault "$V" "${PF[@]}" -n 100000 --json-lines / | wc -l)" \
	"$(printf '%s\n' "$all" | grep -c .)"


# A file saved 300 times, then renamed: `log -n 5` of either name is the newest
# 5 of its full log, through the daemon and through the index (--vault), and
# reads the file's newest events only, not an entry per version: it reads less
# than a file with 5 versions renamed the same way plus 24 bytes (one entry of
# index.tags) per extra version.
mount_vault "$V" "$M"
for i in $(seq 1 300); do echo "v$i" >"$M/case/many"; done
for i in 1 2 3; do echo "v$i" >"$M/case/few"; done
mv "$M/case/many" "$M/case/moved"
mv "$M/case/few" "$M/case/fewmoved"
for i in 1 2; do echo "w$i" >"$M/case/moved"; echo "w$i" >"$M/case/fewmoved"; done
echo new >"$M/case/many"
recfs flush "$M" >/dev/null
for p in /case/many /case/moved; do
	full=$(recfs log "$M$p" 2>&1)
	assert_eq "log -n 5 $p through the daemon is the newest 5 of its full log" \
		"$(printf '%s\n' "$full" | head -n 5)" "$(recfs log -n 5 "$M$p" 2>&1)"
	eval "full_${p##*/}=\$full"
done
assert_eq "... and the full log of the new name holds all 300 saves under the old name" 300 \
	"$(printf '%s\n' "$full_moved" | grep -cE 'saved +[0-9]+ +/case/many$')"
read_n5() {
	local io=/proc/$(daemon_pid "$M")/io before
	recfs log -n 5 "$M$1" >/dev/null
	before=$(awk '/^rchar/ { print $2 }' "$io")
	recfs log -n 5 "$M$1" >/dev/null
	got=$(( $(awk '/^rchar/ { print $2 }' "$io") - before ))
}
read_n5 /case/fewmoved
few=$got
read_n5 /case/moved
echo "# log -n 5 read $got bytes for the file of 305 events, $few for the one of 8"
check "log -n 5 of a file saved 300 times reads under one entry per version more than one of 8 events" \
	test "$got" -lt $((few + 300 * 24))
umount_vault "$M" "$V"
for p in /case/many /case/moved; do
	eval "full=\$full_${p##*/}"
	assert_eq "log --vault $p (from the index) is the daemon's" "$full" \
		"$(recfs log --vault "$V" "${PF[@]}" "$p" 2>&1)"
	assert_eq "log --vault -n 5 $p is the newest 5 of it" "$(printf '%s\n' "$full" | head -n 5)" \
		"$(recfs log --vault "$V" "${PF[@]}" -n 5 "$p" 2>&1)"
done

finish
