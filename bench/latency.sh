#!/usr/bin/env bash
# bench/latency.sh: the FUSE requests of one untar, by kind, with the time each spent between
# the kernel sending it and the daemon's reply, for recfs and the peers, from the kernel's own
# tracepoints (fuse:fuse_request_send, fuse:fuse_request_end; perf, kernel 6.15 or later).
# Owns: its scratch vaults and mounts under BENCH_DIR, each on a fresh journal-less ext4 image
# (as the machine's own disk), so no target pays for another's deletions.
# Prints figures only. It must never judge speed as pass/fail, and never leave a mount behind.
#
# Usage: bench/latency.sh            (root; perf and the peers installed)
# Environment:
#   TARGETS="securefs gocryptfs recfs"   RECFS=path (default: build/tools/recfs)
#   ROUNDS=2                             rounds per target; the table is the median round by span
#   BENCH_DIR=/var/tmp/recfs-latency     TAR_SRC=/usr/include
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TARGETS=${TARGETS:-"securefs gocryptfs recfs"}
RECFS=${RECFS:-$REPO/build/tools/recfs}
ROUNDS=${ROUNDS:-2}
BENCH_DIR=${BENCH_DIR:-/var/tmp/recfs-latency}
TAR_SRC=${TAR_SRC:-/usr/include}
IMG=$BENCH_DIR/fs.img FS=$BENCH_DIR/fs

die() { printf 'latency: %s\n' "$*" >&2; exit 2; }
[[ $(id -u) == 0 ]] || die "needs root (loop images, FUSE mounts, kernel tracepoints)"
command -v perf >/dev/null || die "needs perf (Debian: linux-perf)"
[[ -d /sys/kernel/tracing/events ]] || mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null || true
[[ -d /sys/kernel/tracing/events/fuse || -d /sys/kernel/debug/tracing/events/fuse ]] ||
    die "this kernel has no fuse tracepoints (6.15 or later)"

cleanup() {
    local m
    for m in $(awk -v d="$BENCH_DIR/" 'index($2, d) == 1 { print $2 }' /proc/mounts | sort -r); do
        fusermount3 -uz "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
    done
}
trap cleanup EXIT
mkdir -p "$BENCH_DIR"
echo "bench latency pass" >"$BENCH_DIR/pass"
TAR_FILE=$BENCH_DIR/tree.tar
[[ -s $TAR_FILE ]] || tar -cf "$TAR_FILE" -C "$(dirname "$TAR_SRC")" "$(basename "$TAR_SRC")" 2>/dev/null

fresh_fs() {
    cleanup
    rm -f "$IMG"
    truncate -s 6G "$IMG"
    mkfs.ext4 -q -F -O ^has_journal "$IMG"
    mkdir -p "$FS"
    mount -o loop "$IMG" "$FS"
}

mount_target() {   # TARGET CIPHER MNT
    case $1 in
        recfs) "$RECFS" init "$2" --passphrase-file "$BENCH_DIR/pass" --insecure-fast-kdf >/dev/null 2>&1
               "$RECFS" mount "$2" "$3" --passphrase-file "$BENCH_DIR/pass" ;;
        securefs) securefs create --pbkdf pkcs5-pbkdf2-hmac-sha256 -r 1 "$2" <"$BENCH_DIR/pass" >/dev/null 2>&1
                  securefs mount -b --log "$BENCH_DIR/securefs.log" "$2" "$3" <"$BENCH_DIR/pass" 2>/dev/null ;;
        gocryptfs) gocryptfs -q -init -scryptn 10 -passfile "$BENCH_DIR/pass" "$2"
                   gocryptfs -q -passfile "$BENCH_DIR/pass" "$2" "$3" ;;
        *) die "unknown target $1" ;;
    esac
    for _ in $(seq 1 50); do mountpoint -q "$3" && return 0; sleep 0.1; done
    die "$1 did not mount"
}

# One round: untar (and recfs flush) under the tracepoints; prints "span sum" and keeps the table.
round() {   # TARGET N
    local t=$1 n=$2 c=$FS/$1/cipher m=$FS/$1/mnt flush=true
    fresh_fs
    mkdir -p "$c" "$m"
    mount_target "$t" "$c" "$m"
    sleep 1
    sync
    echo 3 >/proc/sys/vm/drop_caches
    [[ $t == recfs ]] && flush="$RECFS flush $m"
    local t0 t1
    t0=$(date +%s%N)
    perf record -q -e fuse:fuse_request_send -e fuse:fuse_request_end -a -o "$BENCH_DIR/$t.$n.data" \
        -- sh -c "tar -xf '$TAR_FILE' -C '$m' && $flush" >/dev/null 2>&1
    t1=$(date +%s%N)
    if [[ $t == recfs ]]; then "$RECFS" umount "$m"; else fusermount3 -u "$m"; fi
    perf script -i "$BENCH_DIR/$t.$n.data" 2>/dev/null | awk -v wall="$(((t1 - t0) / 1000000)).e-3" '
        /fuse_request_send/ { t = $4; sub(":", "", t); match($0, /req [0-9]+/); r = substr($0, RSTART + 4, RLENGTH - 4)
                              match($0, /\(FUSE_[A-Z_]+\)/); op = substr($0, RSTART + 6, RLENGTH - 7)
                              st[r] = t; o[r] = op; if (first == "") first = t; last = t }
        /fuse_request_end/  { t = $4; sub(":", "", t); match($0, /req [0-9]+/); r = substr($0, RSTART + 4, RLENGTH - 4)
                              if (r in st) { d = (t - st[r]) * 1e6; c[o[r]]++; s[o[r]] += d; tot += d; delete st[r] }; last = t }
        END { printf "%.3f %.3f %.3f\n", last - first, tot / 1e6, wall
              for (k in c) printf "%s %d %.1f %.3f\n", k, c[k], s[k] / c[k], s[k] / 1e6 }' >"$BENCH_DIR/$t.$n.txt"
    head -n1 "$BENCH_DIR/$t.$n.txt"
}

echo "## FUSE requests of one untar of $TAR_SRC ($(tar -tf "$TAR_FILE" | wc -l) entries), $(date -u +%FT%RZ)"
echo
echo "Each target on a fresh journal-less ext4 image. Per kind: requests, mean µs from send to reply,"
echo "and seconds in all. Span: tar's first request to the last reply; wall: tar, and for recfs its"
echo "\`recfs flush\` after it, under perf."
for t in $TARGETS; do
    for n in $(seq 1 "$ROUNDS"); do echo "$n $(round "$t" "$n")"; done >"$BENCH_DIR/$t.spans"
    med=$(sort -k2 -n "$BENCH_DIR/$t.spans" | awk -v r="$ROUNDS" 'NR == int((r + 1) / 2) { print $1 }')
    read -r span sum wall < <(head -n1 "$BENCH_DIR/$t.$med.txt")
    echo
    echo "### $t: span ${span} s (rounds: $(cut -d' ' -f2 "$BENCH_DIR/$t.spans" | tr '\n' ' ')), in requests ${sum} s, wall ${wall} s"
    echo
    echo "| request | count | mean µs | seconds |"
    echo "|---|---|---|---|"
    tail -n +2 "$BENCH_DIR/$t.$med.txt" | sort -k4 -rn | awk '{ printf "| %s | %d | %.1f | %.3f |\n", $1, $2, $3, $4 }'
done
