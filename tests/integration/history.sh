#!/bin/bash
# history: every save is a version in git (issue 4, must hold 1-4 and the
# commands of "What a user does"): version per save, who saved, a standard git
# repository without clear text, tamper evidence (recfs verify), restore,
# mount --at, diff, log across a rename. Real mount, real git, real tools.
# Must never: run outside its temp folder, or tamper with anything but copies.

# Run in a UTS namespace of its own with a long, distinctive host name, so the
# test can look for the host name in history.git without chance matches.
if [ -z "${RECFS_IT_UTS:-}" ] && [ "$(id -u)" = 0 ] && unshare --uts true 2>/dev/null; then
	export RECFS_IT_UTS=1
	exec unshare --uts bash -c 'hostname recfs-host-marker-k7q2 && exec bash "$0" "$@"' "$0" "$@"
fi
. "$(dirname "$0")/lib.sh"

V=$IT_TMP/vault M=$IT_TMP/mnt
AUTHOR="Ada Lovelace"
HOST=$(hostname)
make_vault "$V"
mount_vault "$V" "$M" --author "$AUTHOR"

# ---- helpers ----
# op OP PATH [ARG]: one syscall through posix_probe; succeeds iff it printed OK.
op() {
	[ "$("$POSIX_PROBE" op "$@" 2>&1)" = OK ]
}

# vlog PATH [args]: every version of PATH (a mount path, or with --vault a
# vault path), one JSON object per line, newest first.
vlog() {
	recfs log "$@" --json-lines -n 1000000 2>/dev/null
}

# jfield NAME: the string field NAME of each JSON line on stdin.
jfield() {
	sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p"
}

# nver PATH: how many versions PATH has once every save is committed.
nver() {
	recfs flush "$M" >/dev/null 2>&1 || not_ok "recfs flush $M failed"
	vlog "$1" | wc -l
}

newest() {
	vlog "$1" | head -n 1 | jfield "$2"
}

# saves DESC N WHAT PATH CMD...: CMD adds exactly N versions to the vault,
# and the newest version of PATH says WHAT (regex).
saves() {
	local desc=$1 n=$2 what=$3 path=$4 before after
	shift 4
	before=$(nver "$M")
	"$@" || not_ok "$desc: the command failed"
	after=$(nver "$M")
	assert_eq "$desc makes exactly $n version(s)" "$n" "$((after - before))"
	assert_match "$desc: newest version of ${path#"$M"} says '$what'" "^($what)" "$(newest "$path" what)"
}

# ---- 1. every save is a version ----
D=$M/cases
saves "mkdir" 1 created "$D" op mkdir "$D"
saves "create (empty)" 1 created "$D/doc" op create "$D/doc"
saves "write + close" 1 saved "$D/doc" op write "$D/doc" "hello world"
assert_eq "show of the newest version is what was written" "hello world" \
	"$(recfs show "$D/doc" --rev "$(newest "$D/doc" rev)")"

before=$(nver "$M")
exec 7<>"$D/doc"
printf 'HELLO' >&7
sync "$D/doc" || not_ok "fsync (sync FILE) of $D/doc"
after=$(nver "$M")
assert_eq "fsync while still open makes exactly 1 version" 1 "$((after - before))"
assert_match "fsync: newest version says saved" '^saved' "$(newest "$D/doc" what)"
assert_eq "fsync: that version holds the bytes written before the fsync" "HELLO world" \
	"$(recfs show "$D/doc" --rev "$(newest "$D/doc" rev)")"
exec 7>&-

saves "truncate" 1 saved "$D/doc" op truncate "$D/doc" 5
assert_eq "truncate: newest version is 5 bytes" "HELLO" "$(recfs show "$D/doc" --rev "$(newest "$D/doc" rev)")"
saves "chmod" 1 "mode changed" "$D/doc" op chmod "$D/doc" 600
saves "setfattr -n user.x" 1 "property changed" "$D/doc" setfattr -n user.x -v 42 "$D/doc"
saves "rename" 1 "renamed from /cases/doc" "$D/doc2" op rename "$D/doc" "$D/doc2"
saves "symlink" 1 created "$D/link" op symlink "$D/link" doc2
saves "unlink of the symlink" 1 deleted "$D/link" op unlink "$D/link"
saves "mkdir (to remove)" 1 created "$D/tmpdir" op mkdir "$D/tmpdir"
saves "rmdir" 1 deleted "$D/tmpdir" op rmdir "$D/tmpdir"
saves "unlink of a file" 1 deleted "$D/doc2" op unlink "$D/doc2"

# N saves of one file in a tight loop: each `printf > f` (open with O_TRUNC,
# write, close) is one save; the versions are exactly v1..vN in order.
N=20
for i in $(seq 1 $N); do printf "v$i" >"$M/tight"; done
recfs flush "$M" >/dev/null 2>&1
vlog "$M/tight" >"$IT_TMP/tight.json"
assert_eq "$N writes+closes in a tight loop give $N saved versions with content" "$N" \
	"$(grep -c '"what":"saved".*"size":[1-9]' "$IT_TMP/tight.json")"
assert_eq "... and no 0-byte versions (open O_TRUNC+write+close is one save)" 0 \
	"$(grep -c '"what":"saved".*"size":0,' "$IT_TMP/tight.json")"
assert_eq "... after one 'created'" 1 "$(grep -c '"what":"created"' "$IT_TMP/tight.json")"
want="" got=""
for i in $(seq 1 $N); do want="$want v$i"; done
for r in $(grep '"size":[1-9]' "$IT_TMP/tight.json" | jfield rev | tac); do
	got="$got $(recfs show "$M/tight" --rev "$r")"
done
assert_eq "recfs show of each of the $N versions returns the bytes saved then, in order" "$want" "$got"
r=$(grep '"size":[1-9]' "$IT_TMP/tight.json" | sed -n 14p | jfield rev)
recfs show "$M/tight" --rev "$r" -o "$IT_TMP/tight.out" || not_ok "recfs show -o"
assert_eq "recfs show -o FILE writes that version" "v$((N - 13))" "$(cat "$IT_TMP/tight.out" 2>&1)"

# ---- 2. who ----
vlog "$M" >"$IT_TMP/all.json"
assert_eq "every version names the author given with --author" "$AUTHOR" "$(jfield name <"$IT_TMP/all.json" | sort -u)"
assert_eq "every version names the login" "$(id -un)" "$(jfield login <"$IT_TMP/all.json" | sort -u)"
assert_eq "every version names the host" "$HOST" "$(jfield host <"$IT_TMP/all.json" | sort -u)"
assert_match "recfs log (text) shows the author" "$AUTHOR" "$(recfs log "$M/tight" 2>&1)"
assert_match "every version has a date" '^[0-9]{4}-[0-9]{2}-[0-9]{2}T' "$(newest "$M/tight" date)"

# ---- 7. diff ----
printf 'alpha\nbravo\ncharlie\n' >"$M/memo.txt"
printf 'alpha\nBRAVO changed\ncharlie\n' >"$M/memo.txt"
r=$(vlog "$M/memo.txt" | grep '"size":[1-9]' | sed -n 2p | jfield rev)
recfs diff "$M/memo.txt" --rev "$r" >"$IT_TMP/diff.out" 2>&1
assert_eq "diff of two different versions exits 1" 1 "$?"
check "text diff removes the old line" grep -qx -- '-bravo' "$IT_TMP/diff.out"
check "text diff adds the new line" grep -qx -- '+BRAVO changed' "$IT_TMP/diff.out"
check "text diff keeps the unchanged lines as context" grep -qx -- ' alpha' "$IT_TMP/diff.out"
recfs diff "$M/memo.txt" --rev "$(newest "$M/memo.txt" rev)" >/dev/null 2>&1
assert_eq "diff of the newest version with itself exits 0" 0 "$?"
{ printf 'BIN\0\1\2'; head -c 3000 /dev/urandom; } >"$M/scan.bin"
{ printf 'BIN\0\1\3'; head -c 3000 /dev/urandom; } >"$M/scan.bin"
r=$(vlog "$M/scan.bin" | grep '"size":[1-9]' | sed -n 2p | jfield rev)
recfs diff "$M/scan.bin" --rev "$r" >"$IT_TMP/diff.out" 2>&1
assert_eq "diff of binary versions exits 1" 1 "$?"
assert_match "binary diff says the files are binary" 'binary' "$(cat "$IT_TMP/diff.out")"
assert_eq "binary diff prints no content lines" 0 "$(grep -c '^[-+][^-+]' "$IT_TMP/diff.out")"

# ---- 8. log follows a file across a rename ----
mkdir -p "$M/archive"
printf 'draft 1' >"$M/report.odt"
printf 'draft 2' >"$M/report.odt"
mv "$M/report.odt" "$M/archive/final.odt"
vlog "$M/archive/final.odt" >"$IT_TMP/ren.json"
assert_match "log of the new name starts with the rename" '^renamed from /report.odt' "$(head -n1 "$IT_TMP/ren.json" | jfield what)"
assert_eq "log of the new name lists the versions saved under the old name" "2" \
	"$(grep '"path":"/report.odt"' "$IT_TMP/ren.json" | grep -c '"what":"saved".*"size":7')"
assert_eq "... back to its creation" "created" "$(tail -n1 "$IT_TMP/ren.json" | jfield what)"
r=$(grep '"path":"/report.odt"' "$IT_TMP/ren.json" | grep '"size":7' | tail -n1 | jfield rev)
assert_eq "show through the new name returns a version saved under the old name" "draft 1" \
	"$(recfs show "$M/archive/final.odt" --rev "$r" 2>&1)"

# ---- 5. restore ----
printf 'ORIGINAL TEXT' >"$M/letter"
r_orig=$(newest "$M/letter" rev)
printf 'OVERWRITTEN' >"$M/letter"
r_over=$(newest "$M/letter" rev)
assert_eq "overwritten content is cached by the kernel" "OVERWRITTEN" "$(cat "$M/letter")"
n0=$(nver "$M/letter")
check "restore an overwritten file" recfs restore "$M/letter" --rev "$r_orig"
assert_eq "restored content is visible through the mount at once" "ORIGINAL TEXT" "$(cat "$M/letter")"
assert_eq "restore makes exactly one new version" 1 "$(($(nver "$M/letter") - n0))"
assert_match "the new version says restored from the revision" "^restored from ${r_orig:0:12}" "$(newest "$M/letter" what)"
assert_eq "the overwritten version is still there" "OVERWRITTEN" "$(recfs show "$M/letter" --rev "$r_over" 2>&1)"
assert_eq "the original version is still there" "ORIGINAL TEXT" "$(recfs show "$M/letter" --rev "$r_orig" 2>&1)"

mkdir -p "$M/gone/deeper"
printf 'deleted record' >"$M/gone/deeper/rec.txt"
r_del=$(newest "$M/gone/deeper/rec.txt" rev)
ls -R "$M/gone" >/dev/null
rm -rf "$M/gone"
check_fails "the deleted folder is gone" stat "$M/gone"
assert_eq "log still lists the deleted file, newest 'deleted'" deleted "$(newest "$M/gone/deeper/rec.txt" what)"
check "restore a deleted file in a deleted folder" recfs restore "$M/gone/deeper/rec.txt" --rev "$r_del"
check "its folders are made again" test -d "$M/gone/deeper"
assert_eq "the deleted file's content is back" "deleted record" "$(cat "$M/gone/deeper/rec.txt" 2>&1)"
assert_match "the deleted file's newest version says restored" '^restored from' "$(newest "$M/gone/deeper/rec.txt" what)"

# ---- 6. mount --at DATE and --at REV, beside the live mount ----
printf 'AS IT WAS' >"$M/policy"
r_was=$(newest "$M/policy" rev)
sleep 1.2
AT=$(date +%Y-%m-%dT%H:%M:%S)
sleep 1.2
printf 'AS IT IS NOW' >"$M/policy"
printf 'later' >"$M/later-file"
recfs flush "$M" >/dev/null 2>&1

# view_check MNT DESC: MNT shows policy as it was, read-only.
view_check() {
	local at=$1 desc=$2
	assert_eq "$desc: shows the old content" "AS IT WAS" "$(cat "$at/policy" 2>&1)"
	check_fails "$desc: a file made later is not there" stat "$at/later-file"
	assert_eq "$desc: writing a file fails with EROFS" EROFS "$("$POSIX_PROBE" op write "$at/policy" x)"
	assert_eq "$desc: creating a file fails with EROFS" EROFS "$("$POSIX_PROBE" op create "$at/new")"
	assert_eq "$desc: mkdir fails with EROFS" EROFS "$("$POSIX_PROBE" op mkdir "$at/newdir")"
	assert_eq "$desc: the live mount still shows the new content" "AS IT IS NOW" "$(cat "$M/policy" 2>&1)"
	check "$desc: the live mount is still mounted" is_mounted "$M"
}

# umount_view MNT: a read-only view unmounts; its daemon exits 0 (the live
# mount keeps the vault locked, so umount_vault's lock check does not apply).
umount_view() {
	local pid
	pid=$(daemon_pid "$1")
	check "umount of the view $1" recfs umount "$1"
	check "the view is no longer mounted" not_mounted "$1"
	wait "$pid"
	assert_eq "the view's daemon exits 0" 0 "$?"
	check_daemon_log "$1"
}

mount_vault "$V" "$IT_TMP/at-date" --at "$AT"
view_check "$IT_TMP/at-date" "mount --at $AT"
umount_view "$IT_TMP/at-date"
mount_vault "$V" "$IT_TMP/at-rev" --at "$r_was"
view_check "$IT_TMP/at-rev" "mount --at ${r_was:0:12}"
umount_view "$IT_TMP/at-rev"
assert_eq "show --at the date returns the old content" "AS IT WAS" "$(recfs show "$M/policy" --at "$AT" 2>&1)"
printf 'still live' >"$M/after-views"
assert_eq "the live mount still saves after the views" "saved" "$(newest "$M/after-views" what)"

# ---- 3. a standard git repository, nothing in clear ----
NAME_MARK=Zebrafinch_case_name_marker
CONTENT_MARK=CONTENT-marker-Quokka-7731
mkdir "$M/$NAME_MARK"
printf '%s\n' "$CONTENT_MARK" "$CONTENT_MARK" >"$M/$NAME_MARK/$NAME_MARK.txt"
ln -s "$NAME_MARK-target" "$M/$NAME_MARK/link"
assert_match "the marker file is in history" saved "$(newest "$M/$NAME_MARK/$NAME_MARK.txt" what)"
setfattr -n "user.$NAME_MARK" -v "$CONTENT_MARK" "$M/$NAME_MARK/$NAME_MARK.txt"
umount_vault "$M" "$V"

G=(git --git-dir="$V/history.git")
check "git fsck --strict passes" "${G[@]}" fsck --strict
assert_eq "history is on refs/heads/main, HEAD points there" refs/heads/main "$("${G[@]}" symbolic-ref HEAD 2>&1)"
assert_eq "history is linear" 0 "$("${G[@]}" rev-list --min-parents=2 --count HEAD 2>&1)"
"${G[@]}" cat-file --batch-all-objects --batch >"$IT_TMP/objects" 2>&1
"${G[@]}" log --format='%B%an%ae%cn%ce%N' >"$IT_TMP/gitlog" 2>&1
MARKS=("$NAME_MARK" "$CONTENT_MARK" "$AUTHOR" "Lovelace" "AS IT IS NOW" "ORIGINAL TEXT")
# a short host name (no UTS namespace) could match ciphertext by chance
[ "${#HOST}" -ge 8 ] && MARKS+=("$HOST") || echo "# host name '$HOST' too short to look for"
for mark in "${MARKS[@]}"; do
	check_fails "no git object contains '$mark'" grep -aqF -- "$mark" "$IT_TMP/objects"
	check_fails "git log shows no '$mark'" grep -aqF -- "$mark" "$IT_TMP/gitlog"
done
check "the objects were read (non-empty dump)" test -s "$IT_TMP/objects"
for idx in "$V"/history.git/objects/pack/*.idx; do
	git verify-pack -v "$idx" | awk '$2 ~ /^(blob|tree|commit)$/ { print $1 }'
done | sort | uniq -d >"$IT_TMP/dups"
assert_eq "each object is stored in one pack only (packs merged, not copied)" 0 "$(wc -l <"$IT_TMP/dups")"
assert_eq "no loose objects (packs only)" 0 "$(find "$V/history.git/objects" -path '*/objects/[0-9a-f][0-9a-f]/*' -type f | wc -l)"

# ---- 5b. offline restore with --vault ----
r_off=$(vlog policy --vault "$V" --passphrase-file "$V.pass" | grep '"size":9' | head -n1 | jfield rev)
assert_eq "log --vault finds the old version of policy" "AS IT WAS" \
	"$(recfs show policy --vault "$V" --passphrase-file "$V.pass" --rev "$r_off" 2>&1)"
check "offline restore --vault" recfs restore policy --vault "$V" --passphrase-file "$V.pass" --rev "$r_off"
assert_match "offline restore is a version of its own" '^restored from' \
	"$(vlog policy --vault "$V" --passphrase-file "$V.pass" | head -n1 | jfield what)"
check "recfs verify is clean after the offline restore" recfs verify "$V" --passphrase-file "$V.pass"
mount_vault "$V" "$M"
assert_eq "offline restore shows in the mount" "AS IT WAS" "$(cat "$M/policy" 2>&1)"
# The vault's own author names (an encrypted record) rename the mounting login.
HOSTMARK=$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')
mkdir -p "$M/.recfs" && printf '# login name\n%s Grace Hopper-%s\n' "$(id -un)" "$HOSTMARK" >"$M/.recfs/authors"
umount_vault "$M" "$V"
mount_vault "$V" "$M"
echo "by the vault's author names" >"$M/authored"
assert_eq ".recfs/authors names who saves (no --author)" "Grace Hopper-$HOSTMARK" \
	"$(vlog "$M/authored" | head -n1 | jfield name)"
umount_vault "$M" "$V"
check_fails "the author name from .recfs/authors is nowhere in clear under the vault" \
	grep -rq "Hopper-$HOSTMARK" "$V"
fsck_clean "$V" "at the end"

# ---- 4. tamper-evident: recfs verify on copies ----
check "recfs verify: the vault is clean" recfs verify "$V" --passphrase-file "$V.pass"

# copy_vault NAME: a copy of the (unmounted) vault to tamper with; prints its path.
copy_vault() {
	cp -a "$V" "$IT_TMP/$1" && cp "$V.pass" "$IT_TMP/$1.pass" && echo "$IT_TMP/$1"
}

# edit_commit GITDIR COMMIT SED: write COMMIT edited by SED; prints the new id.
edit_commit() {
	git --git-dir="$1" cat-file commit "$2" | sed "$3" >"$IT_TMP/commit.obj" &&
		git --git-dir="$1" hash-object -t commit -w "$IT_TMP/commit.obj"
}

# rechain GITDIR BASE COMMIT...: write each COMMIT again with its parent set
# to the one before it (BASE first); prints the newest id.
rechain() {
	local gd=$1 prev=$2 c
	shift 2
	for c in "$@"; do
		prev=$(edit_commit "$gd" "$c" "s/^parent .*/parent $prev/") || return 1
	done
	echo "$prev"
}

# flip_char POS: a sed expression changing the character at POS (1-based) of
# the line it is applied to into another base64url character.
flip_char() {
	echo "s/^\(.\{$(($1 - 1))\}\)\([A-Za-z0-9_-]\)/\1\n\2/; s/\nA/B/; s/\n./A/"
}

# expect_problem DESC REGEX VAULT: verify fails and names the problem.
expect_problem() {
	local rc
	recfs verify "$3" --passphrase-file "$3.pass" >"$IT_TMP/verify.out" 2>&1
	rc=$?
	if [ $rc -eq 1 ] && grep -Eqi -- "$2" "$IT_TMP/verify.out"; then
		ok "verify finds $1: $(grep -Ei -m1 -- "$2" "$IT_TMP/verify.out")"
	else
		not_ok "verify finds $1 (exit $rc, want 1 and /$2/: $(head -c 600 "$IT_TMP/verify.out" | tr '\n' '|'))"
	fi
}

mapfile -t C < <("${G[@]}" rev-list --first-parent --reverse HEAD)
n=${#C[@]}
[ "$n" -ge 10 ] || die "history has $n commits, want at least 10 to tamper with"
k=$((n - 5))

T=$(copy_vault untouched)
check "an untouched copy verifies clean" recfs verify "$T" --passphrase-file "$T.pass"

T=$(copy_vault changed)
new=$(edit_commit "$T/history.git" "${C[k]}" "\$ { $(flip_char 30) }")
tip=$(rechain "$T/history.git" "$new" "${C[@]:k+1}")
git --git-dir="$T/history.git" update-ref refs/heads/main "$tip"
expect_problem "a changed commit (message), chain rewritten over it, named" "changed commit $new" "$T"

T=$(copy_vault changed-tree)
new=$(edit_commit "$T/history.git" "${C[k]}" "s/^tree .*/tree $("${G[@]}" rev-parse "${C[1]}^{tree}")/")
tip=$(rechain "$T/history.git" "$new" "${C[@]:k+1}")
git --git-dir="$T/history.git" update-ref refs/heads/main "$tip"
expect_problem "a changed commit (tree), chain rewritten over it, named" "changed commit $new" "$T"

T=$(copy_vault removed)
tip=$(rechain "$T/history.git" "${C[k - 1]}" "${C[@]:k+1}")
git --git-dir="$T/history.git" update-ref refs/heads/main "$tip"
expect_problem "a removed commit (one skipped)" 'removed commit' "$T"

T=$(copy_vault reordered)
tip=$(rechain "$T/history.git" "${C[k - 1]}" "${C[k + 1]}" "${C[k]}" "${C[@]:k+2}")
git --git-dir="$T/history.git" update-ref refs/heads/main "$tip"
expect_problem "reordered commits (two swapped)" 'reorder' "$T"

T=$(copy_vault backwards)
git --git-dir="$T/history.git" update-ref refs/heads/main "${C[n - 3]}"
expect_problem "the ref moved backwards (HEAD~2)" 'ref moved backwards' "$T"

T=$(copy_vault forged)
new=$(edit_commit "$T/history.git" "${C[n - 1]}" "/^recfs-sig ed25519 / { s/^recfs-sig ed25519 //; $(flip_char 20); s/^/recfs-sig ed25519 / }")
git --git-dir="$T/history.git" update-ref refs/heads/main "$new"
assert_eq "the forged commit differs only in its signature" 1 \
	"$(diff <("${G[@]}" cat-file commit "${C[n - 1]}") <(git --git-dir="$T/history.git" cat-file commit "$new") | grep -c '^>')"
expect_problem "a forged signature, named" "forged signature on commit $new" "$T"

# corrupt_pack_blob VAULT: flip a byte in the middle of the largest blob's
# data, in every pack that holds it; prints the blob id.
corrupt_pack_blob() {
	local idx id size off pos
	for idx in "$1"/history.git/objects/pack/*.idx; do
		git verify-pack -v "$idx" | awk -v i="$idx" '$2 == "blob" { print $4, $5, $1, i }'
	done >"$IT_TMP/blobs"
	id=$(sort -n "$IT_TMP/blobs" | tail -n1 | cut -d' ' -f3)
	[ -n "$id" ] || return 1
	grep " $id " "$IT_TMP/blobs" | while read -r size off id idx; do
		pos=$((off + size / 2))
		printf '%02x' $((0x$(xxd -s "$pos" -l 1 -p "${idx%.idx}.pack") ^ 0x55)) | xxd -r -p |
			dd of="${idx%.idx}.pack" bs=1 seek="$pos" conv=notrunc status=none
	done
	echo "$id"
}

T=$(copy_vault corrupt-pack)
id=$(corrupt_pack_blob "$T")
check "a byte of blob $id was flipped in its pack" test -n "$id"
expect_problem "a corrupt blob in a pack, named" "corrupt object $id" "$T"

# A bad loose object: unpack every object loose, then replace one blob's file
# by a valid zlib stream of other content under the same name.
T=$(copy_vault corrupt-loose)
TG=(git --git-dir="$T/history.git")
mkdir "$IT_TMP/packs-aside"
mv "$T"/history.git/objects/pack/* "$IT_TMP/packs-aside/"
for p in "$IT_TMP"/packs-aside/*.pack; do "${TG[@]}" unpack-objects -q <"$p"; done
blob=$("${TG[@]}" rev-parse "HEAD:$(cd "$V/live" && find . -type f -size +1k -printf '%P\n' | head -n1)")
lf=$T/history.git/objects/${blob:0:2}/${blob:2}
size=$("${TG[@]}" cat-file -s "$blob")
# git itself deflates a blob of the same size and other content; it goes in
# under the old name, so the object's hash no longer matches its name.
tmpid=$({ head -c "$((size - 1))" /dev/zero; printf 'x'; } | "${TG[@]}" hash-object -w --stdin)
chmod u+w "$lf" 2>/dev/null
cp "$T/history.git/objects/${tmpid:0:2}/${tmpid:2}" "$lf"
assert_eq "the loose blob $blob now reads as other content" "$tmpid" \
	"$(git --git-dir="$T/history.git" cat-file blob "$blob" 2>/dev/null | git hash-object --stdin)"
expect_problem "a corrupt loose object, named" "corrupt object $blob" "$T"

# index.tags, the daemon's tag table of the index on disk: a clean unmount
# leaves it durable ('D'); a table a killed daemon left being changed ('V'),
# even damaged, is rebuilt, and `log PATH` answers exactly as before. A lookup
# that changes nothing, and a commit's sync after a change, leave it 'D'.
X=$IT_TMP/tags XM=$IT_TMP/tagsm
tags_state() { dd if="$X/history.git/recfs/index.tags" bs=1 skip=40 count=1 status=none; }
make_vault "$X"
mount_vault "$X" "$XM"
mkdir "$XM/case"
for i in 1 2 3; do echo "v$i" >"$XM/case/doc"; done
mv "$XM/case/doc" "$XM/case/doc2"
echo other >"$XM/other"
recfs flush "$XM" >/dev/null
want=$(recfs log "$XM/case/doc2" 2>&1)
assert_match "log follows the renamed file through index.tags" "renamed from /case/doc" "$want"
umount_vault "$XM" "$X"
assert_eq "a clean unmount leaves index.tags durable" "D" "$(tags_state)"
mount_vault "$X" "$XM"
assert_eq "log after a clean mount, from the table as it was left" "$want" "$(recfs log "$XM/case/doc2" 2>&1)"
assert_eq "a lookup that adds nothing leaves the table durable" "D" "$(tags_state)"
echo more >"$XM/other"
recfs log "$XM/other" >/dev/null
assert_eq "a lookup that adds to it marks it as being changed" "V" "$(tags_state)"
echo again >"$XM/other"
recfs flush "$XM" >/dev/null
assert_eq "the next commit's sync marks it durable again" "D" "$(tags_state)"
recfs log "$XM/other" >/dev/null
pid=$(daemon_pid "$XM")
kill -9 "$pid"
wait "$pid" 2>/dev/null
fusermount3 -uz "$XM" 2>/dev/null
wait_unlocked "$X"
assert_eq "a killed daemon leaves it marked as being changed" "V" "$(tags_state)"
head -c 4096 /dev/urandom | dd of="$X/history.git/recfs/index.tags" bs=1 seek=64 conv=notrunc status=none
mount_vault "$X" "$XM"
assert_eq "a damaged table left being changed is rebuilt: log answers as before" "$want" \
	"$(recfs log "$XM/case/doc2" 2>&1)"
umount_vault "$XM" "$X"

finish
