#!/usr/bin/env bash
# test-unusable-certs.sh (TAP): certificates that cannot sign are refused before any prompt, with why.
# kysoctl sign does not offer those GetCertificates marks usable-for-signing = false, and refuses one named
# with --cert, saying why. A certificate whose key is RSA-PSS-only (its SubjectPublicKeyInfo is
# id-RSASSA-PSS) under the default rsa-padding = pkcs1 is marked so by GetCertificates (kysoctl certs says
# why), not offered, and refused by the agent with the reason, not after the PIN with Internal. The PSS key is made here, on a third SoftHSM token of the sandbox's own fixtures,
# so that the shared fixtures (and every listing other tests compare) stay as they are.
set -uo pipefail

. "${KYSO_SOURCE_ROOT:?run through meson test}/tests/fixtures/tap.sh"

# kysod starts by D-Bus activation at the first call, once the test has added its token (SoftHSM reads its
# tokens when a process loads it).
sandbox_test pss --no-start
# ---- inside the sandbox (kysod, started by activation, is stopped by the sandbox)
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

# GetCertificates marks it unusable for signing, with why, as it does a certificate lacking nonRepudiation.
expect_match "certs --json: the PSS-only key is not usable for signing, with why" \
        "^false .*can only make RSA-PSS signatures.*rsa-padding = pss" \
        "$(kysoctl certs --json | jq -r '.[] | select(.label == "pss") | "\(.usable_for_signing) \(.reason)"')"
expect_match "certs: the reason under the table" "(^|\n)pss: cannot sign: .*can only make RSA-PSS signatures.*rsa-padding = pss" \
        "$(kysoctl certs 2>&1)"

# Untrusted and revoked certificates: the reason in the table and the JSON too (issue 13), not the status
# word alone. The revoked one's status comes from the inventory's revocation check: wait for it.
for ((i = 0; i < 150; i++)); do
        [[ $(kysoctl certs --json | jq -r '.[] | select(.label == "revoked") | .status') == revoked ]] && break
        sleep 0.2
done
certs_json=$(kysoctl certs --json) certs_table=$(kysoctl certs 2>&1)
expect_match "certs --json: an untrusted certificate is not usable, with why" \
        "^untrusted false .*does not lead to a trusted root certificate" \
        "$(jq -r '.[] | select(.label == "unknown") | "\(.status) \(.usable_for_signing) \(.reason)"' <<<"$certs_json")"
expect_match "certs: the untrusted certificate's reason under the table" \
        "(^|\n)unknown: cannot sign: .*does not lead to a trusted root certificate" "$certs_table"
expect_match "certs --json: a revoked certificate is not usable, with why" \
        "^revoked false .*was revoked on [0-9-]+" \
        "$(jq -r '.[] | select(.label == "revoked") | "\(.status) \(.usable_for_signing) \(.reason)"' <<<"$certs_json")"
expect_match "certs: the revoked certificate's reason under the table" \
        "(^|\n)revoked: cannot sign: .*was revoked on [0-9-]+" "$certs_table"

echo "Quyết định số 12/QĐ-UBND" >"$T/qd.txt"
echo "confirm yes" >"$KYSO_TEST_PINENTRY_SCRIPT"
echo "pin 3333" >>"$KYSO_TEST_PINENTRY_SCRIPT"
: >"$KYSO_TEST_PINENTRY_LOG"
records() { kysoctl audit show --json | jq '[.[] | select(.event | startswith("sign-"))] | length'; }
n=$(records)
out=$(kysoctl sign --role approve --cert "pkcs11:token=pss;object=pss;type=cert" "$T/qd.txt" -o "$T/qd.p7s" 2>&1)
expect_eq "the PSS-only key under rsa-padding = pkcs1: refused (exit 1)" 1 "$?"
expect_match "the refusal says why" "can only make RSA-PSS signatures.*rsa-padding = pss" "$out"
expect_eq "no prompt before the refusal" 0 "$(grep -c '^START' "$KYSO_TEST_PINENTRY_LOG")"
# Marked unusable in the inventory, it is refused by Sign before a request exists, like the others below.
expect_eq "no audit record: refused before any request" "$n" "$(records)"
[[ ! -s $T/qd.p7s ]] && ok "nothing written" || not_ok "nothing written"

# Named with --cert, a certificate the agent marks unusable is refused by kysoctl with the agent's reason,
# before any request: no prompt, no record.
n=$(records)
: >"$KYSO_TEST_PINENTRY_LOG"
out=$(kysoctl sign --role approve --cert "pkcs11:token=leader;object=expired;type=cert" "$T/qd.txt" -o "$T/e.p7s" 2>&1)
expect_eq "an expired certificate named with --cert: refused (exit 1)" 1 "$?"
expect_match "kysoctl sign says why" "^kysoctl sign: the certificate pkcs11:.*object=expired.* cannot sign: The certificate of Phạm Văn Hết Hạn expired on" "$out"
out=$(kysoctl sign --role issue --cert "pkcs11:token=seal;object=device;type=cert" "$T/qd.txt" -o "$T/e.p7s" 2>&1)
expect_match "a certificate without nonRepudiation named with --cert: the missing bit said" \
        "^kysoctl sign: the certificate .*object=device.* cannot sign: .*lacks nonRepudiation" "$out"
out=$(kysoctl sign --role approve --cert "pkcs11:token=leader;object=revoked;type=cert" "$T/qd.txt" -o "$T/e.p7s" 2>&1)
expect_match "a revoked certificate named with --cert: its reason said" "cannot sign: The certificate of .* was revoked on [0-9-]+" "$out"
expect_eq "no prompt and no audit record for them" "0 $n" "$(grep -c '^START' "$KYSO_TEST_PINENTRY_LOG") $(records)"
# Not offered: with --cert missing, only the usable personal certificates are the candidates.
out=$(kysoctl sign --role approve "$T/qd.txt" -o "$T/e.p7s" 2>&1)
expect_match "the candidates are the usable ones" "object=leader;.*object=leader2;|object=leader2;.*object=leader;" "$(tr '\n' ' ' <<<"$out")"
expect_eq "the unusable personal certificates are not offered" 0 "$(grep -c 'object=\(expired\|revoked\|weak\|unknown\);' <<<"$out")"
expect_eq "the PSS-only one is not offered" 0 "$(grep -c 'object=pss;' <<<"$out")"
tap_done
