#!/usr/bin/env bash
# test-kysod.sh: kysod on a private session bus with the SoftHSM fixture tokens (TAP).
# Covers: --help/--version, configuration errors, READY=1 after the name, watchdog pings, the name taken
# twice, Introspect against dbus/org.kyso.Agent1.xml, GetTokens/GetCertificates against the fixture
# certificates (openssl), InvalidArgs, another uid refused, TokenRemoved/TokenAdded around a helper crash,
# CertificateExpiring, D-Bus activation, the unit and activation files, SIGTERM with no child left.
set -uo pipefail

. "${KYSO_SOURCE_ROOT:?run through meson test}/tests/fixtures/tap.sh"
HERE="$KYSO_SOURCE_ROOT/tests/agent"
B="${KYSO_BUILD_ROOT:?}"
KYSOD="${KYSOD:?}"

require_tools dbus-daemon dbus-send dbus-monitor busctl jq openssl python3

temp_dir agent-test
chmod 755 "$T" # a client running as nobody must reach the bus socket
PIDS=()
ACT=
cleanup() {
        local p apid
        # An activated kysod is not our child: ask its bus for its process id (before the bus goes).
        if [[ -n $ACT ]]; then
                apid=$(dbus-send --bus="$ACT" --print-reply=literal --dest=org.freedesktop.DBus /org/freedesktop/DBus \
                        org.freedesktop.DBus.GetConnectionUnixProcessID string:org.kyso.Agent1 2>/dev/null | awk '{ print $2 }')
                [[ -n $apid ]] && kill -TERM "$apid" 2>/dev/null
        fi
        for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
        for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
        rm -rf -- "$T"
}
trap cleanup EXIT

fixtures_make
# The agent refuses to start without a valid signing policy; this one trusts the fixture PKI. Its OCSP and
# CRL servers never answer: the inventory's revocation checks wait in the background the whole test long,
# and nothing else may wait for them.
start_test_server ocsp HANG_OCSP --hang || bail_out "the hanging OCSP server did not start"
start_test_server crl HANG_CRL --hang || bail_out "the hanging CRL server did not start"
"$KYSO_SOURCE_ROOT/tests/fixtures/make-policy.sh" "$T/policy.conf" --ocsp "$HANG_OCSP" --crl "$HANG_CRL"
sed -i 's/^mode = .*/&\nocsp-timeout = 300s\ncrl-timeout = 300s/' "$T/policy.conf"
export KYSO_POLICY="$T/policy.conf"
export KYSO_P11_HELPER XDG_CONFIG_HOME="$T/xdg-config" XDG_STATE_HOME="$T/xdg-state"
unset NOTIFY_SOCKET WATCHDOG_USEC WATCHDOG_PID

# kysod_conf MODULE HELPER-TIMEOUT [LINE...]: a kysod.conf of this test, for MODULE alone.
kysod_conf() {
        printf '%s\n' "# test configuration" "module = $1" "use-p11-kit-registry = no" "poll-interval = 200ms" \
                "helper-timeout = $2" "audit-log = $T/state/audit.jsonl" "${@:3}"
}
kysod_conf "$KYSO_SOFTHSM_MODULE" 5s "log-level = debug" >"$T/kysod.conf"

name_owned() {
        dbus-send --bus="$1" --print-reply=literal --dest=org.freedesktop.DBus /org/freedesktop/DBus \
                org.freedesktop.DBus.NameHasOwner string:org.kyso.Agent1 2>/dev/null | grep -q true
}

call() { # call BUS METHOD [ARGS...]
        local bus=$1 method=$2
        shift 2
        busctl --address="$bus" --json=short call org.kyso.Agent1 /org/kyso/Agent1 org.kyso.Agent1 "$method" "$@"
}

n_tokens() { call "$1" GetTokens 2>/dev/null | jq '.data[0] | length'; }
has_two_tokens() { [[ $(n_tokens "$1") == 2 ]]; }
# helpers_left "PID...": those of kysod's helper PIDs (a list made before it stopped) that still run.
helpers_left() {
        local h left=""
        for h in $1; do kill -0 "$h" 2>/dev/null && left+=" $h"; done
        echo "$left"
}

# --- Command line and configuration.
expect_match "kysod --version" "^kysod [0-9]+\.[0-9]+" "$("$KYSOD" --version)"
expect_match "kysod --help names the configuration option" "--config" "$("$KYSOD" --help)"
expect_fail "kysod refuses arguments" "takes no arguments" "$KYSOD" extra
expect_match "kysod --check-config accepts the test configuration" "valid" "$("$KYSOD" --config "$T/kysod.conf" --check-config 2>&1)"
# KYSO_LOG_LEVEL overrides log-level only when it names a level: an empty or mistyped one (a unit's
# Environment=KYSO_LOG_LEVEL=) must not silently drop the configuration's level.
out=$(KYSO_LOG_LEVEL=verbose "$KYSOD" --config "$T/kysod.conf" --check-config 2>&1)
expect_match "KYSO_LOG_LEVEL=verbose: kysod says it is not a level" "KYSO_LOG_LEVEL.*verbose" "$out"
expect_match "KYSO_LOG_LEVEL=verbose: the configuration's log-level (debug) holds" "Configuration: " "$out"
expect_match "KYSO_LOG_LEVEL empty: the configuration's log-level (debug) holds" "Configuration: " \
        "$(KYSO_LOG_LEVEL= "$KYSOD" --config "$T/kysod.conf" --check-config 2>&1)"
printf 'module = %s\nfrobnicate = yes\n' "$KYSO_SOFTHSM_MODULE" >"$T/bad1.conf"
expect_fail "unknown key: refused with file:line" "bad1.conf:2: unknown key 'frobnicate'" "$KYSOD" --config "$T/bad1.conf"
printf '# c\n\npoll-interval = 1fortnight\n' >"$T/bad2.conf"
expect_fail "bad value: refused with file:line" "bad2.conf:3: poll-interval" "$KYSOD" --config "$T/bad2.conf"
expect_fail "missing configuration file: refused" "cannot read" "$KYSOD" --config "$T/nonexistent.conf"
printf '[trust]\nroot = %s\n[revocation]\nmode = sometimes\n' "$KYSO_PKI/root.pem" >"$T/bad-policy.conf"
expect_fail "invalid policy: kysod refuses to start and names the line" "bad-policy.conf:4" \
        env KYSO_POLICY="$T/bad-policy.conf" "$KYSOD" --config "$T/kysod.conf"
expect_fail "missing policy: kysod refuses to start" "Refusing to start: the signing policy" \
        env KYSO_POLICY="$T/no-such-policy.conf" "$KYSOD" --config "$T/kysod.conf"
cp "$T/policy.conf" "$T/loose-policy.conf"
chmod 0666 "$T/loose-policy.conf"
expect_fail "a policy others may write is refused, even with the test flag in the environment" "writable" \
        env KYSO_POLICY="$T/loose-policy.conf" KYSO_POLICY_INSECURE_SKIP_OWNER_CHECK=1 "$KYSOD" --config "$T/kysod.conf"
expect "the refused starts wrote nothing to the audit log" test ! -e "$T/state/audit.jsonl"
# A folder in the log's place: the refusal says what failed once, then why and what to do.
mkdir -p "$T/dir-log/audit.jsonl"
printf 'use-p11-kit-registry = no\naudit-log = %s\n' "$T/dir-log/audit.jsonl" >"$T/dir-log.conf"
out=$("$KYSOD" --config "$T/dir-log.conf" 2>&1)
expect_match "a folder in the audit log's place: kysod refuses to start, saying so" \
        "Refusing to start.*Is a directory.*move it away" "$out"
expect_eq "a folder in the audit log's place: 'cannot open the audit log' is said once" 1 \
        "$(grep -oi 'cannot open the audit log' <<<"$out" | wc -l)"

# --- A bus and kysod under a stand-in systemd (NOTIFY_SOCKET, watchdog).
start_bus main
MAIN=$BUS
dbus-monitor --address "$MAIN" "type='signal',interface='org.kyso.Agent1'" >"$T/signals.txt" 2>&1 &
PIDS+=($!)
python3 "$HERE/notify-listen.py" "$T/notify.socket" "$T/notify.txt" "$MAIN" 6 &
PIDS+=($!)
wait_for 5 grep -q listening "$T/notify.txt" 2>/dev/null || bail_out "notify listener did not start"
sleep 0.3 # dbus-monitor subscribes
DBUS_SESSION_BUS_ADDRESS=$MAIN NOTIFY_SOCKET="$T/notify.socket" WATCHDOG_USEC=400000 \
        "$KYSOD" --config "$T/kysod.conf" 2>"$T/kysod.log" &
KPID=$!
PIDS+=($KPID)
expect "kysod takes org.kyso.Agent1" wait_for 10 name_owned "$MAIN"
expect_match "kysod has no core dumps: RLIMIT_CORE 0 (soft and hard)" "^Max core file size +0 +0 " \
        "$(cat "/proc/$KPID/limits")"
expect_eq "the first GetTokens right after start lists both tokens (held until the scan settles)" 2 "$(n_tokens "$MAIN")"
wait_for 3 grep -q '^WATCHDOG=1' "$T/notify.txt"
sleep 1.2
expect_match "READY=1 sent" "^READY=1$" "$(cat "$T/notify.txt")"
expect_match "READY=1 only after the name is owned" "^ready-name-owned=yes$" "$(cat "$T/notify.txt")"
expect "watchdog pinged at least twice in ~1.5 s with WatchdogSec=0.4 s" \
        test "$(grep -c '^WATCHDOG=1$' "$T/notify.txt")" -ge 2

# --- The name is taken: a second agent says so and exits.
# It must not have told systemd it was ready: READY=1 comes only after the name is ours (a robust check of
# the order, where the timing check above could be lucky).
python3 "$HERE/notify-listen.py" "$T/notify2.socket" "$T/notify2.txt" "$MAIN" 3 &
L2=$!
PIDS+=($L2)
wait_for 5 grep -q listening "$T/notify2.txt" 2>/dev/null || bail_out "notify listener did not start"
sed "s|^audit-log = .*|audit-log = $T/state2/audit.jsonl|" "$T/kysod.conf" >"$T/kysod2.conf"
expect_fail "a second kysod on the same bus refuses to start" "already running" \
        env DBUS_SESSION_BUS_ADDRESS="$MAIN" NOTIFY_SOCKET="$T/notify2.socket" "$KYSOD" --config "$T/kysod2.conf"
wait "$L2"
expect_fail "a second kysod on the same audit log refuses to start, naming the holder" \
        "in use by another kyso agent \\(pid $KPID" "$KYSOD" --config "$T/kysod.conf"
expect "the refused kysod never sent READY=1" bash -c "! grep -q '^READY=1' '$T/notify2.txt'"

# --- The interface XML of dbus/ against the running agent (tests/agent/check-interfaces.py): each object
# introspects exactly the interfaces it implements, and every method of the XML is dispatched there with the
# XML's in and out signatures (wrong arguments give InvalidArgs, not UnknownMethod).
mkdir -p "$T/ci"
"$HERE/check-interfaces.py" "$MAIN" "pkcs11:token=leader;object=no-such-certificate;type=cert" "$T/ci" \
        "$KYSO_SOURCE_ROOT"/dbus/org.kyso.*.xml >"$T/ci.out" 2>&1
ci_status=$?
while IFS= read -r line; do
        case $line in
        "ok "*) ok "${line#ok }" ;;
        "not ok "*) not_ok "${line#not ok }" ;;
        *) echo "# $line" ;;
        esac
done <"$T/ci.out"
# A crash of the checker half-way must not pass for success.
expect_eq "check-interfaces.py ran to its end and found nothing wrong" 0 "$ci_status"

expect_match "busctl tree finds /org/kyso/Agent1 from the root" "/org/kyso/Agent1" \
        "$(busctl --address="$MAIN" tree org.kyso.Agent1 2>&1)"

# --- GetTokens.
call "$MAIN" GetTokens | jq -c '.data[0][] | with_entries(.value |= .data)' >"$T/tokens.jsonl"
for label in leader seal; do
        tok=$(jq -c --arg l "$label" 'select(.label == $l)' "$T/tokens.jsonl")
        expect_match "token $label: listed" '"label":"'"$label"'"' "$tok"
        expect_eq "token $label: manufacturer, model, pin-state" "SoftHSM project|SoftHSM v2|ok|false" \
                "$(jq -r '[.manufacturer, .model, .["pin-state"], .["protected-auth-path"]] | join("|")' <<<"$tok")"
        expect_match "token $label: RFC 7512 URI with its label and serial" \
                "^pkcs11:.*token=$label" "$(jq -r .uri <<<"$tok")"
        expect_match "token $label: serial" '^[0-9a-f]{16}$' "$(jq -r .serial <<<"$tok")"
done

# --- GetCertificates: each field against openssl on the fixture files.
call "$MAIN" GetCertificates "a{sv}" 0 | jq -c '.data[0][] | with_entries(.value |= .data)' >"$T/certs.jsonl"
expect_eq "certificates: 7 on leader, 4 on seal" "leader:7 seal:4" \
        "$(jq -r '.["token-label"]' "$T/certs.jsonl" | sort | uniq -c | awk '{ printf "%s%s:%s", (NR > 1 ? " " : ""), $2, $1 }')"
now=$(date +%s)
floor_days() { # whole days, rounded down (bash rounds towards zero)
        local s=$1
        if ((s < 0)); then echo $(((s - 86399) / 86400)); else echo $((s / 86400)); fi
}
kind_of() { # the kind the test policy gives, from the certificate's policy OID as openssl prints it
        local text
        text=$(openssl x509 -in "$1" -noout -text)
        if grep -q "Policy: $KYSO_OID_PERSONAL\$" <<<"$text"; then echo personal
        elif grep -q "Policy: $KYSO_OID_ORGANIZATION\$" <<<"$text"; then echo organization
        elif grep -q "Policy: $KYSO_OID_DEVICE\$" <<<"$text"; then echo device
        else echo unknown; fi
}
check_cert() { # check_cert NAME TOKEN STATUS
        local name=$1 token=$2 status=$3 pem="$KYSO_PKI/$1.pem" c want got nb na bits type
        c=$(jq -c --arg n "$name" 'select(.label == $n)' "$T/certs.jsonl")
        nb=$(date -d "$(openssl x509 -in "$pem" -noout -startdate | cut -d= -f2)" +%s)
        na=$(date -d "$(openssl x509 -in "$pem" -noout -enddate | cut -d= -f2)" +%s)
        bits=$(openssl x509 -in "$pem" -noout -text | sed -n 's/.*Public-Key: (\([0-9]*\) bit).*/\1/p')
        if openssl x509 -in "$pem" -noout -text | grep -q "rsaEncryption"; then type=rsa; else type=ec; fi
        want=$(printf '%s\n' \
                "token-label=$token" \
                "subject=$(openssl x509 -in "$pem" -noout -subject -nameopt RFC2253,-esc_msb | sed 's/^subject=//')" \
                "issuer=$(openssl x509 -in "$pem" -noout -issuer -nameopt RFC2253,-esc_msb | sed 's/^issuer=//')" \
                "serial=$(openssl x509 -in "$pem" -noout -serial | cut -d= -f2 | tr A-F a-f)" \
                "sha256=$(openssl x509 -in "$pem" -noout -fingerprint -sha256 | cut -d= -f2 | tr -d : | tr A-F a-f)" \
                "not-before=$nb" "not-after=$na" "key-type=$type" "key-bits=$bits" \
                "days-left=$(floor_days $((na - now)))" "status=$status" "kind=$(kind_of "$pem")" "has-private-key=true")
        got=$(jq -r '"token-label=\(.["token-label"])", "subject=\(.subject)", "issuer=\(.issuer)",
                "serial=\(.serial)", "sha256=\(.sha256)", "not-before=\(.["not-before"])",
                "not-after=\(.["not-after"])", "key-type=\(.["key-type"])", "key-bits=\(.["key-bits"])",
                "days-left=\(.["days-left"])", "status=\(.status)", "kind=\(.kind)",
                "has-private-key=\(.["has-private-key"])"' <<<"$c")
        expect_eq "certificate $name: every field matches openssl" "$want" "$got"
        expect_match "certificate $name: URI names the token, id and type=cert" \
                "^pkcs11:.*token=$token.*type=cert" "$(jq -r .uri <<<"$c")"
}
# While the revocation checks wait for their servers, a certificate whose offline checks pass is "unchecked",
# the revoked one too (tests/signing/test-async.sh sees them checked); the others have their offline status.
expect "the inventory's revocation check is waiting for the OCSP server" \
        wait_for 10 grep -q "hanging on" "$KYSO_TEST_SERVER_DIR/ocsp-0.log"
check_cert leader leader unchecked
check_cert leader2 leader unchecked
check_cert revoked leader unchecked
check_cert expired leader expired
check_cert seal seal unchecked
check_cert notyet seal not-yet-valid
check_cert expiring seal unchecked
# With the policy: a certificate from an unknown CA and a weak key are not trusted.
check_cert unknown leader untrusted
check_cert weak leader untrusted
expect_eq "kinds come from the policy: personal for the leader, organization for the seal" "leader=personal seal=organization" \
        "$(jq -r 'select(.label == "leader" or .label == "seal") | "\(.label)=\(.kind)"' "$T/certs.jsonl" | sort | tr '\n' ' ' | sed 's/ $//')"

# --- Many callers at once: every one gets the whole list.
for i in $(seq 1 40); do
        (call "$MAIN" GetCertificates "a{sv}" 0 | jq '.data[0] | length' >"$T/par.$i" 2>&1) &
done
wait_all_par() { local i; for i in $(seq 1 40); do [[ -s $T/par.$i ]] || return 1; done; }
wait_for 30 wait_all_par
expect_eq "40 concurrent GetCertificates calls: all answered with 11 certificates" "40 x 11" \
        "$(cat "$T"/par.* | sort | uniq -c | awk '{ print $1 " x " $2 }')"

# --- Bad arguments, unknown methods.
expect_fail "GetTokens with an argument: org.kyso.Error.InvalidArgs naming the signature" \
        "org.kyso.Error.InvalidArgs.*signature ''.*got 's'" \
        dbus-send --bus="$MAIN" --print-reply --dest=org.kyso.Agent1 /org/kyso/Agent1 org.kyso.Agent1.GetTokens string:x
expect_fail "GetCertificates with an argument: InvalidArgs" "org.kyso.Error.InvalidArgs" \
        dbus-send --bus="$MAIN" --print-reply --dest=org.kyso.Agent1 /org/kyso/Agent1 org.kyso.Agent1.GetCertificates int32:1
expect_fail "an unknown method: UnknownMethod" "UnknownMethod" \
        dbus-send --bus="$MAIN" --print-reply --dest=org.kyso.Agent1 /org/kyso/Agent1 org.kyso.Agent1.Frobnicate

# --- Another uid is refused (needs root to become nobody).
if ((EUID == 0)) && command -v setpriv >/dev/null; then
        expect_fail "a caller of another uid is refused with PolicyDenied" "org.kyso.Error.PolicyDenied" \
                setpriv --reuid=65534 --regid=65534 --clear-groups \
                gdbus call --address "$MAIN" --dest org.kyso.Agent1 --object-path /org/kyso/Agent1 \
                --method org.kyso.Agent1.GetCertificates "{}"
        expect "after that, the agent's own user is still served" has_two_tokens "$MAIN"
else
        ok "# SKIP another uid: needs root to switch to nobody"
fi

# --- Signals: TokenAdded and CertificateExpiring at start; a helper crash gives TokenRemoved, then the
# restarted helper gives TokenAdded again; the agent stays up.
expect_match "TokenAdded for both tokens at start" "member=TokenAdded" "$(cat "$T/signals.txt")"
expect_match "CertificateExpiring for the expiring certificate" \
        "member=CertificateExpiring" "$(cat "$T/signals.txt")"
expect_match "CertificateExpiring carries the URI and the days left" \
        "object=expiring;type=cert\"$" "$(grep -A2 'member=CertificateExpiring' "$T/signals.txt")"
expect_match "CertificateExpiring days are 29 or 30" "int32 (29|30)$" "$(grep -A2 'member=CertificateExpiring' "$T/signals.txt")"
added_before=$(grep -c 'member=TokenAdded' "$T/signals.txt")
helper=$(pgrep -P "$KPID" kyso-p11-helper | head -n1)
expect "kysod runs one kyso-p11-helper" test -n "$helper"
kill -KILL "$helper" 2>/dev/null
token_removed() { [[ $(grep -c 'member=TokenRemoved' "$T/signals.txt") -ge 2 ]]; }
readded() { [[ $(grep -c 'member=TokenAdded' "$T/signals.txt") -ge $((added_before + 2)) ]]; }
expect "helper crash: TokenRemoved for both tokens" wait_for 10 token_removed
expect_match "TokenRemoved carries the token URI" 'string "pkcs11:.*token=(leader|seal)"' \
        "$(grep -A1 'member=TokenRemoved' "$T/signals.txt")"
expect "restarted helper: TokenAdded again" wait_for 15 readded
expect_match "log: the helper's end, with how it ended (someone else's SIGKILL), and the restart" \
        "PKCS#11 module .*softhsm.* failed: the helper (process ended|closed the connection); the helper was killed by signal Killed\. Its tokens are shown as absent; it is restarted in 500 ms\." \
        "$(cat "$T/kysod.log")"
expect "kysod survived the helper crash and lists both tokens" has_two_tokens "$MAIN"

# --- SIGTERM: clean exit, helpers reaped.
helpers=$(pgrep -P "$KPID" | tr '\n' ' ')
kill -TERM "$KPID"
wait "$KPID"
expect_eq "SIGTERM: kysod exits with 0" 0 "$?"
expect_eq "SIGTERM: no helper left running" "" "$(helpers_left "$helpers")"
# --- The agent's own events are in the audit log, chained, in order.
events=$("$KYSOCTL" audit show --log "$T/state/audit.jsonl" --json | jq -r '.[].event' | tr '\n' ' ')
expect_match "audit: start, configuration and policy recorded first" "^agent-start config-load policy-load " "$events"
# Which policy the agent uses: a per-user process cannot be protected from its own user's $KYSO_POLICY,
# so the files and their SHA-256 are recorded, and a policy that is not the system one is flagged.
load=$("$KYSOCTL" audit show --log "$T/state/audit.jsonl" --json | jq -c '[.[] | select(.event == "policy-load")] | first')
expect_eq "audit: the policy's file and its SHA-256" "$T/policy.conf $(sha256sum "$T/policy.conf" | cut -d' ' -f1)" \
        "$(jq -r '"\(.data.file) \(.data.file_sha256)"' <<<"$load")"
expect_eq "audit: not the system policy, said so" "no" "$(jq -r '.data.system_default' <<<"$load")"
expect_match "audit: the warning names the system policy" "not the system policy \(/etc/kyso/policy.conf\)" \
        "$(jq -r '.data.warning' <<<"$load")"
expect_match "audit: the policy's digest" '^[0-9a-f]{64}$' "$(jq -r '.data.policy_sha256' <<<"$load")"
expect_match "audit: loaded at start" '^start$' "$(jq -r '.data.loaded_for' <<<"$load")"
expect_match "kysod warns that the policy is not the system one" \
        "The signing policy $T/policy.conf is not the system policy \(/etc/kyso/policy.conf\)" "$(cat "$T/kysod.log")"
expect_match "audit: both tokens recorded as added" "token-added.*token-added" "$events"
expect_match "audit: the helper crash and its restart recorded" "helper-crash.*helper-restart" "$events"
expect_match "audit: the stop is the last record" " agent-stop $" "$events"
expect "audit: the chain verifies" "$KYSOCTL" audit verify --log "$T/state/audit.jsonl"
expect "SIGTERM: the name is released" wait_for 5 bash -c "! dbus-send --bus='$MAIN' --print-reply=literal --dest=org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus.NameHasOwner string:org.kyso.Agent1 | grep -q true"

# --- Token removal and insertion, and a hanging module, through the fault-injecting module (tests/pkcs11).
if [[ -n ${KYSO_FAULT_MODULE:-} && -r ${KYSO_FAULT_MODULE:-} ]]; then
        kysod_conf "$KYSO_FAULT_MODULE" 1s >"$T/fault.conf"
        fault() { # fault COMMAND...: atomically replace the control file
                printf '%s\n' "$@" >"$T/fault.tmp" && mv -f "$T/fault.tmp" "$T/fault.control"
        }
        : >"$T/signals.txt"
        DBUS_SESSION_BUS_ADDRESS=$MAIN KYSO_FAULT_REAL_MODULE="$KYSO_SOFTHSM_MODULE" \
                KYSO_FAULT_CONTROL="$T/fault.control" "$KYSOD" --config "$T/fault.conf" 2>"$T/kysod-fault.log" &
        FPID=$!
        PIDS+=($FPID)
        expect "fault module: both tokens listed" wait_for 10 has_two_tokens "$MAIN"
        removed_n() { grep -c 'member=TokenRemoved' "$T/signals.txt"; }
        added_n() { grep -c 'member=TokenAdded' "$T/signals.txt"; }
        no_tokens() { [[ $(n_tokens "$MAIN") == 0 ]]; }
        a0=$(added_n)
        fault remove
        expect "token pulled out: TokenRemoved for both within 2 s" wait_for 2 bash -c "[[ \$(grep -c member=TokenRemoved '$T/signals.txt') -ge 2 ]]"
        expect "token pulled out: GetTokens lists none" wait_for 2 no_tokens
        expect_eq "token pulled out: GetCertificates lists none" 0 "$(call "$MAIN" GetCertificates "a{sv}" 0 | jq '.data[0] | length')"
        fault insert
        expect "token put back: TokenAdded for both within 2 s" wait_for 2 bash -c "[[ \$(grep -c member=TokenAdded '$T/signals.txt') -ge $((a0 + 2)) ]]"
        expect "token put back: both listed again" wait_for 2 has_two_tokens "$MAIN"

        # A module that hangs: the agent keeps answering at once, drops the tokens, and gets them back.
        r0=$(removed_n)
        fault "hang C_GetSlotList"
        expect "hanging module: TokenRemoved after the helper timeout" wait_for 6 bash -c "[[ \$(grep -c member=TokenRemoved '$T/signals.txt') -ge $((r0 + 2)) ]]"
        start=$(date +%s%N)
        out=$(call "$MAIN" GetTokens)
        ms=$((($(date +%s%N) - start) / 1000000))
        expect "hanging module: GetTokens still answered promptly (${ms} ms)" test "$ms" -lt 1000
        fault insert
        expect "hanging module cleared: both tokens back after the restart" wait_for 15 has_two_tokens "$MAIN"
        fhelpers=$(pgrep -P "$FPID" | tr '\n' ' ')
        kill -INT "$FPID"
        wait "$FPID"
        expect_eq "SIGINT (Ctrl-C): kysod exits with 0" 0 "$?"
        expect_eq "SIGINT: no helper left running" "" "$(helpers_left "$fhelpers")"

        # kysod killed outright while its helper hangs in a module call (so the helper never reads the EOF):
        # the helper must not linger (parent-death signal). A long helper-timeout keeps the call hanging.
        sed 's/^helper-timeout = .*/helper-timeout = 5min/' "$T/fault.conf" >"$T/fault-hang.conf"
        fault insert
        DBUS_SESSION_BUS_ADDRESS=$MAIN KYSO_FAULT_REAL_MODULE="$KYSO_SOFTHSM_MODULE" \
                KYSO_FAULT_CONTROL="$T/fault.control" "$KYSOD" --config "$T/fault-hang.conf" 2>"$T/kysod-hang.log" &
        HPID=$!
        PIDS+=($HPID)
        expect "kysod for the hang: both tokens listed" wait_for 10 has_two_tokens "$MAIN"
        hhelper=$(pgrep -P "$HPID" kyso-p11-helper | head -n1)
        fault "hang C_GetSlotList"
        sleep 1 # a few polls (every 200 ms): the helper is inside C_GetSlotList by now, for good
        gone() { [[ ! -e /proc/$1 ]] || grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }
        expect "the helper still runs while its call hangs" kill -0 "$hhelper"
        kill -KILL "$HPID"
        wait "$HPID" 2>/dev/null
        expect "kysod SIGKILLed: its hanging helper is gone within 2 s" wait_for 2 gone "$hhelper"
        kill -KILL "$hhelper" 2>/dev/null # do not leave it behind when the check above failed
        fault insert
else
        ok "# SKIP token removal/insertion: the fault module of tests/pkcs11 is not built"
fi

# --- kysod is not dumpable: the kernel then gives its /proc files to root, even when it runs as another
# user (here nobody, which needs root), while a dumpable process of that user owns its own.
if ((EUID == 0)) && command -v setpriv >/dev/null; then
        mkdir -p "$T/nobody/pki" && cp "$KYSO_PKI"/*.pem "$T/nobody/pki/" && chmod -R a+rX "$T/nobody"
        chown 65534:65534 "$T/nobody"
        KYSO_PKI=$T/nobody/pki "$KYSO_SOURCE_ROOT/tests/fixtures/make-policy.sh" "$T/nobody-policy.conf" \
                --cache "$T/nobody/revocation-cache"
        printf 'use-p11-kit-registry = no\naudit-log = %s\n' "$T/nobody/audit.jsonl" >"$T/nobody.conf"
        as_nobody=(setpriv --reuid=65534 --regid=65534 --clear-groups) # execs: $! is the process itself
        # No leak check in this run: LeakSanitizer cannot inspect a process that is not dumpable and not root.
        DBUS_SESSION_BUS_ADDRESS=$MAIN HOME=$T/nobody XDG_CONFIG_HOME=$T/nobody XDG_STATE_HOME=$T/nobody \
                KYSO_POLICY=$T/nobody-policy.conf \
                ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
                "${as_nobody[@]}" "$KYSOD" --config "$T/nobody.conf" 2>"$T/kysod-nobody.log" &
        NPID=$!
        PIDS+=($NPID)
        "${as_nobody[@]}" sleep 30 &
        SPID=$!
        PIDS+=($SPID)
        if wait_for 10 name_owned "$MAIN"; then
                expect_eq "a dumpable process of nobody owns its /proc/PID/status (so the next check can fail)" \
                        65534 "$(stat -c %u "/proc/$SPID/status")"
                expect_eq "kysod running as nobody (uid 65534) is not dumpable: /proc/PID/status belongs to root" \
                        "owner 0, uid 65534" \
                        "owner $(stat -c %u "/proc/$NPID/status"), uid $(awk '/^Uid:/ { print $2 }' "/proc/$NPID/status")"
        else
                not_ok "kysod running as nobody took its name"
                sed 's/^/# /' "$T/kysod-nobody.log"
        fi
        kill -TERM "$NPID" "$SPID" 2>/dev/null
        wait "$NPID" "$SPID" 2>/dev/null
else
        ok "# SKIP dumpability: needs root to run kysod as nobody"
fi

# --- A module that does not load: tried again less and less often (module-retry 100 ms here, doubling),
# recorded in the audit log once when it fails and once when it finally loads, logged without flooding.
late="$T/late-module.so"
cat >"$T/late.conf" <<CONF
module = $late
use-p11-kit-registry = no
poll-interval = 200ms
module-retry = 100ms
audit-log = $T/state-late/audit.jsonl
CONF
DBUS_SESSION_BUS_ADDRESS=$MAIN "$KYSOD" --config "$T/late.conf" 2>"$T/kysod-late.log" &
LPID=$!
PIDS+=($LPID)
expect "module that does not load: kysod serves anyway" wait_for 10 name_owned "$MAIN"
attempt_logged() { grep -q "(attempt $1)" "$T/kysod-late.log"; }
expect "module that does not load: tried again, at least 4 times within seconds" wait_for 15 attempt_logged 4
expect_eq "module that does not load: no token meanwhile" 0 "$(n_tokens "$MAIN")"
ln -s "$KYSO_SOFTHSM_MODULE" "$late"
expect "the module appears: its tokens are listed after the next try" wait_for 15 has_two_tokens "$MAIN"
kill -TERM "$LPID"
wait "$LPID"
expect_eq "audit: one helper-crash when the module did not load, one helper-restart when it did" \
        "helper-crash helper-restart" \
        "$("$KYSOCTL" audit show --log "$T/state-late/audit.jsonl" --json | jq -r '.[].event | select(startswith("helper"))' | xargs)"
expect_match "the audit record names the module and why" "refused to load: cannot load module.*late-module.so" \
        "$("$KYSOCTL" audit show --log "$T/state-late/audit.jsonl" --json | jq -r '.[] | select(.event == "helper-crash") | tostring')"
expect_eq "log: one warning, at the first failure" 1 "$(grep -c "late-module.so does not load: .*Tried again in 100 ms" "$T/kysod-late.log")"
expect_eq "log: the later attempts only at 2, 4, 8, ..." "" \
        "$(grep -o '(attempt [0-9]*)' "$T/kysod-late.log" | tr -dc '0-9\n' | awk '{ n = $1; while (n > 1 && n % 2 == 0) n /= 2; if (n != 1) print $1 }')"
expect_match "log: the recovery" "PKCS#11 module .*late-module.so restarted" "$(cat "$T/kysod-late.log")"

# --- No sanitizer report from any kysod of this test or its helpers (their stderr went to these logs).
expect_no_sanitizer_report "no sanitizer report in the logs of kysod and its helpers" "$T"/kysod*.log

# --- kysoctl usage errors: exit 2.
"$KYSOCTL" certs --bogus >/dev/null 2>&1
expect_eq "kysoctl certs --bogus: exit code 2" 2 "$?"
"$KYSOCTL" tokens extra >/dev/null 2>&1
expect_eq "kysoctl tokens with an argument: exit code 2" 2 "$?"

# --- kysoctl without an agent (and no activation): exit 3 and how to start it.
out=$(DBUS_SESSION_BUS_ADDRESS=$MAIN "$KYSOCTL" tokens 2>&1)
expect_eq "kysoctl tokens, no agent: exit code 3" 3 "$?"
expect_match "kysoctl tokens, no agent: says how to start it" "systemctl --user start kysod" "$out"

# --- D-Bus activation: a bus whose service folder activates kysod on the first call.
mkdir -p "$T/services"
cat >"$T/services/org.kyso.Agent1.service" <<SERVICE
[D-BUS Service]
Name=org.kyso.Agent1
Exec=$KYSOD --config $T/kysod.conf
SERVICE
start_bus activation "$T/services"
ACT=$BUS
expect "activation bus: no agent before the first call" bash -c "! dbus-send --bus='$ACT' --print-reply=literal --dest=org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus.NameHasOwner string:org.kyso.Agent1 | grep -q true"
expect_eq "activation: the first call starts kysod and its answer lists both tokens" 2 "$(n_tokens "$ACT")"
apid=$(dbus-send --bus="$ACT" --print-reply=literal --dest=org.freedesktop.DBus /org/freedesktop/DBus \
        org.freedesktop.DBus.GetConnectionUnixProcessID string:org.kyso.Agent1 | awk '{ print $2 }')
expect_match "activation: the agent is the build tree's kysod" "kysod" "$(cat /proc/"$apid"/cmdline 2>/dev/null | tr '\0' ' ')"
ahelpers=$(pgrep -P "$apid" | tr '\n' ' ')
kill -TERM "$apid"
expect "activated kysod exits on SIGTERM" wait_for 10 bash -c "! kill -0 $apid 2>/dev/null"
expect_eq "activated kysod: no helper left running" "" "$(helpers_left "$ahelpers")"

# --- The installed unit and activation file.
unit="$B/systemd/kysod.service"
expect_match "unit: Type=notify, BusName, WatchdogSec" "Type=notify" "$(cat "$unit")"
expect_match "unit: BusName=org.kyso.Agent1" "^BusName=org.kyso.Agent1$" "$(cat "$unit")"
expect_match "unit: ExecStart is the installed kysod" "^ExecStart=/.*/kysod$" "$(cat "$unit")"
expect_match "activation file: SystemdService=kysod.service" "^SystemdService=kysod.service$" \
        "$(cat "$B/systemd/org.kyso.Agent1.service")"
expect_eq "activation file and unit start the same binary" \
        "$(sed -n 's/^ExecStart=//p' "$unit")" "$(sed -n 's/^Exec=//p' "$B/systemd/org.kyso.Agent1.service")"
if command -v systemd-analyze >/dev/null; then
        sed "s|^ExecStart=.*|ExecStart=$KYSOD|" "$unit" >"$T/kysod.service"
        out=$(systemd-analyze verify --man=no "$T/kysod.service" 2>&1)
        rc=$?
        expect_eq "systemd-analyze verify: no complaint about the unit" "0:" "$rc:$out"
else
        ok "# SKIP systemd-analyze is not installed"
fi

# --- The journal catalog explains every MESSAGE_ID the agent logs, and journalctl accepts it.
ids=$(grep -ho 'MESSAGE_ID=[0-9a-f]\{32\}' "$KYSO_SOURCE_ROOT"/agent/agent.c | sed 's/MESSAGE_ID=//' | sort -u)
cat_ids=$(sed -n 's/^-- \([0-9a-f]\{32\}\)$/\1/p' "$KYSO_SOURCE_ROOT/systemd/kysod.catalog" | sort)
expect "agent logs at least 4 MESSAGE_IDs" test "$(wc -w <<<"$ids")" -ge 4
expect_eq "systemd/kysod.catalog has exactly the agent's MESSAGE_IDs" "$ids" "$cat_ids"
if command -v journalctl >/dev/null; then
        mkdir -p "$T/jroot/usr/lib/systemd/catalog" "$T/jroot/var/lib/systemd/catalog"
        cp "$KYSO_SOURCE_ROOT/systemd/kysod.catalog" "$T/jroot/usr/lib/systemd/catalog/"
        journalctl --root="$T/jroot" --update-catalog >/dev/null 2>&1
        expect_eq "journalctl parses every entry of kysod.catalog" "$(wc -w <<<"$ids")" \
                "$(journalctl --root="$T/jroot" --dump-catalog 2>/dev/null | grep -c '^-- ')"
else
        ok "# SKIP journalctl is not installed"
fi

tap_done
