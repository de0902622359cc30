#!/usr/bin/env bash
# test-demo.sh: the demo's story (contrib/demo-story.sh, what contrib/demo.sh runs after installing and
# building) inside contrib/sandbox with the scripted pinentry: it runs to its end and shows what it promises;
# and a step that fails stops the demo with a message naming the step and a non-zero status (TAP).
set -uo pipefail

. "${KYSO_SOURCE_ROOT:?run through meson test}/tests/fixtures/tap.sh"
S="$KYSO_SOURCE_ROOT/contrib/sandbox"
STORY="$KYSO_SOURCE_ROOT/contrib/demo-story.sh"
B="${KYSO_BUILD_ROOT:?}"
T=$(mktemp -d "${TMPDIR:-/tmp}/kyso-demo-test.XXXXXX") || bail_out "mktemp failed"
trap 'rm -rf -- "$T"' EXIT
command -v jq >/dev/null || bail_out "jq is missing (contrib/install-deps.sh)"

# As contrib/demo.sh sets it up.
export KYSO_SANDBOX_PINENTRY=$KYSO_SOURCE_ROOT/tests/agent/scripted-pinentry
export KYSO_TEST_PINENTRY_SCRIPT=$T/pinentry.script KYSO_TEST_PINENTRY_LOG=$T/pinentry.log KYSO_DEMO_DIR=$T
export KYSO_SANDBOX_NOTIFICATIONS=$T/notifications.jsonl KYSO_DEMO_REGISTER_HTML=$T/register.html
export KYSO_DEMO_PDF_DIR=$T/pdf
: >"$KYSO_TEST_PINENTRY_SCRIPT"
unset KYSO_POLICY

"$S" --build "$B" "$STORY" >"$T/out" 2>&1
status=$?
out=$(cat "$T/out")
expect_eq "the demo runs to its end: exit status 0" 0 "$status"
((status == 0)) || sed 's/^/# /' "$T/out" | tail -n 40
expect_match "kysoctl tokens: the leader token" "^leader +SoftHSM project +SoftHSM v2 +[0-9a-f]{16} +ok" "$out"
expect_match "kysoctl tokens: the seal token" "^seal +SoftHSM project +SoftHSM v2 +[0-9a-f]{16} +ok" "$out"
expect_match "kysoctl certs: the chairman's certificate" "^leader +leader +personal +valid +[0-9-]{10} +[0-9]+ +Nguyễn Văn An" "$out"
expect_match "kysoctl certs: the organisation's seal" "^seal +seal +organization +valid .*UBND phường Uông Bí$" "$out"
expect_match "kysoctl certs: an expiring certificate says so" "^seal +expiring +organization +expiring " "$out"
expect_match "kysoctl certs --json: a certificate as JSON" '^  "sha256": "[0-9a-f]{64}",$' "$out"
expect_match "in Vietnamese" "^ETOKEN +NHÃN +LOẠI +TRẠNG THÁI" "$out"
expect_eq "1. and 2.: the decision approved, then sealed" 2 "$(grep -c '^\[1/1\] quyet-dinh-12.txt: signed → ' <<<"$out")"
expect_match "3. the seal without the leader's signature: refused" \
        "^\[1/1\] to-trinh.txt: denied: The organisation's seal may only be applied" "$out"
expect_match "4. a classified document: refused" '^\[1/1\] quyet-dinh-12.txt: denied: The document is marked "Mật"' "$out"
expect_eq "3., 4. and 10.: all refused with kysoctl's exit status 1" 3 "$(grep -c '^(refused, exit 1)$' <<<"$out")"
expect_match "5. kysoctl verify: both signatures valid" "^All 2 signature\(s\) are valid\.$" "$out"
expect_match "6. openssl cms -verify agrees" "^CMS Verification successful$" "$out"
expect_match "7. and 8.: the decision PDF approved, then sealed" \
        "^\[1/1\] quyet-dinh-13.approved.pdf: signed" "$out"
expect_eq "9. kysoctl verify: both PDF signatures valid, and so do the CAdES ones of 5." 2 \
        "$(grep -c '^All 2 signature(s) are valid\.$' <<<"$out")"
expect_eq "9. pdfsig agrees: both PDF signatures valid" 2 "$(grep -c 'Signature is Valid\.' <<<"$out")"
expect_match "10. sealing the changed PDF: refused, naming the change" \
        "^\[1/1\] quyet-dinh-13.changed.pdf: denied: .*The change: object 4 \(the content of page 1\)" "$out"
# The expiry warning and the certificate register (issue 15).
expect_eq "the expiry warning: one notification for the certificate that expires soon" 1 \
        "$(jq -r 'select(.body | contains("(sắp hết hạn)")) | select(.urgency == 1) | .summary' "$T/notifications.jsonl" | wc -l)"
expect_match "the expiry warning: the person sees its text, with the days and what to do" \
        "^\[desktop notification from kyso\] .*(expires in (29|30) days|hết hạn sau (29|30) ngày)" "$out"
expect_match "kysoctl certs: the renewal line" "^expiring: .*(29|30).*(Article|Điều) 11" "$out"
expect_match "kysoctl certs --all: the register" "Nguyễn Văn An \(UBND phường Uông Bí\), personal" "$out"
expect_match "the HTML export: says where it is" "^The HTML report .*: $T/register.html$" "$out"
expect_eq "the HTML export: one row per certificate of both tokens" 11 "$(grep -c '^<tr><td>' "$T/register.html")"
expect_match "the CSV export: its header shown" "^holder,organization,kind,status," "$out"
expect_eq "the CSV export: a header and a row per certificate" 12 "$(grep -c $'\r$' "$T/docs/register.csv")"
expect_match "9b. the copy carries its stamp (SAO Y), read from its text layer" "^ +SAO Y" "$out"
expect_match "9b. the appendix carries its stamp" "^ +Phụ lục kèm theo văn bản số 13/QĐ-UBND" "$out"
expect_match "9b. the demo says where the signed PDFs are" "^The signed PDFs .* are in $T/pdf$" "$out"
expect_eq "9b. and they are there" 4 "$(ls "$T/pdf"/*.pdf 2>/dev/null | wc -l)"
page1=$(pdftotext -f 1 -l 1 "$T/pdf/quyet-dinh-13.issued.pdf" - 2>/dev/null)
expect_match "8. the sealed decision carries its number on page 1" "Số: 13/QĐ-UBND" "$page1"
expect_match "8. and its date" "Uông Bí, ngày 06 tháng 12 năm 2026" "$page1"
# The certificate register's records (cert-first-seen, cert-status-changed: issue 15) come between these.
events=$(awk '/^SEQ +TIME/ { on = 1; next } on && /^[0-9]+ / { print $3 } /^The audit log/ { on = 0 }' "$T/out")
expect_eq "11. the audit log: start, configuration, policy, two tokens, six signatures, three refusals" \
        "agent-start config-load policy-load token-added token-added sign-done sign-done sign-denied sign-denied sign-done sign-done sign-done sign-done sign-denied" \
        "$(grep -v '^cert-' <<<"$events" | tr '\n' ' ' | sed 's/ $//')"
expect_match "11. kysoctl audit verify: intact" \
        "^The audit log is intact: $((14 + $(grep -c '^cert-' <<<"$events"))) records" "$out"
expect_match "the end" "^Done\. Try it yourself: contrib/sandbox bash" "$out"

# A step that goes wrong: here kysod cannot ask for approval, so the first signature fails.
export KYSO_SANDBOX_PINENTRY=/bin/false
"$S" --build "$B" "$STORY" >"$T/out2" 2>&1
expect_eq "a failed step: the demo exits with status 1" 1 "$?"
out=$(cat "$T/out2")
expect_match "a failed step: the message names the step and the command" \
        '^demo: FAILED at the step "1\. The chairman approves the decision: kysoctl sign --role approve": the command .kysoctl sign --role approve .* exited with status [0-9]+\.$' "$out"
expect_match "a failed step: kysod's last log lines are shown" "^demo: the last lines of kysod's log:$" "$out"
expect "a failed step: the demo stops there" bash -c "! grep -q -e '^== 2\\.' -e '^Done\\.' '$T/out2'"

tap_done
