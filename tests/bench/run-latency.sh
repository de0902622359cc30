#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# One document, whole process, as a leader meets it (issue 14): `kysoctl sign` through kysod (D-Bus, policy
# and revocation checks, a scripted pinentry for approval and PIN, CAdES B-B, one durable audit record)
# against its honest peer, `openssl cms -sign -cades` with OpenSSL's pkcs11 engine (libp11) on the same
# SoftHSM RSA-2048 key. Each is timed as a whole process, start to exit, in pairs A B A B...; the verdict is
# on the median of the per-pair ratios kyso / openssl. The load average is printed at the start and the
# end; when it is above the number of CPUs there is no verdict ("machine too busy"): other processes then
# take time from the peer's one process and kyso's several unevenly.
# Target: kyso / openssl at most 1.2.
# kysod runs in contrib/sandbox with its OCSP, CRL and TSA test servers; its revocation cache starts empty,
# and one kysoctl sign before the pairs warms it as the token's arrival does in use (the inventory checks
# a new token's certificates in the background). Not a test: it prints figures.
# The pinentry is a stand-in that answers from a script, and kysod's time includes its start and dialogue.
# By default it is tests/bench/bench-pinentry, a C program that speaks exactly the Assuan dialogue of
# tests/agent/scripted-pinentry (same script, same log, same answers): real pinentries are C programs too.
# The bash script itself (KYSO_BENCH_PINENTRY=script) adds bash's and env's start-up and a system call per
# byte it reads to kyso's side. The output names the stand-in used.
# Usage: tests/bench/run-latency.sh [BUILD] [PAIRS]   (PAIRS defaults to 15)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
pairs=${2:-15}

# The peer needs OpenSSL's pkcs11 engine (Debian: libengine-pkcs11-openssl).
engine=$(find /usr/lib/*/engines-3 /usr/lib/engines-3 -name pkcs11.so 2>/dev/null | head -n 1 || true)
if [[ -z $engine ]]; then
        echo "installing libengine-pkcs11-openssl (OpenSSL's pkcs11 engine) for the peer..."
        if [[ $(id -u) == 0 ]]; then
                apt-get install -y libengine-pkcs11-openssl >/dev/null
        else
                sudo apt-get install -y libengine-pkcs11-openssl >/dev/null
        fi
        engine=$(find /usr/lib/*/engines-3 /usr/lib/engines-3 -name pkcs11.so 2>/dev/null | head -n 1 || true)
        [[ -n $engine ]] || { echo "no pkcs11.so engine after installing libengine-pkcs11-openssl" >&2; exit 1; }
fi

. "$root/tests/bench/bench-lib.sh"
bench_sandbox_dir latency "$pairs"
case ${KYSO_BENCH_PINENTRY:-compiled} in
compiled)
        KYSO_SANDBOX_PINENTRY=$build/tests/bench/bench-pinentry
        KYSO_BENCH_PINENTRY_SAYS="tests/bench/bench-pinentry (C; the Assuan dialogue of tests/agent/scripted-pinentry; KYSO_BENCH_PINENTRY=script runs the bash one)"
        ;;
script) KYSO_BENCH_PINENTRY_SAYS="tests/agent/scripted-pinentry (bash: its start-up and byte-per-read input count on kyso's side)" ;;
*) echo "KYSO_BENCH_PINENTRY is compiled or script" >&2 && exit 2 ;;
esac
[[ -x $KYSO_SANDBOX_PINENTRY ]] || { echo "no $KYSO_SANDBOX_PINENTRY: build it (meson compile -C $build)" >&2; exit 1; }
export KYSO_SANDBOX_PINENTRY KYSO_BENCH_PINENTRY_SAYS
export KYSO_BENCH_ENGINE=$engine
"$root/contrib/sandbox" --build "$build" -- bash -c '
set -euo pipefail
T=$KYSO_BENCH_DIR N=$KYSO_BENCH_PAIRS
LEADER="pkcs11:token=leader;object=leader;type=cert"
KEY="pkcs11:token=leader;object=leader;type=private;pin-value=1111"
ncpu=$(nproc)
load() { read -r l _ </proc/loadavg; echo "$l"; }
now_ns() { date +%s%N; }
median() { sort -g | awk "{ v[NR] = \$1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }"; }

# The engine reads its module from this configuration only (not from the environment of the sandbox).
cat >"$T/openssl.cnf" <<CNF
openssl_conf = init
[init]
engines = engines
[engines]
pkcs11 = pkcs11
[pkcs11]
engine_id = pkcs11
dynamic_path = $KYSO_BENCH_ENGINE
MODULE_PATH = $KYSO_SOFTHSM_MODULE
init = 0
CNF
printf "văn bản cần ký: tờ trình ngân sách\n" >"$T/doc.txt"
cp "$KYSO_PKI/leader.pem" "$T/leader.pem"

kyso_once() {
        printf "confirm yes\npin 1111\n" >"$KYSO_TEST_PINENTRY_SCRIPT"
        kysoctl sign --role approve --cert "$LEADER" "$T/doc.txt" -o "$T/kyso.p7s" >/dev/null
}
openssl_once() {
        OPENSSL_CONF=$T/openssl.cnf openssl cms -sign -cades -binary -md sha256 -nodetach -in "$T/doc.txt" \
                -signer "$T/leader.pem" -engine pkcs11 -keyform engine -inkey "$KEY" -outform DER \
                -out "$T/openssl.p7s" 2>"$T/openssl.err" >/dev/null ||
                { cat "$T/openssl.err" >&2; return 1; }
}
timed() { local t0 t1; t0=$(now_ns); "$@"; t1=$(now_ns); echo $(((t1 - t0) / 1000)); }

# The sandbox wrote the policy a moment ago; in use it was installed long before. kysod keeps a policy for
# the next request only once its files are 3 s old (agent/policy-cache.h; until then each request reads it
# again, as every request did before that cache): wait for that, as in use.
newest=$(stat -c %Z "$KYSO_POLICY" $(sed -n "s/^\(root\|intermediate\) = //p" "$KYSO_POLICY") | sort -n | tail -n 1)
settle=$((newest + 4 - $(date +%s)))
if ((settle > 0)); then
        printf "waiting %d s: kysod reuses a policy only once its files are 3 s old, as an installed one is\n" "$settle"
        sleep "$settle"
fi

load0=$(load)
printf "machine: %d CPUs, load average %s at the start\n" "$ncpu" "$load0"
printf "pinentry stand-in: %s\n" "$KYSO_BENCH_PINENTRY_SAYS"
# Both work once, untimed: kysod has started, the token is known, the revocation cache is warm, and the
# engine and the module are in the page cache.
kyso_once
openssl_once
[ -s "$T/kyso.p7s" ] && [ -s "$T/openssl.p7s" ] || { echo "a signature is missing" >&2; exit 1; }
starts0=$(grep -c "^START" "$KYSO_TEST_PINENTRY_LOG" || true)
ocsp_queries() { cat "$KYSO_TEST_SERVER_DIR"/ocsp-*.log 2>/dev/null | grep -c "\"POST " || true; }
ocsp0=$(ocsp_queries)

ratios=() ks=() os=()
for ((i = 1; i <= N; i++)); do
        k=$(timed kyso_once)
        o=$(timed openssl_once)
        ks+=("$k") os+=("$o")
        ratios+=("$(echo "$k / $o" | bc -l)")
        printf "pair %2d: kysoctl sign %6.1f ms, openssl cms -sign -cades %6.1f ms, ratio %.2f\n" \
                "$i" "$(echo "$k / 1000" | bc -l)" "$(echo "$o / 1000" | bc -l)" "${ratios[-1]}"
done
starts=$(($(grep -c "^START" "$KYSO_TEST_PINENTRY_LOG" || true) - starts0))
ocsp=$(($(ocsp_queries) - ocsp0))
load1=$(load)
mk=$(printf "%s\n" "${ks[@]}" | median) mo=$(printf "%s\n" "${os[@]}" | median)
mr=$(printf "%s\n" "${ratios[@]}" | median)
printf "pinentry processes per kysoctl sign: %s (stand-in: %s); OCSP queries during the pairs: %d (the cache answers)\n" \
        "$(echo "$starts / $N" | bc -l | xargs printf "%.1f")" "${KYSO_BENCH_PINENTRY_SAYS%% *}" "$ocsp"
printf "median: kysoctl sign %.1f ms (pinentry stand-in: %s), openssl cms %.1f ms; median of the %d pair ratios: %.2f\n" \
        "$(echo "$mk / 1000" | bc -l)" "${KYSO_BENCH_PINENTRY:-compiled}" "$(echo "$mo / 1000" | bc -l)" "$N" "$mr"
printf "machine: load average %s at the end\n" "$load1"
busy=$(echo "$load0 > $ncpu || $load1 > $ncpu" | bc -l)
if [ "$busy" = 1 ]; then
        printf "target: kysoctl sign / openssl cms -sign -cades = %.2f, at most 1.20: machine too busy (load above %d CPUs), no verdict\n" "$mr" "$ncpu"
elif [ "$(echo "$mr <= 1.2" | bc -l)" = 1 ]; then
        printf "target: kysoctl sign / openssl cms -sign -cades = %.2f, at most 1.20: met\n" "$mr"
else
        printf "target: kysoctl sign / openssl cms -sign -cades = %.2f, at most 1.20: MISSED\n" "$mr"
fi
'
