#!/usr/bin/env bash
# test-pdf-visible-corpus.sh SIGN_TOOL: a sample of ../shared/corpus/pdf (every KYSO_PDF_STRIDE-th file,
# default 6) gets the visible signatures of an issued copy: the leader's image on page 1, the seal over it,
# then a copy stamp at the top right of page 1. Real pages (inherited boxes, /Rotate, /CropBox, indirect
# /Annots) are re-emitted by the writer, so each output is checked by independent tools:
#   - qpdf --check passes on each output when it passes on the input;
#   - pdfsig: each of our signatures "Signature is Valid.";
#   - on files of two pages or more, a decision too: the leader's image on the last page, the seal over it
#     and the document number on page 1, in a text stamp the seal signs (pades-sign-tool --text-at);
#   - pdftotext finds the stamp's Vietnamese text when it reads the input's page 1 at all and the form does
#     not say /NeedAppearances true (poppler then redraws every widget itself and draws a signature's as
#     nothing: a known limit, counted).
# A PDF kyso refuses, a page too small for the stamp or the seal, is counted, not failed. Exit 77 (skip)
# without the corpus.
set -uo pipefail

tool=${1:?usage: test-pdf-visible-corpus.sh SIGN_TOOL}
src=${KYSO_SOURCE_ROOT:?run through meson test}
stride=${KYSO_PDF_STRIDE:-6}
per_file_timeout=${KYSO_PDF_TIMEOUT:-60}

source "$src/tests/formats/pdf-corpus-env.sh"
pdf_corpus_env pdf-visible qpdf pdfsig pdftotext pdfinfo certutil python3

# A blue stroke and a red ring, both with transparency.
"$src/tests/signing/make-png.py" "$tmp/sig.png" stroke 120 40 0,0,200 &&
        "$src/tests/signing/make-png.py" "$tmp/seal.png" ring 80 80 220,0,0 || exit 1

failures=0
sampled=0
signed=0
declare -A skipped

fail() {
        echo "FAIL $name: $*"
        failures=$((failures + 1))
}

# sign IN OUT ARGS...: 0 signed, 1 skipped (counted), 2 failed.
sign() {
        local in=$1 out=$2 rc
        shift 2
        timeout "$per_file_timeout" "$tool" "$@" "$in" "$out" >"$tmp/out" 2>"$tmp/err"
        rc=$?
        case $rc in
        0) return 0 ;;
        2) skipped[refused]=$((${skipped[refused]:-0} + 1)); return 1 ;;
        1)
                if grep -q 'does not fit\|no visible signature\|has no valid /MediaBox\|invalid /Rotate\|is not an indirect' "$tmp/err"; then
                        skipped[placement]=$((${skipped[placement]:-0} + 1))
                        echo "skipped $name: $(head -c 200 "$tmp/err")"
                        return 1
                fi
                fail "exit 1: $(head -c 300 "$tmp/err")"
                return 2
                ;;
        124) fail "timed out after ${per_file_timeout}s"; return 2 ;;
        *) fail "exit $rc: $(head -c 300 "$tmp/err")"; return 2 ;;
        esac
}

# check IN OUT N: OUT passes qpdf --check (when IN does) and its last N signatures are valid for pdfsig.
check() {
        local in=$1 out=$2 n=$3 valid
        if qpdf --check "$in" >/dev/null 2>&1; then
                qpdf --check "$out" >"$tmp/qpdf.log" 2>&1 || fail "qpdf --check $(basename "$out"): $(tail -n 3 "$tmp/qpdf.log")"
        fi
        valid=$(pdfsig -nssdir "sql:$tmp/nss" "$out" 2>/dev/null | grep 'Signature Validation:' | tail -n "$n" |
                grep -c 'Signature is Valid.')
        ((valid == n)) || fail "pdfsig: $valid of the last $n signatures of $(basename "$out") valid"
}

# corner IN PAGE: "X Y", 10 points inside the bottom-left corner of the page's visible area (pdfinfo's crop
# box), when it has room for a 130 x 50 place; else nothing.
corner() {
        timeout "$per_file_timeout" pdfinfo -f "$2" -l "$2" -box "$1" 2>/dev/null |
                awk -v p="$2" '$1 == "Page" && $2 == p && $3 == "CropBox:" && $6 - $4 >= 130 && $7 - $5 >= 50 {
                        printf "%d %d\n", $4 + 10, $5 + 10 }'
}

# decision IN: a decision longer than a page (issue 11), when IN has two pages or more with room: the
# leader's image on the last page, then the seal over it with the document number placed on page 1, which
# goes into a text stamp in the seal's update. Both signatures valid for pdfsig, qpdf --check as above, and
# pdftotext finds the number on page 1 when it reads the input's page 1.
decision() {
        local in=$1 pages first last
        pages=$(timeout "$per_file_timeout" pdfinfo "$in" 2>/dev/null | awk '/^Pages:/ { print $2 }')
        [[ $pages =~ ^[0-9]+$ ]] && ((pages >= 2)) || return 0
        read -r -a first < <(corner "$in" 1)
        read -r -a last < <(corner "$in" "$pages")
        if ((${#first[@]} != 2 || ${#last[@]} != 2)); then
                skipped[decision-small-page]=$((${skipped[decision-small-page]:-0} + 1))
                return 0
        fi
        sign "$in" "$tmp/d1.pdf" --visible "$pages,$((last[0] + 40)),${last[1]},80,30" --image "$tmp/sig.png" \
                "$pki/leader.pem" "$pki/leader.key" "$pki/ca.pem" || return 0
        sign "$tmp/d1.pdf" "$tmp/d2.pdf" --seal 20 --image "$tmp/seal.png" \
                --text-at "1,${first[0]},$((first[1] + 30)),110,14:Số: 7/QĐ-UBND" \
                "$pki/other.pem" "$pki/other.key" "$pki/ca.pem" || return 0
        check "$tmp/d1.pdf" "$tmp/d2.pdf" 2
        decisions=$((decisions + 1))
        if timeout "$per_file_timeout" pdftotext -f 1 -l 1 "$in" - >/dev/null 2>&1; then
                timeout "$per_file_timeout" pdftotext -f 1 -l 1 "$tmp/d2.pdf" - 2>/dev/null | grep -q '7/QĐ-UBND' ||
                        fail "pdftotext does not find the number the seal's text stamp put on page 1"
        fi
}

decisions=0
i=0
while IFS= read -r -d '' f; do
        i=$((i + 1))
        ((i % stride == 0)) || continue
        name=${f#"$corpus"/}
        sampled=$((sampled + 1))
        sign "$f" "$tmp/1.pdf" --visible 1,60,60,120,40 --image "$tmp/sig.png" \
                "$pki/leader.pem" "$pki/leader.key" "$pki/ca.pem" || continue
        check "$f" "$tmp/1.pdf" 1
        sign "$tmp/1.pdf" "$tmp/2.pdf" --seal 20 --image "$tmp/seal.png" \
                "$pki/other.pem" "$pki/other.key" "$pki/ca.pem" || continue
        check "$tmp/1.pdf" "$tmp/2.pdf" 2
        sign "$tmp/2.pdf" "$tmp/3.pdf" --stamp --text "BẢN SAO" --text "Ủy ban nhân dân tỉnh Hà Nam" \
                "$pki/leader.pem" "$pki/leader.key" "$pki/ca.pem" || continue
        check "$tmp/2.pdf" "$tmp/3.pdf" 3
        if grep -aq '/NeedAppearances[[:space:]]*true' "$f"; then
                skipped[need-appearances]=$((${skipped[need-appearances]:-0} + 1))
        elif timeout "$per_file_timeout" pdftotext -f 1 -l 1 "$f" - >/dev/null 2>&1; then
                timeout "$per_file_timeout" pdftotext -f 1 -l 1 "$tmp/3.pdf" - 2>/dev/null | grep -q 'BẢN SAO' ||
                        fail "pdftotext does not find the stamp's text on page 1"
        fi
        signed=$((signed + 1))
        decision "$f"
done < <(find "$corpus" -type f -name '*.pdf' -print0 | sort -z)

echo "sampled $sampled corpus files, $signed signed visibly three times (leader, seal, stamp)," \
        "$decisions also as a decision of two pages or more (the number on page 1, the seal on the last); skipped:"
for r in "${!skipped[@]}"; do
        echo "  $r: ${skipped[$r]}"
done
if ((failures > 0)); then
        echo "$failures failures"
        exit 1
fi
exit 0
