#!/usr/bin/env bash
# test-pdf-visible.sh: visible PDF signatures through kysod (TAP). The leader approves with --visible and
# --image; the clerk issues with the seal's image from kysod.conf (signature-image, seal-diameter), placed
# over the left third of the leader's image (pdftoppm: red there, blue on its right); issued again with the
# document number and date where the app names them (pdftotext reads them, dark pixels in each rectangle,
# kyso's verifier and pdfsig accept both signatures), also on page 1 of a decision signed on page 2 (a text
# stamp annotation there), wrong places refused (InvalidArgs) before any prompt;
# the image given as bytes (ay) still drawn, as a pipe refused; a copy and an appendix
# get their stamp at the top right of page 1 (pdftotext reads the organisation's name and the document
# number). pdfsig finds every signature valid and qpdf --check passes. A visible signature asked for without
# an image is signed invisibly, and the prompt says so before the person approves; one with an image that is
# not a PNG is refused before any prompt.
set -uo pipefail

. "${KYSO_SOURCE_ROOT:?run through meson test}/tests/fixtures/tap.sh"

. "$KYSO_SOURCE_ROOT/tests/signing/pdf-sandbox.sh"

# The leader's signature: a blue 300 x 100 block; the seal: a red disk. Both with transparency around.
MKPNG=$KYSO_SOURCE_ROOT/tests/signing/make-png.py
{ "$MKPNG" "$T/sig.png" block 300 100 0,0,255 && "$MKPNG" "$T/seal.png" disk 100 100 255,0,0; } ||
        bail_out "cannot make the images"
# pixel FILE X Y [PAGE]: "R G B" at (X, Y) points from the bottom left of page 1 (A4), or PAGE, rendered at
# 72 dpi.
pixel() {
        pdftoppm -r 72 -f "${4:-1}" -l "${4:-1}" -singlefile "$1" "$T/render" &&
                python3 - "$T/render.ppm" "$2" "$3" <<'PY'
import sys
data = open(sys.argv[1], 'rb').read()
parts = data.split(maxsplit=4)
w, h = int(parts[1]), int(parts[2])
x, y = int(sys.argv[2]), h - int(sys.argv[3])
i = (y * w + x) * 3
print(*parts[4][i:i + 3])
PY
}

# dark_pixels FILE X Y W H: how many pixels of page 1 in the rectangle (points from the bottom left, 72 dpi)
# are dark (every channel under 100).
dark_pixels() {
        pdftoppm -r 72 -f 1 -l 1 -singlefile "$1" "$T/render" &&
                python3 - "$T/render.ppm" "$2" "$3" "$4" "$5" <<'PY'
import sys
data = open(sys.argv[1], 'rb').read()
parts = data.split(maxsplit=4)
w, h = int(parts[1]), int(parts[2])
x0, y0, rw, rh = (int(v) for v in sys.argv[2:6])
n = 0
for y in range(h - (y0 + rh), h - y0):
    for x in range(x0, x0 + rw):
        i = (y * w + x) * 3
        if max(parts[4][i:i + 3]) < 100:
            n += 1
print(n)
PY
}

seal_sha256=$(openssl x509 -in "$KYSO_PKI/seal.pem" -outform DER | sha256sum | cut -d' ' -f1)
{
        echo "signature-image = $seal_sha256 $T/seal.png"
        echo "seal-diameter = 30"
} >>"$KYSO_AGENT_CONFIG"

: >"$T/kysod.log"
start_kysod "$T/kysod.log" || bail_out "kysod did not start: $(cat "$T/kysod.log")"
python3 "$MKPDF" new "$D/qd.pdf" "Quyet dinh so 7/QD-UBND" || bail_out "make-pdf.py failed"

# 1. approve, drawn at the given place with the given image.
script "confirm yes" "pin 1111"
out=$(kysoctl sign --verbose --role approve --cert "$LEADER" --level B-B --visible 1,300,150,240,80 \
        --image "$T/sig.png" "$D/qd.pdf" -o "$T/out/approved.pdf" 2>&1)
expect "approve with --visible is signed ($out)" test -s "$T/out/approved.pdf"
expect "qpdf --check passes" qpdf --check "$T/out/approved.pdf"
expect_eq "pdfsig: valid" 1 "$(pdfsig_valid "$T/out/approved.pdf")"
expect "the prompt did not say the signature is invisible" bash -c "! grep -q invisible '$KYSO_TEST_PINENTRY_LOG'"

# 2. issue: the seal over the left third of the leader's image (300..380), the rest stays blue.
script "confirm yes" "pin 2222"
out=$(kysoctl sign --verbose --role issue --cert "$SEAL" --level B-B "$T/out/approved.pdf" -o "$T/out/issued.pdf" 2>&1)
expect "issue is signed ($out)" test -s "$T/out/issued.pdf"
expect "qpdf --check passes on the issued PDF" qpdf --check "$T/out/issued.pdf"
expect_eq "pdfsig: both valid" 2 "$(pdfsig_valid "$T/out/issued.pdf")"
expect_eq "the seal is red over the left third of the leader's image" "255 0 0" "$(pixel "$T/out/issued.pdf" 350 190)"
expect_eq "the leader's image is blue on its right" "0 0 255" "$(pixel "$T/out/issued.pdf" 500 190)"

# 2b. issue with the document number and date where the app names them (doc_number_place, doc_date_place):
# written in the seal's widget, searchable, dark inside each rectangle; kyso's verifier and pdfsig accept
# both signatures (the leader's is not weakened by the wider widget).
script "confirm yes" "pin 2222"
out=$(kysoctl sign --verbose --role issue --cert "$SEAL" --level B-B --doc-number "7/QĐ-UBND" \
        --doc-date "Uông Bí, ngày 06 tháng 12 năm 2026" --doc-number-at 1,60,760,200,20 \
        --doc-date-at 1,330,760,230,20 "$T/out/approved.pdf" -o "$T/out/numbered.pdf" 2>&1)
expect "issue with --doc-number-at and --doc-date-at is signed ($out)" test -s "$T/out/numbered.pdf"
expect "qpdf --check passes on it" qpdf --check "$T/out/numbered.pdf"
expect_eq "pdfsig: both valid" 2 "$(pdfsig_valid "$T/out/numbered.pdf")"
text=$(pdftotext "$T/out/numbered.pdf" - 2>/dev/null)
expect_match "pdftotext finds the number" "7/QĐ-UBND" "$text"
expect_match "pdftotext finds the date as given" "Uông Bí, ngày 06 tháng 12 năm 2026" "$text"
expect_dark() { # NAME FILE X Y W H: some dark pixels inside the rectangle
        local n
        n=$(dark_pixels "$2" "$3" "$4" "$5" "$6")
        expect "$1 ($n dark pixels)" test "$n" -gt 20
}
expect_dark "the number is drawn inside its rectangle" "$T/out/numbered.pdf" 60 760 200 20
expect_dark "the date is drawn inside its rectangle" "$T/out/numbered.pdf" 330 760 230 20
expect_eq "... and nothing dark outside them at that height" 0 "$(dark_pixels "$T/out/numbered.pdf" 280 760 40 20)"
expect_eq "the seal is still red over the left third of the leader's image" "255 0 0" "$(pixel "$T/out/numbered.pdf" 350 190)"
expect_eq "the leader's image is still blue on its right" "0 0 255" "$(pixel "$T/out/numbered.pdf" 500 190)"
verify() { "$KYSO_SOURCE_ROOT/tests/signing/verify-client.py" "$@" 2>&1; }
expect_eq "kyso's verifier: both signatures valid, the leader's counts" \
        "True ok B-B 2 True|True ok B-B 3 False" "$(verify "$T/out/numbered.pdf" | paste -sd '|')"
out=$(kysoctl verify "$T/out/numbered.pdf" 2>&1)
expect "kysoctl verify accepts the issued PDF" test $? -eq 0

# 2c. A place without its text, a place for another role, a place off the page or on a page the PDF does
# not have: InvalidArgs, before any prompt.
: >"$KYSO_TEST_PINENTRY_LOG"
script "confirm yes" "pin 2222"
out=$(kysoctl sign --verbose --role issue --cert "$SEAL" --level B-B --doc-number-at 1,60,760,200,20 \
        "$T/out/approved.pdf" -o "$T/out/never.pdf" 2>&1)
expect_match "a number's place without the number is InvalidArgs" "doc_number_place is given without doc_number.*InvalidArgs" "$out"
out=$(kysoctl sign --verbose --role approve --cert "$LEADER" --level B-B --doc-date "2026-12-06" \
        --doc-date-at 1,60,760,200,20 "$D/qd.pdf" -o "$T/out/never.pdf" 2>&1)
expect_match "a date's place for approve is InvalidArgs" "for the issue role only.*InvalidArgs" "$out"
out=$(kysoctl sign --verbose --role issue --cert "$SEAL" --level B-B --doc-number "7/QĐ-UBND" \
        --doc-number-at 1,500,760,200,20 "$T/out/approved.pdf" -o "$T/out/never.pdf" 2>&1)
expect_match "a place off the page is InvalidArgs" "outside page 1.*InvalidArgs" "$out"
out=$(kysoctl sign --verbose --role issue --cert "$SEAL" --level B-B --doc-number "7/QĐ-UBND" \
        --doc-number-at 3,60,760,200,20 "$T/out/approved.pdf" -o "$T/out/never.pdf" 2>&1)
expect_match "a place on a page the PDF does not have is InvalidArgs" "names page 3, but the PDF has 1 page.*InvalidArgs" "$out"
expect "... all before any prompt" bash -c "! grep -qE '^(CONFIRM|GETPIN)' '$KYSO_TEST_PINENTRY_LOG'"
expect "... and nothing is written" bash -c "! test -s '$T/out/never.pdf'"

# 2d. The image as the request gives it: kysoctl passes an fd (steps 1 and 6); the bytes (ay) are still
# accepted; an fd that is not a regular file (a pipe) is InvalidArgs when Sign is called.
sign_with_image() { # DOC OUT KIND(bytes|pipe) PNG
        /usr/bin/python3 - "$@" "$LEADER" <<'PY' 2>&1
import os, sys
import dbus, dbus.mainloop.glib
from gi.repository import GLib
dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)
doc, out, kind, png, cert = sys.argv[1:6]
bus = dbus.SessionBus()
agent = bus.get_object("org.kyso.Agent1", "/org/kyso/Agent1")
loop = GLib.MainLoop()
if kind == "bytes":
    image = dbus.ByteArray(open(png, "rb").read())
else:
    r, w = os.pipe()
    os.write(w, open(png, "rb").read()[:1000])
    image = dbus.types.UnixFd(r)
def on_response(code, results):
    print("response", int(code))
    loop.quit()
bus.add_signal_receiver(on_response, signal_name="Response", dbus_interface="org.kyso.Request1")
opts = dbus.Dictionary({"image": image, "level": "B-B",
                        "visible": dbus.Struct((dbus.UInt32(1), 300.0, 150.0, 240.0, 80.0), signature="udddd")},
                       signature="sv")
try:
    agent.Sign(dbus.types.UnixFd(os.open(doc, os.O_RDONLY)),
               dbus.types.UnixFd(os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)), cert, "approve",
               opts, dbus_interface="org.kyso.Agent1")
except dbus.DBusException as e:
    print(e.get_dbus_name(), e.get_dbus_message())
    sys.exit(0)
GLib.timeout_add_seconds(60, loop.quit)
loop.run()
PY
}
script "confirm yes" "pin 1111"
out=$(sign_with_image "$D/qd.pdf" "$T/out/bytes.pdf" bytes "$T/sig.png")
expect_eq "the image as bytes (ay) is still accepted" "response 0" "$out"
expect_eq "... and drawn" "0 0 255" "$(pixel "$T/out/bytes.pdf" 400 190)"
out=$(sign_with_image "$D/qd.pdf" "$T/out/never.pdf" pipe "$T/sig.png")
expect_match "the image as a pipe is InvalidArgs" "InvalidArgs The option 'image' must be an open PNG file" "$out"

# 3. copy: the stamp at the top right of page 1, with the organisation and the time in Vietnam.
script "confirm yes" "pin 2222"
out=$(kysoctl sign --verbose --role copy --cert "$SEAL" --level B-B "$D/qd.pdf" -o "$T/out/copy.pdf" 2>&1)
expect "copy is signed ($out)" test -s "$T/out/copy.pdf"
expect_eq "pdfsig: valid" 1 "$(pdfsig_valid "$T/out/copy.pdf")"
text=$(pdftotext "$T/out/copy.pdf" - 2>/dev/null)
expect_match "the copy stamp says SAO Y" "SAO Y" "$text"
expect_match "... the organisation" "UBND phường Uông Bí" "$text"
expect_match "... the time in Vietnam" "T[0-9][0-9]:[0-9][0-9]:[0-9][0-9]\+07:00" "$text"

# 3b. The other forms of a copy (Decree 30/2020 Art. 25): trích sao, named in the stamp; an unknown form is a
# usage error of kysoctl, and InvalidArgs from the agent.
script "confirm yes" "pin 2222"
out=$(kysoctl sign --verbose --role copy --cert "$SEAL" --level B-B --copy-form trich-sao "$D/qd.pdf" \
        -o "$T/out/extract.pdf" 2>&1)
expect "an extract (trích sao) is signed ($out)" test -s "$T/out/extract.pdf"
expect_match "its stamp says TRÍCH SAO" "TRÍCH SAO" "$(pdftotext "$T/out/extract.pdf" - 2>/dev/null)"
out=$(kysoctl sign --role copy --cert "$SEAL" --copy-form photocopy "$D/qd.pdf" -o "$T/out/never.pdf" 2>&1)
expect_eq "an unknown --copy-form is a usage error (exit 2)" 2 "$?"
out=$(/usr/bin/python3 - "$D/qd.pdf" "$T/out/never2.pdf" "$SEAL" <<'PY' 2>&1
import os, sys
import dbus
agent = dbus.SessionBus().get_object("org.kyso.Agent1", "/org/kyso/Agent1")
doc = os.open(sys.argv[1], os.O_RDONLY)
out = os.open(sys.argv[2], os.O_WRONLY | os.O_CREAT, 0o600)
try:
    agent.Sign(dbus.types.UnixFd(doc), dbus.types.UnixFd(out), sys.argv[3], "copy",
               dbus.Dictionary({"copy_form": dbus.String("photocopy", variant_level=1)}, signature="sv"),
               dbus_interface="org.kyso.Agent1")
    print("accepted")
except dbus.DBusException as e:
    print(e.get_dbus_name(), e.get_dbus_message())
PY
)
expect_match "the agent refuses an unknown copy_form (InvalidArgs)" "InvalidArgs copy_form must be" "$out"

# 4. appendix: the document number.
script "confirm yes" "pin 2222"
out=$(kysoctl sign --verbose --role appendix --cert "$SEAL" --level B-B --doc-number "7/QĐ-UBND" "$D/qd.pdf" \
        -o "$T/out/appendix.pdf" 2>&1)
expect "appendix is signed ($out)" test -s "$T/out/appendix.pdf"
expect_eq "pdfsig: valid" 1 "$(pdfsig_valid "$T/out/appendix.pdf")"
expect_match "the appendix stamp names the document" "Phụ lục kèm theo văn bản số 7/QĐ-UBND" \
        "$(pdftotext "$T/out/appendix.pdf" - 2>/dev/null)"

# 5. --visible without an image (none configured for the leader): signed invisibly, the prompt says so.
: >"$KYSO_TEST_PINENTRY_LOG"
script "confirm yes" "pin 1111"
out=$(kysoctl sign --verbose --role approve --cert "$LEADER" --level B-B --visible 1,300,150,240,80 \
        "$D/qd.pdf" -o "$T/out/invisible.pdf" 2>&1)
expect "approve with --visible but no image is signed ($out)" test -s "$T/out/invisible.pdf"
expect "the prompt said the signature will be invisible" grep -q "invisible in the PDF" "$KYSO_TEST_PINENTRY_LOG"
# 5b. issue with a number on a PDF whose leader signed invisibly: no seal to place, the number is written,
# and the prompt says exactly that (not that the whole signature is invisible).
: >"$KYSO_TEST_PINENTRY_LOG"
script "confirm yes" "pin 2222"
out=$(kysoctl sign --verbose --role issue --cert "$SEAL" --level B-B --doc-number "7/QĐ-UBND" \
        --doc-number-at 1,60,760,200,20 "$T/out/invisible.pdf" -o "$T/out/number-only.pdf" 2>&1)
expect "issue with a number over an invisible leader's signature is signed ($out)" test -s "$T/out/number-only.pdf"
expect_match "... the number is written" "7/QĐ-UBND" "$(pdftotext "$T/out/number-only.pdf" - 2>/dev/null)"
expect "... the prompt says the seal is not drawn but the number is" \
        grep -q "The seal will not be drawn in the PDF, only the document number and date: the PDF has no visible" \
        "$KYSO_TEST_PINENTRY_LOG"

# 6. An image that is not a PNG: refused before any prompt, saying what to give (issue 11); without --visible
# the image is not drawn, so not read, and nothing is said.
echo "not a PNG" >"$T/bad.png"
: >"$KYSO_TEST_PINENTRY_LOG"
script "confirm yes" "pin 1111"
out=$(kysoctl sign --verbose --role approve --cert "$LEADER" --level B-B --visible 1,300,150,240,80 \
        --image "$T/bad.png" "$D/qd.pdf" -o "$T/out/bad-image.pdf" 2>&1)
expect_match "approve with a bad image is refused, saying why" "image cannot be used: The image is not a PNG file.*PNG with a transparent background" "$out"
expect "... before any prompt" bash -c "! grep -qE '^(CONFIRM|GETPIN)' '$KYSO_TEST_PINENTRY_LOG'"
expect "... and nothing is written" bash -c "! test -s '$T/out/bad-image.pdf'"
: >"$KYSO_TEST_PINENTRY_LOG"
script "confirm yes" "pin 1111"
out=$(kysoctl sign --verbose --role approve --cert "$LEADER" --level B-B --image "$T/bad.png" "$D/qd.pdf" \
        -o "$T/out/plain.pdf" 2>&1)
expect "approve without --visible is signed ($out)" test -s "$T/out/plain.pdf"
expect "... and the prompt says nothing of visibility" bash -c "! grep -q invisible '$KYSO_TEST_PINENTRY_LOG'"

# 7. Wrong --visible: a usage error, no request.
out=$(kysoctl sign --role approve --cert "$LEADER" --visible 0,1,2,3 "$D/qd.pdf" -o "$T/out/never.pdf" 2>&1)
expect_eq "a bad --visible is a usage error (exit 2)" 2 "$?"

expect "kysod is still running" alive
expect_no_sanitizer_report "kysod: no sanitizer report" "$T/kysod.log"
kill "$kysod_pid" 2>/dev/null
wait "$kysod_pid" 2>/dev/null

# 7b. A default place from the policy ([signature] place, here in a drop-in): an approval that names no place,
# with an image, is drawn there while kysod.conf names none. Section 8 then adds kysod.conf's places, which
# win: its "not on page 1" check is this place left unused.
mkdir -p "$(dirname "$KYSO_POLICY")/policy.d"
printf '[signature]\nplace = 1,300,150,240,80\n' >"$(dirname "$KYSO_POLICY")/policy.d/place.conf"
: >"$T/kysod-policy.log"
start_kysod "$T/kysod-policy.log" || bail_out "kysod did not start again: $(cat "$T/kysod-policy.log")"
script "confirm yes" "pin 1111"
out=$(kysoctl sign --verbose --role approve --cert "$LEADER" --level B-B --image "$T/sig.png" "$D/qd.pdf" \
        -o "$T/out/policy-place.pdf" 2>&1)
expect "approve with an image and no --visible is signed ($out)" test -s "$T/out/policy-place.pdf"
expect_eq "... drawn at the policy's place" "0 0 255" "$(pixel "$T/out/policy-place.pdf" 500 190 1)"
kill "$kysod_pid" 2>/dev/null
wait "$kysod_pid" 2>/dev/null

# 8. A default place from kysod.conf (signature-place): the leader's own line, on the last page, used by an
# approval that names no place, with the leader's configured image, rather than the line for every
# certificate; a place the app names wins; the seal then goes over the default one.
leader_sha256=$(openssl x509 -in "$KYSO_PKI/leader.pem" -outform DER | sha256sum | cut -d' ' -f1)
{
        echo "signature-image = $leader_sha256 $T/sig.png"
        echo "signature-place = 1,10,10,50,50"
        echo "signature-place = $leader_sha256 last,300,150,240,80"
} >>"$KYSO_AGENT_CONFIG"
: >"$T/kysod2.log"
start_kysod "$T/kysod2.log" || bail_out "kysod did not start again: $(cat "$T/kysod2.log")"
qpdf --empty --pages "$D/qd.pdf" "$D/qd.pdf" -- "$D/two.pdf" || bail_out "qpdf cannot make two pages"
: >"$KYSO_TEST_PINENTRY_LOG"
script "confirm yes" "pin 1111"
out=$(kysoctl sign --verbose --role approve --cert "$LEADER" --level B-B "$D/two.pdf" -o "$T/out/default.pdf" 2>&1)
expect "approve without --visible is signed ($out)" test -s "$T/out/default.pdf"
expect_eq "... drawn at kysod.conf's place on the last page" "0 0 255" "$(pixel "$T/out/default.pdf" 500 190 2)"
expect_eq "... and not on page 1" "255 255 255" "$(pixel "$T/out/default.pdf" 500 190 1)"
expect "... and the prompt does not say it is invisible" bash -c "! grep -q invisible '$KYSO_TEST_PINENTRY_LOG'"
script "confirm yes" "pin 1111"
out=$(kysoctl sign --verbose --role approve --cert "$LEADER" --level B-B --visible 1,300,150,240,80 "$D/two.pdf" \
        -o "$T/out/asked.pdf" 2>&1)
expect_eq "a place the app names wins over kysod.conf's" "0 0 255" "$(pixel "$T/out/asked.pdf" 500 190 1)"
expect_eq "... so the last page stays blank there" "255 255 255" "$(pixel "$T/out/asked.pdf" 500 190 2)"
script "confirm yes" "pin 2222"
out=$(kysoctl sign --verbose --role issue --cert "$SEAL" --level B-B "$T/out/default.pdf" -o "$T/out/default-issued.pdf" 2>&1)
expect "issue over it is signed ($out)" test -s "$T/out/default-issued.pdf"
expect_eq "pdfsig: both valid" 2 "$(pdfsig_valid "$T/out/default-issued.pdf")"
expect_eq "the seal is red over the left third of the leader's image, on the last page" "255 0 0" \
        "$(pixel "$T/out/default-issued.pdf" 350 190 2)"
# A decision: the number and date at the top of page 1, the leader's signature on the last page (issue 11;
# this used to be InvalidArgs). They go into a locked text stamp annotation on page 1, in the seal's update;
# the seal's field keeps its one widget on page 2, so pdfsig lists exactly two signatures, both valid.
# issue_on_two OUT NUMBER_PAGE DATE_PAGE DATE_Y
issue_on_two() {
        script "confirm yes" "pin 2222"
        out=$(kysoctl sign --verbose --role issue --cert "$SEAL" --level B-B --doc-number "7/QĐ-UBND" \
                --doc-date "Uông Bí, ngày 06 tháng 12 năm 2026" --doc-number-at "$2,60,760,200,20" \
                --doc-date-at "$3,330,$4,230,20" "$T/out/default.pdf" -o "$1" 2>&1)
        expect "number on page $2, date on page $3: signed ($out)" test -s "$1"
        expect "qpdf --check passes on it" qpdf --check "$1"
        pdfsig -nssdir "sql:$T/nss" "$1" >"$T/pdfsig.log" 2>&1
        expect_eq "pdfsig lists exactly 2 signatures" 2 "$(grep -c 'Signature Validation' "$T/pdfsig.log")"
        expect_eq "... both valid" 2 "$(grep -c 'Signature is Valid\.' "$T/pdfsig.log")"
        expect "... none 'not signed'" bash -c "! grep -q 'not signed' '$T/pdfsig.log'"
        expect_eq "kyso's verifier: both signatures valid, the leader's counts" \
                "True ok B-B 2 True|True ok B-B 3 False" "$(verify "$1" | paste -sd '|')"
        out=$(kysoctl verify "$1" 2>&1)
        rc=$?
        # One line in the TAP description: kysoctl verify prints many.
        expect "kysoctl verify accepts it (exit $rc: $(tail -n 1 <<<"$out"))" test "$rc" -eq 0
        expect_match "... and names the stamp" "text stamp was added on page 1 in revision 3" "$out"
        out=$(kysoctl verify --json "$1" 2>&1)
        expect_match "kysoctl verify --json names it" '"noted_change":"a text stamp was added on page 1' "$out"
        kysoctl verify --html "$T/report.html" "$1" >/dev/null 2>&1
        expect_match "kysoctl verify --html names it (in Vietnamese)" "dấu văn bản đã được thêm vào trang 1" "$(cat "$T/report.html")"
        expect_match "the number is on page 1" "7/QĐ-UBND" "$(pdftotext -f 1 -l 1 "$1" - 2>/dev/null)"
        expect_match "the date is on page $3" "Uông Bí, ngày 06 tháng 12 năm 2026" \
                "$(pdftotext -f "$3" -l "$3" "$1" - 2>/dev/null)"
        expect_dark "the number is drawn inside its rectangle on page 1" "$1" 60 760 200 20
        expect_eq "the seal is red over the left third of the leader's image, on the last page" "255 0 0" \
                "$(pixel "$1" 350 190 2)"
        expect_eq "the leader's image is still blue on its right" "0 0 255" "$(pixel "$1" 500 190 2)"
        if command -v mutool >/dev/null; then
                expect "mutool reads it" mutool info "$1"
        fi
}
issue_on_two "$T/out/numbered1.pdf" 1 1 760
expect_dark "the date is drawn inside its rectangle on page 1" "$T/out/numbered1.pdf" 330 760 230 20
expect_eq "... and nothing dark between them" 0 "$(dark_pixels "$T/out/numbered1.pdf" 280 760 40 20)"
issue_on_two "$T/out/numbered12.pdf" 1 2 500
script "confirm yes" "pin 2222"
out=$(kysoctl sign --verbose --role issue --cert "$SEAL" --level B-B --doc-number "7/QĐ-UBND" \
        --doc-number-at 2,60,760,200,20 "$T/out/default.pdf" -o "$T/out/numbered2.pdf" 2>&1)
expect "... and on its page it is signed ($out)" test -s "$T/out/numbered2.pdf"
expect_eq "pdfsig: both valid" 2 "$(pdfsig_valid "$T/out/numbered2.pdf")"
expect_match "pdftotext finds the number" "7/QĐ-UBND" "$(pdftotext -f 2 -l 2 "$T/out/numbered2.pdf" - 2>/dev/null)"

# 9. A decision its author certified (DocMDP) before the leader signed on the last page. /P 2 allows later
# signatures but no new annotation (ISO 32000-1, table 254): the number's text stamp on page 1 would end the
# certification, so that issue is refused before any prompt and nothing is written; with the number on the
# seal's page (drawn by the seal's widget) it is signed and every signature still counts. /P 3 allows
# annotations: the stamp is written and every signature counts.
# certify IN OUT P: IN certified by the leader's key with DocMDP /P P (openssl cms, as another tool would).
certify() {
        python3 - "$KYSO_SOURCE_ROOT/tests/formats/make-pdf-attacks.py" "$KYSO_PKI" "$@" <<'PY'
import importlib.util, sys
spec = importlib.util.spec_from_file_location("attacks", sys.argv[1])
m = importlib.util.module_from_spec(spec)
spec.loader.exec_module(m)
pki, inp, out, p = sys.argv[2:6]
data = open(inp, "rb").read()
open(out, "wb").write(m.sign_update(data, pki + "/leader.key", pki + "/leader.pem", pki + "/ca.pem", "Author",
                                    b"adbe.pkcs7.detached", docmdp=int(p)))
PY
}
qpdf --object-streams=disable "$D/two.pdf" "$D/two-plain.pdf" || bail_out "qpdf cannot rewrite two.pdf"
# all_count FILE: every signature valid and counting, one "True ok" line each
all_count() { verify "$1" | grep -cv "^True ok "; }
for p in 2 3; do
        certify "$D/two-plain.pdf" "$D/certified-p$p.pdf" "$p" || bail_out "cannot certify with /P $p"
        script "confirm yes" "pin 1111"
        out=$(kysoctl sign --verbose --role approve --cert "$LEADER" --level B-B "$D/certified-p$p.pdf" \
                -o "$T/out/certified-p$p-approved.pdf" 2>&1)
        expect "/P $p: the leader's approval on the last page is signed ($out)" test -s "$T/out/certified-p$p-approved.pdf"
        expect_eq "/P $p: ... and both signatures count" "0" "$(all_count "$T/out/certified-p$p-approved.pdf")"
done
# issue_certified P PAGE OUT: the seal issues certified-pP-approved.pdf with the number on PAGE into OUT.
issue_certified() {
        script "confirm yes" "pin 2222"
        out=$(kysoctl sign --verbose --role issue --cert "$SEAL" --level B-B --doc-number "7/QĐ-UBND" \
                --doc-number-at "$2,60,760,200,20" "$T/out/certified-p$1-approved.pdf" -o "$3" 2>&1)
}
# signed_all_count NAME FILE: signed, and all three signatures count, the certification too
signed_all_count() {
        expect "$1: signed ($out)" test -s "$2"
        expect_eq "... and every signature counts, the certification too" "0" "$(all_count "$2")"
        expect_eq "... all three" 3 "$(verify "$2" | wc -l)"
}
: >"$KYSO_TEST_PINENTRY_LOG"
issue_certified 2 1 "$T/out/certified-p2-stamped.pdf"
expect_match "/P 2, the number on page 1, the seal on page 2: refused as BadDocument" "BadDocument" "$out"
expect_match "... saying what to do" "on page 2, with the signature, or sign without" "$out"
expect "... before any prompt" bash -c "! grep -qE '^(CONFIRM|GETPIN)' '$KYSO_TEST_PINENTRY_LOG'"
expect "... nothing written" test ! -s "$T/out/certified-p2-stamped.pdf"
if [ -s "$T/out/certified-p2-stamped.pdf" ]; then
        expect_eq "... what was written still leaves every signature counting" "" \
                "$(verify "$T/out/certified-p2-stamped.pdf" | grep -v '^True ok ')"
fi
issue_certified 2 2 "$T/out/certified-p2-issued.pdf"
signed_all_count "/P 2, the number on the seal's page" "$T/out/certified-p2-issued.pdf"
issue_certified 3 1 "$T/out/certified-p3-issued.pdf"
signed_all_count "/P 3, the number on page 1, the seal on page 2" "$T/out/certified-p3-issued.pdf"
expect_match "... the number is on page 1" "7/QĐ-UBND" "$(pdftotext -f 1 -l 1 "$T/out/certified-p3-issued.pdf" - 2>/dev/null)"
expect "kysod is still running" alive
expect_no_sanitizer_report "kysod: no sanitizer report" "$T/kysod2.log"
kill "$kysod_pid" 2>/dev/null
wait "$kysod_pid" 2>/dev/null
tap_done
