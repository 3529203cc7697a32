#!/usr/bin/env bash
# bench/retention_bench.sh: retention at scale: listing a vault of many records, and disposing of
# one big record in vaults of two sizes.
# Owns: building the benchmark vaults (record folders made directly in the mount, dates set with
# `recfs close` and `recfs set` on DATED of them), and timing `recfs due`, `recfs records --json`
# and `recfs dispose`.
# Prints figures and the sizes used only. It must never judge speed as pass/fail, and never leave
# a mount behind.
#
# Usage: bench/retention_bench.sh [SECTION...]      sections: listing dispose (default: both)
# Environment:
#   RECFS=path          the recfs binary (default: build/tools/recfs of this repo: a release build)
#   RECORDS=100000      records of the listing vault: half under cases/, half under contracts/
#   DATED=2000          of them, how many get a date (cases closed, contracts ended), spread over
#                       20 years; the rest have no trigger date. Each date is one journal action,
#                       and each action rewrites the whole journal (its cost grows with it).
#   BIG_FILES=10000     files in the record disposed of
#   BIG_SAVES=8         writes of each after the first (recfs counts about BIG_SAVES + 2 versions
#                       a file: its creation, its first save, one per later write)
#   OTHERS="1000 $RECORDS"   the two sizes (other records) of the vaults the big record is disposed
#                       from (the listing vault itself when the size is RECORDS and it was built)
#   JOBS=2              recfs close/set commands run at once while building
#   ROUNDS=3            timed runs of each listing; each figure is the median
#   BENCH_DIR=/dev/shm/recfs-retention-bench   scratch space (tmpfs by default: building 100,000
#                       folders through FUSE on a disk pays one fdatasync per folder)
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RECFS=${RECFS:-$REPO/build/tools/recfs}
RECORDS=${RECORDS:-100000}
DATED=${DATED:-2000}
BIG_FILES=${BIG_FILES:-10000}
BIG_SAVES=${BIG_SAVES:-8}
OTHERS=${OTHERS:-"1000 $RECORDS"}
JOBS=${JOBS:-2}
ROUNDS=${ROUNDS:-3}
BENCH_DIR=${BENCH_DIR:-/dev/shm/recfs-retention-bench}
SECTIONS=("$@")
[[ ${#SECTIONS[@]} -gt 0 ]] || SECTIONS=(listing dispose)

log() { printf '[retention-bench] %s\n' "$*" >&2; }
die() { printf 'retention_bench: %s\n' "$*" >&2; exit 2; }

[[ -x "$RECFS" ]] || die "no recfs binary at $RECFS (meson setup build --buildtype=release && ninja -C build)"
[[ -e "$BENCH_DIR" ]] && die "$BENCH_DIR exists; remove it (or set BENCH_DIR)"
mkdir -p "$BENCH_DIR"
cleanup() {
    local m
    for m in $(awk -v d="$BENCH_DIR/" 'index($2, d) == 1 { print $2 }' /proc/mounts); do
        "$RECFS" umount "$m" >/dev/null 2>&1 || fusermount3 -uz "$m" 2>/dev/null || true
    done
    rm -rf "$BENCH_DIR"
}
trap cleanup EXIT

now() { printf '%s' "$EPOCHREALTIME"; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

# The schedule: the example's classes with review actions, so that a dispose run touches only
# the big record (its class destroys; everything else awaits an approval nobody gives).
write_policy() {
    cat >"$1" <<EOF
organisation = Retention benchmark
[class case]
records = cases/*/*
retain  = 8 years after closed
then    = review
lock    = when closed
[class contract]
records = contracts/*/*
retain  = 6 years after end
then    = review
[class project]
records = projects/*
retain  = 1 day after end
then    = destroy
EOF
}

# vault_up NAME: a new vault NAME with the schedule loaded, mounted at $BENCH_DIR/NAME.mnt.
vault_up() {
    local v=$BENCH_DIR/$1 m=$BENCH_DIR/$1.mnt
    head -c 24 /dev/urandom | base64 >"$v.pass"
    "$RECFS" init "$v" --passphrase-file "$v.pass" --insecure-fast-kdf >/dev/null
    mkdir -p "$m"
    "$RECFS" mount "$v" "$m" --passphrase-file "$v.pass" >/dev/null
    write_policy "$BENCH_DIR/policy.conf"
    (cd "$m" && "$RECFS" policy load "$BENCH_DIR/policy.conf" >/dev/null)
}

# records_py MODE COUNT [DATED]: record I of COUNT is cases/YYYY-MM/rI (I even) or
# contracts/YYYY-MM/rI (I odd), in 240 monthly folders a side, so that no folder holds more than
# a few hundred entries (each commit that changes a folder writes that folder's whole git
# tree: 50,000 records in one folder made 8.6 GB of history before half were made).
# MODE folders: every record's path, NUL-separated; close, set: the arguments of a recfs close
# of DATED/2 cases, or a recfs set of the end of as many contracts, spread evenly over the
# records, on days spread over the 20 years before today.
records_py() {
    python3 - "$@" <<'EOF'
import datetime, sys
mode, n = sys.argv[1], int(sys.argv[2])
def path(i):
    month = (i // 2) % 240
    return "%s/%04d-%02d/r%06d" % ("cases" if i % 2 == 0 else "contracts", 2000 + month // 12, month % 12 + 1, i)
if mode == "folders":
    for i in sorted(range(n), key=lambda i: (path(i).rsplit("/", 1)[0], i)):
        sys.stdout.write(path(i) + "\0")
    sys.exit(0)
dated, today = int(sys.argv[3]), datetime.date.today()
step = max(2, (2 * n // max(dated, 1)) // 2 * 2)
for i in range(0 if mode == "close" else 1, n, step):
    day = (today - datetime.timedelta(days=(i * 7919) % (20 * 365))).isoformat()
    args = ["close", path(i), "--on", day] if mode == "close" else ["set", path(i), "end=" + day]
    sys.stdout.write("\0".join(args) + "\0")
EOF
}

# add_records MNT COUNT DATED: COUNT record folders (records_py), made directly in the mount;
# then DATED of them closed (cases) or ended (contracts) on days spread over the 20 years before
# today (one recfs command each, JOBS at a time).
add_records() {
    local m=$1 n=$2 dated=$3 t
    t=$(now)
    records_py folders "$n" | (cd "$m" && xargs -0 mkdir -p)
    "$RECFS" flush "$m" >/dev/null
    log "$n record folders made in $(since "$t") s; history.git is $(du -sh "${m%.mnt}/history.git" | cut -f1)"
    t=$(now)
    records_py close "$n" "$dated" | (cd "$m" && xargs -0 -n 4 -P "$JOBS" "$RECFS" >/dev/null)
    records_py set "$n" "$dated" | (cd "$m" && xargs -0 -n 3 -P "$JOBS" "$RECFS" >/dev/null)
    "$RECFS" flush "$m" >/dev/null
    log "$(cd "$m" && "$RECFS" records | awk -F'  ' '$1 == "record" && $7 != "-"' | wc -l) of them closed or ended in $(since "$t") s"
}

# median of the numbers on stdin
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# time_cmd MNT CMD...: the median wall time of ROUNDS runs of recfs CMD in MNT, output discarded.
time_cmd() {
    local m=$1 i t
    shift
    for ((i = 0; i < ROUNDS; i++)); do
        t=$(now)
        (cd "$m" && "$RECFS" "$@" >/dev/null)
        since "$t"
        echo
    done | median
}

listing() {
    local m=$BENCH_DIR/listing.mnt due
    log "listing: $RECORDS records"
    vault_up listing
    add_records "$m" "$RECORDS" "$DATED"
    due=$(cd "$m" && "$RECFS" due | wc -l)
    printf '%-44s %10s s   (%d records, %d with a date, %d listed as due)\n' "recfs due" \
        "$(time_cmd "$m" due)" "$RECORDS" "$DATED" "$due"
    printf '%-44s %10s s\n' "recfs records --json >/dev/null" "$(time_cmd "$m" records --json)"
    printf '%-44s %10s s\n' "recfs records --csv >/dev/null" "$(time_cmd "$m" records --csv)"
}

# add_big_record MNT: projects/big, BIG_FILES files made and saved BIG_SAVES times each, ended
# long ago.
add_big_record() {
    local m=$1 t
    t=$(now)
    python3 - "$m/projects/big" "$BIG_FILES" "$BIG_SAVES" <<'EOF'
import os, sys
top, files, saves = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for i in range(0, files, 100):
    os.makedirs(os.path.join(top, "d%03d" % (i // 100)), exist_ok=True)
for s in range(saves + 1):
    for i in range(files):
        with open(os.path.join(top, "d%03d" % (i // 100), "f%05d.txt" % i), "w") as f:
            f.write("file %d, save %d\n" % (i, s))
EOF
    "$RECFS" flush "$m" >/dev/null
    (cd "$m" && "$RECFS" set projects/big end=2000-01-01 >/dev/null)
    log "the big record ($BIG_FILES files x $BIG_SAVES saves) made in $(since "$t") s"
}

dispose_one() {
    local n=$1 name=dispose$1 m t secs
    log "dispose: one record in a vault of $n other records"
    if [[ $n -eq $RECORDS ]] && mountpoint -q "$BENCH_DIR/listing.mnt"; then
        name=listing
        m=$BENCH_DIR/$name.mnt
    else
        vault_up "$name"
        m=$BENCH_DIR/$name.mnt
        [[ $n -gt 0 ]] && add_records "$m" "$n" "$(( DATED < n ? DATED : n ))"
    fi
    add_big_record "$m"
    t=$(now)
    # exit 1: records stay (awaiting approval); 2: the disposal failed
    (cd "$m" && "$RECFS" dispose --reason "retention benchmark" >"$BENCH_DIR/$name.dispose.out") ||
        [[ $? -eq 1 ]] || die "recfs dispose failed: $(tail -3 "$BENCH_DIR/$name.dispose.out")"
    secs=$(since "$t")
    grep -E '^disposal' "$BENCH_DIR/$name.dispose.out" | sed 's/^/[retention-bench]   /' >&2 || true
    printf '%-44s %10s s   (%s; %d other records)\n' "recfs dispose of projects/big" "$secs" \
        "$(grep -o '[0-9]* files, [0-9]* folders, [0-9]* versions' "$BENCH_DIR/$name.dispose.out")" "$n"
    [[ -d "$m/projects/big" ]] && log "warning: projects/big is still there after the dispose"
    "$RECFS" umount "$m" >/dev/null
    rm -rf "${BENCH_DIR:?}/$name" "$m"
}

log "recfs $("$RECFS" --version 2>/dev/null | head -1), $(nproc) CPUs, scratch $BENCH_DIR ($(stat -f -c %T "$BENCH_DIR"))"
for s in "${SECTIONS[@]}"; do
    case $s in
        listing) listing ;;
        dispose) for n in $OTHERS; do dispose_one "$n"; done ;;
        *) die "unknown section $s (listing, dispose)" ;;
    esac
done
