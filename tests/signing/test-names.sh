#!/usr/bin/env bash
# test-names.sh: documents whose file names are not UTF-8 (TAP). A name in a legacy Vietnamese code page, such
# as the bytes b\xe1o-c\xe1o.txt, goes through Sign, SignBatch (its Progress signals and Response results),
# the pinentry and an application's prompter, and the errors that name it: kysod never aborts (libdbus aborts
# on invalid UTF-8), every place shows the name escaped (b\xe1o-c\xe1o.txt, a backslash as \\), and the audit
# record keeps it losslessly.
set -uo pipefail

. "${KYSO_SOURCE_ROOT:?run through meson test}/tests/fixtures/tap.sh"

# SoftHSM itself, whatever module the caller's environment names.
unset KYSO_SANDBOX_MODULE
sandbox_test names --no-start
# ---- inside the sandbox
D=$T/docs
mkdir -p "$D" "$T/out"
LEADER="pkcs11:token=leader;object=leader;type=cert"
CLIENT() { ASAN_OPTIONS=detect_leaks=0 timeout 120 "$KYSO_BUILD_ROOT/tests/signing/sign-client" "$@"; }
alive() { kill -0 "$kysod_pid" 2>/dev/null; }
# A dead kysod would make every later client wait for its timeout (or start a second kysod by activation).
alive_or_bail() { alive || bail_out "kysod died: $(grep -v '^ *$' "$T/kysod.log" | tail -n 5 | tr '\n' ' ')"; }

: >"$T/kysod.log"
start_kysod "$T/kysod.log" || bail_out "kysod did not start: $(cat "$T/kysod.log")"

# The raw names (bytes 0xe1 are 'á' in Windows-1258/TCVN-like code pages) and how they are shown.
BAD=$(printf 'b\xe1o-c\xe1o.txt')
BAD_SHOWN='b\xe1o-c\xe1o.txt'
SLASH=$(printf 't\xe2-\\-x.txt') # not UTF-8 and a backslash: the backslash is doubled so the escape is lossless
SLASH_SHOWN='t\xe2-\\-x.txt'
echo "Báo cáo số 7" >"$D/$BAD"
echo "Tờ trình" >"$D/$SLASH"
echo "Văn bản thường" >"$D/ok.txt"

# 1. Sign: signed, the Response names it escaped, kysod lives on.
mkdir -p "$T/out/s"
script "confirm yes" "pin 1111"
out=$(CLIENT --cert "$LEADER" --role approve --names -o "$T/out/s" "$D/$BAD" 2>&1)
expect_match "Sign of a non-UTF-8 name: Response success" "response 0 0 -" "$out"
expect "Sign of a non-UTF-8 name: kysod is still running" alive
expect "Sign of a non-UTF-8 name: the signature verifies" cms_ok "$D/$BAD" "$T/out/s/out-0.p7s"
expect_eq "Sign: the Response's results name the document escaped" "result-name 0 $BAD_SHOWN" \
        "$(grep '^result-name' <<<"$out")"
expect_match "Sign: the approval prompt (pinentry) shows the name escaped" "^SETDESC.*b\\\\xe1o-c\\\\xe1o\\.txt" \
        "$(grep '^SETDESC' "$KYSO_TEST_PINENTRY_LOG" | tail -n 2 | head -n 1)"

alive_or_bail

# 2. SignBatch: each Progress, the Response and the audit records.
mkdir -p "$T/out/b"
script "confirm yes" "pin 1111"
out=$(CLIENT --cert "$LEADER" --role approve --batch --count 3 --names \
        --check-audit "$XDG_STATE_HOME/kyso/audit.jsonl" -o "$T/out/b" "$D/$BAD" "$D/ok.txt" "$D/$SLASH" 2>&1)
expect_match "SignBatch of non-UTF-8 names: Response success" "response 0 0 -" "$out"
expect "SignBatch of non-UTF-8 names: kysod is still running" alive
expect_eq "SignBatch: Progress names each document, escaped" \
        "progress-name 0 done $BAD_SHOWN|progress-name 1 done ok.txt|progress-name 2 done $SLASH_SHOWN" \
        "$(grep '^progress-name' <<<"$out" | sort | paste -sd '|')"
expect_eq "SignBatch: each Progress comes after the document's record, found by the name on the bus" \
        "3 0" "$(grep -c '^progress [0-9]* done audited' <<<"$out") $(grep -c 'UNAUDITED' <<<"$out")"
expect_eq "SignBatch: the Response's results name the documents, escaped" \
        "result-name 0 $BAD_SHOWN|result-name 1 ok.txt|result-name 2 $SLASH_SHOWN" \
        "$(grep '^result-name' <<<"$out" | paste -sd '|')"
okc=0
for i in 0 1 2; do cms_ok "$(printf '%s\n' "$D/$BAD" "$D/ok.txt" "$D/$SLASH" | sed -n "$((i + 1))p")" \
        "$T/out/b/out-$i.p7s" 2>/dev/null && okc=$((okc + 1)); done
expect_eq "SignBatch: every output verifies" 3 "$okc"
expect_match "SignBatch: the approval prompt lists the names escaped" \
        "b\\\\xe1o-c\\\\xe1o\\.txt.*t\\\\xe2-\\\\\\\\-x\\.txt" \
        "$(grep '^SETDESC' "$KYSO_TEST_PINENTRY_LOG" | tail -n 2 | head -n 1)"
# The audit record keeps the name losslessly: the escaped form maps back to exactly the bytes.
expect_eq "the audit records name the documents escaped (lossless: \\xNN for a byte, \\\\ for a backslash)" \
        "$BAD_SHOWN|$SLASH_SHOWN" \
        "$(kysoctl audit show --json | jq -r '[.[] | select(.event == "sign-done") | .document.name |
                select(startswith("b") or startswith("t"))] | .[-2:] | join("|")')"
back=$(kysoctl audit show --json | jq -r '[.[] | select(.event == "sign-done")] | last | .document.name' |
        python3 -c 'import sys, codecs; s = sys.stdin.read().rstrip("\n"); sys.stdout.buffer.write(codecs.escape_decode(s.encode())[0])' | od -An -tx1 | tr -d ' \n')
expect_eq "the audit record's name decodes back to the file name's bytes" \
        "$(printf '%s' "$SLASH" | od -An -tx1 | tr -d ' \n')" "$back"
expect "kysoctl audit verify: the chain is intact" kysoctl audit verify

alive_or_bail

# 3. An application's prompter gets the name escaped, and the request succeeds.
out=$(timeout 60 "$KYSO_SOURCE_ROOT/tests/signing/prompter-client.py" --path /org/example/names \
        --sign "$LEADER" approve "$D/$BAD" "$T/out/app.p7s" yes yes:1111 2>&1)
expect_match "application prompter, non-UTF-8 name: Response 0" "^response 0 - -" "$out"
expect_eq "application prompter: Confirm shows the name escaped" "$BAD_SHOWN" \
        "$(sed -n 's/^call Confirm //p' <<<"$out" | jq -r '.documents[0].name')"
expect "application prompter: kysod is still running" alive

alive_or_bail

# kysoctl sends the name (its label option) escaped too, and shows the agent's Progress as it came.
script "confirm yes" "pin 1111"
out=$(kysoctl sign --role approve --cert "$LEADER" "$D/$BAD" -o "$T/out/k.p7s" 2>&1)
expect_eq "kysoctl sign of a non-UTF-8 file name: exit 0" "0" "$?"
expect "kysoctl sign: the signature verifies" cms_ok "$D/$BAD" "$T/out/k.p7s"
expect_eq "kysoctl sign: the record names the document escaped" "$BAD_SHOWN" \
        "$(kysoctl audit show --json | jq -r '[.[] | select(.event == "sign-done")] | last | .document.name')"
mkdir -p "$T/out/kb"
script "confirm yes" "pin 1111"
out=$(kysoctl sign --batch --role approve --cert "$LEADER" -o "$T/out/kb" "$D/$BAD" "$D/ok.txt" 2>&1)
expect_eq "kysoctl sign --batch of a non-UTF-8 file name: exit 0" "0" "$?"
expect_match "kysoctl sign --batch: the progress line shows the name escaped" "\\[1/2\\] b\\\\xe1o-c\\\\xe1o\\.txt: signed" "$out"
alive_or_bail

# An empty label (an application's untitled document, or kysoctl sign --label "") would leave the prompt and
# the audit record without a name: the document is named by its file instead.
script "confirm no"
out=$(kysoctl sign --role approve --cert "$LEADER" --label "" "$D/ok.txt" -o "$T/out/nolabel.p7s" 2>&1)
expect_eq "an empty label: the record names the document by its file" "ok.txt" \
        "$(kysoctl audit show --json | jq -r '[.[] | select(.event == "sign-cancelled")] | last | .document.name')"
expect_match "an empty label: the prompt names the document by its file" "ok\.txt" \
        "$(grep -E '^SETDESC' "$KYSO_TEST_PINENTRY_LOG" | tail -n 1)"

# 4. Errors that name the document: refused by the policy (a batch), declined (Sign).
mkdir -p "$T/out/e"
out=$(CLIENT --cert "$LEADER" --role approve --batch --count 2 --names --classification "Tối mật" \
        -o "$T/out/e" "$D/$BAD" "$D/$SLASH" 2>&1)
expect_match "a refused batch of non-UTF-8 names: Response PolicyDenied" "response 0 2 org.kyso.Error.PolicyDenied" "$out"
expect_eq "a refused batch: Progress names each refused document, escaped" \
        "progress-name 0 denied $BAD_SHOWN|progress-name 1 denied $SLASH_SHOWN" \
        "$(grep '^progress-name' <<<"$out" | sort | paste -sd '|')"
expect_eq "a refused batch: the Response's results name them, escaped" \
        "result-name 0 $BAD_SHOWN|result-name 1 $SLASH_SHOWN" "$(grep '^result-name' <<<"$out" | paste -sd '|')"
script "confirm no"
out=$(CLIENT --cert "$LEADER" --role approve --names -o "$T/out/e" "$D/$BAD" 2>&1)
expect_match "a declined Sign of a non-UTF-8 name: Response Cancelled" "response 0 1 org.kyso.Error.Cancelled" "$out"
expect_eq "a declined Sign: the results name it, escaped" "result-name 0 $BAD_SHOWN" "$(grep '^result-name' <<<"$out")"
expect_eq "the denied record names the document escaped" "$SLASH_SHOWN" \
        "$(kysoctl audit show --json | jq -r '[.[] | select(.event == "sign-denied")] | last | .document.name')"
expect "after all this kysod is still running" alive
expect_no_sanitizer_report "kysod: no sanitizer report" "$T/kysod.log"
expect "kysod's log has no libdbus abort" bash -c "! grep -q 'invalid UTF-8\\|_dbus_check_is_valid_utf8' '$T/kysod.log'"
kill "$kysod_pid" 2>/dev/null
wait "$kysod_pid" 2>/dev/null
tap_done
