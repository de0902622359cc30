#!/usr/bin/env bash
# contrib/demo-story.sh: the demo's story, run inside contrib/sandbox (contrib/demo.sh sets it up, and
# tests/agent/test-demo.sh runs it): the tokens and certificates, the chairman approves a decision, the clerk
# seals it, two refusals, verification with kysoctl and openssl, the same story with a PDF (approved with the
# chairman's signature drawn on page 1, sealed with the seal drawn over its left third, verified; sealing it
# refused once its text was changed after the approval), the audit log. The approval and PIN prompts are
# answered by the scripted pinentry named in $KYSO_TEST_PINENTRY_SCRIPT. Any step that goes wrong stops the
# demo with a message naming the step, and a non-zero exit status.
set -Eeuo pipefail

if [[ -z ${KYSO_SANDBOX:-} || -z ${KYSO_TEST_PINENTRY_SCRIPT:-} ]]; then
        echo "demo-story.sh runs inside contrib/sandbox, with the scripted pinentry: use contrib/demo.sh" >&2
        exit 2
fi

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bold= normal=
if [[ -t 1 ]]; then bold=$(tput bold 2>/dev/null || true) normal=$(tput sgr0 2>/dev/null || true); fi
current="starting"
step() {
        current=$*
        printf "\n%s== %s%s\n" "$bold" "$*" "$normal"
}
# step_failed WHY: stops the demo, naming the step, with the end of kysod's log (the sandbox removes it).
step_failed() {
        trap - ERR
        {
                printf '\ndemo: FAILED at the step "%s": %s\n' "$current" "$1"
                if [[ -n ${KYSO_KYSOD_LOG:-} && -s $KYSO_KYSOD_LOG ]]; then
                        echo "demo: the last lines of kysod's log:"
                        tail -n 15 "$KYSO_KYSOD_LOG" | sed 's/^/    /'
                fi
        } >&2
        exit 1
}
on_error() { step_failed "the command '$2' exited with status $1."; }
trap 'on_error $? "$BASH_COMMAND"' ERR
# refused COMMAND...: this step shows a refusal: COMMAND must fail with kysoctl's "refused" status, 1.
refused() {
        local status=0
        "$@" || status=$?
        ((status == 1)) || step_failed "'$*' should have been refused (exit status 1), it exited with $status."
        echo "(refused, exit 1)"
}

step "The eTokens the agent sees: kysoctl tokens"
cat <<TEXT
Two demo eTokens are plugged in (SoftHSM stands in for real USB eTokens): "leader", the
chairman's personal token, and "seal", the organisation's token kept by the clerk (văn thư).
PIN shows whether wrong PIN tries have used up the retries (the token locks after too many).
TEXT
echo
kysoctl tokens

step "The certificates on them: kysoctl certs"
cat <<TEXT
Each certificate with its token, kind, status and expiry. KIND comes from the signing policy
(personal, organization, device); STATUS from the chain to the trusted roots, the validity dates,
the key strength and revocation: "untrusted" is a certificate from an unknown CA or with a weak
key, "expiring" means at most 60 days are left (renew it now: the regulation allows renewal while
60 days remain). The demo tokens also hold an expired, a not-yet-valid and a revoked certificate on
purpose. Revocation is asked of the OCSP or CRL server in the background ("not checked yet" until
the answer is in, a few seconds after the token appears) and again before every signature: signing
with a revoked certificate is refused.
TEXT
echo
# The OCSP answers come a few seconds after the start: wait for them, so the list shows them.
for ((i = 0; i < 100; i++)); do kysoctl certs --json | grep -q unchecked || break; sleep 0.1; done
kysoctl certs

step "The same for programs: kysoctl certs --json (first entry)"
kysoctl certs --json | jq ".[0]" 2>/dev/null || kysoctl certs --json | head -n 20

step "In Vietnamese: LC_ALL=vi_VN.UTF-8 kysoctl certs"
LC_ALL=vi_VN.UTF-8 kysoctl certs

LEADER="pkcs11:token=leader;object=leader;type=cert"
SEAL="pkcs11:token=seal;object=seal;type=cert"
D=${KYSO_DEMO_DIR:-$KYSO_SANDBOX}/docs
mkdir -p "$D"
answer() {
        printf "%s\n" "$@" >"$KYSO_TEST_PINENTRY_SCRIPT"
        echo "(scripted prompter: the approval prompt is answered \"yes\" and the PIN typed for you)"
}
printf "QUYẾT ĐỊNH số 12/QĐ-UBND ngày 24/11/2026 về việc giao đất ở cho hộ gia đình.\n" >"$D/quyet-dinh-12.txt"
printf "Tờ trình chưa được lãnh đạo ký.\n" >"$D/to-trinh.txt"

step "1. The chairman approves the decision: kysoctl sign --role approve"
answer "confirm yes" "pin 1111"
kysoctl sign --role approve --cert "$LEADER" --doc-number 12/QĐ-UBND "$D/quyet-dinh-12.txt" -o "$D/quyet-dinh-12.txt.p7s"

step "2. The clerk issues it with the organisation seal: kysoctl sign --role issue"
echo "The seal rule: the agent verifies the chairman's signature first, then adds the seal beside it."
answer "confirm yes" "pin 2222"
kysoctl sign --role issue --cert "$SEAL" --existing-signature "$D/quyet-dinh-12.txt.p7s" \
        "$D/quyet-dinh-12.txt" -o "$D/quyet-dinh-12.issued.p7s"

step "3. Issuing a document nobody approved is refused (before any prompt)"
refused kysoctl sign --role issue --cert "$SEAL" "$D/to-trinh.txt" -o "$D/to-trinh.issued.p7s"

step "4. A classified document is refused (before any prompt)"
refused kysoctl sign --role approve --cert "$LEADER" --classification "Mật" "$D/quyet-dinh-12.txt" -o "$D/mat.p7s"

step "5. kysoctl verify shows both signatures"
kysoctl verify "$D/quyet-dinh-12.txt" "$D/quyet-dinh-12.issued.p7s"

step "6. openssl agrees: openssl cms -verify"
openssl cms -verify -binary -inform DER -in "$D/quyet-dinh-12.issued.p7s" -content "$D/quyet-dinh-12.txt" \
        -CAfile "$KYSO_PKI/root+ca.pem" -purpose any -out /dev/null
openssl cms -cmsout -print -inform DER -in "$D/quyet-dinh-12.issued.p7s" | grep -A1 "sid:" | grep -i "serial" || true

step "7. A decision as a PDF: the chairman approves it, the signature goes inside the PDF"
echo "A PDF is known by its content; the signed PDF is the original bytes followed by the signature."
python3 "$root/tests/signing/make-pdf.py" new "$D/quyet-dinh-13.pdf" \
        "QUYET DINH so 13/QD-UBND ve viec giao dat o cho ho gia dinh"
# The chairman's handwritten signature and the seal as PNG images with transparency (drawn here; a real
# office scans them once and names them in kysod.conf, signature-image).
"$root/tests/signing/make-png.py" "$D/chu-ky.png" stroke 360 120 20,40,170
"$root/tests/signing/make-png.py" "$D/con-dau.png" ring 200 200 210,20,30
answer "confirm yes" "pin 1111"
echo "The signature is drawn on page 1 (--visible PAGE,X,Y,W,H in points from the bottom left)."
kysoctl sign --role approve --cert "$LEADER" --reason "Phê duyệt" --location "Uông Bí" \
        --visible 1,320,120,210,70 --image "$D/chu-ky.png" \
        "$D/quyet-dinh-13.pdf" -o "$D/quyet-dinh-13.approved.pdf"

step "8. The clerk seals the PDF: the chairman's signature is read from the PDF itself"
answer "confirm yes" "pin 2222"
echo "The seal is drawn over the left third of the chairman's signature, at its real size; the clerk"
echo "writes the number and date where the app names them (--doc-number-at, --doc-date-at: page 1 here;"
echo "on a longer decision, page 1 while the signatures are on the last page)."
kysoctl sign --role issue --cert "$SEAL" --image "$D/con-dau.png" \
        --doc-number "Số: 13/QĐ-UBND" --doc-number-at 1,72,770,200,20 \
        --doc-date "Uông Bí, ngày 06 tháng 12 năm 2026" --doc-date-at 1,330,770,220,20 \
        "$D/quyet-dinh-13.approved.pdf" -o "$D/quyet-dinh-13.issued.pdf"
if command -v pdftoppm >/dev/null; then
        pdftoppm -r 60 -png -f 1 -l 1 -singlefile "$D/quyet-dinh-13.issued.pdf" "$D/quyet-dinh-13.issued"
        echo "Page 1 as the reader sees it: $D/quyet-dinh-13.issued.png"
fi

step "9. Verified: kysoctl verify, and poppler's pdfsig agrees"
kysoctl verify "$D/quyet-dinh-13.issued.pdf"
mkdir -p "$D/nss"
certutil -N -d "sql:$D/nss" --empty-password >/dev/null 2>&1
certutil -A -d "sql:$D/nss" -n demo-root -t "CT,C,C" -i "$KYSO_PKI/root.pem"
pdfsig -nssdir "sql:$D/nss" "$D/quyet-dinh-13.issued.pdf" | grep -E "Signer Certificate Common Name|Signature Validation|Total document"

step "9b. A certified copy (sao y) and an appendix: the clerk's seal, with their stamps at the top right of page 1"
answer "confirm yes" "pin 2222"
kysoctl sign --role copy --cert "$SEAL" "$D/quyet-dinh-13.issued.pdf" -o "$D/quyet-dinh-13.copy.pdf"
python3 "$root/tests/signing/make-pdf.py" new "$D/quyet-dinh-13.phu-luc.pdf" \
        "PHU LUC: danh sach ho gia dinh duoc giao dat"
answer "confirm yes" "pin 2222"
kysoctl sign --role appendix --cert "$SEAL" --doc-number "13/QĐ-UBND" "$D/quyet-dinh-13.phu-luc.pdf" \
        -o "$D/quyet-dinh-13.phu-luc.signed.pdf"
if command -v pdftotext >/dev/null; then
        echo "The copy's stamp, as its text layer reads:"
        pdftotext -f 1 -l 1 "$D/quyet-dinh-13.copy.pdf" - | grep -E "SAO Y|:[0-9]{2}\+07:00" | sed 's/^/    /'
        echo "The appendix's stamp:"
        pdftotext -f 1 -l 1 "$D/quyet-dinh-13.phu-luc.signed.pdf" - | grep -E "Phụ lục|\+07:00" | sed 's/^/    /'
fi
# The signed PDFs outlive the demo's temporary folder.
keep=${KYSO_DEMO_PDF_DIR:-$D/pdf}
mkdir -p "$keep"
cp "$D/quyet-dinh-13.approved.pdf" "$D/quyet-dinh-13.issued.pdf" "$D/quyet-dinh-13.copy.pdf" \
        "$D/quyet-dinh-13.phu-luc.signed.pdf" "$keep/"
[[ -f $D/quyet-dinh-13.issued.png ]] && cp "$D/quyet-dinh-13.issued.png" "$keep/"
echo "The signed PDFs (approved, sealed, the copy, the appendix) are in $keep"

step "10. The same PDF with its text changed after the chairman signed: sealing it is refused, naming the change"
python3 "$root/tests/signing/make-pdf.py" change-text "$D/quyet-dinh-13.approved.pdf" \
        "$D/quyet-dinh-13.changed.pdf" "QUYET DINH so 13/QD-UBND ve viec giao dat o cho ho ong A"
refused kysoctl sign --role issue --cert "$SEAL" "$D/quyet-dinh-13.changed.pdf" -o "$D/quyet-dinh-13.changed-issued.pdf"

# --- The certificate register and the expiry warnings (issue 15).
step "The expiry warning on the desktop: the certificate that expires soon"
cat <<TEXT
kysod checks every certificate it sees against the policy's warning days and asks the desktop to
show a warning (org.freedesktop.Notifications) for one that expires soon, and for one that became
unusable (expired, revoked); each once, not at every look. Here a stand-in notification service
on the sandbox's bus prints what it was asked to show. kysoctl certs says the same under its table.
TEXT
echo
if [[ -n ${KYSO_SANDBOX_NOTIFICATIONS:-} ]]; then
        # The warnings follow the first look at the tokens and the OCSP answers: wait for the expiry one.
        for ((i = 0; i < 100; i++)); do
                grep -q '"urgency": 1' "$KYSO_SANDBOX_NOTIFICATIONS" 2>/dev/null && break
                sleep 0.1
        done
        grep -q '"urgency": 1' "$KYSO_SANDBOX_NOTIFICATIONS" 2>/dev/null ||
                step_failed "no expiry warning was shown within 10 s."
        sleep 0.5 # the other warnings of the same pass
        jq -r '"[desktop notification from \(.app_name)\(if .urgency == 2 then ", critical" else "" end)] \(.summary)\n    \(.body)"' \
                "$KYSO_SANDBOX_NOTIFICATIONS"
else
        echo "(no notification service in this sandbox: set KYSO_SANDBOX_NOTIFICATIONS, as contrib/demo.sh does)"
fi
echo
# The renewal line under the table (in the person's language), as in the first listing above.
certs=$(kysoctl certs)
grep "^expiring: " <<<"$certs" || step_failed "kysoctl certs did not say that the certificate expires soon."

step "The certificate register: kysoctl certs --all"
cat <<TEXT
Every certificate the agent has ever seen on a token, kept beside the audit log (also those of
tokens unplugged since): first and last seen, status, and which certificate renewed which.
TEXT
echo
kysoctl certs --all

step "The register for the ward's report: kysoctl certs --export html|csv|json"
REGISTER_HTML=${KYSO_DEMO_REGISTER_HTML:-$D/register.html}
kysoctl certs --export html >"$REGISTER_HTML"
echo "The HTML report (open it in a browser, print it for the file): $REGISTER_HTML"
kysoctl certs --export csv >"$D/register.csv"
echo "The same as CSV, for a spreadsheet ($D/register.csv, the header and the first rows):"
head -n 4 "$D/register.csv" | tr -d '\r'

step "11. The audit log lists every event: kysoctl audit show"
kysoctl audit show
kysoctl audit verify

printf "\nDone. Try it yourself: contrib/sandbox bash (a shell with the agent and both tokens; exit to clean up).\n"
