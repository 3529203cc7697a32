#!/bin/bash
# programs: ordinary programs on a mounted vault (issue 3, must hold 3):
# cp -a, tar -x, rsync -a, git clone + git fsck, and the office-suite save
# pattern. Content must be byte-identical, and metadata the same as the same
# program gives on ext4, before and after umount + remount.
# Must never: run outside its temp folder.
. "$(dirname "$0")/lib.sh"

V=$IT_TMP/vault M=$IT_TMP/mnt REF=$IT_TMP/ext4 SRC=$IT_TMP/src
# TAR_TREE: what tar -x unpacks (default the whole of /usr/include).
TAR_TREE=${TAR_TREE:-/usr/include}
mkdir -p "$REF" "$SRC"

# ---- a source tree with the awkward cases, plus part of /usr/include ----
make_source_tree() {
	local s=$SRC/tree
	mkdir -p "$s/inc" "$s/odd/empty dir" "$s/odd/deep/a/b/c/d"
	cp -a /usr/include/linux /usr/include/asm-generic "$s/inc/" || return 1
	head -c 3000000 /dev/urandom >"$s/odd/big.bin"
	: >"$s/odd/empty"
	printf 'x' >"$s/odd/one-byte"
	head -c 4096 /dev/urandom >"$s/odd/exact-block"
	head -c 8193 /dev/urandom >"$s/odd/two-blocks-and-one"
	truncate -s 10M "$s/odd/sparse" && printf 'middle' | dd of="$s/odd/sparse" bs=1 seek=5000000 conv=notrunc status=none
	printf 'secret\n' >"$s/odd/private" && chmod 600 "$s/odd/private"
	printf '#!/bin/sh\necho hi\n' >"$s/odd/script" && chmod 755 "$s/odd/script"
	printf 'ro\n' >"$s/odd/readonly" && chmod 444 "$s/odd/readonly"
	printf 'owned\n' >"$s/odd/owned" && chown 1234:2345 "$s/odd/owned"
	printf 'caf\xc3\xa9\n' >"$s/odd/caf$(printf '\xc3\xa9') $(printf '\xe6\x97\xa5\xe6\x9c\xac').txt"
	printf 'deep\n' >"$s/odd/deep/a/b/c/d/leaf"
	ln -s ../odd/big.bin "$s/odd/deep/rel-link"
	ln -s /nonexistent/target "$s/odd/dangling"
	setfattr -n user.project -v records "$s/odd/one-byte"
	chmod 2775 "$s/odd/deep"
	touch -h -d '2001-02-03 04:05:06.123456789' "$s/odd/one-byte" "$s/odd/dangling" "$s/odd/deep/a"
}
make_source_tree || die "could not build the source tree"

make_vault "$V"
mount_vault "$V" "$M"

# same_as_ext4 DESC DIR_ON_MOUNT DIR_ON_EXT4: contents equal, and metadata equal.
same_as_ext4() {
	local desc=$1 a=$2 b=$3
	if diff -r --no-dereference "$a" "$b" >"$IT_TMP/diff.out" 2>&1; then
		ok "$desc: diff -r finds no difference"
	else
		not_ok "$desc: diff -r: $(head -c 600 "$IT_TMP/diff.out" | tr '\n' '|')"
	fi
	tree_sums "$a" >"$IT_TMP/sums.a"
	tree_sums "$b" >"$IT_TMP/sums.b"
	if [ -s "$IT_TMP/sums.b" ] && cmp -s "$IT_TMP/sums.a" "$IT_TMP/sums.b"; then
		ok "$desc: sha256 of all $(wc -l <"$IT_TMP/sums.b") files identical"
	else
		not_ok "$desc: sha256 lists differ: $(diff "$IT_TMP/sums.a" "$IT_TMP/sums.b" | head -5 | tr '\n' '|')"
	fi
	meta_of "$a" >"$IT_TMP/meta.a"
	meta_of "$b" >"$IT_TMP/meta.b"
	if cmp -s "$IT_TMP/meta.a" "$IT_TMP/meta.b"; then
		ok "$desc: types, modes, owners, sizes, mtimes and link targets as on ext4"
	else
		not_ok "$desc: metadata differs (mount < > ext4): $(diff "$IT_TMP/meta.a" "$IT_TMP/meta.b" | head -6 | tr '\n' '|')"
	fi
}

# Metadata without folder sizes (they differ between any two file systems).
meta_of() {
	(cd "$1" && {
		find . -mindepth 1 -type d -printf '%p d %m %U:%G %T@\n'
		find . -mindepth 1 ! -type d -printf '%p %y %m %U:%G %s %T@ %l\n'
	} | sort)
}

# ---- cp -a ----
check "cp -a of the tree into the mount" cp -a "$SRC/tree" "$M/cp"
cp -a "$SRC/tree" "$REF/cp"
same_as_ext4 "cp -a" "$M/cp" "$REF/cp"
assert_eq "cp -a kept the user.* xattr" "records" "$(getfattr --absolute-names --only-values -n user.project "$M/cp/odd/one-byte" 2>&1)"

# ---- tar -x ----
tar -C "$(dirname "$TAR_TREE")" -cf "$IT_TMP/tree.tar" "$(basename "$TAR_TREE")" 2>/dev/null ||
	die "could not tar $TAR_TREE"
tar -C "$SRC/tree" -rf "$IT_TMP/tree.tar" odd || die "could not add odd/ to the tarball"
mkdir -p "$M/tar" "$REF/tar"
start=$(date +%s.%N)
check "tar -x of $(tar -tf "$IT_TMP/tree.tar" | wc -l) entries into the mount" tar -C "$M/tar" -xf "$IT_TMP/tree.tar"
echo "# tar -x took $(echo "$(date +%s.%N) - $start" | bc) s"
tar -C "$REF/tar" -xf "$IT_TMP/tree.tar"
same_as_ext4 "tar -x" "$M/tar" "$REF/tar"
check "tar -d (compare archive with the mount) finds no difference" tar -C "$M/tar" -df "$IT_TMP/tree.tar"

# ---- rsync -a ----
check "rsync -aX into the mount" rsync -aX "$SRC/tree/" "$M/rsync/"
rsync -aX "$SRC/tree/" "$REF/rsync/"
same_as_ext4 "rsync -aX" "$M/rsync" "$REF/rsync"
rsync -aXc -n -i "$SRC/tree/" "$M/rsync/" >"$IT_TMP/rsync.items" 2>&1
assert_eq "rsync -n -aXc --itemize-changes finds nothing to change" "" "$(head -c 600 "$IT_TMP/rsync.items")"
# a second rsync after edits moves only what changed, and the result matches again
printf 'changed\n' >>"$SRC/tree/odd/one-byte"
rm "$SRC/tree/odd/empty"
check "rsync -aX --delete of an edited tree" rsync -aX --delete "$SRC/tree/" "$M/rsync/"
rsync -aXc -n -i --delete "$SRC/tree/" "$M/rsync/" >"$IT_TMP/rsync.items" 2>&1
assert_eq "after the update rsync finds nothing to change" "" "$(head -c 600 "$IT_TMP/rsync.items")"

# ---- git clone ----
make_git_source() {
	local g=$IT_TMP/gitsrc i
	git init -q -b main "$g" && cd "$g" || return 1
	git config user.name Tester && git config user.email tester@example.invalid
	mkdir -p docs bin
	for i in 1 2 3 4 5 6; do
		head -c $((i * 7000)) /dev/urandom >"docs/blob$i.bin"
		printf 'line %s\n' $(seq 1 $((i * 300))) >docs/notes.txt
		printf '#!/bin/sh\necho %s\n' "$i" >bin/run.sh && chmod 755 bin/run.sh
		[ $i = 2 ] && ln -s docs/notes.txt notes-link
		[ $i = 4 ] && git rm -q docs/blob1.bin
		git add -A && git commit -q -m "commit $i" || return 1
		[ $i = 3 ] && git tag v0.3
	done
	git checkout -q -b feature && printf 'feature\n' >feature.txt && git add feature.txt &&
		git commit -q -m feature && git checkout -q main
}
(make_git_source) || die "could not make the source git repository"
check "git clone of a local repository into the mount" git clone -q "$IT_TMP/gitsrc" "$M/clone"
check "git fsck --full --strict inside the mount" git -C "$M/clone" fsck --full --strict --no-progress
assert_eq "clone has a clean work tree" "" "$(git -C "$M/clone" status --porcelain 2>&1)"
assert_eq "clone HEAD is the source HEAD" "$(git -C "$IT_TMP/gitsrc" rev-parse HEAD)" \
	"$(git -C "$M/clone" rev-parse HEAD 2>&1)"
check "clone work tree equals the source work tree" \
	diff -r --no-dereference --exclude=.git "$IT_TMP/gitsrc" "$M/clone"
assert_eq "executable bit of bin/run.sh survives" "755" "$(stat -c %a "$M/clone/bin/run.sh")"
check "git checkout of another branch and a tag in the mount" \
	bash -c "git -C '$M/clone' checkout -q origin/feature && git -C '$M/clone' checkout -q v0.3 && git -C '$M/clone' checkout -q main"
check "git commit inside the mount" bash -c "cd '$M/clone' && printf 'edit\n' >>docs/notes.txt &&
	git -c user.name=T -c user.email=t@x.invalid commit -q -am 'edit in mount'"
check "git gc --prune=now inside the mount" git -C "$M/clone" gc -q --prune=now
check "git fsck --full after gc" git -C "$M/clone" fsck --full --strict --no-progress
MOUNT_HEAD=$(git -C "$M/clone" rev-parse HEAD)

# ---- office save pattern ----
# LibreOffice: lock file .~lock.NAME#, temp file in the same folder, fsync,
# rename over the original, remove the lock. Word: ~$NAME owner file, write
# ~WRL temp, rename the original aside, rename the temp in, delete the old one.
mkdir -p "$M/office" "$IT_TMP/office"
office_save() {
	local name=$1 style=$2 src=$3 d=$M/office
	if [ "$style" = lo ]; then
		printf 'Tester,host,/tmp,01.01.2024 10:00,\n' >"$d/.~lock.$name#" &&
			cp "$src" "$d/lu$$.tmp" && sync "$d/lu$$.tmp" &&
			mv -f "$d/lu$$.tmp" "$d/$name" && rm -f "$d/.~lock.$name#"
	else
		printf 'Tester' >"$d/~\$$name" &&
			cp "$src" "$d/~WRL0001.tmp" && sync "$d/~WRL0001.tmp" &&
			{ [ ! -e "$d/$name" ] || mv "$d/$name" "$d/~WRD0000.tmp"; } &&
			mv "$d/~WRL0001.tmp" "$d/$name" && rm -f "$d/~WRD0000.tmp" "$d/~\$$name"
	fi
}
office_ok=0
for i in $(seq 1 12); do
	for doc in Report.odt Budget.docx; do
		size=$(( (RANDOM % 300 + 1) * 1000 + RANDOM % 4096 ))
		head -c "$size" /dev/urandom >"$IT_TMP/office/$doc"
		style=lo; [ "$doc" = Budget.docx ] && style=word
		if office_save "$doc" "$style" "$IT_TMP/office/$doc" && cmp -s "$IT_TMP/office/$doc" "$M/office/$doc"; then
			office_ok=$((office_ok + 1))
		else
			not_ok "office save $i of $doc ($style, $size bytes) is not byte-identical"
		fi
	done
done
assert_eq "24 office-style saves each read back byte-identical" 24 "$office_ok"
assert_eq "only the documents remain (no lock or temp files)" "Budget.docx Report.odt" \
	"$(ls -A "$M/office" | sort | tr '\n' ' ' | sed 's/ $//')"

# ---- after umount + remount everything is still there ----
for t in cp tar rsync; do tree_sums "$M/$t" >"$IT_TMP/before.$t"; done
meta_of "$M/tar" >"$IT_TMP/before.tarmeta"
remount "$V" "$M"
for t in cp tar rsync; do
	tree_sums "$M/$t" >"$IT_TMP/after.$t"
	if cmp -s "$IT_TMP/before.$t" "$IT_TMP/after.$t"; then
		ok "after remount: $t tree byte-identical"
	else
		not_ok "after remount: $t tree differs: $(diff "$IT_TMP/before.$t" "$IT_TMP/after.$t" | head -4 | tr '\n' '|')"
	fi
done
check "after remount: tar tree still equals the tarball (tar -d)" tar -C "$M/tar" -df "$IT_TMP/tree.tar"
assert_eq "after remount: tar tree metadata unchanged" "$(cat "$IT_TMP/before.tarmeta")" "$(meta_of "$M/tar")"
check "after remount: git fsck --full --strict" git -C "$M/clone" fsck --full --strict --no-progress
assert_eq "after remount: HEAD unchanged" "$MOUNT_HEAD" "$(git -C "$M/clone" rev-parse HEAD 2>&1)"
check "after remount: git clone out of the mount" git clone -q "$M/clone" "$IT_TMP/back"
for doc in Report.odt Budget.docx; do
	check "after remount: $doc byte-identical" cmp "$IT_TMP/office/$doc" "$M/office/$doc"
done
start=$(date +%s.%N)
check "rm -rf of the tar tree" rm -rf "$M/tar"
echo "# rm -rf took $(echo "$(date +%s.%N) - $start" | bc) s"
umount_vault "$M" "$V"
fsck_clean "$V" "after the programs ran"
finish
