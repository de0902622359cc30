#!/usr/bin/env bash
# test-kysoctl-policy.sh: `kysoctl policy check` on good and bad files (exit codes, file:line messages), the
# shipped example (with its roots pointed at a test root), and the owner check. Output is TAP.
set -uo pipefail

: "${KYSO_SOURCE_ROOT:?run through meson test}" "${KYSOCTL:?run through meson test}"
. "$KYSO_SOURCE_ROOT/tests/fixtures/tap.sh"
export LC_ALL=C.UTF-8
unset KYSO_POLICY KYSO_POLICY_INSECURE_SKIP_OWNER_CHECK LANGUAGE

T=$(mktemp -d "${TMPDIR:-/tmp}/kyso-policy-check.XXXXXX") || bail_out "mktemp failed"
trap 'rm -rf -- "$T"' EXIT
chmod 755 "$T"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/root.key" -out "$T/root.pem" \
        -subj "/CN=Test Root" -days 30 -addext basicConstraints=critical,CA:TRUE 2>/dev/null ||
        bail_out "openssl req failed"
chmod 644 "$T/root.pem"

check() { # DESC EXIT REGEX ARGS...
        expect_exit "$1" "$2" "$3" "$KYSOCTL" policy "${@:4}"
}

mkdir -m 755 "$T/good"
printf '[trust]\nroot = %s\n[revocation]\nrewrite = http://ocsp.ca.ptc http://ocsp.ca.gov.vn\n' "$T/root.pem" \
        >"$T/good/policy.conf"
chmod 644 "$T/good/policy.conf"
OWNER=()
[[ $(id -u) -eq 0 ]] || OWNER=(--insecure-skip-owner-check)
check "good policy: OK with a summary" 0 "Policy OK" check "${OWNER[@]}" "$T/good/policy.conf"
check "summary lists the root and rewrite" 0 "rewrite http://ocsp.ca.ptc -> http://ocsp.ca.gov.vn" check "${OWNER[@]}" \
        "$T/good/policy.conf"
mkdir -m 755 "$T/narrow"
printf '[trust]\nroot = %s\n[kind personal]\nkind = personal\nissuer = CN=CA*\nnot-issuer = CN=CA cũ\nnot-subject = CN=Thử*\n' \
        "$T/root.pem" >"$T/narrow/policy.conf"
chmod 644 "$T/narrow/policy.conf"
check "summary shows not-issuer" 0 "not-issuer CN=CA cũ" check "${OWNER[@]}" "$T/narrow/policy.conf"
check "summary shows not-subject" 0 "not-subject CN=Thử\*" check "${OWNER[@]}" "$T/narrow/policy.conf"
KYSO_POLICY="$T/good/policy.conf" check "KYSO_POLICY is the default file" 0 "Policy OK" check "${OWNER[@]}"

mkdir -m 755 "$T/bad"
printf '[trust]\nroot = %s\n[revocation]\nmode = never\nbogus = 1\n' "$T/root.pem" >"$T/bad/policy.conf"
check "bad value: file:line" 1 "$T/bad/policy.conf:4: bad value 'never' for mode" check "${OWNER[@]}" "$T/bad/policy.conf"
check "unknown key: file:line" 1 "$T/bad/policy.conf:5: unknown key 'bogus'" check "${OWNER[@]}" "$T/bad/policy.conf"
check "the count of problems" 1 "is invalid: 2 problem" check "${OWNER[@]}" "$T/bad/policy.conf"
# Every line, also the policy library's, names the command; --verbose is taken by every verb that refuses.
check "a problem's line starts with kysoctl policy:" 1 "^kysoctl policy: $T/bad/policy.conf:4: bad value" \
        check "${OWNER[@]}" "$T/bad/policy.conf"
check "--verbose: accepted" 0 "Policy OK" check --verbose "${OWNER[@]}" "$T/good/policy.conf"
check "-v after the sub-command: accepted" 1 "is invalid" check -v "${OWNER[@]}" "$T/bad/policy.conf"
check "missing file" 1 "no policy file here" check "$T/nonexistent/policy.conf"
check "usage" 2 "Usage: kysoctl policy check" frobnicate

if [[ $(id -u) -eq 0 ]]; then
        chmod 666 "$T/good/policy.conf"
        check "owner check: world-writable file refused" 1 "writable by users other than root" check "$T/good/policy.conf"
        check "owner check can be skipped for tests" 0 "Policy OK" check --insecure-skip-owner-check "$T/good/policy.conf"
        check "a skipped owner check warns, naming the file and the problem" 0 \
                "$T/good/policy.conf: writable by users other than root.*owner check is skipped" \
                check --insecure-skip-owner-check "$T/good/policy.conf"
        check "the policy library's warning names the command" 0 "^kysoctl policy: .*owner check is skipped" \
                check --insecure-skip-owner-check "$T/good/policy.conf"
        KYSO_POLICY_INSECURE_SKIP_OWNER_CHECK=1 check "skipped by the environment (contrib/sandbox): warns too" 0 \
                "writable by users other than root.*owner check is skipped" check "$T/good/policy.conf"
        warnings=$(KYSO_POLICY_INSECURE_SKIP_OWNER_CHECK=1 "$KYSOCTL" policy check "$T/good/policy.conf" 2>&1 >/dev/null)
        if grep -q "owner check is skipped" <<<"$warnings"; then
                ok "the warning goes to stderr"
        else
                not_ok "the warning goes to stderr"
        fi
        mkdir -m 755 "$T/good/policy.d"
        printf '[expiry]\nwarning-days = 30\n' >"$T/good/policy.d/10-loose.conf"
        chmod 666 "$T/good/policy.d/10-loose.conf"
        warnings=$("$KYSOCTL" policy check --insecure-skip-owner-check "$T/good/policy.conf" 2>&1 >/dev/null)
        if [[ $(grep -c "owner check is skipped" <<<"$warnings") -eq 2 ]] && grep -q "10-loose.conf: writable" <<<"$warnings"; then
                ok "each file the skip lets through gets its warning"
        else
                not_ok "each file the skip lets through gets its warning"
                printf '%s\n' "$warnings" | sed 's/^/# /'
        fi
        rm -r "$T/good/policy.d"
        chmod 644 "$T/good/policy.conf"
        warnings=$("$KYSOCTL" policy check --insecure-skip-owner-check "$T/good/policy.conf" 2>&1 >/dev/null)
        if [[ -z $warnings ]]; then
                ok "no warning when the skipped check would have passed"
        else
                not_ok "no warning when the skipped check would have passed"
                printf '%s\n' "$warnings" | sed 's/^/# /'
        fi
        chown 65534 "$T/good/policy.conf"
        check "owner check: file of another user refused" 1 "not owned by root" check "$T/good/policy.conf"
        chown 0 "$T/good/policy.conf"
else
        check "owner check: our own file is not root's" 1 "not owned by root" check "$T/good/policy.conf"
        check "a skipped owner check warns, naming the file and the problem" 0 \
                "$T/good/policy.conf: not owned by root.*owner check is skipped" check --insecure-skip-owner-check \
                "$T/good/policy.conf"
fi

# Revocation checks cannot be turned off outside the tests' own builds (issue 12): kysoctl and kysod are built
# without the switch, so a policy (even a root-owned drop-in) that tries is refused.
mkdir -m 755 "$T/off"
printf '[trust]\nroot = %s\n[revocation]\nmode = off\nallow-insecure-no-revocation-for-tests = yes\n' "$T/root.pem" \
        >"$T/off/policy.conf"
chmod 644 "$T/off/policy.conf"
check "revocation off: refused by the shipped kysoctl" 1 "$T/off/policy.conf:4: bad value 'off' for mode" \
        check "${OWNER[@]}" "$T/off/policy.conf"
check "the test switch does not exist in the shipped kysoctl" 1 \
        "$T/off/policy.conf:5: unknown key 'allow-insecure-no-revocation-for-tests'" check "${OWNER[@]}" \
        "$T/off/policy.conf"
for program in "$KYSOCTL" "${KYSOD:-}"; do
        [[ -n $program ]] || continue
        if [[ ! -f $program ]]; then
                not_ok "$program is not built"
        elif grep -qa "allow-insecure-no-revocation-for-tests" "$program"; then
                not_ok "$(basename "$program") holds no test switch"
        else
                ok "$(basename "$program") holds no test switch"
        fi
done

# The shipped example parses, once its root folder exists.
mkdir -m 755 "$T/example" "$T/example/roots" "$T/example/intermediates"
cp "$T/root.pem" "$T/example/roots/"
cp "$T/root.pem" "$T/example/intermediates/"
sed "s|/etc/kyso/roots|$T/example/roots|; s|/etc/kyso/intermediates|$T/example/intermediates|" \
        "$KYSO_SOURCE_ROOT/policy/policy.conf.example" >"$T/example/policy.conf"
chmod 644 "$T/example/policy.conf" "$T/example/roots/root.pem" "$T/example/intermediates/root.pem"
check "the example policy is valid" 0 "Seal rules \(competent persons\): 1" check "${OWNER[@]}" "$T/example/policy.conf"
check "the example rewrites the internal OCSP address" 0 "rewrite http://ocsp.ca.ptc -> http://ocsp.ca.gov.vn" \
        check "${OWNER[@]}" "$T/example/policy.conf"

# A root with a Vietnamese name is listed in UTF-8, as the person reads it, not as \xC6\xA1 escapes.
mkdir -m 755 "$T/vi"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/vi/root.key" -out "$T/vi/root.pem" \
        -utf8 -subj "/CN=Ban Cơ yếu Chính phủ/O=Ban Cơ yếu" -days 30 -addext basicConstraints=critical,CA:TRUE \
        2>/dev/null || bail_out "openssl req failed"
chmod 644 "$T/vi/root.pem"
printf '[trust]\nroot = %s\n' "$T/vi/root.pem" >"$T/vi/policy.conf"
chmod 644 "$T/vi/policy.conf"
check "a root with a Vietnamese name is listed in UTF-8" 0 "^    Ban Cơ yếu Chính phủ\$" check "${OWNER[@]}" \
        "$T/vi/policy.conf"

# Vietnamese.
if locale -a 2>/dev/null | grep -qi '^vi_VN\.utf-\?8$'; then
        LC_ALL=vi_VN.UTF-8 check "Vietnamese errors" 1 "giá trị 'never' của mode không hợp lệ" check "${OWNER[@]}" \
                "$T/bad/policy.conf"
else
        ok "# SKIP vi_VN.UTF-8 locale not installed"
fi

tap_done
