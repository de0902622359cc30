#!/usr/bin/env bash
# test-kysoctl-verify.sh: reference signatures made with `openssl cms` from the fixture keys verify with
# `kysoctl verify`; tampered ones (content, signature value, signed attribute, swapped certificate) and bad
# certificates fail with the right message. CRL and OCSP servers on 127.0.0.1. Output is TAP.
set -uo pipefail

: "${KYSO_SOURCE_ROOT:?run through meson test}" "${KYSOCTL:?run through meson test}"
FX="$KYSO_SOURCE_ROOT/tests/fixtures"
. "$FX/tap.sh"
. "$FX/policy-kinds.sh"

fixtures_setup verify
unset LANGUAGE
export LC_ALL=C.UTF-8

start_test_server crl CRL 2>"$T/start.err" || bail_out "crl server: $(cat "$T/start.err")"
start_test_server ocsp OCSP 2>"$T/start.err" || bail_out "ocsp server: $(cat "$T/start.err")"

write_policy() { # PATH OCSP CRL
        # A healthy server gets time to answer on a loaded machine (else a good OCSP answer turns into a CRL
        # fallback and a test fails for the wrong reason); a server that is down, 1 s.
        local t=10
        [[ $2 == http://127.0.0.1:1/* ]] && t=1
        mkdir -p "$(dirname "$1")"
        {
                cat <<EOF
[trust]
root = $P/root.pem
[revocation]
cache = $(dirname "$1")/cache
ocsp-timeout = $t
crl-timeout = $t
rewrite = $KYSO_OCSP_URL_PLACEHOLDER $2
rewrite = http://127.0.0.1:18080 $3
EOF
                policy_kinds
                cat <<EOF
[seal ward]
seal-organization = UBND phường Uông Bí
leader-organization = UBND phường Uông Bí
leader-subject = title=Chủ tịch
leader-subject = title=Phó Chủ tịch
EOF
        } >"$1"
}
write_policy "$T/policy/policy.conf" "$OCSP" "$CRL"
export KYSO_POLICY="$T/policy/policy.conf" KYSO_POLICY_INSECURE_SKIP_OWNER_CHECK=1

D="$T/docs"
mkdir -p "$D"
printf 'Quyết định số 12/QĐ-UBND về việc thử nghiệm chữ ký số.\n' >"$D/doc.txt"

sign() { # NAME OUT [extra openssl args]
        local name=$1 out=$2
        shift 2
        openssl cms -sign -binary -cades -md sha256 -in "$D/doc.txt" -signer "$P/$name.pem" -inkey "$P/$name.key" \
                -certfile "$P/ca.pem" -outform DER -out "$out" "$@" 2>>"$T/openssl.err"
}

# expect_verify DESC EXIT REGEX ARGS...: runs kysoctl verify ARGS, checks the exit code and the output.
expect_verify() {
        expect_exit "$1" "$2" "$3" "$KYSOCTL" verify "${@:4}"
}

# expect_json DESC PYTHON ARGS...: runs kysoctl verify --json ARGS; the Python statements get the output as d
# and its first signature as s, and fail with an AssertionError.
expect_json() {
        local desc=$1 code=$2 out
        shift 2
        out=$("$KYSOCTL" verify --json "$@")
        expect "$desc" python3 -c "import json, sys
d = json.loads(sys.argv[1])
s = d['signatures'][0]
$code" "$out"
}

# --- Good signatures.
for n in leader leader2 seal clerk; do
        sign $n "$D/$n.p7s" || bail_out "openssl cms -sign $n failed: $(cat "$T/openssl.err")"
done
expect "openssl itself verifies the reference signature" openssl cms -verify -binary -inform DER -in "$D/leader.p7s" \
        -content "$D/doc.txt" -CAfile "$P/root+ca.pem" -purpose any -out /dev/null

expect_verify "leader (RSA) signature is valid" 0 "Result: +VALID\. The signature is valid" "$D/doc.txt" "$D/leader.p7s"
expect_verify "leader: signer, kind, organisation shown" 0 \
        "Signer: +Nguyễn Văn An \(Chủ tịch\)" "$D/doc.txt" "$D/leader.p7s"
expect_verify "leader: kind personal, organisation" 0 "Certificate kind: +personal certificate" "$D/doc.txt" "$D/leader.p7s"
expect_verify "leader: claimed signing time" 0 "Signing time: +[0-9-]+T[0-9:]+\+07:00 \(claimed by the signer" \
        "$D/doc.txt" "$D/leader.p7s"
expect_verify "leader: revocation checked by OCSP" 0 "Revocation checked by: +OCSP $OCSP" "$D/doc.txt" "$D/leader.p7s"
expect_verify "leader: counts as competent person" 0 "Competent person: +counts" "$D/doc.txt" "$D/leader.p7s"
expect_verify "leader2 (ECDSA) signature is valid" 0 "Result: +VALID\. The signature is valid" "$D/doc.txt" "$D/leader2.p7s"
expect_verify "leader2: signer and ECDSA shown" 0 "Signer: +Trần Thị Bình \(Phó Chủ tịch\)" "$D/doc.txt" "$D/leader2.p7s"
expect_verify "leader2: ECDSA with SHA-256" 0 "Algorithms: +SHA256, ecdsa" "$D/doc.txt" "$D/leader2.p7s"
expect_verify "leader2: ecdsa, competent" 0 "Competent person: +counts" "$D/doc.txt" "$D/leader2.p7s"
expect_verify "seal signature valid, not a competent person" 0 \
        "Competent person: +does not count: UBND phường Uông Bí signed with an organisation certificate" "$D/doc.txt" "$D/seal.p7s"
expect_verify "clerk signature valid, not a competent person" 0 \
        "Competent person: +does not count: Lê Thị Cúc is not a competent person" "$D/doc.txt" "$D/clerk.p7s"

# Without -cades, openssl signs without signing-certificate-v2: nothing binds the certificate, so the signature
# could be re-presented with another certificate for the same key. It verifies, but is not the leader's.
openssl cms -sign -binary -md sha256 -in "$D/doc.txt" -signer "$P/leader.pem" -inkey "$P/leader.key" \
        -certfile "$P/ca.pem" -outform DER -out "$D/leader-plain.p7s" 2>>"$T/openssl.err" ||
        bail_out "openssl cms -sign failed: $(cat "$T/openssl.err")"
expect_verify "plain CMS (no signing-certificate attribute): the binding is reported" 0 \
        "Certificate binding: +NOT bound: the signature carries no signing-certificate attribute" \
        "$D/doc.txt" "$D/leader-plain.p7s"
expect_verify "plain CMS: not the competent person's signature" 0 \
        "Competent person: +does not count: the signature of Nguyễn Văn An does not bind its certificate" \
        "$D/doc.txt" "$D/leader-plain.p7s"
expect_verify "CAdES: the binding is reported" 0 \
        "Certificate binding: +bound: the signed attributes name this certificate \(signing-certificate-v2, SHA256\)" \
        "$D/doc.txt" "$D/leader.p7s"
expect_json "json: plain CMS: signing_certificate absent, not bound, not competent" '
assert s["signing_certificate"] == "absent" and s["signing_certificate_bound"] is False, s
assert s["competent_person"] is False, s
assert "does not bind its certificate" in s["reason"], s' "$D/doc.txt" "$D/leader-plain.p7s"

# Default signature name FILE.p7s.
cp "$D/leader.p7s" "$D/doc.txt.p7s"
expect_verify "FILE.p7s found by default" 0 "All 1 signature\(s\) are valid" "$D/doc.txt"

# Two signers: the leader's, then the seal added (openssl cms -resign).
openssl cms -resign -binary -inform DER -in "$D/leader.p7s" -signer "$P/seal.pem" -inkey "$P/seal.key" \
        -certfile "$P/ca.pem" -md sha256 -outform DER -out "$D/both.p7s" -content "$D/doc.txt" 2>>"$T/openssl.err" ||
        bail_out "openssl cms -resign failed: $(cat "$T/openssl.err")"
expect_verify "two signatures: both valid" 0 "Signature 2 of 2" "$D/doc.txt" "$D/both.p7s"

# Signing order (issue 13): the leader's signature is listed before the seal added a second later, whatever
# the order of the DER SET.
sign leader "$D/order-leader.p7s" || bail_out "openssl cms -sign failed: $(cat "$T/openssl.err")"
sleep 1.1
openssl cms -resign -binary -inform DER -in "$D/order-leader.p7s" -signer "$P/seal.pem" -inkey "$P/seal.key" \
        -certfile "$P/ca.pem" -md sha256 -outform DER -out "$D/order.p7s" -content "$D/doc.txt" 2>>"$T/openssl.err" ||
        bail_out "openssl cms -resign failed: $(cat "$T/openssl.err")"
expect_json "signing order: the leader before the seal" "
assert s['signer']['name'] == 'Nguyễn Văn An', d
assert d['signatures'][1]['kind'] == 'organization', d" "$D/doc.txt" "$D/order.p7s"

# JSON.
out=$("$KYSOCTL" verify --json "$D/doc.txt" "$D/both.p7s")
expect_eq "json: exit 0" 0 $?
expect "json: parses, valid, two signatures with the stable keys" python3 -c '
import json, sys
d = json.loads(sys.argv[1])
assert d["valid"] is True, d
assert len(d["signatures"]) == 2
# SignerInfos are a DER SET: their order is that of the encoding, not the signing order.
s = sorted(d["signatures"], key=lambda x: x["kind"] != "personal")
assert s[0]["signer"]["name"] == "Nguyễn Văn An" and s[0]["kind"] == "personal"
assert s[0]["competent_person"] is True and s[0]["integrity"] == "ok"
assert s[0]["signing_time_source"] == "claimed"
assert s[0]["status_at_signing"]["status"] == "valid" and s[0]["status_now"]["revocation_source"] == "ocsp"
assert s[1]["kind"] == "organization" and s[1]["organization"] == "UBND phường Uông Bí"
assert s[1]["competent_person"] is False
' "$out"

# --- Tampering.
cp "$D/doc.txt" "$D/changed.txt"
printf 'X' | dd of="$D/changed.txt" bs=1 seek=5 conv=notrunc 2>/dev/null
expect_verify "one byte of content changed: NOT VALID" 1 "document was changed after it was signed" \
        "$D/changed.txt" "$D/leader.p7s"
out=$("$KYSOCTL" verify --json "$D/changed.txt" "$D/leader.p7s")
expect_match "json: content-mismatch" '"integrity":"content-mismatch"' "$out"

# The RSA signature value is the last 256 bytes of this DER (no unsigned attributes).
python3 - "$D/leader.p7s" "$D/badsig.p7s" <<'EOF'
import sys
b = bytearray(open(sys.argv[1], "rb").read())
b[-10] ^= 0x01
open(sys.argv[2], "wb").write(b)
EOF
expect_verify "one byte of the signature value changed: NOT VALID" 1 "signature value does not verify" \
        "$D/doc.txt" "$D/badsig.p7s"

# A signed attribute: the last digit of the signing time (OID 1.2.840.113549.1.9.5, then SET, UTCTime).
python3 - "$D/leader.p7s" "$D/badattr.p7s" <<'EOF'
import sys
b = bytearray(open(sys.argv[1], "rb").read())
oid = bytes.fromhex("06092a864886f70d010905")
i = b.find(oid)
assert i > 0, "no signing-time attribute"
t = i + len(oid) + 2  # SET header
assert b[t] in (0x17, 0x18), hex(b[t])
digit = t + 2 + b[t + 1] - 2  # the last digit before 'Z'
b[digit] = ord("0") + (b[digit] - ord("0") + 1) % 10
open(sys.argv[2], "wb").write(b)
EOF
expect_verify "one byte of a signed attribute changed: NOT VALID" 1 "signature value does not verify" \
        "$D/doc.txt" "$D/badattr.p7s"

# Swapped certificates, by DER surgery on the certificate set.
cat >"$T/swap.py" <<'EOF'
import sys

def tlv(buf, pos):
    tag = buf[pos]
    first = buf[pos + 1]
    if first < 0x80:
        return tag, pos + 2, pos + 2 + first
    n = first & 0x7F
    length = int.from_bytes(buf[pos + 2:pos + 2 + n], "big")
    return tag, pos + 2 + n, pos + 2 + n + length

def enc_len(n):
    if n < 0x80:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(b)]) + b

def replace(buf, old, new):
    if buf == old:
        return new
    tag, start, end = tlv(buf, 0)
    if not tag & 0x20:
        return buf
    out, pos, changed = [], start, False
    while pos < end:
        _, _, e = tlv(buf, pos)
        child = buf[pos:e]
        r = replace(child, old, new)
        changed |= r is not child
        out.append(r)
        pos = e
    if not changed:
        return buf
    body = b"".join(out)
    return bytes([tag]) + enc_len(len(body)) + body

sig, old, new, dst = sys.argv[1:5]
b = open(sig, "rb").read()
r = replace(b, open(old, "rb").read(), open(new, "rb").read())
assert r != b, "certificate not found in the signature"
open(dst, "wb").write(r)
EOF
python3 "$T/swap.py" "$D/leader.p7s" "$P/leader.der" "$P/clerk.der" "$D/swap-clerk.p7s" || bail_out "swap failed"
expect_verify "leader's certificate swapped for the clerk's: NOT VALID" 1 "signer's certificate is not in the signature" \
        "$D/doc.txt" "$D/swap-clerk.p7s"
# A certificate with the leader's issuer and serial but another key (as a CA mistake or forgery would give).
cat >"$T/forged.ext" <<'EOF'
keyUsage = critical, digitalSignature, nonRepudiation
certificatePolicies = 1.3.6.1.4.1.99999.1.1
EOF
openssl req -new -key "$P/clerk.key" -utf8 -subj "/C=VN/O=UBND phường Uông Bí/title=Chủ tịch/CN=Nguyễn Văn An" \
        -out "$T/forged.csr" 2>>"$T/openssl.err" &&
        openssl x509 -req -in "$T/forged.csr" -CA "$P/ca.pem" -CAkey "$P/ca.key" -set_serial 0x1001 -days 30 \
                -extfile "$T/forged.ext" -outform DER -out "$T/forged.der" 2>>"$T/openssl.err" ||
        bail_out "forged certificate: $(cat "$T/openssl.err")"
python3 "$T/swap.py" "$D/leader.p7s" "$P/leader.der" "$T/forged.der" "$D/swap-forged.p7s" || bail_out "swap failed"
expect_verify "certificate swapped for one with the same issuer and serial: NOT VALID" 1 \
        "signature value does not verify|certificate was swapped" "$D/doc.txt" "$D/swap-forged.p7s"

# --- Bad certificates.
for n in revoked expired weak unknown device; do
        sign $n "$D/$n.p7s" || bail_out "openssl cms -sign $n failed: $(cat "$T/openssl.err")"
done
expect_verify "revoked signer: NOT VALID, revocation explained" 1 \
        "Certificate at signing time: +the certificate is revoked\. .*key compromise.*according to OCSP server $OCSP" \
        "$D/doc.txt" "$D/revoked.p7s"
# Signed 12 hours ago by its own (claimed) time, before the revocation: a claimed time cannot prove that.
"$SIGN_CADES" "$P/revoked.pem" "$P/revoked.key" "$P/ca.pem" "$D/doc.txt" "$D/revoked-early.p7s" \
        --time $(($(date +%s) - 43200)) || bail_out "sign-cades failed"
expect_verify "revoked after a claimed signing time: still NOT VALID" 1 \
        "signing time is only claimed \(no time-stamp\), so nothing proves the signature was made before the revocation" \
        "$D/doc.txt" "$D/revoked-early.p7s"
expect_verify "expired signer: not valid at signing time" 1 \
        "Certificate at signing time: +the certificate has expired\. The certificate of Phạm Văn Hết Hạn expired on" "$D/doc.txt" "$D/expired.p7s"
expect_verify "weak key signer: NOT VALID" 1 "too weak \(1024 bits" "$D/doc.txt" "$D/weak.p7s"
expect_verify "unknown root: NOT VALID" 1 "Certificate now: +the certificate is not trusted\. .*does not lead to a trusted root" \
        "$D/doc.txt" "$D/unknown.p7s"
expect_verify "device certificate: not for document signing" 1 "not meant for signing documents" \
        "$D/doc.txt" "$D/device.p7s"

# --- Signatures made by formats/' CAdES signer: RSA-PSS, claimed times, RFC 3161 time-stamps (B-T).
"$SIGN_CADES" "$P/leader.pem" "$P/leader.key" "$P/ca.pem" "$D/doc.txt" "$D/pss.p7s" --pss || bail_out "sign-cades --pss"
expect_verify "RSA-PSS signature valid" 0 "Algorithms: +SHA256, rsa-pss" "$D/doc.txt" "$D/pss.p7s"
start_test_server tsa TSA 2>"$T/start.err" || bail_out "tsa server: $(cat "$T/start.err")"
"$SIGN_CADES" "$P/leader.pem" "$P/leader.key" "$P/ca.pem" "$D/doc.txt" "$D/bt.p7s" --tsa "$TSA" ||
        bail_out "sign-cades --tsa failed"
expect_verify "B-T: time-stamped signing time" 0 "Signing time: +[0-9T:+-]+ \(time-stamped\)" "$D/doc.txt" "$D/bt.p7s"
expect_verify "B-T: the TSA is named and trusted" 0 "Time-stamp: +trusted, from Máy chủ cấp dấu thời gian \(test\)" \
        "$D/doc.txt" "$D/bt.p7s"
out=$("$KYSOCTL" verify --json "$D/doc.txt" "$D/bt.p7s")
expect_match "json: time-stamp source and TSA status" '"signing_time_source":"time-stamp"' "$out"
expect_match "json: TSA certificate valid" '"trusted":true' "$out"
# A time-stamp from a TSA that chains to a root the policy does not trust proves nothing.
start_test_server tsa TSA_OTHER --untrusted-tsa 2>"$T/start.err" || bail_out "tsa server: $(cat "$T/start.err")"
"$SIGN_CADES" "$P/leader.pem" "$P/leader.key" "$P/ca.pem" "$D/doc.txt" "$D/bt-other.p7s" --tsa "$TSA_OTHER" ||
        bail_out "sign-cades --tsa (untrusted TSA) failed"
expect_verify "time-stamp from an untrusted TSA: NOT VALID, says why" 1 \
        "Result: +NOT VALID\. The time-stamp cannot be trusted: The certificate of Máy chủ dấu thời gian lạ \(test\) does not lead to a trusted root" \
        "$D/doc.txt" "$D/bt-other.p7s"
expect_verify "time-stamp from an untrusted TSA: shown as not trusted" 1 "Time-stamp: +NOT trusted: " \
        "$D/doc.txt" "$D/bt-other.p7s"
expect_json "json: untrusted TSA: the time-stamp is not trusted, the time only claimed, not competent" '
assert s["timestamp"]["status"] == "ok" and s["timestamp"]["trusted"] is False, s["timestamp"]
assert "does not lead to a trusted root" in s["timestamp"]["reason"], s["timestamp"]
assert s["signing_time_source"] == "claimed" and s["competent_person"] is False, s' "$D/doc.txt" "$D/bt-other.p7s"
FAKETIME_LIB=$(ls /usr/lib/*/faketime/libfaketime.so.1 /usr/lib/faketime/libfaketime.so.1 2>/dev/null | head -1)
if [[ -n $FAKETIME_LIB ]]; then
        # A TSA whose clock is 12 hours behind: the token proves the signature predates the revocation.
        start_test_server tsa TSA_EARLY --clock=-12h 2>"$T/start.err" ||
                bail_out "tsa server: $(cat "$T/start.err")"
        "$SIGN_CADES" "$P/revoked.pem" "$P/revoked.key" "$P/ca.pem" "$D/doc.txt" "$D/revoked-bt.p7s" \
                --tsa "$TSA_EARLY" --time $(($(date +%s) - 43200)) || bail_out "sign-cades --tsa failed"
        expect_verify "time-stamped before the revocation: VALID, revoked later shown" 0 \
                "Certificate at signing time: +the certificate is valid\. .*It was revoked later, on" \
                "$D/doc.txt" "$D/revoked-bt.p7s"
        expect_verify "time-stamped before the revocation: now revoked" 0 \
                "Certificate now: +the certificate is revoked\." "$D/doc.txt" "$D/revoked-bt.p7s"
else
        ok "# SKIP libfaketime not found"
        ok "# SKIP libfaketime not found"
fi
"$SIGN_CADES" "$P/revoked.pem" "$P/revoked.key" "$P/ca.pem" "$D/doc.txt" "$D/revoked-bt-now.p7s" --tsa "$TSA" ||
        bail_out "sign-cades --tsa failed"
expect_verify "time-stamped after the revocation: NOT VALID" 1 \
        "Certificate at signing time: +the certificate is revoked\." "$D/doc.txt" "$D/revoked-bt-now.p7s"

# --- A claimed signing time is never trusted alone: without a time-stamp the certificate must be valid now
# as well as at the claimed time. expired was valid from -400 to -30 days; revexp too, and was revoked at
# -60 days. Both sign "100 days ago" by their own word.
NOW=$(date +%s)
for n in expired revexp; do
        "$SIGN_CADES" "$P/$n.pem" "$P/$n.key" "$P/ca.pem" "$D/doc.txt" "$D/$n-backdated.p7s" \
                --time $((NOW - 100 * 86400)) || bail_out "sign-cades $n failed"
done
expect_verify "expired, claimed time backdated into its validity: NOT VALID, says why" 1 \
        "Result: +NOT VALID\. .*expired on [0-9-]+ .*no time-stamp proves that the signature was made while it was valid" \
        "$D/doc.txt" "$D/expired-backdated.p7s"
expect_verify "expired, backdated: the claimed time is shown as only claimed" 1 \
        "Signing time: +[0-9T:+-]+ \(claimed by the signer, not proven\)" "$D/doc.txt" "$D/expired-backdated.p7s"
expect_verify "expired, backdated: not the competent person's signature" 1 "Competent person: +does not count" \
        "$D/doc.txt" "$D/expired-backdated.p7s"
expect_verify "revoked then expired, claimed time before the revocation: NOT VALID, revoked now" 1 \
        "Certificate now: +the certificate is revoked\. .*key compromise" "$D/doc.txt" "$D/revexp-backdated.p7s"
expect_verify "revoked then expired, backdated: nothing proves it predates the revocation" 1 \
        "Result: +NOT VALID\. .*nothing proves the signature was made before the revocation" \
        "$D/doc.txt" "$D/revexp-backdated.p7s"
expect_json "json: revoked then expired, backdated: not valid, not competent, revoked now" '
assert s["valid"] is False and s["competent_person"] is False, s
assert s["signing_time_source"] == "claimed", s
assert s["status_now"]["status"] == "revoked", s["status_now"]' "$D/doc.txt" "$D/revexp-backdated.p7s"
if [[ -n $FAKETIME_LIB ]]; then
        # With a time-stamp the stamped time counts: 100 days ago both were valid and not yet revoked; 45 days
        # ago revexp was revoked.
        start_test_server tsa TSA_100D --clock=-100d 2>"$T/start.err" ||
                bail_out "tsa server: $(cat "$T/start.err")"
        start_test_server tsa TSA_45D --clock=-45d 2>"$T/start.err" ||
                bail_out "tsa server: $(cat "$T/start.err")"
        for n in expired revexp; do
                "$SIGN_CADES" "$P/$n.pem" "$P/$n.key" "$P/ca.pem" "$D/doc.txt" "$D/$n-bt100.p7s" --tsa "$TSA_100D" \
                        --time $((NOW - 100 * 86400)) || bail_out "sign-cades $n --tsa failed"
        done
        "$SIGN_CADES" "$P/revexp.pem" "$P/revexp.key" "$P/ca.pem" "$D/doc.txt" "$D/revexp-bt45.p7s" --tsa "$TSA_45D" \
                --time $((NOW - 100 * 86400)) || bail_out "sign-cades revexp --tsa failed"
        expect_verify "expired, time-stamped within its validity: VALID" 0 "Result: +VALID\." \
                "$D/doc.txt" "$D/expired-bt100.p7s"
        expect_verify "expired, time-stamped within its validity: the stamped time" 0 \
                "Signing time: +[0-9T:+-]+ \(time-stamped\)" "$D/doc.txt" "$D/expired-bt100.p7s"
        expect_verify "expired, time-stamped within its validity: expired now" 0 \
                "Certificate now: +the certificate has expired\." "$D/doc.txt" "$D/expired-bt100.p7s"
        expect_verify "expired, time-stamped within its validity: the competent person's signature" 0 \
                "Competent person: +counts" "$D/doc.txt" "$D/expired-bt100.p7s"
        expect_verify "expired, time-stamped: says how its status at signing was checked (issue 13)" 0 \
                "Revocation checked by: +(OCSP|CRL) http" "$D/doc.txt" "$D/expired-bt100.p7s"
        expect_verify "revoked then expired, time-stamped before the revocation: VALID, revoked later" 0 \
                "Certificate at signing time: +the certificate is valid\. .*It was revoked later, on" \
                "$D/doc.txt" "$D/revexp-bt100.p7s"
        expect_verify "revoked then expired, time-stamped after the revocation: NOT VALID" 1 \
                "Certificate at signing time: +the certificate is revoked\." "$D/doc.txt" "$D/revexp-bt45.p7s"
        expect_verify "revoked then expired, time-stamped after the revocation: does not count" 1 \
                "Competent person: +does not count" "$D/doc.txt" "$D/revexp-bt45.p7s"
        # OCSP down, the CA's CRL keeps expired certificates: the CRL settles the status at signing, and verify
        # says so (issue 13: it said "revocation not checked" while the JSON said crl).
        write_policy "$T/crlkeep/policy.conf" http://127.0.0.1:1/ocsp "$CRL"
        KYSO_POLICY="$T/crlkeep/policy.conf" expect_verify \
                "expired, time-stamped, OCSP down: the CRL that settled its status at signing is named" 0 \
                "Revocation checked by: +CRL http" "$D/doc.txt" "$D/expired-bt100.p7s"
        # The CA's CRL may have dropped expired certificates (ca-noexp.crl has no expiredCertsOnCRL) and the
        # OCSP responder gives no archive cutoff: nothing says whether expired was revoked before it expired.
        start_test_server crl CRL_NOEXP --noexp 2>"$T/start.err" || bail_out "crl server: $(cat "$T/start.err")"
        write_policy "$T/noexp/policy.conf" "$OCSP" "$CRL_NOEXP"
        KYSO_POLICY="$T/noexp/policy.conf" expect_verify \
                "expired, time-stamped, CRL silent about expired certificates: NOT VALID, says why" 1 \
                "revocation status .*cannot be established.*no archive cutoff.*no expiredCertsOnCRL" \
                "$D/doc.txt" "$D/expired-bt100.p7s"
        KYSO_POLICY="$T/noexp/policy.conf" expect_verify \
                "expired, time-stamped, CRL silent about expired certificates: does not count" 1 \
                "Competent person: +does not count" "$D/doc.txt" "$D/expired-bt100.p7s"
else
        for i in 1 2 3 4 5 6 7 8 9 10 11; do ok "# SKIP libfaketime not found"; done
fi

# --- Revocation servers down: fail closed, naming the servers.
write_policy "$T/down/policy.conf" http://127.0.0.1:1/ocsp http://127.0.0.1:1
KYSO_POLICY="$T/down/policy.conf" expect_verify "OCSP and CRL down: NOT VALID, servers named" 1 \
        "its revocation status is unknown.*OCSP server: http://127.0.0.1:1/ocsp gave no usable answer" \
        "$D/doc.txt" "$D/leader.p7s"

# --- OCSP down, so only the CA's CRL, which does not keep expired certificates (the usual case): an expired
# signer without a time-stamp is refused for its expiry, not for the network (issue 13).
write_policy "$T/crlonly/policy.conf" http://127.0.0.1:1/ocsp "$CRL"
sed -i "s|^\[revocation\]\$|&\nrewrite = http://127.0.0.1:18080/ca.crl $CRL/ca-noexp.crl|" "$T/crlonly/policy.conf"
KYSO_POLICY="$T/crlonly/policy.conf" expect_verify "expired, backdated, CRL only: expired, no time-stamp" 1 \
        "Result: +NOT VALID\. .*expired on [0-9-]+ .*no time-stamp proves that the signature was made while it was valid" \
        "$D/doc.txt" "$D/expired-backdated.p7s"

# --- A countersignature (from formats/' seed corpus, over its fixed content, by its own untrusted test PKI):
# one block per countersignature, judged like any signature.
CS="$KYSO_SOURCE_ROOT/tests/formats/fuzz-cms-verify-corpus/countersigned.der"
if [[ -r $CS ]]; then
        printf 'kyso fuzz content\n' >"$D/fuzz-content.txt"
        expect_verify "countersignature shown in its own block" 1 "Countersignature on signature 1" \
                "$D/fuzz-content.txt" "$CS"
        expect_verify "countersignature by an untrusted PKI: NOT VALID" 1 "2 of 2 signature\(s\) are NOT valid" \
                "$D/fuzz-content.txt" "$CS"
else
        ok "# SKIP no countersigned sample"
        ok "# SKIP no countersigned sample"
fi

# --- Other inputs.
printf '%%PDF-1.4\n%%EOF\n' >"$D/doc.pdf"
expect_verify "PDF without a signature file: verified as a PDF (this one is damaged)" 1 "PDF.*damaged" "$D/doc.pdf"
expect_verify "missing signature file" 2 "kysoctl verify: Cannot open the signature" "$D/changed.txt"
printf 'not a signature' >"$D/garbage.p7s"
expect_verify "garbage signature: NOT VALID" 1 "not a usable detached CMS signature" "$D/doc.txt" "$D/garbage.p7s"
openssl cms -sign -binary -nodetach -in "$D/doc.txt" -signer "$P/leader.pem" -inkey "$P/leader.key" -outform DER \
        -out "$D/attached.p7s" 2>/dev/null || bail_out "openssl cms -sign -nodetach failed"
expect_verify "attached signature: says it is not supported, and how to get a detached one" 1 \
        "attached CMS signature.*not supported.*leave out -nodetach" "$D/doc.txt" "$D/attached.p7s"
expect "json: attached signature: its own error" bash -c \
        '"$1" verify --json "$2" "$3" | grep -Eq "\"error\": *\"attached-signature\""' _ "$KYSOCTL" \
        "$D/doc.txt" "$D/attached.p7s"
expect_verify "usage error" 2 "Usage" 
KYSO_POLICY="$T/nonexistent.conf" expect_verify "no policy: refuses to verify" 3 "policy .* cannot be used" \
        "$D/doc.txt" "$D/leader.p7s"

# --- PDF: signatures made by poppler's pdfsig with the fixture keys (an NSS database without SoftHSM), and the
# attacks of tests/formats/make-pdf-attacks.py on them.
if command -v pdfsig >/dev/null && command -v certutil >/dev/null && command -v pk12util >/dev/null; then
        N="$T/nss"
        mkdir -p "$N"
        {
                certutil -N -d "sql:$N" --empty-password &&
                        for n in leader seal; do
                                openssl pkcs12 -export -inkey "$P/$n.key" -in "$P/$n.pem" -certfile "$P/ca.pem" \
                                        -name "$n" -passout pass: -out "$T/$n.p12" &&
                                        pk12util -i "$T/$n.p12" -d "sql:$N" -W '' || exit 1
                        done &&
                        certutil -A -d "sql:$N" -n root -t CT,C,C -i "$P/root.pem"
        } >"$T/nss.log" 2>&1 || bail_out "NSS database: $(cat "$T/nss.log")"
        python3 "$KYSO_SOURCE_ROOT/tests/formats/make-pdf-attacks.py" --nssdir "sql:$N" --nick leader "$T/att" \
                >"$T/att.log" 2>&1 || bail_out "make-pdf-attacks.py: $(cat "$T/att.log")"
        A="$T/att"
        pdfsig -add-signature -nssdir "sql:$N" -nick seal -new-signature-field-name Seal "$A/signed.pdf" \
                "$A/sealed.pdf" >/dev/null 2>&1 || bail_out "pdfsig -add-signature (seal) failed"

        expect_verify "PDF: the leader's signature is valid" 0 "Verdict: +VALID\." "$A/signed.pdf"
        expect_verify "PDF: --verbose is taken, the verdict the same" 0 "Verdict: +VALID\." --verbose "$A/signed.pdf"
        expect_verify "PDF: the leader counts as the competent person" 0 "Competent person: +counts" "$A/signed.pdf"
        expect_verify "PDF: field, kind and sub-filter shown" 0 "Field: +Leader \(signature, adbe.pkcs7.detached\)" \
                "$A/signed.pdf"
        expect_verify "PDF: the revision covered and the whole file" 0 \
                "Revision signed: +2/2.*|Whole file signed: +yes" "$A/signed.pdf"
        expect_verify "PDF: leader and seal, both valid" 0 "All 2 signature\(s\) are valid" "$A/sealed.pdf"
        expect_json "PDF --json: the leader listed before the seal, levels, coverage" "
assert d['valid'] and len(d['signatures']) == 2, d
assert s['field'] == 'Leader' and d['signatures'][1]['field'] == 'Seal', d
assert s['level'] == 'B-B' and s['revision'] == 2 and d['revisions'] == 3, s
assert not s['covers_whole_file'] and d['signatures'][1]['covers_whole_file'], d
assert s['competent_person'] and not d['signatures'][1]['competent_person'], d
assert s['pdf_problem'] == 'ok' and s['change'] is None, s
import hashlib
assert d['sha256'] == hashlib.sha256(open(d['file'], 'rb').read()).hexdigest(), d['sha256']" "$A/sealed.pdf"

        expect_verify "PDF: page content changed after signing is named" 1 \
                "NOT VALID\. The document was changed after it was signed.*object 5 \(the content of page 1\) changed in revision 3" \
                "$A/isa-content-replaced.pdf"
        expect_verify "PDF: a page added after signing is named" 1 "the page tree\) changed in revision 3" \
                "$A/isa-page-added.pdf"
        expect_verify "PDF: shadow hide-and-replace is refused" 1 "page 1\) had /Contents changed" \
                "$A/shadow-hide-and-replace.pdf"
        expect_verify "PDF: signature wrapping is refused" 1 "not exactly its signature value" "$A/swa-gap-extended.pdf"
        expect_json "PDF --json: universal signature forgery (no /Contents)" "
assert not d['valid'] and s['pdf_problem'] == 'contents-missing' and not s['valid'], s" "$A/usf-contents-removed.pdf"
        expect_verify "PDF: a damaged PDF is refused by name" 1 "^kysoctl verify: .*\(PDF\): The PDF is damaged" \
                "$A/swa-gap-widened.pdf"

        # A PDF signature's claimed time is its /M (PAdES puts no signing-time in the CMS): one in the future
        # does not count, as a CAdES signing-time in the future does not (issue 13).
        if [[ -n ${FAKETIME_LIB:-} ]] &&
                faketime "+200 days" pdfsig -add-signature -nssdir "sql:$N" -nick seal \
                        -new-signature-field-name Later "$A/signed.pdf" "$A/future.pdf" >/dev/null 2>&1; then
                expect_verify "PDF: a signature whose /M is in the future: NOT VALID, says why" 1 \
                        "Result: +NOT VALID\. The signature claims to be made on [0-9-]+ [0-9:]+ UTC, in the future" \
                        "$A/future.pdf"
                expect_json "PDF --json: /M in the future, the claimed time judged" "
assert d['signatures'][1]['signing_time_source'] == 'claimed', d['signatures'][1]
assert not d['signatures'][1]['valid'] and d['signatures'][0]['valid'], d" "$A/future.pdf"
        else
                ok "# SKIP libfaketime not found or pdfsig failed under it"
                ok "# SKIP libfaketime not found or pdfsig failed under it"
        fi
        "$KYSOCTL" verify --html "$T/report.html" "$A/sealed.pdf" >/dev/null 2>&1
        expect "PDF --html: a Vietnamese report is written" grep -q "Báo cáo kiểm tra chữ ký số" "$T/report.html"
        expect "PDF --html: it says the signatures are valid" grep -q "Kết luận: mọi chữ ký đều hợp lệ" "$T/report.html"
        "$KYSOCTL" verify --html "$T/bad.html" "$A/isa-content-replaced.pdf" >/dev/null 2>&1
        expect "PDF --html: and when the document was changed" grep -q "Văn bản toàn vẹn:</th><td>không" "$T/bad.html"
else
        ok "# SKIP pdfsig, certutil or pk12util not installed"
fi

# --- Vietnamese.
if locale -a 2>/dev/null | grep -qi '^vi_VN\.utf-\?8$'; then
        LC_ALL=vi_VN.UTF-8 expect_verify "Vietnamese output" 0 "Chữ ký 1/1.*|Người ký: +Nguyễn Văn An" "$D/doc.txt" "$D/leader.p7s"
        LC_ALL=vi_VN.UTF-8 expect_verify "Vietnamese: result" 0 "Kết quả: +HỢP LỆ" "$D/doc.txt" "$D/leader.p7s"
        LC_ALL=vi_VN.UTF-8 expect_verify "Vietnamese: tampered" 1 "Văn bản đã bị thay đổi sau khi ký" \
                "$D/changed.txt" "$D/leader.p7s"
else
        ok "# SKIP vi_VN.UTF-8 locale not installed"
fi

tap_done
