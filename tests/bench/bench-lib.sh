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

# bench_time COMMAND...: its wall time in seconds; fails when the command fails.
bench_time() {
        local s e
        s=$(date +%s.%N)
        "$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; return 1; }
        e=$(date +%s.%N)
        echo "$e - $s" | bc -l
}

# bench_pair ROUNDS NAME_A NAME_B -- A... -- B...: runs A and B alternately (A B A B ...), ROUNDS times each,
# and sets bench_a and bench_b (median times) and bench_ratio (the median of the rounds' A/B ratios).
bench_pair() {
        local rounds=$1 name_a=$2 name_b=$3 i ta tb
        local -a a=() b=() ra=() rb=() ratios=()
        shift 3
        [ "$1" = -- ] && shift
        while [ "$1" != -- ]; do a+=("$1"); shift; done
        shift
        b=("$@")
        for ((i = 1; i <= rounds; i++)); do
                ta=$(bench_time "${a[@]}") || return 1
                tb=$(bench_time "${b[@]}") || return 1
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
}
