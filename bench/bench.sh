#!/usr/bin/env bash
# bench/bench.sh: compares recfs with plain ext4, gocryptfs and securefs on this machine, in one run.
# Owns: timing of streaming I/O, small-file metadata work and the daemon's resident memory.
# Prints figures and ratios only. It must never judge speed as pass/fail, and never leave a mount behind.
#
# Usage: bench/bench.sh [SECTION...]      sections: io meta mem mem8 history requests (default: io meta mem mem8)
#   requests: the FUSE requests per entry of the meta workloads, for recfs alone (bench/requests.sh)
# Environment:
#   ROUNDS=3        interleaved rounds, each in a rotated order; each figure is the median, with the range of single rounds
#   SIZE_MB=256     size of the streaming file (io)
#   MEM_MB=2048     size of the file written then read while sampling RSS (mem)
#   MEM8_FILES=4    files each of the 8 writers writes (8 to 13 MiB, fsync after each; mem8)
#   MEM_ROUNDS=$ROUNDS  interleaved rounds of mem and mem8; each figure is the median, with the range
#   TARGETS="ext4 gocryptfs securefs recfs"
#   RECFS=path      the recfs binary (default: a non-sanitizer build under the repo, then PATH)
#   RECFS_BASE=path a second recfs binary (e.g. a build of an older commit): adds the target
#                   recfs_base to TARGETS, and a recfs/recfs_base row to the ratios (an A/B in one run)
#   RECFS_FLUSH=auto|0|1  time `recfs flush` inside the untar figure (auto: when the command exists)
#   BENCH_DIR=/var/tmp/recfs-bench   scratch space; must be on the disk being compared (ext4)
#   TAR_SRC=/usr/include             the small-file tree to unpack
set -euo pipefail

ROUNDS=${ROUNDS:-3}
SIZE_MB=${SIZE_MB:-256}
MEM_MB=${MEM_MB:-2048}
MEM8_FILES=${MEM8_FILES:-4}
MEM_ROUNDS=${MEM_ROUNDS:-$ROUNDS}
TARGETS=${TARGETS:-"ext4 gocryptfs securefs recfs"}
if [[ -n "${RECFS_BASE:-}" && " $TARGETS " != *" recfs_base "* ]]; then TARGETS+=" recfs_base"; fi
RECFS_FLUSH=${RECFS_FLUSH:-auto}
BENCH_DIR=${BENCH_DIR:-/var/tmp/recfs-bench}
TAR_SRC=${TAR_SRC:-/usr/include}
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

IO_TESTS=(write read)
META_TESTS=(untar ls cat rm)
declare -A TEST_TITLE=(
    [write]="write ${SIZE_MB} MB + fsync (+ recfs flush)" [read]="cold read"
    [untar]="untar" [ls]="ls -lR" [cat]="cold cat of all" [rm]="rm -rf")

declare -A SKIP_REASON=()   # target -> why it has no figures
declare -A DAEMON_PID=()    # target -> pid of the running FUSE daemon
PASSFILE=""
TAR_FILE=""
TAR_TOP=""
CAN_DROP_CACHES=1

log() { printf '[bench] %s\n' "$*" >&2; }
log_tail() { [[ -s "$BENCH_DIR/$1.log" ]] && tail -n 5 "$BENCH_DIR/$1.log" | sed "s/^/[bench]   $1: /" >&2; return 0; }
die() { printf 'bench: %s\n' "$*" >&2; exit 2; }

# ---------------------------------------------------------------- setup and cleanup

usage() {
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'
}

mounts_under_bench_dir() {
    awk -v d="$BENCH_DIR/" 'index($2, d) == 1 { print $2 }' /proc/mounts
}

SCRATCH_OWNED=0
cleanup() {
    local mnt
    (( SCRATCH_OWNED )) || return 0
    for mnt in $(mounts_under_bench_dir); do
        fusermount3 -u "$mnt" 2>/dev/null || umount "$mnt" 2>/dev/null || fusermount3 -uz "$mnt" 2>/dev/null || true
    done
    if [[ -n "$BENCH_DIR" && -d "$BENCH_DIR" && -z "$(mounts_under_bench_dir)" ]]; then
        rm -rf "$BENCH_DIR"
    fi
}

prepare_scratch() {
    [[ -z "$(mounts_under_bench_dir)" ]] || die "$BENCH_DIR still has mounts; unmount them first"
    SCRATCH_OWNED=1
    rm -rf "$BENCH_DIR"
    mkdir -p "$BENCH_DIR"
    local fstype
    fstype=$(stat -f -c %T "$BENCH_DIR")
    [[ "$fstype" == ext2/ext3 ]] || log "note: $BENCH_DIR is on $fstype, not ext4; figures compare that disk"
    PASSFILE="$BENCH_DIR/passphrase"
    ( umask 077; printf 'bench-only passphrase, not a secret\n' > "$PASSFILE" )
    if ! { sync && echo 3 > /proc/sys/vm/drop_caches; } 2>/dev/null; then
        CAN_DROP_CACHES=0
        log "note: cannot drop page caches (not root?); cold figures rely on remounts only"
    fi
}

prepare_tarball() {
    [[ -d "$TAR_SRC" ]] || die "TAR_SRC=$TAR_SRC is not a folder"
    TAR_FILE="$BENCH_DIR/tree.tar"
    TAR_TOP=$(basename "$TAR_SRC")
    tar -C "$(dirname "$TAR_SRC")" -cf "$TAR_FILE" "$TAR_TOP"
    local TAR_ENTRIES
    TAR_ENTRIES=$(tar -tf "$TAR_FILE" | wc -l)
    TEST_TITLE[untar]="untar $TAR_SRC ($TAR_ENTRIES entries)"
}

find_recfs() {
    local candidate
    if [[ -n "${RECFS:-}" ]]; then
        [[ -x "$RECFS" ]] && return 0
        SKIP_REASON[recfs]="RECFS=$RECFS is not executable"
        return 1
    fi
    for candidate in "$REPO"/build/tools/recfs "$REPO"/builddir/tools/recfs "$(command -v recfs || true)"; do
        if [[ -n "$candidate" && -x "$candidate" ]]; then RECFS=$candidate; return 0; fi
    done
    SKIP_REASON[recfs]="no recfs binary (build it, then set RECFS=/path/to/recfs)"
    return 1
}

# ---------------------------------------------------------------- targets
# Each FUSE target has create_<t> DIR, mount_<t> DIR MNT and unmount_<t> MNT; all return non-zero on failure.
# ext4 needs none: it is a plain folder on the scratch disk.

create_gocryptfs()  { gocryptfs -q -init -scryptn 10 -passfile "$PASSFILE" "$1"; }
mount_gocryptfs()   { gocryptfs -q -passfile "$PASSFILE" "$1" "$2"; }
unmount_gocryptfs() { fusermount3 -u "$1"; }

# pbkdf2 with one round: the key derivation only costs at mount time, which is not measured.
create_securefs()  { securefs create --pbkdf pkcs5-pbkdf2-hmac-sha256 -r 1 "$1" < "$PASSFILE"; }
mount_securefs()   { securefs mount -b --log "$BENCH_DIR/securefs.log" "$1" "$2" < "$PASSFILE"; }
unmount_securefs() { fusermount3 -u "$1"; }

create_recfs()  { "$RECFS" init "$1" --passphrase-file "$PASSFILE" --insecure-fast-kdf; }
mount_recfs()   { "$RECFS" mount "$1" "$2" --passphrase-file "$PASSFILE"; }
unmount_recfs() { "$RECFS" umount "$1"; }
create_recfs_base()  { RECFS=$RECFS_BASE create_recfs "$@"; }
mount_recfs_base()   { RECFS=$RECFS_BASE mount_recfs "$@"; }
unmount_recfs_base() { RECFS=$RECFS_BASE unmount_recfs "$@"; }

target_available() {
    local target=$1
    case $target in
        ext4) return 0 ;;
        gocryptfs|securefs) command -v "$target" >/dev/null || { SKIP_REASON[$target]="$target is not installed"; return 1; } ;;
        recfs) find_recfs || return 1 ;;
        recfs_base) [[ -x "${RECFS_BASE:-}" ]] || { SKIP_REASON[$target]="RECFS_BASE=${RECFS_BASE:-} is not executable"; return 1; } ;;
        *) die "unknown target '$target' (known: ext4 gocryptfs securefs recfs recfs_base)" ;;
    esac
}

cipher_dir() { echo "$BENCH_DIR/$1/cipher"; }
mount_dir()  { echo "$BENCH_DIR/$1/mnt"; }

# The daemon behind a mount: recfs names itself in VAULT/lock; the others carry MNT as their last argument.
find_daemon_pid() {
    local target=$1 mnt pid
    mnt=$(mount_dir "$target")
    if [[ $target == recfs* && -r "$(cipher_dir "$target")/lock" ]]; then
        pid=$(head -n1 "$(cipher_dir "$target")/lock" | tr -cd '0-9')
        if [[ -n "$pid" && -d /proc/$pid ]]; then echo "$pid"; return 0; fi
    fi
    pgrep -n -f -- "${mnt}\$" || true
}

wait_until() {   # wait_until SECONDS CMD...: polls every 0.05 s
    local deadline=$(( EPOCHSECONDS + $1 )); shift
    until "$@"; do
        (( EPOCHSECONDS < deadline )) || return 1
        sleep 0.05
    done
}
pid_gone() { [[ ! -d /proc/$1 ]]; }

mount_target() {
    local target=$1 mnt
    mnt=$(mount_dir "$target")
    [[ $target == ext4 ]] && return 0
    "mount_$target" "$(cipher_dir "$target")" "$mnt" >>"$BENCH_DIR/$target.log" 2>&1 || return 1
    wait_until 20 mountpoint -q "$mnt" || return 1
    DAEMON_PID[$target]=$(find_daemon_pid "$target")
}

# Waits for the daemon to exit so that the next mount finds the vault unlocked and all data on disk.
unmount_target() {
    local target=$1 mnt pid
    mnt=$(mount_dir "$target")
    [[ $target == ext4 ]] && return 0
    pid=${DAEMON_PID[$target]:-}
    "unmount_$target" "$mnt" >>"$BENCH_DIR/$target.log" 2>&1 || fusermount3 -u "$mnt" 2>/dev/null || return 1
    if [[ -n "$pid" ]] && ! wait_until 60 pid_gone "$pid"; then
        log "$target: daemon $pid still running 60 s after unmount"
        return 1
    fi
}

setup_target() {
    local target=$1
    rm -rf "${BENCH_DIR:?}/$target"
    mkdir -p "$(cipher_dir "$target")" "$(mount_dir "$target")"
    if [[ $target == ext4 ]]; then return 0; fi
    if ! "create_$target" "$(cipher_dir "$target")" >>"$BENCH_DIR/$target.log" 2>&1; then
        SKIP_REASON[$target]="creating the $target store failed"
        log "$target: ${SKIP_REASON[$target]}"; log_tail "$target"
        return 1
    fi
    if ! mount_target "$target"; then
        SKIP_REASON[$target]="mounting $target failed"
        log "$target: ${SKIP_REASON[$target]}"; log_tail "$target"
        return 1
    fi
}

teardown_target() {
    local target=$1
    unmount_target "$target" || fusermount3 -uz "$(mount_dir "$target")" 2>/dev/null || true
    rm -rf "${BENCH_DIR:?}/$target"
}

drop_caches() {
    sync
    if (( CAN_DROP_CACHES )); then echo 3 > /proc/sys/vm/drop_caches; fi
}

# Cold start: the daemon restarts and the kernel forgets every cached page and inode.
go_cold() {
    local target=$1
    unmount_target "$target" || return 1
    drop_caches
    mount_target "$target"
}

# ---------------------------------------------------------------- measuring

now() { echo "$EPOCHREALTIME"; }

# timed TARGET TEST ROUND CMD...: runs CMD, stores its wall time, or "fail" when CMD fails.
timed() {
    local target=$1 test=$2 round=$3; shift 3
    local start end status=0
    start=$(now)
    "$@" >>"$BENCH_DIR/$target.log" 2>&1 || status=$?
    end=$(now)
    if (( status == 0 )); then
        awk -v s="$start" -v e="$end" 'BEGIN { printf "%.3f\n", e - s }' > "$BENCH_DIR/results/$target.$test.$round"
    else
        echo fail > "$BENCH_DIR/results/$target.$test.$round"
        log "$target: $test failed (exit $status)"; log_tail "$target"
    fi
    return "$status"
}

median_of() {   # median_of TARGET TEST: "-" when no round ran, "fail" when any round failed
    local files=("$BENCH_DIR/results/$1.$2".*)
    [[ -e "${files[0]}" ]] || { echo "-"; return; }
    if grep -qx fail "${files[@]}"; then echo fail; return; fi
    cat "${files[@]}" | median_range "%.3f"
}

# median_range FORMAT: the median of the numbers on stdin, then "(min-max)" when there are two or more.
median_range() {
    sort -g | awk -v f="$1" '{ v[NR] = $1 } END {
        if (NR == 0) { print "-"; exit }
        m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
        printf f, m
        if (NR > 1) { printf " (" f "-" f ")", v[1], v[NR] }
        print "" }'
}

# median_of_value TARGET TEST: the median alone, for ratios.
median_of_value() { median_of "$1" "$2" | awk '{ print $1 }'; }

# round_ratios TARGET TEST: recfs's time over TARGET's in each round both ran, one per line.
round_ratios() {
    local f r
    for f in "$BENCH_DIR/results/recfs.$2".*; do
        r=${f##*.}
        [[ -e "$BENCH_DIR/results/$1.$2.$r" ]] || continue
        paste "$f" "$BENCH_DIR/results/$1.$2.$r"
    done | awk '$1 != "fail" && $2 != "fail" && $2 > 0 { printf "%.4f\n", $1 / $2 }'
}

# recfs: `recfs flush` inside the clock, so the figure includes history holding the file.
write_big()  {
    dd if=/dev/zero of="$1/big" bs=1M count="$SIZE_MB" conv=fsync status=none && recfs_flush_of "$2" "$1"
}
read_big()   { dd if="$1/big" of=/dev/null bs=1M status=none; }
untar_tree() {
    tar -xf "$TAR_FILE" -C "$1" && recfs_flush_of "$2" "$1"
}
list_tree()  { ls -lR "$1/$TAR_TOP" > /dev/null; }
cat_tree()   { find "$1/$TAR_TOP" -type f -exec cat {} + > /dev/null; }
rm_tree()    { rm -rf "${1:?}/$TAR_TOP"; }

# recfs_flush_of TARGET MNT: `recfs flush` for a recfs target (when wanted); nothing for the others.
recfs_flush_of() {
    recfs_flush_wanted || return 0
    case $1 in
        recfs) "$RECFS" flush "$2" ;;
        recfs_base) "$RECFS_BASE" flush "$2" ;;
    esac
}

recfs_flush_wanted() {
    case $RECFS_FLUSH in
        1) return 0 ;;
        0) return 1 ;;
        *) "$RECFS" flush --help >/dev/null 2>&1 ;;
    esac
}

run_io() {
    local target=$1 round=$2 mnt
    mnt=$(mount_dir "$target")
    timed "$target" write "$round" write_big "$mnt" "$target" || return 0
    go_cold "$target" || return 1
    timed "$target" read "$round" read_big "$mnt" || true
    rm -f "$mnt/big"
}

run_meta() {
    local target=$1 round=$2 mnt
    mnt=$(mount_dir "$target")
    # A journal-less ext4 scans inodes deleted in the last 30 s on every create while their
    # table blocks are cached: drop them, or each untar pays for the previous target's rm -rf.
    drop_caches
    timed "$target" untar "$round" untar_tree "$mnt" "$target" || return 0
    timed "$target" ls "$round" list_tree "$mnt" || true
    go_cold "$target" || return 1
    timed "$target" cat "$round" cat_tree "$mnt" || true
    timed "$target" rm "$round" rm_tree "$mnt" || true
}

# targets_of_round N: TARGETS, rotated by N-1, so no target always runs right after the same
# one (a target that follows another's 256 MB rm -f and fsyncs while the disk frees it was up to
# 1.56x slower than one in the next place, whichever binary it was).
targets_of_round() {
    local -a t
    read -r -a t <<< "$TARGETS"
    local n=${#t[@]} k=$(( ($1 - 1) % ${#t[@]} )) i
    for (( i = 0; i < n; i++ )); do printf '%s ' "${t[(k + i) % n]}"; done
}

run_round() {
    local round=$1 target
    for target in $(targets_of_round "$round"); do
        [[ -z "${SKIP_REASON[$target]:-}" ]] || continue
        log "round $round/$ROUNDS: $target"
        setup_target "$target" || { teardown_target "$target"; continue; }
        if want io && ! run_io "$target" "$round"; then
            SKIP_REASON[$target]="remount failed in round $round"; log_tail "$target"
        elif want meta && ! run_meta "$target" "$round"; then
            SKIP_REASON[$target]="remount failed in round $round"; log_tail "$target"
        fi
        teardown_target "$target"
    done
}

# ---------------------------------------------------------------- memory (issue 3, item 7)

sample_rss() {   # sample_rss PID OUT: "rss_kib hwm_kib" every 0.2 s until killed or PID exits
    local pid=$1 out=$2
    while [[ -r /proc/$pid/status ]]; do
        awk '/^VmRSS:/ { r = $2 } /^VmHWM:/ { h = $2 } END { if (r != "") print r, h }' "/proc/$pid/status" >> "$out" 2>/dev/null || true
        sleep 0.2
    done
}

# setup_daemon TARGET: a fresh mount of TARGET whose daemon's pid is in DAEMON_PID (fails, torn down, without one).
setup_daemon() {
    setup_target "$1" || { teardown_target "$1"; return 1; }
    if [[ -z "${DAEMON_PID[$1]:-}" ]]; then
        log "$1: cannot find the daemon's pid; no memory figures"
        teardown_target "$1"; return 1
    fi
}

# measure_memory TARGET OUT: appends one line "samples start peak end VmHWM peak-start" (KiB) to OUT.
measure_memory() {
    local target=$1 out=$2 mnt pid samples sampler
    mnt=$(mount_dir "$target")
    setup_daemon "$target" || return 1
    pid=${DAEMON_PID[$target]}
    samples="$BENCH_DIR/results/mem.samples.$target"
    : > "$samples"
    sample_rss "$pid" "$samples" &
    sampler=$!
    sleep 0.5
    local ok=1
    dd if=/dev/zero of="$mnt/mem" bs=1M count="$MEM_MB" conv=fsync status=none || ok=0
    if (( ok )); then recfs_flush_of "$target" "$mnt" || ok=0; fi
    drop_caches
    (( ok )) && { dd if="$mnt/mem" of=/dev/null bs=1M status=none || ok=0; }
    sleep 0.5
    kill "$sampler" 2>/dev/null; wait "$sampler" 2>/dev/null || true
    rm -f "$mnt/mem"
    teardown_target "$target"
    (( ok )) || { log "$target: dd failed during the memory run"; return 1; }
    awk 'NR == 1 { s = $1 } { if ($1 > p) p = $1; e = $1; h = $2 }
        END { print NR, s, p, e, h, p - s }' "$samples" >> "$out"
}

# 8 writers at once, each writing MEM8_FILES files of 8 to 13 MiB with an fsync after each
# (recfs: then `recfs flush`); the daemon's VmHWM, reset before (/proc/PID/clear_refs).
# Appends one line "VmHWM-at-start VmHWM RSS-at-end" (KiB) to OUT.
measure_mem8() {
    local target=$1 out=$2 mnt pid w f ok=1 start
    mnt=$(mount_dir "$target")
    setup_daemon "$target" || return 1
    pid=${DAEMON_PID[$target]}
    echo 5 > "/proc/$pid/clear_refs" 2>/dev/null || true
    start=$(awk '/^VmHWM:/ { print $2 }' "/proc/$pid/status")
    for w in 0 1 2 3 4 5 6 7; do
        ( for (( f = 1; f <= MEM8_FILES; f++ )); do
              dd if=/dev/zero of="$mnt/w$w.$f" bs=1M count=$(( 8 + (w + f) % 6 )) conv=fsync status=none || exit 1
          done ) &
    done
    for w in 0 1 2 3 4 5 6 7; do wait -n || ok=0; done
    if (( ok )); then recfs_flush_of "$target" "$mnt" || ok=0; fi
    local line
    line=$(awk -v s="$start" '/^VmHWM:/ { h = $2 } /^VmRSS:/ { r = $2 } END { print s, h, r }' "/proc/$pid/status")
    rm -f "$mnt"/w*.*
    teardown_target "$target"
    (( ok )) || { log "$target: a writer failed during the mem8 run"; return 1; }
    echo "$line" >> "$out"
}

# mem_table TITLE COLUMNS MEASURE LABEL: MEM_ROUNDS interleaved rounds of MEASURE TARGET OUT (each
# appends one line of KiB figures to OUT); one row per FUSE target, each column the median in MiB with the range of rounds.
mem_table() {
    local title=$1 columns=$2 measure=$3 label=$4 target blanks round line rows="$BENCH_DIR/results/$3"
    blanks=$(awk -F'|' '{ for (i = 3; i < NF; i++) printf " |" }' <<< "$columns")
    mkdir -p "$rows"
    for (( round = 1; round <= MEM_ROUNDS; round++ )); do
        for target in $(targets_of_round "$round"); do
            [[ $target == ext4 ]] && continue
            [[ -z "${SKIP_REASON[$target]:-}" ]] && target_available "$target" || continue
            log "$label, round $round/$MEM_ROUNDS: $target"
            "$measure" "$target" "$rows/$target" || { echo fail >> "$rows/$target"; log_tail "$target"; }
        done
    done
    echo
    echo "### $title"
    echo
    echo "$columns"
    awk -F'|' '{ printf "|"; for (i = 2; i < NF; i++) printf "---|"; print "" }' <<< "$columns"
    for target in $TARGETS; do
        [[ $target == ext4 ]] && continue
        if [[ ! -s "$rows/$target" ]]; then
            echo "| $target | skipped: ${SKIP_REASON[$target]:-not available} |$blanks"
        elif grep -qx fail "$rows/$target"; then
            echo "| $target | failed in $(grep -cx fail "$rows/$target") of $MEM_ROUNDS rounds |$blanks"
        else
            line="| $target |"
            local col ncols
            ncols=$(awk '{ print NF; exit }' "$rows/$target")
            for (( col = 1; col <= ncols; col++ )); do
                line+=" $(awk -v c="$col" -v f="$measure" '{ if (f == "measure_memory" && c == 1) print $c; else printf "%.4f\n", $c / 1024 }' "$rows/$target" |
                          median_range "$([[ $measure == measure_memory && $col == 1 ]] && echo %.0f || echo %.1f)") |"
            done
            echo "$line"
        fi
    done
    echo
    echo "Median of $MEM_ROUNDS interleaved rounds, with the range of single rounds."
}

run_mem8() {
    mem_table "Daemon peak memory, 8 writers at once of ${MEM8_FILES} files of 8-13 MiB each, fsync after each (MiB)" \
        "| target | VmHWM at start | VmHWM | RSS at end |" measure_mem8 "memory, 8 writers"
}

run_mem() {
    mem_table "Daemon resident memory while writing then reading a ${MEM_MB} MiB file (MiB, sampled every 0.2 s)" \
        "| target | samples | start RSS | peak RSS | end RSS | VmHWM | peak - start |" measure_memory memory
}

# ---------------------------------------------------------------- history (issue 4): hook only
# bench/history.sh is not written yet. It will measure, for recfs alone:
#   - the cost of one save at 1k, 10k and 100k files (at 100k at most twice the cost at 1k);
#   - a 4 KiB change to a 1 GiB file: bytes added to history.git and the time to commit;
#   - `recfs log PATH` on a vault with 10,000 commits (under 50 ms);
#   - unpacking the tree with history on, `recfs flush` included, against gocryptfs in the same run;
#   - disk used by ten versions of a 100 MB file that change a few blocks each, before `recfs gc`.
run_history() {
    if [[ -x "$REPO/bench/history.sh" ]]; then
        "$REPO/bench/history.sh"
    else
        echo
        echo "history: bench/history.sh is not written yet (issue 4); nothing measured."
    fi
}

# ---------------------------------------------------------------- report

print_tables() {
    local tests=() t target row
    want io && tests+=("${IO_TESTS[@]}")
    want meta && tests+=("${META_TESTS[@]}")
    (( ${#tests[@]} )) || return 0
    echo
    echo "### Seconds, median of $ROUNDS interleaved rounds, with the range of single rounds (lower is better)"
    echo
    row="| target |"; for t in "${tests[@]}"; do row+=" ${TEST_TITLE[$t]} |"; done; echo "$row"
    row="|---|";     for t in "${tests[@]}"; do row+="---|"; done; echo "$row"
    for target in $TARGETS; do
        if [[ -n "${SKIP_REASON[$target]:-}" ]] && [[ ! -e "$BENCH_DIR/results/$target.${tests[0]}.1" ]]; then
            echo "| $target | skipped: ${SKIP_REASON[$target]} |"
            continue
        fi
        row="| $(target_label "$target") |"
        for t in "${tests[@]}"; do row+=" $(median_of "$target" "$t") |"; done
        echo "$row"
    done
    echo
    if [[ ! -e "$BENCH_DIR/results/recfs.${tests[0]}.1" ]]; then
        echo "No ratios: recfs has no figures (${SKIP_REASON[recfs]:-not in TARGETS})."
        return 0
    fi
    echo "### Ratios of the medians, with the range of the ratios of single rounds (lower is better; below 1.00 means recfs is faster)"
    echo
    row="| ratio |"; for t in "${tests[@]}"; do row+=" ${TEST_TITLE[$t]} |"; done; echo "$row"
    row="|---|";    for t in "${tests[@]}"; do row+="---|"; done; echo "$row"
    for target in gocryptfs securefs ext4 recfs_base; do
        [[ " $TARGETS " == *" $target "* ]] || continue
        row="| recfs/$target |"
        for t in "${tests[@]}"; do row+=" $(ratio_cell "$target" "$t") |"; done
        echo "$row"
    done
    if [[ " $TARGETS " == *" recfs "* ]] && [[ -z "${SKIP_REASON[recfs]:-}" ]] && recfs_flush_wanted; then
        echo
        echo "recfs untar includes \`recfs flush\` (every save committed to history)."
    fi
}

# ratio_cell TARGET TEST: the ratio of the medians, then the range of the ratios of single rounds.
ratio_cell() {
    local a b range
    a=$(median_of_value recfs "$2"); b=$(median_of_value "$1" "$2")
    case "$a/$b" in
        -/*|*/-|fail/*|*/fail) echo "-"; return ;;
    esac
    range=$(round_ratios "$1" "$2" | median_range "%.2f" | sed -n 's/.* (/ (/p')
    awk -v a="$a" -v b="$b" -v r="$range" 'BEGIN { if (b > 0) printf "%.2f%s\n", a / b, r; else print "-" }'
}

target_label() {
    case $1 in
        gocryptfs) echo "gocryptfs $(gocryptfs -version 2>/dev/null | awk '{ print $2; exit }' | tr -d ';')" ;;
        securefs) echo "securefs $(dpkg-query -W -f '${Version}' securefs 2>/dev/null | sed "s/[-+].*//")" ;;
        ext4) echo "plain $(stat -f -c %T "$BENCH_DIR" | sed 's#ext2/ext3#ext4#')" ;;
        *) echo "$1" ;;
    esac
}

print_context() {
    echo "## recfs benchmark, $(date -u +%Y-%m-%dT%H:%MZ)"
    echo
    echo "- machine: $(nproc) cores, $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo), kernel $(uname -r)"
    echo "- scratch: $BENCH_DIR ($(stat -f -c %T "$BENCH_DIR" | sed 's#ext2/ext3#ext4#'));" \
         "rounds: $ROUNDS; cold = remount$( (( CAN_DROP_CACHES )) && echo ' + drop_caches')"
    [[ " $TARGETS " == *" recfs "* && -n "${RECFS:-}" ]] && echo "- recfs: $RECFS"
    [[ " $TARGETS " == *" recfs_base "* ]] && echo "- recfs_base: ${RECFS_BASE:-}"
    return 0
}

# ---------------------------------------------------------------- main

SECTIONS=()
want() { [[ " ${SECTIONS[*]} " == *" $1 "* ]]; }

main() {
    local arg round target
    for arg in "$@"; do
        case $arg in
            io|meta|mem|mem8|history|requests) SECTIONS+=("$arg") ;;
            -h|--help) usage; exit 0 ;;
            *) usage >&2; die "unknown section '$arg'" ;;
        esac
    done
    (( ${#SECTIONS[@]} )) || SECTIONS=(io meta mem mem8)
    [[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive integer, not '$ROUNDS'"
    [[ "$SIZE_MB" =~ ^[1-9][0-9]*$ ]] || die "SIZE_MB must be a positive integer, not '$SIZE_MB'"
    [[ "$MEM_MB" =~ ^[1-9][0-9]*$ ]] || die "MEM_MB must be a positive integer, not '$MEM_MB'"
    [[ "$MEM8_FILES" =~ ^[1-9][0-9]*$ ]] || die "MEM8_FILES must be a positive integer, not '$MEM8_FILES'"
    [[ "$MEM_ROUNDS" =~ ^[1-9][0-9]*$ ]] || die "MEM_ROUNDS must be a positive integer, not '$MEM_ROUNDS'"

    trap cleanup EXIT
    trap 'exit 130' INT TERM
    prepare_scratch
    mkdir -p "$BENCH_DIR/results"
    for target in $TARGETS; do target_available "$target" || log "skipping $target: ${SKIP_REASON[$target]}"; done
    want meta && prepare_tarball
    print_context

    if want io || want meta; then
        for (( round = 1; round <= ROUNDS; round++ )); do run_round "$round"; done
        print_tables
    fi
    if want mem; then run_mem; fi
    if want mem8; then run_mem8; fi
    if want history; then run_history; fi
    if want requests; then
        echo
        find_recfs && RECFS=$RECFS TAR_SRC=$TAR_SRC BENCH_DIR="$BENCH_DIR/requests" "$REPO/bench/requests.sh"
    fi
}

main "$@"
