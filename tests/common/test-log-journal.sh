#!/usr/bin/env bash
# test-log-journal.sh LOG_CLIENT: common/log.c writes structured entries to the journal when stderr is the
# journal stream (JOURNAL_STREAM names stderr's device and inode, as systemd sets it), and plain lines to
# stderr otherwise, or when the journal cannot be reached (TAP). The journal is a fake (fake-journald.py)
# on /run/systemd/journal/socket inside a private mount namespace: the machine's journal is not touched and
# no journald is needed. Skipped only when no private mount namespace can be had (not root, no user
# namespaces).
set -uo pipefail

. "${KYSO_SOURCE_ROOT:?run through meson test}/tests/fixtures/tap.sh"
client=${1:?usage: test-log-journal.sh LOG_CLIENT}
KYSOD=${KYSOD:?}

if [[ ${KYSO_LOG_TEST_NS:-} != 1 ]]; then
        for ns in "unshare --mount --propagation private" \
                "unshare --user --map-root-user --mount --propagation private"; do
                # shellcheck disable=SC2086 # word splitting of the command on purpose
                if $ns true 2>/dev/null; then
                        KYSO_LOG_TEST_NS=1 exec $ns "$0" "$@"
                fi
        done
        echo "1..0 # SKIP no private mount namespace for a fake journal (needs root or user namespaces)"
        exit 0
fi

T=$(mktemp -d "${TMPDIR:-/tmp}/kyso-log-test.XXXXXX") || bail_out "mktemp failed"
FJ=
trap '[[ -n $FJ ]] && kill "$FJ" 2>/dev/null; rm -rf -- "$T"' EXIT
mount -t tmpfs tmpfs /run || bail_out "cannot mount a tmpfs on /run in the namespace"
mkdir -p /run/systemd/journal
python3 "$KYSO_SOURCE_ROOT/tests/common/fake-journald.py" /run/systemd/journal/socket "$T/journal" &
FJ=$!
for ((i = 0; i < 200; i++)); do
        [[ -e $T/journal.ready ]] && break
        sleep 0.05
done
[[ -e $T/journal.ready ]] || bail_out "the fake journal did not start"
: >"$T/journal"

stream_of() { stat -c '%d:%i' "$1"; }
# entry PATTERN: the journal entries (fields one per line, then a line '.') with a line matching PATTERN,
# waiting up to 5 s for the fake journal to write it down. Entries arrive in the order they were sent.
entry() {
        local i e
        for ((i = 0; i < 100; i++)); do
                e=$(awk -v pat="$1" '
                        $0 == "." { if (hit) printf "%s", e; e = ""; hit = 0; next }
                        { e = e $0 "\n"; if ($0 ~ pat) hit = 1 }' "$T/journal")
                [[ -n $e ]] && break
                sleep 0.05
        done
        printf '%s' "$e"
}


# 1. stderr is the journal stream: structured entries, nothing on stderr.
: >"$T/err1"
JOURNAL_STREAM=$(stream_of "$T/err1") "$client" one 2>>"$T/err1"
e=$(entry '^MESSAGE=structured hello one$')
expect_match "journal stream: the message goes to the journal" "^MESSAGE=structured hello one$" "$e"
expect_match "journal stream: its priority (notice)" "^PRIORITY=5$" "$e"
expect_match "journal stream: the program's identifier" "^SYSLOG_IDENTIFIER=kyso-log-client$" "$e"
expect_match "journal stream: the caller's MESSAGE_ID" "^MESSAGE_ID=5b1c1e2d6c2a4f0e9a3d7b8c9d0e1f20$" "$e"
expect_match "journal stream: the caller's own field" "^KYSO_TEST_FIELD=field value$" "$e"
expect_match "journal stream: where in the code" "^CODE_FILE=.*log-client\\.c$" "$e"
expect_match "journal stream: the function" "^CODE_FUNC=main$" "$e"
expect_eq "journal stream: one CODE_FILE, CODE_LINE and CODE_FUNC each (not also log.c's own)" "1 1 1" \
        "$(grep -c '^CODE_FILE=' <<<"$e") $(grep -c '^CODE_LINE=' <<<"$e") $(grep -c '^CODE_FUNC=' <<<"$e")"
e=$(entry '^MESSAGE=an error for one')
expect_match "journal stream: an error with %m" "^MESSAGE=an error for one: No such file or directory$" "$e"
expect_match "journal stream: the error's priority" "^PRIORITY=3$" "$e"
expect_match "journal stream: the error's ERRNO" "^ERRNO=2$" "$e"
expect_eq "journal stream: nothing on stderr" "" "$(cat "$T/err1")"

# 2. JOURNAL_STREAM names another file (inherited, stderr redirected since): stderr, not the journal.
: >"$T/other"
JOURNAL_STREAM=$(stream_of "$T/other") "$client" two 2>"$T/err2"
expect_match "another stream: plain lines on stderr" "^kyso-log-client: structured hello two$" "$(cat "$T/err2")"

# 3. No JOURNAL_STREAM (not under systemd): stderr.
env -u JOURNAL_STREAM "$client" three 2>"$T/err3"
expect_match "no JOURNAL_STREAM: stderr" "^kyso-log-client: an error for three: No such file or directory$" "$(cat "$T/err3")"

# 4. kysod itself: a broken configuration is reported to the journal, as kysod.
printf 'frobnicate = yes\n' >"$T/bad.conf"
: >"$T/err4"
JOURNAL_STREAM=$(stream_of "$T/err4") "$KYSOD" --config "$T/bad.conf" 2>>"$T/err4"
e=$(entry "^MESSAGE=.*unknown key 'frobnicate'")
expect_match "kysod: its error in the journal" "^MESSAGE=$T/bad.conf:1: unknown key 'frobnicate'" "$e"
expect_match "kysod: as kysod, priority err" "^SYSLOG_IDENTIFIER=kysod$" "$e"
expect_eq "kysod: nothing on stderr" "" "$(cat "$T/err4")"
# kysod's entries came after those of 2. and 3.: these would be in by now.
expect "another stream: nothing in the journal" bash -c "! grep -q 'hello two' '$T/journal'"
expect "no JOURNAL_STREAM: nothing in the journal" bash -c "! grep -q 'for three' '$T/journal'"

# 4b. The audit log's copy of each record goes to the journal (seq and hash: what catches a cut tail).
"$client" audit "$T/audit.jsonl" 2>"$T/err4b"
e=$(entry '^KYSO_AUDIT_SEQ=1$')
expect_match "audit record: its copy in the journal" "^KYSO_AUDIT_HASH=[0-9a-f]{64}$" "$e"
expect_match "audit record: the log's path" "^KYSO_AUDIT_FILE=$T/audit.jsonl$" "$e"
expect_eq "audit record: no warning" "" "$(cat "$T/err4b")"

# 5. Nobody listens on the journal's socket any more: the message still reaches stderr, not lost.
kill "$FJ"
wait "$FJ" 2>/dev/null
FJ=
: >"$T/err5"
JOURNAL_STREAM=$(stream_of "$T/err5") "$client" five 2>>"$T/err5"
expect_match "journal not listening: stderr instead" "^kyso-log-client: structured hello five$" "$(cat "$T/err5")"

# 6. No journal socket at all (sd_journal_sendv() then drops messages without an error): stderr.
rm -f /run/systemd/journal/socket
: >"$T/err6"
JOURNAL_STREAM=$(stream_of "$T/err6") "$client" six 2>>"$T/err6"
expect_match "no journal socket: stderr instead" "^kyso-log-client: structured hello six$" "$(cat "$T/err6")"
# The audit record is still written, but its journal copy is missing, and that is said, once per log.
"$client" audit "$T/audit.jsonl" 2>"$T/err6b"
expect_eq "no journal socket: the audit record is written" 2 "$(wc -l <"$T/audit.jsonl")"
expect_match "no journal socket: the audit log says its journal copy is missing" \
        "Cannot send audit record 2 to the journal.*cannot tell a cut tail. Is systemd-journald running" "$(cat "$T/err6b")"

tap_done
