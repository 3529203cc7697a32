#!/bin/bash
# history_ids: a change to an entry the mount has not read yet still carries
# the entry's id, so history follows it. After a remount, a chmod of a file
# never opened, of an empty folder and of a folder never listed shows in a
# view of the newest commit; a folder chmod'ed right after its mkdir keeps
# its setgid bit there; and a file renamed before it was opened keeps its
# earlier versions in `recfs log NEW`.
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
umount_vault "$M" "$V"
fsck_clean "$V" "after the changes"
finish
