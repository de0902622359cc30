#!/usr/bin/env bash
# test-cert-validate.sh: certificate validation against the fixture PKI with CRL and OCSP servers on
# 127.0.0.1, in every fault mode: each verdict and its reason text are checked. Output is TAP.
set -uo pipefail

: "${KYSO_SOURCE_ROOT:?run through meson test}" "${VALIDATE_CERT:?run through meson test}"
FX="$KYSO_SOURCE_ROOT/tests/fixtures"
. "$FX/tap.sh"

T=$(mktemp -d "${TMPDIR:-/tmp}/kyso-cert-validate.XXXXXX") || bail_out "mktemp failed"
trap 'rm -rf -- "$T"' EXIT
"$FX/make-fixtures.sh" "$T/fx" >"$T/make.out" 2>&1 || {
        sed 's/^/# /' "$T/make.out"
        bail_out "make-fixtures.sh failed"
}
# shellcheck source=/dev/null
. "$T/fx/env.sh"
. "$FX/servers.sh"
P=$KYSO_PKI
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY

start() { # KIND OUTVAR FLAGS...
        start_test_server "$@" 2>"$T/start.err" || {
                sed 's/^/# /' "$T/start.err"
                bail_out "could not start $1 server $*"
        }
}

# Nothing listens on port 1 of 127.0.0.1 (privileged, unused): connection refused.
DOWN_OCSP=http://127.0.0.1:1/ocsp
DOWN_CRL=http://127.0.0.1:1

N=0
# policy MODE OCSP_URL CRL_BASE [EXTRA LINES...]: writes a policy in its own folder, prints its path.
policy() {
        local mode=$1 ocsp=$2 crl=$3 dir
        shift 3
        N=$((N + 1))
        dir="$T/policy-$N"
        mkdir -p "$dir"
        {
                echo "[trust]"
                echo "root = $P/root.pem"
                echo "[revocation]"
                echo "mode = $mode"
                echo "cache = $dir/cache"
                # OpenSSL retries refused connections until the timeout: keep "server down" cases short. A
                # server that is up gets time to answer even on a loaded machine under ASan, or a good OCSP
                # answer turns into a CRL fallback and the test fails for the wrong reason.
                if [[ $crl == "$DOWN_CRL" ]]; then echo "crl-timeout = 1"; else echo "crl-timeout = 10"; fi
                if [[ $* != *ocsp-timeout* ]]; then
                        if [[ $ocsp == "$DOWN_OCSP" ]]; then echo "ocsp-timeout = 1"; else echo "ocsp-timeout = 10"; fi
                fi
                echo "rewrite = $KYSO_OCSP_URL_PLACEHOLDER $ocsp"
                echo "rewrite = http://127.0.0.1:18080 $crl"
                printf '%s\n' "$@"
                echo "[kind personal]"
                echo "kind = personal"
                echo "policy-oid = $KYSO_OID_PERSONAL"
                echo "[kind organisation]"
                echo "kind = organization"
                echo "policy-oid = $KYSO_OID_ORGANIZATION"
                echo "[kind device]"
                echo "kind = device"
                echo "policy-oid = $KYSO_OID_DEVICE"
        } >"$dir/policy.conf"
        echo "$dir/policy.conf"
}

# check DESC POLICY CERT STATUS SOURCE REASON_REGEX [validate-cert options...]
check() {
        local desc=$1 pol=$2 cert=$3 status=$4 source=$5 reason=$6 out
        shift 6
        out=$("$VALIDATE_CERT" "$pol" "$P/$cert.pem" --untrusted "$P/ca.pem" "$@" 2>&1)
        if grep -qx "status=$status" <<<"$out" && grep -qx "source=$source" <<<"$out" &&
                grep -Eq -- "^reason=.*$reason" <<<"$out"; then
                ok "$desc"
        else
                not_ok "$desc (want status=$status source=$source reason~/$reason/)"
                printf '%s\n' "$out" | sed 's/^/# /'
        fi
}

start crl CRL
start ocsp OCSP

GOOD=$(policy ocsp-then-crl "$OCSP" "$CRL")
check "leader (RSA personal) valid by OCSP" "$GOOD" leader valid ocsp "Nguyễn Văn An is valid until .* \(7[0-9][0-9] days left\)"
check "leader2 (ECDSA P-256) valid" "$GOOD" leader2 valid ocsp "Trần Thị Bình is valid until"
check "seal valid" "$GOOD" seal valid ocsp "UBND phường Uông Bí is valid until"
check "clerk valid" "$GOOD" clerk valid ocsp "Lê Thị Cúc is valid"
check "device: wrong key usage" "$GOOD" device wrong-usage none "not meant for signing documents"
check "expired" "$GOOD" expired expired none "Phạm Văn Hết Hạn expired on [0-9-]+"
check "not yet valid" "$GOOD" notyet not-yet-valid none "is not valid yet: it becomes valid on"
check "revoked, by OCSP" "$GOOD" revoked revoked ocsp "revoked on .*key compromise.*according to OCSP server $OCSP"
check "weak key (RSA-1024)" "$GOOD" weak weak-key none "too weak \(1024 bits"
check "unknown issuer" "$GOOD" unknown untrusted none "Vũ Văn Lạ does not lead to a trusted root"
check "expiring in 30 days: warning with days left" "$GOOD" expiring expiring ocsp "expires on .* \((29|30) days left\)"
check "TSA certificate for time-stamping" "$GOOD" tsa valid ocsp "is valid until" --tsa
check "leader is not a TSA" "$GOOD" leader wrong-usage none "not a time-stamping certificate" --tsa

out=$("$VALIDATE_CERT" "$GOOD" "$P/weak.pem" --untrusted "$P/ca.pem")
expect_match "weak key is 'untrusted' in the D-Bus status" "^api_status=untrusted$" "$out"
out=$("$VALIDATE_CERT" "$GOOD" "$P/device.pem")
expect_match "device classified as device" "^kind=device$" "$out"
out=$("$VALIDATE_CERT" "$GOOD" "$P/seal.pem")
expect_match "seal classified as organization" "^kind=organization$" "$out"
out=$("$VALIDATE_CERT" "$GOOD" "$P/clerk.pem")
expect_match "clerk classified as personal" "^kind=personal$" "$out"

# Status at a time in the past (a signature's signing time).
NOW=$(date +%s)
check "expired certificate was valid 100 days ago" "$GOOD" expired valid ocsp "is valid until" --at $((NOW - 100 * 86400))
out=$("$VALIDATE_CERT" "$GOOD" "$P/revoked.pem" --untrusted "$P/ca.pem" --at $((NOW - 43200)))
expect_match "revoked today: still valid 12 hours ago" "^status=valid$" "$out"
expect_match "revoked today: marked as revoked later" "^revoked_later=yes$" "$out"
check "leader not valid before its notBefore" "$GOOD" leader not-yet-valid none "becomes valid on" --at $((NOW - 3 * 86400))

# CRL only.
CRLP=$(policy crl "$DOWN_OCSP" "$CRL")
check "crl mode: leader valid by CRL" "$CRLP" leader valid crl "is valid until"
check "revoked, by CRL" "$CRLP" revoked revoked crl "revoked on .*key compromise.*according to the CRL from $CRL/ca.crl"

# Fail closed, naming the server.
OCSPDOWN=$(policy ocsp "$DOWN_OCSP" "$CRL")
check "OCSP down (ocsp mode): unknown, names the server" "$OCSPDOWN" leader unknown-revocation none \
        "cannot be established, so signing is refused: OCSP server: $DOWN_OCSP gave no usable answer"
out=$("$VALIDATE_CERT" "$OCSPDOWN" "$P/leader.pem" --untrusted "$P/ca.pem")
expect_match "unknown revocation is 'unknown' in the D-Bus status" "^api_status=unknown$" "$out"
CRLDOWN=$(policy crl "$OCSP" "$DOWN_CRL")
check "CRL down (crl mode): unknown, names the server" "$CRLDOWN" leader unknown-revocation none \
        "signing is refused: CRL server: $DOWN_CRL/ca.crl gave no usable answer"
BOTH=$(policy ocsp-then-crl "$DOWN_OCSP" "$DOWN_CRL")
check "OCSP and CRL down: unknown, names both" "$BOTH" leader unknown-revocation none \
        "OCSP server: $DOWN_OCSP gave no usable answer.*; CRL server: $DOWN_CRL/ca.crl gave no usable answer"
FALLBACK=$(policy ocsp-then-crl "$DOWN_OCSP" "$CRL")
check "OCSP down, CRL up: valid by CRL" "$FALLBACK" leader valid crl "is valid until"
check "OCSP down, revoked found in CRL" "$FALLBACK" revoked revoked crl "according to the CRL from"

# OCSP fault modes (ocsp mode, so nothing falls back to the CRL).
fault() { # FLAG DESC REGEX [policy extra...]
        local flag=$1 desc=$2 regex=$3 var pol
        shift 3
        var=OCSP_${flag//-/_}
        start ocsp "$var" "--$flag"
        pol=$(policy ocsp "${!var}" "$CRL" "$@")
        check "$desc" "$pol" leader unknown-revocation none "$regex"
}
fault no-nonce "OCSP reply without nonce when one was asked" "${OCSP_no_nonce:-http}.*carries no nonce although one was asked"
fault wrong-cert "OCSP response for another certificate" "answered about another certificate, not this one"
fault bad-signature "OCSP response with a bad signature" "is not signed by the CA or a responder it authorised"
fault stale "stale OCSP response" "sent a stale or not yet valid answer"
fault fail "OCSP server answering HTTP 500" "OCSP server: .* gave no usable answer"
fault unauthorized "OCSP unauthorized" "refused the request \(unauthorized\)"
fault try-later "OCSP try later" "refused the request \(trylater\)"
fault hang "OCSP server that hangs: timeout" "OCSP server: .* gave no usable answer \(.*timeout\)" "ocsp-timeout = 2"

NONONCE=$(policy ocsp "$OCSP_no_nonce" "$CRL" "ocsp-require-nonce = no")
check "no nonce accepted when the policy does not require it" "$NONONCE" leader valid ocsp "is valid until"

# CRL faults.
start crl CRL_STALE --stale
STALE=$(policy crl "$DOWN_OCSP" "$CRL_STALE")
check "stale CRL: unknown" "$STALE" leader unknown-revocation none \
        "the CRL from $CRL_STALE/ca.crl is stale: its next update was due"
start crl CRL_FAIL --fail
CRLFAIL=$(policy crl "$DOWN_OCSP" "$CRL_FAIL")
check "CRL server answering HTTP 500" "$CRLFAIL" leader unknown-revocation none "CRL server: $CRL_FAIL/ca.crl gave no usable answer"

# The CRL cache: a CRL fetched once is used while fresh, even with the server gone.
start crl CRL_TMP
CACHED=$(policy crl "$DOWN_OCSP" "$CRL_TMP")
check "crl cache: first fetch" "$CACHED" leader valid crl "is valid until"
check "crl cache: revoked" "$CACHED" revoked revoked crl "according to the CRL"
expect "crl cache: a file was written" bash -c "ls '$(dirname "$CACHED")'/cache/crl/*.der"
kill "$CRL_TMP_PID"
wait "$CRL_TMP_PID" 2>/dev/null
check "crl cache: used when the server is gone" "$CACHED" revoked revoked crl "according to the CRL"
check "crl cache: leader still valid from cache" "$CACHED" leader valid crl "is valid until"
# A forged cache entry (another CA's CRL) is not believed.
for f in "$(dirname "$CACHED")"/cache/crl/*.der; do cp "$P/ca-stale.crl.der" "$f"; done
check "crl cache: stale cached CRL is refetched (server gone: unknown)" "$CACHED" leader unknown-revocation none \
        "CRL server: $CRL_TMP/ca.crl gave no usable answer"

# Revocation off (test policies only).
OFF=$(policy off "$DOWN_OCSP" "$DOWN_CRL" "allow-insecure-no-revocation-for-tests = yes")
check "revocation off: valid, source off" "$OFF" leader valid off "is valid until"

# The untrusted intermediate must come from somewhere: without it the path is incomplete.
out=$("$VALIDATE_CERT" "$GOOD" "$P/leader.pem")
expect_match "without the CA certificate: untrusted" "^status=untrusted$" "$out"

tap_done
