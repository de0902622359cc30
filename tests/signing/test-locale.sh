#!/usr/bin/env bash
# test-locale.sh: the caller's language (TAP). kysod answers each request in the language of its caller (the
# locale option kysoctl sign sends from LC_ALL, LC_MESSAGES, LANG), whatever its own locale: an English kysod
# gives a Vietnamese clerk Vietnamese refusals, and a Vietnamese kysod an English caller English ones. The
# audit record keeps the refusal's code and parameters; 'kysoctl audit show' renders them in the reader's
# language.
set -uo pipefail

. "${KYSO_SOURCE_ROOT:?run through meson test}/tests/fixtures/tap.sh"

if ! locale -a 2>/dev/null | grep -qix 'vi_VN.utf-\?8'; then
        echo "1..0 # SKIP vi_VN.UTF-8 locale not installed"
        exit 0
fi

if [[ -z ${KYSO_LOCALE_TEST_AGENT:-} ]]; then
        sandbox_test_dir locale KYSO_LOCALE_TEST_DIR
        export LANGUAGE=
        # kysod runs in the sandbox's locale (it inherits LC_ALL); kysoctl in the other.
        for agent in C.UTF-8 vi_VN.UTF-8; do
                rm -rf "${T:?}"/run && mkdir -p "$T/run"
                KYSO_LOCALE_TEST_AGENT=$agent LC_ALL=$agent sandbox_run_tap "with kysod in $agent"
        done
        tap_done
        exit $?
fi
# ---- inside the sandbox
. "$KYSO_SOURCE_ROOT/tests/signing/kysod-stop.sh"
T=$KYSO_LOCALE_TEST_DIR/run
SEAL="pkcs11:token=seal;object=seal;type=cert"
LEADER="pkcs11:token=leader;object=leader;type=cert"
echo "Quyết định số 12/QĐ-UBND" >"$T/qd.txt"
last_denied() { kysoctl audit show --json | jq -r "[.[] | select(.event == \"sign-denied\")] | last | $1"; }

if [[ $KYSO_LOCALE_TEST_AGENT == C.UTF-8 ]]; then
        out=$(LC_ALL=vi_VN.UTF-8 kysoctl sign --role approve --cert "$SEAL" "$T/qd.txt" -o "$T/out.p7s" 2>&1)
        expect_eq "English kysod, Vietnamese kysoctl: refused (exit 1)" 1 "$?"
        expect_match "English kysod, Vietnamese kysoctl: the refusal in Vietnamese" \
                "bị từ chối: Ký với vai trò 'approve' cần chứng thư số cá nhân, nhưng UBND phường Uông Bí là" "$out"
        expect_eq "the audit record carries the refusal's code, its parameters and its language" \
                "role-needs-personal approve UBND phường Uông Bí organization vi" \
                "$(last_denied '"\(.data.reason_code) \(.data.reason_role) \(.data.reason_certificate) \(.data.reason_kind) \(.data.language)"')"
        expect_match "audit show in English renders the Vietnamese record's code in English" \
                "Signing in the role 'approve' needs a personal certificate, but UBND phường Uông Bí is an organisation" \
                "$(LC_ALL=C.UTF-8 COLUMNS=400 kysoctl audit show --event sign-denied)"
        expect_match "audit show in Vietnamese shows the record's own text" "Ký với vai trò 'approve' cần" \
                "$(LC_ALL=vi_VN.UTF-8 kysoctl audit show --event sign-denied)"
        # The prompts are in the language of the person at the desk, and so is a declined request's answer.
        : >"$KYSO_TEST_PINENTRY_LOG"
        echo "confirm no" >"$KYSO_TEST_PINENTRY_SCRIPT"
        out=$(LC_ALL=vi_VN.UTF-8 kysoctl sign --role approve --cert "$LEADER" "$T/qd.txt" -o "$T/out.p7s" 2>&1)
        expect_match "English kysod, Vietnamese kysoctl: the approval prompt in Vietnamese" "^SETDESC.*văn bản" \
                "$(grep '^SETDESC' "$KYSO_TEST_PINENTRY_LOG")"
        expect_eq "English kysod, Vietnamese kysoctl: the declined answer is not in English" "0" \
                "$(grep -c 'declined\|cancelled' <<<"$out")"
        out=$(LC_ALL=C.UTF-8 kysoctl sign --role approve --cert "$SEAL" "$T/qd.txt" -o "$T/out.p7s" 2>&1)
        expect_match "English kysod, English kysoctl: the refusal in English" \
                "denied: Signing in the role 'approve' needs a personal certificate" "$out"
        out=$(LC_ALL=C.UTF-8 LC_MESSAGES= LANG= kysoctl sign --role approve --cert "$SEAL" "$T/qd.txt" -o "$T/out.p7s" 2>&1)
        expect_match "a caller in C gets the messages as written" "needs a personal certificate" "$out"
        # GetCertificates and Verify answer in the caller's language too (the locale option of their options).
        cert_reason() { kysoctl certs --json | jq -r '.[] | select(.label == "expired") | .reason'; }
        expect_match "English kysod, Vietnamese kysoctl certs: the reason in Vietnamese" \
                "^Chứng thư số của Phạm Văn Hết Hạn đã hết hạn ngày" "$(LC_ALL=vi_VN.UTF-8 cert_reason)"
        expect_match "English kysod, Vietnamese kysoctl certs: the table's reason in Vietnamese" \
                "Chứng thư số của Phạm Văn Hết Hạn đã hết hạn ngày" "$(LC_ALL=vi_VN.UTF-8 kysoctl certs)"
        expect_match "English kysod, kysoctl certs in C: the reason in English" \
                "^The certificate of Phạm Văn Hết Hạn expired on" "$(LC_ALL=C cert_reason)"
        # How a revocation was found (its reason and server) is rendered for the caller too, not kept in the
        # words of whoever ran the check (kysod's background check, in English here).
        revoked_reason() { kysoctl certs --json | jq -r '.[] | select(.label == "revoked") | .reason'; }
        revoked_checked() { [[ $(revoked_reason) == *revoked* ]]; }
        wait_for 30 revoked_checked || true
        expect_match "English kysod, Vietnamese kysoctl certs: how the revocation was found, in Vietnamese" \
                "đã bị thu hồi \(lộ khóa bí mật\), theo máy chủ OCSP http" "$(LC_ALL=vi_VN.UTF-8 revoked_reason)"
        expect_match "English kysod, kysoctl certs in C: the revocation in English" \
                "was revoked on [0-9-]+.*: revoked \(key compromise\), according to OCSP server http" \
                "$(LC_ALL=C revoked_reason)"
        openssl cms -sign -binary -md sha256 -in "$T/qd.txt" -signer "$KYSO_PKI/leader.pem" \
                -inkey "$KYSO_PKI/leader.key" -outform DER -out "$T/qd-leader.p7s" 2>"$T/openssl.err" ||
                bail_out "openssl cms -sign failed: $(cat "$T/openssl.err")"
        { cat "$T/qd.txt" && echo "sửa"; } >"$T/qd-changed.txt"
        verify() { /usr/bin/python3 "$KYSO_SOURCE_ROOT/tests/signing/verify-client.py" --reason "$@" 2>&1; }
        expect_match "English kysod, Vietnamese caller: Verify's reason in Vietnamese" \
                "Văn bản đã bị thay đổi sau khi ký" "$(LC_ALL=vi_VN.UTF-8 verify "$T/qd-changed.txt" "$T/qd-leader.p7s")"
        expect_match "English kysod, caller in C: Verify's reason in English" \
                "The document was changed after it was signed" "$(LC_ALL=C verify "$T/qd-changed.txt" "$T/qd-leader.p7s")"
        expect_match "English kysod, Vietnamese caller: Verify's error in Vietnamese" \
                "InvalidArgs.*Văn bản không phải tệp PDF" "$(LC_ALL=vi_VN.UTF-8 verify "$T/qd.txt")"
        # A document the agent cannot sign: its record keeps the refusal's code, which a Vietnamese reader reads in
        # Vietnamese although the caller was English.
        : >"$T/empty.txt"
        printf '%%PDF-1.7\nnot a PDF body\n' >"$T/damaged.pdf"
        last_failed() { kysoctl audit show --json | jq -r "[.[] | select(.event == \"sign-failed\")] | last | $1"; }
        LC_ALL=C.UTF-8 kysoctl sign --role approve --cert "$LEADER" "$T/empty.txt" -o "$T/out.p7s" >/dev/null 2>&1
        expect_eq "an empty document: the record's code and language" "document-empty en BadDocument" \
                "$(last_failed '"\(.data.reason_code) \(.data.language) \(.error | split(".") | last)"')"
        LC_ALL=C.UTF-8 kysoctl sign --role approve --cert "$LEADER" "$T/damaged.pdf" -o "$T/out.pdf" >/dev/null 2>&1
        expect_match "a damaged PDF: the record's code" "^pdf-(damaged|unsupported) en$" \
                "$(last_failed '"\(.data.reason_code) \(.data.language)"')"
        out=$(LC_ALL=vi_VN.UTF-8 COLUMNS=1000 kysoctl audit show --event sign-failed)
        expect_match "audit show in Vietnamese renders the English record of an empty document in Vietnamese" \
                "Văn bản trống nên không có gì để ký" "$out"
        expect_match "audit show in Vietnamese renders the English record of a damaged PDF in Vietnamese" \
                "Tệp PDF bị hỏng|Tác tử không thể ký tệp PDF này" "$out"
else
        out=$(LC_ALL=C.UTF-8 kysoctl sign --role approve --cert "$SEAL" "$T/qd.txt" -o "$T/out.p7s" 2>&1)
        expect_eq "Vietnamese kysod, English kysoctl: refused (exit 1)" 1 "$?"
        expect_match "Vietnamese kysod, English kysoctl: the refusal in English" \
                "denied: Signing in the role 'approve' needs a personal certificate, but UBND phường Uông Bí is" "$out"
        expect_eq "the audit record says the text is English" "role-needs-personal en" \
                "$(last_denied '"\(.data.reason_code) \(.data.language)"')"
        expect_match "audit show in Vietnamese renders the English record's code in Vietnamese" \
                "Ký với vai trò 'approve' cần chứng thư số cá nhân, nhưng UBND phường Uông Bí là" \
                "$(LC_ALL=vi_VN.UTF-8 kysoctl audit show --event sign-denied)"
        out=$(LC_ALL=vi_VN.UTF-8 kysoctl sign --role approve --cert "$SEAL" "$T/qd.txt" -o "$T/out.p7s" 2>&1)
        expect_match "Vietnamese kysod, Vietnamese kysoctl: the refusal in Vietnamese" "Ký với vai trò 'approve'" "$out"
        # A language without a catalogue: the agent's own; a wrong argument is already in the caller's.
        expect_match "a caller in a language without catalogue: the agent's language" "InvalidArgs.*Vai trò" \
                "$("$KYSO_SOURCE_ROOT/tests/signing/bad-call.py" 'hhssa{sv}' "$SEAL" boss locale s fr_FR.UTF-8 2>&1)"
        expect_match "an English caller's wrong argument: in English" "InvalidArgs.*The role must be" \
                "$("$KYSO_SOURCE_ROOT/tests/signing/bad-call.py" 'hhssa{sv}' "$SEAL" boss locale s C.UTF-8 2>&1)"
        expect_match "a locale name that is not one: the agent's language" "InvalidArgs.*Vai trò" \
                "$("$KYSO_SOURCE_ROOT/tests/signing/bad-call.py" 'hhssa{sv}' "$SEAL" boss locale s ../../x 2>&1)"
fi
stop_kysod
tap_done
