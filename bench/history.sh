#!/usr/bin/env bash
# bench/history.sh: the figures of issue 4 (history in git): cost of a save, big files,
# `recfs log`, unpacking through a mount next to gocryptfs, and disk used by versions.
# Owns: its scratch folder and the mounts it makes. Prints a markdown table of figures;
# it must never judge them as pass/fail, and never leave a mount behind.
#
# Usage: RECFS=/path/to/recfs bench/history.sh [SECTION...]
#   sections: saves untar disk log (default: all)
# Environment:
#   RECFS=path           the recfs binary (required; use a release build)
#   HISTORY_BENCH=path   the history_bench binary (default: beside RECFS in the build tree)
#   MAX_FILES=100000     largest vault for the cost per save (history_bench)
#   LOG_VERSIONS=10000   versions written through the mount for `recfs log PATH`
#   BENCH_DIR=/var/tmp   scratch space, on the disk being measured
#   TAR_SRC=/usr/include the small-file tree to unpack
set -uo pipefail

RECFS=${RECFS:?set RECFS to the recfs binary (a release build)}
HISTORY_BENCH=${HISTORY_BENCH:-$(dirname "$RECFS")/../bench/history_bench}
MAX_FILES=${MAX_FILES:-100000}
LOG_VERSIONS=${LOG_VERSIONS:-10000}
BENCH_DIR=${BENCH_DIR:-/var/tmp}
TAR_SRC=${TAR_SRC:-/usr/include}
SECTIONS=("$@")
[ ${#SECTIONS[@]} -eq 0 ] && SECTIONS=(saves untar disk log)

WORK=$(mktemp -d "$BENCH_DIR/recfs-history-bench-XXXXXX")
PASS="$WORK/pass"
MOUNTED=()
ROWS=()

log() { printf '[history.sh] %s\n' "$*" >&2; }
row() { ROWS+=("| $1 | $2 |"); }

cleanup() {
    local m
    for m in "${MOUNTED[@]}"; do
        if mountpoint -q "$m"; then
            case "$(basename "$m")" in
                *recfs*) "$RECFS" umount "$m" >/dev/null 2>&1 || fusermount3 -uz "$m" ;;
                *) fusermount3 -u "$m" 2>/dev/null || fusermount3 -uz "$m" ;;
            esac
        fi
    done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now_ns() { date +%s%N; }
ms_since() { echo $(( ($(now_ns) - $1) / 1000000 )); }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }

# A new vault and its mount; prints nothing, sets VAULT and MNT.
recfs_up() {
    VAULT="$WORK/recfs-vault-$1"
    MNT="$WORK/recfs-mnt-$1"
    mkdir -p "$MNT"
    "$RECFS" init "$VAULT" --passphrase-file "$PASS" --insecure-fast-kdf >/dev/null || return 1
    "$RECFS" mount "$VAULT" "$MNT" --passphrase-file "$PASS" >/dev/null || return 1
    MOUNTED+=("$MNT")
}

recfs_down() { "$RECFS" umount "$1" >/dev/null; }

section_saves() {
    if [ ! -x "$HISTORY_BENCH" ]; then
        row "history_bench" "not found at $HISTORY_BENCH (set HISTORY_BENCH)"
        return
    fi
    log "history_bench $MAX_FILES (a few minutes)"
    local out line
    out=$("$HISTORY_BENCH" "$MAX_FILES" 2>/dev/null)
    while IFS= read -r line; do
        case "$line" in
            *" files: "*)
                local n per packs
                n=$(sed -E 's/^ *([0-9]+) files:.*/\1/' <<<"$line")
                per=$(sed -E 's/.*own commit: ([0-9.]+) ms.*/\1/' <<<"$line")
                packs=$(sed -E 's/.* ([0-9]+) packs before.*/\1/' <<<"$line")
                row "cost of one save (own commit; median of 5 rounds), vault of $n files" "$per ms ($packs packs)"
                [ "$n" = 1000 ] && PER_1K=$per
                [ "$n" = "$MAX_FILES" ] && PER_MAX=$per ;;
            "1 GiB file:"*)
                row "1 GiB file: a 4 KiB change" \
                    "$(sed -E 's/.*a 4 KiB change: ([0-9.]+ ms).*history grew ([0-9.]+ [KM]iB).*/\1, history grew \2/' <<<"$line")" ;;
            "log on"*)
                row "history_bench: log PATH on 10,001 commits" \
                    "$(sed -E 's/.*10000 versions: ([0-9.]+ ms).*/\1 (10,000 versions of the path)/' <<<"$line")" ;;
        esac
    done <<<"$out"
    [ -n "${PER_1K:-}" ] && [ -n "${PER_MAX:-}" ] &&
        row "cost per save at $MAX_FILES files / at 1,000" "$(ratio "$PER_MAX" "$PER_1K")"
}

section_untar() {
    local tar="$WORK/src.tar" nfiles t_recfs t_gcfs
    tar -cf "$tar" -C "$(dirname "$TAR_SRC")" "$(basename "$TAR_SRC")" 2>/dev/null
    nfiles=$(tar -tf "$tar" | grep -vc '/$')
    recfs_up untar || { row "untar" "recfs mount failed"; return; }
    local start; start=$(now_ns)
    tar -xf "$tar" -C "$MNT" && "$RECFS" flush "$MNT" >/dev/null
    t_recfs=$(ms_since "$start")
    recfs_down "$MNT"

    local g="$WORK/gocryptfs-cipher" gm="$WORK/gocryptfs-mnt"
    mkdir -p "$g" "$gm"
    gocryptfs -q -init -scryptn 10 -passfile "$PASS" "$g" >/dev/null 2>&1 &&
        gocryptfs -q -passfile "$PASS" "$g" "$gm" >/dev/null 2>&1 || { row "untar" "gocryptfs failed"; return; }
    MOUNTED+=("$gm")
    start=$(now_ns)
    tar -xf "$tar" -C "$gm" && sync -f "$gm"
    t_gcfs=$(ms_since "$start")
    fusermount3 -u "$gm"
    row "unpack $TAR_SRC ($nfiles files): recfs, flush included" "$t_recfs ms"
    row "unpack $TAR_SRC: gocryptfs, syncfs included" "$t_gcfs ms"
    row "recfs / gocryptfs" "$(ratio "$t_recfs" "$t_gcfs")"
}

section_disk() {
    recfs_up disk || { row "disk" "recfs mount failed"; return; }
    local f="$MNT/big.bin" hist="$VAULT/history.git" copy before after gc i
    dd if=/dev/urandom of="$f" bs=1M count=100 status=none
    "$RECFS" flush "$MNT" >/dev/null
    copy=$(du -sb "$VAULT/live" | cut -f1)
    before=$(du -sb "$hist" | cut -f1)
    for i in $(seq 1 10); do
        # a few blocks here and there, one close each time: one version each
        dd if=/dev/urandom of="$f" bs=4k count=3 seek=$(( (i * 2311) % 25000 )) conv=notrunc status=none
    done
    "$RECFS" flush "$MNT" >/dev/null
    after=$(du -sb "$hist" | cut -f1)
    "$RECFS" gc "$VAULT" >/dev/null 2>&1 || log "recfs gc $VAULT failed"
    gc=$(du -sb "$hist" | cut -f1)
    recfs_down "$MNT"
    row "100 MB file: live/ (one copy)" "$(mib "$copy")"
    row "history.git after the first version" "$(mib "$before")"
    row "history.git after 10 more versions (a few blocks each)" "$(mib "$after"), $(ratio "$after" "$copy") x one copy"
    row "history.git after recfs gc" "$(mib "$gc"), $(ratio "$gc" "$copy") x one copy"
}

section_log() {
    recfs_up log || { row "log" "recfs mount failed"; return; }
    local f="$MNT/often.txt" i start
    log "writing $LOG_VERSIONS versions through the mount"
    start=$(now_ns)
    for ((i = 1; i <= LOG_VERSIONS; i++)); do
        printf 'version %d\n' "$i" >"$f"
    done
    "$RECFS" flush "$MNT" >/dev/null
    local t_write; t_write=$(ms_since "$start")
    local n; n=$("$RECFS" log "$f" --json | grep -c .)
    start=$(now_ns)
    "$RECFS" log "$f" >/dev/null
    local t_log; t_log=$(ms_since "$start")
    start=$(now_ns)
    "$RECFS" log "$f" -n 20 >/dev/null
    local t_log20; t_log20=$(ms_since "$start")
    recfs_down "$MNT"
    row "$LOG_VERSIONS saves of one file through the mount, flush included" \
        "$t_write ms ($(awk -v t="$t_write" -v n="$LOG_VERSIONS" 'BEGIN { printf "%.2f", t / n }') ms per save)"
    row "recfs log PATH, $LOG_VERSIONS versions ($n versions listed), wall time" "$t_log ms"
    row "recfs log PATH -n 20, wall time" "$t_log20 ms"
}

printf 'bench\n' >"$PASS"
for s in "${SECTIONS[@]}"; do
    case "$s" in
        saves|untar|disk|log) log "section $s"; "section_$s" ;;
        *) log "unknown section $s (saves untar disk log)"; exit 2 ;;
    esac
done

printf '\n| history figure (%s, %s) | value |\n|---|---|\n' "$(uname -n)" "$(date -u +%Y-%m-%d)"
printf '%s\n' "${ROWS[@]}"
