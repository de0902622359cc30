#!/usr/bin/env bash
# test-cert-register.sh: the certificate register and the desktop warnings, with kysod on a private bus,
# the SoftHSM fixture tokens, OCSP and CRL servers, and a stand-in notification service (TAP).
# Covers: every certificate registered with holder, organisation, kind, token and status, the audit records
# of first sightings and of the revocation found, the register surviving a restart without new records or
# repeated warnings, kysoctl certs --all and --export csv|json|html, one notification for the certificate
# that expires soon, one for the expired and one for the revoked certificate, in Vietnamese; and a bus
# without a notification service: logged once, nothing fails.
set -uo pipefail

. "${KYSO_SOURCE_ROOT:?run through meson test}/tests/fixtures/tap.sh"
HERE="$KYSO_SOURCE_ROOT/tests/agent"
KYSOD="${KYSOD:?}"
KYSOCTL="${KYSOCTL:?}"

require_tools dbus-daemon jq openssl python3
/usr/bin/python3 -c 'import dbus, gi' 2>/dev/null || bail_out "python3-dbus and python3-gi are missing"

temp_dir register-test
PIDS=()
cleanup() {
        local p
        for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
        for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
        rm -rf -- "$T"
}
trap cleanup EXIT

fixtures_make
start_test_server ocsp OCSP || bail_out "the OCSP server did not start"
start_test_server crl CRL || bail_out "the CRL server did not start"
"$KYSO_SOURCE_ROOT/tests/fixtures/make-policy.sh" "$T/policy.conf" --ocsp "$OCSP" --crl "$CRL" --cache "$T/cache"
export KYSO_POLICY="$T/policy.conf"
export KYSO_P11_HELPER XDG_CONFIG_HOME="$T/xdg-config" XDG_STATE_HOME="$T/xdg-state"
unset NOTIFY_SOCKET WATCHDOG_USEC WATCHDOG_PID
if locale -a 2>/dev/null | grep -qix 'vi_VN.utf-\?8'; then VI=vi_VN.UTF-8; else VI=; fi

write_conf() { # FILE STATE_DIR
        cat >"$1" <<CONF
module = $KYSO_SOFTHSM_MODULE
use-p11-kit-registry = no
poll-interval = 200ms
helper-timeout = 5s
audit-log = $2/audit.jsonl
log-level = debug
CONF
}

name_owned() {
        dbus-send --bus="$1" --print-reply=literal --dest=org.freedesktop.DBus /org/freedesktop/DBus \
                org.freedesktop.DBus.NameHasOwner string:"$2" 2>/dev/null | grep -q true
}

start_kysod() { # BUS CONF LOG: sets KPID
        env DBUS_SESSION_BUS_ADDRESS="$1" ${VI:+LC_ALL=$VI} "$KYSOD" --config "$2" 2>>"$3" &
        KPID=$!
        PIDS+=($KPID)
        wait_for 15 name_owned "$1" org.kyso.Agent1 || bail_out "kysod did not take its name"
}

stop_kysod() {
        kill -TERM "$KPID" 2>/dev/null
        wait "$KPID" 2>/dev/null
}

REG=$T/state/certificates.json
entry() { jq -r --arg n "$1" ".certificates[] | select(.token_label != null) | select(.subject | contains(\$n)) | $2" "$REG"; }
# Every certificate of both tokens is registered, and the revoked one's check is done.
register_settled() {
        [[ -s $REG ]] && [[ $(jq '.certificates | length' "$REG" 2>/dev/null) == 11 ]] &&
                [[ $(jq -r '.certificates[] | select(.serial != null) | .status' "$REG" | grep -c revoked) -ge 1 ]]
}

# --- With a notification service.
start_bus main
MAIN=$BUS
DBUS_SESSION_BUS_ADDRESS=$MAIN "$HERE/fake-notifications.py" "$T/notes.jsonl" >"$T/fake.log" 2>&1 &
PIDS+=($!)
wait_for 10 grep -q ready "$T/fake.log" || bail_out "the fake notification service did not start"
write_conf "$T/kysod.conf" "$T/state"
start_kysod "$MAIN" "$T/kysod.conf" "$T/kysod.log"
expect "the register lists all 11 certificates of both tokens, the revocation found" wait_for 60 register_settled

expect_eq "the leader's certificate: holder (CN)" "Nguyễn Văn An" "$(entry 'Nguyễn Văn An' .holder | head -1)"
expect_eq "  ... organisation (O)" "UBND phường Uông Bí" "$(entry 'Nguyễn Văn An' .organization | head -1)"
expect_eq "  ... kind by the policy" "personal" "$(entry 'Nguyễn Văn An' .kind | head -1)"
expect_eq "  ... token label and serial" "leader yes" \
        "$(entry 'Nguyễn Văn An' '.token_label + " " + (if .token_serial != "" then "yes" else "no" end)' | head -1)"
expect_eq "  ... its fingerprint is the DER's SHA-256" \
        "$(openssl x509 -in "$KYSO_PKI/leader.pem" -outform DER | sha256sum | cut -d' ' -f1)" \
        "$(entry 'Nguyễn Văn An' .fingerprint | head -1)"
expect_eq "the revoked certificate: revoked" "revoked" "$(entry 'Thu Hồi' .status)"
expect_eq "the expired certificate: expired" "expired" "$(entry 'Hết Hạn' .status)"
expect_eq "the register's file is private (0600)" "600" "$(stat -c %a "$REG")"

AUD=$T/state/audit.jsonl
n_first=$(jq -r 'select(.event == "cert-first-seen") | .cert.fingerprint' "$AUD" | sort -u | wc -l)
expect_eq "one cert-first-seen record per certificate" "11" "$n_first"
expect_match "a cert-status-changed record for the revocation found" '"revoked"' \
        "$(jq -c 'select(.event == "cert-status-changed") | .cert.status' "$AUD")"
expect "the audit chain is intact" "$KYSOCTL" audit verify --log "$AUD"

wait_for 10 test -s "$T/notes.jsonl"
sleep 1 # the other notifications of the same pass
notes=$(cat "$T/notes.jsonl" 2>/dev/null)
expect_eq "one notification for the certificate that expires soon" "1" \
        "$(jq -r 'select(.body | contains("(sắp hết hạn)")) | .summary' <<<"$notes" | wc -l)"
expect_eq "one for the expired certificate" "1" "$(jq -r 'select(.body | contains("Hết Hạn")) | .summary' <<<"$notes" | wc -l)"
expect_eq "one for the revoked certificate" "1" "$(jq -r 'select(.body | contains("Thu Hồi")) | .summary' <<<"$notes" | wc -l)"
expect_eq "nothing for the valid ones" "3" "$(wc -l <<<"$notes")"
if [[ -n $VI ]]; then
        expect_match "the expiry warning is in Vietnamese, with the days and what to do (Điều 11)" \
                "hết hạn sau (29|30) ngày.*Điều 11" "$(jq -r 'select(.body | contains("(sắp hết hạn)")) | .summary + " " + .body' <<<"$notes")"
else
        expect_match "the expiry warning says the days and what to do (Article 11)" \
                "expires in (29|30) days.*Article 11" "$(jq -r 'select(.body | contains("(sắp hết hạn)")) | .summary + " " + .body' <<<"$notes")"
fi
expect_eq "the expired and revoked ones are critical" "2 2" \
        "$(jq -r 'select(.urgency == 2) | .urgency' <<<"$notes" | tr '\n' ' ' | sed 's/ $//')"

# --- kysoctl certs --all / --export, from the file.
out=$("$KYSOCTL" certs --all --register "$REG" 2>&1)
expect_match "certs --all lists the register without an agent" "Nguyễn Văn An \\(UBND phường Uông Bí\\), personal" "$out"
csv=$("$KYSOCTL" certs --export csv --register "$REG")
expect_eq "export csv: a header and 11 rows" "12" "$(grep -c $'\r$' <<<"$csv")"
expect_match "export csv: the header" '^holder,organization,kind,status,' "$csv"
json=$("$KYSOCTL" certs --export json --register "$REG")
expect_eq "export json: 11 objects, no notification bookkeeping" "11 0" \
        "$(jq 'length' <<<"$json") $(jq '[.[] | select(has("warned_day"))] | length' <<<"$json")"
html=$("$KYSOCTL" certs --export html --register "$REG")
expect_match "export html: the organisation's name from the policy" "Cơ quan, tổ chức: <strong>UBND phường Uông Bí</strong>" "$html"
expect_match "export html: Vietnamese headings, grouped by kind" \
        "<h2>Chứng thư số cá nhân</h2>.*<h2>Chứng thư số của cơ quan, tổ chức</h2>.*<h2>Chứng thư số thiết bị</h2>" \
        "$(tr '\n' ' ' <<<"$html")"
expect_eq "export html: one row per certificate" "11" "$(grep -c '^<tr><td>' <<<"$html")"
expect_fail "certs --register: a missing file is an error" "cannot read the certificate register" \
        "$KYSOCTL" certs --all --register "$T/none.json"
expect_fail "export: an unknown format is a usage error" "unknown export format" "$KYSOCTL" certs --export pdf

# --- A restart: the register is read back; nothing is recorded or shown again.
first_before=$(entry 'Nguyễn Văn An' .first_seen | head -1)
records_before=$(grep -c '"cert-' "$AUD")
stop_kysod
start_kysod "$MAIN" "$T/kysod.conf" "$T/kysod.log"
wait_for 30 bash -c "[[ \$(jq '[.certificates[] | select(.last_seen > $first_before)] | length' '$REG') -ge 11 ]]"
sleep 2
expect_eq "after a restart: first seen unchanged" "$first_before" "$(entry 'Nguyễn Văn An' .first_seen | head -1)"
expect_eq "  ... no new register records in the audit log" "$records_before" "$(grep -c '"cert-' "$AUD")"
expect_eq "  ... no notification shown again" "3" "$(wc -l <"$T/notes.jsonl")"
stop_kysod

# --- No notification service: logged once, nothing fails.
start_bus bare
write_conf "$T/kysod-bare.conf" "$T/state-bare"
start_kysod "$BUS" "$T/kysod-bare.conf" "$T/kysod-bare.log"
REG=$T/state-bare/certificates.json
expect "without a notification service the register is kept all the same" wait_for 60 register_settled
sleep 1
expect_eq "  ... and the missing service is logged once" "1" "$(grep -c 'No desktop notification could be shown' "$T/kysod-bare.log")"
expect "  ... and kysod still answers" busctl --address="$BUS" call org.kyso.Agent1 /org/kyso/Agent1 org.kyso.Agent1 GetTokens
stop_kysod

# --- An auditor's machine: the register rebuilt from the collected logs, without an agent.
rebuilt=$("$KYSOCTL" certs --export json --log "$T/state/audit.jsonl" --log "$T/state-bare/audit.jsonl")
expect_eq "certs --log (two desks' logs): the same 11 certificates as the agent's register" \
        "$(jq -r '.certificates[].fingerprint' "$T/state/certificates.json" | sort | tr '\n' ' ')" \
        "$(jq -r '.[].fingerprint' <<<"$rebuilt" | sort | tr '\n' ' ')"
expect_eq "  ... with the revocation and the expiry" "expired revoked" \
        "$(jq -r '.[] | select(.status == "revoked" or .status == "expired") | .status' <<<"$rebuilt" | sort | tr '\n' ' ' | sed 's/ $//')"
expect_eq "  ... holder and token from the records" "Nguyễn Văn An leader" \
        "$(jq -r '.[] | select(.subject | contains("Nguyễn Văn An")) | .holder + " " + .token_label' <<<"$rebuilt")"
expect_eq "  ... first seen: the earlier of the two desks" "$first_before" \
        "$(jq -r '.[] | select(.subject | contains("Nguyễn Văn An")) | .first_seen' <<<"$rebuilt")"
expect_fail "certs: --log and --register together are refused" "exclude each other" \
        "$KYSOCTL" certs --all --log "$T/state/audit.jsonl" --register "$T/state/certificates.json"
tap_done
