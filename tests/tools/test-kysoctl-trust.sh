#!/usr/bin/env bash
# test-kysoctl-trust.sh: kysoctl trust list/add/remove on a draft policy (owner check skipped, as for any
# test): what is refused (not a CA, expired, a duplicate, the last root), where an added certificate goes and
# with what mode, the audit records (administrator, chain intact), and policy check's warning for a root
# that expires within the warning days. Output is TAP.
set -uo pipefail

: "${KYSO_SOURCE_ROOT:?run through meson test}" "${KYSOCTL:?run through meson test}"
. "$KYSO_SOURCE_ROOT/tests/fixtures/tap.sh"
export LC_ALL=C.UTF-8
unset LANGUAGE

temp_dir trust
cd "$T" || bail_out "cd failed"

selfsigned() { # NAME DAYS SUBJECT [EXT]
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1.key" -out "$1.pem" \
                -days "$2" -subj "$3" -addext "basicConstraints=critical,${4:-CA:TRUE}" 2>/dev/null ||
                bail_out "openssl req $1"
}
fingerprint() { openssl x509 -in "$1" -noout -fingerprint -sha256 | cut -d= -f2 | tr -d : | tr A-F a-f; }

selfsigned root1 3650 "/C=VN/O=Ban Cơ yếu Chính phủ (test)/CN=Root One"
selfsigned root2 20 "/CN=Root Two"
selfsigned leaf 30 "/CN=Leaf" CA:FALSE
printf 'basicConstraints=critical,CA:TRUE\nkeyUsage=keyCertSign,cRLSign\n' >ca.ext
for ca in ca ca2; do
        openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout $ca.key -out $ca.csr \
                -subj "/CN=Issuing CA $ca" 2>/dev/null || bail_out "csr"
        openssl x509 -req -in $ca.csr -CA root1.pem -CAkey root1.key -CAcreateserial -days 365 -extfile ca.ext \
                -out $ca.pem 2>/dev/null || bail_out "x509 -req"
done

mkdir roots intermediates
cp root1.pem roots/
cp ca.pem intermediates/ # an empty folder would make the policy invalid
cat >policy.conf <<CONF
[trust]
root = $T/roots
intermediate = $T/intermediates
[revocation]
mode = crl
[expiry]
warning-days = 60
CONF
export KYSO_POLICY=$T/policy.conf KYSO_POLICY_INSECURE_SKIP_OWNER_CHECK=1 KYSO_AUDIT_LOG=$T/audit.jsonl
k() { "$KYSOCTL" "$@"; }

out=$(k trust list 2>&1)
expect_match "list shows the root, its fingerprint and its file" \
        "root .*CN=Root One.*SHA-256: +$(fingerprint root1.pem).*File: +$T/roots/root1.pem" "$(tr '\n' ' ' <<<"$out")"
expect_fail "add: a certificate that is not a CA is refused" "not a CA certificate" k trust add leaf.pem
expect_eq "  ... and nothing is written" "root1.pem" "$(ls roots)"
if command -v faketime >/dev/null; then
        faketime -f '-400d' openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout old.key \
                -out old.pem -days 30 -subj "/CN=Old Root" -addext basicConstraints=critical,CA:TRUE 2>/dev/null
        expect_fail "add: an expired CA is refused" "has expired" k trust add old.pem
else
        ok "add: an expired CA is refused # SKIP faketime not installed"
fi
expect_fail "add: a file without a certificate is refused" "holds no certificate" k trust add policy.conf
cat root2.pem ca2.pem >two.pem
expect_fail "add: a file with two certificates is refused" "more than one certificate" k trust add two.pem
expect_fail "add: a root the policy trusts already is refused" "trusts it already" k trust add root1.pem

fp2=$(fingerprint root2.pem)
expect "add: a new root is accepted" k trust add root2.pem
f2=$T/roots/kyso-${fp2:0:16}.pem
expect_eq "  ... written into the policy's folder of roots, mode 0644" "644" "$(stat -c %a "$f2" 2>&1)"
expect_eq "  ... owned by root when added by root" "$( [ "$(id -u)" = 0 ] && echo 0 || id -u)" "$(stat -c %u "$f2")"
expect_eq "  ... no temporary file left" "" "$(ls -a roots | grep -F .tmp)"
expect "add: an intermediate goes to the folder of intermediates" k trust add ca2.pem
expect_eq "  ... there" "ca.pem kyso-$(fingerprint ca2.pem | cut -c1-16).pem" "$(ls intermediates | tr '\n' ' ' | sed 's/ $//')"
out=$(k trust list --json)
expect_eq "list --json: four certificates" "4" "$(python3 -c 'import json,sys; print(len(json.load(sys.stdin)))' <<<"$out")"
expect_match "list --json: the intermediate with its kind" '"kind":"intermediate"' "$out"

out=$(k policy check 2>&1)
expect_match "policy check warns of the root that expires within the warning days" \
        "WARNING: trusted root CN=Root Two \\($fp2\\) expires in (19|20) days" "$out"
expect_fail "remove: an unknown fingerprint is refused" "trusts no certificate" k trust remove 0123456789abcdef
expect_fail "remove: too short a fingerprint is a usage error" "not a SHA-256 fingerprint" k trust remove 0123
expect "remove: by a fingerprint with colons" k trust remove \
        "$(openssl x509 -in root2.pem -noout -fingerprint -sha256 | cut -d= -f2)"
expect_eq "  ... the file is gone" "no" "$([ -e "$f2" ] && echo yes || echo no)"
expect_fail "remove: the last root is refused (the policy would not load)" "nothing was changed" \
        k trust remove "$(fingerprint root1.pem)"
expect_eq "  ... and it is still there" "root1.pem" "$(ls roots)"

events=$(python3 -c 'import json,sys; print(" ".join(json.loads(l)["event"] for l in sys.stdin))' <audit.jsonl)
expect_eq "the audit log has the three changes, nothing for the refusals" \
        "trust-added trust-added trust-removed" "$events"
expect_match "a record names the administrator and the file" \
        "\"administrator\":\"$(id -un)[^\"]*\",\"file\":\"$f2\"" "$(head -1 audit.jsonl)"
expect "the audit chain is intact" k audit verify --log audit.jsonl

# Another writer (a kysod of this account) holds the log's record lock: nothing may change unrecorded.
python3 -c 'import fcntl, sys, time
f = open(sys.argv[1], "a"); fcntl.lockf(f, fcntl.LOCK_EX); print("locked", flush=True); time.sleep(30)' \
        "$T/audit.jsonl.lock" >"$T/locked" &
holder=$!
wait_for 10 grep -q locked "$T/locked" || bail_out "cannot hold the lock"
expect_fail "add: with the audit log held by another writer, nothing changes" "nothing was changed" \
        k trust add root2.pem
expect_eq "  ... no file written" "root1.pem" "$(ls roots)"
kill "$holder" 2>/dev/null
wait "$holder" 2>/dev/null

expect_fail "add without root is refused when the owner check applies" "only root" \
        env -u KYSO_POLICY_INSECURE_SKIP_OWNER_CHECK setpriv --reuid=65534 --regid=65534 --clear-groups \
        "$KYSOCTL" trust add root2.pem
tap_done
