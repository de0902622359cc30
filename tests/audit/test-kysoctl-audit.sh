#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# kysoctl audit show/verify/report against logs made here: filters, JSON and CSV output, exit codes,
# Vietnamese output. Needs python3 (to forge logs and to parse the JSON and CSV independently).
set -euo pipefail

KYSOCTL=${KYSOCTL:?run through meson test}
dir=$(mktemp -d /tmp/kyso-kysoctl-audit-XXXXXX)
trap 'rm -rf "$dir"' EXIT
log=$dir/audit.jsonl
fail() { echo "FAIL: $*" >&2; exit 1; }

# A log with awkward strings, forged with python's own SHA-256 (independent of the C writer).
python3 - "$log" <<'PY'
import hashlib, json, sys
prev = "0" * 64
recs = [
    ("2026-10-20T01:00:00.000Z", "agent-start", {"message": "started"}),
    ("2026-10-20T02:00:00.000Z", "sign-done", {"document": {"name": "Báo cáo, \"quý\" 3.pdf"},
        "cert": {"subject": "CN=Nguyễn Văn A", "issuer": "O=Ban Cơ yếu Chính phủ", "fingerprint": "AB:CD:EF:01",
                 "kind": "personal"}, "role": "approve", "decision": "allowed"}),
    ("2026-10-21T02:00:00.000Z", "sign-denied", {"document": {"name": "=HYPERLINK(\"x\")"},
        "cert": {"subject": "CN=UBND", "fingerprint": "99:88", "kind": "organization"}, "role": "issue",
        "decision": "denied", "reason": "no leader signature\nsecond line", "article": "Điều 21.4"}),
    ("2026-11-10T02:00:00.000Z", "sign-done", {"document": {"name": "b.pdf"},
        "cert": {"subject": "CN=UBND", "issuer": "O=Other CA", "fingerprint": "99:88", "kind": "organization"},
        "role": "issue", "decision": "allowed"}),
    ("2026-11-20T02:00:00.000Z", "token-removed", {"token": {"label": "T1"}}),
]
with open(sys.argv[1], "w", encoding="utf-8") as f:
    for i, (t, ev, data) in enumerate(recs, 1):
        body = json.dumps(data, ensure_ascii=False, separators=(",", ":"))[1:-1]
        # The first record names the chain, as the agent writes it.
        chain = ',"chain":"0123456789abcdef0123456789abcdef"' if i == 1 else ""
        line = '{"v":1,"seq":%d,"time":"%s","prev":"%s","event":"%s"%s,"caller":{"uid":1000,"pid":7,"exe":"/x"},%s}' % (
            i, t, prev, ev, chain, body)
        f.write(line + "\n")
        prev = hashlib.sha256(line.encode()).hexdigest()
PY

export LC_ALL=C.UTF-8

# verify: intact, then tampered.
"$KYSOCTL" audit verify --log "$log" >"$dir/out" || fail "verify of an intact log failed: $(cat "$dir/out")"
grep -q "intact: 5 records" "$dir/out" || fail "verify output: $(cat "$dir/out")"
KYSO_AUDIT_LOG=$log "$KYSOCTL" audit verify >/dev/null || fail "KYSO_AUDIT_LOG not honoured"
# A quarantine file a crashed start left unrecorded (the agent records it when it next starts): the log is
# intact, and verify says the file is there.
q=audit.jsonl.torn-20261203T010203Z.at-1234.pending
printf 'torn' >"$dir/$q"
"$KYSOCTL" audit verify --log "$log" >"$dir/out" || fail "verify with a .pending quarantine file: $(cat "$dir/out")"
grep -q "Note: $q holds the unfinished end of the log" "$dir/out" || fail "pending quarantine: $(cat "$dir/out")"
"$KYSOCTL" audit verify --json --log "$log" >"$dir/out"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["pending_quarantine"] == [sys.argv[2]], d' \
        "$dir/out" "$q" || fail "verify --json: pending_quarantine"
rm "$dir/$q"
cp "$log" "$dir/orig"
sed -i 's/b\.pdf/c.pdf/' "$log"
set +e; "$KYSOCTL" audit verify --log "$log" >"$dir/out"; rc=$?; set -e
[ "$rc" -eq 1 ] || fail "verify exit code $rc for a changed log, expected 1"
grep -q "Record seq 4" "$dir/out" || fail "verify does not name the changed record: $(cat "$dir/out")"
set +e; "$KYSOCTL" audit verify --json --log "$log" >"$dir/out"; set -e
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["intact"] is False and d["problem"]=="changed" and d["seq"]==4, d' "$dir/out" \
        || fail "verify --json"
cp "$dir/orig" "$log"

# A log that cannot be read: each verb names the file and says what to do, exit 3 (an I/O error).
unreadable() { # $1: what, $2: the text of the advice, $3...: the --log arguments
        local what=$1 advice=$2 verb rc
        shift 2
        for verb in "verify" "show" "report --month 2026-11"; do
                # shellcheck disable=SC2086
                set +e; "$KYSOCTL" audit $verb "$@" >/dev/null 2>"$dir/err"; rc=$?; set -e
                [ "$rc" -eq 3 ] || fail "audit $verb of $what: exit $rc, expected 3"
                grep -qF "$dir/" "$dir/err" || fail "audit $verb of $what does not name the file: $(cat "$dir/err")"
                grep -qF "$advice" "$dir/err" || fail "audit $verb of $what does not say what to do: $(cat "$dir/err")"
        done
}
mkdir "$dir/folder.jsonl"
unreadable "a folder" "names the log file" --log "$dir/folder.jsonl"
rmdir "$dir/folder.jsonl"
unreadable "a path through a file" "names the log file" --log "$log/"
if [ "$(id -u)" != 0 ]; then
        cp "$log" "$dir/locked.jsonl"
        chmod 000 "$dir/locked.jsonl"
        unreadable "a file without read permission" "as root" --log "$dir/locked.jsonl"
        rm -f "$dir/locked.jsonl"
fi

# Output to a full disk: each verb says its output is incomplete and exits 3, never 0 with nothing written.
if [ -w /dev/full ]; then
        for verb in "verify" "verify --json" "show" "show --json" "show --csv" "report --month 2026-11" \
                "report --month 2026-11 --format csv"; do
                # shellcheck disable=SC2086
                set +e; "$KYSOCTL" audit $verb --log "$log" >/dev/full 2>"$dir/err"; rc=$?; set -e
                [ "$rc" -eq 3 ] || fail "audit $verb to a full disk: exit $rc, expected 3"
                grep -q "cannot write the output" "$dir/err" || fail "audit $verb to a full disk: $(cat "$dir/err")"
        done
fi

# An empty log (the agent made it, nothing recorded yet): intact, and said so without a seq 0.
: >"$dir/empty.jsonl"
"$KYSOCTL" audit verify --log "$dir/empty.jsonl" >"$dir/out" || fail "verify of an empty log: $(cat "$dir/out")"
grep -q "no record yet" "$dir/out" && ! grep -q "seq 0" "$dir/out" || fail "verify of an empty log: $(cat "$dir/out")"

# A line that is not a record (a torn tail here) has no sequence number: verify does not make one up.
cp "$dir/orig" "$dir/torn.jsonl"
printf '{"v":1,"seq":6,"time":"2026-' >>"$dir/torn.jsonl"
set +e; "$KYSOCTL" audit verify --log "$dir/torn.jsonl" >"$dir/out"; rc=$?; set -e
[ "$rc" -eq 1 ] || fail "verify of a torn tail: exit $rc, expected 1"
grep -q "torn.jsonl, line 6" "$dir/out" || fail "verify of a torn tail does not name the line: $(cat "$dir/out")"
! grep -q "seq 0" "$dir/out" || fail "verify names a seq 0 that no record has: $(cat "$dir/out")"

# The journal's copy of the head, from an export file (journald itself is not needed for the comparison).
hash=$("$KYSOCTL" audit verify --json --log "$log" | python3 -c 'import json,sys; print(json.load(sys.stdin)["last_hash"])')
printf 'KYSO_AUDIT_SEQ=5\nKYSO_AUDIT_HASH=%s\nKYSO_AUDIT_FILE=%s\n\n' "$hash" "$log" >"$dir/export"
"$KYSOCTL" audit verify --journal-export "$dir/export" --log "$log" >"$dir/out" || fail "journal head matches"
grep -q "seq 5) matches" "$dir/out" || fail "journal match not reported: $(cat "$dir/out")"
head -n 4 "$dir/orig" >"$log"
set +e; "$KYSOCTL" audit verify --journal-export "$dir/export" --log "$log" >"$dir/out"; rc=$?; set -e
[ "$rc" -eq 1 ] || fail "a cut tail must fail verify --journal-export (exit $rc)"
grep -q "cut off" "$dir/out" || fail "cut tail message: $(cat "$dir/out")"
cp "$dir/orig" "$log"
# A copy of the log elsewhere (an auditor's machine, a ward's central server), against entries that name the
# desk's path: compared by the log's chain, and the output says where the journal saw it.
chain=$(head -n 1 "$log" | python3 -c 'import json,sys; print(json.load(sys.stdin)["chain"])')
mkdir -p "$dir/copy"
cp "$log" "$dir/copy/audit.jsonl"
desk=/home/motcua/.local/state/kyso/audit.jsonl
printf 'KYSO_AUDIT_SEQ=5\nKYSO_AUDIT_HASH=%s\nKYSO_AUDIT_CHAIN=%s\nKYSO_AUDIT_FILE=%s\n\n' "$hash" "$chain" "$desk" \
        >"$dir/export-central"
"$KYSOCTL" audit verify --journal-export "$dir/export-central" --log "$dir/copy/audit.jsonl" >"$dir/out" ||
        fail "a copy elsewhere: verify --journal-export by the log's chain: $(cat "$dir/out")"
grep -q "seq 5) matches" "$dir/out" && grep -q "$desk" "$dir/out" || fail "a copy elsewhere: $(cat "$dir/out")"
# Journal files (as journald or systemd-journal-remote write them) in a folder: the same comparison.
remote=$(ls /usr/lib/systemd/systemd-journal-remote /lib/systemd/systemd-journal-remote 2>/dev/null | head -n 1 || true)
if [ -n "$remote" ]; then
        mkdir "$dir/journal"
        printf '__REALTIME_TIMESTAMP=1790000000000000\n__MONOTONIC_TIMESTAMP=1\n_BOOT_ID=00112233445566778899aabbccddeeff\nMESSAGE=x\nKYSO_AUDIT_SEQ=6\nKYSO_AUDIT_HASH=%s\nKYSO_AUDIT_FILE=%s\n\n' \
                "$hash" "$log" >"$dir/export6"
        "$remote" --output="$dir/journal/remote.journal" "$dir/export6" 2>/dev/null
        set +e; "$KYSOCTL" audit verify --journal-directory "$dir/journal" --log "$log" >"$dir/out"; rc=$?; set -e
        [ "$rc" -eq 1 ] && grep -q "cut off" "$dir/out" || fail "verify --journal-directory: exit $rc: $(cat "$dir/out")"
else
        echo "systemd-journal-remote not installed: --journal-directory not checked"
fi
set +e; "$KYSOCTL" audit verify --journal-directory "$dir" --log "$log" >/dev/null 2>&1; rc=$?; set -e
[ "$rc" -eq 3 ] || fail "verify --journal-directory without journal files: exit $rc, expected 3"
# The journal's copy given by hand and wrong: each message names what was given and says what it should be.
journal_given_wrong() { # $1: what, $2: text the message must have, $3...: the options
        local what=$1 want=$2 rc
        shift 2
        set +e; "$KYSOCTL" audit verify "$@" --log "$log" >/dev/null 2>"$dir/err"; rc=$?; set -e
        [ "$rc" -eq 3 ] || fail "verify with $what: exit $rc, expected 3"
        grep -qF -- "$want" "$dir/err" || fail "verify with $what: '$want' not in: $(cat "$dir/err")"
}
journal_given_wrong "an export file that is not there" "$dir/no-export" --journal-export "$dir/no-export"
journal_given_wrong "an export file that is a folder" "$dir: Is a directory" --journal-export "$dir"
head -c 300 /dev/urandom | tr -d '\n=' >"$dir/garbage.export"
journal_given_wrong "an export file that is not an export" "journalctl -o export" --journal-export "$dir/garbage.export"
printf 'MESSAGE=hello\n\n' >"$dir/other.export"
journal_given_wrong "an export without the log's entries" "$dir/other.export has no entry of the audit log" \
        --journal-export "$dir/other.export"
journal_given_wrong "a journal folder that is not there" "$dir/no-journal" --journal-directory "$dir/no-journal"
journal_given_wrong "a journal folder without the log's entries" "the journal files in $dir have no entry" \
        --journal-directory "$dir"
# --journal on a log the journal never saw (or without journald): cannot compare, exit 3.
set +e; "$KYSOCTL" audit verify --journal --log "$log" >/dev/null 2>"$dir/err"; rc=$?; set -e
[ "$rc" -eq 3 ] || fail "verify --journal without journal records: exit $rc, expected 3"
grep -q "cannot be compared\|cannot read the journal" "$dir/err" || fail "journal message: $(cat "$dir/err")"

# Wrong filters and options are usage errors that say what is wrong, not an empty table or a silent pick.
usage_error() { # $1: text the message must have, $2...: the arguments
        local want=$1 rc
        shift
        set +e; "$KYSOCTL" audit "$@" --log "$log" >"$dir/out" 2>"$dir/err"; rc=$?; set -e
        [ "$rc" -eq 2 ] || fail "audit $*: exit $rc, expected 2 (out: $(head -2 "$dir/out"))"
        grep -qF -- "$want" "$dir/err" || fail "audit $*: '$want' not in: $(cat "$dir/err")"
}
usage_error "unknown role 'boss'" show --role boss
usage_error "'zz:xx' is not the beginning of a SHA-256 fingerprint" show --cert zz:xx
usage_error "--month and --year cannot be given together" report --month 2026-11 --year 2026
usage_error "--json and --csv cannot be given together" show --json --csv
usage_error "up to the year 9998" report --year 9999
usage_error "up to the year 9998" report --month 9999-12
usage_error "unexpected argument 'extra'" show extra
usage_error "--since 2026-11-05 is not before --until 2026-11-01" show --since 2026-11-05 --until 2026-11-01
usage_error "unexpected argument 'extra'" verify extra
for verb in show verify "report --month 2026-11"; do
        # shellcheck disable=SC2086
        set +e; "$KYSOCTL" audit $verb --log "" >/dev/null 2>"$dir/err"; rc=$?; set -e
        [ "$rc" -eq 2 ] && grep -q -- "--log needs" "$dir/err" || fail "audit $verb --log '': exit $rc: $(cat "$dir/err")"
done

# show: table, filters, JSON, CSV.
"$KYSOCTL" audit show --log "$log" >"$dir/out"
[ "$(wc -l <"$dir/out")" -eq 6 ] || fail "table should have a header and 5 rows: $(cat "$dir/out")"
grep -q "no leader signature?second line" "$dir/out" || fail "control characters must not reach the terminal"

"$KYSOCTL" audit show --log "$log" --json >"$dir/all.json"
python3 - "$dir/all.json" <<'PY' || fail "show --json"
import json, sys
d = json.load(open(sys.argv[1]))
assert [r["seq"] for r in d] == [1, 2, 3, 4, 5], d
assert d[1]["document"]["name"] == 'Báo cáo, "quý" 3.pdf'
PY

count() { "$KYSOCTL" audit show --log "$log" --json "$@" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'; }
[ "$(count --event sign-done)" -eq 2 ] || fail "--event"
[ "$(count --role issue)" -eq 2 ] || fail "--role"
[ "$(count --cert 9988)" -eq 2 ] || fail "--cert without colons"
[ "$(count --cert ab:cd)" -eq 1 ] || fail "--cert prefix with colons, any case"
[ "$(count --since 2026-10-21T00:00Z)" -eq 3 ] || fail "--since"
[ "$(count --until 2026-10-20T23:00Z)" -eq 2 ] || fail "--until"
[ "$(count --since 2026-10-21T00:00Z --until 2026-11-15T00:00Z --event sign-done)" -eq 1 ] || fail "combined"
[ "$(TZ=UTC count --until 2026-10-21)" -eq 3 ] || fail "--until DATE includes that whole day"

"$KYSOCTL" audit show --log "$log" --csv >"$dir/out.csv"
python3 - "$dir/out.csv" <<'PY' || fail "show --csv"
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1], newline="", encoding="utf-8")))
assert len(rows) == 5, rows
assert rows[1]["document"] == 'Báo cáo, "quý" 3.pdf', rows[1]
assert rows[2]["document"] == "'=HYPERLINK(\"x\")", rows[2]["document"]   # formula guarded
assert rows[2]["reason"] == "no leader signature\nsecond line", rows[2]["reason"]
assert rows[1]["cert_fingerprint"] == "AB:CD:EF:01"
PY

# Usage errors: exit 2; no log: exit 1.
set +e
"$KYSOCTL" audit show --log "$log" --event nonsense >/dev/null 2>&1; [ $? -eq 2 ] || fail "unknown event: exit 2"
"$KYSOCTL" audit show --log "$log" --since yesterday >/dev/null 2>&1; [ $? -eq 2 ] || fail "bad date: exit 2"
"$KYSOCTL" audit report --month 2026-13 --log "$log" >/dev/null 2>&1; [ $? -eq 2 ] || fail "bad month: exit 2"
"$KYSOCTL" audit report --log "$log" >/dev/null 2>&1; [ $? -eq 2 ] || fail "report without period: exit 2"
"$KYSOCTL" audit frobnicate >/dev/null 2>&1; [ $? -eq 2 ] || fail "unknown command: exit 2"
"$KYSOCTL" audit verify --log "$dir/none.jsonl" >/dev/null 2>&1; [ $? -eq 1 ] || fail "missing log: exit 1"
set -e

# report: text and HTML; a holidays file moves the deadline.
printf '2026-11-20\n' >"$dir/holidays"
"$KYSOCTL" audit report --month 2026-11 --org "UBND phường Uông Bí" --holidays "$dir/holidays" --log "$log" >"$dir/r.txt"
python3 -c 'import sys; open(sys.argv[1], encoding="utf-8", errors="strict").read()' "$dir/r.txt" || fail "report is not UTF-8"
grep -q "^UBND phường Uông Bí$" "$dir/r.txt" || fail "org"
grep -q "Thời hạn gửi báo cáo: Thứ Hai 23/11/2026" "$dir/r.txt" || fail "deadline moved past the holiday and weekend"
grep -q "Tổng số lượt ký số thành công: 2" "$dir/r.txt" || fail "signatures in the window"
grep -q "toàn vẹn (5 bản ghi" "$dir/r.txt" || fail "integrity line"
# Any ward: the policy's [report] gives the organisation, place, addressees and signer's title; options
# override them; nothing of Uông Bí is left.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=root -days 30 \
        -keyout "$dir/root.key" -out "$dir/root.pem" 2>/dev/null || fail "openssl req"
cat >"$dir/policy.conf" <<EOF
[trust]
root = $dir/root.pem
[report]
organization = UBND xã Tân Lập
place = Tân Lập
addressee = UBND huyện Đan Phượng
addressee = Phòng Văn hóa - Thông tin
signer-title = CHỦ TỊCH
EOF
KYSO_POLICY_INSECURE_SKIP_OWNER_CHECK=1 "$KYSOCTL" audit report --month 2026-11 --policy "$dir/policy.conf" \
        --log "$log" >"$dir/w.txt" 2>/dev/null
grep -q "^UBND xã Tân Lập$" "$dir/w.txt" || fail "[report] organization"
grep -q "^Tân Lập, ngày" "$dir/w.txt" || fail "[report] place"
grep -q "^Kính gửi: - UBND huyện Đan Phượng;$" "$dir/w.txt" || fail "[report] first addressee"
grep -q "^          - Phòng Văn hóa - Thông tin\.$" "$dir/w.txt" || fail "[report] last addressee"
grep -q "CHỦ TỊCH$" "$dir/w.txt" || fail "[report] signer-title"
if grep -q "Uông Bí" "$dir/w.txt"; then fail "another ward's report names Uông Bí"; fi
KYSO_POLICY_INSECURE_SKIP_OWNER_CHECK=1 "$KYSOCTL" audit report --month 2026-11 --policy "$dir/policy.conf" \
        --place "Hạ Mỗ" --addressee "UBND huyện Mê Linh" --signer-title "PHÓ CHỦ TỊCH" --log "$log" >"$dir/w.txt" 2>/dev/null
grep -q "^Hạ Mỗ, ngày" "$dir/w.txt" || fail "--place overrides [report]"
grep -q "^Kính gửi: - UBND huyện Mê Linh\.$" "$dir/w.txt" || fail "--addressee overrides [report]"
grep -q "PHÓ CHỦ TỊCH$" "$dir/w.txt" || fail "--signer-title overrides [report]"
set +e; "$KYSOCTL" audit report --month 2026-11 --policy "$dir/none.conf" --log "$log" >/dev/null 2>&1; rc=$?; set -e
[ "$rc" -eq 2 ] || fail "a --policy that cannot be read: exit 2, not $rc"
# A holidays file that is not there (the man page's example names /etc/kyso/holidays, which the
# administrator writes): the message says how to make one.
set +e; "$KYSOCTL" audit report --month 2026-11 --holidays "$dir/holidays-none" --log "$log" >/dev/null 2>"$dir/err"
rc=$?; set -e
[ "$rc" -eq 3 ] || fail "a --holidays file that is not there: exit $rc, expected 3"
grep -q "holidays-vn.example" "$dir/err" || fail "a missing holidays file does not say how to make one: $(cat "$dir/err")"
# A period that has not ended yet: the report is made, and says on stderr that its figures are not final.
"$KYSOCTL" audit report --month 2099-01 --log "$log" >/dev/null 2>"$dir/err" || fail "report of a future month"
grep -q "14/01/2099 (Vietnam time) and is not over" "$dir/err" || fail "report of a period not over: $(cat "$dir/err")"
# A log that begins after the period began (the agent installed, or the log started again, within it): the
# report does not count the time before as a time without signatures.
"$KYSOCTL" audit report --month 2026-11 --log "$log" >"$dir/r.txt" 2>"$dir/err" || fail "report: $(cat "$dir/err")"
grep -q "Nhật ký bắt đầu từ 20/10/2026 08:00" "$dir/r.txt" || fail "report of a period the log began in: $(head -20 "$dir/r.txt")"
grep -q "begins on 20/10/2026 08:00" "$dir/err" || fail "report of a period the log began in, stderr: $(cat "$dir/err")"
"$KYSOCTL" audit report --month 2026-12 --log "$log" >"$dir/r.txt" 2>/dev/null
! grep -q "Nhật ký bắt đầu" "$dir/r.txt" || fail "report of a period after the log began names its start"
"$KYSOCTL" audit verify --verbose --log "$log" >/dev/null || fail "audit verify --verbose"
# An auditor's machine has no policy: the report is made without a word about it (the default policy is
# optional), not with a warning that calls the absent file invalid.
KYSO_POLICY=$dir/absent.conf "$KYSOCTL" audit report --month 2026-11 --log "$log" >/dev/null 2>"$dir/err" \
        || fail "report without a policy: $(cat "$dir/err")"
! grep -q "policy" "$dir/err" || fail "report without a default policy warns: $(cat "$dir/err")"
"$KYSOCTL" audit report -v --month 2026-11 --log "$log" >/dev/null 2>&1 || fail "audit report -v"
"$KYSOCTL" audit report --month 2026-11 --format html --log "$log" >"$dir/r.html"
grep -q "<svg" "$dir/r.html" || fail "html chart"
# A broken log still gives the report, saying so, with exit 1.
sed -i 's/b\.pdf/c.pdf/' "$log"
set +e; "$KYSOCTL" audit report --month 2026-11 --log "$log" >"$dir/r.txt" 2>/dev/null; rc=$?; set -e
[ "$rc" -eq 1 ] || fail "report on a broken log: exit $rc"
grep -q "KHÔNG TOÀN VẸN" "$dir/r.txt" || fail "report must say the log is broken"
cp "$dir/orig" "$log"

# A broken log's CSV report says so in the file too, not only in the exit code.
sed -i 's/b\.pdf/c.pdf/' "$log"
set +e; "$KYSOCTL" audit report --month 2026-11 --format csv --log "$log" >"$dir/r.csv" 2>/dev/null; set -e
grep -q "^log,integrity,.*KHÔNG TOÀN VẸN" "$dir/r.csv" || fail "CSV report of a broken log: $(head -3 "$dir/r.csv")"
cp "$dir/orig" "$log"
# A record the report cannot read (its chain intact: the hashes were made again over a line that is not
# JSON) is left out of the figures: every format says so, and the exit status is 1, as for show.
python3 - "$dir/badjson.jsonl" <<'PY2'
import hashlib, sys
prev = "0" * 64
with open(sys.argv[1], "wb") as f:
    for i, rest in enumerate([b',"chain":"0123456789abcdef0123456789abcdef"', b',garbage', b''], 1):
        line = b'{"v":1,"seq":%d,"time":"2026-11-0%dT02:00:00.000Z","prev":"%s","event":"sign-done"%s}' % (
            i, i, prev.encode(), rest)
        f.write(line + b"\n")
        prev = hashlib.sha256(line).hexdigest()
PY2
for fmt in text html csv; do
        set +e; "$KYSOCTL" audit report --month 2026-11 --format $fmt --log "$dir/badjson.jsonl" >"$dir/r.out" 2>"$dir/err"
        rc=$?; set -e
        [ "$rc" -eq 1 ] || fail "report ($fmt) with a line it cannot read: exit $rc, expected 1"
        grep -q "1 line(s) of the log could not be read" "$dir/err" || fail "report ($fmt) stderr: $(cat "$dir/err")"
        grep -Eq "1 dòng nhật ký không đọc được|^log,unreadable-lines,,1" "$dir/r.out" \
                || fail "report ($fmt) does not say a line was left out: $(cat "$dir/r.out")"
done

# Refusals an English kysod recorded with a code: a certificate check's (certificate-unusable with its
# detail_code and detail_* parameters) and a document's (sign-failed, BadDocument). A Vietnamese reader gets
# them in Vietnamese from the code, by audit show and (their labels) by audit report; the record's English
# text (reason, reason_detail) is not shown to them.
coded_refusals() {
        local coded=$dir/coded.jsonl out
        python3 - "$coded" <<'PY'
import hashlib, json, sys
who, exp = "Phạm Văn Hết Hạn", "2026-11-06 19:03 UTC"
def cert(code, **params):
    data = {"reason_code": "certificate-unusable", "reason_certificate": who, "reason_status": "revoked",
            "reason_detail": "English words of the check", "reason_detail_code": code, "language": "en"}
    data.update({"reason_detail_" + k: v for k, v in params.items()})
    return ("sign-denied", {"cert": {"subject": "CN=" + who, "fingerprint": "AA:01", "kind": "personal"},
                            "role": "approve", "decision": "denied", "article": "Art. 2.8, 3.2.a",
                            "reason": "The certificate cannot sign now: English words of the check", "data": data})
def doc(code, **params):
    data = {"reason_code": code, "language": "en"}
    data.update({"reason_" + k: v for k, v in params.items()})
    return ("sign-failed", {"document": {"name": "qd.pdf"}, "role": "approve", "decision": "failed",
                            "error": "org.kyso.Error.BadDocument", "reason": "English words of the document",
                            "data": data})
recs = [
    cert("certificate-expired", certificate=who, time=exp),
    cert("certificate-not-yet-valid", certificate=who, time=exp),
    cert("certificate-revoked", certificate=who, time="2026-10-01 00:00 UTC", why="revoked (key compromise)",
         expired=exp),
    cert("ca-certificate-revoked", certificate="Kyso Test Issuing CA", time="2026-10-01 00:00 UTC", why="x"),
    cert("ca-certificate-expired", ca="Kyso Test Issuing CA", certificate=who),
    cert("ca-certificate-not-yet-valid", ca="Kyso Test Issuing CA", certificate=who),
    cert("certificate-untrusted", certificate=who, why="unable to get local issuer certificate"),
    cert("certificate-key-usage", certificate=who, missing="nonRepudiation"),
    cert("revocation-no-server", certificate=who, mode="ocsp"),
    cert("revocation-unknown", certificate=who, why="timeout"),
    doc("document-empty"), doc("document-too-large", limit="2 GiB"), doc("document-stalled", seconds="30"),
    doc("document-unreadable"), doc("pdf-encrypted"), doc("pdf-damaged"), doc("pdf-certified-no-changes"),
    doc("pdf-unsupported"),
]
prev = "0" * 64
with open(sys.argv[1], "w", encoding="utf-8") as f:
    for i, (ev, data) in enumerate(recs, 1):
        body = json.dumps(data, ensure_ascii=False, separators=(",", ":"))[1:-1]
        line = '{"v":1,"seq":%d,"time":"2026-11-%02dT02:00:00.000Z","prev":"%s","event":"%s",%s}' % (
            i, (i + 1) // 2, prev, ev, body)  # within the report's window of November (15/10 to 14/11)
        f.write(line + "\n")
        prev = hashlib.sha256(line.encode()).hexdigest()
PY
        out=$(LC_ALL=vi_VN.UTF-8 COLUMNS=1000 "$KYSOCTL" audit show --log "$coded")
        for want in \
                "Chứng thư số không thể ký lúc này: Chứng thư số của Phạm Văn Hết Hạn đã hết hạn ngày 2026-11-06 19:03 UTC" \
                "Chứng thư số của Phạm Văn Hết Hạn chưa có hiệu lực: có hiệu lực từ 2026-11-06 19:03 UTC" \
                "Chứng thư số của Phạm Văn Hết Hạn đã bị thu hồi ngày 2026-10-01 00:00 UTC: revoked (key compromise)." \
                "Chứng thư số này cũng đã hết hạn, vào ngày 2026-11-06 19:03 UTC." \
                "Chứng thư số CA Kyso Test Issuing CA đã bị thu hồi ngày 2026-10-01 00:00 UTC" \
                "Chứng thư số CA Kyso Test Issuing CA (cấp cho Phạm Văn Hết Hạn) đã hết hạn." \
                "Chứng thư số CA Kyso Test Issuing CA (cấp cho Phạm Văn Hết Hạn) chưa có hiệu lực." \
                "Chứng thư số của Phạm Văn Hết Hạn không dẫn tới chứng thư số gốc tin cậy (unable to get local issuer certificate)" \
                "mục đích sử dụng khóa thiếu nonRepudiation" \
                "chứng thư số không ghi máy chủ OCSP nào" \
                "Không xác định được trạng thái thu hồi của Phạm Văn Hết Hạn nên từ chối ký: timeout." \
                "Văn bản trống nên không có gì để ký." \
                "Văn bản lớn hơn 2 GiB, mức lớn nhất mà tác tử ký" \
                "không nhận thêm được gì trong 30 giây" \
                "Không đọc được văn bản." \
                "Tệp PDF được bảo vệ bằng mật khẩu" \
                "Tệp PDF bị hỏng" \
                "Tệp PDF đã được tác giả chứng thực" \
                "Tác tử không thể ký tệp PDF này"; do
                grep -qF -- "$want" <<<"$out" || fail "audit show in Vietnamese of a coded refusal: '$want' not in: $out"
        done
        ! grep -q "English words" <<<"$out" || fail "audit show in Vietnamese shows the English text: $out"
        out=$(LC_ALL=vi_VN.UTF-8 "$KYSOCTL" audit report --month 2026-11 --log "$coded")
        for want in "chứng thư số đã hết hạn (Art. 2.8, 3.2.a): 1" "chứng thư số bị thu hồi (Art. 2.8, 3.2.a): 1" \
                "tệp PDF bị hỏng: 1" "văn bản trống: 1" "tệp PDF không ký được: 1"; do
                grep -qiF -- "$want" <<<"$out" || fail "audit report in Vietnamese: label '$want' not in: $out"
        done
        ! grep -q "English words" <<<"$out" || fail "audit report in Vietnamese shows the English text: $out"
}

# Vietnamese messages when the locale asks for them (skipped when the locale is not installed).
if locale -a 2>/dev/null | grep -qi '^vi_VN.utf8$'; then
        LC_ALL=vi_VN.UTF-8 "$KYSOCTL" audit verify --log "$log" >"$dir/out"
        grep -q "toàn vẹn" "$dir/out" || fail "Vietnamese verify output: $(cat "$dir/out")"
        LC_ALL=vi_VN.UTF-8 "$KYSOCTL" audit show --log "$log" | head -1 | grep -q "SỰ KIỆN" || fail "Vietnamese table header"
        coded_refusals
else
        echo "vi_VN.UTF-8 not installed: Vietnamese output not checked"
fi
echo "all kysoctl audit checks passed"
