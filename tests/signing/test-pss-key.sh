#!/usr/bin/env bash
# test-pss-key.sh (TAP): a certificate whose key is RSA-PSS-only (its SubjectPublicKeyInfo is id-RSASSA-PSS)
# under the default rsa-padding = pkcs1 is refused before any prompt, with the reason, not after the PIN
# with Internal. The key is made here, on a third SoftHSM token of the sandbox's own fixtures, so that the
# shared fixtures (and every listing other tests compare) stay as they are.
set -uo pipefail

. "${KYSO_SOURCE_ROOT:?run through meson test}/tests/fixtures/tap.sh"

if [[ -z ${KYSO_SANDBOX:-} ]]; then
        T=$(mktemp -d "${TMPDIR:-/tmp}/kyso-pss-test.XXXXXX") || exit 1
        trap 'rm -rf -- "$T"' EXIT
        export KYSO_SANDBOX_PINENTRY=$KYSO_SOURCE_ROOT/tests/agent/scripted-pinentry
        export KYSO_TEST_PINENTRY_SCRIPT=$T/pinentry.script KYSO_TEST_PINENTRY_LOG=$T/pinentry.log
        export KYSO_PSS_TEST_DIR=$T
        unset KYSO_POLICY
        : >"$KYSO_TEST_PINENTRY_SCRIPT"
        # kysod starts by D-Bus activation at the first call, once the test has added its token (SoftHSM
        # reads its tokens when a process loads it).
        exec "$KYSO_SOURCE_ROOT/contrib/sandbox" --build "${KYSO_BUILD_ROOT:?}" --no-start -- "$0"
fi
# ---- inside the sandbox (kysod, started by activation, is stopped by the sandbox)
T=$KYSO_PSS_TEST_DIR
P=$KYSO_PKI
log=$T/make.log

# The key as a PSS-only key, its certificate from the fixtures' issuing CA (a personal certificate); the
# token holds the same key material as a plain RSA private key (what a token stores), the certificate says
# PSS only.
{
        openssl genpkey -algorithm RSA-PSS -pkeyopt rsa_keygen_bits:2048 -out "$T/pss.key" &&
                openssl req -config "$P/openssl.cnf" -new -utf8 -key "$T/pss.key" \
                        -subj "/C=VN/O=UBND phường Uông Bí/title=Chủ tịch/CN=Đỗ Văn PSS" -out "$T/pss.csr" &&
                openssl ca -config "$P/openssl.cnf" -name ca_issuing -batch -notext -utf8 -preserveDN \
                        -extensions v3_personal -days 30 -in "$T/pss.csr" -out "$T/pss.pem" &&
                openssl x509 -in "$T/pss.pem" -outform DER -out "$T/pss.der" &&
                openssl rsa -in "$T/pss.key" -traditional -out "$T/pss-rsa1.key" &&
                sed -i 's/RSA-PSS PRIVATE KEY/RSA PRIVATE KEY/' "$T/pss-rsa1.key" &&
                openssl pkcs8 -topk8 -nocrypt -in "$T/pss-rsa1.key" -out "$T/pss-rsa.key" &&
                softhsm2-util --init-token --free --label pss --pin 3333 --so-pin 33333333 &&
                softhsm2-util --import "$T/pss-rsa.key" --token pss --pin 3333 --id 01 --label pss &&
                pkcs11-tool --module "$KYSO_SOFTHSM_MODULE" --token-label pss --login --pin 3333 \
                        --write-object "$T/pss.der" --type cert --id 01 --label pss
} >"$log" 2>&1 || bail_out "cannot make the PSS-only key and token: $(tail -n 3 "$log" | tr '\n' ' ')"
expect_match "the certificate's key is RSA-PSS only" "rsassaPss|RSASSA-PSS" \
        "$(openssl x509 -in "$T/pss.pem" -noout -text | grep 'Public Key Algorithm')"

for ((i = 0; i < 100; i++)); do kysoctl tokens 2>/dev/null | grep -q '^ *pss ' && break; sleep 0.2; done
expect_match "kysod sees the PSS token" "(^|\n) *pss " "$(kysoctl tokens 2>&1)"

echo "Quyết định số 12/QĐ-UBND" >"$T/qd.txt"
echo "confirm yes" >"$KYSO_TEST_PINENTRY_SCRIPT"
echo "pin 3333" >>"$KYSO_TEST_PINENTRY_SCRIPT"
: >"$KYSO_TEST_PINENTRY_LOG"
out=$(kysoctl sign --role approve --cert "pkcs11:token=pss;object=pss;type=cert" "$T/qd.txt" -o "$T/qd.p7s" 2>&1)
expect_eq "the PSS-only key under rsa-padding = pkcs1: refused (exit 1)" 1 "$?"
expect_match "the refusal says why" "can only make RSA-PSS signatures.*rsa-padding = pss" "$out"
expect_eq "no prompt before the refusal" 0 "$(grep -c '^START' "$KYSO_TEST_PINENTRY_LOG")"
expect_eq "the audit record: sign-denied" "sign-denied" \
        "$(kysoctl audit show --json | jq -r '[.[] | select(.event | startswith("sign-"))] | last | .event')"
[[ ! -s $T/qd.p7s ]] && ok "nothing written" || not_ok "nothing written"
tap_done
