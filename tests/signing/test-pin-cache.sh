#!/usr/bin/env bash
# test-pin-cache.sh: PIN caching in the signing pipeline (TAP). kysod in the sandbox with the SoftHSM demo
# tokens (behind the fault-injecting module when it is built, to remove and insert a token), a scripted
# pinentry, and a private dbus-daemon standing in for the system bus (the session watch needs one to keep
# PINs at all). Off by default; on with kysod.conf and the policy's maximum, for personal certificates only;
# the approval is always asked; token removal forgets; without a system bus nothing is kept.
set -uo pipefail

. "${KYSO_SOURCE_ROOT:?run through meson test}/tests/fixtures/tap.sh"

if [[ -z ${KYSO_SANDBOX:-} ]]; then
        sandbox_test_dir pin-cache KYSO_PIN_TEST_DIR
        unset XDG_SESSION_ID
        sandbox_fault_module
        sandbox_exec --no-start
fi
# ---- inside the sandbox
T=$KYSO_PIN_TEST_DIR
echo "Công văn số 7/CV-UBND" >"$T/cv.txt"
LEADER="pkcs11:token=leader;object=leader;type=cert"
SEAL="pkcs11:token=seal;object=seal;type=cert"
kysod_pid=
sysbus_pid=

count() { grep -c "^$1" "$KYSO_TEST_PINENTRY_LOG" 2>/dev/null || true; }
# The seal issues the document the leader approved (the ward's seal rule).
sign() {
        if [[ $1 == "$SEAL" ]]; then
                kysoctl sign --role issue --cert "$1" --existing-signature "$T/leader.p7s" "$T/cv.txt" \
                        -o "$T/issued.p7s" >"$T/sign.out" 2>&1
        else
                kysoctl sign --role approve --cert "$1" "$T/cv.txt" -o "$T/out.p7s" >"$T/sign.out" 2>&1
        fi
}

stop_kysod() {
        [[ -n $kysod_pid ]] || return 0
        kill -TERM "$kysod_pid"
        wait "$kysod_pid"
        kysod_pid=
}
# A private "system bus" where org.freedesktop.login1 can be activated (kysod checks that logind is there;
# the activation itself fails, which the session watch tolerates). With "no-logind" it is not there.
start_system_bus() {
        mkdir -p "$T/sysbus-services"
        rm -f "$T/sysbus-services/"* "$T/sysbus.address"
        [[ ${1:-} == no-logind ]] || printf '[D-BUS Service]\nName=org.freedesktop.login1\nExec=/bin/false\n' \
                >"$T/sysbus-services/org.freedesktop.login1.service"
        cat >"$T/sysbus.conf" <<BUSCONF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=$T/sysbus-${1:-logind}</listen>
  <auth>EXTERNAL</auth>
  <servicedir>$T/sysbus-services</servicedir>
  <policy context="default">
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
    <allow own="*"/>
  </policy>
</busconfig>
BUSCONF
        dbus-daemon --config-file="$T/sysbus.conf" --nofork --nopidfile --print-address=3 3>"$T/sysbus.address" 2>"$T/sysbus.log" &
        sysbus_pid=$!
        for ((i = 0; i < 100; i++)); do
                [[ -s $T/sysbus.address ]] && break
                sleep 0.05
        done
        DBUS_SYSTEM_BUS_ADDRESS=$(head -n1 "$T/sysbus.address")
        export DBUS_SYSTEM_BUS_ADDRESS XDG_SESSION_ID=c1
}
cleanup() {
        [[ -n $kysod_pid ]] && kill -TERM "$kysod_pid" 2>/dev/null
        [[ -n $sysbus_pid ]] && kill -TERM "$sysbus_pid" 2>/dev/null
        wait
}
trap cleanup EXIT

# Two signatures; sets $pins and $confirms to how many PIN and approval prompts they showed.
two_signatures() {
        local cert=$1 p0 c0
        p0=$(count GETPIN) c0=$(count CONFIRM)
        script "confirm yes" "pin $2" "confirm yes" "pin $2"
        sign "$cert" && sign "$cert"
        signed=$?
        ((signed == 0)) || sed 's/^/# /' "$T/sign.out"
        pins=$(($(count GETPIN) - p0)) confirms=$(($(count CONFIRM) - c0))
}

start_system_bus
cp "$KYSO_AGENT_CONFIG" "$T/kysod.conf.orig"
cp "$KYSO_POLICY" "$T/policy.orig"

# 1. Default configuration (even with a system bus): every signature asks the PIN.
start_kysod "$T/kysod.log" || bail_out "kysod did not start: $(cat "$T/kysod.log")"
two_signatures "$LEADER" 1111
expect_eq "default: both signatures made" 0 "$signed"
expect_eq "default: two PIN prompts" 2 "$pins"
expect_eq "default: two approvals" 2 "$confirms"
stop_kysod

# 2. kysod.conf enables caching, the policy allows up to 10 minutes.
printf 'pin-cache-personal = 5min\n' >>"$KYSO_AGENT_CONFIG"
printf '[pin]\nmax-cache = 10min\n' >>"$KYSO_POLICY"
start_kysod "$T/kysod.log" || bail_out "kysod did not start: $(cat "$T/kysod.log")"
two_signatures "$LEADER" 1111
expect_eq "cache on: both signatures made" 0 "$signed"
expect_eq "cache on: one PIN prompt for two signatures" 1 "$pins"
expect_eq "cache on: the approval is asked every time" 2 "$confirms"
[[ $(cat "$KYSO_TEST_PINENTRY_SCRIPT") == "pin 1111" ]] && ok "cache on: the second PIN answer was not used" ||
        not_ok "cache on: the second PIN answer was not used"

# Organisation certificates are not cached without pin-cache-organization.
cp "$T/out.p7s" "$T/leader.p7s"
two_signatures "$SEAL" 2222
expect_eq "organisation certificate: both signatures made" 0 "$signed"
expect_eq "organisation certificate: two PIN prompts" 2 "$pins"

# The policy's maximum is read for each request: 0 (its default) stops caching at once.
cp "$T/policy.orig" "$KYSO_POLICY"
two_signatures "$LEADER" 1111
expect_eq "policy without max-cache: two PIN prompts" 2 "$pins"
printf '[pin]\nmax-cache = 10min\n' >>"$KYSO_POLICY"

# Removing the token forgets its PIN.
if [[ -n ${KYSO_FAULT_CONTROL:-} ]]; then
        control() {
                printf '%s\n' "$@" >"$KYSO_FAULT_CONTROL.tmp"
                mv "$KYSO_FAULT_CONTROL.tmp" "$KYSO_FAULT_CONTROL"
        }
        two_signatures "$LEADER" 1111
        expect_eq "before removal: one PIN prompt" 1 "$pins"
        control "remove"
        for ((i = 0; i < 100; i++)); do kysoctl tokens 2>/dev/null | grep -q "$KYSO_LEADER_TOKEN" || break; sleep 0.1; done
        control "insert"
        for ((i = 0; i < 100; i++)); do kysoctl tokens 2>/dev/null | grep -q "$KYSO_LEADER_TOKEN" && break; sleep 0.1; done
        p0=$(count GETPIN)
        script "confirm yes" "pin 1111"
        sign "$LEADER"
        expect_eq "after removal and insertion: signed" 0 "$?"
        expect_eq "after removal and insertion: the PIN is asked again" 1 $(($(count GETPIN) - p0))
        control ""
else
        echo "ok $((TAP_N += 1)) - token removal forgets the PIN # SKIP the fault-injecting module is not built"
fi

stop_kysod

# 3. Caching configured, a system bus but no logind on it: nothing is kept.
kill -TERM "$sysbus_pid" && wait "$sysbus_pid"
start_system_bus no-logind
: >"$T/kysod.log"
start_kysod "$T/kysod.log" || bail_out "kysod did not start: $(cat "$T/kysod.log")"
two_signatures "$LEADER" 1111
expect_eq "no logind: both signatures made" 0 "$signed"
expect_eq "no logind: two PIN prompts" 2 "$pins"
expect_match "no logind: the log says caching stays off" "PIN caching stays off" "$(cat "$T/kysod.log")"
stop_kysod
cat "$T/kysod.log" >>"$T/kysod.all.log"
: >"$T/kysod.log"

# 4. Caching configured but no system bus: lock and sleep cannot be seen, so nothing is kept.
DBUS_SYSTEM_BUS_ADDRESS=unix:path=$T/no-such-bus start_kysod "$T/kysod.log" || bail_out "kysod did not start: $(cat "$T/kysod.log")"
two_signatures "$LEADER" 1111
expect_eq "no system bus: both signatures made" 0 "$signed"
expect_eq "no system bus: two PIN prompts" 2 "$pins"
expect_match "no system bus: the log says caching stays off" "PIN caching stays off" "$(cat "$T/kysod.log")"
stop_kysod
cat "$T/kysod.log" >>"$T/kysod.all.log"
grep -q "Sanitizer\|runtime error" "$T/kysod.all.log" && not_ok "kysod's log has no sanitizer report" ||
        ok "kysod's log has no sanitizer report"

tap_done
