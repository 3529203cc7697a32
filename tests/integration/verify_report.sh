#!/usr/bin/env bash
# verify_report: verify names every problem it can see, each in words that
# say what is wrong: each differing live/ file, a HEAD moved to another
# branch, a keys/ entry flipped or zeroed under a live file; and a missing
# history object is called missing, not "does not authenticate".
. "$(dirname "$0")/lib.sh"

V=$IT_TMP/vault
M=$IT_TMP/mnt
make_vault "$V"
mount_vault "$V" "$M"
for f in a b c d; do echo "file $f" >"$M/$f.txt"; done
check "flush" recfs flush "$M"
umount_vault "$M" "$V"

vfy() { recfs verify "$V" --passphrase-file "$V.pass" >"$IT_TMP/verify.out" 2>&1; }
check "a fresh vault verifies" vfy

# ---- three live/ files changed behind the daemon's back: each is named ----
cp -a "$V/live" "$IT_TMP/live.bak"
n=0
for f in $(find "$V/live" -maxdepth 1 -type f ! -name '.*' | sort | head -3); do
	flip_byte "$f" 70
	n=$((n + 1))
done
vfy
assert_eq "verify names each of the $n live/ files that differ" "$n" \
	"$(grep -c '^live/ differs from the newest commit at .*content differs' "$IT_TMP/verify.out")"
rm -rf "$V/live" && cp -a "$IT_TMP/live.bak" "$V/live"
check "live/ put back verifies" vfy

# ---- HEAD moved to another branch ----
git --git-dir="$V/history.git" symbolic-ref HEAD refs/heads/other
vfy
check "verify reports a HEAD that points at another branch" \
	grep -q '^HEAD points at refs/heads/other, not refs/heads/main' "$IT_TMP/verify.out"
git --git-dir="$V/history.git" symbolic-ref HEAD refs/heads/main
check "HEAD put back verifies" vfy

# ---- a keys/ entry of a live file flipped, then zeroed ----
f=$(find "$V/live" -maxdepth 1 -type f ! -name '.*' | sort | head -1)
slot=$(od -An -tu8 -j4 -N8 "$f" | tr -d ' ')
copy=$(od -An -tx1 -j12 -N8 "$f" | tr -d ' \n')   # format 3: the id's second half is the copy id
keys=$V/keys/c$copy/s$(printf '%08x' $((slot / 65536)))
off=$(( (slot % 65536) * 72 ))
cp "$keys" "$IT_TMP/keys.bak"
flip_byte "$keys" $((off + 40))
vfy
check "verify reports a flipped keys/ entry of a live file" \
	grep -q "^content key of live/.* does not authenticate" "$IT_TMP/verify.out"
head -c 72 /dev/zero | dd of="$keys" bs=1 seek=$off conv=notrunc status=none
vfy
check "verify reports a zeroed keys/ entry of a live file" \
	grep -q "^content key of live/.* is zeroed" "$IT_TMP/verify.out"
cp "$IT_TMP/keys.bak" "$keys"
check "keys/ put back verifies" vfy

# ---- a missing history object is called missing ----
mount_vault "$V" "$M"
REV1=$(recfs log "$M/a.txt" --json-lines -n 1 | sed -n 's/.*"rev":"\([^"]*\)".*/\1/p')
echo "file a, second" >"$M/a.txt"
check "gc" recfs gc "$M"
umount_vault "$M" "$V"
G=$V/history.git
# the blobs of REV1 that the newest tree no longer holds: a.txt's first version
newest=$(git --git-dir="$G" ls-tree main | awk '{ print $3 }')
gone=
for b in $(git --git-dir="$G" ls-tree "$REV1" | awk '$2 == "blob" { print $3 }'); do
	echo "$newest" | grep -q "$b" || gone="$gone $b"
done
[ -n "$gone" ] || not_ok "found no blob of a.txt's first version to remove"
mv "$G"/objects/pack/pack-*.pack "$IT_TMP/all.pack" && rm -f "$G"/objects/pack/pack-*.idx
git --git-dir="$G" unpack-objects -q <"$IT_TMP/all.pack"
for b in $gone; do rm -f "$G/objects/${b:0:2}/${b:2}"; done
recfs show --vault "$V" --passphrase-file "$V.pass" /a.txt --rev "$REV1" >"$IT_TMP/show.out" 2>&1
check_fails "show of a version whose object is missing fails" test "$(cat "$IT_TMP/show.out")" = "file a"
check "show says the object is missing" grep -qi 'missing' "$IT_TMP/show.out"
check "show does not say 'does not authenticate' for a missing object" \
	bash -c "! grep -q 'does not authenticate' '$IT_TMP/show.out'"
vfy
check "verify calls it a missing object" grep -q '^missing object .* in commit ' "$IT_TMP/verify.out"
finish
