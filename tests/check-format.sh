#!/usr/bin/env bash
# Fails when a tracked C source or header is not clang-format clean (the house style, .clang-format).
set -euo pipefail
cd "${KYSO_SOURCE_ROOT:?}"
if ! command -v clang-format >/dev/null; then
        echo "clang-format is not installed (contrib/install-deps.sh installs it)" >&2
        exit 1
fi
mapfile -t files < <(git ls-files '*.c' '*.h' 2>/dev/null || find . -name '*.[ch]' -not -path './build*')
((${#files[@]})) || exit 0
clang-format --dry-run --Werror "${files[@]}"
echo "clang-format: ${#files[@]} files clean"
