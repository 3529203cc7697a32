#!/usr/bin/env bash
# bench/scale.sh: recfs at the size of a council's records estate: what a save costs at 1k, 100k
# and 1M files, and what listing, history, mounting, verify and gc cost in a vault of 1M files.
# Owns: its scratch folder and the mounts it makes. Prints figures, never a pass/fail verdict,
# and never leaves a mount behind.
#
# Usage: RECFS=build/tools/recfs bench/scale.sh [SECTION...]
#   sections: saves estate upkeep versions (default: all)
#   saves    history_bench (HB_NESTED): one save, its own commit, in vaults of each of SCALES
#            files (records of 100 files, 100 records a group, so no git tree passes 100 entries);
#            the largest vault is kept, with COMMITS commits of one file on top
#   estate   on that vault: mount after a clean unmount and after kill -9, ls -lR, recfs log PATH
#            (the first after the mount apart), policy load, recfs due, recfs records, unmount
#   upkeep   on that vault: verify and gc (time and peak memory; about 3 min per GiB of history)
#   versions VERSION_FILES files through a mount, VERSIONS versions each (one 4 KiB block changed
#            per version): history's size against the plaintext's, before and after gc
# Environment:
#   RECFS=path              the recfs binary (required; use a release build)
#   HISTORY_BENCH=path      default: beside RECFS in the build tree
#   SCALES="1000 100000 1000000"
#   COMMITS=100000          commits in the kept vault (each a save of one file, its own commit)
#   ROUNDS=5                timed runs of each listing; the median is printed, with the range
#   VERSION_FILES=2000 VERSIONS=10 FILE_KB=256
#   BENCH_DIR=/var/tmp      scratch space, on the disk being measured (1M files: ~12 GB free)
#   ESTATE_DIR=path         keep the largest vault there (passphrase "pw") instead of in the scratch
#                           folder; when it exists, saves times only the smaller scales and the
#                           other sections use it, so a long fill is made once and measured later
set -uo pipefail

RECFS=${RECFS:?set RECFS to the recfs binary (a release build)}
HISTORY_BENCH=${HISTORY_BENCH:-$(dirname "$RECFS")/../bench/history_bench}
SCALES=${SCALES:-"1000 100000 1000000"}
COMMITS=${COMMITS:-100000}
ROUNDS=${ROUNDS:-5}
VERSION_FILES=${VERSION_FILES:-2000}
VERSIONS=${VERSIONS:-10}
FILE_KB=${FILE_KB:-256}
BENCH_DIR=${BENCH_DIR:-/var/tmp}
SECTIONS=("$@")
[ ${#SECTIONS[@]} -eq 0 ] && SECTIONS=(saves estate upkeep versions)

WORK=$(mktemp -d "$BENCH_DIR/recfs-scale-XXXXXX")
PASS=$WORK/pass
ESTATE=${ESTATE_DIR:-$WORK/estate}   # the kept vault of the largest scale (passphrase "pw")
MNT=$WORK/mnt
ROWS=()

log() { printf '[scale.sh] %s\n' "$*" >&2; }
row() { ROWS+=("| $1 | $2 |"); printf '| %s | %s |\n' "$1" "$2" >&2; }

cleanup() {
    if mountpoint -q "$MNT" 2>/dev/null; then
        "$RECFS" umount "$MNT" >/dev/null 2>&1 || fusermount3 -uz "$MNT"
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now_ns() { date +%s%N; }
secs_since() { awk -v a="$1" -v b="$(now_ns)" 'BEGIN { printf "%.3f", (b - a) / 1e9 }'; }
drop_caches() { sync; echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true; }
largest() { tr ' ' '\n' <<<"$SCALES" | sort -n | tail -1; }

# median_of CMD...: runs CMD ROUNDS times (stdout to /dev/null); prints "median s (min-max)".
median_of() {
    local i t all=()
    for ((i = 0; i < ROUNDS; i++)); do
        t=$(now_ns)
        "$@" >/dev/null 2>&1
        all+=("$(secs_since "$t")")
    done
    printf '%s\n' "${all[@]}" | sort -n | awk '{ v[NR] = $1 } END {
        printf "%.3f s (%.3f-%.3f)", v[int((NR + 1) / 2)], v[1], v[NR] }'
}

# timed_rss CMD...: runs CMD once; prints "S s, peak RSS M MiB" (GNU time's wall clock and max RSS).
timed_rss() {
    local out
    out=$(/usr/bin/time -f '%e %M' "$@" 2>&1 >/dev/null | tail -n 1)
    awk -v o="$out" 'BEGIN { split(o, a, " "); printf "%.2f s, peak RSS %.1f MiB", a[1], a[2] / 1024 }'
}

mount_estate() { "$RECFS" mount "$ESTATE" "$MNT" --passphrase-file "$PASS" >/dev/null; }
daemon_pid() { pgrep -f " mount $ESTATE " | head -n 1; }   # any name of the recfs binary
daemon_rss_mib() {
    local pid
    pid=$(daemon_pid)
    [ -n "$pid" ] && awk '/^VmHWM/ { printf "%.1f", $2 / 1024 }' "/proc/$pid/status"
}

section_saves() {
    [ -x "$HISTORY_BENCH" ] || { row "history_bench" "not found at $HISTORY_BENCH (set HISTORY_BENCH)"; return 1; }
    local n runs line top keep
    top=$(largest)
    for n in $SCALES; do
        runs=200 keep=$WORK/not-kept
        if [ "$n" = "$top" ] && [ -d "$ESTATE" ]; then
            log "$ESTATE exists: not filled again"; continue
        fi
        [ "$n" = "$top" ] && runs=$(( (COMMITS + 4) / 5 )) keep=$ESTATE
        log "history_bench: $n files, 5 rounds of $runs saves (each its own commit)"
        line=$(HB_NESTED=1 HB_FILES_ONLY=1 HB_RUNS=$runs HB_KEEP=$keep \
               "$HISTORY_BENCH" "$n" "$n" 2>/dev/null | grep ' files: ')
        rm -rf "$WORK/not-kept"
        row "one save, own commit, vault of $n files" "$(sed -E 's/.*own commit: ([0-9.]+) ms \(median of ([0-9]+) rounds of ([0-9]+), ([0-9.-]+);.*/\1 ms (range \4, \3 saves a round)/' <<<"$line"); filled at $(sed -E 's/.*recorded at ([0-9]+) files\/s.*/\1/' <<<"$line") files/s"
    done
    [ -d "$ESTATE" ] && row "kept vault" "$top files, $(git --git-dir="$ESTATE/history.git" rev-list --count refs/heads/main) commits, history $(du -sm "$ESTATE/history.git" | cut -f1) MiB"
}

POLICY_TEXT='organisation = Scale Bench Council

[class estate-record]
records   = g-*/*
retain    = 7 years after created
then      = destroy
'

section_estate() {
    [ -d "$ESTATE" ] || { row "estate" "no kept vault: run the saves section first"; return 1; }
    local t files
    mkdir -p "$MNT"
    drop_caches
    t=$(now_ns); mount_estate || return 1
    row "mount (first, after the fill)" "$(secs_since "$t") s"
    t=$(now_ns); "$RECFS" umount "$MNT" >/dev/null
    row "unmount (clean)" "$(secs_since "$t") s"
    drop_caches
    t=$(now_ns); mount_estate || return 1
    row "mount after a clean unmount, cold cache" "$(secs_since "$t") s"

    drop_caches
    t=$(now_ns); files=$(ls -lR "$MNT" | grep -c '^-')
    row "ls -lR, cold cache ($files files)" "$(secs_since "$t") s"
    row "ls -lR, warm" "$(median_of ls -lR "$MNT")"
    local io rchar
    io=/proc/$(daemon_pid)/io
    rchar=$(awk '/^rchar/ { print $2 }' "$io")
    t=$(now_ns); "$RECFS" log "$MNT/g-000/r-00099/file-0009999.txt" >/dev/null
    row "recfs log PATH, a file with 1 version: the first log after the mount" "$(secs_since "$t") s, the daemon read $(( $(awk '/^rchar/ { print $2 }' "$io") - rchar )) bytes (the index: $(stat -c %s "$ESTATE/history.git/recfs/index"))"
    row "recfs log PATH, the same, the next ones" "$(median_of "$RECFS" log "$MNT/g-000/r-00099/file-0009999.txt")"
    row "recfs log -n 20 PATH, the file saved $COMMITS times" "$(median_of "$RECFS" log -n 20 "$MNT/g-000/r-00000/file-0000000.txt")"
    row "recfs log -n 20 (the vault's latest)" "$(cd "$MNT" && median_of "$RECFS" log -n 20)"

    printf '%s' "$POLICY_TEXT" >"$WORK/policy.conf"
    t=$(now_ns)
    (cd "$MNT" && "$RECFS" policy load "$WORK/policy.conf" >/dev/null) || log "policy load failed"
    row "recfs policy load (one class over every record)" "$(secs_since "$t") s"
    t=$(now_ns); (cd "$MNT" && "$RECFS" due >/dev/null)
    row "recfs due, first listing after the load" "$(secs_since "$t") s"
    row "recfs due ($(cd "$MNT" && "$RECFS" records --csv | tail -n +2 | wc -l) records)" "$(cd "$MNT" && median_of "$RECFS" due)"
    row "recfs records" "$(cd "$MNT" && median_of "$RECFS" records)"
    row "recfs records --json" "$(cd "$MNT" && median_of "$RECFS" records --json)"
    row "daemon peak RSS so far" "$(daemon_rss_mib) MiB"

    # A crash: the daemon killed, the mount torn down, then the recovery at the next mount.
    echo "after the crash" >"$MNT/g-000/r-00001/file-0000100.txt"
    kill -9 "$(daemon_pid)"; sleep 0.5
    fusermount3 -uz "$MNT" 2>/dev/null
    drop_caches
    t=$(now_ns); mount_estate || return 1
    row "mount after kill -9 (recovery), cold cache" "$(secs_since "$t") s"
    t=$(now_ns); "$RECFS" umount "$MNT" >/dev/null
    row "unmount" "$(secs_since "$t") s"
}

section_upkeep() {
    [ -d "$ESTATE" ] || { row "upkeep" "no kept vault: run the saves section first"; return 1; }
    local gib
    gib=$(du -sb "$ESTATE/history.git" | awk '{ printf "%.3f", $1 / 1073741824 }')
    drop_caches
    row "recfs verify ($gib GiB of history)" "$(timed_rss "$RECFS" verify "$ESTATE" --passphrase-file "$PASS")"
    row "recfs gc" "$(timed_rss "$RECFS" gc "$ESTATE" --passphrase-file "$PASS")"
    row "history after gc" "$(du -sm "$ESTATE/history.git" | cut -f1) MiB"
}

section_versions() {
    local v=$WORK/versions-vault m=$WORK/versions-mnt plain hist
    mkdir -p "$m"
    "$RECFS" init "$v" --passphrase-file "$PASS" --insecure-fast-kdf >/dev/null || return 1
    "$RECFS" mount "$v" "$m" --passphrase-file "$PASS" >/dev/null || return 1
    log "versions: $VERSION_FILES files of $FILE_KB KiB, $VERSIONS versions each"
    python3 - "$m" "$VERSION_FILES" "$VERSIONS" "$FILE_KB" <<'EOF'
import os, sys
root, files, versions, kb = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
for i in range(files):
    d = os.path.join(root, "case-%04d" % (i // 100))
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "doc-%05d.odt" % i), "wb") as f:
        f.write(os.urandom(kb * 1024))
for v in range(1, versions):
    for i in range(files):
        with open(os.path.join(root, "case-%04d" % (i // 100), "doc-%05d.odt" % i), "r+b") as f:
            f.seek((v * 4096) % (kb * 1024))
            f.write(os.urandom(4096))
EOF
    "$RECFS" flush "$m" >/dev/null
    plain=$(( VERSION_FILES * FILE_KB * 1024 ))
    hist=$(du -sb "$v/history.git" | cut -f1)
    row "history after $VERSIONS versions of $VERSION_FILES files ($((plain / 1048576)) MiB of plaintext; each version changes 4 KiB)" \
        "$((hist / 1048576)) MiB = $(awk -v h="$hist" -v p="$plain" 'BEGIN { printf "%.2f", h / p }') x the plaintext"
    "$RECFS" umount "$m" >/dev/null
    "$RECFS" gc "$v" --passphrase-file "$PASS" >/dev/null
    hist=$(du -sb "$v/history.git" | cut -f1)
    row "the same after gc" "$((hist / 1048576)) MiB = $(awk -v h="$hist" -v p="$plain" 'BEGIN { printf "%.2f", h / p }') x"
}

printf pw >"$PASS"
chmod 600 "$PASS"
for s in "${SECTIONS[@]}"; do
    case $s in
        saves|estate|upkeep|versions) "section_$s" || log "section $s stopped early" ;;
        *) echo "scale.sh: unknown section '$s' (saves estate upkeep versions)" >&2; exit 2 ;;
    esac
done
echo
echo "| figure (scale.sh, $(date -u +%F), $(nproc) cores) | value |"
echo "|---|---|"
printf '%s\n' "${ROWS[@]}"
