#!/bin/bash
# history_ids: a change to an entry the mount has not read yet still carries
# the entry's id, so history follows it. After a remount, a chmod of a file
# never opened, of an empty folder and of a folder never listed shows in a
# view of the newest commit; a folder chmod'ed right after its mkdir keeps
# its setgid bit there; and a file renamed before it was opened keeps its
# earlier versions in `recfs log NEW`. A file, a folder and a link under a
# folder that was renamed or moved above them keep their history in `log` by
# the new path (through the mount and --vault alike), and restore from it. A
# commit with a deletion at a path and a save of the file once there restores
# the save.
# Must never: run outside its temp folder.
. "$(dirname "$0")/lib.sh"

V=$IT_TMP/vault M=$IT_TMP/mnt VIEW=$IT_TMP/view
make_vault "$V"
mount_vault "$V" "$M"
mkdir -p "$M/a/b" "$M/e" "$M/empty"
echo one >"$M/e/f"
echo two >"$M/e/f"
echo kept >"$M/a/b/doc"
chmod 644 "$M/e/f"
recfs flush "$M" >/dev/null
remount "$V" "$M"

# Nothing below opens e/f or lists a, a/b or empty before the change.
chmod 600 "$M/e/f"
chmod 750 "$M/a/b"
chmod 711 "$M/a"
chmod 700 "$M/empty"
mkdir "$M/g"
chmod 2775 "$M/g"
check "flush" recfs flush "$M"
mount_vault "$V" "$VIEW" --at HEAD
assert_eq "the newest commit has the modes set after the remount" "600 711 750 700 2775" \
	"$(stat -c %a "$VIEW/e/f" "$VIEW/a" "$VIEW/a/b" "$VIEW/empty" "$VIEW/g" | tr '\n' ' ' | sed 's/ $//')"
assert_eq "... and the file's content" two "$(cat "$VIEW/e/f" 2>&1)"
check "umount of the view" recfs umount "$VIEW"
wait "$(daemon_pid "$VIEW")"
check_daemon_log "$VIEW"

remount "$V" "$M"
mv "$M/e/f" "$M/e/g"
mv "$M/a/b" "$M/a/c"
check "flush after the renames" recfs flush "$M"
log=$(recfs log "$M/e/g" 2>&1)
assert_match "log of the renamed file shows the rename" "renamed" "$log"
check "... and the versions from before it" test "$(grep -c saved <<<"$log")" -ge 1
assert_match "... back to its creation" "created" "$log"
log=$(recfs log "$M/a/c" 2>&1)
assert_match "log of the renamed folder goes back to its creation" "created" "$log"
assert_eq "the file in the renamed folder reads" kept "$(cat "$M/a/c/doc")"

# Renamed and moved above: the versions were saved under the old paths.
mkdir -p "$M/case/notes" "$M/other"
echo v1 >"$M/case/notes/n"
echo v2 >"$M/case/notes/n"
ln -s n "$M/case/notes/link"
check "flush" recfs flush "$M"
remount "$V" "$M"
mv "$M/case" "$M/closed"
check "flush after the folder's rename" recfs flush "$M"
log=$(recfs log "$M/closed/notes/n" 2>&1)
assert_eq "log of a file under a renamed folder lists its versions at the old path" 2 \
	"$(grep -c 'saved .*/case/notes/n$' <<<"$log")"
assert_match "... back to its creation" "created .*/case/notes/n" "$log"
assert_match "log of the folder inside it" "created .*/case/notes$" "$(recfs log "$M/closed/notes" 2>&1)"
assert_match "log of a link inside it" "created .*/case/notes/link" "$(recfs log "$M/closed/notes/link" 2>&1)"
mv "$M/closed/notes" "$M/other/notes"
check "flush after a move to another folder" recfs flush "$M"
log=$(recfs log "$M/other/notes/n" 2>&1)
assert_eq "log of the file after its folder moved to another folder" 2 \
	"$(grep -c 'saved .*/case/notes/n$' <<<"$log")"
rev=$(grep -m1 saved <<<"$log" | cut -c1-12)
rev_old=$(grep saved <<<"$log" | tail -n1 | cut -c1-12)
check "restore by the new path from a version saved under the old one" \
	recfs restore "$M/other/notes/n" --rev "$rev_old"
assert_eq "... gives that version" v1 "$(cat "$M/other/notes/n")"
check "flush" recfs flush "$M"
log=$(recfs log "$M/other/notes/n" 2>&1)
umount_vault "$M" "$V"
assert_eq "log --vault of the new path is the mount's" "$log" \
	"$(recfs log --vault "$V" --passphrase-file "$V.pass" /other/notes/n 2>&1)"
check "restore --vault by the new path from a version saved under the old one" \
	recfs restore --vault "$V" --passphrase-file "$V.pass" /other/notes/n --rev "$rev"
check_fails "... of a name never there fails" \
	recfs restore --vault "$V" --passphrase-file "$V.pass" /other/notes/none --rev "$rev"
mount_vault "$V" "$M"
assert_eq "... gives that version" v2 "$(cat "$M/other/notes/n")"
umount_vault "$M" "$V"
check_fails "log of a name that never was there still fails" \
	recfs log --vault "$V" --passphrase-file "$V.pass" /other/notes/none
fsck_clean "$V" "after the changes"

# One commit holds the deletion of the file at a path and a save of the file that stood there
# before it (the committer is held at vault_sync so both wait for the same commit). recfs log
# lists both at that commit; restore of the path at it gives the save, where it said "no such
# file in that version" when the log put the deletion first.
RECFS_FAULT_DELAY=vault_sync:1500 mount_vault "$V" "$M"
mkdir "$M/same" && echo X1 >"$M/same/a" && check "flush" recfs flush "$M"
mv "$M/same/a" "$M/same/b" && echo Y1 >"$M/same/a" && check "flush" recfs flush "$M"
before=$(fault_delays "$M" vault_sync)
echo held >"$M/held"
wait_fault_delay "$M" vault_sync "$before"
echo X2 >>"$M/same/b" && rm "$M/same/a" && check "flush" recfs flush "$M"
log=$(recfs log "$M/same/a" 2>&1)
rev=$(grep -m1 'deleted .*/same/a$' <<<"$log" | cut -c1-12)
assert_match "log of the path lists the save of the file once there at the deletion's commit" \
	"^$rev .*saved .*/same/b$" "$log"
check "restore of the path at that commit" recfs restore "$M/same/a" --rev "$rev"
assert_eq "... gives the file that stood there, as saved then" "$(printf 'X1\nX2')" "$(cat "$M/same/a")"
umount_vault "$M" "$V"
finish
