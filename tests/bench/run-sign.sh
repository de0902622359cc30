#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The signing benchmark (issue 5), in one run inside contrib/sandbox on the SoftHSM RSA-2048 leader key:
#   1. raw PKCS#11 signatures per second (bench-sign-raw: no agent, no CMS, no audit) - the peer;
#   2. end-to-end SignBatch signatures per second through kysod (scripted prompt, durable audit records,
#      CAdES B-B written to files), and the ratio to 1 (target >= 0.5);
#   3. a 1 GiB (sparse) document: sha256sum vs kysoctl sign (target <= 1.3x), and kysod's peak memory
#      (VmHWM, target < 32 MiB).
# Usage: tests/bench/run-sign.sh [BUILD] [BATCH]. Not a test: it prints figures.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
batch=${2:-200}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/kyso-bench-sign.XXXXXX")
trap 'rm -rf -- "$tmp"' EXIT
export KYSO_SANDBOX_PINENTRY=$root/tests/agent/scripted-pinentry KYSO_TEST_PINENTRY_SCRIPT=$tmp/script
export KYSO_TEST_PINENTRY_LOG=/dev/null KYSO_BENCH_DIR=$tmp KYSO_BENCH_BATCH=$batch
export KYSO_BENCH_BUILD=$build
: >"$KYSO_TEST_PINENTRY_SCRIPT"
unset KYSO_POLICY
exec "$root/contrib/sandbox" --build "$build" -- bash -c '
set -euo pipefail
T=$KYSO_BENCH_DIR B=$KYSO_BENCH_BUILD N=$KYSO_BENCH_BATCH
LEADER="pkcs11:token=leader;object=leader;type=cert"
raw=$("$B/tests/bench/bench-sign-raw" "$KYSO_SOFTHSM_MODULE" leader 1111 leader 5 | awk "{ print \$2 }")
echo "raw PKCS#11 RSA-2048 signatures/s (SoftHSM, one session):   $raw"
rawl=$("$B/tests/bench/bench-sign-raw" "$KYSO_SOFTHSM_MODULE" leader 1111 leader 5 lookup | awk "{ print \$2 }")
echo "the same with a key lookup per signature (kyso-p11-helper before its key cache): $rawl"

mkdir -p "$T/in" "$T/out"
for ((i = 0; i < N; i++)); do printf "văn bản %d\n" "$i" >"$T/in/d$i.txt"; done
printf "confirm yes\npin 1111\n" >"$KYSO_TEST_PINENTRY_SCRIPT"
start=$(date +%s.%N)
"$B/tests/signing/sign-client" --cert "$LEADER" --role approve --batch --count "$N" -o "$T/out" "$T"/in/d{0..'"$((batch - 1))"'}.txt | grep "^response 0 0" >/dev/null
end=$(date +%s.%N)
e2e=$(echo "$N / ($end - $start)" | bc -l)
printf "end-to-end SignBatch signatures/s (%d documents, B-B, durable audit): %.1f\n" "$N" "$e2e"
printf "ratio end-to-end / raw: %.2f (target >= 0.5); / raw with key lookup: %.2f\n" "$(echo "$e2e / $raw" | bc -l)" \
        "$(echo "$e2e / $rawl" | bc -l)"

truncate -s 1G "$T/big.bin"
s0=$(date +%s.%N); sha256sum "$T/big.bin" >/dev/null; s1=$(date +%s.%N)
printf "confirm yes\npin 1111\n" >"$KYSO_TEST_PINENTRY_SCRIPT"
k0=$(date +%s.%N); kysoctl sign --role approve --cert "$LEADER" "$T/big.bin" -o "$T/big.p7s" >/dev/null; k1=$(date +%s.%N)
sha=$(echo "$s1 - $s0" | bc -l); sig=$(echo "$k1 - $k0" | bc -l)
printf "1 GiB: sha256sum %.2f s, kysoctl sign %.2f s, ratio %.2f (target <= 1.3)\n" "$sha" "$sig" "$(echo "$sig / $sha" | bc -l)"
hwm=$(awk "/VmHWM/ { print \$2 }" "/proc/$KYSO_KYSOD_PID/status")
printf "kysod peak memory (VmHWM, whole run): %.1f MiB (target < 32)\n" "$(echo "$hwm / 1024" | bc -l)"
'
