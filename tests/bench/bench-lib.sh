# SPDX-License-Identifier: LGPL-2.1-or-later
# Sourced by tests/bench/run-*.sh: the machine's load, paired timings, medians and verdicts, the same in
# every benchmark. A verdict ("met" or "MISSED") is given only when the load average was at most the number
# of CPUs when the benchmark started and when the verdict is given; else "machine too busy": on a busy
# machine other processes take CPU time from kyso and from its peer unevenly, and a ratio means little.

bench_ncpu=$(nproc)
read -r bench_start_load _ </proc/loadavg

bench_load() {
        local l
        read -r l _ </proc/loadavg
        echo "$l"
}

bench_print_load() {
        printf "machine: %d CPUs, load average %s (%s)\n" "$bench_ncpu" "$(bench_load)" "$1"
}

bench_busy() {
        [ "$(echo "$bench_start_load > $bench_ncpu || $(bench_load) > $bench_ncpu" | bc -l)" = 1 ]
}

# bench_verdict CONDITION: CONDITION is a bc expression that is 1 when the target is met.
bench_verdict() {
        if bench_busy; then
                echo "machine too busy (load average $bench_start_load at the start, $(bench_load) now, $bench_ncpu CPUs): no verdict"
        elif [ "$(echo "$1" | bc -l)" = 1 ]; then
                echo met
        else
                echo MISSED
        fi
}

# The median of the numbers on standard input, one per line.
bench_median() {
        sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) exit 1; print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# bench_time COMMAND...: its wall time and its CPU time (user + sys of the command and its children) in
# seconds, on one line; fails when the command fails.
bench_time() {
        local s e cpu TIMEFORMAT='%3U %3S'
        s=$(date +%s.%N)
        cpu=$({ time "$@" >/dev/null 2>/dev/null; } 2>&1) || { echo "failed: $*" >&2; return 1; }
        e=$(date +%s.%N)
        echo "$(echo "$e - $s" | bc -l) $(echo "${cpu/ / + }" | bc -l)"
}

bench_settle() {
        [[ ${bench_sync:-0} == 1 ]] || return 0
        if declare -F bench_untimed >/dev/null; then
                bench_untimed
        fi
        sync
}

# bench_pair ROUNDS NAME_A NAME_B -- A... -- B...: runs A and B alternately (A B A B ...), ROUNDS times each,
# and sets bench_a and bench_b (median times) and bench_ratio (the median of the rounds' A/B ratios). With
# bench_cpu=1 it also prints the CPU times and sets bench_cpu_ratio: for commands that do all their work in
# their own processes (not through kysod), a figure that a busy machine disturbs less than the wall time.
# With bench_sync=1 each timed command starts after an untimed `bench_untimed` (when the caller defines it:
# removing the outputs of earlier runs, say) and `sync`: a command that makes its output durable (kysoctl
# fsyncs it) then waits only for its own writes, not for what the other command left to write back or free.
bench_pair() {
        local rounds=$1 name_a=$2 name_b=$3 i ta tb ca cb
        local -a a=() b=() ra=() rb=() ratios=() cpu_ratios=() cpu_a=() cpu_b=()
        shift 3
        [ "$1" = -- ] && shift
        while [ "$1" != -- ]; do a+=("$1"); shift; done
        shift
        b=("$@")
        for ((i = 1; i <= rounds; i++)); do
                bench_settle
                read -r ta ca < <(bench_time "${a[@]}") && [[ -n $ta ]] || return 1
                bench_settle
                read -r tb cb < <(bench_time "${b[@]}") && [[ -n $tb ]] || return 1
                cpu_a+=("$ca")
                cpu_b+=("$cb")
                cpu_ratios+=("$(echo "if ($cb > 0) $ca / $cb else 0" | bc -l)")
                ra+=("$ta")
                rb+=("$tb")
                ratios+=("$(echo "$ta / $tb" | bc -l)")
        done
        bench_a=$(printf "%s\n" "${ra[@]}" | bench_median)
        bench_b=$(printf "%s\n" "${rb[@]}" | bench_median)
        bench_ratio=$(printf "%s\n" "${ratios[@]}" | bench_median)
        printf "  %s: %s s\n" "$name_a" "$(printf "%.3f " "${ra[@]}")"
        printf "  %s: %s s\n" "$name_b" "$(printf "%.3f " "${rb[@]}")"
        printf "  medians: %.3f s and %.3f s; median of the %d paired ratios: %.2f\n" "$bench_a" "$bench_b" "$rounds" "$bench_ratio"
        if [[ ${bench_cpu:-0} == 1 ]]; then
                bench_cpu_ratio=$(printf "%s\n" "${cpu_ratios[@]}" | bench_median)
                printf "  CPU time (user + sys): %s s and %s s; median of the paired ratios: %.2f\n" \
                        "$(printf "%.3f " "${cpu_a[@]}")" "$(printf "%.3f " "${cpu_b[@]}")" "$bench_cpu_ratio"
        fi
}

# bench_sandbox_dir NAME PAIRS: before running a benchmark inside contrib/sandbox, sets tmp (a folder removed
# at exit) and exports what the sandbox's scripted pinentry and the benchmark inside read: KYSO_BENCH_DIR,
# KYSO_BENCH_PAIRS, the pinentry's script (empty) and log. The installed policy is left out: the sandbox's.
bench_sandbox_dir() {
        tmp=$(mktemp -d "${TMPDIR:-/tmp}/kyso-bench-$1.XXXXXX") || exit 1
        trap 'rm -rf -- "$tmp"' EXIT
        export KYSO_SANDBOX_PINENTRY=$root/tests/agent/scripted-pinentry KYSO_TEST_PINENTRY_SCRIPT=$tmp/script
        export KYSO_TEST_PINENTRY_LOG=$tmp/pinentry.log KYSO_BENCH_DIR=$tmp KYSO_BENCH_PAIRS=$2
        : >"$KYSO_TEST_PINENTRY_SCRIPT"
        unset KYSO_POLICY
}
