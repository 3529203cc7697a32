#!/bin/bash
# at_rest: nothing in clear at rest (issue 3, must hold 4). A marker string is
# put in file and folder names, contents, xattr names and values, symlink
# targets and the passphrase; once unmounted, no name under VAULT and no byte
# (nor backing xattr) of any file under VAULT holds it.
# Must never: run outside its temp folder.
. "$(dirname "$0")/lib.sh"

MARK=MARKER-7f3a9c
V=$IT_TMP/vault M=$IT_TMP/mnt
printf 'passphrase-%s-%s\n' "$MARK" "$(head -c 9 /dev/urandom | base64)" >"$V.pass"
make_vault "$V"
mount_vault "$V" "$M"

UTF=$(printf '\xc3\xa9t\xc3\xa9-\xe6\x97\xa5')
LONG=$(printf "$MARK%.0s" $(seq 1 18))   # 252 bytes: stored as a hashed long name
fill_marked() {
	local d=$M/$MARK-folder/sub-$MARK i
	mkdir -p "$d" "$M/$UTF-$MARK" || return 1
	printf '%s\n' "$MARK" >"$M/$MARK.txt"
	printf 'short %s' "$MARK" >"$d/note-$MARK"
	for i in $(seq 1 3000); do printf 'line %d %s\n' "$i" "$MARK"; done >"$d/big-$MARK.log"   # many blocks
	yes "huge $MARK" | head -c 9M >"$d/huge-$MARK.log"   # nine chunks: history streams it to a pack
	# the marker straddling a 4096-byte block boundary
	{ head -c 4090 /dev/zero | tr '\0' 'z'; printf '%s' "$MARK"; } >"$d/straddle"
	printf '%s' "$MARK" >"$M/$UTF-$MARK/$UTF-$MARK.txt"
	printf '%s' "$MARK" >"$M/$LONG"
	ln -s "../target-$MARK/$MARK" "$M/link-to-$MARK"
	ln -s "$MARK" "$d/plain-link"
	setfattr -n "user.$MARK" -v "value-$MARK" "$M/$MARK.txt" &&
		setfattr -n user.comment -v "$MARK" "$d/straddle" &&
		setfattr -n "user.dir-$MARK" -v "$MARK" "$d"
	mv "$d/note-$MARK" "$d/renamed-$MARK"
	truncate -s 100000 "$d/straddle"
	chmod 600 "$M/$MARK.txt"
}
check "write names, contents, xattrs and link targets with the marker" fill_marked
# The check below must be able to fail: the marker is visible through the mount.
NAMES=$(find "$M" | grep -c -- "$MARK")
[ "$NAMES" -ge 10 ] && ok "marker found in $NAMES names through the mount" || not_ok "marker in only $NAMES names"
check "marker found in contents through the mount" grep -rqa "$MARK" "$M/$MARK-folder"
check "marker found in xattrs through the mount" bash -c "getfattr -R -d -m - --absolute-names '$M' | grep -q 'user.$MARK=\"value-$MARK\"'"
assert_eq "marker found in link targets through the mount" "../target-$MARK/$MARK" "$(readlink "$M/link-to-$MARK")"
# An undo entry (VAULT/undo/, made before a partial last block is rewritten in
# place) holds only ciphertext: look while one exists, the file held open.
python3 - "$M/undo-$MARK.txt" "$MARK" "$IT_TMP/held" "$IT_TMP/release" "$RECFS" <<'PY' &
import os, subprocess, sys, time
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT, 0o644)
os.write(fd, ("first %s\n" % sys.argv[2]).encode()); os.fsync(fd)
# that fsync's save committed, so no history sync removes the entry behind the check
subprocess.run([sys.argv[5], "flush", os.path.dirname(sys.argv[1])], check=True)
os.write(fd, ("then %s\n" % sys.argv[2]).encode())      # rewrites the partial block in place
open(sys.argv[3], "w").close()
while not os.path.exists(sys.argv[4]):
    time.sleep(0.05)
os.close(fd)
PY
holder=$!
for _ in $(seq 1 200); do [ -e "$IT_TMP/held" ] && break; sleep 0.05; done
UNDO=$(find "$V/undo" -type f 2>/dev/null | wc -l)
[ "$UNDO" -ge 1 ] && ok "an undo entry exists while the append is held open" ||
	not_ok "no undo entry under $V/undo while the append is held open"
assert_eq "no undo entry holds the marker" "" "$(grep -r -a -l -F -- "$MARK" "$V/undo" 2>&1)"
touch "$IT_TMP/release"; wait "$holder"
umount_vault "$M" "$V"

NFILES=$(find "$V" -type f | wc -l)
[ "$NFILES" -gt 10 ] || not_ok "vault holds only $NFILES files: was anything written?"
assert_eq "no name under the vault holds the marker" "" "$(find "$V" | grep -a -- "$MARK")"
assert_eq "no name under the vault holds the UTF-8 name" "" "$(find "$V" | grep -a -- "$UTF")"
assert_eq "no byte of any file under the vault holds the marker ($NFILES files)" "" \
	"$(grep -r -a -l -F -- "$MARK" "$V")"
assert_eq "nor the marker in UTF-16 or reversed" "" \
	"$(grep -r -a -l -P -- "$(printf '%s' "$MARK" | sed 's/./&\\x00/g')|$(printf '%s' "$MARK" | rev)" "$V" 2>&1)"
assert_eq "no xattr name or value under the vault holds the marker" "" \
	"$(getfattr -R -d -m - -e text --absolute-names "$V" 2>/dev/null | grep -a -- "$MARK")"
assert_eq "symlinks under the vault do not show the targets" "" \
	"$(find "$V" -type l -printf '%l\n' | grep -a -- "$MARK")"
assert_eq "the passphrase is nowhere in the vault" "" "$(grep -r -a -l -F -- "$(cat "$V.pass")" "$V")"

# and the data is still there
mount_vault "$V" "$M"
assert_eq "after remount: marked file reads back" "$MARK" "$(cat "$M/$MARK.txt")"
assert_eq "after remount: long marked name reads back" "$MARK" "$(cat "$M/$LONG")"
assert_eq "after remount: xattr reads back" "value-$MARK" \
	"$(getfattr --absolute-names --only-values -n "user.$MARK" "$M/$MARK.txt" 2>&1)"
assert_eq "after remount: 3000-line file" 3000 "$(grep -c "$MARK" "$M/$MARK-folder/sub-$MARK/big-$MARK.log")"
umount_vault "$M" "$V"
finish
