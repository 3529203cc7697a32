#!/bin/bash
# xattr_history: user.* extended attributes are kept in history (issue 13, item 10). Set on a
# file and a folder, saved, changed and removed: `recfs show --xattrs` prints each version's
# set as getfattr -d does (and as JSON), `recfs restore` brings a version's set back on the
# file, mounted and unmounted, `recfs verify` authenticates them, and no name or value is in
# clear anywhere in the vault.
# Must never: run outside its temp folder.
. "$(dirname "$0")/lib.sh"

MARK=XATTRMARK-5b1e
V=$IT_TMP/vault M=$IT_TMP/mnt
make_vault "$V"
mount_vault "$V" "$M"

F=$M/case/letter.txt
mkdir -p "$M/case"
printf 'first\n' >"$F"
setfattr -n user.status -v "draft $MARK" "$F"
setfattr -n user.q -v 'say "hi"\back' "$F"
setfattr -n "user.name-$MARK" -v "$MARK" "$F"
setfattr -n user.bin -v 0x0102030405ff "$F"     # getfattr shows it as base64
setfattr -n user.lines -v "$(printf 'one\ntwo')" "$F"
setfattr -n user.owner -v "clerk $MARK" "$M/case"
getfattr -d "$F" >"$IT_TMP/v1.getfattr" 2>/dev/null
recfs flush "$M" >/dev/null
rev_of() { recfs log "$1" --json-lines | python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["rev"])'; }
R1=$(rev_of "$F")

# The second version: one changed, one removed, one added; the content changed too.
setfattr -n user.status -v "final" "$F"
setfattr -x "user.name-$MARK" "$F"
setfattr -n user.new -v 'added later' "$F"
printf 'second\n' >"$F"
getfattr -d "$F" >"$IT_TMP/v2.getfattr" 2>/dev/null
recfs flush "$M" >/dev/null
R2=$(rev_of "$F")
[ "$R1" != "$R2" ] && ok "two revisions ($R1, $R2)" || not_ok "one revision only: $R1"

recfs show "$F" --rev "$R1" --xattrs >"$IT_TMP/s1" 2>"$IT_TMP/s1.err"
check "show --xattrs of the first version prints what getfattr -d printed then" \
	diff <(sed 1d "$IT_TMP/v1.getfattr") <(sed 1d "$IT_TMP/s1")
recfs show "$F" --rev "$R2" --xattrs >"$IT_TMP/s2" 2>&1
check "show --xattrs of the second version prints what getfattr -d printed then" \
	diff <(sed 1d "$IT_TMP/v2.getfattr") <(sed 1d "$IT_TMP/s2")
check "show --xattrs --json parses, and holds the old value exactly" python3 - "$F" "$R1" "$MARK" <<'PY'
import base64, json, subprocess, sys, os
out = subprocess.run([os.environ["RECFS"], "show", sys.argv[1], "--rev", sys.argv[2], "--xattrs", "--json"],
                     check=True, capture_output=True).stdout
got = {a["name"]: base64.b64decode(a["base64"]) for a in json.loads(out)}
want = {"user.status": b"draft " + sys.argv[3].encode(), "user.q": b'say "hi"\\back',
        "user.bin": bytes([1, 2, 3, 4, 5, 255]), "user.lines": b"one\ntwo",
        "user.name-" + sys.argv[3]: sys.argv[3].encode()}
assert got == want, (got, want)
assert all(a["value"] == got[a["name"]].decode() for a in json.loads(out) if a["name"] != "user.bin")
PY
recfs show "$M/case" --rev HEAD --xattrs >"$IT_TMP/sd" 2>&1
assert_match "show --xattrs of the folder" "user.owner=\"clerk $MARK\"" "$(cat "$IT_TMP/sd")"
check_fails "--json without --xattrs is refused" recfs show "$F" --rev "$R1" --json

# A name whose sealed form just fits NAME_MAX: its side entry's name is longer than that.
LONGN=$(printf 'n%.0s' $(seq 1 175))
printf 'x' >"$M/case/$LONGN"
setfattr -n user.long -v "long $MARK" "$M/case/$LONGN"
recfs flush "$M" >/dev/null
assert_match "show --xattrs of a file of a 175-byte name" "user.long=\"long $MARK\"" \
	"$(recfs show "$M/case/$LONGN" --rev HEAD --xattrs 2>&1)"
mount_vault "$V" "$IT_TMP/view" --at "$R1"
assert_eq "a mount --at view shows that version's attributes" "draft $MARK" \
	"$(getfattr --only-values -n user.status "$IT_TMP/view/case/letter.txt" 2>/dev/null)"
VIEW_PID=$(daemon_pid "$IT_TMP/view")
check "umount of the view" recfs umount "$IT_TMP/view"
wait "$VIEW_PID"
check_daemon_log "$IT_TMP/view"

# Restore through the daemon: the first version's set replaces the second's.
check "restore --rev R1 (mounted)" recfs restore "$F" --rev "$R1"
assert_eq "content of the first version back" "first" "$(cat "$F")"
getfattr -d "$F" >"$IT_TMP/r1.getfattr" 2>/dev/null
check "getfattr shows the first version's attributes after the restore" \
	diff "$IT_TMP/v1.getfattr" "$IT_TMP/r1.getfattr"
assert_eq "the attribute added later is gone" "" "$(getfattr -n user.new "$F" 2>/dev/null)"

# A deleted file restored comes back with its attributes.
recfs flush "$M" >/dev/null
R3=$(rev_of "$F")
rm "$F"
recfs flush "$M" >/dev/null
check "restore of the deleted file (mounted)" recfs restore "$F" --rev "$R3"
getfattr -d "$F" >"$IT_TMP/r3.getfattr" 2>/dev/null
check "the deleted file's attributes came back" diff "$IT_TMP/v1.getfattr" "$IT_TMP/r3.getfattr"

# A move to another folder reseals them; history follows.
mkdir "$M/other"
mv "$F" "$M/other/moved.txt"
recfs flush "$M" >/dev/null
recfs show "$M/other/moved.txt" --rev HEAD --xattrs >"$IT_TMP/mv" 2>&1
check "after a move to another folder, show --xattrs still opens them" \
	diff <(sed 1d "$IT_TMP/v1.getfattr") <(sed 1d "$IT_TMP/mv")
mv "$M/other/moved.txt" "$F"

# Two files exchanged (renameat2 RENAME_EXCHANGE) between folders: each keeps its own.
printf 'one' >"$M/case/one"; setfattr -n user.who -v one "$M/case/one"
printf 'two' >"$M/other/two"; setfattr -n user.who -v two "$M/other/two"
check "exchange two files between folders" python3 -c '
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
if libc.renameat2(-100, sys.argv[1].encode(), -100, sys.argv[2].encode(), 2) != 0:
    sys.exit(os.strerror(ctypes.get_errno()))' "$M/case/one" "$M/other/two"
recfs flush "$M" >/dev/null
assert_eq "after the exchange, the file now in case/ has its attributes in history" 'user.who="two"' \
	"$(recfs show "$M/case/one" --rev HEAD --xattrs 2>&1 | sed -n 2p)"
assert_eq "and the one now in other/ has its own" 'user.who="one"' \
	"$(recfs show "$M/other/two" --rev HEAD --xattrs 2>&1 | sed -n 2p)"
rm "$M/case/one" "$M/other/two"
umount_vault "$M" "$V"

# Unmounted: show and restore of the second version, then the mount shows its set.
recfs show case/letter.txt --vault "$V" --passphrase-file "$V.pass" --rev "$R2" --xattrs \
	>"$IT_TMP/u2" 2>&1
check "show --xattrs --vault of the second version" diff <(sed 1d "$IT_TMP/v2.getfattr") <(sed 1d "$IT_TMP/u2")
check "restore --rev R2 --vault (unmounted)" recfs restore case/letter.txt --vault "$V" \
	--passphrase-file "$V.pass" --rev "$R2"
check "verify authenticates every version's attributes" recfs verify "$V" --passphrase-file "$V.pass"
mount_vault "$V" "$M"
getfattr -d "$F" >"$IT_TMP/r2.getfattr" 2>/dev/null
check "getfattr shows the second version's attributes after the unmounted restore" \
	diff "$IT_TMP/v2.getfattr" "$IT_TMP/r2.getfattr"
umount_vault "$M" "$V"

# A killed daemon: the recovery at the next mount keeps every file's and folder's attributes
# (it takes unchanged entries from the newest commit, and reads the attributes of live/ again).
mount_vault "$V" "$M"
mkdir "$M/kept" && echo k >"$M/kept/k.txt"
setfattr -n user.tag -v on-a-file "$M/kept/k.txt"
setfattr -n user.tag -v on-a-folder "$M/kept"
recfs flush "$M" >/dev/null
sleep 1.1                                  # the next change is newer than the mount's start
echo after >"$M/after-the-kill.txt"
kill -9 "$(daemon_pid "$M")"; sleep 0.3; fusermount3 -uz "$M" 2>/dev/null
mount_vault "$V" "$M"
assert_match "after a kill -9, the file's attributes are in the newest commit" 'user.tag="on-a-file"' \
	"$(recfs show "$M/kept/k.txt" --rev HEAD --xattrs 2>&1)"
assert_match "... and the folder's own" 'user.tag="on-a-folder"' "$(recfs show "$M/kept" --rev HEAD --xattrs 2>&1)"
umount_vault "$M" "$V"
check "verify after the recovery" recfs verify "$V" --passphrase-file "$V.pass"
mount_vault "$V" "$M"
rm -r "$M/kept" "$M/after-the-kill.txt"
umount_vault "$M" "$V"

# A disposal that shreds the folder's keys destroys its files' attributes in every version.
mount_vault "$V" "$M"
rm -r "$M/case"
umount_vault "$M" "$V"
if [ -x "${DISPOSE_TOOL:-}" ]; then
	check "the folder disposed of (its keys shredded)" "$DISPOSE_TOOL" "$V" "$V.pass" /case 1
	recfs show case/letter.txt --vault "$V" --passphrase-file "$V.pass" --rev "$R1" --xattrs \
		>"$IT_TMP/gone" 2>&1
	assert_eq "show --xattrs of a destroyed version exits 1" 1 "$?"
	assert_match "and says it was destroyed" "destroyed" "$(cat "$IT_TMP/gone")"
	check "verify still passes after the disposal" recfs verify "$V" --passphrase-file "$V.pass"
else
	not_ok "set DISPOSE_TOOL to the dispose_tool test program"
fi

assert_eq "no byte of the vault holds the marker (names and values sealed in history too)" "" \
	"$(grep -r -a -l -F -- "$MARK" "$V")"
assert_eq "nor a backing xattr" "" \
	"$(getfattr -R -d -m - -e text --absolute-names "$V" 2>/dev/null | grep -a -- "$MARK")"
finish
