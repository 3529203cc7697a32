#!/bin/bash
# progress: the progress line of long work (issue 13, must hold 8). With RECFS_PROGRESS=1
# (standing for a terminal) fsck, verify, gc, dispose and restore of a large file draw it on
# stderr: counts with their totals, bytes, and for a phase that lasts a rate and the time
# left; offline (vault unmounted) and through the daemon's "p" lines (mounted). Without it,
# and stderr not a terminal, stderr holds no progress line and stdout is byte for byte what
# it is with RECFS_PROGRESS=0 (the line never drawn). Once through a real pseudo-terminal
# (script -qec, util-linux) with nothing forced, the line is drawn and then cleared.
# Must never: run outside its temp folder.
. "$(dirname "$0")/lib.sh"

V=$IT_TMP/vault M=$IT_TMP/mnt
PF=(--passphrase-file "$V.pass")
make_vault "$V"
mount_vault "$V" "$M"

mkdir -p "$M/cases/old" "$M/cases/older" "$M/notes"
for i in 1 2 3 4 5 6 7 8; do echo "note $i" >"$M/notes/n$i.txt"; done
echo "old case" >"$M/cases/old/file.txt"
echo "older case" >"$M/cases/older/file.txt"
head -c 6000000 /dev/urandom >"$M/big.bin"
recfs flush "$M"
REV=$(recfs log "$M/big.bin" --json-lines | python3 -c 'import json, sys; print(json.loads(sys.stdin.readline())["rev"])')
head -c 100 /dev/urandom >"$M/big.bin"
recfs flush "$M"

# lines FILE: what a progress line wrote, one draw a line.
lines() { tr '\r' '\n' <"$1" | sed 's/\x1b\[K//g' | grep -v '^$'; }

# forced NAME REGEX CMD...: with RECFS_PROGRESS=1 stderr shows REGEX and ends cleared;
# stdout has no control character of the line. Its stdout is left in $IT_TMP/NAME.out.
forced() {
	local name=$1 re=$2
	shift 2
	RECFS_PROGRESS=1 "$@" >"$IT_TMP/$name.out" 2>"$IT_TMP/$name.err"
	assert_match "$name: progress on stderr" "$re" "$(lines "$IT_TMP/$name.err")"
	assert_eq "$name: the line is cleared at the end" "0d1b5b4b" "$(tail -c 4 "$IT_TMP/$name.err" | od -An -tx1 | tr -d ' \n')"
	assert_eq "$name: stdout holds nothing of it" 0 "$(tr -cd '\r\033' <"$IT_TMP/$name.out" | wc -c)"
}

# quiet NAME CMD...: stderr a file, nothing forced: stderr empty; stdout is what it is
# with RECFS_PROGRESS=0 (compared with $IT_TMP/NAME.0 when that was made).
quiet() {
	local name=$1
	shift
	(unset RECFS_PROGRESS; "$@") >"$IT_TMP/$name.q" 2>"$IT_TMP/$name.qerr"
	assert_eq "$name: no progress line off a terminal" "" "$(cat "$IT_TMP/$name.qerr")"
	if [ -f "$IT_TMP/$name.0" ]; then
		cmp -s "$IT_TMP/$name.0" "$IT_TMP/$name.q" && ok "$name: stdout byte for byte as without a line" ||
			not_ok "$name: stdout differs: $(diff "$IT_TMP/$name.0" "$IT_TMP/$name.q" | head -5 | tr '\n' '|')"
	fi
}

# ---- mounted: through the daemon ----
RECFS_PROGRESS=0 "$RECFS" verify "$M" >"$IT_TMP/verify.0" 2>/dev/null
forced verify "^verify  [0-9,]+/[0-9,]+ objects  [0-9.]+ (B|[KM]iB)/[0-9.]+ [KM]iB" recfs verify "$M"
cmp -s "$IT_TMP/verify.0" "$IT_TMP/verify.out" && ok "verify: stdout as with RECFS_PROGRESS=0" ||
	not_ok "verify: stdout differs with a line drawn"
quiet verify recfs verify "$M"
forced gc "^gc  [0-9,]+/[0-9,]+ objects packed" recfs gc "$M"
RECFS_PROGRESS=0 "$RECFS" gc "$M" >"$IT_TMP/gc.0" 2>/dev/null
quiet gc recfs gc "$M"
forced restore "^restore  [0-9.]+ (B|KiB|MiB)/11 MiB" recfs restore "$M/big.bin" --rev "$REV"
cp "$IT_TMP/restore.out" "$IT_TMP/restore.0"
quiet restore recfs restore "$M/big.bin" --rev "$REV"
cat >"$IT_TMP/policy.conf" <<'POL'
organisation = Anytown Council
[class case]
records   = cases/*
retain    = 1 year after closed
then      = destroy
authority = Case rule 1
POL
check "a policy loads" recfs policy load "$M" "$IT_TMP/policy.conf"
check "a case closed 3 years ago" recfs close "$M/cases/old" --on "$(date -d '3 years ago' +%F)"
quiet dispose recfs dispose "$M"
assert_match "dispose: what it did on stdout" "^disposal 1: cases/old .*destroyed" "$(cat "$IT_TMP/dispose.q")"
check "another case closed 3 years ago" recfs close "$M/cases/older" --on "$(date -d '3 years ago' +%F)"
forced dispose "^dispose  [01]/1 record$" recfs dispose "$M"
assert_match "dispose: stdout as ever" "^disposal 2: cases/older .*destroyed: 1 files" "$(cat "$IT_TMP/dispose.out")"
umount_vault "$M" "$V"

# ---- offline: in the command itself ----
RECFS_PROGRESS=0 "$RECFS" fsck "$V" "${PF[@]}" >"$IT_TMP/fsck.0" 2>/dev/null
forced fsck "^fsck  [0-9]+/[0-9]+ files  [0-9.]+ [KM]iB/[0-9.]+ MiB" recfs fsck "$V" "${PF[@]}"
quiet fsck recfs fsck "$V" "${PF[@]}"
RECFS_PROGRESS=0 "$RECFS" verify "$V" "${PF[@]}" >"$IT_TMP/verify.0" 2>/dev/null
forced verify "^verify  [0-9,]+/[0-9,]+ objects" recfs verify "$V" "${PF[@]}"
assert_match "verify offline: live/ first, counted as files" "^verify  [0-9]+ files? in live/" \
	"$(lines "$IT_TMP/verify.err")"
quiet verify recfs verify "$V" "${PF[@]}"
forced gc "^gc  [0-9,]+/[0-9,]+ objects packed" recfs gc "$V" "${PF[@]}"
forced restore "^restore  [0-9.]+ (B|KiB|MiB)/5.7 MiB" recfs restore --vault "$V" /big.bin --rev "$REV" "${PF[@]}"

# ---- a real terminal: script(1) gives the command a pseudo-terminal ----
if command -v script >/dev/null; then
	env -u RECFS_PROGRESS script -qec "$(printf '%q ' "$RECFS" verify "$V" "${PF[@]}")" /dev/null \
		>"$IT_TMP/pty.out" 2>&1
	assert_match "on a terminal, with nothing forced, verify draws its line" "^verify  [0-9,]+/[0-9,]+ objects" \
		"$(lines "$IT_TMP/pty.out")"
	# What the terminal shows: of each line (the terminal sends \r\n), what follows its last
	# carriage return.
	shown=$(python3 -c 'import sys
for l in open(sys.argv[1], encoding="utf-8", newline="").read().replace("\r\n", "\n").split("\n"):
    print(l.split("\r")[-1].replace("\x1b[K", ""))' "$IT_TMP/pty.out")
	assert_match "and clears it: the summary stands alone" "^$V: [0-9]+ commits, " "$shown"
	assert_eq "and no line of it is left on the screen" 0 "$(grep -c '^verify  ' <<<"$shown")"
else
	not_ok "script (util-linux) is needed for the terminal check"
fi
finish
