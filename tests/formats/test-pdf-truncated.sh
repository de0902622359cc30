#!/usr/bin/env bash
# test-pdf-truncated.sh SIGN_TOOL SHIM: kysoctl verify on a signed PDF that is cut to half its size while it
# is being read (truncate-shim.so, LD_PRELOAD) ends with a clear error, not a crash (SIGBUS on a mapping).
# TAP.
set -uo pipefail
. "${KYSO_SOURCE_ROOT:?run through meson test}/tests/fixtures/tap.sh"

tool=${1:?usage: test-pdf-truncated.sh SIGN_TOOL SHIM}
shim=${2:?usage: test-pdf-truncated.sh SIGN_TOOL SHIM}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/kyso-pdf-truncated-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
"$KYSO_SOURCE_ROOT/tests/formats/make-test-pki.sh" "$tmp/pki" >"$tmp/pki.log" 2>&1 || bail_out "make-test-pki.sh failed"
# A few MB, so that half of it is well inside the signed range.
python3 "$KYSO_SOURCE_ROOT/tests/bench/make-bench-pdf.py" "$tmp/in.pdf" 4 || bail_out "make-bench-pdf.py failed"
"$tool" "$tmp/pki/leader.pem" "$tmp/pki/leader.key" "$tmp/pki/ca.pem" "$tmp/in.pdf" "$tmp/signed.pdf" >/dev/null ||
        bail_out "pades-sign-tool failed"

cp "$tmp/signed.pdf" "$tmp/cut.pdf"
out=$(LD_PRELOAD=$shim KYSO_TRUNCATE_PATH=$tmp/cut.pdf "$KYSOCTL" verify --policy /nonexistent "$tmp/cut.pdf" 2>&1)
rc=$?
expect "the file was cut while read (the shim worked)" test "$(stat -c %s "$tmp/cut.pdf")" -lt "$(stat -c %s "$tmp/signed.pdf")"
expect "kysoctl verify is not killed by a signal (rc $rc: $out)" test "$rc" -lt 128
expect "... and does not say the file is valid" test "$rc" -ne 0
expect_match "... it says the file changed while it was read" "changed while it was being read" "$out"

cp "$tmp/signed.pdf" "$tmp/cut.pdf"
out=$(LD_PRELOAD=$shim KYSO_TRUNCATE_PATH=$tmp/cut.pdf "$KYSOCTL" verify --json --policy /nonexistent "$tmp/cut.pdf" 2>&1)
rc=$?
expect "kysoctl verify --json: not killed by a signal either (rc $rc)" test "$rc" -lt 128
tap_done
