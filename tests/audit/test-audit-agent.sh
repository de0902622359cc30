#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-audit-agent.sh: the audit records kysod really writes (TAP), in the sandbox with the SoftHSM demo
# tokens and a scripted pinentry. The Article 17 report counts each physical token once (token-added and
# signing records name it alike: serial, manufacturer, model); a wrong PIN is recorded with its token. Then
# the audit log's folder is a small tmpfs that is filled up: a signature the log cannot record is withheld
# (nothing written, an error that says why), a wrong PIN that cannot be recorded ends the request, and after
# space is freed signing works again with an intact log. The tmpfs part needs root and a private mount
# namespace (unshare -m); without them it is skipped.
set -uo pipefail

. "${KYSO_SOURCE_ROOT:?run through meson test}/tests/fixtures/tap.sh"

if [[ -z ${KYSO_SANDBOX:-} ]]; then
        sandbox_test_dir audit-agent KYSO_AUDIT_TEST_DIR
        sandbox=("$KYSO_SOURCE_ROOT/contrib/sandbox" --build "${KYSO_BUILD_ROOT:?}" --no-start -- "$0")
        # A private mount namespace, so the tmpfs is seen by this test's kysod only and vanishes with it.
        if [[ $(id -u) == 0 ]] && unshare -m --propagation private true 2>/dev/null; then
                export KYSO_AUDIT_TEST_TMPFS=1
                unshare -m --propagation private "${sandbox[@]}"
                exit $?
        fi
        "${sandbox[@]}"
        exit $?
fi
# ---- inside the sandbox
T=$KYSO_AUDIT_TEST_DIR
LOG_DIR=$XDG_STATE_HOME/kyso
LOG=$LOG_DIR/audit.jsonl
LEADER="pkcs11:token=leader;object=leader;type=cert"
echo "Quyết định số 9/QĐ-UBND" >"$T/qd.txt"
kysod_pid=

prompts() { pinentry_count '^GETPIN'; }
records() { kysoctl audit show --json | jq -c --arg e "$1" "[.[] | select(.event == \$e)]"; }
sign() { kysoctl sign --role approve --cert "$LEADER" "$T/qd.txt" -o "$1" >"$T/sign.out" 2>&1; }

tmpfs=0
if [[ -n ${KYSO_AUDIT_TEST_TMPFS:-} ]]; then
        mkdir -p "$LOG_DIR"
        mount -t tmpfs -o size=256k,mode=0700 tmpfs "$LOG_DIR" && tmpfs=1
fi

kysod_up() {
        start_kysod "$T/kysod.log"
        expect "kysod lists both tokens" kysoctl tokens
}
stop_kysod() {
        kill -TERM "$kysod_pid"
        wait "$kysod_pid"
        expect_eq "kysod stops cleanly" 0 "$?"
}
kysod_up

# 1. One signature, one wrong PIN: the records name the token as token-added does.
script "confirm yes" "pin 1111"
expect "approve with the leader's token" sign "$T/signed.p7s"
script "confirm yes" "pin 9999" "pin 1111"
expect "a wrong PIN, then the right one" sign "$T/signed2.p7s"
serial=$(records token-added | jq -r --arg l "$KYSO_LEADER_TOKEN" '[.[] | select(.token.label == $l)][0].token.serial')
expect_match "token-added names the leader token's serial" '^[0-9a-f]+$' "$serial"
expect_eq "sign-done records carry the token's serial" "$serial $serial" \
        "$(records sign-done | jq -r '[.[].token.serial] | join(" ")')"
expect_eq "sign-done records carry the token's manufacturer and model" "SoftHSM project SoftHSM v2" \
        "$(records sign-done | jq -r '.[0].token | "\(.manufacturer) \(.model)"')"
expect_eq "the pin-failure record names the token (serial, label)" "$serial $KYSO_LEADER_TOKEN" \
        "$(records pin-failure | jq -r '.[0].token | "\(.serial) \(.label)"')"

# The report of the period that holds today (Vietnam time): the 15th starts the next month's period.
read -r y m d <<<"$(date -u -d '+7 hours' '+%Y %m %d')"
if ((10#$d >= 15)); then
        month=$(date -u -d "$y-$m-01 +1 month" +%Y-%m)
else
        month=$y-$m
fi
kysoctl audit report --month "$month" >"$T/report.txt" 2>"$T/report.err"
expect_match "the report counts two tokens (leader, seal), each once" \
        "USB token\) đã sử dụng: 2$" "$(cat "$T/report.txt")"
expect_match "the report ties both signatures and the wrong PIN to the leader's token" \
        "\. $KYSO_LEADER_TOKEN \(số sê-ri $serial, SoftHSM project SoftHSM v2\): 2 lượt ký số, 1 lần nhập sai mã PIN$" \
        "$(cat "$T/report.txt")"
kysoctl audit report --month "$month" --format csv >"$T/report.csv"
expect_eq "CSV: one token row per physical token" 2 "$(grep -c '^token,' "$T/report.csv")"

# 2. The audit log's disk is full.
if ((tmpfs)); then
        dd if=/dev/zero of="$LOG_DIR/filler" bs=1k 2>/dev/null
        [[ $(df --output=avail -B1 "$LOG_DIR" | tail -n 1) -lt 1024 ]] &&
                ok "the audit log's tmpfs is full" || not_ok "the audit log's tmpfs is full"
        done0=$(kysoctl audit show --json | jq '[.[] | select(.event == "sign-done")] | length')
        # The log's last page may still hold a record or two: sign until a record does not fit.
        signed=0
        for ((i = 0; i < 8; i++)); do
                p0=$(prompts)
                script "confirm yes" "pin 1111"
                out=$T/full-$i.p7s
                sign "$out" || break
                signed=$((signed + 1))
        done
        expect_match "disk full: the signature is withheld, with the reason" \
                "audit log could not record the signature, so it was withheld" "$(cat "$T/sign.out")"
        # Each try has its own output: kysoctl keeps an existing output when a sign fails.
        [[ ! -e $out ]] && ok "disk full: nothing written to the output" ||
                not_ok "disk full: nothing written to the output"
        expect_eq "disk full: the PIN was asked (the signature was made, then withheld)" $((p0 + 1)) "$(prompts)"
        expect_match "disk full: kysod says why" "Cannot append the audit record" "$(cat "$T/kysod.log")"

        # A wrong PIN's record is shorter than a signature's: it may fit once more, then it does not.
        for ((i = 0; i < 8; i++)); do
                p0=$(prompts)
                script "confirm yes" "pin 9999" "pin 1111"
                sign "$T/full2.p7s"
                grep -q "could not record the wrong PIN" "$T/sign.out" && break
        done
        expect_match "disk full: a wrong PIN that cannot be recorded ends the request" \
                "audit log could not record the wrong PIN" "$(cat "$T/sign.out")"
        expect_eq "disk full: the PIN is not asked again after the unrecorded wrong PIN" $((p0 + 1)) "$(prompts)"
        [[ ! -s $T/full2.p7s ]] && ok "disk full, wrong PIN: nothing written" ||
                not_ok "disk full, wrong PIN: nothing written"

        rm -f "$LOG_DIR/filler"
        script "confirm yes" "pin 1111"
        expect "space freed: signing works again" sign "$T/after.p7s"
        expect_eq "only the signatures that were recorded count" $((done0 + signed + 1)) \
                "$(kysoctl audit show --json | jq '[.[] | select(.event == "sign-done")] | length')"
        expect "the audit log is intact after the full disk" kysoctl audit verify
        # One record per stretch of refusals. A log-unwritable record may fit in the log's last page between
        # the refused signature and the refused wrong PIN (it is shorter than a signature's record; whether
        # it fits depends on how full that page was, so on the size of every record before): two then.
        n_unwritable=$(records log-unwritable | jq length)
        expect "space freed: one log-unwritable record (two at most) says what the full disk refused" \
                test "$n_unwritable" -ge 1 -a "$n_unwritable" -le 2
        expect_match "log-unwritable: how many, which events, which certificate" \
                "^[1-9][0-9]* .*sign-.* CN=.*" \
                "$(records log-unwritable | jq -r '.[0] | "\(.data.records) \(.data.events) \(.data.cert_1_subject)"')"
else
        echo "ok $((TAP_N + 1)) # SKIP the full-disk part needs root and unshare -m" && TAP_N=$((TAP_N + 1))
fi

stop_kysod

# 3. The log deleted while kysod is stopped; the journal remembers its last record. journald does not run
# here: the journal is a file made by systemd-journal-remote from what kysod would have sent, in the local
# journal folder (/var/log/journal, bind-mounted over in this private mount namespace), where kysod reads.
remote=$(ls /usr/lib/systemd/systemd-journal-remote /lib/systemd/systemd-journal-remote 2>/dev/null | head -n 1)
if ((tmpfs)) && [[ -n $remote && -d /var/log/journal && -r /etc/machine-id ]]; then
        mid=$(cat /etc/machine-id)
        kysoctl audit verify --json >"$T/verify.json"
        last_seq=$(jq -r .last_seq "$T/verify.json")
        last_hash=$(jq -r .last_hash "$T/verify.json")
        chain=$(jq -r .chain "$T/verify.json")
        printf '__REALTIME_TIMESTAMP=%s\n__MONOTONIC_TIMESTAMP=1\n_BOOT_ID=00112233445566778899aabbccddeeff\n_MACHINE_ID=%s\nMESSAGE=kyso audit #%s\nKYSO_AUDIT_SEQ=%s\nKYSO_AUDIT_HASH=%s\nKYSO_AUDIT_FILE=%s\nKYSO_AUDIT_CHAIN=%s\n\n' \
                "$(date +%s)000000" "$mid" "$last_seq" "$last_seq" "$last_hash" "$LOG" "$chain" >"$T/journal.export"
        mkdir -p "$T/journal/$mid"
        "$remote" --output="$T/journal/$mid/remote.journal" "$T/journal.export" 2>/dev/null
        mount --bind "$T/journal" /var/log/journal
        rm -f "$LOG" "$LOG".[0-9]*
        kysod_up
        expect_match "kysod says that records are missing" "Records seq 1 to $last_seq of the audit log .* are missing" \
                "$(cat "$T/kysod.log")"
        expect_eq "the new log's first record says what the journal remembers" \
                "log-records-missing $last_seq $last_hash $chain" \
                "$(kysoctl audit show --json | jq -r '.[0] | "\(.event) \(.data.journal_seq) \(.data.journal_hash) \(.data.journal_chain)"')"
        expect_fail "verify fails on the missing records" "Records seq 1 to $last_seq of the audit log" kysoctl audit verify
        expect_eq "verify --json: records-missing" "records-missing" "$(kysoctl audit verify --json | jq -r .problem)"
        stop_kysod
        umount /var/log/journal
else
        echo "ok $((TAP_N + 1)) # SKIP the journal part needs root, unshare -m, systemd-journal-remote and /var/log/journal" &&
                TAP_N=$((TAP_N + 1))
fi
# 4. A record changed in the middle of the log: kysod starts at once, checks the chain in the background and
# writes one log-chain-broken record naming it, and a warning; started again, it does not record it again.
wait_for_log() { # PATTERN FILE: up to 10 s
        local i
        for ((i = 0; i < 200; i++)); do
                grep -q -- "$1" "$2" && return 0
                sleep 0.05
        done
        return 1
}
bad_seq=$(sed -n 2p "$LOG" | jq .seq)
python3 -c '
import sys
p = sys.argv[1]
lines = open(p, "rb").read().split(b"\n")
lines[1] = lines[1].replace(b"\"pid\":", b"\"pid\":9", 1)
open(p, "wb").write(b"\n".join(lines))' "$LOG"
expect_fail "the changed record breaks the chain" "seq $bad_seq" kysoctl audit verify
: >"$T/kysod-chain.log"
start_kysod "$T/kysod-chain.log"
expect "kysod serves at once on a broken chain" kysoctl tokens
wait_for_log "chain is broken at record seq $bad_seq" "$T/kysod-chain.log" &&
        ok "kysod warns about the break, naming the first bad record" ||
        not_ok "kysod warns about the break, naming the first bad record"
expect_eq "one log-chain-broken record names the first bad record" "1 $bad_seq changed" \
        "$(records log-chain-broken | jq -r 'length as $n | .[0] | "\($n) \(.data.seq) \(.data.problem)"')"
stop_kysod
start_kysod "$T/kysod-chain.log"
wait_for_log "as a log-chain-broken record already says" "$T/kysod-chain.log" &&
        ok "started again: the break is known" || not_ok "started again: the break is known"
stop_kysod
expect_eq "started again: no second log-chain-broken record" 1 "$(records log-chain-broken | jq length)"
cat "$T/kysod-chain.log" >>"$T/kysod.log"

if grep -qE 'Sanitizer|runtime error' "$T/kysod.log"; then
        not_ok "kysod's log has no sanitizer report"
        grep -E -A40 'Sanitizer|runtime error' "$T/kysod.log" | head -n 60 | sed 's/^/# /'
else
        ok "kysod's log has no sanitizer report"
fi
((tmpfs)) && umount "$LOG_DIR"
tap_done
