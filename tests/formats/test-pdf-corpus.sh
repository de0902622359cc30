#!/usr/bin/env bash
# test-pdf-corpus.sh SIGN_TOOL: every PDF of ../shared/corpus/pdf (relative to the source root) is signed
# with pades-sign-tool (leader), and a signed result is signed again (other: a second signer, as approve
# then issue). Each output is checked by independent tools:
#   - the input is a byte-exact prefix of the output;
#   - qpdf --check passes on the output when it passes on the input;
#   - pdfsig (test root in a throw-away NSS database): each of our signatures "Signature is Valid." and
#     "Certificate is Trusted.", "Total document signed" for the last, earlier verdicts unchanged;
#   - openssl cms -verify over the byte ranges, with the CMS taken out of /Contents;
#   - mutool sign -v (where mutool opens the file): no digest error on our signatures.
# A refusal must come with a reason; a crash, an error or a hang (timeout per file) fails the test. Prints
# how many files were signed and why each other was refused. Exit 77 (skip) without the corpus.
set -uo pipefail

tool=${1:?usage: test-pdf-corpus.sh SIGN_TOOL}
src=${KYSO_SOURCE_ROOT:?run through meson test}
per_file_timeout=${KYSO_PDF_TIMEOUT:-60}
# Every file in the plain build; a sanitizer build (several times slower) takes every Nth (meson sets it).
stride=${KYSO_PDF_CORPUS_STRIDE:-1}

source "$src/tests/formats/pdf-corpus-env.sh"
pdf_corpus_env pdf-corpus qpdf pdfsig certutil openssl python3
have_mutool=false
command -v mutool >/dev/null && have_mutool=true

failures=0
signed=0
refused=0
with_signatures=0
declare -A reasons kinds

fail() {
        echo "FAIL $name: $*"
        failures=$((failures + 1))
}

# extract FILE N OUT_PREFIX: the content covered by the N-th from last /ByteRange and the CMS in its
# /Contents (DER, padding dropped).
extract() {
        python3 - "$1" "$2" "$3" <<'PY'
import re, sys
data = open(sys.argv[1], 'rb').read()
ranges = re.findall(rb'/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]', data)
a, b, c, d = map(int, ranges[-int(sys.argv[2])])
assert a == 0 and c + d == len(data) or int(sys.argv[2]) > 1, "the last signature does not cover the file"
hexstr = data[b:c]
assert hexstr[:1] == b'<' and hexstr[-1:] == b'>', "the gap is not the /Contents hex string"
der = bytes.fromhex(hexstr[1:-1].decode())
# DER length of the outer SEQUENCE: drop the zero padding.
n = der[1]
size = 2 + n if n < 0x80 else 2 + (n & 0x7f) + int.from_bytes(der[2:2 + (n & 0x7f)], 'big')
open(sys.argv[3] + '.p7s', 'wb').write(der[:size])
open(sys.argv[3] + '.content', 'wb').write(data[a:a + b] + data[c:c + d])
PY
}

# pdfsig's verdict lines, one per signature: "validation|certificate|total".
verdicts() {
        pdfsig -nssdir "sql:$tmp/nss" "$1" 2>/dev/null | awk '
                /^Signature #/ { if (n++) print v "|" c "|" t; v = c = t = "" }
                /Signature Validation:/ { sub(/.*Validation: /, ""); v = $0 }
                /Certificate Validation:/ { sub(/.*Validation: /, ""); c = $0 }
                /Total document signed/ { t = "total" }
                /Not total document signed/ { t = "partial" }
                END { if (n) print v "|" c "|" t }'
}

# check IN OUT OURS: OUT is IN signed, its last OURS signatures are ours.
check() {
        local in=$1 out=$2 ours=$3 before after n i
        local insize
        insize=$(stat -c %s "$in")
        cmp -s -n "$insize" "$in" "$out" || fail "the original bytes changed"
        if qpdf --check "$in" >/dev/null 2>&1; then
                qpdf --check "$out" >"$tmp/qpdf.log" 2>&1 || fail "qpdf --check: $(tail -n 3 "$tmp/qpdf.log")"
        fi
        mapfile -t before < <(verdicts "$in")
        mapfile -t after < <(verdicts "$out")
        n=${#after[@]}
        if ((n != ${#before[@]} + 1)); then
                fail "pdfsig sees $n signatures, expected $((${#before[@]} + 1))"
                return
        fi
        for ((i = 0; i < ${#before[@]}; i++)); do
                # An earlier signature keeps its verdict; only "total" becomes "partial".
                [[ ${before[i]%|*} == "${after[i]%|*}" ]] || fail "signature $((i + 1)) changed: ${before[i]} -> ${after[i]}"
        done
        for ((i = n - ours; i < n; i++)); do
                [[ ${after[i]} == "Signature is Valid.|Certificate is Trusted."* ]] ||
                        fail "pdfsig on signature $((i + 1)): ${after[i]}"
        done
        [[ ${after[n - 1]##*|} == total ]] || fail "pdfsig: the last signature does not cover the whole file"
        for ((i = 1; i <= ours; i++)); do
                if ! extract "$out" "$i" "$tmp/x" 2>"$tmp/x.log"; then
                        fail "cannot extract signature -$i: $(tail -n 1 "$tmp/x.log")"
                        continue
                fi
                openssl cms -verify -binary -inform DER -in "$tmp/x.p7s" -content "$tmp/x.content" \
                        -CAfile "$pki/root.pem" -purpose any -out /dev/null 2>"$tmp/cms.log" ||
                        fail "openssl cms -verify on signature -$i: $(head -n 2 "$tmp/cms.log")"
        done
        if $have_mutool && timeout "$per_file_timeout" mutool sign -v "$out" >"$tmp/mutool.log" 2>&1; then
                # mutool numbers the signatures by object; ours are the last blocks.
                local blocks
                blocks=$(grep -c '^Verifying signature' "$tmp/mutool.log")
                if ((blocks >= ours)); then
                        awk -v from=$((blocks - ours + 1)) '/^Verifying signature/ { k++ } k >= from' \
                                "$tmp/mutool.log" | grep -q 'Digest error' && fail "mutool sign -v: digest error"
                fi
        fi
}

while IFS= read -r -d '' f; do
        name=${f#"$corpus"/}
        timeout "$per_file_timeout" "$tool" --reason "Phê duyệt" --location "Hà Nội" \
                "$pki/leader.pem" "$pki/leader.key" "$pki/ca.pem" "$f" "$tmp/1.pdf" >"$tmp/out" 2>"$tmp/err"
        rc=$?
        case $rc in
        0)
                kind=$(sed -n 's/^signed xref=\([a-z]*\).*/\1/p' "$tmp/out")
                kinds[$kind]=$((${kinds[$kind]:-0} + 1))
                grep -q 'signatures=0$' "$tmp/out" || with_signatures=$((with_signatures + 1))
                ;;
        2)
                reason=$(sed -n 's/^refused \([a-z-]*\):.*/\1/p' "$tmp/out")
                if [[ -z $reason ]]; then
                        fail "refused without a reason: $(cat "$tmp/out")"
                        continue
                fi
                refused=$((refused + 1))
                reasons[$reason]=$((${reasons[$reason]:-0} + 1))
                echo "refused $name: $(cut -c 1-200 "$tmp/out" | sed 's/^refused //')"
                continue
                ;;
        124) fail "timed out after ${per_file_timeout}s"; continue ;;
        *) fail "exit $rc: $(head -c 300 "$tmp/err")"; continue ;;
        esac
        check "$f" "$tmp/1.pdf" 1
        # The second signer on the signed file: the first signature must stay valid.
        timeout "$per_file_timeout" "$tool" --name "Văn thư" "$pki/other.pem" "$pki/other.key" "$pki/ca.pem" \
                "$tmp/1.pdf" "$tmp/2.pdf" >"$tmp/out" 2>"$tmp/err"
        rc=$?
        if ((rc != 0)); then
                fail "signing the signed file: exit $rc: $(head -c 300 "$tmp/out" "$tmp/err")"
                continue
        fi
        check "$tmp/1.pdf" "$tmp/2.pdf" 1
        signed=$((signed + 1))
done < <(find "$corpus" -type f -name '*.pdf' -print0 | sort -z |
        awk -v RS='\0' -v ORS='\0' -v n="$stride" '(NR - 1) % n == 0')

((stride > 1)) && echo "every ${stride}th corpus file (a sanitizer build)"
echo "signed $signed corpus files (each twice; $with_signatures already signed), by their last cross-reference section:"
for k in "${!kinds[@]}"; do
        echo "  $k: ${kinds[$k]}"
done
echo "refused $refused:"
for r in "${!reasons[@]}"; do
        echo "  $r: ${reasons[$r]}"
done
if ((failures > 0)); then
        echo "$failures failures"
        exit 1
fi
exit 0
