#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole test suite twice: a plain build, then one with
# AddressSanitizer and UndefinedBehaviorSanitizer. The exit code is 0 only when both pass.
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
                meson setup --reconfigure "$dir" "$@" >/dev/null
        else
                meson setup "$dir" "$@" >/dev/null
        fi
        meson compile -C "$dir"
        meson test -C "$dir" --print-errorlogs --num-processes "$(nproc)" "${test_args[@]}"
}

test_args=("$@")
echo "== kyso: build and test (build-test/)"
run_suite build-test
if ((sanitizers)); then
        echo "== kyso: build and test with ASan+UBSan (build-asan/)"
        run_suite build-asan -Db_sanitize=address,undefined -Db_lundef=false
fi
echo "== kyso: all tests passed"
