#!/usr/bin/env bash
# bench/requests.sh: the FUSE requests recfs receives for each entry of the metadata workloads of
# bench.sh (untar, ls -lR, cold cat, rm -rf), counted from the daemon's debug output, and the INIT
# flags the kernel offered against those the daemon's reply took.
# Owns: one scratch vault, mounted with `recfs mount -d`, and its request counts.
# Counts, not times: they are the same on a busy machine. It must never judge them as pass/fail
# (tests/integration/requests.sh asserts the ones that matter), and never leave a mount behind.
#
# Usage: bench/requests.sh          (bench.sh requests runs it too)
# Environment:
#   RECFS=path                       the recfs binary (default: a build under the repo, then PATH)
#   TAR_SRC=/usr/include             the tree to unpack, as in bench.sh
#   BENCH_DIR=/var/tmp/recfs-requests  scratch space
set -euo pipefail

TAR_SRC=${TAR_SRC:-/usr/include}
BENCH_DIR=${BENCH_DIR:-/var/tmp/recfs-requests}
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [[ -z "${RECFS:-}" ]]; then
    for RECFS in "$REPO"/build/tools/recfs "$REPO"/builddir/tools/recfs "$(command -v recfs || true)"; do
        [[ -n "$RECFS" && -x "$RECFS" ]] && break
    done
fi
[[ -x "${RECFS:-}" ]] || { echo "requests: no recfs binary (set RECFS=/path/to/recfs)" >&2; exit 2; }
[[ -d "$TAR_SRC" ]] || { echo "requests: TAR_SRC=$TAR_SRC is not a folder" >&2; exit 2; }

VAULT=$BENCH_DIR/vault
MNT=$BENCH_DIR/mnt
LOG=$BENCH_DIR/daemon.log
PASS=$BENCH_DIR/passphrase
DAEMON=""

cleanup() {
    if mountpoint -q "$MNT" 2>/dev/null; then "$RECFS" umount "$MNT" >/dev/null 2>&1 || fusermount3 -uz "$MNT" 2>/dev/null || true; fi
    [[ -n "$DAEMON" ]] && wait "$DAEMON" 2>/dev/null || true
    rm -rf "${BENCH_DIR:?}"
}

mount_debug() {
    "$RECFS" mount "$VAULT" "$MNT" --passphrase-file "$PASS" -d >>"$LOG" 2>&1 &
    DAEMON=$!
    local i
    for i in $(seq 1 200); do
        mountpoint -q "$MNT" && return 0
        kill -0 "$DAEMON" 2>/dev/null || break
        sleep 0.1
    done
    echo "requests: the debug mount did not come up: $(tail -n 3 "$LOG")" >&2
    exit 1
}

unmount_debug() {
    "$RECFS" umount "$MNT" >/dev/null
    wait "$DAEMON" || true
    DAEMON=""
}

drop_caches() { sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true; }

# Wait until the daemon has logged everything (FORGETs come after the command returns).
settle() {
    local a b
    a=$(wc -l < "$LOG")
    while sleep 0.3; b=$(wc -l < "$LOG"); [[ "$a" != "$b" ]]; do a=$b; done
}

# phase NAME CMD...: run CMD on the mount; the requests it caused go to $BENCH_DIR/NAME.count
phase() {
    local name=$1 start
    shift
    settle
    start=$(wc -l < "$LOG")
    "$@"
    settle
    awk -v s="$start" 'NR > s && match($0, /^unique: [0-9]+, opcode: [A-Z_0-9]+/) {
        split(substr($0, RSTART, RLENGTH), f, " "); n[f[4]]++ }
        END { for (o in n) print o, n[o] }' "$LOG" > "$BENCH_DIR/$name.count"
}

trap cleanup EXIT
trap 'exit 130' INT TERM
rm -rf "$BENCH_DIR"
mkdir -p "$BENCH_DIR" "$MNT"
( umask 077; printf 'bench-only passphrase, not a secret\n' > "$PASS" )
"$RECFS" init "$VAULT" --passphrase-file "$PASS" --insecure-fast-kdf >"$BENCH_DIR/init.log" 2>&1 ||
    { echo "requests: recfs init failed: $(tail -n 3 "$BENCH_DIR/init.log")" >&2; exit 1; }
TOP=$(basename "$TAR_SRC")
tar -C "$(dirname "$TAR_SRC")" -cf "$BENCH_DIR/tree.tar" "$TOP"
read -r ENTRIES FILES DIRS LINKS < <(tar -tvf "$BENCH_DIR/tree.tar" | awk '
    { n++ } /^-/ { f++ } /^d/ { d++ } /^l/ { l++ } END { print n, f + 0, d + 0, l + 0 }')

mount_debug
# The same steps as bench.sh's meta section: untar and flush, ls -lR, cold remount, cat, rm -rf.
drop_caches
phase untar sh -c 'tar -xf "$1" -C "$2" && "$3" flush "$2"' sh "$BENCH_DIR/tree.tar" "$MNT" "$RECFS"
phase ls sh -c 'ls -lR "$1" > /dev/null' sh "$MNT/$TOP"
unmount_debug
drop_caches
mount_debug
phase cat sh -c 'find "$1" -type f -exec cat {} + > /dev/null' sh "$MNT/$TOP"
phase rm rm -rf "${MNT:?}/$TOP"
unmount_debug

echo "## FUSE requests per entry, $(date -u +%Y-%m-%dT%H:%MZ)"
echo
echo "- tree: $TAR_SRC, $ENTRIES entries ($FILES files, $DIRS folders, $LINKS symbolic links); kernel $(uname -r);" \
     "$(dpkg-query -W -f 'libfuse ${Version}' libfuse3-3 2>/dev/null || echo 'libfuse ?')"
echo "- recfs: $RECFS"
echo
PHASES=(untar ls cat rm)
declare -A TITLE=([untar]="untar + flush" [ls]="ls -lR (after the untar)" [cat]="cold cat of all" [rm]="rm -rf (after the cat)")
cat "$BENCH_DIR"/*.count | awk '{ print $1 }' | sort -u > "$BENCH_DIR/opcodes"
row="| request |"; sep="|---|"
for p in "${PHASES[@]}"; do row+=" ${TITLE[$p]} |"; sep+="---|"; done
echo "$row"; echo "$sep"
while read -r op; do
    row="| $op |"
    for p in "${PHASES[@]}"; do
        row+=" $(awk -v o="$op" -v e="$ENTRIES" '$1 == o { c = $2 } END { if (c) printf "%.2f (%d)", c / e, c; else print "-" }' "$BENCH_DIR/$p.count") |"
    done
    echo "$row"
done < "$BENCH_DIR/opcodes"
row="| **all** |"
for p in "${PHASES[@]}"; do
    row+=" **$(awk -v e="$ENTRIES" '{ c += $2 } END { printf "%.2f (%d)", c / e, c }' "$BENCH_DIR/$p.count")** |"
done
echo "$row"
echo
echo "Each cell: requests per entry of the tree (total). FORGETs are the kernel dropping inodes, sent without waiting."

# INIT: what the kernel offered, what libfuse put in its reply, and what was sent (recfs adds what
# libfuse 3.14 leaves out, and logs it); the first INIT of the log.
awk '/opcode: INIT/ { i = 1 } i == 1 && /^flags=/ { k = $0; i = 2 } i == 2 && /^   flags=/ { r = $0; i = 3 }
     i == 3 && /INIT reply sent: flags=/ { s = $0; sub(/ \(.*/, "", s) }
     i == 3 && /^unique: / { sub(/.*=/, "", k); sub(/.*=/, "", r); sub(/.*=/, "", s); print k, r, (s ? s : r); exit }' "$LOG" |
while read -r offered libfuse taken; do
    echo
    echo "INIT: the kernel offered flags=$offered; libfuse's reply had flags=$libfuse; sent: flags=$taken. Offered and not taken:"
    names=(ASYNC_READ POSIX_LOCKS FILE_OPS ATOMIC_O_TRUNC EXPORT_SUPPORT BIG_WRITES DONT_MASK SPLICE_WRITE
           SPLICE_MOVE SPLICE_READ FLOCK_LOCKS HAS_IOCTL_DIR AUTO_INVAL_DATA DO_READDIRPLUS READDIRPLUS_AUTO
           ASYNC_DIO WRITEBACK_CACHE NO_OPEN_SUPPORT PARALLEL_DIROPS HANDLE_KILLPRIV POSIX_ACL ABORT_ERROR
           MAX_PAGES CACHE_SYMLINKS NO_OPENDIR_SUPPORT EXPLICIT_INVAL_DATA MAP_ALIGNMENT SUBMOUNTS
           HANDLE_KILLPRIV_V2 SETXATTR_EXT INIT_EXT INIT_RESERVED)
    left=""
    for bit in "${!names[@]}"; do
        if (( (offered >> bit) & 1 && !((taken >> bit) & 1) )); then left+=" ${names[$bit]}"; fi
    done
    echo "${left# }"
done
