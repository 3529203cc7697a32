#!/usr/bin/env bash
# packaging/run-tests.sh: THE test command. Builds recfs under ASan+UBSan and runs every meson test.
# Owns: the sanitizer build directory, sanitizer options, and the one-line verdict "N passed, N failed".
# Must never report success when a test failed, timed out, or when no test ran at all.
#
# Usage: packaging/run-tests.sh [extra `meson test` arguments, e.g. a test name]
# Environment:
#   RECFS_TEST_BUILD_DIR=build-test   build directory (relative to the repo root, or absolute)
#   RECFS_TEST_JOBS=2                 tests run at once (meson --num-processes)
#   RECFS_TEST_DAEMON_LEAKS=0         1: LeakSanitizer also checks integration tests and the FUSE daemon
#                                     (the criterion tests, suites unit and history, always run with it)
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"

BUILD_DIR=${RECFS_TEST_BUILD_DIR:-build-test}
JOBS=${RECFS_TEST_JOBS:-2}
DAEMON_LEAKS=${RECFS_TEST_DAEMON_LEAKS:-0}
# shellcheck disable=SC2054  # b_sanitize takes a comma-separated list
# -fno-sanitize-recover makes every UBSan finding fatal, so it fails the test instead of scrolling by.
SETUP_OPTS=(-Db_sanitize=address,undefined -Db_lundef=false -Dc_args=-fno-sanitize-recover=all -Dfault_points=true)

PASSED=0
FAILED=0

section() { printf '\n==== %s ====\n' "$*"; }

verdict_and_exit() {
    echo "$PASSED passed, $FAILED failed"
    if (( FAILED > 0 || PASSED == 0 )); then exit 1; fi
    exit 0
}

configure() {
    section "configure $BUILD_DIR (ASan + UBSan)"
    if [[ -f "$BUILD_DIR/meson-private/coredata.dat" ]]; then
        meson setup --reconfigure "$BUILD_DIR" "${SETUP_OPTS[@]}" && return 0
        echo "reconfigure failed; wiping $BUILD_DIR and configuring again"
        meson setup --wipe "$BUILD_DIR" "${SETUP_OPTS[@]}" && return 0
        rm -rf "$BUILD_DIR"
    elif [[ -e "$BUILD_DIR" ]]; then
        echo "$BUILD_DIR exists but is not a meson build directory; replacing it"
        rm -rf "$BUILD_DIR"
    fi
    meson setup "$BUILD_DIR" "${SETUP_OPTS[@]}"
}

# Adds one `meson test` run's summary ("Ok:", "Fail:", ...) to PASSED and FAILED. Timeouts are failures.
count_summary() {
    local log=$1 counts
    counts=$(awk '
        /^Ok:[ \t]+[0-9]+[ \t]*$/              { ok += $2 }
        /^Expected Fail:[ \t]+[0-9]+[ \t]*$/   { ok += $3 }
        /^Fail:[ \t]+[0-9]+[ \t]*$/            { bad += $2 }
        /^Unexpected Pass:[ \t]+[0-9]+[ \t]*$/ { bad += $3 }
        /^Timeout:[ \t]+[0-9]+[ \t]*$/         { bad += $2 }
        END { print ok + 0, bad + 0 }' "$log")
    PASSED=$(( PASSED + ${counts% *} ))
    FAILED=$(( FAILED + ${counts#* } ))
}

# run_suite TITLE ASAN_LEAKS [meson test args...]: a failing run is counted, never fatal here.
run_suite() {
    local title=$1 leaks=$2; shift 2
    local log="$BUILD_DIR/meson-logs/run-tests.$title.txt"
    section "tests: $title"
    ASAN_OPTIONS="detect_leaks=$leaks:abort_on_error=1:halt_on_error=1:print_summary=1:${ASAN_EXTRA:-}" \
    UBSAN_OPTIONS="halt_on_error=1:abort_on_error=1:print_stacktrace=1:print_summary=1:${UBSAN_EXTRA:-}" \
        meson test -C "$BUILD_DIR" --print-errorlogs --num-processes "$JOBS" "$@" 2>&1 | tee "$log" || true
    count_summary "$log"
}

# A backgrounded FUSE daemon has no terminal, so its sanitizer reports land in files. They are always shown.
# When every test passed, they still fail the run, as one failure (counting each would double-count crashes
# that a test already reported).
collect_daemon_reports() {
    local dir=$1 failed_before=$2 report found=0
    for report in "$dir"/*; do
        [[ -s "$report" ]] || continue
        (( found == 0 )) && section "sanitizer reports from background processes"
        found=$(( found + 1 ))
        echo "--- $report"
        cat "$report"
    done
    if (( found > 0 && FAILED == failed_before )); then
        echo "no test failed, but a background process had a sanitizer finding: counted as 1 failure"
        FAILED=$(( FAILED + 1 ))
    fi
}

main() {
    [[ "$JOBS" =~ ^[1-9][0-9]*$ ]] || { echo "RECFS_TEST_JOBS must be a positive integer, not '$JOBS'" >&2; exit 2; }
    [[ "$DAEMON_LEAKS" =~ ^[01]$ ]] || { echo "RECFS_TEST_DAEMON_LEAKS must be 0 or 1, not '$DAEMON_LEAKS'" >&2; exit 2; }
    if ! configure; then
        echo "meson setup failed (see above); missing dependencies are installed by 'bash packaging/install-deps.sh'"
        verdict_and_exit
    fi
    section "build"
    if ! ninja -C "$BUILD_DIR"; then
        echo "the build failed (see the compiler errors above); no test ran"
        verdict_and_exit
    fi

    # The criterion tests: crypto/ and fs/ (suite unit) and fs/history (suite history).
    run_suite unit 1 --suite unit --suite history "$@"

    local reports failed_before=$FAILED
    reports="$(cd "$BUILD_DIR" && pwd)/meson-logs/sanitizer"
    rm -rf "$reports"; mkdir -p "$reports"
    ASAN_EXTRA="log_path=$reports/asan" UBSAN_EXTRA="log_path=$reports/ubsan" \
        run_suite integration "$DAEMON_LEAKS" --no-suite unit --no-suite history "$@"
    collect_daemon_reports "$reports" "$failed_before"

    section "summary"
    verdict_and_exit
}

main "$@"
