#!/bin/bash
# restore_folder: recfs restore of a folder brings back the whole folder as it stood (issue 13,
# item 10): a case folder with nested subfolders, a symlink, odd names (space, unicode, a
# newline), an empty and a multi-MiB file, chmod'ed folders and files and set mtimes is
# removed with rm -rf and restored by --at and by --rev; content (diff -r), modes and mtimes
# (stat) and the link (readlink) match a saved copy. Over a partly changed folder only what
# changed gets a new version, what is new is left and named; a file open for writing is named
# and not restored; an unmounted restore (--vault) of a folder renamed away does the same and
# gives its files new ids; a record locked by retention, and a held one, refuse the restore
# before anything changes (a restore of one file too); recfs log shows the restores, and the
# restore is a few commits.
# Must never: run outside its temp folder.
. "$(dirname "$0")/lib.sh"

V=$IT_TMP/vault M=$IT_TMP/mnt S=$IT_TMP/saved
make_vault "$V"
mount_vault "$V" "$M"

vlog() { recfs log "$@" --json-lines -n 1000000 2>/dev/null; }
jfield() { sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p"; }
# Every entry below a folder: path, mode, mtime, type, link target (a newline in a name shown as ?).
xattrs() { getfattr -d --absolute-names -m '^user\.' "$1" 2>/dev/null | grep -v '^#' | grep .; }
same_xattrs() {
	assert_eq "$1: a file's user.* attributes are back" 'user.caseref="SM/2023/1"' "$(xattrs "$C/notes/ünïcødé – ✓.txt")"
	assert_eq "$1: a folder's own are back" 'user.team="adults"' "$(xattrs "$C/letters")"
}
meta() { (cd "$1" && find . -mindepth 0 -printf '%p\t%m\t%Ts\t%y\t%l\0' | sort -z | tr '\0\n' '\n?'); }
same_tree() {
	local what=$1 a=$2 b=$3 d
	d=$(diff -r "$a" "$b" 2>&1) && ok "$what: diff -r finds no difference" ||
		not_ok "$what: diff -r: $d"
	d=$(diff <(meta "$a") <(meta "$b")) && ok "$what: modes, mtimes and links as saved" ||
		not_ok "$what: modes, mtimes or links differ: $d"
}

C=$M/cases/smith
mkdir -p "$C/letters/2023/sent" "$C/notes" "$M/cases/other"
printf 'dear smith\n' >"$C/letters/2023/sent/one.txt"
printf 'reply\n' >"$C/letters/2023/reply.txt"
printf 'with a space\n' >"$C/notes/a file with space.txt"
printf 'unicode\n' >"$C/notes/ünïcødé – ✓.txt"
printf 'newline\n' >"$C/notes/line"$'\n'"break.txt"
: >"$C/empty"
head -c 3145728 /dev/urandom >"$C/scan.bin"
ln -s letters/2023/reply.txt "$C/current"
chmod 600 "$C/notes/a file with space.txt"
chmod 755 "$C/scan.bin"
touch -d '2021-04-05 06:07:08' "$C/letters/2023/sent/one.txt" "$C/letters/2023/reply.txt" \
	"$C/notes/"* "$C/empty" "$C/scan.bin"
touch -h -d '2021-05-06 07:08:09' "$C/current"
chmod 700 "$C/notes"
chmod 750 "$C/letters/2023"
touch -d '2020-01-02 03:04:05' "$C/letters/2023/sent" "$C/letters/2023" "$C/letters" "$C/notes"
chmod 710 "$C"
touch -d '2019-12-31 23:59:58' "$C"
setfattr -n user.caseref -v 'SM/2023/1' "$C/notes/ünïcødé – ✓.txt"
setfattr -n user.team -v adults "$C/letters"
mkdir "$M/cases/jones" && printf 'jones\n' >"$M/cases/jones/notes.txt"   # to be held below
cp -a "$C" "$S"
recfs flush "$M" >/dev/null
rev=$(vlog "$M" | head -n 1 | jfield rev)
[ -n "$rev" ] || die "no revision in history"
sleep 1.1
at=$(date '+%Y-%m-%d %H:%M:%S')
sleep 1.1

# ---- rm -rf, then restore by date ----
commits() { vlog "$M" | jfield rev | sort -u | wc -l; }
rm -rf "$C"
check_fails "the case folder is gone" test -e "$C"
recfs flush "$M" >/dev/null
n0=$(commits)
out=$(recfs restore "$C" --at "$at" 2>&1)
assert_eq "restore of the deleted folder by --at exits 0" 0 $?
n=$(($(commits) - n0))
echo "# the folder restore made $n commits"
# About twice the depth (4): folders are made parents first, their times are set deepest first,
# and a folder's save never shares a commit with one inside it. 15 when each save goes alone.
[ "$n" -le 10 ] && ok "the folder restore is a few commits, not one per entry ($n)" ||
	not_ok "the folder restore made $n commits"
assert_match "it says what it did" "/cases/smith restored from ${rev:0:12}: 7 files given their old content, 0 as they were, 5 folders and 1 links made again" "$out"
same_tree "restored by --at" "$S" "$C"
same_xattrs "restored by --at"
assert_eq "the link reads as before" letters/2023/reply.txt "$(readlink "$C/current")"
assert_eq "the folder's own mode and mtime" "710 $(stat -c %Y "$S")" "$(stat -c '%a %Y' "$C")"
recfs flush "$M" >/dev/null
assert_match "recfs log shows the file restored from REV" "\"what\":\"restored from ${rev:0:12}" \
	"$(vlog "$C/scan.bin" | head -n 1)"
assert_match "a deleted file comes back as itself (restored right after its deletion, not made anew)" \
	'"what":"deleted"' "$(vlog "$C/scan.bin" | sed -n 2p)"
assert_match "recfs log shows the odd name restored" "restored from ${rev:0:12}" \
	"$(recfs log "$C/notes/line"$'\n'"break.txt" 2>&1 | head -n 3)"

# ---- rm -rf, then restore by revision ----
rm -rf "$C"
check "restore of the deleted folder by --rev" recfs restore "$C" --rev "${rev:0:12}"
same_tree "restored by --rev" "$S" "$C"

# ---- over a partly changed folder ----
printf 'changed\n' >>"$C/letters/2023/reply.txt"
rm "$C/notes/a file with space.txt"
printf 'new\n' >"$C/notes/new.txt"
mkdir "$C/added"
printf 'x\n' >"$C/added/inside.txt"
chmod 755 "$C/notes"
setfattr -n user.caseref -v changed "$C/notes/ünïcødé – ✓.txt"
setfattr -x user.team "$C/letters"
recfs flush "$M" >/dev/null
n_one=$(vlog "$C/letters/2023/sent/one.txt" | wc -l)
out=$(recfs restore "$C" --rev "$rev" 2>&1)
assert_eq "restore over a partly changed folder exits 0" 0 $?
assert_match "only the changed and the deleted file get their old content" "2 files given their old content, 6 as they were, 0 folders" "$out"
assert_match "a file there now but not then is named" "/cases/smith/notes/new.txt is there now but was not then: left in place" "$out"
assert_match "so is a folder (once)" "/cases/smith/added is there now but was not then" "$out"
check_fails "... and not what is inside it" grep -q 'added/inside' <<<"$out"
assert_eq "the new file is left in place" new "$(cat "$C/notes/new.txt")"
rm -r "$C/notes/new.txt" "$C/added"     # which changes the folders' mtimes again
check "a second restore puts the folders' mtimes back" recfs restore "$C" --rev "$rev"
same_tree "restored over a changed folder" "$S" "$C"
same_xattrs "over a changed folder (same content, other attributes)"
recfs flush "$M" >/dev/null
assert_eq "an unchanged file got no new version" "$n_one" "$(vlog "$C/letters/2023/sent/one.txt" | wc -l)"

# ---- a file open for writing is named and not restored ----
printf 'changed again\n' >"$C/letters/2023/reply.txt"
printf 'changed too\n' >"$C/empty"
exec 8>>"$C/letters/2023/reply.txt"
out=$(recfs restore "$C" --rev "$rev" 2>&1)
rc=$?
exec 8>&-
[ "$rc" -ne 0 ] && ok "a folder restore with a file open for writing fails (exit $rc)" ||
	not_ok "a folder restore with a file open for writing exits 0"
assert_match "it names the file open for writing" "/cases/smith/letters/2023/reply.txt is open for writing: not restored" "$out"
assert_eq "that file keeps what it has" "changed again" "$(cat "$C/letters/2023/reply.txt")"
assert_eq "the other files are restored" "" "$(cat "$C/empty")"
check "once it is closed the restore goes through" recfs restore "$C" --rev "$rev"
same_tree "restored after the close" "$S" "$C"

# ---- unmounted (--vault) ----
mv "$C" "$M/old-smith"
recfs flush "$M" >/dev/null
umount_vault "$M" "$V"
out=$(recfs restore cases/smith --vault "$V" --passphrase-file "$V.pass" --rev "$rev" 2>&1)
assert_eq "an unmounted restore of a folder renamed away exits 0" 0 $?
assert_match "it says what it did" "7 files given their old content, 0 as they were, 5 folders" "$out"
mapfile -t big < <(find "$V/live" -type f -size +3M)
assert_eq "the big file is there twice in live/ (restored, and in the renamed folder)" 2 "${#big[@]}"
check_fails "... not as the same ciphertext: the copy got a new file id and key" cmp -s -n 60 "${big[@]}"
mount_vault "$V" "$M"
same_tree "restored unmounted" "$S" "$C"
same_xattrs "restored unmounted"
d=$(diff -r "$S" "$M/old-smith" 2>&1) && ok "the renamed folder stays where it is, as it was" ||
	not_ok "the renamed folder changed: $d"
rm -rf "$M/old-smith"

# ---- a locked record refuses it before anything changes ----
CONF=$IT_TMP/anytown.conf
sed 's/^records-manager = @recordsteam, jsmith/&, root/' "$(dirname "$0")/../policy/anytown.conf" >"$CONF"
printf 'changed\n' >"$C/letters/2023/reply.txt"
rm "$C/empty" "$C/current"
check "policy load" recfs policy load "$M" "$CONF"
check "close the case long ago (locked)" recfs close "$C" --on 2017-03-01
out=$(recfs restore "$C" --rev "$rev" 2>&1)
rc=$?
assert_eq "a restore into a locked record fails" 2 "$rc"
assert_match "it says why and that nothing was restored" "refused, nothing restored: record /cases/smith is locked" "$out"
assert_eq "the changed file is as it was" changed "$(cat "$C/letters/2023/reply.txt")"
check_fails "the removed file is not back" test -e "$C/empty"
check_fails "nor the removed link" test -L "$C/current"
out=$(recfs restore "$C/letters/2023/reply.txt" --rev "$rev" 2>&1)
assert_eq "a restore of one file in the locked record fails too" 2 $?
assert_match "... saying so" "reply.txt: refused: it is in a locked or held record" "$out"
assert_eq "... and the file is as it was" changed "$(cat "$C/letters/2023/reply.txt")"

# ---- a held record refuses it too ----
rm "$M/cases/jones/notes.txt"
check "hold the jones case" recfs hold add "$M/cases/jones" --name claim --authority "a court"
out=$(recfs restore "$M/cases/jones" --rev "$rev" 2>&1)
assert_eq "a restore into a held record fails" 2 $?
assert_match "it says why" "refused, nothing restored: record /cases/jones is held by hold claim" "$out"
check_fails "the removed file is not back" test -e "$M/cases/jones/notes.txt"

umount_vault "$M" "$V"
finish
