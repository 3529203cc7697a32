#!/bin/bash
# modes: new files and folders get exactly the caller's umask (issue 4, item
# 21), as on ext4: mounted from a shell with umask 022, a process with umask
# 002 that creates with open(..., 0666) gets 0664, and mkdir gives 0775;
# umask 077 gives 0600 and 0700; umask 0 gives 0666 and 0777. A restore keeps
# the file's own mode.
# Must never: run outside its temp folder.
. "$(dirname "$0")/lib.sh"

V=$IT_TMP/vault M=$IT_TMP/mnt
make_vault "$V"
old_umask=$(umask)
umask 022
mount_vault "$V" "$M"
umask "$old_umask"

made() { # UMASK NAME: create a file (0666) and a folder (0777) under that umask
	(umask "$1" && : >"$M/$2.file" && mkdir "$M/$2.dir" && perl -e \
		'use Fcntl; sysopen(my $f, $ARGV[0], O_WRONLY|O_CREAT|O_EXCL, 0666) or die "$!"' "$M/$2.open")
	stat -c %a "$M/$2.file" "$M/$2.dir" "$M/$2.open" | tr '\n' ' '
}
assert_eq "umask 002: files 664, folders 775" "664 775 664 " "$(made 002 a)"
assert_eq "umask 077: files 600, folders 700" "600 700 600 " "$(made 077 b)"
assert_eq "umask 000: files 666, folders 777" "666 777 666 " "$(made 000 c)"
assert_eq "umask 022: files 644, folders 755" "644 755 644 " "$(made 022 d)"

recfs flush "$M" >/dev/null
r=$(recfs log "$M/a.file" --json-lines -n 1 | sed -n 's/.*"rev":"\([^"]*\)".*/\1/p')
echo changed >"$M/a.file"
check "restore a 0664 file" recfs restore "$M/a.file" --rev "$r"
assert_eq "the restored file keeps mode 664" 664 "$(stat -c %a "$M/a.file")"
# A change to the root folder alone is a save of its own, taken from the queue as its last
# entry: the saves queued after it must still be committed (the queue's tail once kept
# pointing at it, and every later save was appended to a save already freed).
chmod 750 "$M"
sleep 0.3
echo after-root >"$M/after-root"
check "recfs flush after a save of the root alone" recfs flush "$M"
assert_match "the save after the root's is in history" "saved|created" \
	"$(recfs log "$M/after-root" -n 1 2>&1)"
chmod 755 "$M"

remount "$V" "$M"
assert_eq "modes survive a remount" "664 775 600 700 666 777" \
	"$(stat -c %a "$M/a.file" "$M/a.dir" "$M/b.file" "$M/b.dir" "$M/c.file" "$M/c.dir" | tr '\n' ' ' | sed 's/ $//')"
umount_vault "$M" "$V"
finish
