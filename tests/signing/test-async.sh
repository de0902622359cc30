#!/usr/bin/env bash
# test-async.sh: what must not wait for what (TAP). kysod in contrib/sandbox, the tokens behind the fault-
# injecting module. OCSP/CRL and TSA servers that hang: GetTokens answers at once, the other token's request
# completes, and Cancel of the hanging request is answered at once with Response cancelled. Cancel and a
# client disconnect while the token signs: the signature is discarded, nothing is written, the audit record
# says so. A batch whose last part never comes fails after batch-timeout and the token's queue goes on. The
# inventory shows the revoked certificate as revoked, and a revocation made later after the refresh; it
# follows a change of the policy file (an invalid one changes nothing). Issue checks cancelled while they read
# a FIFO that never ends give their worker threads back. A document pipe not written yet does not stop the
# agent's loop, nor does a document that never ends (/dev/zero), which fails at max-document-size.
set -uo pipefail

. "${KYSO_SOURCE_ROOT:?run through meson test}/tests/fixtures/tap.sh"

if [[ -z ${KYSO_SANDBOX:-} ]]; then
        sandbox_test_dir async KYSO_ASYNC_TEST_DIR
        export KYSO_SANDBOX_AGENT_CONFIG=$'batch-timeout = 3s\nrevocation-refresh = 5s\ndocument-timeout = 5s\nmax-document-size = 512M'
        sandbox_fault_module
        sandbox_exec
fi
# ---- inside the sandbox
. "$KYSO_SOURCE_ROOT/tests/signing/kysod-stop.sh"
T=$KYSO_ASYNC_TEST_DIR
D=$T/docs
mkdir -p "$D"
SIGN_CLIENT=$KYSO_BUILD_ROOT/tests/signing/sign-client
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 # for the test client; kysod runs already
# A client in the background, signalled directly (SIGUSR1: cancel or disconnect now): $! is its pid.
CLIENT() { timeout "${CLIENT_TIMEOUT:-120}" "$SIGN_CLIENT" "$@"; }
LEADER="pkcs11:token=leader;object=leader;type=cert"
SEAL="pkcs11:token=seal;object=seal;type=cert"
last_record() { kysoctl audit show --json | jq -c --arg e "$1" '[.[] | select(.event == $e)] | last'; }
discarded() { kysoctl audit show --json | jq '[.[] | select(.event == "sign-cancelled" and .data.token_signature == "discarded")] | length'; }
ms_since() { echo $((($(date +%s%N) - $1) / 1000000)); }
log_has_request() { grep -q "hanging on" "$1" 2>/dev/null; }
# kysoctl tokens, timed: the loop must be free (a busy loop would answer after the network timeout).
tokens_ms() {
        local t0
        t0=$(date +%s%N)
        kysoctl tokens >/dev/null 2>&1 || echo "failed"
        ms_since "$t0"
}
# The same request file for every case; outputs per case.
echo "Quyết định số 7/QĐ-UBND" >"$D/qd.txt"

. "$KYSO_SOURCE_ROOT/tests/fixtures/servers.sh"
export KYSO_TEST_SERVER_DIR=$T/servers
start_test_server ocsp HANG_OCSP --hang || bail_out "hanging OCSP server"
start_test_server crl HANG_CRL --hang || bail_out "hanging CRL server"
start_test_server tsa HANG_TSA --hang || bail_out "hanging TSA"
HANG_OCSP_LOG=$KYSO_TEST_SERVER_DIR/ocsp-0.log HANG_TSA_LOG=$KYSO_TEST_SERVER_DIR/tsa-2.log

# The policy is read again for each request: a request sees the one in place when it starts.
cp "$KYSO_POLICY" "$T/good.conf"
"$KYSO_SOURCE_ROOT/tests/fixtures/make-policy.sh" "$T/hang-revocation.conf" --ocsp "$HANG_OCSP" --crl "$HANG_CRL" \
        --tsa "$KYSO_SANDBOX_TSA_URL" --cache "$T/cache-hang"
sed -i 's/^mode = .*/&\nocsp-timeout = 60s\ncrl-timeout = 60s/' "$T/hang-revocation.conf"
"$KYSO_SOURCE_ROOT/tests/fixtures/make-policy.sh" "$T/hang-tsa.conf" --ocsp "$KYSO_SANDBOX_OCSP_URL" \
        --crl "$KYSO_SANDBOX_CRL_URL" --tsa "$HANG_TSA" --cache "$T/cache-tsa"
sed -i 's/^url = .*/&\ntimeout = 60s/' "$T/hang-tsa.conf"
use_policy() { cp "$T/$1.conf" "$KYSO_POLICY"; }

# 1. OCSP and CRL servers that hang while the signer certificate is checked.
use_policy hang-revocation
c0=$(audit_count sign-cancelled)
mkdir -p "$T/a"
"$SIGN_CLIENT" --cert "$LEADER" --role approve --cancel 0 --on-signal -o "$T/a" "$D/qd.txt" >"$T/a.txt" 2>&1 &
pid_a=$!
expect "the hanging OCSP server got the request" wait_for 20 log_has_request "$HANG_OCSP_LOG"
use_policy good
ms=$(tokens_ms)
expect "GetTokens answers while an OCSP request hangs (${ms} ms)" test "$ms" -lt 1500
script "confirm yes" "pin 2222"
t0=$(date +%s%N)
expect "the other token's request is signed meanwhile" \
        timeout 40 kysoctl sign --role copy --cert "$SEAL" "$D/qd.txt" -o "$T/seal.p7s"
expect "... within 20 s ($(ms_since "$t0") ms), not after the OCSP timeout" test "$(ms_since "$t0")" -lt 20000
expect "... while the hanging request is still waiting" bash -c "! grep -q '^response' '$T/a.txt'"
kill -USR1 $pid_a
wait $pid_a
expect_match "Cancel during the OCSP wait: Response 1 Cancelled" "response 0 1 org.kyso.Error.Cancelled" "$(cat "$T/a.txt")"
lat=$(sed -n 's/^latency 0 //p' "$T/a.txt")
expect "... answered at once (${lat:-no} ms)" test "${lat:-99999}" -lt 1000
expect_eq "... one sign-cancelled record" $((c0 + 1)) "$(audit_count sign-cancelled)"

# 2. A TSA that hangs after the token signed.
use_policy hang-tsa
c0=$(audit_count sign-cancelled)
d0=$(audit_count sign-done)
x0=$(discarded)
mkdir -p "$T/b"
script "confirm yes" "pin 1111"
"$SIGN_CLIENT" --cert "$LEADER" --role approve --timestamp --cancel 0 --on-signal -o "$T/b" "$D/qd.txt" >"$T/b.txt" 2>&1 &
pid_b=$!
expect "the hanging TSA got the request" wait_for 30 log_has_request "$HANG_TSA_LOG"
ms=$(tokens_ms)
expect "GetTokens answers while the TSA hangs (${ms} ms)" test "$ms" -lt 1500
kill -USR1 $pid_b
wait $pid_b
expect_match "Cancel during the TSA wait: Response 1 Cancelled" "response 0 1 org.kyso.Error.Cancelled" "$(cat "$T/b.txt")"
lat=$(sed -n 's/^latency 0 //p' "$T/b.txt")
expect "... answered at once (${lat:-no} ms)" test "${lat:-99999}" -lt 1000
expect "... nothing written" test ! -s "$T/b/out-0.p7s"
expect_eq "... a sign-cancelled record, no sign-done" "$((c0 + 1)) $d0" "$(audit_count sign-cancelled) $(audit_count sign-done)"
expect_eq "... the record says the token's signature was discarded" $((x0 + 1)) "$(discarded)"
use_policy good

# 3. Cancel and disconnect while the token signs (the fault module's slow C_Sign).
if [[ -n ${KYSO_FAULT_CONTROL:-} ]]; then
        control() {
                printf '%s\n' "$@" >"$KYSO_FAULT_CONTROL.tmp"
                mv "$KYSO_FAULT_CONTROL.tmp" "$KYSO_FAULT_CONTROL"
        }
        pins() { grep -c '^GETPIN' "$KYSO_TEST_PINENTRY_LOG" 2>/dev/null || echo 0; }
        pin_asked_after() { (($(pins) > $1)); }
        for how in cancel disconnect; do
                c0=$(audit_count sign-cancelled)
                d0=$(audit_count sign-done)
                x0=$(discarded)
                g0=$(pins)
                mkdir -p "$T/$how"
                control "slow C_Sign 3000"
                script "confirm yes" "pin 1111"
                "$SIGN_CLIENT" --cert "$LEADER" --role approve --"$how" 0 --on-signal -o "$T/$how" "$D/qd.txt" >"$T/$how.txt" 2>&1 &
                pid=$!
                wait_for 20 pin_asked_after "$g0"
                sleep 1 # the PIN is in: the token is in its 3 s C_Sign
                kill -USR1 $pid
                wait $pid
                if [[ $how == cancel ]]; then
                        expect_match "Cancel while the token signs: Response 1 Cancelled" \
                                "response 0 1 org.kyso.Error.Cancelled" "$(cat "$T/$how.txt")"
                else
                        cancelled() { (($(audit_count sign-cancelled) > c0)) || (($(audit_count sign-done) > d0)); }
                        wait_for 15 cancelled
                fi
                expect "$how while the token signs: nothing written" test ! -s "$T/$how/out-0.p7s"
                expect_eq "$how while the token signs: a sign-cancelled record, no sign-done" \
                        "$((c0 + 1)) $d0" "$(audit_count sign-cancelled) $(audit_count sign-done)"
                expect_eq "$how while the token signs: the record says the token's signature was discarded" \
                        $((x0 + 1)) "$(discarded)"
                expect_match "$how while the token signs: ... and why" "cancelled after the token had signed" \
                        "$(last_record sign-cancelled | jq -r '.reason')"
                control ""
        done
else
        ok "# SKIP Cancel while the token signs: no fault module"
fi

# 4. A batch whose last part never comes fails after batch-timeout; the token's queue goes on.
f0=$(audit_count sign-failed)
for ((i = 0; i < 12; i++)); do echo "văn bản $i" >"$D/b$i.txt"; done
mkdir -p "$T/inc"
CLIENT_TIMEOUT=30 CLIENT --cert "$LEADER" --role approve --batch --count 12 --incomplete -o "$T/inc" "$D"/b{0..11}.txt >"$T/inc.txt" 2>&1 &
pid_inc=$!
sleep 0.5
script "confirm yes" "pin 1111"
t0=$(date +%s%N)
expect "a request queued behind the incomplete batch is signed" \
        timeout 30 kysoctl sign --role approve --cert "$LEADER" "$D/qd.txt" -o "$T/after-batch.p7s"
expect "... after the batch timed out (3 s), not much later ($(ms_since "$t0") ms)" test "$(ms_since "$t0")" -lt 15000
wait $pid_inc
expect_match "the incomplete batch: Response 2 InvalidArgs" "response 0 2 org.kyso.Error.InvalidArgs" "$(cat "$T/inc.txt")"
expect_eq "the incomplete batch: one sign-failed record per document received (12)" $((f0 + 12)) "$(audit_count sign-failed)"
expect_match "... saying the last part never came" "AddDocuments" "$(last_record sign-failed | jq -r '.reason')"

# 5. The inventory checks revocation in the background.
cert_status() { kysoctl certs --json | jq -r --arg l "$1" '.[] | select(.label == $l) | .status'; }
status_is() { [[ $(cert_status "$1") == "$2" ]]; }
expect "the revoked certificate shows as revoked" wait_for 30 status_is revoked revoked
expect "the leader's shows as valid" wait_for 30 status_is leader valid
expect_eq "the expired one stays expired" expired "$(cert_status expired)"
# Revoked now: the next refresh (revocation-refresh = 5s) sees it.
(cd "$KYSO_PKI" && openssl ca -config openssl.cnf -name ca_issuing -revoke leader2.pem -crl_reason keyCompromise) >"$T/revoke.log" 2>&1 ||
        not_ok "revoking leader2 in the test CA: $(cat "$T/revoke.log")"
expect "a certificate revoked later shows as revoked after the refresh" wait_for 30 status_is leader2 revoked

# The administrator changes the policy of the running agent: the inventory follows within the refresh
# interval. Revocation servers that fail (HTTP 500, at once: a refused connection would be retried by OpenSSL
# until the timeout, for each of the 11 certificates, one at a time): the leader's status becomes unknown.
start_test_server ocsp FAIL_OCSP --fail || bail_out "failing OCSP server"
start_test_server crl FAIL_CRL --fail || bail_out "failing CRL server"
"$KYSO_SOURCE_ROOT/tests/fixtures/make-policy.sh" "$T/down-revocation.conf" --ocsp "$FAIL_OCSP" --crl "$FAIL_CRL" \
        --tsa "$KYSO_SANDBOX_TSA_URL" --cache "$T/cache-down"
use_policy down-revocation
expect "the policy now names revocation servers that fail: the leader's shows as unknown" \
        wait_for 30 status_is leader unknown
# A policy that does not load changes nothing: the last statuses stay, the agent says so once.
policy_warnings() { grep -c "still checked with the policy loaded before" "$KYSO_KYSOD_LOG"; }
printf '[revocation]\nmode = sometimes\n' >"$KYSO_POLICY"
sleep 11 # two refreshes
expect "an invalid policy: kysod goes on" kill -0 "$KYSO_KYSOD_PID"
expect_eq "... the leader's status stays as it was" unknown "$(cert_status leader)"
expect_eq "... and it is logged once" 1 "$(policy_warnings)"
use_policy good
expect "the good policy again: the leader's shows as valid" wait_for 30 status_is leader valid
# One certificate at a time: the revoked one may still be "unchecked" when the leader's is done.
expect "... and the revoked one as revoked" wait_for 30 status_is revoked revoked
# The certificates' kinds follow the policy file too: without its [kind personal], the leader's certificate
# is of no kind the policy knows.
kind_of() { kysoctl certs --json | jq -r --arg l "$1" '.[] | select(.label == $l) | .kind'; }
kind_is() { [[ $(kind_of "$1") == "$2" ]]; }
sed '/^\[kind personal\]$/,+2d' "$T/good.conf" >"$T/no-personal.conf"
expect "a policy without the personal kind checks" kysoctl policy check "$T/no-personal.conf"
use_policy no-personal
expect "... in its place, the leader's certificate shows no known kind" wait_for 30 kind_is leader unknown
use_policy good
expect "... and personal again with the good policy" wait_for 30 kind_is leader personal

# 6. Issue checks whose document is a FIFO that never ends (the test keeps its writer open), cancelled while
# the worker thread reads it: more of them than the pool has threads (8). Each cancelled check must give its
# thread back, else the pool runs dry and every later request that needs a worker waits forever.
script "confirm yes" "pin 1111"
expect "the leader signs the document of the issue checks" \
        timeout 60 kysoctl sign --role approve --cert "$LEADER" "$D/qd.txt" -o "$T/qd.p7s"
for ((i = 0; i < 10; i++)); do
        mkdir -p "$T/fifo$i"
        mkfifo "$T/fifo$i/doc"
        exec {fifo}<>"$T/fifo$i/doc" # never closed: the agent never sees the end
        printf 'Q' >&"$fifo"         # read by the check: sign-client then knows it is reading the FIFO
        CLIENT_TIMEOUT=20 CLIENT --cert "$SEAL" --role issue --existing "$T/qd.p7s" --cancel 0 --after-read \
                -o "$T/fifo$i" "$T/fifo$i/doc" >"$T/fifo$i.txt" 2>&1
        grep -q "response 0 1 org.kyso.Error.Cancelled" "$T/fifo$i.txt" || break
done
expect_eq "10 issue checks reading a FIFO, cancelled: each gets Response 1 Cancelled" 10 "$i"
((i == 10)) || sed 's/^/# /' "$T/fifo$i.txt"
script "confirm yes" "pin 1111"
t0=$(date +%s%N)
expect "... then a request that needs a worker thread is signed" \
        timeout 30 kysoctl sign --role approve --cert "$LEADER" "$D/qd.txt" -o "$T/after-fifo.p7s"
expect "... within 20 s ($(ms_since "$t0") ms)" test "$(ms_since "$t0")" -lt 20000

# 7. A document that is a pipe the client has not written yet (approve: hashed on the agent's loop). The
# agent waits for the data without waiting in read(): GetTokens is answered meanwhile, and the request goes
# on when the data comes.
mkfifo "$T/late-doc"
exec {late}<>"$T/late-doc" # the writer: nothing written yet
mkdir -p "$T/late"
script "confirm yes" "pin 1111"
CLIENT_TIMEOUT=60 CLIENT --cert "$LEADER" --role approve -o "$T/late" "$T/late-doc" >"$T/late.txt" 2>&1 {late}>&- &
late_pid=$!
expect "a document pipe without data: the request reaches the agent" \
        wait_for 20 grep -q "^reply 0 ok" "$T/late.txt"
sleep 0.5
t0=$(date +%s%N)
expect "... GetTokens is answered meanwhile" timeout 10 kysoctl tokens
expect "... within 2 s ($(ms_since "$t0") ms)" test "$(ms_since "$t0")" -lt 2000
printf 'Tờ trình số 9\n' >&"$late"
exec {late}>&- # the end of the document
wait "$late_pid"
expect_match "... then the data comes: signed" "response 0 0 -" "$(cat "$T/late.txt")"
expect "... and the signature covers what came through the pipe" openssl cms -verify -binary -inform DER \
        -in "$T/late/out-0.p7s" -content <(printf 'Tờ trình số 9\n') -CAfile "$KYSO_PKI/root+ca.pem" -purpose any \
        -out /dev/null

# 8. A document pipe the application stops writing without closing: after document-timeout (5 s here, from
# the last data) the document fails with BadDocument and its record says why; the token's queue goes on.
# Hashed on the loop (approve) and read by an issue check on a worker thread.
stalled() { # NAME ROLE CERT [CLIENT OPTIONS...]
        local name=$1 role=$2 cert=$3 fd t0
        shift 3
        mkfifo "$T/$name-doc"
        exec {fd}<>"$T/$name-doc"
        printf 'Tờ trình số 10' >&"$fd" # some data, then nothing more and no end
        mkdir -p "$T/$name"
        t0=$(date +%s%N)
        CLIENT_TIMEOUT=60 CLIENT --cert "$cert" --role "$role" "$@" -o "$T/$name" "$T/$name-doc" \
                >"$T/$name.txt" 2>&1 {fd}>&-
        echo "$(ms_since "$t0")" >"$T/$name.ms"
        exec {fd}>&-
}
for c in approve issue; do
        if [[ $c == approve ]]; then stalled stalled-$c approve "$LEADER"; else
                stalled stalled-$c issue "$SEAL" --existing "$T/qd.p7s"; fi
        expect_match "$c: a document pipe the application stopped writing fails with BadDocument" \
                "response 0 2 org.kyso.Error.BadDocument" "$(cat "$T/stalled-$c.txt")"
        ms=$(cat "$T/stalled-$c.ms")
        expect "... after document-timeout, not before ($ms ms)" test "$ms" -ge 4500 -a "$ms" -lt 40000
        expect "... its sign-failed record says the application stopped sending it" \
                bash -c "kysoctl audit show --json | jq -e '[.[] | select(.event == \"sign-failed\")] | last | tostring | test(\"stopped sending the document\")' >/dev/null"
        expect "... nothing written" test ! -s "$T/stalled-$c/out-0.p7s"
done
# The leader's signature file (existing_signature) is the pipe that stalls, the document a file: the
# message names the signature file, not the document the clerk would check in vain.
mkfifo "$T/stalled-sig.p7s"
exec {sigfd}<>"$T/stalled-sig.p7s"
head -c 100 "$T/qd.p7s" >&"$sigfd"
mkdir -p "$T/stalled-sig"
CLIENT_TIMEOUT=60 CLIENT --cert "$SEAL" --role issue --existing "$T/stalled-sig.p7s" -o "$T/stalled-sig" \
        "$D/qd.txt" >"$T/stalled-sig.txt" 2>&1 {sigfd}>&-
exec {sigfd}>&-
expect_match "a leader's signature pipe the application stopped writing fails with BadDocument" \
        "response 0 2 org.kyso.Error.BadDocument" "$(cat "$T/stalled-sig.txt")"
expect "... its sign-failed record names the leader's signature file, not the document" \
        bash -c "kysoctl audit show --json | jq -e '[.[] | select(.event == \"sign-failed\")] | last | tostring | test(\"stopped sending the leader.s signature file\")' >/dev/null"
expect "... nothing written" test ! -s "$T/stalled-sig/out-0.p7s"
script "confirm yes" "pin 1111"
expect "... and the token's next request is signed" \
        timeout 60 kysoctl sign --role approve --cert "$LEADER" "$D/qd.txt" -o "$T/after-stalled.p7s"

# 9. A document that never ends (/dev/zero) on one token: read and hashed off the agent's loop, it fails with
# BadDocument at max-document-size (512 MiB here), naming the limit; meanwhile the loop answers and the other
# token signs in its usual time.
script "confirm yes" "pin 2222"
t0=$(date +%s%N)
expect "the seal signs a copy (its usual time)" timeout 60 kysoctl sign --role copy --cert "$SEAL" "$D/qd.txt" -o "$T/seal-before.p7s"
usual=$(ms_since "$t0")
mkdir -p "$T/zero"
CLIENT_TIMEOUT=120 CLIENT --cert "$LEADER" --role approve -o "$T/zero" /dev/zero >"$T/zero.txt" 2>&1 &
zero_pid=$!
expect "/dev/zero as a document: the request reaches the agent" wait_for 20 grep -q "^reply 0 ok" "$T/zero.txt"
t0=$(date +%s%N)
expect "... GetTokens is answered meanwhile" timeout 10 kysoctl tokens
expect "... within 1.5 s ($(ms_since "$t0") ms)" test "$(ms_since "$t0")" -lt 1500
script "confirm yes" "pin 2222"
t0=$(date +%s%N)
expect "... the other token signs a copy meanwhile" \
        timeout 60 kysoctl sign --role copy --cert "$SEAL" "$D/qd.txt" -o "$T/seal-zero.p7s"
ms=$(ms_since "$t0")
expect "... in its usual time ($ms ms, usually $usual ms)" test "$ms" -lt $((usual * 3 + 2000))
expect "... while /dev/zero is still being read" bash -c "! grep -q '^response' '$T/zero.txt'"
wait "$zero_pid"
expect_match "... which then fails with BadDocument" "response 0 2 org.kyso.Error.BadDocument" "$(cat "$T/zero.txt")"
expect "... its record names the limit" \
        bash -c "kysoctl audit show --json | jq -e '[.[] | select(.event == \"sign-failed\")] | last | .reason | test(\"512 MiB\")' >/dev/null"
expect "... nothing written" test ! -s "$T/zero/out-0.p7s"
script "confirm yes" "pin 1111"
expect "... and the token's next request is signed" \
        timeout 60 kysoctl sign --role approve --cert "$LEADER" "$D/qd.txt" -o "$T/after-zero.p7s"
# The policy's [documents] max-size lowers kysod.conf's limit (here 64M under the test's 512M).
{ cat "$T/good.conf"; printf '[documents]\nmax-size = 64M\n'; } >"$T/small-docs.conf"
use_policy small-docs
mkdir -p "$T/zero-policy"
CLIENT_TIMEOUT=60 CLIENT --cert "$LEADER" --role approve -o "$T/zero-policy" /dev/zero >"$T/zero-policy.txt" 2>&1
expect_match "the policy's max-size: /dev/zero fails with BadDocument" "response 0 2 org.kyso.Error.BadDocument" \
        "$(cat "$T/zero-policy.txt")"
expect "... naming the policy's smaller limit" \
        bash -c "kysoctl audit show --json | jq -e '[.[] | select(.event == \"sign-failed\")] | last | .reason | test(\"64 MiB\")' >/dev/null"
use_policy good

# A network check may still wait on a worker thread (the cancelled request's OCSP, then CRL): the agent
# stops anyway, at once.
stop_kysod
cp "$KYSO_KYSOD_LOG" "$T/kysod.log"
stop_test_servers
tap_done
