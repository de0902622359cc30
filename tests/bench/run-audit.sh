#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Runs the audit log benchmark: build/tests/bench/bench-audit [DIR] [RECORDS] [DURABLE_RECORDS].
# Needs about 1 GiB of free space in the folder for a million records; removes it afterwards.
set -eu
build=${1:-build}
dir=$(mktemp -d /tmp/kyso-bench-audit-XXXXXX)
trap 'rm -rf "$dir"' EXIT
"$build/tests/bench/bench-audit" "$dir" "${RECORDS:-1000000}" "${DURABLE_RECORDS:-2000}"
