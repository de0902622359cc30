#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole test suite twice: a plain build, then one with
# AddressSanitizer and UndefinedBehaviorSanitizer; between them it compiles the release build type once
# (no tests). The exit code is 0 only when both suites pass and the release build compiles.
# Usage: contrib/test.sh [--no-sanitizers] [MESON_TEST_ARGS...]
set -euo pipefail
cd "$(dirname "$0")/.."

sanitizers=1
if [[ ${1:-} == --no-sanitizers ]]; then
        sanitizers=0
        shift
fi

contrib/install-deps.sh

run_suite() {
        local dir=$1
        shift
        if [[ -d $dir/meson-private ]]; then
                meson setup --reconfigure "$dir" "$@" >/dev/null || return 1
        else
                meson setup "$dir" "$@" >/dev/null || return 1
        fi
        meson compile -C "$dir" || return 1
        local rc=0
        meson test -C "$dir" --print-errorlogs --num-processes "$(nproc)" "${test_args[@]}" || rc=$?
        count_results "$dir/meson-logs/testlog.json"
        return $rc
}

# Adds this run's results to the totals, from meson's machine-readable log (one JSON object per test).
passed=0 failed=0 skipped=0
count_results() {
        local counts
        counts=$(python3 -c '
import json, sys
p = f = s = 0
for line in open(sys.argv[1], encoding="utf-8"):
    r = json.loads(line).get("result")
    if r in ("OK", "EXPECTEDFAIL"): p += 1
    elif r == "SKIP": s += 1
    else: f += 1
print(p, f, s)' "$1") || return 0
        read -r p f s <<<"$counts"
        passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
}

# The release build type (-O3, -DNDEBUG) meets warnings the debug build does not; compiled, not run.
build_release() {
        local dir=build-release
        if [[ -d $dir/meson-private ]]; then
                meson setup --reconfigure "$dir" --buildtype=release >/dev/null || return 1
        else
                meson setup "$dir" --buildtype=release >/dev/null || return 1
        fi
        meson compile -C "$dir"
}

test_args=("$@")
status=0
echo "== kyso: build and test (build-test/)"
run_suite build-test || status=1
echo "== kyso: release build, compile only (build-release/)"
if ! build_release; then
        echo "kyso: the release build failed" >&2
        status=1
fi
if ((sanitizers)); then
        echo "== kyso: build and test with ASan+UBSan (build-asan/)"
        run_suite build-asan -Db_sanitize=address,undefined -Db_lundef=false || status=1
fi
# The closing line counts every test of every run (a test that ran in both builds counts twice).
echo "kyso: $passed passed, $failed failed, $skipped skipped"
exit $status
