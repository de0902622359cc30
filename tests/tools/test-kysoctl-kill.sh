#!/usr/bin/env bash
# test-kysoctl-kill.sh: kysoctl sign killed with SIGKILL while the agent is writing its output (no handler
# runs) leaves nothing beside the output: no OUTPUT.tmp-XXXXXX for the clerk to wonder about. A stand-in
# agent on a private bus writes the start of a signature and stalls, as a slow token would. Output is TAP.
set -uo pipefail

: "${KYSO_SOURCE_ROOT:?run through meson test}" "${KYSOCTL:?run through meson test}"
. "$KYSO_SOURCE_ROOT/tests/fixtures/tap.sh"
export LC_ALL=C.UTF-8
unset LANGUAGE

temp_dir kill
bus_pid= agent_pid= sign_pid=
trap '[[ -n $sign_pid ]] && kill -9 $sign_pid 2>/dev/null; [[ -n $agent_pid ]] && kill $agent_pid 2>/dev/null; [[ -n $bus_pid ]] && kill $bus_pid 2>/dev/null; rm -rf -- "$T"' EXIT
mkdir "$T/out"
echo "văn bản" >"$T/qd.txt"
read -r DBUS_SESSION_BUS_ADDRESS bus_pid < <(dbus-daemon --session --fork --print-address=1 --print-pid=1 | tr '\n' ' ')
export DBUS_SESSION_BUS_ADDRESS
FAKE_AGENT_STALL=1 "$KYSO_SOURCE_ROOT/tests/tools/fake-agent.py" >"$T/agent.out" 2>&1 &
agent_pid=$!
wait_for 20 grep -q ready "$T/agent.out" || bail_out "the fake agent did not start: $(cat "$T/agent.out")"

for existing in no yes; do
        rm -f "$T/out/"*
        [[ $existing == yes ]] && echo "old signature" >"$T/out/qd.p7s"
        : >"$T/agent.out"
        "$KYSOCTL" sign --role approve --cert "pkcs11:token=t;object=o;type=cert" "$T/qd.txt" \
                -o "$T/out/qd.p7s" >"$T/sign.out" 2>&1 &
        sign_pid=$!
        wait_for 20 grep -q writing "$T/agent.out" || bail_out "the agent was not asked: $(cat "$T/sign.out")"
        kill -9 "$sign_pid"
        wait "$sign_pid" 2>/dev/null
        sign_pid=
        if [[ $existing == yes ]]; then
                expect_eq "killed while writing over a signature: nothing else in the folder" "qd.p7s" \
                        "$(ls -A "$T/out" | tr '\n' ' ' | sed 's/ $//')"
                expect_eq "  ... and the earlier signature kept" "old signature" "$(cat "$T/out/qd.p7s")"
        else
                expect_eq "killed while writing a new signature: nothing left in the folder" "" \
                        "$(ls -A "$T/out" | tr '\n' ' ')"
        fi
done
tap_done
