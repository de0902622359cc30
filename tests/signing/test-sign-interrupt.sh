#!/usr/bin/env bash
# test-sign-interrupt.sh: kysoctl sign when its request is cut short (TAP). kysod in contrib/sandbox, a
# scripted pinentry that never answers, so the request waits at the prompt. kysod killed with SIGKILL then:
# kysoctl says within a second or two that the agent stopped and nothing was signed, exits non-zero, and
# leaves no output. kysoctl itself sent SIGTERM or SIGINT then: it leaves no temporary output behind.
set -uo pipefail

. "${KYSO_SOURCE_ROOT:?run through meson test}/tests/fixtures/tap.sh"

sandbox_test interrupt --no-start
# ---- inside the sandbox
mkdir -p "$T/out"
echo "Tờ trình số 3/TTr-UBND" >"$T/tt.txt"
LEADER="pkcs11:token=leader;object=leader;type=cert"
kysod_pid=

at_prompt() { grep -q '^CONFIRM' "$KYSO_TEST_PINENTRY_LOG" 2>/dev/null; }
ms_since() { echo $((($(date +%s%N) - $1) / 1000000)); }
leftovers() { find "$T/out" -mindepth 1 -printf '%f\n' | sort | tr '\n' ' '; }
# The hanging pinentry outlives a killed kysod: end it by the pid it logged.
kill_pinentries() {
        local p
        for p in $(sed -n 's/^START pid=//p' "$KYSO_TEST_PINENTRY_LOG" 2>/dev/null); do
                kill -KILL "$p" 2>/dev/null
        done
        : >"$KYSO_TEST_PINENTRY_LOG"
}
# start_sign NAME: kysoctl sign in the background (bounded, so an old kysoctl that hangs fails the test
# instead of the suite), waiting at the prompt; sets sign_pid.
start_sign() {
        : >"$KYSO_TEST_PINENTRY_LOG"
        script hang
        timeout -s KILL 30 kysoctl sign --role approve --cert "$LEADER" "$T/tt.txt" -o "$T/out/$1.p7s" \
                >"$T/$1.txt" 2>&1 &
        sign_pid=$!
        wait_for 30 at_prompt || not_ok "$1: the request reached the prompt"
}

# 1. kysod dies (SIGKILL) while the request waits at the prompt.
start_kysod "$T/kysod.log" || bail_out "kysod did not start: $(cat "$T/kysod.log")"
start_sign killed
kill -KILL "$kysod_pid"
t0=$(date +%s%N)
wait "$sign_pid"
status=$? ms=$(ms_since "$t0")
echo "# kysoctl exited $ms ms after kysod was killed"
expect_eq "agent killed: kysoctl fails with the internal-error code" 3 "$status"
((ms < 1500)) && ok "agent killed: kysoctl notices within a second" || not_ok "agent killed: kysoctl took $ms ms"
expect_match "agent killed: it says the agent stopped and nothing was signed" \
        "agent stopped.*nothing was signed" "$(cat "$T/killed.txt")"
expect_eq "agent killed: no output and no temporary file" "" "$(leftovers)"
kill_pinentries

# 2. kysoctl is sent SIGTERM, then SIGINT, while its request waits at the prompt: its temporary output goes.
start_kysod "$T/kysod.log" || bail_out "kysod did not start again: $(cat "$T/kysod.log")"
for sig in TERM INT; do
        start_sign "sig$sig"
        # timeout(1) passes the signal on to kysoctl (and gives it SIGINT back, which a background job of
        # a script starts with ignored).
        kill -"$sig" "$sign_pid"
        wait "$sign_pid"
        status=$?
        ((status != 0)) && ok "SIG$sig: kysoctl stops unsuccessfully ($status)" || not_ok "SIG$sig: kysoctl exited 0"
        expect_eq "SIG$sig: no output and no temporary file left" "" "$(leftovers)"
        kill_pinentries
done

kill -TERM "$kysod_pid"
wait "$kysod_pid"
tap_done
