#!/usr/bin/env bash
# test-trust-reload.sh (TAP): a root the administrator adds with `kysoctl trust add` is used by the running
# kysod at the next request, as a change to the policy file is (issue 15: "the agent picks changes up without
# a restart"). The policy here reads its roots from a folder that starts with another root only: the leader's
# chain is untrusted, signing is refused before any prompt; after `trust add` of the fixtures' root the same
# kysod signs, and `trust remove` makes it refuse again.
set -uo pipefail

. "${KYSO_SOURCE_ROOT:?run through meson test}/tests/fixtures/tap.sh"

# kysod starts by D-Bus activation at the first call, once the policy reads its roots from a folder.
sandbox_test trust --no-start
# ---- inside the sandbox (kysod, started by activation, is stopped by the sandbox)
P=$KYSO_PKI
LEADER="pkcs11:token=leader;object=leader;type=cert"
# The administrator's changes go to their own log (root's, in use), as kysod holds the user's.
LOG=$T/admin-audit.jsonl

mkdir -p "$T/roots"
cp "$P/other-root.pem" "$T/roots/"
sed -i "s|^root = .*|root = $T/roots|" "$KYSO_POLICY"
expect_match "the policy reads its roots from a folder" "^root = $T/roots\$" "$(grep '^root = ' "$KYSO_POLICY")"

echo "Quyết định số 15/QĐ-UBND" >"$T/qd.txt"
sign() {
        printf '%s\n' "confirm yes" "pin 1111" >"$KYSO_TEST_PINENTRY_SCRIPT"
        kysoctl sign --role approve --cert "$LEADER" "$T/qd.txt" -o "$T/qd.p7s" 2>&1
}
prompts() { pinentry_count '^(CONFIRM|GETPIN)'; }

out=$(sign)
expect_eq "without the fixtures' root: signing refused (exit 1)" 1 "$?"
expect_match "the refusal names the untrusted chain" "[Tt]rust|root" "$out"
expect_eq "no prompt before the refusal" 0 "$(prompts)"
pid=$(pgrep -f -n "$KYSO_BUILD_DIR/kysod")

out=$(kysoctl trust add --audit-log "$LOG" "$P/root.pem" 2>&1)
rc=$?
# One TAP line: the command's lines joined.
expect_eq "kysoctl trust add: the root is added (${out//$'\n'/; })" 0 "$rc"
out=$(sign)
expect_eq "the same kysod signs at the next request (exit 0: $out)" 0 "$?"
expect_eq "kysod was not restarted" "$pid" "$(pgrep -f -n "$KYSO_BUILD_DIR/kysod")"
expect "the signature verifies" kysoctl verify "$T/qd.txt" "$T/qd.p7s"
expect_match "the administrator's audit log records the change to the trust store" "trust" \
        "$(kysoctl audit show --log "$LOG" --json | jq -r '.[].event' | sort -u | tr '\n' ' ')"

fp=$(openssl x509 -in "$P/root.pem" -noout -fingerprint -sha256 | sed 's/.*=//; s/://g' | tr 'A-F' 'a-f')
out=$(kysoctl trust remove --audit-log "$LOG" "$fp" 2>&1)
rc=$?
expect_eq "kysoctl trust remove: the root is removed (${out//$'\n'/; })" 0 "$rc"
rm -f "$T/qd.p7s"
out=$(sign)
expect_eq "after the removal the same kysod refuses again (exit 1)" 1 "$?"
expect_eq "kysod was not restarted" "$pid" "$(pgrep -f -n "$KYSO_BUILD_DIR/kysod")"
tap_done
