#!/bin/bash
# tamper: damage ciphertext in live/ and check it is caught (issue 3, must
# hold 5): a flipped byte, two swapped slots, a slot moved in from another
# file, a replayed slot, a file cut mid-slot, at a slot boundary and to the
# header, a damaged header, a damaged name. Reading a damaged file fails with
# EIO and never gives wrong bytes; intact files still read; recfs fsck exits 1
# and names each damaged file by its clear path.
# Ciphertext layout (crypto/content.h): 60-byte header, then 4136-byte slots.
# Must never: run outside its temp folder.
. "$(dirname "$0")/lib.sh"

HDR=60 SLOT=4136 BLK=4096
V=$IT_TMP/vault M=$IT_TMP/mnt ORIG=$IT_TMP/orig
make_vault "$V"
mount_vault "$V" "$M"
mkdir -p "$ORIG" "$M/tam/names" || die "mkdir tam"

# Each file gets a distinct plaintext size, so its ciphertext is found by size.
declare -A PLAIN=(
	[flip]=$((4 * BLK + 100)) [swap]=$((4 * BLK + 200)) [moved]=$((4 * BLK + 300))
	[donor]=$((5 * BLK)) [cutmid]=$((4 * BLK + 400)) [cutslot]=$((4 * BLK + 500))
	[cuthdr]=$((4 * BLK + 600)) [header]=$((4 * BLK + 700)) [lasttag]=$((4 * BLK + 800))
	[replay]=$((4 * BLK)) [good]=$((3 * BLK + 17)) [small]=10 [named]=12345
)
DAMAGED="flip swap moved cutmid cutslot cuthdr header lasttag replay"
INTACT="donor good small"
for f in "${!PLAIN[@]}"; do
	head -c "${PLAIN[$f]}" /dev/urandom >"$ORIG/$f"
	dir=$M/tam; [ "$f" = named ] && dir=$M/tam/names
	cp "$ORIG/$f" "$dir/$f.bin" || die "write $f"
done
printf 'fine\n' >"$M/tam/names/sibling.txt"
umount_vault "$M" "$V"

cipher_size() {
	local p=$1 full=$(($1 / BLK)) rem=$(($1 % BLK))
	echo $((HDR + full * SLOT + (rem ? rem + SLOT - BLK : 0)))
}
declare -A CT
for f in "${!PLAIN[@]}"; do
	found=$(find "$V/live" -type f ! -name .dirid ! -name '*.n' -size "$(cipher_size "${PLAIN[$f]}")c")
	[ "$(printf '%s' "$found" | grep -c .)" = 1 ] ||
		die "expected one ciphertext file of $(cipher_size "${PLAIN[$f]}") bytes for $f, found: '$found'"
	CT[$f]=$found
done
ok "found the ciphertext file of each of ${#CT[@]} files by its size"

slot() { echo $((HDR + $1 * SLOT)); }
copy_bytes() { # SRC SRC_OFF DST DST_OFF LEN
	dd if="$1" of="$3" iflag=skip_bytes,count_bytes oflag=seek_bytes conv=notrunc \
		skip="$2" seek="$4" count="$5" status=none
}
sum_before=$(sha256sum "${CT[@]}" | sha256sum)
flip_byte "${CT[flip]}" $(($(slot 1) + 24 + 1000))                    # ciphertext byte in slot 1
copy_bytes "${CT[swap]}" "$(slot 1)" "$IT_TMP/s1" 0 $SLOT              # swap slots 1 and 2
copy_bytes "${CT[swap]}" "$(slot 2)" "${CT[swap]}" "$(slot 1)" $SLOT
copy_bytes "$IT_TMP/s1" 0 "${CT[swap]}" "$(slot 2)" $SLOT
copy_bytes "${CT[donor]}" "$(slot 1)" "${CT[moved]}" "$(slot 1)" $SLOT # same position, other file
truncate -s $(($(slot 1) + 2000)) "${CT[cutmid]}"                      # mid-slot
truncate -s "$(slot 2)" "${CT[cutslot]}"                               # at a slot boundary
truncate -s $HDR "${CT[cuthdr]}"                                       # header only
flip_byte "${CT[header]}" 50                                           # header tag
flip_byte "${CT[lasttag]}" $(($(stat -c %s "${CT[lasttag]}") - 1))     # last byte: tag of final block
copy_bytes "${CT[replay]}" "$(slot 3)" "${CT[replay]}" "$(slot 4)" $SLOT # replay the final slot after itself
sum_after=$(sha256sum "${CT[@]}" | sha256sum)
[ "$sum_before" != "$sum_after" ] || die "tampering changed nothing"

# a damaged name: change one character of named.bin's encrypted name
nd=$(dirname "${CT[named]}") nb=$(basename "${CT[named]}")
first=${nb:0:1}; [ "$first" = A ] && repl=B || repl=A
TAMPERED_NAME=$repl${nb:1}
mv "${CT[named]}" "$nd/$TAMPERED_NAME" || die "rename backing name"

# ---- fsck, offline ----
vault_sum() { (cd "$V" && find . -type f ! -path ./lock -print0 | sort -z | xargs -0 sha256sum | sha256sum); }
sum_after=$(vault_sum)
recfs fsck "$V" --passphrase-file "$V.pass" >"$IT_TMP/fsck.out" 2>&1
rc=$?
echo "# fsck said:"; sed 's/^/#   /' "$IT_TMP/fsck.out" | head -30
assert_eq "recfs fsck exits 1 on a damaged vault" 1 "$rc"
for f in $DAMAGED; do
	if grep -Eq "^corrupt: /?tam/$f\.bin: " "$IT_TMP/fsck.out"; then
		ok "fsck names damaged tam/$f.bin by its clear path"
	else
		not_ok "fsck does not name damaged tam/$f.bin ('corrupt: tam/$f.bin: ...' missing)"
	fi
done
for f in $INTACT; do
	if grep -q "tam/$f\.bin" "$IT_TMP/fsck.out"; then
		not_ok "fsck reports intact tam/$f.bin"
	else
		ok "fsck does not report intact tam/$f.bin"
	fi
done
if grep '^corrupt: ' "$IT_TMP/fsck.out" | grep -Fq -e "$TAMPERED_NAME" -e "tam/names"; then
	ok "fsck reports the damaged name (in tam/names)"
else
	not_ok "fsck does not report the damaged encrypted name $TAMPERED_NAME in tam/names"
fi
assert_eq "fsck left the vault unchanged" "$sum_after" "$(vault_sum)"

# ---- reads through the mount ----
# live/ was tampered with after a clean close: a writable mount is refused
# unless the state is accepted on purpose (what does not authenticate is
# still never committed).
mount_vault "$V" "$M" --accept-history-state
for f in $DAMAGED; do
	p=$M/tam/$f.bin
	assert_eq "read() of damaged $f.bin fails with EIO" EIO "$("$POSIX_PROBE" op read "$p" 2>&1)"
	cat "$p" >"$IT_TMP/got" 2>"$IT_TMP/cat.err"
	rc=$?
	n=$(stat -c %s "$IT_TMP/got")
	if [ $rc -ne 0 ] && cmp -s -n "$n" "$IT_TMP/got" "$ORIG/$f" && [ "$n" -lt "${PLAIN[$f]}" ]; then
		ok "cat of damaged $f.bin fails, and the $n bytes it gave are the true prefix"
	else
		not_ok "cat of damaged $f.bin: exit $rc, $n bytes, prefix matches: $(cmp -s -n "$n" "$IT_TMP/got" "$ORIG/$f" && echo yes || echo NO)"
	fi
	# the same through mmap-backed programs: no wrong bytes either
	dd if="$p" of="$IT_TMP/got" bs=1M iflag=direct status=none 2>/dev/null
	n=$(stat -c %s "$IT_TMP/got")
	cmp -s -n "$n" "$IT_TMP/got" "$ORIG/$f" && [ "$n" -lt "${PLAIN[$f]}" ] &&
		ok "O_DIRECT read of $f.bin gives no wrong bytes ($n byte prefix)" ||
		not_ok "O_DIRECT read of damaged $f.bin gave $n bytes that are not a short true prefix"
done
for f in $INTACT; do
	check "intact $f.bin still reads back byte-identical" cmp "$ORIG/$f" "$M/tam/$f.bin"
done
listed=$(ls -A "$M/tam/names" 2>/dev/null | tr '\n' ' ')
assert_eq "listing with a damaged name shows no wrong name" "sibling.txt " "$listed"
check "sibling of the damaged name still reads" grep -qx fine "$M/tam/names/sibling.txt"
check "a new file can still be written beside damaged ones" bash -c "printf new >'$M/tam/new' && grep -qx new '$M/tam/new'"
# O_TRUNC discards the content, so it empties a damaged file: a cut to the
# header (NONEMPTY, no block: still EIO above) keeps its authenticated id and
# key, a forged header gets a new one. Nothing of the old content is shown.
for f in cuthdr header; do
	check "open(O_TRUNC) of damaged $f.bin succeeds" sh -c ": >'$M/tam/$f.bin'"
	assert_eq "damaged $f.bin reads as empty after O_TRUNC" 0 "$(stat -c %s "$M/tam/$f.bin")"
	check "and can be written again" bash -c "printf again >'$M/tam/$f.bin' && grep -qx again '$M/tam/$f.bin'"
done
umount_vault "$M" "$V"
finish
