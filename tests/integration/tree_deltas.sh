#!/usr/bin/env bash
# tree_deltas: history's packs hold a tree as a delta against its previous version.
# A file three folders deep in a record (each folder with sealed names enough for a tree of
# some size) is saved many times, each its own commit, beside a second record saved as often:
# git verify-pack -v shows tree deltas, git fsck --full --strict passes, every version reads
# back, recfs verify passes; after recfs gc the same hold; a disposal of the first record
# still destroys every version of it, and after it gc and verify pass and the other record's
# versions all read back.
# Must never: run outside its temp folder.
. "$(dirname "$0")/lib.sh"

[ -x "${DISPOSE_TOOL:-}" ] || die "set DISPOSE_TOOL to the dispose_tool test program"
V=$IT_TMP/vault M=$IT_TMP/mnt P=$IT_TMP/vault.pass
N=${TREE_DELTA_VERSIONS:-40}
make_vault "$V" "$P"
mount_vault "$V" "$M"
hist() { recfs "$@" --vault "$V" --passphrase-file "$P"; }
offline() { recfs "$1" "$V" --passphrase-file "$P"; }     # verify, gc

# Two records, each a file 3 folders deep, 6 other files beside it at every level.
layout() {
	local r=$1 d
	for d in "$M/cases/$r" "$M/cases/$r/part-one" "$M/cases/$r/part-one/section-two" \
	         "$M/cases/$r/part-one/section-two/folder-three"; do
		mkdir -p "$d" || return 1
		for i in 1 2 3 4 5 6; do echo "$r filler $i" >"$d/filler-document-$i.txt" || return 1; done
	done
}
check "a record with a file 3 folders deep" layout deep
check "another record of the same shape" layout kept
F=cases/deep/part-one/section-two/folder-three/notes.txt
K=cases/kept/part-one/section-two/folder-three/notes.txt
saves() {
	for i in $(seq 1 "$N"); do
		echo "deep version $i" >"$M/$F" && echo "kept version $i" >"$M/$K" || return 1
		recfs flush "$M" >/dev/null || return 1
	done
}
check "$N saves of both files, each a commit" saves
umount_vault "$M" "$V"

G=$V/history.git
# Tree entries of git verify-pack -v: 7 fields for a delta (depth, base), 5 for a whole object.
tree_deltas() {
	local idx
	for idx in "$G"/objects/pack/pack-*.idx; do git verify-pack -v "$idx"; done |
		awk '$2 == "tree" && NF == 7 { n++ } END { print n + 0 }'
}
versions_read() {      # path, word, count: every saved version of path in history, oldest first
	local path=$1 word=$2 want=$3 revs rev i=0 bad=0
	revs=$(hist log "/$path" --json-lines -n 100000 2>/dev/null | grep '"what":"saved"' |
	       sed -n 's/.*"rev":"\([^"]*\)".*/\1/p')
	for rev in $(printf '%s\n' $revs | tac); do
		i=$((i + 1))
		[ "$(hist show "/$path" --rev "$rev" 2>/dev/null)" = "$word version $i" ] || bad=$((bad + 1))
	done
	[ "$i" -eq "$want" ] && [ "$bad" -eq 0 ] || { echo "# $path: $i versions, $bad wrong" >&2; return 1; }
}
D=$(tree_deltas)
echo "# tree deltas before gc: $D"
check "the packs hold trees as deltas ($D; at least one a version)" test "$D" -ge "$N"
check "git fsck --full --strict passes" git --git-dir="$G" fsck --full --strict
check "git log and cat-file read every commit's tree" sh -c \
	"git --git-dir='$G' log --format=%T main | git --git-dir='$G' cat-file --batch-check | grep -vq missing"
check "every version of the deep file reads back" versions_read "$F" deep "$N"
check "every version of the other file reads back" versions_read "$K" kept "$N"
VERIFY=$(offline verify 2>&1)
VRC=$?
assert_eq "recfs verify passes: $(printf '%s' "$VERIFY" | tail -n 2 | tr '\n' '|')" 0 "$VRC"

check "recfs gc" offline gc
D=$(tree_deltas)
echo "# tree deltas after gc: $D"
assert_eq "gc leaves one pack" 1 "$(ls "$G"/objects/pack/pack-*.idx | wc -l)"
check "gc's pack holds trees as deltas ($D)" test "$D" -ge "$N"
check "git fsck --full --strict passes after gc" git --git-dir="$G" fsck --full --strict
check "every version of the deep file reads back after gc" versions_read "$F" deep "$N"
VERIFY=$(offline verify 2>&1)
VRC=$?
assert_eq "recfs verify passes after gc: $(printf '%s' "$VERIFY" | tail -n 2 | tr '\n' '|')" 0 "$VRC"

# A disposal of the deep record: every version of it destroyed, deltas or not.
mount_vault "$V" "$M"
check "the deep record leaves the mount" rm -rf "$M/cases/deep"
check "flush" recfs flush "$M"
umount_vault "$M" "$V"
OUT=$("$DISPOSE_TOOL" "$V" "$P" /cases/deep 1 2>&1)
check "the disposal's ids are listed and shredded: $OUT" test -s "$V/disposed/1"
check "recfs gc after the disposal" offline gc
REVS=$(hist log -n 100000 2>/dev/null | awk '{print $1}' | sort -u)
leaks=0
for rev in $REVS; do
	out=$(hist show "/$F" --rev "$rev" 2>/dev/null) && leaks=$((leaks + 1))
	case $out in *version*) leaks=$((leaks + 1)) ;; esac
done
assert_eq "no version of the deep file reads back after the disposal" 0 "$leaks"
check "no content of it in the vault" sh -c "! grep -rqa 'deep version' '$V'"
check "git fsck --full --strict passes after the disposal and gc" git --git-dir="$G" fsck --full --strict
check "every version of the other file reads back after the disposal and gc" versions_read "$K" kept "$N"
VERIFY=$(offline verify 2>&1)
VRC=$?
assert_eq "recfs verify passes after the disposal and gc: $(printf '%s' "$VERIFY" | tail -n 2 | tr '\n' '|')" 0 "$VRC"
assert_match "verify counts the destroyed keys" "destroyed \(disposal 1\)" "$VERIFY"
finish
