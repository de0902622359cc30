#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The audit benchmarks, in one run:
#   1. the audit log itself (bench-audit): durable appends, group commits, and verify of a million records
#      in one file, paired with `openssl dgst -sha256` of the same file (the floor: verify hashes every
#      byte), and verify's memory against the log's size;
#   2. the audit queries of issue 14 on RECORDS records spread over a year, written by the agent's writer
#      with monthly rotation as kysod writes them (bench-audit-year): `kysoctl audit show --since` the last
#      day, `kysoctl audit report --month` (which also verifies the whole chain, on a second thread), and
#      `kysoctl audit verify`
#      over all the files, each paired A B A B with a peer in the same run: `tail -n` of the same records for
#      show, `openssl dgst -sha256` of all the files for report and verify (never coreutils' sha256sum, which
#      lacks the CPU's SHA instructions). The page cache is warmed first for both sides.
# The machine's load is printed; a target gets "met" or "MISSED" only when the load average is at most the
# number of CPUs, else "machine too busy". Targets: show under 0.2 s; report under 1.5 s; verify at most
# 1.1 x openssl dgst -sha256.
# Usage: tests/bench/run-audit.sh [BUILD]   (RECORDS, default 1000000; DURABLE_RECORDS, default 2000;
# ROUNDS, default 5). Needs about 2 GiB free in TMPDIR; removes it afterwards. Not a test: it prints figures.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
records=${RECORDS:-1000000}
rounds=${ROUNDS:-5}
. "$root/tests/bench/bench-lib.sh"
dir=$(mktemp -d "${TMPDIR:-/tmp}/kyso-bench-audit.XXXXXX")
trap 'rm -rf -- "$dir"' EXIT

bench_print_load "at the start"
echo "== 1. the audit log: append and verify (bench-audit) =="
"$build/tests/bench/bench-audit" "$dir/log" "$records" "${DURABLE_RECORDS:-2000}" "$rounds"
rm -rf -- "$dir/log"

echo "== 2. audit queries on $records records over a year, rotated monthly =="
log=$dir/year/audit.jsonl
mkdir -p "$dir/year"
"$build/tests/bench/bench-audit-year" "$log" "$records" 2026
files=()
for n in $(for f in "$log".*; do n=${f##*.}; [[ $n =~ ^[0-9]+$ ]] && echo "$n"; done | sort -n); do
        files+=("$log.$n")
done
files+=("$log")
printf "log: %d files, %s bytes\n" "${#files[@]}" "$(cat "${files[@]}" | wc -c)"
cat "${files[@]}" >/dev/null
kysoctl=$build/kysoctl

last=$(tail -n 1 "$log" | sed -E 's/.*"time":"([^"]*)".*/\1/')
since=$(date -u -d "${last%.*}Z - 1 day" +%Y-%m-%dT%H:%M:%SZ)
shown=$(("$(KYSO_AUDIT_LOG=$log "$kysoctl" audit show --csv --since "$since" | wc -l)" - 1))
bench_print_load "before the queries"
echo "show --since $since (the last day before the last record, $shown records) vs tail -n $shown of the active file:"
bench_pair "$rounds" "kysoctl audit show --since" "tail -n $shown" \
        -- "$kysoctl" audit show --log "$log" --since "$since" -- tail -n "$shown" "$log"
show_s=$bench_a

month=2026-12
echo "report --month $month (verifies the whole chain on a second thread while it reads its window) vs openssl dgst -sha256 of all the files:"
bench_pair "$rounds" "kysoctl audit report --month $month" "openssl dgst -sha256" \
        -- "$kysoctl" audit report --log "$log" --month "$month" -- openssl dgst -sha256 "${files[@]}"
report_s=$bench_a

echo "verify vs openssl dgst -sha256 of all the files (the floor: verify hashes every byte):"
bench_cpu=1 bench_pair "$rounds" "kysoctl audit verify" "openssl dgst -sha256" \
        -- "$kysoctl" audit verify --log "$log" -- openssl dgst -sha256 "${files[@]}"
verify_ratio=$bench_ratio verify_cpu_ratio=$bench_cpu_ratio

bench_print_load "at the end"
printf "target: show --since the last day under 0.2 s: median %.3f s: %s\n" "$show_s" "$(bench_verdict "$show_s < 0.2")"
printf "target: report --month under 1.5 s: median %.3f s: %s\n" "$report_s" "$(bench_verdict "$report_s < 1.5")"
printf "target: verify / openssl dgst -sha256 at most 1.10: median ratio %.2f: %s\n" "$verify_ratio" \
        "$(bench_verdict "$verify_ratio <= 1.1")"
printf "(the same in CPU time, user + sys, which a busy machine disturbs less: median ratio %.2f)\n" "$verify_cpu_ratio"
