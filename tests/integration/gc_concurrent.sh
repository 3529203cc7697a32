#!/usr/bin/env bash
# gc_concurrent: `recfs gc MOUNT` looped while two writers save (one big
# files with fsync, one small files) must never drop an object that a commit,
# or a save not yet committed, refers to: verify finds nothing missing after.
. "$(dirname "$0")/lib.sh"

V=$IT_TMP/vault
M=$IT_TMP/mnt
make_vault "$V"
mount_vault "$V" "$M"
mkdir -p "$M/big" "$M/small"

STOP=$IT_TMP/stop
big_writer() {
	local i=0 size
	while [ ! -e "$STOP" ]; do
		size=$(( (8 + i % 6) << 20 ))     # 8..13 MiB
		head -c "$size" /dev/urandom | dd of="$M/big/f$((i % 3))" bs=1M conv=fsync status=none
		i=$((i + 1))
		sleep 0.2
	done
	echo "$i" >"$IT_TMP/big.count"
}
small_writer() {
	local i=0
	while [ ! -e "$STOP" ]; do
		echo "note $i $RANDOM" >"$M/small/n$((i % 40))"
		i=$((i + 1))
		sleep 0.005
	done
	echo "$i" >"$IT_TMP/small.count"
}
big_writer & BW=$!
small_writer & SW=$!
on_exit "touch $STOP; kill $BW $SW"

end=$((SECONDS + ${GC_SECONDS:-15}))
gcs=0 gcfail=0
while [ $SECONDS -lt $end ]; do
	if recfs gc "$M" >"$IT_TMP/gc.out" 2>&1; then
		gcs=$((gcs + 1))
	else
		gcfail=$((gcfail + 1))
		cp "$IT_TMP/gc.out" "$IT_TMP/gc.fail"
	fi
done
touch "$STOP"; [ -f "$IT_TMP/gc.fail" ] && sed "s/^/# gc: /" "$IT_TMP/gc.fail"
wait "$BW" "$SW"
echo "# $gcs gc runs ($gcfail failed) beside $(cat "$IT_TMP/big.count") big and $(cat "$IT_TMP/small.count") small saves"
assert_eq "every gc beside the writers succeeds" 0 "$gcfail"
[ "$gcs" -gt 0 ] || not_ok "no gc ran"
check "recfs flush after the writers" recfs flush "$M"
umount_vault "$M" "$V"

recfs verify "$V" --passphrase-file "$V.pass" >"$IT_TMP/verify.out" 2>&1
rc=$?
assert_eq "recfs verify after gc beside writers finds no problem (exit)" 0 "$rc"
assert_eq "no object is missing after gc beside writers" 0 \
	"$(grep -ci 'not found\|missing\|corrupt' "$IT_TMP/verify.out")"
[ $rc -eq 0 ] || head -5 "$IT_TMP/verify.out" | sed 's/^/# /'

# Every version of the big files can still be shown.
bad=0 n=0
for f in f0 f1 f2; do
	for rev in $(recfs log --vault "$V" --passphrase-file "$V.pass" "/big/$f" --json-lines -n 8 2>/dev/null |
	             sed -n 's/.*"rev":"\([^"]*\)".*/\1/p'); do
		n=$((n + 1))
		recfs show --vault "$V" --passphrase-file "$V.pass" "/big/$f" --rev "$rev" -o "$IT_TMP/shown" \
			>"$IT_TMP/show.out" 2>&1 || { bad=$((bad + 1)); head -1 "$IT_TMP/show.out" | sed 's/^/# /'; }
	done
done
[ "$n" -gt 3 ] || not_ok "too few versions of the big files to look at ($n)"
assert_eq "every version of a big file saved during gc can be shown ($n looked at)" 0 "$bad"
finish
