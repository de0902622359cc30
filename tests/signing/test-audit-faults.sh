#!/usr/bin/env bash
# test-audit-faults.sh: what a client is told when the audit log cannot take a signing's record (TAP). The
# message says what happened to the log and what to do (a replaced file or a lost lock: restart the agent;
# not "check the disk space"), and a request that fails before its certificate is looked up still records
# the certificate URI the client asked for. Text options longer than 1024 bytes are refused.
set -uo pipefail

. "${KYSO_SOURCE_ROOT:?run through meson test}/tests/fixtures/tap.sh"

unset KYSO_SANDBOX_MODULE
sandbox_test audit-faults --no-start
# ---- inside the sandbox
D=$T/docs
mkdir -p "$D" "$T/out"
LEADER="pkcs11:token=leader;object=leader;type=cert"
LOG=$XDG_STATE_HOME/kyso/audit.jsonl
echo "Công văn số 12" >"$D/a.txt"

: >"$T/kysod.log"
start() { start_kysod "$T/kysod.log" || bail_out "kysod did not start: $(tail -n 5 "$T/kysod.log")"; }
stop() {
        kill -TERM "$kysod_pid" 2>/dev/null
        wait "$kysod_pid" 2>/dev/null
}
sign() { timeout 120 kysoctl sign --role approve --cert "$LEADER" -o "$T/out/a.p7s" "$D/a.txt" 2>&1; }
start

# 1. A certificate on no token: the request fails before its certificate is found; the record names the
# certificate the client asked for.
NOSUCH="pkcs11:token=nosuch;object=leader;type=cert"
out=$(timeout 120 kysoctl sign --role approve --cert "$NOSUCH" -o "$T/out/n.p7s" "$D/a.txt" 2>&1)
expect_match "a certificate on no token: refused" "nosuch" "$out"
expect_eq "its sign-failed record names the certificate URI the client asked for" "$NOSUCH" \
        "$(kysoctl audit show --json | jq -r '[.[] | select(.event == "sign-failed")] | last | .data.requested_cert_uri')"

# 2. Text options: up to 1024 bytes each (what a record keeps of a field; four times a file name's limit,
# over 340 Vietnamese letters even at 3 bytes each) are signed and recorded in full; longer ones are refused
# before a request exists, naming the limit.
LONG=$(printf 'ệ%.0s' {1..341})a # 1024 bytes
script "confirm yes" "pin 1111"
out=$(timeout 120 kysoctl sign --role approve --cert "$LEADER" --label "$LONG" --reason "$LONG" \
        -o "$T/out/long.p7s" "$D/a.txt" 2>&1)
expect_eq "a 1024-byte label and reason: signed" 0 "$?"
expect_eq "a 1024-byte label: recorded in full" 1024 \
        "$(kysoctl audit show --json | jq -r '[.[] | select(.event == "sign-done")] | last | .document.name' |
                tr -d '\n' | wc -c)"
# The request's records only: the inventory's background check writes cert-status-changed records meanwhile.
request_records() { kysoctl audit show --json | jq '[.[] | select(.event | test("^(sign|pin)-"))] | length'; }
n0=$(request_records)
for key in label reason location classification; do
        expect_match "a $key of 1025 bytes: InvalidArgs naming the limit" "InvalidArgs.*$key.*1024 bytes" \
                "$("$KYSO_SOURCE_ROOT/tests/signing/bad-call.py" 'hhssa{sv}' "$LEADER" approve $key s "${LONG}b" 2>&1)"
done
out=$(timeout 120 kysoctl sign --role approve --cert "$LEADER" --reason "$(head -c 102400 /dev/zero | tr '\0' x)" \
        -o "$T/out/huge.p7s" "$D/a.txt" 2>&1)
expect_eq "kysoctl sign with a 100 KB reason: refused (non-zero exit)" 1 "$(($? != 0))"
expect_match "kysoctl sign with a 100 KB reason: the limit is named" "1024 bytes" "$out"
expect_eq "refused calls write no record" "$n0" "$(request_records)"

# 3. The active file replaced while kysod runs (-ESTALE): restart the agent, not "check the disk space".
mv "$LOG" "$T/moved.jsonl"
echo hello >"$LOG"
script "confirm yes" "pin 1111"
out=$(sign)
expect_match "a replaced audit log: the client hears that the file was replaced" "replaced" "$out"
expect_match "a replaced audit log: the client is told to restart the agent" "[Rr]estart the agent" "$out"
expect "a replaced audit log: no advice about disk space" bash -c "! grep -q 'disk space' <<<\"\$1\"" _ "$out"
stop
rm -f "$LOG"
mv "$T/moved.jsonl" "$LOG"

# 4. The lock file replaced and taken by another process (-EBUSY), then the log broken (-EIO).
start
rm -f "$LOG.lock"
/usr/bin/python3 -c '
import fcntl, sys, time
f = open(sys.argv[1], "w")
fcntl.lockf(f, fcntl.LOCK_EX)
print("locked", flush=True)
time.sleep(60)' "$LOG.lock" >"$T/locker.out" &
locker=$!
wait_for 10 grep -q locked "$T/locker.out" || bail_out "the test could not take the new lock"
script "confirm yes" "pin 1111"
out=$(sign)
expect_match "a lock taken by another process: the client hears so" "another" "$out"
expect "a lock taken by another process: no advice about disk space" bash -c "! grep -q 'disk space' <<<\"\$1\"" _ "$out"
script "confirm yes" "pin 1111"
out=$(sign)
expect_match "the log broken since: the client is told to restart the agent" "[Rr]estart the agent" "$out"
expect "the log broken since: no advice about disk space" bash -c "! grep -q 'disk space' <<<\"\$1\"" _ "$out"
kill "$locker" 2>/dev/null
wait "$locker" 2>/dev/null
stop

tap_done
