#!/usr/bin/env bash
# test-kysoctl-signals.sh: kysoctl sign stopped by a signal while it waits for the agent leaves no temporary
# output beside OUTPUT, for each signal that ends a program by default in a terminal: SIGINT (Ctrl-C),
# SIGTERM, SIGHUP (the terminal window closed) and SIGQUIT (Ctrl-\). The agent here is one whose activation
# never completes (its Exec line sleeps), so kysoctl waits with its temporary file open. Output is TAP.
set -uo pipefail

: "${KYSO_SOURCE_ROOT:?run through meson test}" "${KYSOCTL:?run through meson test}"
. "$KYSO_SOURCE_ROOT/tests/fixtures/tap.sh"
export LC_ALL=C.UTF-8
unset LANGUAGE

T=$(mktemp -d "${TMPDIR:-/tmp}/kyso-signals.XXXXXX") || bail_out "mktemp failed"
bus_pid=
trap '[[ -n $bus_pid ]] && kill $bus_pid 2>/dev/null; rm -rf -- "$T"' EXIT
mkdir "$T/services" "$T/out"
printf '[D-BUS Service]\nName=org.kyso.Agent1\nExec=/bin/sleep 20\n' >"$T/services/org.kyso.Agent1.service"
cat >"$T/bus.conf" <<CONF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:dir=$T</listen>
  <servicedir>$T/services</servicedir>
  <policy context="default"><allow send_destination="*" eavesdrop="true"/><allow eavesdrop="true"/><allow own="*"/></policy>
</busconfig>
CONF
read -r DBUS_SESSION_BUS_ADDRESS bus_pid < <(dbus-daemon --config-file="$T/bus.conf" --fork --print-address=1 \
        --print-pid=1 | tr '\n' ' ')
[[ -n $bus_pid ]] || bail_out "dbus-daemon did not start"
export DBUS_SESSION_BUS_ADDRESS
echo "văn bản" >"$T/qd.txt"

leftovers() { find "$T/out" -mindepth 1 -printf '%f ' | sed 's/ $//'; }
for sig in INT TERM HUP QUIT; do
        # Started from a script, a background job has SIGINT and SIGQUIT ignored: timeout(1) gives them back,
        # and passes the signal on.
        timeout -s KILL 30 "$KYSOCTL" sign --role approve --cert "pkcs11:token=leader;object=leader;type=cert" \
                "$T/qd.txt" -o "$T/out/$sig.p7s" >"$T/$sig.txt" 2>&1 &
        pid=$!
        for ((i = 0; i < 100; i++)); do [[ -n $(leftovers) ]] && break; sleep 0.05; done
        [[ -n $(leftovers) ]] || not_ok "SIG$sig: kysoctl made its temporary file"
        sleep 0.2 # past the temporary file, into the call that waits
        kill -"$sig" "$(pgrep -P "$pid" -x kysoctl || echo "$pid")"
        wait "$pid"
        status=$?
        ((status != 0)) && ok "SIG$sig: kysoctl stops unsuccessfully ($status)" || not_ok "SIG$sig: kysoctl exited 0"
        expect_eq "SIG$sig: no output and no temporary file left" "" "$(leftovers)"
        rm -f "$T/out/"*
done
# Under nohup (SIGHUP ignored) a closed terminal does not stop kysoctl: an ignored signal stays ignored.
(
        trap '' HUP
        exec "$KYSOCTL" sign --role approve --cert "pkcs11:token=leader;object=leader;type=cert" "$T/qd.txt" \
                -o "$T/out/nohup.p7s" >"$T/nohup.txt" 2>&1
) &
pid=$!
for ((i = 0; i < 100; i++)); do [[ -n $(leftovers) ]] && break; sleep 0.05; done
sleep 0.2
kill -HUP "$pid"
sleep 0.5
expect "nohup: SIGHUP ignored, kysoctl still waits" kill -0 "$pid"
kill -TERM "$pid"
wait "$pid"
expect_eq "nohup: then SIGTERM, no temporary file left" "" "$(leftovers)"
tap_done
