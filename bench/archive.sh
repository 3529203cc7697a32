#!/usr/bin/env bash
# bench/archive.sh: what an archive of a closed service costs, against the standard tools on the
# same plaintext. One vault, one run: SIZE_MB of records (files of FILE_KB) archived with
# `recfs archive --recipient` (an age-encrypted pax tar: bag, manifests, signature), then the
# same folder read back from the same mount by `tar -c | age -r`; then a record of VERSIONS saved
# versions archived with --history (one OCFL version each). For each: seconds, MB/s of
# plaintext, the ratio, and the daemon's peak resident memory during the archive (VmHWM, reset
# before each with /proc/PID/clear_refs).
# Owns: its scratch vault, the records it writes, the figures it prints. Prints figures only;
# never judges them pass/fail, never leaves a mount behind.
#
# Usage: bench/archive.sh
# Environment:
#   SIZE_MB=256       plaintext of the records (the issue's figure: 1024)
#   FILE_KB=1024      size of each file
#   VERSIONS=1000     saved versions of the history record (the issue's figure: 10000)
#   ROUNDS=1          rounds; each figure is the median
#   RECFS=path        the recfs binary (default: build/tools/recfs, then PATH)
#   BENCH_DIR=/var/tmp/recfs-archive-bench   scratch space (the disk being measured)
set -euo pipefail

SIZE_MB=${SIZE_MB:-256}
FILE_KB=${FILE_KB:-1024}
VERSIONS=${VERSIONS:-1000}
ROUNDS=${ROUNDS:-1}
BENCH_DIR=${BENCH_DIR:-/var/tmp/recfs-archive-bench}
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [[ -z "${RECFS:-}" ]]; then
    if [[ -x $REPO/build/tools/recfs ]]; then RECFS=$REPO/build/tools/recfs; else RECFS=$(command -v recfs); fi
fi
[[ -x $RECFS ]] || { echo "bench: no recfs binary (set RECFS)" >&2; exit 2; }
[[ $(id -u) == 0 ]] || { echo "bench: run as root (FUSE mounts, drop_caches)" >&2; exit 2; }
for t in age age-keygen tar; do
    command -v "$t" >/dev/null || { echo "bench: needs $t" >&2; exit 2; }
done

log() { printf '[bench] %s\n' "$*" >&2; }
M=$BENCH_DIR/mnt V=$BENCH_DIR/vault OUT=$BENCH_DIR/out R=$BENCH_DIR/results
cleanup() {
    mountpoint -q "$M" 2>/dev/null && { "$RECFS" umount "$M" || fusermount3 -uz "$M"; }
    rm -rf "$BENCH_DIR"
}
trap cleanup EXIT
rm -rf "$BENCH_DIR"
mkdir -p "$M" "$OUT" "$R"
head -c 24 /dev/urandom | base64 > "$BENCH_DIR/pass"
age-keygen -o "$BENCH_DIR/key" 2>/dev/null
RCPT=$(age-keygen -y "$BENCH_DIR/key")
"$RECFS" init "$V" --passphrase-file "$BENCH_DIR/pass" --insecure-fast-kdf >/dev/null
"$RECFS" mount "$V" "$M" --passphrase-file "$BENCH_DIR/pass"
PID=$(head -1 "$V/lock")

files=$(( SIZE_MB * 1024 / FILE_KB ))
log "writing $files files of $FILE_KB KiB ($SIZE_MB MB) and a file of $VERSIONS versions"
for ((i = 0; i < files; i++)); do
    d=$M/service/records/r$(( i / 100 ))
    [[ -d $d ]] || mkdir -p "$d"
    head -c $(( FILE_KB * 1024 )) /dev/urandom > "$d/f$i.bin"
done
mkdir -p "$M/history/record"
for ((i = 1; i <= VERSIONS; i++)); do
    echo "version $i" > "$M/history/record/notes.txt"
    (( i % 250 )) || "$RECFS" flush "$M"     # each close a save; flushes keep the queue short
done
"$RECFS" flush "$M"

now() { echo "$EPOCHREALTIME"; }
peak_kib() { awk '/^VmHWM/ { print $2 }' "/proc/$PID/status"; }
timed() {   # timed TEST ROUND CMD...: wall seconds, and the daemon's peak RSS (TEST.rss)
    local test=$1 round=$2 start; shift 2
    sync; echo 3 > /proc/sys/vm/drop_caches
    echo 5 > "/proc/$PID/clear_refs"         # VmHWM from now on
    start=$(now)
    "$@" > "$R/$test.out"
    awk -v s="$start" -v e="$(now)" 'BEGIN { printf "%.3f\n", e - s }' > "$R/$test.$round"
    peak_kib > "$R/$test-rss.$round"
    rm -f "$OUT"/*
}
median() {
    sort -g "$R/$1".[0-9]* | awk '{ v[NR] = $1 } END {
        if (NR % 2) printf "%.3f\n", v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

spread() {   # "min-max" of a test's rounds
    sort -g "$R/$1".[0-9]* | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%.2f-%.2f", lo, hi }'
}

for round in $(seq 1 "$ROUNDS"); do
    log "round $round/$ROUNDS: recfs archive of $SIZE_MB MB"
    timed recfs "$round" "$RECFS" archive "$M/service" --out "$OUT/s.tar.age" --recipient "$RCPT"
    log "round $round/$ROUNDS: tar -c | age -r of the same folder"
    timed tar_age "$round" sh -c "tar -cf - -C '$M' service | age -r '$RCPT' > '$OUT/s.tar.age'"
    log "round $round/$ROUNDS: recfs archive --history of $VERSIONS versions"
    timed history "$round" "$RECFS" archive "$M/history" --history --out "$OUT/h.tar.age" --recipient "$RCPT"
    timed history_tar "$round" sh -c "tar -cf - -C '$M' history | age -r '$RCPT' > '$OUT/h.tar.age'"
done

rate() { awk -v mb="$1" -v s="$2" 'BEGIN { printf "%.1f", mb / s }'; }
a=$(median recfs) b=$(median tar_age) h=$(median history) ht=$(median history_tar)
printf '\narchive of %s MB in %s files (%s KiB each), median of %s round(s), encrypted to one age recipient\n' \
    "$SIZE_MB" "$files" "$FILE_KB" "$ROUNDS"
printf '%-34s %9s %12s %9s %14s\n' "" seconds range MB/s "daemon peak"
kib() { median "$1" | cut -d. -f1; }
printf '%-34s %9s %12s %9s %11s KiB\n' "recfs archive" "$a" "$(spread recfs)" "$(rate "$SIZE_MB" "$a")" \
    "$(kib recfs-rss)"
printf '%-34s %9s %12s %9s %11s KiB\n' "tar -c | age -r (through the mount)" "$b" "$(spread tar_age)" \
    "$(rate "$SIZE_MB" "$b")" "$(kib tar_age-rss)"
printf '%-34s %9s\n' "throughput ratio recfs / tar|age" "$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", b / a }')"
printf '\na record saved %s times (%s)\n' "$VERSIONS" \
    "$(grep -h -m1 'OCFL' "$R/history.out" | sed 's/^ *history *//')"
printf '%-34s %9s %12s %14s\n' "" seconds range "daemon peak"
printf '%-34s %9s %12s %11s KiB\n' "recfs archive --history" "$h" "$(spread history)" "$(kib history-rss)"
printf '%-34s %9s %12s %11s KiB\n' "tar -c | age -r (current state)" "$ht" "$(spread history_tar)" \
    "$(kib history_tar-rss)"
