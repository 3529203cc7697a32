#!/usr/bin/env bash
# bench/retention.sh: what the retention check costs. Two recfs vaults on one disk, one with a
# 50-class policy loaded (the tree is unpacked inside one of its records, one hold in force)
# and one with none, each round unpacking the same tree and listing it with ls -lR, in turn.
# Owns: the 50-class policy it makes, its timing and the ratio it prints.
# Prints figures and ratios only; never judges them pass/fail, never leaves a mount behind.
#
# Usage: bench/retention.sh
# Environment:
#   ROUNDS=5                        interleaved rounds; each figure is the median
#   RECFS=path                      the recfs binary (default: build/tools/recfs, then PATH)
#   BENCH_DIR=/var/tmp/recfs-retention-bench   scratch space
#   TAR_SRC=/usr/include            the small-file tree to unpack
set -euo pipefail

ROUNDS=${ROUNDS:-5}
BENCH_DIR=${BENCH_DIR:-/var/tmp/recfs-retention-bench}
TAR_SRC=${TAR_SRC:-/usr/include}
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [[ -z "${RECFS:-}" ]]; then
    if [[ -x $REPO/build/tools/recfs ]]; then RECFS=$REPO/build/tools/recfs; else RECFS=$(command -v recfs); fi
fi
[[ -x $RECFS ]] || { echo "bench: no recfs binary (set RECFS)" >&2; exit 2; }
[[ $(id -u) == 0 ]] || { echo "bench: run as root (FUSE mounts, drop_caches)" >&2; exit 2; }

log() { printf '[bench] %s\n' "$*" >&2; }

cleanup() {
    local m
    for m in "$BENCH_DIR"/*/mnt; do
        mountpoint -q "$m" 2>/dev/null && { "$RECFS" umount "$m" || fusermount3 -uz "$m"; }
    done
    rm -rf "$BENCH_DIR"
}
trap cleanup EXIT
rm -rf "$BENCH_DIR"
mkdir -p "$BENCH_DIR/results"
head -c 24 /dev/urandom | base64 > "$BENCH_DIR/pass"
tar -cf "$BENCH_DIR/tree.tar" -C "$(dirname "$TAR_SRC")" "$(basename "$TAR_SRC")"
TOP=$(basename "$TAR_SRC")

# 50 classes, every lock rule and trigger; records under deptNN/ and deptNN/sealed/.
{
    echo "organisation = Bench Council"
    echo "archive = /srv/records/archive"
    for i in $(seq -w 1 50); do
        case $(( 10#$i % 3 )) in 0) lock=never ;; 1) lock="when closed" ;; *) lock=always ;; esac
        [[ $i == 01 ]] && lock="when closed"
        printf '[class c%s]\nrecords = dept%s/*\nretain = %d years after closed\nthen = destroy\nlock = %s\n\n' \
            "$i" "$i" $(( 10#$i % 12 + 1 )) "$lock"
    done
} > "$BENCH_DIR/policy.conf"

setup() {   # setup NAME WITH_POLICY
    local d=$BENCH_DIR/$1
    mkdir -p "$d/mnt"
    "$RECFS" init "$d/vault" --passphrase-file "$BENCH_DIR/pass" --insecure-fast-kdf >/dev/null
    "$RECFS" mount "$d/vault" "$d/mnt" --passphrase-file "$BENCH_DIR/pass"
    mkdir -p "$d/mnt/dept01/r1" "$d/mnt/dept01/held"
    if [[ $2 == 1 ]]; then
        "$RECFS" policy load "$d/mnt" "$BENCH_DIR/policy.conf" >/dev/null
        "$RECFS" hold add "$d/mnt/dept01/held" --name bench --authority "bench" >/dev/null
    fi
}

now() { echo "$EPOCHREALTIME"; }
timed() {   # timed NAME TEST ROUND CMD...
    local name=$1 test=$2 round=$3 start; shift 3
    start=$(now)
    "$@" > /dev/null
    awk -v s="$start" -v e="$(now)" 'BEGIN { printf "%.3f\n", e - s }' > "$BENCH_DIR/results/$name.$test.$round"
}
median() {
    cat "$BENCH_DIR/results/$1.$2".* | sort -g | awk '{ v[NR] = $1 } END {
        if (NR % 2) printf "%.3f\n", v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

setup none 0
setup policy 1
for round in $(seq 1 "$ROUNDS"); do
    for name in none policy; do
        m=$BENCH_DIR/$name/mnt/dept01/r1
        log "round $round/$ROUNDS: $name"
        sync; echo 3 > /proc/sys/vm/drop_caches
        timed "$name" untar "$round" sh -c "tar -xf '$BENCH_DIR/tree.tar' -C '$m' && '$RECFS' flush '$m'"
        timed "$name" ls "$round" ls -lR "$m/$TOP"
        rm -rf "${m:?}/$TOP"
        "$RECFS" flush "$m"
    done
done

files=$(tar -tf "$BENCH_DIR/tree.tar" | wc -l)
printf '\nretention check: %s entries of %s unpacked into a record, median of %s rounds (s)\n' \
    "$files" "$TAR_SRC" "$ROUNDS"
printf '%-10s %12s %14s %8s\n' test "no policy" "50 classes" ratio
for t in untar ls; do
    a=$(median none "$t"); b=$(median policy "$t")
    printf '%-10s %12s %14s %8s\n' "$t" "$a" "$b" "$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.3f", b / a }')"
done
