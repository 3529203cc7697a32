#!/bin/bash
# save_order: a save that has taken its paths (held there for DELAY ms by the fault point
# save_paths: RECFS_FAULT_DELAY, a build with -Dfault_points=true) and a rename of the
# folder above it, or of the file itself, or the file's removal, reach history in one
# order: the rename or the removal waits for the save. The newest commit (`mount --at
# HEAD`) then holds the file once, where live/ has it, and `recfs verify` finds live/ as
# the newest commit has it. Before the change the save came after the rename with the old
# path, or after the removal: the view held a ghost at the old path and verify reported
# "missing from live/".
# Must never: run outside its temp folder.
. "$(dirname "$0")/lib.sh"

DELAY=1500
V=$IT_TMP/vault M=$IT_TMP/mnt VIEW=$IT_TMP/view
make_vault "$V"
RECFS_FAULT_DELAY=save_paths:$DELAY mount_vault "$V" "$M"
delays() { fault_delays "$M" save_paths; }

mkdir -p "$M/top/old" "$M/files"
check "flush" recfs flush "$M"
wait_delayed() { wait_fault_delay "$M" save_paths "$1"; }

# held_save_then_mv TEXT FILE FROM TO WHAT: TEXT written to FILE in the background; once its
# save waits at the point, FROM is renamed to TO.
held_save_then_mv() {
	local before writer
	before=$(delays)
	echo "$1" >"$2" &
	writer=$!
	wait_delayed "$before"
	check "$5 is renamed while the save waits at the point" mv "$3" "$4"
	wait "$writer"
}
held_save_then_mv "saved while its folder moves" "$M/top/old/f" "$M/top/old" "$M/top/new" "the folder"
held_save_then_mv "saved while it moves" "$M/files/a" "$M/files/a" "$M/files/b" "the file"
# And an unlink of the file being saved: the removal waits for the save, so history has the
# version and then the removal. Before the change the save came after the removal, at the
# removed name: the newest commit held a file live/ did not (and a file made again at that
# name was recorded over it, its chunks mixed with the removed file's).
before=$(delays)
echo "saved while it is removed" >"$M/files/gone" &
writer=$!
wait_delayed "$before"
check "the file is removed while its save waits at the point" rm "$M/files/gone"
wait "$writer"
check "flush" recfs flush "$M"
log=$(recfs log "$M/files/gone" 2>&1)
assert_match "its log ends (newest first) with the removal" "deleted" "$(head -n 1 <<<"$log")"
assert_match "... after its version" "saved +26 +/files/gone" "$log"

mount_vault "$V" "$VIEW" --at HEAD
assert_eq "the newest commit holds what live/ holds, each file once" \
	"$(cd "$M" && find . -mindepth 1 | sort)" "$(cd "$VIEW" && find . -mindepth 1 | sort)"
assert_eq "... with its content" "saved while its folder moves" "$(cat "$VIEW/top/new/f" 2>&1)"
check "umount of the view" recfs umount "$VIEW"
wait "$(daemon_pid "$VIEW")"
check_daemon_log "$VIEW"
umount_vault "$M" "$V"
out=$(recfs verify "$V" --passphrase-file "$V.pass" 2>&1)
assert_eq "recfs verify finds no problem" 0 $?
assert_match "... and says so" " 0 problems" "$out"
finish
