#!/usr/bin/env bash
# test-kysoctl-response.sh: kysoctl sign gets the request's Response also when it arrives before the reply to
# Sign (a fast agent; the reason handle_token exists), from a stand-in agent on a private bus. Output is TAP.
set -uo pipefail

: "${KYSO_SOURCE_ROOT:?run through meson test}" "${KYSOCTL:?run through meson test}"
. "$KYSO_SOURCE_ROOT/tests/fixtures/tap.sh"
export LC_ALL=C.UTF-8
unset LANGUAGE

temp_dir response
bus_pid= agent_pid=
trap '[[ -n $agent_pid ]] && kill $agent_pid 2>/dev/null; [[ -n $bus_pid ]] && kill $bus_pid 2>/dev/null; rm -rf -- "$T"' EXIT
echo "văn bản" >"$T/qd.txt"
read -r DBUS_SESSION_BUS_ADDRESS bus_pid < <(dbus-daemon --session --fork --print-address=1 --print-pid=1 | tr '\n' ' ')
export DBUS_SESSION_BUS_ADDRESS
"$KYSO_SOURCE_ROOT/tests/tools/fake-agent.py" >"$T/agent.out" 2>&1 &
agent_pid=$!
wait_for 20 grep -q ready "$T/agent.out" || bail_out "the fake agent did not start: $(cat "$T/agent.out")"

for i in 1 2 3; do
        t0=$(date +%s%N)
        out=$(timeout 20 "$KYSOCTL" sign --role approve --cert "pkcs11:token=t;object=o;type=cert" "$T/qd.txt" \
                -o "$T/out.p7s" 2>&1)
        rc=$?
        ms=$((($(date +%s%N) - t0) / 1000000))
        expect_eq "run $i: a Response before the reply is heard: refused (exit 1, not a hang; $ms ms)" 1 "$rc"
        expect_match "run $i: ... with the agent's words" "fake agent: refused" "$out"
done
expect "nothing written" test ! -s "$T/out.p7s"

# Without --cert, two usable certificates: listed, refused (exit 1), every line naming the command but the
# indented list under the message (kysoctl(1); test-sign.sh reads the list's lines as "  pkcs11:...").
out=$(timeout 20 "$KYSOCTL" sign --role approve "$T/qd.txt" -o "$T/out.p7s" 2>&1)
expect_eq "two usable certificates without --cert: refused (exit 1)" 1 "$?"
expect_match "  ... both listed" "object=an;.*object=binh;" "$(tr '\n' ' ' <<<"$out")"
expect_eq "  ... every line names the command" "" "$(grep -v -e '^kysoctl sign: ' -e '^  ' <<<"$out")"
tap_done
