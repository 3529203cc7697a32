#!/bin/bash
# idle: mount -o idle=DURATION (issue 13, must hold 2). A mount in use stays up; one left
# alone for DURATION unmounts itself, with every save committed (recfs log shows the last one
# after), and its daemon exits cleanly; a file held open keeps it mounted until it is closed;
# a DURATION that is not one is refused before anything is mounted; recfs umount commits
# every save before it returns.
# Must never: run outside its temp folder.
. "$(dirname "$0")/lib.sh"

V=$IT_TMP/vault M=$IT_TMP/mnt
make_vault "$V"
mkdir -p "$M"

for bad in idle= idle=0 idle=abc idle=5x idle=2sec idle=-3s idle=999999d; do
	check_fails "-o $bad is refused" recfs mount "$V" "$M" --passphrase-file "$V.pass" -o "$bad"
done
assert_match "the refusal says what a DURATION is" "30s, 15m, 2h" "$(cat "$IT_TMP/.check.out")"
check "nothing was mounted by a bad DURATION" not_mounted "$M"

# Use every 0.5 s for 4 s: twice the idle time, and it stays mounted.
mount_vault "$V" "$M" -o idle=2s
pid=$(daemon_pid "$M")
for i in 1 2 3 4 5 6 7 8; do
	echo "note $i" >"$M/note$i" || not_ok "write note$i"
	sleep 0.5
done
check "a mount in use stays mounted past its idle time" is_mounted "$M"

# A file held open is use: gocryptfs's -idle does not unmount while files are open either.
exec 3<"$M/note1"
sleep 3.5
check "an open file keeps an idle mount up" is_mounted "$M"
assert_match "the daemon says it waits for the open file" "is busy" "$(cat "$M.daemon.log")"
exec 3<&-

echo "the last save" >"$M/last"
for i in $(seq 1 60); do
	is_mounted "$M" || break
	sleep 0.2
done
check "left alone, it unmounts itself" not_mounted "$M"
wait "$pid"
assert_eq "the daemon exited cleanly" 0 "$?"
eval "IT_PID_$(mount_key "$M")="
check "the daemon is gone and the vault lock free" wait_unlocked "$V"
assert_match "the daemon says why it unmounted" "unmounted .* after 2 s without use" "$(cat "$M.daemon.log")"
recfs log --vault "$V" --passphrase-file "$V.pass" >"$IT_TMP/log" 2>&1
assert_match "every save was committed before the idle unmount" "saved .* /last" "$(cat "$IT_TMP/log")"
assert_eq "each note was committed" 8 "$(grep -c 'created .* /note' "$IT_TMP/log")"
check_daemon_log "$M"

# On request: recfs umount right after a write commits it first.
mount_vault "$V" "$M"
echo "written just before" >"$M/quick"
umount_vault "$M" "$V"
recfs log --vault "$V" --passphrase-file "$V.pass" >"$IT_TMP/log" 2>&1
assert_match "recfs umount committed the save just made" "/quick" "$(cat "$IT_TMP/log")"
finish
