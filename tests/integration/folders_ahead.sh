#!/bin/bash
# folders_ahead: mkdir takes a folder made ahead (VAULT/spare/, fs/spares.h), its key entry
# and .dirid already durable, so its request waits on no sync: the new folder's backing
# folder is one of the spares, and (with strace) the thread that moved it in made no fsync or
# fdatasync, and read nothing for the folder's version (history builds it from the .dirid it
# knows). The new folder's times are now, and its mode, setgid bit and group are as a
# folder made with mkdirat. Spares survive an unmount and a kill -9 and are used after; one
# cut short while made (or not empty, or whose key does not open) is removed at mount, one
# holding more than its .dirid is kept and never handed out; a read-only mount touches none.
# A power cut after a mkdir from the pool and an fsync of a file in it: the file reads back.
# Must never: run outside its temp folder, or cut any file system but its own image.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/powercut_lib.sh"

V=$IT_TMP/vault M=$IT_TMP/mnt
make_vault "$V" "$PASSFILE"

spares() {       # spares VAULT: the ready spares' names, one a line
	ls "$1/spare" 2>/dev/null | grep -E '^r[0-9a-f]{16}$'
}
wait_spares() {  # wait_spares VAULT: until the maker rests (more than 16 ready, none being made)
	local i
	for i in $(seq 1 200); do
		[ "$(spares "$1" | wc -l)" -gt 16 ] && ! ls "$1/spare" | grep -q '^t' && return 0
		sleep 0.1
	done
	not_ok "the pool of $1 was never filled: $(spares "$1" | wc -l) spares"
}
spare_inodes() { # spare_inodes VAULT: the ready spares' inode numbers, one a line
	local s
	for s in $(spares "$1"); do stat -c %i "$1/spare/$s"; done
}
live_dirs() {     # live_dirs VAULT: inode numbers of the folders at the top of live/
	find "$1/live" -mindepth 1 -maxdepth 1 -type d -printf '%i\n' | sort
}
mark() {          # mark VAULT: before a mkdir, the spares' inodes and live/'s folders
	inodes=$(spare_inodes "$1")
	live_dirs "$1" >"$IT_TMP/live.before"
}
was_spare() {    # was_spare DESC VAULT: the one new folder in live/ since mark was a spare
	local ino
	ino=$(live_dirs "$2" | comm -13 "$IT_TMP/live.before" -)
	if [ -n "$ino" ] && printf '%s\n' "$inodes" | grep -qx "$ino"; then
		ok "$1"
	else
		not_ok "$1 (new backing folder inode '$ino' not among the spares)"
	fi
}

mount_vault "$V" "$M"
wait_spares "$V"
assert_eq "the spares are outside live/" "" "$(find "$V/live" -name 'r*' -path '*spare*')"
sleep 1.1                    # the spares' times are now in the past
mark "$V"
t0=$(date +%s)
PID=$(daemon_pid "$M")
if command -v strace >/dev/null; then
	strace -f -e trace=renameat2,fsync,fdatasync,getdents64,listxattr -p "$PID" -o "$IT_TMP/strace.out" \
		2>"$IT_TMP/strace.err" &
	SPID=$!
	for i in $(seq 1 100); do
		grep -q attached "$IT_TMP/strace.err" && break
		sleep 0.1
	done
fi
mkdir -m 0750 "$M/d1"
if [ -n "${SPID:-}" ]; then
	sleep 0.3
	kill -INT "$SPID"
	wait "$SPID" 2>/dev/null
	tid=$(grep -E 'renameat2\([0-9]+, "r[0-9a-f]{16}", [0-9]+, "[^"]+", RENAME_NOREPLACE' \
		"$IT_TMP/strace.out" | awk '{print $1}' | head -1)
	if [ -z "$tid" ]; then
		not_ok "mkdir moved no spare into place: $(head -c 600 "$IT_TMP/strace.out" | tr '\n' '|')"
	else
		assert_eq "the thread that served mkdir made no fsync or fdatasync" "" \
			"$(grep -E "^$tid +(fsync|fdatasync)\(" "$IT_TMP/strace.out")"
		assert_eq "... and read no folder for its version (no getdents64, no listxattr)" "" \
			"$(grep -E "^$tid +(getdents64|listxattr)\(" "$IT_TMP/strace.out")"
	fi
else
	ok "# skip: no strace here, so the syncs of mkdir are not traced"
fi
was_spare "mkdir's backing folder is a spare" "$V"
assert_eq "mode 0750 as asked" 750 "$(stat -c %a "$M/d1")"
assert_eq "owned by the caller" "0:0" "$(stat -c %u:%g "$M/d1")"
for f in X Y Z; do
	t=$(stat -c "%$f" "$M/d1")
	[ "$t" -ge "$t0" ] && ok "the new folder's %$f time is now" ||
		not_ok "the new folder's %$f time $t is before the mkdir ($t0)"
done
(umask 027 && mkdir "$M/d2")
assert_eq "umask 027 gives 750" 750 "$(stat -c %a "$M/d2")"
mkdir "$M/g"
chgrp 1 "$M/g" && chmod 2775 "$M/g"
mkdir "$M/g/in"
assert_eq "a folder made in a setgid folder is setgid, of its group" "2755 1" \
	"$(stat -c '%a %g' "$M/g/in")"
long=$(printf 'x%.0s' $(seq 1 200))
mkdir "$M/d1/$long"
echo inside >"$M/d1/$long/f"
assert_eq "a long-named folder from the pool holds a file" inside "$(cat "$M/d1/$long/f")"
for i in $(seq 1 60); do mkdir "$M/many$i" || break; done
assert_eq "60 folders more than the pool holds" 60 "$(ls -d "$M"/many* | wc -l)"
echo "a file" >"$M/many60/f"
check "flush" recfs flush "$M"
assert_match "history has the folder" "created" "$(recfs log "$M/d1" -n 1 2>&1)"
mount_vault "$V" "$IT_TMP/view" --at HEAD
assert_eq "the newest commit holds the new folders" "$(tree_meta "$M" | awk '{print $1, $2}')" \
	"$(tree_meta "$IT_TMP/view" | awk '{print $1, $2}')"
assert_eq "... with their modes" "750 2755" "$(stat -c %a "$IT_TMP/view/d1" "$IT_TMP/view/g/in" | tr '\n' ' ' | sed 's/ $//')"
assert_eq "... and the file in the long-named one" inside "$(cat "$IT_TMP/view/d1/$long/f" 2>&1)"
check "umount of the view" recfs umount "$IT_TMP/view"
wait "$(daemon_pid "$IT_TMP/view")"
check_daemon_log "$IT_TMP/view"
wait_spares "$V"
before=$(spares "$V" | sort)
umount_vault "$M" "$V"
assert_eq "the spares stay over an unmount" "$before" "$(spares "$V" | sort)"
fsck_clean "$V" "with spares in the vault"
check "recfs verify with spares in the vault" recfs verify "$V" --passphrase-file "$PASSFILE"

# Kept and used at the next mount, and after a kill -9.
mark "$V"
mount_vault "$V" "$M"
mkdir "$M/after-umount"
was_spare "a spare of the last mount is used" "$V"
crash_daemon "$M" "$V"
mark "$V"
[ -n "$inodes" ] && ok "spares stay after a kill -9" || not_ok "no spare left after a kill -9"
killed=$(spares "$V" | sort)
mount_vault "$V" "$M"
# The mkdir before the kill may have woken the maker: the mount then makes more, and mkdir
# takes the newest. So the pool is let rest, the old ones must all be there, then one is used.
wait_spares "$V"
assert_eq "the spares of the killed mount are all taken back" "" \
	"$(comm -23 <(printf '%s\n' "$killed") <(spares "$V" | sort))"
mark "$V"
mkdir "$M/after-kill"
was_spare "a spare is used after the kill" "$V"
assert_eq "the folders made before the kill are there" "after-kill after-umount" \
	"$(ls -d "$M"/after-* | xargs -n1 basename | tr '\n' ' ' | sed 's/ $//')"
umount_vault "$M" "$V"

# Spares cut short or damaged are removed; one holding an entry is kept, never handed out.
S=$V/spare
mkdir "$S/t0123456789abcdef" "$S/t00000000000000ff" "$S/r00000000000000aa" "$S/r00000000000000bb"
head -c 16 /dev/urandom >"$S/t0123456789abcdef/.dirid"
head -c 16 /dev/urandom >"$S/r00000000000000aa/.dirid"    # a key that does not open
head -c 16 /dev/urandom >"$S/r00000000000000bb/.dirid"
echo held >"$S/r00000000000000bb/entry"
ro_before=$(ls -A "$S" | sort)
mount_vault "$V" "$M" -o ro
assert_eq "a read-only mount leaves the spares alone" "$ro_before" "$(ls -A "$S" | sort)"
umount_vault "$M" "$V"
mount_vault "$V" "$M"
for n in t0123456789abcdef t00000000000000ff r00000000000000aa; do
	[ -e "$S/$n" ] && not_ok "spare $n (cut short or damaged) is still there" ||
		ok "spare $n (cut short or damaged) was removed"
done
assert_eq "a spare holding an entry is kept" held "$(cat "$S/r00000000000000bb/entry" 2>&1)"
assert_match "the daemon's log names it" "spare/r00000000000000bb kept" "$(cat "$M.daemon.log")"
for i in $(seq 1 40); do mkdir "$M/more$i"; done
assert_eq "it was never handed out" held "$(cat "$S/r00000000000000bb/entry" 2>&1)"
assert_eq "no folder holds its entry" "" "$(ls "$M"/more* | grep -v ':$' | grep -v '^$')"
umount_vault "$M" "$V"
fsck_clean "$V" "after the spares were cleaned"

# A power cut: a folder from the pool, a file in it fsync'd, then the cut.
pc_setup 256
pc_mount
wait_spares "$PC_V"
mark "$PC_V"
mkdir "$PC_M/cut"
was_spare "the folder before the cut is a spare" "$PC_V"
pc_write cut/doc.bin 20000
pc_cut
pc_mount
pc_check_promises "a file in a folder from the pool, fsync'd, then a power cut"
mark "$PC_V"
mkdir "$PC_M/after-cut"
was_spare "a spare is used after the cut" "$PC_V"
umount_vault "$PC_M" "$PC_V"
pc_verify_clean "a folder from the pool and a power cut"
finish
