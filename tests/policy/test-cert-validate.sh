#!/usr/bin/env bash
# test-cert-validate.sh: certificate validation against the fixture PKI with CRL and OCSP servers on
# 127.0.0.1, in every fault mode: each verdict and its reason text are checked. Output is TAP.
set -uo pipefail

: "${KYSO_SOURCE_ROOT:?run through meson test}" "${VALIDATE_CERT:?run through meson test}"
FX="$KYSO_SOURCE_ROOT/tests/fixtures"
. "$FX/tap.sh"

fixtures_setup cert-validate

start() { # KIND OUTVAR FLAGS...
        start_test_server "$@" 2>"$T/start.err" || {
                sed 's/^/# /' "$T/start.err"
                bail_out "could not start $1 server $*"
        }
}

# Nothing listens on port 1 of 127.0.0.1 (privileged, unused): connection refused.
DOWN_OCSP=http://127.0.0.1:1/ocsp
DOWN_CRL=http://127.0.0.1:1

# policy MODE OCSP_URL CRL_BASE [EXTRA LINES...]: writes a policy in its own folder, prints its path. Called
# in $(...), so the folder's name cannot come from a counter of this shell.
policy() {
        local mode=$1 ocsp=$2 crl=$3 dir
        shift 3
        dir=$(mktemp -d "$T/policy-XXXXXX") || bail_out "mktemp failed"
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

# The checks are independent (each has its own policy and cache folder, and most wait on a server or a
# timeout), so they run in the background, CHECK_JOBS at a time, each writing its verdict to a numbered
# file; sync_checks waits for them and prints the verdicts in order. Steps that change what a later check
# sees (stopping a server, editing a cache) call sync_checks first.
CHECK_JOBS=${KYSO_TEST_JOBS:-4}
CHECK_SEQ=0
CHECK_DONE=0
CHECK_PIDS=()

# spawn FUNCTION ARGS...: runs FUNCTION in the background with its output in the next numbered file.
spawn() {
        local pid n
        while :; do
                n=0
                for pid in "${CHECK_PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && n=$((n + 1)); done
                ((n < CHECK_JOBS)) && break
                sleep 0.02
        done
        CHECK_SEQ=$((CHECK_SEQ + 1))
        "$@" >"$T/check.$CHECK_SEQ" 2>&1 &
        CHECK_PIDS+=($!)
}

sync_checks() {
        local pid i verdict desc
        for pid in "${CHECK_PIDS[@]}"; do wait "$pid"; done
        CHECK_PIDS=()
        for ((i = CHECK_DONE + 1; i <= CHECK_SEQ; i++)); do
                { IFS= read -r verdict && IFS= read -r desc; } <"$T/check.$i"
                if [[ $verdict == ok ]]; then ok "$desc"; else not_ok "$desc"; fi
                tail -n +3 "$T/check.$i"
        done
        CHECK_DONE=$CHECK_SEQ
}

# check_now DESC POLICY CERT STATUS SOURCE REASON_REGEX [validate-cert options...]: prints ok or not_ok, the
# description, then the comment lines.
check_now() {
        local desc=$1 pol=$2 cert=$3 status=$4 source=$5 reason=$6 out
        shift 6
        out=$("$VALIDATE_CERT" "$pol" "$P/$cert.pem" --untrusted "$P/ca.pem" "$@" 2>&1)
        if grep -qx "status=$status" <<<"$out" && grep -qx "source=$source" <<<"$out" &&
                grep -Eq -- "^reason=.*$reason" <<<"$out"; then
                printf 'ok\n%s\n' "$desc"
        else
                printf 'not_ok\n%s\n' "$desc (want status=$status source=$source reason~/$reason/)"
                printf '%s\n' "$out" | sed 's/^/# /'
        fi
}
check() { spawn check_now "$@"; }

# check_line DESC REGEX VALIDATE-CERT-ARGS...: a line of validate-cert's output matches REGEX.
check_line_now() {
        local desc=$1 regex=$2 out
        shift 2
        out=$("$VALIDATE_CERT" "$@" 2>&1)
        if grep -Eq -- "$regex" <<<"$out"; then
                printf 'ok\n%s\n' "$desc"
        else
                printf 'not_ok\n%s\n# /%s/ not found in:\n' "$desc" "$regex"
                printf '%s\n' "$out" | sed 's/^/#   /'
        fi
}
check_line() { spawn check_line_now "$@"; }

start crl CRL
start ocsp OCSP

GOOD=$(policy ocsp-then-crl "$OCSP" "$CRL")
check "leader (RSA personal) valid by OCSP" "$GOOD" leader valid ocsp "Nguyễn Văn An is valid until .* \(7[0-9][0-9] days left\)"
check "leader2 (ECDSA P-256) valid" "$GOOD" leader2 valid ocsp "Trần Thị Bình is valid until"
check "seal valid" "$GOOD" seal valid ocsp "UBND phường Uông Bí is valid until"
check "clerk valid" "$GOOD" clerk valid ocsp "Lê Thị Cúc is valid"
check "device: wrong key usage" "$GOOD" device wrong-usage none "not meant for signing documents"
check "device: names the missing key usage bit" "$GOOD" device wrong-usage none "key usage lacks nonRepudiation"
check "expired" "$GOOD" expired expired none "Phạm Văn Hết Hạn expired on [0-9-]+"
check "not yet valid" "$GOOD" notyet not-yet-valid none "is not valid yet: it becomes valid on"
check "revoked, by OCSP" "$GOOD" revoked revoked ocsp "revoked on .*key compromise.*according to OCSP server $OCSP"
check "weak key (RSA-1024)" "$GOOD" weak weak-key none "too weak \(1024 bits"
check "unknown issuer" "$GOOD" unknown untrusted none "Vũ Văn Lạ does not lead to a trusted root"
check "expiring in 30 days: warning with days left" "$GOOD" expiring expiring ocsp \
        "expires on .* \((29|30) days left\)\. Ask the CA to renew it now: the policy warns 60 days before expiry"
check "TSA certificate for time-stamping" "$GOOD" tsa valid ocsp "is valid until" --tsa
check "Ed25519 key: an unsupported key type, not a weak one" "$GOOD" ed25519 weak-key none \
        "Đặng Văn Khoá is of a type kyso does not support \(ED25519\)"

# The path's CAs: revoked (ca2, listed in root's CRL) or expired (ca-old); their leaves are valid themselves.
check "revoked intermediate CA: revoked, named, by root's CRL" "$GOOD" ca2-leader revoked crl \
        "The CA certificate CA cấp 2 bị thu hồi \(test\) was revoked on .*CA compromise.*according to the CRL from $CRL/root.crl" \
        --untrusted "$P/ca2.pem"
check "expired intermediate CA" "$GOOD" old-leader expired none \
        "The CA certificate CA cấp 2 hết hạn \(test\) that issued Lý Văn Cũ had expired" --untrusted "$P/ca-old.pem"

# The policy's algorithms: a hash or a curve it does not list.
SHA384=$(policy ocsp-then-crl "$OCSP" "$CRL" "[algorithms]" "hashes = sha384 sha512")
check "a certificate signed with a hash the policy does not allow" "$SHA384" leader weak-key none \
        "signed with the hash SHA256, which the policy does not allow \(it allows SHA384, SHA512\)"
P384=$(policy ocsp-then-crl "$OCSP" "$CRL" "[algorithms]" "ec-curves = P-384 P-521")
check "an ECDSA key on a curve the policy does not allow" "$P384" leader2 weak-key none \
        "Trần Thị Bình uses the curve P-256, which the policy does not allow"
check "RSA keys are unaffected by the curves" "$P384" leader valid ocsp "is valid until"
# The expiry warning follows the policy's warning-days.
WARN45=$(policy ocsp-then-crl "$OCSP" "$CRL" "[expiry]" "warning-days = 45")
check "expiring: the message names the policy's warning days" "$WARN45" expiring expiring ocsp \
        "days left\)\. Ask the CA to renew it now: the policy warns 45 days before expiry"
WARN20=$(policy ocsp-then-crl "$OCSP" "$CRL" "[expiry]" "warning-days = 20")
check "30 days left with a 20-day warning: valid" "$WARN20" expiring valid ocsp "is valid until"
check "leader is not a TSA" "$GOOD" leader wrong-usage none "not a time-stamping certificate" --tsa

check_line "weak key is 'untrusted' in the D-Bus status" "^api_status=untrusted$" "$GOOD" "$P/weak.pem" \
        --untrusted "$P/ca.pem"
check_line "device classified as device" "^kind=device$" "$GOOD" "$P/device.pem"
check_line "seal classified as organization" "^kind=organization$" "$GOOD" "$P/seal.pem"
check_line "clerk classified as personal" "^kind=personal$" "$GOOD" "$P/clerk.pem"

# Status at a time in the past (a signature's signing time).
NOW=$(date +%s)
# An expired certificate at a time it was valid: CAs may drop expired certificates from CRLs and OCSP (RFC 5280
# 3.3, RFC 6960 4.4.4), so "good" or "not listed" counts only from a source that says it keeps them. The test
# OCSP responder gives no archive cutoff; ca.crl has expiredCertsOnCRL, ca-noexp.crl (--noexp) has not.
check "expired certificate was valid 100 days ago (by the CRL, which keeps expired ones)" "$GOOD" expired valid \
        crl "is valid until" --at $((NOW - 100 * 86400))
check "expired: an OCSP 'good' without archive cutoff proves nothing" "$(policy ocsp "$OCSP" "$CRL")" expired \
        unknown-revocation none "says 'good' about a certificate that has expired, but does not say it keeps the \
status of expired certificates \(no archive cutoff\)" --at $((NOW - 100 * 86400))
start crl CRL_NOEXP --noexp
NOEXP=$(policy crl "$DOWN_OCSP" "$CRL_NOEXP")
check "expired: a CRL without expiredCertsOnCRL proves nothing" "$NOEXP" expired unknown-revocation none \
        "the CRL from $CRL_NOEXP/ca.crl does not list the certificate, but it has expired and the CRL does not say \
it keeps expired certificates \(no expiredCertsOnCRL\)" --at $((NOW - 100 * 86400))
check "that CRL is enough for a certificate that has not expired" "$NOEXP" leader valid crl "is valid until"
check_line "revexp 100 days ago: a revocation the CRL lists counts without expiredCertsOnCRL" \
        "^revoked_later=yes$" "$NOEXP" "$P/revexp.pem" --untrusted "$P/ca.pem" --at $((NOW - 100 * 86400))
check_line "revoked today: still valid 12 hours ago" "^status=valid$" "$GOOD" "$P/revoked.pem" \
        --untrusted "$P/ca.pem" --at $((NOW - 43200))
check_line "revoked today: marked as revoked later" "^revoked_later=yes$" "$GOOD" "$P/revoked.pem" \
        --untrusted "$P/ca.pem" --at $((NOW - 43200))
check "leader not valid before its notBefore" "$GOOD" leader not-yet-valid none "becomes valid on" --at $((NOW - 3 * 86400))

# CRL only.
CRLP=$(policy crl "$DOWN_OCSP" "$CRL")
check "crl mode: leader valid by CRL" "$CRLP" leader valid crl "is valid until"
check "revoked, by CRL" "$CRLP" revoked revoked crl "revoked on .*key compromise.*according to the CRL from $CRL/ca.crl"

# Fail closed, naming the server.
OCSPDOWN=$(policy ocsp "$DOWN_OCSP" "$CRL")
check "OCSP down (ocsp mode): unknown, names the server" "$OCSPDOWN" leader unknown-revocation none \
        "cannot be established, so signing is refused: OCSP server: $DOWN_OCSP gave no usable answer"
check_line "unknown revocation is 'unknown' in the D-Bus status" "^api_status=unknown$" "$OCSPDOWN" \
        "$P/leader.pem" --untrusted "$P/ca.pem"
CRLDOWN=$(policy crl "$OCSP" "$DOWN_CRL")
check "CRL down (crl mode): unknown, names the server" "$CRLDOWN" leader unknown-revocation none \
        "signing is refused: CRL server: $DOWN_CRL/ca.crl gave no usable answer"
BOTH=$(policy ocsp-then-crl "$DOWN_OCSP" "$DOWN_CRL")
check "OCSP and CRL down: unknown, names both" "$BOTH" leader unknown-revocation none \
        "OCSP server: $DOWN_OCSP gave no usable answer.*; CRL server: $DOWN_CRL/ca.crl gave no usable answer"
FALLBACK=$(policy ocsp-then-crl "$DOWN_OCSP" "$CRL")
check "OCSP down, CRL up: valid by CRL" "$FALLBACK" leader valid crl "is valid until"
check "OCSP down, revoked found in CRL" "$FALLBACK" revoked revoked crl "according to the CRL from"

# OCSP fault modes (ocsp mode, so nothing falls back to the CRL). In REGEX, @URL@ stands for the server's URL,
# known only once it runs: the reason must name it.
fault() { # FLAG DESC REGEX [policy extra...]
        local flag=$1 desc=$2 regex=$3 var pol
        shift 3
        var=OCSP_${flag//-/_}
        start ocsp "$var" "--$flag"
        pol=$(policy ocsp "${!var}" "$CRL" "$@")
        check "$desc" "$pol" leader unknown-revocation none "${regex//@URL@/${!var}}"
}
fault no-nonce "OCSP reply without nonce when one was asked" \
        "OCSP server @URL@: the response carries no nonce although one was asked"
fault wrong-cert "OCSP response for another certificate" "OCSP server @URL@ answered about another certificate, not this one"
fault bad-signature "OCSP response with a bad signature" \
        "OCSP server @URL@: the response is not signed by the CA or a responder it authorised"
fault unauthorised-responder "OCSP response signed by a same-CA certificate that is not an authorised responder" \
        "OCSP server @URL@: the response is signed by Nguyễn Văn An, which is neither the CA nor an OCSP responder it authorised \(no OCSPSigning\)"
fault stale "stale OCSP response" "OCSP server @URL@ sent a stale or not yet valid answer"
fault fail "OCSP server answering HTTP 500" "OCSP server: @URL@ gave no usable answer"
fault unauthorized "OCSP unauthorized" "OCSP server @URL@ refused the request \(unauthorized\)"
fault try-later "OCSP try later" "OCSP server @URL@ refused the request \(trylater\)"
fault hang "OCSP server that hangs: timeout" "OCSP server: @URL@ gave no usable answer \(.*timeout\)" "ocsp-timeout = 2"
if command -v faketime >/dev/null; then
        # An answer made two hours ago whose nextUpdate is still ahead: fine unless the policy wants younger.
        start ocsp OCSP_OLD --age 120
        OLD=$(policy ocsp "$OCSP_OLD" "$CRL" "ocsp-max-age = 1h")
        check "OCSP answer older than ocsp-max-age" "$OLD" leader unknown-revocation none \
                "OCSP server $OCSP_OLD sent an answer made 120 minutes ago; the policy accepts answers up to 60 minutes old \(ocsp-max-age\)"
        OLDOK=$(policy ocsp "$OCSP_OLD" "$CRL" "ocsp-max-age = 3h")
        check "the same answer within ocsp-max-age" "$OLDOK" leader valid ocsp "is valid until"
else
        sync_checks
        ok "# SKIP faketime not found"
        ok "# SKIP faketime not found"
fi
# Responses may name certificates by SHA-256 CertIDs (kyso asks with SHA-1).
start ocsp OCSP_SHA256 --sha256-certid
SHA256ID=$(policy ocsp "$OCSP_SHA256" "$CRL")
check "OCSP answer with a SHA-256 CertID: valid" "$SHA256ID" leader valid ocsp "is valid until"
check "OCSP answer with a SHA-256 CertID: revoked" "$SHA256ID" revoked revoked ocsp "according to OCSP server $OCSP_SHA256"

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
# A CRL server serving, as ca.crl, a CRL with a broken signature, or another CA's CRL.
serve_as_ca_crl() { # OUTVAR FILE: a CRL server whose ca.crl is FILE
        local dir="$T/crl-$1"
        mkdir -p "$dir"
        cp "$2" "$dir/ca.crl"
        start crl "$1" --dir "$dir"
}
python3 -c 'import sys; b = bytearray(open(sys.argv[1], "rb").read()); b[-5] ^= 1; open(sys.argv[2], "wb").write(b)' \
        "$P/ca.crl.der" "$T/badsig.crl"
serve_as_ca_crl CRL_BADSIG "$T/badsig.crl"
BADSIG=$(policy crl "$DOWN_OCSP" "$CRL_BADSIG")
check "CRL with a bad signature: unknown" "$BADSIG" leader unknown-revocation none \
        "the CRL from $CRL_BADSIG/ca.crl is not signed by its CA"
serve_as_ca_crl CRL_OTHER "$P/other-root.crl.der"
OTHERCRL=$(policy crl "$DOWN_OCSP" "$CRL_OTHER")
check "another CA's CRL: unknown" "$OTHERCRL" leader unknown-revocation none \
        "the CRL from $CRL_OTHER/ca.crl is issued by another CA"
check "another CA's CRL: a revoked certificate is not taken for good" "$OTHERCRL" revoked unknown-revocation none \
        "is issued by another CA"
# A CRL signed by its CA, but the CA's key usage does not allow signing CRLs.
check "CRL of a CA without cRLSign: unknown" "$CRLP" nocrl-leader unknown-revocation none \
        "the CRL from $CRL/ca-nocrl.crl is signed by CA cấp 2 không ký CRL \(test\), whose key usage does not allow signing CRLs \(no cRLSign\)" \
        --untrusted "$P/ca-nocrl.pem"

# The CRL cache: a CRL fetched once is used while fresh, even with the server gone.
start crl CRL_TMP
CACHED=$(policy crl "$DOWN_OCSP" "$CRL_TMP")
check "crl cache: first fetch" "$CACHED" leader valid crl "is valid until"
sync_checks
check "crl cache: revoked" "$CACHED" revoked revoked crl "according to the CRL"
sync_checks
expect "crl cache: a file was written" bash -c "ls '$(dirname "$CACHED")'/cache/crl/*.der"
kill "$CRL_TMP_PID"
wait "$CRL_TMP_PID" 2>/dev/null
# With the server gone, a refused connection costs the whole CRL timeout (OpenSSL retries until then).
sed -i 's/^crl-timeout = 10$/crl-timeout = 1/' "$CACHED"
check "crl cache: used when the server is gone" "$CACHED" revoked revoked crl "according to the CRL"
check "crl cache: leader still valid from cache" "$CACHED" leader valid crl "is valid until"
sync_checks
# Forged cache entries are not believed: another CA's CRL, then the same CA's stale one; with the server
# gone the status is unknown (and a revoked certificate is never taken for good).
for f in "$(dirname "$CACHED")"/cache/crl/*.der; do cp "$P/other-root.crl.der" "$f"; done
check "crl cache: another CA's CRL in the cache is not used (server gone: unknown)" "$CACHED" revoked \
        unknown-revocation none "CRL server: $CRL_TMP/ca.crl gave no usable answer"
sync_checks
for f in "$(dirname "$CACHED")"/cache/crl/*.der; do cp "$P/ca-stale.crl.der" "$f"; done
check "crl cache: stale cached CRL is refetched (server gone: unknown)" "$CACHED" leader unknown-revocation none \
        "CRL server: $CRL_TMP/ca.crl gave no usable answer"

# The OCSP response cache: a "good" answer is used while within nextUpdate and ocsp-max-age, with no query;
# the server's log has one line per request. A cached answer is checked again when used.
sync_checks
start ocsp OCSP_C
OCSP_C_LOG="$KYSO_TEST_SERVER_DIR/ocsp-$((${#KYSO_TEST_SERVER_PIDS[@]} - 1)).log"
start ocsp OCSP_C_STALE --stale
start ocsp OCSP_C_BADSIG --bad-signature
ocsp_queries() { grep -c '"POST ' "$OCSP_C_LOG"; }
# ocsp_answer URL OUT: the server's answer about leader, fetched with openssl, unchecked.
ocsp_answer() {
        openssl ocsp -issuer "$P/ca.pem" -cert "$P/leader.pem" -url "$1" -respout "$2" -noverify >/dev/null 2>&1
}
OC=$(policy ocsp "$OCSP_C" "$CRL")
OC_DIR="$(dirname "$OC")/cache/ocsp"
check "ocsp cache: first check asks the server" "$OC" leader valid ocsp "is valid until"
sync_checks
expect_eq "ocsp cache: one query" 1 "$(ocsp_queries)"
OC_FILE=$(ls "$OC_DIR"/*.der 2>/dev/null | head -n 1)
expect "ocsp cache: a file was written" test -s "$OC_FILE"
check "ocsp cache: second check within validity" "$OC" leader valid ocsp "is valid until"
sync_checks
expect_eq "ocsp cache: the second check made no query" 1 "$(ocsp_queries)"

# An answer past its nextUpdate in the cache is not used (and replaced by the fresh one).
expect "ocsp cache: a stale answer to plant" ocsp_answer "$OCSP_C_STALE" "$T/ocsp-stale.der"
cp "$T/ocsp-stale.der" "$OC_FILE"
check "ocsp cache: expired cached answer: asks again" "$OC" leader valid ocsp "is valid until"
sync_checks
expect_eq "ocsp cache: the expired answer was not used" 2 "$(ocsp_queries)"
expect_fail "ocsp cache: the expired answer was replaced" "differ" cmp "$T/ocsp-stale.der" "$OC_FILE"

# A cached answer signed by someone the CA did not authorise is not used.
expect "ocsp cache: a badly signed answer to plant" ocsp_answer "$OCSP_C_BADSIG" "$T/ocsp-badsig.der"
cp "$T/ocsp-badsig.der" "$OC_FILE"
check "ocsp cache: badly signed cached answer: asks again" "$OC" leader valid ocsp "is valid until"
sync_checks
expect_eq "ocsp cache: the badly signed answer was not used" 3 "$(ocsp_queries)"

# A corrupt cache file is ignored and replaced by a usable answer, which the next check uses.
printf 'not an OCSP response\n' >"$OC_FILE"
check "ocsp cache: corrupt file: asks again" "$OC" leader valid ocsp "is valid until"
sync_checks
expect_eq "ocsp cache: the corrupt file was not used" 4 "$(ocsp_queries)"
expect "ocsp cache: the corrupt file was replaced by a response" \
        openssl ocsp -respin "$OC_FILE" -noverify -resp_text
check "ocsp cache: the replaced file is used" "$OC" leader valid ocsp "is valid until"
sync_checks
expect_eq "ocsp cache: no query after the replacement" 4 "$(ocsp_queries)"

# The policy's ocsp-max-age bounds a cached answer too, even before its nextUpdate.
sleep 3
sed -i 's/^mode = ocsp$/mode = ocsp\nocsp-max-age = 2/' "$OC"
check_line "ocsp cache: an answer older than ocsp-max-age is not used" "^status=" "$OC" "$P/leader.pem" \
        --untrusted "$P/ca.pem"
sync_checks
expect_eq "ocsp cache: asked again past ocsp-max-age" 5 "$(ocsp_queries)"

# A revoked certificate is never answered from the cache.
check "ocsp cache: revoked" "$OC" revoked revoked ocsp "according to OCSP server $OCSP_C"
sync_checks
check "ocsp cache: revoked again" "$OC" revoked revoked ocsp "according to OCSP server $OCSP_C"
sync_checks
expect_eq "ocsp cache: each revoked check asks" 7 "$(ocsp_queries)"

# Revocation off (test policies only).
OFF=$(policy off "$DOWN_OCSP" "$DOWN_CRL" "allow-insecure-no-revocation-for-tests = yes")
check "revocation off: valid, source off" "$OFF" leader valid off "is valid until"

# The untrusted intermediate must come from somewhere: without it the path is incomplete.
check_line "without the CA certificate: untrusted" "^status=untrusted$" "$GOOD" "$P/leader.pem"

sync_checks
tap_done
