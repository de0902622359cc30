#!/usr/bin/env bash
# test-kysoctl-output.sh: what kysoctl writes, when it cannot be written (TAP, no agent). Standard output
# that fails (a full disk: /dev/full) is said, named after the command, and never ends in exit 0; a file
# kysoctl writes itself (verify --html) is replaced whole or left as it was, also on a full disk (a file size
# limit, ulimit -f, stands in for it without root).
set -uo pipefail

: "${KYSO_SOURCE_ROOT:?run through meson test}" "${KYSOCTL:?run through meson test}"
. "$KYSO_SOURCE_ROOT/tests/fixtures/tap.sh"
export LC_ALL=C.UTF-8
unset LANGUAGE

temp_dir output
cd "$T" || bail_out "cd failed"
export DBUS_SESSION_BUS_ADDRESS="unix:path=$T/no-bus"

# A draft policy (owner check skipped, as for any test) with one root, for the verbs that read one.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout root.key -out root.pem -days 365 \
        -subj "/CN=Root" -addext "basicConstraints=critical,CA:TRUE" 2>/dev/null || bail_out "openssl req"
mkdir roots && cp root.pem roots/
printf '[trust]\nroot = %s/roots\n[revocation]\nmode = crl\n' "$T" >policy.conf
export KYSO_POLICY=$T/policy.conf KYSO_POLICY_INSECURE_SKIP_OWNER_CHECK=1
echo '{"version": 1, "certificates": []}' >register.json
echo "văn bản" >qd.txt
echo "not a signature" >qd.txt.p7s

full() { "$KYSOCTL" "$@" >/dev/full; }
for args in "trust list" "trust list --json" "policy check" "certs --all --register register.json" \
        "certs --export csv --register register.json" "verify qd.txt" "verify --json qd.txt" "--help" \
        "sign --help"; do
        # shellcheck disable=SC2086
        out=$(full $args 2>&1)
        rc=$?
        verb=${args%% *}
        [[ $verb == --* ]] && verb="" || verb=" $verb"
        ((rc != 0)) && ok "$args >/dev/full: not exit 0 (exit $rc)" ||
                not_ok "$args >/dev/full: not exit 0 (exit $rc)"
        expect_match "$args >/dev/full: said, named after the command" \
                "^kysoctl$verb: cannot write the output: No space left on device" "$out"
done
# A refusal keeps its own exit code: the output lost does not make an invalid signature look like an error.
full verify qd.txt 2>/dev/null
expect_eq "verify of a bad signature >/dev/full: still exit 1" 1 "$?"
# ... nor a broken audit log (kysoctl(1): "a refusal keeps its 1"), said as for every verb.
printf '{"v":1,"seq":6,"time":"2026-' >torn.jsonl
out=$(full audit verify --log torn.jsonl 2>&1)
expect_eq "audit verify of a broken log >/dev/full: still exit 1" 1 "$?"
expect_match "  ... and the lost output said, named after the command" \
        "^kysoctl audit: cannot write the output: No space left on device" "$out"

# verify --html writes its report beside it and renames it over REPORT only once it is whole: on a full disk
# (no byte may be written, SIGXFSZ ignored so the write fails with EFBIG) an earlier report stays as it was.
/usr/bin/python3 "$KYSO_SOURCE_ROOT/tests/signing/make-pdf.py" new doc.pdf "Quyet dinh" || bail_out "make-pdf"
echo "old report" >report.html
out=$(ulimit -f 0 && trap '' XFSZ && "$KYSOCTL" verify --html report.html doc.pdf 2>&1 >/dev/null)
expect_eq "verify --html on a full disk: exit 3" 3 "$?"
# (in Vietnamese: --html makes kysoctl speak the report's language)
expect_match "  ... said" "^kysoctl verify: (Cannot write|Không ghi được) report\\.html" "$out"
expect_eq "  ... the earlier report is kept" "old report" "$(cat report.html)"
expect_eq "  ... and no temporary file is left" "" "$(find . -name 'report.html.*' -printf '%f ')"
"$KYSOCTL" verify --html report.html doc.pdf >/dev/null 2>&1
expect_eq "verify --html: a PDF without signatures ends 1" 1 "$?"
expect "  ... and its whole report replaces the earlier one" grep -q '</html>' report.html
expect_eq "  ... readable by all, as a file the person makes" "644" "$(stat -c %a report.html)"
# A REPORT that is the PDF verified (also through a link) is refused before anything is written: the report
# would replace the document.
cp doc.pdf keep.pdf && ln -s doc.pdf doc-link.html
for report in doc.pdf doc-link.html; do
        out=$("$KYSOCTL" verify --html "$report" doc.pdf 2>&1 >/dev/null)
        expect_eq "verify --html $report doc.pdf: a usage error" 2 "$?"
        expect_match "  ... said" "^kysoctl verify: .*$report is the document verified" "$out"
        expect "  ... and the PDF is intact" cmp -s doc.pdf keep.pdf
        cp keep.pdf doc.pdf
done
# A REPORT that is a symbolic link: the file it points to gets the report, the link stays.
echo "old" >real.html && ln -s real.html link.html
"$KYSOCTL" verify --html link.html doc.pdf >/dev/null 2>&1
expect "verify --html through a symbolic link: the link stays" test -L link.html
expect "  ... and the file it points to has the report" grep -q '</html>' real.html
# A REPORT that is not a regular file (a FIFO, /dev/stdout) is written into, never renamed over.
mkfifo report.fifo
timeout 20 cat report.fifo >fifo.html &
reader=$!
"$KYSOCTL" verify --html report.fifo doc.pdf >/dev/null 2>&1
expect_eq "verify --html into a FIFO: a PDF without signatures ends 1" 1 "$?"
expect "  ... the FIFO is still one" test -p report.fifo
wait "$reader"
expect "  ... and the report went through it" grep -q '</html>' fifo.html

# --json is UTF-8 whatever the file names: a name in a legacy code page (bytes that are not UTF-8) is written
# with each such byte as \xNN, as the agent names such a document, so that any JSON reader takes the output.
json_names() { /usr/bin/python3 -c 'import json, sys; d = json.load(sys.stdin.buffer); print(d["file"], d.get("signature_file", "-"))'; }
name=$'b\xe1o-c\xe1o'
cp qd.txt "$name.txt" && cp qd.txt.p7s "$name.txt.p7s" && cp doc.pdf "$name.pdf"
expect_eq "verify --json: a file name that is not UTF-8, escaped in valid JSON" \
        'b\xe1o-c\xe1o.txt b\xe1o-c\xe1o.txt.p7s' "$("$KYSOCTL" verify --json "$name.txt" 2>/dev/null | json_names 2>&1)"
expect_eq "verify --json of a PDF: the same" 'b\xe1o-c\xe1o.pdf -' \
        "$("$KYSOCTL" verify --json "$name.pdf" 2>/dev/null | json_names 2>&1)"
mv roots/root.pem "$(printf 'roots/g\xe1c.pem')"
expect_eq "trust list --json: a file name that is not UTF-8, escaped in valid JSON" "$T/roots/g\\xe1c.pem" \
        "$("$KYSOCTL" trust list --json 2>&1 | /usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin.buffer)[0]["file"])' 2>&1 | tail -n 1)"
tap_done
