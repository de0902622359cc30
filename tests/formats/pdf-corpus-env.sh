# Sourced by the corpus tests: pdf_corpus_env NAME TOOL...: $corpus (exit 77 without it or without one of
# the TOOLs), $tmp (removed at exit), $pki (make-test-pki.sh's) and $tmp/nss, an NSS database trusting
# its root for pdfsig. Needs $src.
pdf_corpus_env() {
        local name=$1 t
        shift
        corpus=${KYSO_PDF_CORPUS:-${KYSO_SHARED_DIR:-$src/../shared}/corpus/pdf}
        if [[ ! -d $corpus ]]; then
                echo "no PDF corpus at $corpus: skipped"
                exit 77
        fi
        for t in "$@"; do
                command -v "$t" >/dev/null || { echo "$t is not installed: skipped"; exit 77; }
        done
        tmp=$(mktemp -d "/tmp/kyso-$name-XXXXXX")
        trap 'rm -rf "$tmp"' EXIT
        "$src/tests/formats/make-test-pki.sh" "$tmp/pki" >"$tmp/pki.log" 2>&1 || { cat "$tmp/pki.log"; exit 1; }
        pki=$tmp/pki
        mkdir "$tmp/nss"
        certutil -N -d "sql:$tmp/nss" --empty-password >/dev/null
        certutil -A -d "sql:$tmp/nss" -n root -t "CT,C,C" -i "$pki/root.pem" >/dev/null
}
