#!/bin/bash
# capture: saves reach history whatever happens to the file after its save
# (issue "Keep every promise under faults and hostile hands", items 4 and 5):
# a sparse file bigger than one chunk removed right after its save keeps its
# batch in history and history going; a folder deeper than PATH_MAX in live/
# still gets its versions. Real mount, real git.
# Must never: run outside its temp folder.
. "$(dirname "$0")/lib.sh"

V=$IT_TMP/vault M=$IT_TMP/mnt
make_vault "$V"
mount_vault "$V" "$M"

vlog() {
	recfs log "$@" --json-lines -n 100000 2>/dev/null
}
jfield() {
	sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p"
}

# ---- item 4: a sparse file gone right after its save ----
for i in 1 2 3; do echo "before $i" >"$M/before$i"; done
check "flush before the sparse file" recfs flush "$M"
# One byte at 8 MiB (a file of nine chunks and more), closed, removed at once;
# other files saved meanwhile share its batch.
dd if=/dev/zero of="$M/sparse" bs=1 count=1 seek=8M conv=notrunc status=none ||
	not_ok "dd of one byte at 8 MiB"
rm -f "$M/sparse"
for i in 1 2 3 4 5; do echo "after $i" >"$M/after$i"; done
check "recfs flush after a sparse file is removed right after its save" recfs flush "$M"
for i in 1 2 3 4 5; do
	assert_eq "after$i (saved in the same batch as the gone file) is in history" "after $i" \
		"$(recfs show "$M/after$i" --rev "$(vlog "$M/after$i" | head -n1 | jfield rev)" 2>&1)"
done
gone=$(vlog "$M/sparse" | jfield what | tr '\n' ' ')
if grep -q 'could not commit\|could not record' "$M.daemon.log"; then
	not_ok "the daemon logged a failure for the gone file: $(grep -m2 'could not' "$M.daemon.log" | tr '\n' '|')"
else
	ok "no save failed for the gone file"
fi
assert_match "the gone file's save is committed (saved, then deleted)" "deleted.*saved" "$gone"
rev=$(vlog "$M/sparse" | grep '"what":"saved"' | head -n1 | jfield rev)
assert_eq "recfs show of the gone file's save gives 8 MiB + 1 byte" "$((8 * 1024 * 1024 + 1))" \
	"$(recfs show "$M/sparse" --rev "$rev" 2>/dev/null | wc -c)"
# History goes on: a later save is a version, flush and log work.
echo later >"$M/later"
check "recfs flush works after it" recfs flush "$M"
assert_eq "a later save is a version" "later" \
	"$(recfs show "$M/later" --rev "$(vlog "$M/later" | head -n1 | jfield rev)" 2>&1)"
check "recfs log works after it" recfs log "$M"

# ---- item 5: a folder deeper than PATH_MAX in live/ ----
name=$(printf 'd%.0s' $(seq 1 150))
deep=$M
for i in $(seq 1 19); do deep=$deep/$name; done
mkdir -p "$deep" || not_ok "mkdir -p of 19 levels of 150-character names"
echo "deep content" >"$deep/file.txt" || not_ok "write a file 19 levels down"
check "recfs flush after the deep save" recfs flush "$M"
if grep -q 'could not record' "$M.daemon.log"; then
	not_ok "a deep save was not recorded: $(grep -m1 'could not record' "$M.daemon.log" | cut -c1-200)"
else
	ok "every deep save was recorded"
fi
drev=$(vlog "$deep/file.txt" | head -n1 | jfield rev)
assert_match "recfs log shows the deep file's version" "^[0-9a-f]{40}$" "$drev"
assert_eq "recfs show returns the deep file's version" "deep content" \
	"$(recfs show "$deep/file.txt" --rev "$drev" 2>&1)"
echo "deep again" >"$deep/file.txt"
check "recfs flush after the second deep save" recfs flush "$M"
assert_eq "two saves of the deep file are two versions" 2 "$(vlog "$deep/file.txt" | grep -c '"what":"saved"')"

umount_vault "$M" "$V"
check "recfs verify after both" recfs verify "$V" --passphrase-file "$V.pass"
finish
