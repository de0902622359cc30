#!/usr/bin/env bash
# test-kysoctl-noagent.sh: kysoctl on a session bus of its own without a working agent (TAP). First the agent
# is not running and cannot be started (no activation file): every verb that needs it says so with what to
# do, and ends 3 (kysoctl(1)). Then its activation never completes (the Exec line sleeps), so kysoctl sign
# waits with its temporary output open, and is stopped by each signal that ends a program in a terminal:
# SIGINT (Ctrl-C), SIGTERM, SIGHUP (the terminal window closed), SIGQUIT (Ctrl-\). It leaves no temporary
# file beside OUTPUT; under nohup (SIGHUP ignored) SIGHUP does not stop it.
set -uo pipefail

: "${KYSO_SOURCE_ROOT:?run through meson test}" "${KYSOCTL:?run through meson test}"
. "$KYSO_SOURCE_ROOT/tests/fixtures/tap.sh"
export LC_ALL=C.UTF-8
unset LANGUAGE

temp_dir noagent
bus_pid=
trap '[[ -n $bus_pid ]] && kill $bus_pid 2>/dev/null; rm -rf -- "$T"' EXIT
mkdir "$T/services"
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
read -r DBUS_SESSION_BUS_ADDRESS bus_pid < <(dbus-daemon --config-file="$T/bus.conf" --fork \
        --print-address=1 --print-pid=1 | tr '\n' ' ')
[[ -n $bus_pid ]] || bail_out "dbus-daemon did not start"
export DBUS_SESSION_BUS_ADDRESS
echo "văn bản" >"$T/qd.txt"

check() { # DESC VERB ARGS...: exit 3, the message says what happened and what to do
        local out rc
        out=$("$KYSOCTL" "${@:2}" 2>&1)
        rc=$?
        expect_eq "$1: exit 3" 3 "$rc"
        expect_match "$1: said" "^kysoctl $2: the kyso agent is not running and could not be started" "$out"
        expect_match "$1: with what to do" "Start it with 'systemctl --user start kysod'" "$out"
        # kysoctl(1): every line on stderr starts with "kysoctl VERB:".
        expect_eq "$1: every line names the command" "" "$(grep -v "^kysoctl $2: " <<<"$out")"
}
check "tokens" tokens
check "certs" certs
check "sign without --cert (the certificates are listed first)" sign --role approve "$T/qd.txt" -o "$T/out.p7s"
check "sign --cert" sign --role approve --cert "pkcs11:token=leader;object=leader;type=cert" "$T/qd.txt" \
        -o "$T/out.p7s"
expect_eq "nothing written" "" "$(find "$T" -maxdepth 1 -name 'out.p7s*' -printf '%f ')"

mkdir "$T/out"
# An agent whose activation never completes: kysoctl waits for it.
printf '[D-BUS Service]\nName=org.kyso.Agent1\nExec=/bin/sleep 20\n' >"$T/services/org.kyso.Agent1.service"

leftovers() { find "$T/out" -mindepth 1 -printf '%f ' | sed 's/ $//'; }
# Whether kysoctl (PID, or its child under timeout(1)) holds its temporary output open: an unnamed file in
# $T/out (O_TMPFILE, shown as "$T/out/#N (deleted)"), or a named one where there are none.
made_output() {
        local p
        p=$(pgrep -P "$1" -x kysoctl || echo "$1")
        [[ -n $(leftovers) ]] && return 0
        for fd in /proc/"$p"/fd/*; do
                [[ $(readlink "$fd" 2>/dev/null) == "$T/out/"* ]] && return 0
        done
        return 1
}
for sig in INT TERM HUP QUIT; do
        # Started from a script, a background job has SIGINT and SIGQUIT ignored: timeout(1) gives them back,
        # and passes the signal on.
        timeout -s KILL 30 "$KYSOCTL" sign --role approve --cert "pkcs11:token=leader;object=leader;type=cert" \
                "$T/qd.txt" -o "$T/out/$sig.p7s" >"$T/$sig.txt" 2>&1 &
        pid=$!
        for ((i = 0; i < 100; i++)); do made_output "$pid" && break; sleep 0.05; done
        made_output "$pid" || not_ok "SIG$sig: kysoctl made its temporary file"
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
for ((i = 0; i < 100; i++)); do made_output "$pid" && break; sleep 0.05; done
sleep 0.2
kill -HUP "$pid"
sleep 0.5
expect "nohup: SIGHUP ignored, kysoctl still waits" kill -0 "$pid"
kill -TERM "$pid"
wait "$pid"
expect_eq "nohup: then SIGTERM, no temporary file left" "" "$(leftovers)"
tap_done
