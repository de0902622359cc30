# Sourced by the PDF signing tests (TAP, after tap.sh): outside the sandbox, runs the test again inside
# contrib/sandbox (kysod not started yet, the scripted pinentry) and exits with its status; inside, sets T
# (the test's folder), D (its documents), LEADER, SEAL, MKPDF, the helpers below, and an NSS database
# holding the test root only, for pdfsig (SoftHSM stays out of it).
# SoftHSM itself, whatever module the caller's environment names.
unset KYSO_SANDBOX_MODULE
sandbox_test "$(basename "$0" .sh)" --no-start
# ---- inside the sandbox
D=$T/docs
mkdir -p "$D" "$T/out"
LEADER="pkcs11:token=leader;object=leader;type=cert"
SEAL="pkcs11:token=seal;object=seal;type=cert"
MKPDF=$KYSO_SOURCE_ROOT/tests/signing/make-pdf.py
prompts() { pinentry_count '^SETDESC'; }
alive() { kill -0 "$kysod_pid" 2>/dev/null; }

mkdir -p "$T/nss"
certutil -N -d "sql:$T/nss" --empty-password >/dev/null 2>&1
certutil -A -d "sql:$T/nss" -n kyso-test-root -t "CT,C,C" -i "$KYSO_PKI/root.pem" >/dev/null 2>&1 ||
        bail_out "certutil cannot add the test root"
pdfsig_valid() { pdfsig -nssdir "sql:$T/nss" "$1" 2>&1 | grep -c "Signature is Valid\."; }
pdfsig_total() { pdfsig -nssdir "sql:$T/nss" "$1" 2>&1 | grep -c "Total document signed"; }
