#!/usr/bin/env bash
# test-prompter.sh: prompts served by an application's registered org.kyso.Prompter1 object (TAP). kysod in the
# sandbox with the SoftHSM demo tokens, a scripted pinentry, and tests/signing/prompter-client.py as the
# application: a real Sign approved and its PIN given there (verified by openssl), a wrong PIN, the final try
# (through the fault-injecting module), declining,
# refusing the PIN, no answer (timeout), the application leaving or unregistering mid-prompt, the client's
# Cancel, wrong answer types, another application's request going to pinentry, the RegisterPrompter errors,
# and no PIN in kysod's (debug) log or the audit log.
set -uo pipefail

. "${KYSO_SOURCE_ROOT:?run through meson test}/tests/fixtures/tap.sh"

if [[ -z ${KYSO_SANDBOX:-} ]]; then
        sandbox_test_dir prompter KYSO_PROMPTER_TEST_DIR
        # The fault-injecting module (when built) wraps SoftHSM: it can report the token's final PIN try.
        sandbox_fault_module
        sandbox_exec --no-start
fi
# ---- inside the sandbox
T=$KYSO_PROMPTER_TEST_DIR
LEADER="pkcs11:token=leader;object=leader;type=cert"
TIMEOUT=4 # kysod's prompt-timeout in this test, seconds
# A wrong PIN that appears nowhere else: it must not reach kysod's log or the audit log.
WRONG_PIN=73195824
CLIENT="$KYSO_SOURCE_ROOT/tests/signing/prompter-client.py"
echo "Tờ trình số 3/TTr-UBND" >"$T/tt.txt"
mkdir -p "$T/out"

printf 'prompt-timeout = %ss\nlog-level = debug\n' "$TIMEOUT" >>"$KYSO_AGENT_CONFIG"
: >"$T/kysod.log"
start_kysod "$T/kysod.log" || bail_out "kysod did not start: $(cat "$T/kysod.log")"

pinentry_prompts() { pinentry_count '^START'; }
# app NAME ANSWER...: the application signs tt.txt into out/NAME.p7s, answering its prompts; output in $T/NAME.out
app() {
        local name=$1
        shift
        timeout 60 "$CLIENT" --path "/org/example/$name" --sign "$LEADER" approve "$T/tt.txt" "$T/out/$name.p7s" "$@" \
                >"$T/$name.out" 2>&1
}
call_json() { sed -n "s/^call $2 //p" "$T/$1.out" | sed -n "${3:-1}p"; }
# fault_control LINES FILTER: gives the fault-injecting module new control LINES (printf's escapes; '' for
# none), then waits up to 10 s for kysoctl to list the leader token matching the jq FILTER.
fault_control() {
        local i
        printf '%b' "$1" >"$KYSO_FAULT_CONTROL.tmp" && mv "$KYSO_FAULT_CONTROL.tmp" "$KYSO_FAULT_CONTROL"
        for ((i = 0; i < 50; i++)); do
                kysoctl tokens --json | jq -e ".[] | select(.label == \"leader\" and $2)" >/dev/null 2>&1 && break
                sleep 0.2
        done
}

# 1. approved, with the PIN, in the application: a real signature
p0=$(pinentry_prompts)
expect "an application's prompter approves and gives the PIN: done" app ok yes yes:1111
expect_match "ok: Response 0" "^response 0 - -" "$(cat "$T/ok.out")"
expect "ok: the signature verifies with openssl" cms_ok "$T/tt.txt" "$T/out/ok.p7s"
expect_eq "ok: pinentry was not used" "$p0" "$(pinentry_prompts)"
c=$(call_json ok Confirm)
holder=$(openssl x509 -in "$KYSO_PKI/leader.pem" -noout -subject -nameopt utf8,sep_multiline | sed -n 's/^ *CN=//p')
org=$(openssl x509 -in "$KYSO_PKI/leader.pem" -noout -subject -nameopt utf8,sep_multiline | sed -n 's/^ *O=//p')
not_after=$(date -d "$(openssl x509 -in "$KYSO_PKI/leader.pem" -noout -enddate | cut -d= -f2)" +%s)
expect_eq "Confirm: the document's name, size and SHA-256" \
        "tt.txt $(stat -c %s "$T/tt.txt") $(sha256sum "$T/tt.txt" | cut -d' ' -f1)" \
        "$(jq -r '.documents[] | "\(.name) \(.size) \(.sha256)"' <<<"$c")"
expect_eq "Confirm: the certificate's holder, organisation, kind and expiry, the role, not the final try" \
        "$holder|$org|personal|$not_after|approve|false" \
        "$(jq -r '[.cert_holder, .cert_organization, .cert_kind, .cert_not_after, .role, .final_try] | map(tostring) | join("|")' <<<"$c")"
python=$(readlink -f /usr/bin/python3)
expect_eq "Confirm: the asking application (its pid, executable and name)" "true $python ${python##*/}" \
        "$(jq -r '"\(.pid == .client_pid) \(.executable) \(.app_name)"' <<<"$c")"
expect_eq "AskPin: token label, PIN state, tries unknown, no previous wrong PIN" "leader ok -1 false" \
        "$(call_json ok AskPin | jq -r '"\(.token_label) \(.pin_state) \(.tries_left) \(.previous_wrong)"')"
expect_eq "ok: the audit record says the application prompted" "sign-done application" \
        "$(kysoctl audit show --json | jq -r '[.[] | select(.event | startswith("sign-"))] | last | "\(.event) \(.data.prompter)"')"

# 2. a wrong PIN, then the right one
f0=$(audit_count pin-failure)
expect "a wrong PIN in the application, then the right one: done" app retry yes "yes:$WRONG_PIN" yes:1111
expect_eq "retry: asked twice, the second time saying the PIN was wrong" "false true" \
        "$(sed -n 's/^call AskPin //p' "$T/retry.out" | jq -r .previous_wrong | tr '\n' ' ' | sed 's/ $//')"
expect "retry: the signature verifies" cms_ok "$T/tt.txt" "$T/out/retry.p7s"
expect_eq "retry: one pin-failure record" $((f0 + 1)) "$(audit_count pin-failure)"

# 3. the token's final PIN try: Confirm says so, AskPin too
if [[ -n ${KYSO_FAULT_CONTROL:-} ]]; then
        fault_control 'pin final-try\n' '.["pin-state"] == "final-try"'
        expect "final try: signed after the application's explicit yes" app final yes yes:1111
        expect_eq "final try: Confirm says final_try, AskPin the state and the one try left" "true final-try 1" \
                "$(call_json final Confirm | jq -r .final_try) $(call_json final AskPin | jq -r '"\(.pin_state) \(.tries_left)"')"
        fault_control '' '.["pin-state"] == "ok"'
        # A PIN pad reader (the fault module types 1111 on it, as slowly as a person): the application is told
        # to have the PIN typed on the reader (ShowPinpad), is asked for no PIN, and its message is closed
        # (Cancel) once the reader is done.
        fault_control 'pinpad 1111\nslow C_Login 1500\n' '.protected_auth_path'
        p0=$(pinentry_prompts)
        expect "PIN pad: signed, the application approving" app pad yes hang
        expect "PIN pad: the signature verifies" cms_ok "$T/tt.txt" "$T/out/pad.p7s"
        expect_eq "PIN pad: Confirm, then ShowPinpad for the token, no AskPin, the message closed, no pinentry" \
                "Confirm ShowPinpad cancel|leader|$p0" \
                "$(sed -n 's/^\(call \)\{0,1\}\(Confirm\|AskPin\|ShowPinpad\|cancel\)\b.*/\2/p' "$T/pad.out" | tr '\n' ' ' | sed 's/ $//')|$(call_json pad ShowPinpad | jq -r .token_label)|$(pinentry_prompts)"
        fault_control '' '(.protected_auth_path | not)'
        # The token pulled out while its PIN is asked: the prompt closes and the request fails at once with
        # NoToken, not after prompt-timeout as if nobody had answered.
        app removed yes hang &
        removed_pid=$!
        for ((i = 0; i < 100; i++)); do grep -q '^call AskPin' "$T/removed.out" 2>/dev/null && break; sleep 0.1; done
        printf 'remove\n' >"$KYSO_FAULT_CONTROL.tmp" && mv "$KYSO_FAULT_CONTROL.tmp" "$KYSO_FAULT_CONTROL"
        wait "$removed_pid"
        expect_match "token removed during AskPin: the request fails with NoToken, saying so" \
                "^response 2 org.kyso.Error.NoToken The token was removed" "$(cat "$T/removed.out")"
        expect_match "... and the application's prompt is closed" "^cancel" "$(cat "$T/removed.out")"
        fault_control 'insert\n' 'true'
else
        ok "final try # SKIP the fault-injecting module is not built"
        ok "PIN pad # SKIP the fault-injecting module is not built"
        ok "PIN pad # SKIP the fault-injecting module is not built"
        ok "PIN pad # SKIP the fault-injecting module is not built"
        ok "token removed # SKIP the fault-injecting module is not built"
        ok "token removed # SKIP the fault-injecting module is not built"
fi

# 4. declined, PIN refused
c0=$(audit_count sign-cancelled)
app declined no
expect_match "the application's prompt declines: Response 1 Cancelled, 'You declined'" \
        "^response 1 org.kyso.Error.Cancelled You declined" "$(cat "$T/declined.out")"
expect "declined: nothing written" test ! -s "$T/out/declined.p7s"
app nopin yes cancel
expect_match "the PIN is refused in the application: Response 1 Cancelled" "^response 1 org.kyso.Error.Cancelled" \
        "$(cat "$T/nopin.out")"
expect "PIN refused: nothing written" test ! -s "$T/out/nopin.p7s"
expect_eq "declined, PIN refused: two sign-cancelled records" $((c0 + 2)) "$(audit_count sign-cancelled)"

# 5. no answer: the prompt-timeout, and the application gets Cancel
t0=$(date +%s)
app hang hang
t1=$(date +%s)
expect_match "no answer: Response 1 Cancelled, 'in time'" "^response 1 org.kyso.Error.Cancelled .*in time" \
        "$(cat "$T/hang.out")"
expect "no answer: the application got Cancel" grep -qx cancel "$T/hang.out"
((t1 - t0 >= TIMEOUT && t1 - t0 < TIMEOUT + 20)) && ok "no answer: ended after the prompt-timeout ($((t1 - t0)) s)" ||
        not_ok "no answer: ended after the prompt-timeout (${TIMEOUT} s; took $((t1 - t0)) s)"

# 6. the client cancels its request while the prompt is open: the application's prompt gets Cancel
app cancelled cancel-request
expect_match "Cancel while the application's prompt is open: Response 1 Cancelled" \
        "^response 1 org.kyso.Error.Cancelled" "$(cat "$T/cancelled.out")"
expect "Cancel: the application's prompt got Cancel from the agent" grep -qx cancel "$T/cancelled.out"

# 7. the application unregisters, or leaves the bus, mid-prompt: the request ends at once, cleanly
t0=$(date +%s)
app unreg unregister
t1=$(date +%s)
expect_match "UnregisterPrompter mid-prompt: Response 1 Cancelled, the prompt closed" \
        "^response 1 org.kyso.Error.Cancelled .*closed it or left" "$(cat "$T/unreg.out")"
((t1 - t0 < TIMEOUT)) && ok "UnregisterPrompter mid-prompt: ended at once ($((t1 - t0)) s)" ||
        not_ok "UnregisterPrompter mid-prompt: ended at once (took $((t1 - t0)) s)"
c0=$(audit_count sign-cancelled)
t0=$(date +%s%N)
app vanish vanish
for ((i = 0; i < 100; i++)); do
        (($(audit_count sign-cancelled) > c0)) && break
        sleep 0.05
done
t1=$(date +%s%N)
expect_eq "the application leaves mid-prompt: its request is cancelled and audited" $((c0 + 1)) "$(audit_count sign-cancelled)"
ms=$(((t1 - t0) / 1000000))
((ms < TIMEOUT * 1000)) && ok "the application leaves mid-prompt: ended before the timeout (${ms} ms)" ||
        not_ok "the application leaves mid-prompt: ended before the timeout (took ${ms} ms)"
expect "vanished: nothing written" test ! -s "$T/out/vanish.p7s"
expect "kysod is still running" kill -0 "$kysod_pid"
expect "kysod dropped the prompter of the application that left" grep -q "is gone with its connection" "$T/kysod.log"

# 8. answers of the wrong type fail the request with a clear error
app wrongconfirm wrong
expect_match "Confirm answered with a boolean: Response 2 InvalidArgs, 'does not understand'" \
        "^response 2 org.kyso.Error.InvalidArgs .*does not understand" "$(cat "$T/wrongconfirm.out")"
app wrongpin yes wrong
expect_match "AskPin answered with one string: Response 2 InvalidArgs" "^response 2 org.kyso.Error.InvalidArgs" \
        "$(cat "$T/wrongpin.out")"
app badword maybe
expect_match "Confirm answered 'maybe': Response 2 InvalidArgs" "^response 2 org.kyso.Error.InvalidArgs" \
        "$(cat "$T/badword.out")"
app emptypin yes yes:
expect_match "AskPin answered yes with an empty PIN: Response 2 InvalidArgs" "^response 2 org.kyso.Error.InvalidArgs" \
        "$(cat "$T/emptypin.out")"
app errcancel error:org.kyso.Error.Cancelled
expect_match "Confirm answered with the error org.kyso.Error.Cancelled: Response 1 Cancelled" \
        "^response 1 org.kyso.Error.Cancelled" "$(cat "$T/errcancel.out")"
written=
for f in wrongconfirm wrongpin badword emptypin errcancel; do
        [[ -s $T/out/$f.p7s ]] && written+=" $f"
done
expect_eq "wrong answers: nothing written" "" "$written"

# 9. another application's request is not prompted in this application's prompter, but by pinentry
timeout 60 "$CLIENT" --path /org/example/Bystander --stay 8 yes yes:1111 >"$T/bystander.out" 2>&1 &
bystander=$!
for ((i = 0; i < 100; i++)); do
        grep -q '^registered' "$T/bystander.out" 2>/dev/null && break
        sleep 0.05
done
p0=$(pinentry_prompts)
c0=$(grep -c '^CONFIRM$' "$KYSO_TEST_PINENTRY_LOG")
g0=$(grep -c '^GETPIN$' "$KYSO_TEST_PINENTRY_LOG")
script "confirm yes" "pin 1111"
expect "another application's request (kysoctl sign) is signed" \
        kysoctl sign --role approve --cert "$LEADER" "$T/tt.txt" -o "$T/out/kysoctl.p7s"
# Approval and PIN are two prompts of one pinentry process (PROMPT_FLAG_PIN_NEXT).
expect_eq "another application's request: approved and PIN through pinentry" \
        "$((p0 + 1)) $((c0 + 1)) $((g0 + 1))" \
        "$(pinentry_prompts) $(grep -c '^CONFIRM$' "$KYSO_TEST_PINENTRY_LOG") $(grep -c '^GETPIN$' "$KYSO_TEST_PINENTRY_LOG")"
expect "another application's request: the registered application got no call" \
        bash -c "! grep -q '^call' '$T/bystander.out'"
expect_eq "another application's request: the audit record names no application prompter" "sign-done null" \
        "$(kysoctl audit show --json | jq -r '[.[] | select(.event | startswith("sign-"))] | last | "\(.event) \(.data.prompter)"')"
kill "$bystander" 2>/dev/null
wait "$bystander" 2>/dev/null

# 10. RegisterPrompter and UnregisterPrompter: the errors
"$CLIENT" --check-registration >"$T/reg.out" 2>&1
reg() { sed -n "s/^$1 //p" "$T/reg.out"; }
expect_eq "RegisterPrompter: ok" ok "$(reg register)"
expect_match "a second RegisterPrompter by the same application: InvalidArgs, says to unregister first" \
        "^org.kyso.Error.InvalidArgs .*already has a prompter registered at /org/example/Prompter.*UnregisterPrompter first" \
        "$(reg register-again)"
expect_match "a second RegisterPrompter at another path: InvalidArgs too" "^org.kyso.Error.InvalidArgs" \
        "$(reg register-other-path)"
expect_match "UnregisterPrompter of a path not registered: InvalidArgs, nothing to unregister" \
        "^org.kyso.Error.InvalidArgs .*no prompter registered at /org/example/Other" "$(reg unregister-other-path)"
expect_match "RegisterPrompter with a string, not an object path: InvalidArgs naming the signature" \
        "^org.kyso.Error.InvalidArgs .*'o'.*'s'" "$(reg register-string)"
expect_match "RegisterPrompter without an argument: InvalidArgs" "^org.kyso.Error.InvalidArgs" "$(reg register-nothing)"
expect_eq "UnregisterPrompter: ok" ok "$(reg unregister)"
expect_match "UnregisterPrompter again: InvalidArgs" "^org.kyso.Error.InvalidArgs" "$(reg unregister-again)"
expect_eq "RegisterPrompter after UnregisterPrompter: ok" ok "$(reg register-after-unregister)"

# 11. the example application of contrib/, answers from standard input
printf 'y\n1111\n' | timeout 60 "$KYSO_SOURCE_ROOT/contrib/kyso-sign-prompter.py" --cert "$LEADER" \
        "$T/tt.txt" "$T/out/example.p7s" >"$T/example.out" 2>&1
expect_eq "contrib/kyso-sign-prompter.py signs with its own prompts: exit 0" 0 "$?"
expect_eq "the example showed the document (name, size, SHA-256) and the certificate's holder" "1 1" \
        "$(grep -cE "tt.txt +$(stat -c %s "$T/tt.txt") bytes +SHA-256 $(sha256sum "$T/tt.txt" | cut -c1-16)" "$T/example.out") $(grep -c "certificate of $holder" "$T/example.out")"
expect "the example's signature verifies" cms_ok "$T/tt.txt" "$T/out/example.p7s"
printf 'n\n' | timeout 60 "$KYSO_SOURCE_ROOT/contrib/kyso-sign-prompter.py" --cert "$LEADER" \
        "$T/tt.txt" "$T/out/example-no.p7s" >"$T/example-no.out" 2>&1
expect_eq "the example, declined: exit 1" 1 "$?"
expect_match "the example, declined: says why" "Not signed: You declined" "$(cat "$T/example-no.out")"

# 12. the PINs typed in the application are nowhere in kysod's debug log or the audit log
audit_files=("$XDG_STATE_HOME"/kyso/audit*.jsonl)
expect "the wrong PIN is in neither kysod's log nor the audit log" \
        bash -c "! grep -q '$WRONG_PIN' '$T/kysod.log' ${audit_files[*]}"
expect "the right PIN is in neither kysod's log nor the audit log" \
        bash -c "! grep -qw 1111 '$T/kysod.log' ${audit_files[*]}"
expect "kysod logged at debug level (the checks above saw its debug messages too)" \
        grep -q "Token scan settled" "$T/kysod.log"
expect "kysoctl audit verify: the chain is intact" kysoctl audit verify

kill -TERM "$kysod_pid"
wait "$kysod_pid"
expect_eq "kysod stops cleanly" 0 "$?"
if grep -qE 'Sanitizer|runtime error' "$T/kysod.log"; then
        not_ok "kysod's log has no sanitizer report"
        grep -E -A40 'Sanitizer|runtime error' "$T/kysod.log" | head -n 60 | sed 's/^/# /'
else
        ok "kysod's log has no sanitizer report"
fi
tap_done
