#!/bin/bash
# format3: vault format 3 (docs/FORMAT.md), folder keys. A new vault is format 3;
# every folder's id is a keys/ entry of this copy (slot || copy id), and the
# names, long names, link targets and xattrs inside a folder are sealed under
# that folder's key: the same clear name seals differently in two folders, and
# with a folder's key zeroed by hand (what a disposal's shred does) nothing
# below it opens while every other name does, and fsck says so (corrupt, or
# "destroyed" once VAULT/disposed/N lists the id). Then a vault of format 2,
# made with RECFS_TEST_FORMAT=2 (for tests only: 'recfs init' has no such
# option), mounts, saves and reads as before.
# Must never: run outside its temp folder.
. "$(dirname "$0")/lib.sh"

V=$IT_TMP/vault M=$IT_TMP/mnt P=$IT_TMP/vault.pass
make_vault "$V"
assert_eq "recfs init makes vault format 3" "recfs-vault 3" "$(head -n1 "$V/recfs.conf")"
COPY=$(od -An -tx1 -N8 "$V/keys/copy" | tr -d ' \n')
check "keys/copy holds this copy's 8-byte id" test "${#COPY}" = 16
check "this copy's slot files are in keys/c<copy id>/" test -d "$V/keys/c$COPY"

# The backing folder (in live/) of a folder of the mount: FUSE shows live/'s inode numbers.
backing_of() {
	find "$V/live" -inum "$(stat -c %i "$1")" -print -quit
}
# The 16-byte id in a backing folder's .dirid, as hex.
dirid_hex() {
	od -An -tx1 -N16 "$1/.dirid" | tr -d ' \n'
}
# Zero the keys/ entry of the backing folder's id as rfs_keystore_destroy does
# (FORMAT.md 4): slot = its first 8 bytes (u64 le), the copy id its last 8.
zero_key() {
	local slot copy
	slot=$(od -An -tu8 -N8 "$1/.dirid" | tr -d ' ')
	copy=$(od -An -tx1 -j8 -N8 "$1/.dirid" | tr -d ' \n')
	head -c 72 /dev/zero | dd of="$V/keys/c$copy/s$(printf '%08x' $((slot / 65536)))" bs=1 \
		seek=$(( (slot % 65536) * 72 )) conv=notrunc status=none
}

mount_vault "$V" "$M"
UTF=$(printf 'Zo\xc3\xab \xe2\x80\x93 \xe6\x97\xa5\xe6\x9c\xac')
LONG=$(printf 'long-name-%.0s' $(seq 1 20))     # 200 bytes: stored hashed, with a .n side file
fill() {
	mkdir -p "$M/cases/Case 17/$UTF/deeper" "$M/cases/Case 18" "$M/other" || return 1
	printf 'same name, case 17\n' >"$M/cases/Case 17/notes.txt"
	printf 'same name, case 18\n' >"$M/cases/Case 18/notes.txt"
	printf 'long\n' >"$M/cases/Case 17/$UTF/$LONG"
	printf 'deep\n' >"$M/cases/Case 17/$UTF/deeper/$UTF.odt"
	ln -s "../Case 18/notes.txt" "$M/cases/Case 17/link to 18"
	setfattr -n user.xdg.origin.url -v "https://example.org/17" "$M/cases/Case 17/notes.txt" &&
		setfattr -n user.folder-note -v "case folder" "$M/cases/Case 17" &&
		setfattr -n "user.$UTF" -v "unicode" "$M/cases/Case 17/$UTF/deeper/$UTF.odt"
	printf 'kept\n' >"$M/other/kept.txt"
}
check "make nested folders with long, unicode names, a symlink and xattrs" fill

B17=$(backing_of "$M/cases/Case 17") B18=$(backing_of "$M/cases/Case 18") BC=$(backing_of "$M/cases")
ID17=$(dirid_hex "$B17")
check "a folder's id is a keys/ entry of this copy (its second half is the copy id)" \
	test "${ID17:16:16}" = "$COPY"
check "so is the root's" test "$(dirid_hex "$V/live" | cut -c17-32)" = "$COPY"
N17=$(basename "$(find "$B17" -inum "$(stat -c %i "$M/cases/Case 17/notes.txt")" -print -quit)")
N18=$(basename "$(find "$B18" -inum "$(stat -c %i "$M/cases/Case 18/notes.txt")" -print -quit)")
check "notes.txt is sealed in both folders" test -n "$N17" -a -n "$N18"
check "the same clear name is sealed differently in two folders" test "$N17" != "$N18"
check "the long name has its side file" bash -c "ls -a '$(backing_of "$M/cases/Case 17/$UTF")' | grep -q '^\.L.*\.n$'"
assert_eq "the link reads through the mount" "../Case 18/notes.txt" "$(readlink "$M/cases/Case 17/link to 18")"
assert_eq "a file's xattr reads" "https://example.org/17" \
	"$(getfattr --absolute-names --only-values -n user.xdg.origin.url "$M/cases/Case 17/notes.txt" 2>&1)"

# A file moved to another folder keeps its xattrs (sealed again for that folder).
check "mv a file with an xattr to another folder" mv "$M/cases/Case 17/notes.txt" "$M/other/moved.txt"
assert_eq "its xattr reads in the new folder" "https://example.org/17" \
	"$(getfattr --absolute-names --only-values -n user.xdg.origin.url "$M/other/moved.txt" 2>&1)"
check "mv it back" mv "$M/other/moved.txt" "$M/cases/Case 17/notes.txt"
assert_eq "its xattr reads where it was" "https://example.org/17" \
	"$(getfattr --absolute-names --only-values -n user.xdg.origin.url "$M/cases/Case 17/notes.txt" 2>&1)"
# A symlink's target is sealed under its folder: a move between folders is EXDEV, and mv copies it.
check "mv a symlink to another folder (mv copies it on EXDEV)" mv "$M/cases/Case 17/link to 18" "$M/other/link"
assert_eq "the moved link's target reads" "../Case 18/notes.txt" "$(readlink "$M/other/link")"
check "mv it back" mv "$M/other/link" "$M/cases/Case 17/link to 18"
umount_vault "$M" "$V"

out=$(recfs fsck "$V" --passphrase-file "$P" 2>&1)
check "fsck passes the format-3 vault" test $? -eq 0
assert_match "fsck checked the files" "0 damaged" "$out"

# ---- shred Case 17's folder key by hand ----
zero_key "$B17"
mount_vault "$V" "$M"
check_fails "the names in Case 17 no longer open (ls fails)" ls "$M/cases/Case 17"
check_fails "a path below it no longer opens" cat "$M/cases/Case 17/$UTF/deeper/$UTF.odt"
check_fails "its own xattrs no longer open" getfattr -n user.folder-note "$M/cases/Case 17"
check "the record's own name stays (it is sealed in cases/)" bash -c "ls '$M/cases' | grep -qx 'Case 17'"
assert_eq "a sibling's file reads" "same name, case 18" "$(cat "$M/cases/Case 18/notes.txt")"
assert_eq "another folder's file reads" "kept" "$(cat "$M/other/kept.txt")"
check "every other name lists" bash -c "ls -R '$M/other' '$M/cases/Case 18' >/dev/null"
umount_vault "$M" "$V"

out=$(recfs fsck "$V" --passphrase-file "$P" 2>&1); rc=$?
assert_eq "fsck finds damage when no disposal lists the folder (exit 1)" 1 "$rc"
assert_match "fsck reports the folder as corrupt" "corrupt: /cases/Case 17: folder key missing" "$out"
mkdir -p "$V/disposed"
printf '%s' "$ID17" | xxd -r -p >"$V/disposed/1"
out=$(recfs fsck "$V" --passphrase-file "$P" 2>&1); rc=$?
assert_eq "with VAULT/disposed/1 listing its id, fsck finds no damage" 0 "$rc"
assert_match "fsck reports it destroyed" "destroyed: /cases/Case 17: key destroyed by disposal 1" "$out"
assert_match "fsck counts it" "1 keys destroyed by disposals" "$out"
rm -r "$V/disposed"

# ---- a vault of format 2 (tests only) still works as before ----
V2=$IT_TMP/vault2 M2=$IT_TMP/mnt2
RECFS_TEST_FORMAT=2 make_vault "$V2"
assert_eq "RECFS_TEST_FORMAT=2 makes a format-2 vault" "recfs-vault 2" "$(head -n1 "$V2/recfs.conf")"
check "a format-2 vault has no copy id" test ! -e "$V2/keys/copy"
mount_vault "$V2" "$M2"
fill2() {
	mkdir -p "$M2/a/$UTF" "$M2/b" &&
		printf 'one\n' >"$M2/a/same.txt" && printf 'two\n' >"$M2/b/same.txt" &&
		printf 'long\n' >"$M2/a/$UTF/$LONG" &&
		ln -s ../b/same.txt "$M2/a/link" &&
		setfattr -n user.k -v v2 "$M2/a/same.txt" &&
		mv "$M2/a/same.txt" "$M2/b/moved.txt" && mv "$M2/a/link" "$M2/b/link"
}
check "format 2: write, link, xattr, move across folders" fill2
check "format 2: its slot files are in keys/ itself" bash -c "ls '$V2/keys' | grep -q '^s00000000$'"
umount_vault "$M2" "$V2"
mount_vault "$V2" "$M2"
assert_eq "format 2: a file reads after a remount" "one" "$(cat "$M2/b/moved.txt")"
assert_eq "format 2: its xattr reads" "v2" "$(getfattr --absolute-names --only-values -n user.k "$M2/b/moved.txt" 2>&1)"
assert_eq "format 2: the moved link reads" "../b/same.txt" "$(readlink "$M2/b/link")"
assert_eq "format 2: the long name reads" "long" "$(cat "$M2/a/$UTF/$LONG")"
check "format 2: the save is in history" bash -c "'$RECFS' log '$M2/b/moved.txt' | grep -q ."
umount_vault "$M2" "$V2"
check "format 2: fsck passes" recfs fsck "$V2" --passphrase-file "$V2.pass"
check "format 2: verify passes" recfs verify "$V2" --passphrase-file "$V2.pass"
finish
