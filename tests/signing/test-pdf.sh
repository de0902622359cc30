#!/usr/bin/env bash
# test-pdf.sh: PDF signing through kysod (TAP). A PDF (found by its content, not its name) is approved by the
# leader and issued by the clerk with the seal on the result, the leader's signature read from the PDF: poppler's
# pdfsig finds both valid and qpdf --check passes. Issue is denied, before any prompt and naming the change,
# on the same PDF with its page text changed after the leader signed. An encrypted PDF is refused before any
# prompt. A batch signs a PDF and a text file together. B-LT adds a /DSS. The audit records carry the PDF's
# SHA-256 before and after, the level and the revision.
set -uo pipefail

. "${KYSO_SOURCE_ROOT:?run through meson test}/tests/fixtures/tap.sh"

. "$KYSO_SOURCE_ROOT/tests/signing/pdf-sandbox.sh"
sum() { sha256sum "$1" | cut -d' ' -f1; }
last_done() { kysoctl audit show --json | jq -c '[.[] | select(.event == "sign-done")] | last'; }

: >"$T/kysod.log"
start_kysod "$T/kysod.log" || bail_out "kysod did not start: $(cat "$T/kysod.log")"

python3 "$MKPDF" new "$D/qd.pdf" "Quyet dinh so 7/QD-UBND" || bail_out "make-pdf.py failed"
# Named .txt: a PDF is known by its content.
cp "$D/qd.pdf" "$D/qd-named.txt"
echo "Quyết định số 7/QĐ-UBND" >"$D/qd.txt"

# 1. approve: the leader signs the PDF inside it.
script "confirm yes" "pin 1111"
out=$(kysoctl sign --verbose --role approve --cert "$LEADER" --level B-B --reason "Phê duyệt" \
        --location "Uông Bí" "$D/qd.pdf" -o "$T/out/approved.pdf" 2>&1)
expect "approve of a PDF is signed ($out)" test -s "$T/out/approved.pdf"
expect "the signed PDF begins with the original bytes" \
        cmp -n "$(stat -c %s "$D/qd.pdf")" "$D/qd.pdf" "$T/out/approved.pdf"
expect "qpdf --check passes on the approved PDF" qpdf --check "$T/out/approved.pdf"
expect_eq "pdfsig: the leader's signature is valid" 1 "$(pdfsig_valid "$T/out/approved.pdf")"
rec=$(last_done)
expect_eq "the record: SHA-256 before and after, level, revision" \
        "$(sum "$D/qd.pdf") $(sum "$T/out/approved.pdf") B-B 2" \
        "$(jq -r '"\(.document.sha256_before) \(.document.sha256_after) \(.data.pdf_level) \(.data.pdf_revision)"' <<<"$rec")"

# 2. issue on the result: the leader's signature is read from the PDF, no existing_signature.
script "confirm yes" "pin 2222"
out=$(kysoctl sign --verbose --role issue --cert "$SEAL" --level B-B "$T/out/approved.pdf" -o "$T/out/issued.pdf" 2>&1)
expect "issue on the approved PDF is signed ($out)" test -s "$T/out/issued.pdf"
expect "qpdf --check passes on the issued PDF" qpdf --check "$T/out/issued.pdf"
expect_eq "pdfsig: both signatures are valid" 2 "$(pdfsig_valid "$T/out/issued.pdf")"
expect_eq "pdfsig: the seal covers the whole document" 1 "$(pdfsig_total "$T/out/issued.pdf")"
# Revisions are counted from 1 (the original file) in every output, as in the audit record.
expect_eq "kysoctl verify --json: the leader signed revision 2, the seal revision 3" "2 3" \
        "$(kysoctl verify --json "$T/out/issued.pdf" 2>/dev/null | jq -r '[.signatures[].revision] | join(" ")')"
expect_eq "kysoctl verify: the same as 2/3 and 3/3" "2/3 3/3" \
        "$(LC_ALL=C.UTF-8 LANGUAGE= kysoctl verify "$T/out/issued.pdf" 2>&1 | sed -n 's/^ *Revision signed: *//p' | paste -sd ' ')"

# 3. The page text changed after the leader signed: denied before any prompt, naming the change.
python3 "$MKPDF" change-text "$T/out/approved.pdf" "$D/changed.pdf" "Quyet dinh so 8/QD-UBND"
p0=$(prompts)
script "confirm yes" "pin 2222"
out=$(kysoctl sign --verbose --role issue --cert "$SEAL" "$D/changed.pdf" -o "$T/out/changed-issued.pdf" 2>&1)
rc=$?
expect_eq "issue on a PDF changed after the leader signed: refused (exit 1)" 1 "$rc"
expect_match "... PolicyDenied" "PolicyDenied" "$out"
expect_match "... the message names the change" "The change: object 4 \(the content of page 1\) changed in revision 3\. Have" "$out"
expect_eq "... before any prompt" "$p0" "$(prompts)"
expect "... nothing written" test ! -s "$T/out/changed-issued.pdf"
# The change is named in the caller's language; --json keeps the stable English.
out=$(LC_ALL=vi_VN.UTF-8 kysoctl sign --role issue --cert "$SEAL" "$D/changed.pdf" -o "$T/out/changed-issued.pdf" 2>&1)
expect_match "... in Vietnamese for a Vietnamese caller" \
        "Thay đổi: đối tượng 4 \(nội dung trang 1\) bị thay đổi ở phiên bản 3\." "$out"
expect_match "kysoctl verify names the change in English" \
        "object 4 \(the content of page 1\) changed in revision 3" \
        "$(LC_ALL=C.UTF-8 LANGUAGE= kysoctl verify "$D/changed.pdf" 2>&1)"
expect_match "kysoctl verify names the change in Vietnamese" \
        "đối tượng 4 \(nội dung trang 1\) bị thay đổi ở phiên bản 3" \
        "$(LC_ALL=vi_VN.UTF-8 LANGUAGE= kysoctl verify "$D/changed.pdf" 2>&1)"
expect_eq "kysoctl verify --json keeps the change in English" \
        "object 4 (the content of page 1) changed in revision 3" \
        "$(LC_ALL=vi_VN.UTF-8 LANGUAGE= kysoctl verify --json "$D/changed.pdf" 2>/dev/null |
                jq -r '[.signatures[] | .change // empty] | first')"

# 4. An encrypted PDF: refused before any prompt, saying what to do.
qpdf --encrypt user owner 256 -- "$D/qd.pdf" "$D/encrypted.pdf" || bail_out "qpdf --encrypt failed"
p0=$(prompts)
out=$(kysoctl sign --verbose --role approve --cert "$LEADER" "$D/encrypted.pdf" -o "$T/out/encrypted.pdf" 2>&1)
expect_match "an encrypted PDF is refused as BadDocument" "BadDocument" "$out"
expect_match "... the message says to remove the password" "password" "$out"
expect_eq "... before any prompt" "$p0" "$(prompts)"

# 4b. A PDF its author certified with no change allowed (DocMDP P=1): refused before any prompt.
python3 "$MKPDF" certified "$D/certified.pdf" "Van ban da chung thuc" || bail_out "make-pdf.py certified failed"
p0=$(prompts)
out=$(kysoctl sign --verbose --role approve --cert "$LEADER" "$D/certified.pdf" -o "$T/out/certified.pdf" 2>&1)
expect_match "a PDF certified with DocMDP P=1 is refused as BadDocument" "BadDocument" "$out"
expect_match "... the message names the certification" "DocMDP P=1" "$out"
expect_eq "... before any prompt" "$p0" "$(prompts)"
expect "... nothing written" test ! -s "$T/out/certified.pdf"

# 5. A batch of a PDF (named .txt) and a text file.
mkdir -p "$T/out/batch"
script "confirm yes" "pin 1111"
out=$(kysoctl sign --verbose --batch --role approve --cert "$LEADER" --level B-B -o "$T/out/batch" \
        "$D/qd-named.txt" "$D/qd.txt" 2>&1)
expect_eq "the PDF of the batch (named .txt) is a signed PDF" 1 "$(pdfsig_valid "$T/out/batch/qd-named.txt")"
expect "the text file of the batch has its detached signature" \
        openssl cms -verify -binary -inform DER -in "$T/out/batch/qd.txt.p7s" -content "$D/qd.txt" \
        -CAfile "$KYSO_PKI/root+ca.pem" -purpose any -out /dev/null

# 6. B-LT: a time-stamp, then the /DSS with the chain and the OCSP answers checked at signing time.
script "confirm yes" "pin 1111"
out=$(kysoctl sign --verbose --role approve --cert "$LEADER" --level B-LT "$D/qd.pdf" -o "$T/out/lt.pdf" 2>&1)
expect "B-LT of a PDF is signed ($out)" test -s "$T/out/lt.pdf"
expect "qpdf --check passes on the B-LT PDF" qpdf --check "$T/out/lt.pdf"
expect_eq "pdfsig: the B-LT signature is valid" 1 "$(pdfsig_valid "$T/out/lt.pdf")"
expect "the B-LT PDF has a /DSS with OCSP answers" bash -c \
        "qpdf --show-object=trailer '$T/out/lt.pdf' >/dev/null && qpdf --qdf --object-streams=disable '$T/out/lt.pdf' - | grep -aq '/OCSPs'"
expect_eq "the record says B-LT" "B-LT" "$(last_done | jq -r .data.pdf_level)"
# The time-stamp authority's certificate and its revocation answer are kept too, beside the leader's.
expect_eq "the B-LT /DSS holds the leader's and the TSA's certificates, each with its OCSP answer" \
        "leader cert=yes revocation=ocsp|tsa cert=yes revocation=ocsp" \
        "$(python3 "$KYSO_SOURCE_ROOT/tests/signing/pdf-dss.py" "$T/out/lt.pdf" "$KYSO_PKI/leader.pem" \
                "$KYSO_PKI/tsa.pem" 2>&1 | paste -sd '|')"

# 7. Verify on the bus: one dict per signature, the policy's verdict on each.
verify() { "$KYSO_SOURCE_ROOT/tests/signing/verify-client.py" "$@" 2>&1; }
expect_eq "Verify of the issued PDF: both valid, the leader a competent person" \
        "True ok B-B 2 True|True ok B-B 3 False" "$(verify "$T/out/issued.pdf" | paste -sd '|')"
expect_match "Verify of the changed PDF: the leader's signature does not count (disallowed-change)" \
        "^False disallowed-change" "$(verify "$D/changed.pdf")"
expect_match "Verify of the B-LT PDF: level B-LT" "^True ok B-LT" "$(verify "$T/out/lt.pdf")"
expect_eq "Verify of a text file with its detached signature (the batch's): valid CAdES by a competent person" \
        "True cades B-B True" "$(verify "$D/qd.txt" "$T/out/batch/qd.txt.p7s")"
expect_match "Verify of a text file without a signature: InvalidArgs" "InvalidArgs" "$(verify "$D/qd.txt")"
# An application's wrong fd: not an internal error with nothing in the log, but what is wrong with it.
expect_match "Verify of a folder: BadDocument, the document cannot be read" \
        "^org.kyso.Error.BadDocument The document could not be read" "$(verify "$D")"
expect_match "Verify of a document open for writing only: InvalidArgs, open it for reading" \
        "^org.kyso.Error.InvalidArgs The document must be open for reading" "$(verify "wronly:$D/qd.txt")"

# 8. A sample of the shared corpus through the agent (every file goes through the formats library in
# tests/formats/test-pdf-corpus.sh): approve, then issue on the result. A file is signed (pdfsig: every
# signature valid) or refused with a reason; kysod never dies.
corpus=${KYSO_SHARED_DIR:-$KYSO_SOURCE_ROOT/../shared}/corpus/pdf
if [[ -d $corpus ]]; then
        mapfile -t sample < <(find "$corpus" -name '*.pdf' | sort | awk 'NR % 40 == 1')
        mkdir -p "$T/out/corpus"
        n_signed=0 n_refused=0 bad=()
        for f in "${sample[@]}"; do
                b=$(basename "$f" .pdf)
                script "confirm yes" "pin 1111"
                a=$(kysoctl sign --role approve --cert "$LEADER" --level B-B "$f" -o "$T/out/corpus/$b.a.pdf" 2>&1)
                rc=$?
                if ((rc == 1)) && grep -q ": failed: \|: denied: " <<<"$a"; then
                        n_refused=$((n_refused + 1))
                        echo "# refused: $b: $(tail -n 1 <<<"$a")"
                        continue
                fi
                script "confirm yes" "pin 2222"
                i=$(kysoctl sign --role issue --cert "$SEAL" --level B-B "$T/out/corpus/$b.a.pdf" -o "$T/out/corpus/$b.i.pdf" 2>&1)
                if [[ $rc != 0 || ! -s $T/out/corpus/$b.i.pdf ]] ||
                        (($(pdfsig_valid "$T/out/corpus/$b.i.pdf") < 2)); then
                        bad+=("$b: approve exit $rc: $(tail -n 1 <<<"$a"); issue: $(tail -n 1 <<<"$i")")
                        continue
                fi
                n_signed=$((n_signed + 1))
        done
        echo "# corpus sample through the agent: ${#sample[@]} files, $n_signed approved and issued, $n_refused refused"
        expect_eq "corpus sample: each file signed twice (pdfsig: valid) or refused with a reason" "" \
                "$(printf '%s\n' "${bad[@]}")"
        expect "corpus sample: kysod is still running" alive
else
        ok "corpus sample through the agent # SKIP no corpus at $corpus"
fi

expect "kysod is still running" alive
expect_no_sanitizer_report "kysod: no sanitizer report" "$T/kysod.log"
kill "$kysod_pid" 2>/dev/null
wait "$kysod_pid" 2>/dev/null
tap_done
