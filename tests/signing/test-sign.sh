#!/usr/bin/env bash
# test-sign.sh: the signing pipeline end to end (TAP): kysod on a private bus with the SoftHSM demo tokens
# (contrib/sandbox), a scripted pinentry, OCSP/CRL/TSA test servers on 127.0.0.1. Approve then issue (checked
# by kysoctl verify and openssl cms), the seal rule's refusals, classification, wrong PIN, declining, Cancel,
# client disconnect, B-T and TSA down, two tokens in parallel, a bounded queue, batches, the audit records.
set -uo pipefail

. "${KYSO_SOURCE_ROOT:?run through meson test}/tests/fixtures/tap.sh"

if [[ -z ${KYSO_SANDBOX:-} ]]; then
        sandbox_test_dir sign KYSO_SIGN_TEST_DIR
        # Above the default max-document-size (2G): the 4 GiB document below is signed.
        export KYSO_SANDBOX_AGENT_CONFIG='max-document-size = 8G'
        # Two sandboxes: SoftHSM as it is, then SoftHSM behind the fault-injecting module. Their TAP lines
        # are numbered again here, under one plan.
        export KYSO_SIGN_TEST_MODE=main
        sandbox_run_tap main
        if [[ -n ${KYSO_FAULT_MODULE:-} ]]; then
                export KYSO_SIGN_TEST_MODE=fault KYSO_SANDBOX_MODULE=$KYSO_FAULT_MODULE KYSO_FAULT_CONTROL=$T/fault \
                        KYSO_FAULT_LOG=$T/fault.log
                rm -rf "$T/docs" "$T/out"
                : >"$KYSO_TEST_PINENTRY_LOG"
                sandbox_run_tap fault
        fi
        tap_done
        exit $?
fi
# ---- inside the sandbox
# At the end: kysod stops cleanly, and (in a sanitizer build) reports neither errors nor leaks.
. "$KYSO_SOURCE_ROOT/tests/signing/kysod-stop.sh"
T=$KYSO_SIGN_TEST_DIR
D=$T/docs
mkdir -p "$D" "$T/out"
# The test client's own allocations are not under test.
CLIENT() { ASAN_OPTIONS=detect_leaks=0 timeout 120 "$KYSO_BUILD_ROOT/tests/signing/sign-client" "$@"; }
sanitized=0
# Not `ldd | grep -q`: with pipefail, grep leaving early makes ldd fail with SIGPIPE, and the check with it.
[[ $(ldd "$KYSO_BUILD_ROOT/kysod") == *libasan* ]] && sanitized=1
LEADER="pkcs11:token=leader;object=leader;type=cert"
CLERK="pkcs11:token=leader;object=clerk;type=cert"
SEAL="pkcs11:token=seal;object=seal;type=cert"

# The prompts the person saw: the commands that show pinentry's dialog. (A pinentry process alone shows
# nothing: kysod starts one while a request's checks run, and ends it quietly when the request is refused.)
prompts() { pinentry_count '^(CONFIRM|GETPIN|MESSAGE)'; }
# Every pinentry process started so far has ended (within 5 s).
pinentries_ended() {
        local p i
        for p in $(sed -n 's/^START pid=//p' "$KYSO_TEST_PINENTRY_LOG" 2>/dev/null); do
                for ((i = 0; i < 50; i++)); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
                kill -0 "$p" 2>/dev/null && return 1
        done
        return 0
}

echo "Quyết định số 12/QĐ-UBND về việc giao đất" >"$D/qd.txt"

if [[ $KYSO_SIGN_TEST_MODE == fault ]]; then
        # The tokens are seen through the fault-injecting module (tests/pkcs11/README.md).
        control() {
                printf '%s\n' "$@" >"$KYSO_FAULT_CONTROL.tmp"
                mv "$KYSO_FAULT_CONTROL.tmp" "$KYSO_FAULT_CONTROL"
        }
        f0=$(audit_count sign-failed)
        control "slow C_SignInit 2000"
        script "confirm yes" "pin 1111"
        kysoctl sign --role approve --cert "$LEADER" "$D/qd.txt" -o "$T/out/removed.p7s" >"$T/removed.txt" 2>&1 &
        pid=$!
        sleep 1.2
        control "slow C_SignInit 2000" "remove"
        wait $pid
        expect_eq "token removed mid-signature: kysoctl fails" 1 "$?"
        expect_match "token removed mid-signature: the message says so" "token was removed|NoToken" "$(cat "$T/removed.txt")"
        [[ ! -s $T/out/removed.p7s ]] && ok "token removed: nothing written" || not_ok "token removed: nothing written"
        expect_eq "token removed: one sign-failed record" $((f0 + 1)) "$(audit_count sign-failed)"
        control "insert"
        for ((i = 0; i < 50; i++)); do kysoctl tokens 2>/dev/null | grep -q leader && break; sleep 0.2; done

        # The outcome of a batch of 60 cut short, named NAME (documents $D/NAME$i.txt, outputs
        # $T/NAME/out-$i.p7s, sign-client's lines in $T/NAME.txt): good, the documents signed and audited
        # whose signature verifies; unsigned, the others whose output was left empty.
        batch_outcome() {
                local name=$1 i
                good=0 unsigned=0
                for ((i = 0; i < 60; i++)); do
                        if grep -q "^progress $i done audited" "$T/$name.txt"; then
                                cms_ok "$D/$name$i.txt" "$T/$name/out-$i.p7s" 2>/dev/null && good=$((good + 1))
                        else
                                [[ ! -s $T/$name/out-$i.p7s ]] && unsigned=$((unsigned + 1))
                        fi
                done
        }

        # A batch on a fast token keeps several documents at the token: pulled then, they all fail, and so
        # does the rest; the ones signed before keep their signatures; one record per document.
        for ((i = 0; i < 60; i++)); do echo "lô $i" >"$D/p$i.txt"; done
        mkdir -p "$T/p"
        d0=$(audit_count sign-done) f1=$(audit_count sign-failed)
        control "slow C_Sign 15"
        script "confirm yes" "pin 1111"
        CLIENT --cert "$LEADER" --role approve --batch --count 60 --check-audit "$XDG_STATE_HOME/kyso/audit.jsonl" \
                -o "$T/p" "$D"/p{0..59}.txt >"$T/p.txt" 2>&1 &
        pid=$!
        sleep 0.6
        control "slow C_Sign 15" "remove"
        wait $pid
        expect_match "token pulled during a batch: the batch fails" "response 0 2 org.kyso.Error.NoToken" "$(cat "$T/p.txt")"
        batch_outcome p
        echo "# $good of 60 signed before the token was pulled"
        expect_eq "token pulled during a batch: signed ones verify, the others are empty" 60 $((good + unsigned))
        expect_eq "token pulled during a batch: one record per document" "60 $good" \
                "$(($(audit_count sign-done) - d0 + $(audit_count sign-failed) - f1)) $(($(audit_count sign-done) - d0))"
        control "insert"
        for ((i = 0; i < 50; i++)); do kysoctl tokens 2>/dev/null | grep -q leader && break; sleep 0.2; done
        f2=$(audit_count sign-failed)

        # Cancel during a batch on a fast token, with several documents at the token: those recorded before
        # stay signed, those the token was making are discarded (and the record says so), the rest are
        # cancelled; Response says cancelled; one record per document.
        for ((i = 0; i < 60; i++)); do echo "hủy $i" >"$D/c$i.txt"; done
        mkdir -p "$T/c"
        n0=$(kysoctl audit show --json | jq length)
        control "slow C_Sign 15"
        script "confirm yes" "pin 1111"
        CLIENT --cert "$LEADER" --role approve --batch --count 60 --cancel 600 --check-audit "$XDG_STATE_HOME/kyso/audit.jsonl" \
                -o "$T/c" "$D"/c{0..59}.txt >"$T/c.txt" 2>&1
        control ""
        expect_match "Cancel during a fast batch: Response says cancelled" "response 0 1 org.kyso.Error.Cancelled" "$(cat "$T/c.txt")"
        batch_outcome c
        echo "# $good of 60 signed before the Cancel"
        expect_eq "Cancel during a fast batch: signed ones verify, the others are empty" 60 $((good + unsigned))
        expect "Cancel during a fast batch: some were signed, some not" test "$good" -gt 0 -a "$unsigned" -gt 0
        expect_eq "Cancel during a fast batch: one record per document, done or cancelled" "60 $good" \
                "$(kysoctl audit show --json | jq --argjson n "$n0" '.[$n:] | [map(select(.event == "sign-done" or .event == "sign-cancelled")) | length, map(select(.event == "sign-done")) | length] | "\(.[0]) \(.[1])"' -r)"
        expect "Cancel during a fast batch: a signature the token made is recorded as discarded" \
                bash -c "kysoctl audit show --json | jq -e --argjson n $n0 '.[\$n:] | any(.data.token_signature == \"discarded\")' >/dev/null"

        control "abort C_Sign"
        script "confirm yes" "pin 1111"
        expect_fail "helper crash mid-signature: failed with a clear message" "driver stopped working" \
                kysoctl sign --role approve --cert "$LEADER" "$D/qd.txt" -o "$T/out/crash.p7s"
        [[ ! -s $T/out/crash.p7s ]] && ok "helper crash: nothing written" || not_ok "helper crash: nothing written"
        expect_eq "helper crash: one more sign-failed record" $((f2 + 1)) "$(audit_count sign-failed)"
        control ""
        for ((i = 0; i < 100; i++)); do kysoctl tokens 2>/dev/null | grep -q leader && break; sleep 0.2; done
        script "confirm yes" "pin 1111"
        expect "after the crash the restarted helper signs again" \
                kysoctl sign --role approve --cert "$LEADER" "$D/qd.txt" -o "$T/out/after.p7s"
        expect "kysod is still running" kill -0 "$KYSO_KYSOD_PID"

        # PIN states the token reports (the fault module adds them; SoftHSM has no retry counter).
        wait_pin_state() {
                for ((i = 0; i < 50; i++)); do
                        kysoctl tokens --json 2>/dev/null | jq -e --arg s "$1" '.[] | select(.label == "leader") | select(.["pin-state"] == $s or .pin_state == $s)' >/dev/null && return 0
                        sleep 0.2
                done
                return 1
        }
        # Few tries left, then a wrong PIN: the PIN prompt says both (PKCS#11 gives no number here).
        control "pin count-low"
        expect "the token reports few PIN tries left" wait_pin_state count-low
        script "confirm yes" "pin 9999" "pin 1111"
        expect "few tries left: a wrong PIN, then the right one: signed" \
                kysoctl sign --role approve --cert "$LEADER" "$D/qd.txt" -o "$T/out/low.p7s"
        expect_match "few tries left: after the wrong PIN the prompt says it was wrong and that few tries are left" \
                "^SETERROR Wrong PIN.*few tries are left" "$(grep '^SETERROR' "$KYSO_TEST_PINENTRY_LOG" | tail -n 1)"
        control "pin final-try"
        expect "the token reports its final PIN try" wait_pin_state final-try
        script "confirm yes" "pin 1111"
        expect "final try: signed after the explicit yes" \
                kysoctl sign --role approve --cert "$LEADER" "$D/qd.txt" -o "$T/out/final.p7s"
        expect "final try: the approval asked for an explicit yes to use the last try" \
                grep -q "SETOK Yes, use the last try" "$KYSO_TEST_PINENTRY_LOG"
        expect "final try: the PIN prompt warns that one more wrong PIN locks the token" \
                grep -q "^SETERROR Last try" "$KYSO_TEST_PINENTRY_LOG"
        control "pin locked"
        expect "the token reports a locked PIN" wait_pin_state locked
        n=$(prompts)
        script "confirm yes" "pin 1111"
        expect_fail "locked PIN: refused with the guidance of Article 15" \
                "locked because a wrong PIN was entered.*As Article 15 of the regulation says, contact the support desk.*PinLocked" \
                kysoctl sign --verbose --role approve --cert "$LEADER" "$D/qd.txt" -o "$T/out/locked.p7s"
        expect_eq "locked PIN: never tried, no prompt shown" "$n" "$(prompts)"
        control ""
        wait_pin_state ok

        # Keys as real eTokens hold them, private objects invisible before login: one with
        # CKA_ALWAYS_AUTHENTICATE, one without a public-key object (neither has one), and a certificate without
        # a key. They are written while the token is pulled out (so kysod's SoftHSM does not read the token
        # while pkcs11-tool writes it), and the agent sees them once it is put back.
        put_key() { # FIXTURE ID LABEL [--always-auth]
                pkcs11-tool --module "$KYSO_SOFTHSM_MODULE" --token-label leader --login --pin 1111 \
                        --write-object "$KYSO_PKI/$1.key" --type privkey --id "$2" --label "$3" ${4:+"$4"} >/dev/null 2>&1 &&
                        pkcs11-tool --module "$KYSO_SOFTHSM_MODULE" --token-label leader --login --pin 1111 \
                                --write-object "$KYSO_PKI/$1.der" --type cert --id "$2" --label "$3" >/dev/null 2>&1
        }
        has_token() { kysoctl tokens --json 2>/dev/null | jq -e --arg l "$1" '.[] | select(.label == $l)' >/dev/null; }
        has_label() { kysoctl certs --json 2>/dev/null | jq -e --arg l "$1" '.[] | select(.label == $l)' >/dev/null; }
        control "remove"
        for ((i = 0; i < 150; i++)); do kysoctl tokens --json 2>/dev/null | jq -e 'length == 0' >/dev/null && break; sleep 0.2; done
        expect "the tokens are pulled out" bash -c "kysoctl tokens --json | jq -e 'length == 0'"
        expect "a key with CKA_ALWAYS_AUTHENTICATE is put on the leader token" put_key clerk 0a aa --always-auth
        expect "a key without a public-key object is put on the leader token" put_key leader2 0b nopub
        expect "a certificate without any key is put on the leader token" \
                pkcs11-tool --module "$KYSO_SOFTHSM_MODULE" --token-label leader --login --pin 1111 \
                --write-object "$KYSO_PKI/leader2.der" --type cert --id 0c --label nokey
        control ""
        for ((i = 0; i < 150; i++)); do has_label aa && has_label nopub && has_token seal && break; sleep 0.2; done
        expect "the agent lists the new certificates once the tokens are back" has_label nopub
        NOPUB="pkcs11:token=leader;object=nopub;type=cert"
        AA="pkcs11:token=leader;object=aa;type=cert"
        script "confirm yes" "pin 1111"
        expect "a key without a public-key object (seen only after login) signs" \
                kysoctl sign --role approve --cert "$NOPUB" "$D/qd.txt" -o "$T/out/nopub.p7s"
        expect "the signature of the key without a public-key object verifies" cms_ok "$D/qd.txt" "$T/out/nopub.p7s"
        expect_eq "certs --json: nopub's key shows only after login; leader's shows before" "false true|true false" \
                "$(kysoctl certs --json | jq -r '[.[] | select(.label == "nopub" or .label == "leader")] | sort_by(.label) | reverse | map("\(.has_private_key) \(.key_after_login)") | join("|")')"
        out=$(kysoctl sign --role approve "$D/qd.txt" -o "$T/out/amb-nopub.p7s" 2>&1)
        expect_match "without --cert: a certificate whose key shows only after login is a candidate" \
                "^ *pkcs11:.*object=nopub" "$out"
        script "confirm yes" "pin 1111"
        expect_fail "a certificate without any key: after the login, refused with a clear message" \
                "no private key for this certificate.*NoToken" \
                kysoctl sign --verbose --role approve --cert "pkcs11:token=leader;object=nokey;type=cert" "$D/qd.txt" -o "$T/out/nokey.p7s"
        expect "a certificate without any key: nothing written" test ! -e "$T/out/nokey.p7s"

        # batch_of_3 NAME CERT WHAT: one SignBatch of NAME0..2.txt; it succeeds and every output verifies.
        batch_of_3() {
                local i okc=0 out
                for i in 0 1 2; do echo "văn bản $1 số $i" >"$D/$1$i.txt"; done
                mkdir -p "$T/$1"
                out=$(CLIENT --cert "$2" --role approve --batch --count 3 -o "$T/$1" "$D/$1"{0..2}.txt 2>&1)
                expect_match "$3: a batch of 3 succeeds" "response 0 0 -" "$out"
                for i in 0 1 2; do cms_ok "$D/$1$i.txt" "$T/$1/out-$i.p7s" 2>/dev/null && okc=$((okc + 1)); done
                expect_eq "$3: every output of the batch verifies" 3 "$okc"
        }

        # CKA_ALWAYS_AUTHENTICATE in a batch: one PIN prompt, one user login, a context-specific login for each
        # document with the PIN the person typed once.
        g0=$(grep -c '^GETPIN' "$KYSO_TEST_PINENTRY_LOG")
        : >"$KYSO_FAULT_LOG"
        script "confirm yes" "pin 1111"
        batch_of_3 aa "$AA" "CKA_ALWAYS_AUTHENTICATE"
        expect_eq "CKA_ALWAYS_AUTHENTICATE: one PIN prompt, one user login, 3 context-specific logins" "1 1 3" \
                "$(($(grep -c '^GETPIN' "$KYSO_TEST_PINENTRY_LOG") - g0)) $(grep -c '^C_Login user' "$KYSO_FAULT_LOG") $(grep -c '^C_Login context' "$KYSO_FAULT_LOG")"

        # A PIN pad reader (the fault module types 1111 on it, taking the time a person takes): the person is
        # told to use the reader, and a batch logs in once.
        control "pinpad 1111" "slow C_Login 3000"
        pinpad_on() { kysoctl tokens --json 2>/dev/null | jq -e '.[] | select(.label == "leader") | select(.protected_auth_path)' >/dev/null; }
        for ((i = 0; i < 50; i++)); do pinpad_on && break; sleep 0.2; done
        expect "the token reports a PIN pad" pinpad_on
        g0=$(grep -c '^GETPIN' "$KYSO_TEST_PINENTRY_LOG")
        m0=$(grep -c '^MESSAGE' "$KYSO_TEST_PINENTRY_LOG")
        : >"$KYSO_FAULT_LOG"
        script "confirm yes" "hang"
        expect "PIN pad: a Sign is signed" kysoctl sign --role approve --cert "$LEADER" "$D/qd.txt" -o "$T/out/pad.p7s"
        expect "PIN pad: the signature verifies" cms_ok "$D/qd.txt" "$T/out/pad.p7s"
        expect "PIN pad: the prompt tells the person to type the PIN on the reader" \
                grep -q '^SETDESC.*Type the PIN on the reader' "$KYSO_TEST_PINENTRY_LOG"
        expect_eq "PIN pad: one message, no PIN asked on the computer, one login on the reader" "1 0 1" \
                "$(($(grep -c '^MESSAGE' "$KYSO_TEST_PINENTRY_LOG") - m0)) $(($(grep -c '^GETPIN' "$KYSO_TEST_PINENTRY_LOG") - g0)) $(grep -c '^C_Login user pinpad' "$KYSO_FAULT_LOG")"
        : >"$KYSO_FAULT_LOG"
        script "confirm yes" "hang"
        batch_of_3 pad "$LEADER" "PIN pad"
        expect_eq "PIN pad: the batch logs in once, on the reader" "1" "$(grep -c '^C_Login' "$KYSO_FAULT_LOG")"
        # A wrong PIN typed on the reader: a pin-failure record, and the request ends with PinIncorrect telling
        # the person to sign again; the reader is not asked again on its own.
        control "pinpad 9999" "slow C_Login 300"
        : >"$KYSO_FAULT_LOG"
        script "confirm yes" "hang"
        f0=$(audit_count pin-failure)
        out=$(kysoctl sign --role approve --cert "$LEADER" "$D/qd.txt" -o "$T/out/pad-wrong.p7s" 2>&1)
        expect_match "PIN pad, wrong PIN: the request ends, saying the PIN typed on the reader was wrong" \
                "Wrong PIN\..*typed on the reader, so nothing was signed: sign again" "$out"
        expect_eq "PIN pad, wrong PIN: one login on the reader, no second try; nothing written; one pin-failure record" \
                "1 no $((f0 + 1))" \
                "$(grep -c '^C_Login user pinpad' "$KYSO_FAULT_LOG") $([[ -s $T/out/pad-wrong.p7s ]] && echo yes || echo no) $(audit_count pin-failure)"
        expect_eq "PIN pad, wrong PIN: the request's record says PinIncorrect" "org.kyso.Error.PinIncorrect" \
                "$(kysoctl audit show --json | jq -r '[.[] | select(.event == "sign-failed")] | last | .data.error // .error // .reason')"
        control ""
        for ((i = 0; i < 50; i++)); do pinpad_on || break; sleep 0.2; done

        # A batch on a fast token (several documents with the helper at once) logs in once, and out once after
        # its last signature: the login never outlives the batch.
        for ((i = 0; i < 12; i++)); do echo "lô $i" >"$D/lo$i.txt"; done
        mkdir -p "$T/lo"
        : >"$KYSO_FAULT_LOG"
        script "confirm yes" "pin 1111"
        out=$(CLIENT --cert "$LEADER" --role approve --batch --count 12 -o "$T/lo" "$D"/lo{0..11}.txt 2>&1)
        expect_match "fast batch of 12: signed" "response 0 0 -" "$out"
        expect_eq "fast batch of 12: one login, one logout, and the logout last" "1 1 C_Logout" \
                "$(grep -c '^C_Login' "$KYSO_FAULT_LOG") $(grep -c '^C_Logout' "$KYSO_FAULT_LOG") $(tail -n 1 "$KYSO_FAULT_LOG")"

        # Two tokens in parallel, on two modules: the leader token behind the fault module, whose C_Sign is
        # slow, the seal token on SoftHSM beside it (each module has its own helper). The seal's request must
        # finish while the leader's signature is still on its token; requests served one after the other
        # would make it wait.
        stop_kysod
        for dir in "$KYSO_FIXTURES"/tokens/*/; do
                if grep -q leader "$dir/token.object"; then to=$T/split-leader; else to=$T/split-seal; fi
                mkdir -p "$to"
                cp -a "$dir" "$to/"
        done
        for t in leader seal; do
                printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n' \
                        "$T/split-$t" >"$T/split-$t.conf"
        done
        export KYSO_FAULT_SOFTHSM2_CONF=$T/split-leader.conf SOFTHSM2_CONF=$T/split-seal.conf
        echo "module = $KYSO_SOFTHSM_MODULE" >>"$KYSO_AGENT_CONFIG"
        "$KYSO_BUILD_DIR/kysod" --config "$KYSO_AGENT_CONFIG" 2>>"$KYSO_KYSOD_LOG" &
        KYSO_KYSOD_PID=$!
        # Asked of the bus first: a kysoctl call before kysod owns its name would start another kysod by
        # D-Bus activation (with the sandbox's one module), and this one would then exit.
        wait_for 30 agent_has_name
        for ((i = 0; i < 100; i++)); do
                out=$(kysoctl tokens 2>/dev/null)
                [[ $out == *leader* && $out == *seal* ]] && break
                sleep 0.1
        done
        expect_match "two modules: the agent lists the leader and seal tokens" "leader.*seal|seal.*leader" "$(kysoctl tokens 2>&1 | tr '\n' ' ')"
        control "slow C_Sign 5000"
        script "confirm yes" "pin 1111" "confirm yes" "pin 2222"
        kysoctl sign --role approve --cert "$LEADER" "$D/qd.txt" -o "$T/out/par-leader.p7s" >"$T/par1.txt" 2>&1 &
        p1=$!
        # Once the leader's PIN is taken the prompt is free, and the leader's signature is on its token.
        for ((i = 0; i < 200; i++)); do (($(wc -l <"$KYSO_TEST_PINENTRY_SCRIPT") <= 2)) && break; sleep 0.05; done
        kysoctl sign --role copy --cert "$SEAL" "$D/qd.txt" -o "$T/out/par-seal.p7s" >"$T/par2.txt" 2>&1
        s2=$?
        kill -0 $p1 2>/dev/null && running=yes || running=no
        wait $p1
        s1=$?
        expect_eq "two tokens in parallel: the seal's request is done while the leader's signature is still on its token" \
                "0 yes" "$s2 $running"
        expect_eq "two tokens in parallel: then the leader's request is done too" 0 "$s1"
        expect "two tokens in parallel: the leader's signature verifies" cms_ok "$D/qd.txt" "$T/out/par-leader.p7s"
        expect "two tokens in parallel: the seal's signature verifies" cms_ok "$D/qd.txt" "$T/out/par-seal.p7s"
        control ""
        stop_kysod
        tap_done
        exit $?
fi
cp "$D/qd.txt" "$D/tampered.txt"
cp "$D/qd.txt" "$D/unsigned.txt"

# 1. approve, then issue
script "confirm yes" "pin 1111"
expect "approve: kysoctl sign exits 0" kysoctl sign --role approve --cert "$LEADER" "$D/qd.txt" -o "$D/qd.txt.p7s"
expect "approve: openssl cms -verify agrees" cms_ok "$D/qd.txt" "$D/qd.txt.p7s"
script "confirm yes" "pin 2222"
expect "issue over the leader's signature exits 0" \
        kysoctl sign --role issue --cert "$SEAL" --existing-signature "$D/qd.txt.p7s" "$D/qd.txt" -o "$D/qd.issued.p7s"
expect "issue: kysoctl verify says both signatures are valid" kysoctl verify "$D/qd.txt" "$D/qd.issued.p7s"
expect_eq "issue: kysoctl verify --json lists 2 signatures, the leader's counts" "2 true" \
        "$(kysoctl verify "$D/qd.txt" "$D/qd.issued.p7s" --json | jq -r '[(.signatures | length), (.signatures | map(.competent_person) | any)] | join(" ")' 2>/dev/null)"
expect "issue: openssl cms -verify agrees" cms_ok "$D/qd.txt" "$D/qd.issued.p7s"
expect_eq "issue: openssl sees two signers" 2 \
        "$(openssl cms -cmsout -print -inform DER -in "$D/qd.issued.p7s" | grep -c 'signatureAlgorithm:')"

# 2. the seal rule's refusals, before any prompt
n=$(prompts)
script "confirm yes" "pin 2222"
expect_fail "issue without the leader's signature is refused" "PolicyDenied" \
        kysoctl sign --verbose --role issue --cert "$SEAL" "$D/unsigned.txt" -o "$T/out/none.p7s"
[[ ! -s $T/out/none.p7s ]] && ok "refused issue: no output" || not_ok "refused issue: no output"
head -c 3000 /dev/urandom >"$T/forged.p7s"
expect_fail "issue with a forged signature file is refused" "PolicyDenied" \
        kysoctl sign --verbose --role issue --cert "$SEAL" --existing-signature "$T/forged.p7s" "$D/qd.txt" -o "$T/out/forged.p7s"
echo "sửa đổi" >>"$D/tampered.txt"
expect_fail "issue of a changed document (the leader signed another text) is refused" "PolicyDenied" \
        kysoctl sign --verbose --role issue --cert "$SEAL" --existing-signature "$D/qd.txt.p7s" "$D/tampered.txt" -o "$T/out/tampered.p7s"
expect_eq "refusals showed no prompt" "$n" "$(prompts)"
expect "the pinentry readied for the refused requests has ended" pinentries_ended
script "confirm yes" "pin 1111"
# Without --cert kysoctl may choose only when the choice is unambiguous: the leader token holds several
# usable personal certificates (leader, leader2, clerk), and a signature made with the wrong one has legal
# weight, so it must refuse and list them rather than take the first.
expect_fail "without --cert and several usable personal certificates: refused, candidates listed" \
        "several usable personal certificates are present; choose one with --cert" \
        kysoctl sign --role approve "$D/qd.txt" -o "$T/out/ambiguous.p7s"
expect "without --cert, refused: nothing written" test ! -s "$T/out/ambiguous.p7s"
expect "the clerk signs personally" kysoctl sign --role personal --cert "$CLERK" "$D/qd.txt" -o "$T/clerk.p7s"
# Who asked: the bus's process id of the caller, and its executable (kysoctl, a short-lived child here).
expect_eq "the audit record names the caller's executable, with a process id" "$(readlink -f "$(command -v kysoctl)") true" \
        "$(kysoctl audit show --json | jq -r '[.[] | select(.event == "sign-done")] | last | "\(.caller.exe) \(.caller.pid > 1)"')"
n=$(prompts)
expect_fail "issue over the clerk's (not a leader's) signature is refused" "PolicyDenied" \
        kysoctl sign --verbose --role issue --cert "$SEAL" --existing-signature "$T/clerk.p7s" "$D/qd.txt" -o "$T/out/clerk-issued.p7s"
expect_fail "a classified document is refused" "PolicyDenied" \
        kysoctl sign --verbose --role approve --cert "$LEADER" --classification "Tối mật" "$D/qd.txt" -o "$T/out/secret.p7s"
expect_eq "no prompt for the clerk-issue and classified refusals" "$n" "$(prompts)"
expect_eq "the classified refusal's audit record: denied, Art. 5.7, the marking kept" "denied Art. 5.7 Tối mật" \
        "$(kysoctl audit show --json | jq -r '[.[] | select(.event == "sign-denied")] | last | "\(.decision) \(.article) \(.data.classification)"')"
expect_fail "the seal cannot approve (role vs kind)" "PolicyDenied" \
        kysoctl sign --verbose --role approve --cert "$SEAL" "$D/qd.txt" -o "$T/out/seal-approve.p7s"
# A refusal is said once, in words: on its document's line; the D-Bus error name only with --verbose.
out=$(kysoctl sign --role approve --cert "$SEAL" "$D/qd.txt" -o "$T/out/seal-approve.p7s" 2>&1)
expect_eq "a refusal: exit 1" 1 "$?"
expect_match "a refusal: said on the document's line" "^\[1/1\] qd\.txt: denied: " "$out"
msg=$(sed -n 's/^\[1\/1\] qd\.txt: denied: //p' <<<"$out")
expect_eq "a refusal: said once, without the D-Bus error name" "1 0" \
        "$(grep -cF -- "${msg:-?}" <<<"$out") $(grep -c 'org\.kyso\.Error' <<<"$out")"
if locale -a 2>/dev/null | grep -qix 'vi_VN.utf-\?8'; then
        expect_match "a refusal under vi_VN.UTF-8: the status in Vietnamese" "^\[1/1\] qd\.txt: bị từ chối: " \
                "$(LC_ALL=vi_VN.UTF-8 kysoctl sign --role approve --cert "$SEAL" "$D/qd.txt" -o "$T/out/seal-approve.p7s" 2>&1)"
else
        ok "a refusal under vi_VN.UTF-8: the status in Vietnamese # SKIP vi_VN.UTF-8 locale not installed"
fi
printf '%%PDF-1.7\n%%\xe2\xe3\n' >"$D/a.pdf"
# PDFs are signed since issue 10 (tests/signing/test-pdf.sh); a header alone is a damaged PDF.
expect_fail "kysoctl refuses a damaged PDF (a header alone)" "damaged" \
        kysoctl sign --role approve --cert "$LEADER" "$D/a.pdf" -o "$T/out/a.pdf.p7s"

# Wrong argument types and values: InvalidArgs at once, before anything else.
bcall() { "$KYSO_SOURCE_ROOT/tests/signing/bad-call.py" "$@" 2>&1; }
expect_match "an option of the wrong type: InvalidArgs" "InvalidArgs.*wrong type" \
        "$(bcall 'hhssa{sv}' "$LEADER" approve timestamp s yes)"
expect_match "an unknown role: InvalidArgs" "InvalidArgs.*role must be" "$(bcall 'hhssa{sv}' "$LEADER" sign)"
expect_match "a certificate that is not a PKCS#11 URI: InvalidArgs" "InvalidArgs.*PKCS#11 URI" \
        "$(bcall 'hhssa{sv}' not-a-uri approve)"
expect_match "a bad handle_token: InvalidArgs" "InvalidArgs.*handle_token" \
        "$(bcall 'hhssa{sv}' "$LEADER" approve handle_token s ../x)"
expect_match "arguments of the wrong signature: InvalidArgs" "InvalidArgs.*signature" \
        "$(bcall wrong "$LEADER" approve)"

# 2b. kysoctl and the agent never harm an input. An output that is an input (also through a symlink or a
# hard link) is refused before anything is written; kysoctl writes a temporary file beside OUTPUT and renames
# it over OUTPUT only once signed, so a refused or failed request leaves an existing OUTPUT as it was.
H=$T/harm
mkdir -p "$H"
cp "$D/qd.txt" "$D/qd.txt.p7s" "$H/"
sum() { sha256sum "$1" | cut -d' ' -f1; }
leader_sum=$(sum "$H/qd.txt.p7s")
doc_sum=$(sum "$H/qd.txt")
n=$(prompts)
script "confirm yes" "pin 2222"
ln -s qd.txt.p7s "$H/link.p7s"
ln "$H/qd.txt.p7s" "$H/hard.p7s"
for o in qd.txt.p7s link.p7s hard.p7s; do
        expect_fail "issue with -o $o (the leader's .p7s): refused as the same file" \
                "output .*$o is the same file as .*qd.txt.p7s" \
                kysoctl sign --role issue --cert "$SEAL" --existing-signature "$H/qd.txt.p7s" "$H/qd.txt" -o "$H/$o"
done
expect_eq "the leader's signature is untouched" "$leader_sum" "$(sum "$H/qd.txt.p7s")"
expect_fail "signing a document onto itself: refused as the same file" "output .*qd.txt is the same file as" \
        kysoctl sign --role approve --cert "$LEADER" "$H/qd.txt" -o "$H/qd.txt"
expect_eq "the document is untouched" "$doc_sum" "$(sum "$H/qd.txt")"
expect_fail "a batch issue with -o the inputs' folder: refused as the same file" \
        "output .*qd.txt.p7s is the same file as" \
        kysoctl sign --batch --role issue --cert "$SEAL" -o "$H" "$H/qd.txt"
expect_eq "the batch issue left the leader's signature untouched" "$leader_sum" "$(sum "$H/qd.txt.p7s")"
expect_eq "these refusals showed no prompt" "$n" "$(prompts)"
expect_match "the agent refuses an output that is the existing signature (InvalidArgs)" "InvalidArgs.*another file" \
        "$(bcall --document "$H/qd.txt" --output "$H/qd.txt.p7s" 'hhssa{sv}' "$SEAL" issue existing_signature h "$H/qd.txt.p7s")"
expect_match "the agent refuses an output that is the document (InvalidArgs)" "InvalidArgs.*another file" \
        "$(bcall --document "$H/qd.txt" --output "$H/qd.txt" 'hhssa{sv}' "$LEADER" approve)"
expect_eq "the agent's refusals left both files untouched" "$leader_sum $doc_sum" \
        "$(sum "$H/qd.txt.p7s") $(sum "$H/qd.txt")"
# A batch's outputs are checked against all its documents and each other: a document's output that is the
# next document would replace it with the signature; two documents with one output would lose one signature.
batch() { "$KYSO_SOURCE_ROOT/tests/signing/batch-call.py" "$@" 2>&1; }
cp "$H/qd.txt" "$H/qd2.txt"
doc2_sum=$(sum "$H/qd2.txt")
expect_match "SignBatch: an output that is another document of the batch is refused (InvalidArgs)" \
        "InvalidArgs.*file of its own" "$(batch "$LEADER" approve "$H/qd.txt" "$H/qd2.txt" -- "$H/qd2.txt" "$H/b2.p7s")"
expect_eq "... that document is untouched" "$doc2_sum" "$(sum "$H/qd2.txt")"
expect_match "SignBatch: one output for two documents is refused (InvalidArgs)" \
        "InvalidArgs.*file of its own" "$(batch "$LEADER" approve "$H/qd.txt" "$H/qd2.txt" -- "$H/b1.p7s" "$H/b1.p7s")"
echo "old" >"$H/keep.p7s"
script "confirm no"
expect_fail "declined, with an existing output" "Cancelled" \
        kysoctl sign --verbose --role approve --cert "$LEADER" "$H/qd.txt" -o "$H/keep.p7s"
expect_eq "declined: the existing output is kept as it was" "old" "$(cat "$H/keep.p7s")"
script "confirm yes" "pin 1111"
expect "signed over an existing output" kysoctl sign --role approve --cert "$LEADER" "$H/qd.txt" -o "$H/keep.p7s"
expect "signed: the existing output was replaced by the signature" cms_ok "$H/qd.txt" "$H/keep.p7s"
expect_eq "no temporary file is left beside the outputs" "" "$(find "$H" -name '*.tmp-*')"
expect_match "kysoctl sign --help: without --cert, several certificates need --cert" "several .*--cert" \
        "$(kysoctl sign --help | tr '\n' ' ')"
if locale -a 2>/dev/null | grep -qi '^vi_VN\.utf-\?8$'; then
        expect_match "kysoctl sign speaks Vietnamese in a Vietnamese locale" "khi có nhiều chứng thư" \
                "$(LC_ALL=vi_VN.UTF-8 kysoctl sign --help | tr '\n' ' ')"
else
        ok "kysoctl sign speaks Vietnamese # SKIP vi_VN.UTF-8 locale not installed"
fi

# 3. PIN and prompt outcomes
script "confirm yes" "pin 9999" "pin 1111"
expect "a wrong PIN, then the right one: signed" \
        kysoctl sign --role approve --cert "$LEADER" "$D/qd.txt" -o "$T/out/retry.p7s"
expect "the second PIN prompt says the PIN was wrong" grep -q '^SETERROR' "$KYSO_TEST_PINENTRY_LOG"
expect_eq "the wrong PIN is one pin-failure record" 1 "$(audit_count pin-failure)"
# 9999 on its own: a hash or a time in the log may contain the digits.
expect "no PIN in the audit log" bash -c "! grep -qE -e '(^|[^0-9a-f])9999([^0-9a-f]|\$)' -e '\"1111\"' \"\$XDG_STATE_HOME/kyso/audit.jsonl\""
# A token that says nothing of its tries (SoftHSM) and a person who keeps typing a wrong PIN: three tries per
# request, then PinIncorrect; the PIN is not asked a fourth time.
script "confirm yes" "pin 9998" "pin 9997" "pin 9996" "pin 1111"
f0=$(audit_count pin-failure)
g0=$(grep -c '^GETPIN' "$KYSO_TEST_PINENTRY_LOG")
expect_fail "three wrong PINs in one request: it ends with PinIncorrect" "wrong 3 times.*PinIncorrect|PinIncorrect.*wrong 3 times" \
        kysoctl sign --verbose --role approve --cert "$LEADER" "$D/qd.txt" -o "$T/out/three-wrong.p7s"
expect_eq "... three pin-failure records, the PIN asked three times, nothing written" "3 3 no" \
        "$(($(audit_count pin-failure) - f0)) $(($(grep -c '^GETPIN' "$KYSO_TEST_PINENTRY_LOG") - g0)) $([[ -s $T/out/three-wrong.p7s ]] && echo yes || echo no)"
# An empty document (/dev/null, an empty file): refused before any prompt.
: >"$D/empty.txt"
for empty in /dev/null "$D/empty.txt"; do
        c0=$(grep -c '^CONFIRM' "$KYSO_TEST_PINENTRY_LOG")
        script "confirm yes" "pin 1111"
        expect_fail "an empty document ($empty): BadDocument, it is empty" "empty.*BadDocument|BadDocument.*empty" \
                kysoctl sign --verbose --role approve --cert "$LEADER" "$empty" -o "$T/out/empty.p7s"
        expect_eq "... before any prompt, nothing written" "0 no" \
                "$(($(grep -c '^CONFIRM' "$KYSO_TEST_PINENTRY_LOG") - c0)) $([[ -s $T/out/empty.p7s ]] && echo yes || echo no)"
done
script "confirm no"
expect_fail "the person declines: Cancelled" "Cancelled" \
        kysoctl sign --verbose --role approve --cert "$LEADER" "$D/qd.txt" -o "$T/out/declined.p7s"
[[ ! -s $T/out/declined.p7s ]] && ok "declined: no output" || not_ok "declined: no output"

# 4. Cancel and disconnect while the prompt is open
script "delay 5 confirm yes" "pin 1111"
out=$(CLIENT --cert "$LEADER" --role approve --cancel 1000 -o "$T/out" "$D/qd.txt" 2>&1)
expect_match "Cancel while the prompt is open: Response 1 Cancelled" "response 0 1 org.kyso.Error.Cancelled" "$out"
[[ ! -s $T/out/out-0.p7s ]] && ok "cancelled: no output" || not_ok "cancelled: no output"
c0=$(audit_count sign-cancelled)
script "delay 5 confirm yes" "pin 1111"
out=$(CLIENT --cert "$LEADER" --role approve --disconnect 1000 -o "$T/out" "$D/qd.txt" 2>&1)
sleep 1
expect_eq "a client that disconnects cancels its request (audited)" $((c0 + 1)) "$(audit_count sign-cancelled)"

# A pipe as the output cannot take a signature written from its start: refused at once, before any prompt
# (it used to be refused only after the approval and the PIN, when the signature could not be written).
script "confirm yes" "pin 1111"
p0=$(prompts)
out=$(CLIENT --cert "$LEADER" --role approve --output-pipe -o "$T/out" "$D/qd.txt" 2>&1)
expect_match "a pipe as the output: refused with InvalidArgs at once" "reply 0 error org.kyso.Error.InvalidArgs" "$out"
expect_eq "a pipe as the output: no prompt" "$p0" "$(prompts)"

# 5. B-T, and a TSA that is down
script "confirm yes" "pin 1111"
expect "B-T against the test TSA" \
        kysoctl sign --role approve --cert "$LEADER" --timestamp "$D/qd.txt" -o "$T/bt.p7s"
expect_match "B-T: kysoctl verify sees the time-stamp" "[Tt]ime-stamp|timestamp" "$(kysoctl verify "$D/qd.txt" "$T/bt.p7s" 2>&1)"
expect "B-T: openssl cms -verify agrees" cms_ok "$D/qd.txt" "$T/bt.p7s"
expect_match "B-T: the token is in the unsigned attributes" "signatureTimeStampToken|id-smime-aa-timeStampToken" \
        "$(openssl cms -cmsout -print -inform DER -in "$T/bt.p7s")"
cp "$KYSO_POLICY" "$T/policy.saved"
sed -i "s|^url = .*|url = http://127.0.0.1:1/tsa|" "$KYSO_POLICY"
script "confirm yes" "pin 1111"
expect_fail "TSA down: a clear error, nothing written" "time-stamp server.*could not be reached" \
        kysoctl sign --role approve --cert "$LEADER" --timestamp "$D/qd.txt" -o "$T/out/bt-down.p7s"
[[ ! -s $T/out/bt-down.p7s ]] && ok "TSA down: no output" || not_ok "TSA down: no output"
cp "$T/policy.saved" "$KYSO_POLICY"
# rsa-padding = pss (here from a drop-in): the agent signs with RSASSA-PSS; kysoctl and openssl agree.
# The agent reads the policy for each request and records it when it changed: now with the drop-in.
loads=$(audit_count policy-load)
mkdir -p "$(dirname "$KYSO_POLICY")/policy.d"
printf '[algorithms]\nrsa-padding = pss\n' >"$(dirname "$KYSO_POLICY")/policy.d/50-pss.conf"
script "confirm yes" "pin 1111"
expect "rsa-padding = pss: approve" kysoctl sign --role approve --cert "$LEADER" "$D/qd.txt" -o "$T/pss.p7s"
expect_eq "a changed policy is recorded at the next request" $((loads + 1)) "$(audit_count policy-load)"
expect_eq "the record lists the drop-in with its SHA-256" \
        "$(dirname "$KYSO_POLICY")/policy.d/50-pss.conf $(sha256sum "$(dirname "$KYSO_POLICY")/policy.d/50-pss.conf" | cut -d' ' -f1) no" \
        "$(kysoctl audit show --json | jq -r '[.[] | select(.event == "policy-load")] | last |
                "\(.data.dropin_1) \(.data.dropin_1_sha256) \(.data.system_default)"')"
expect_match "rsa-padding = pss: the signature is RSA-PSS" '"scheme":"rsa-pss"' \
        "$(kysoctl verify --json "$D/qd.txt" "$T/pss.p7s" 2>&1)"
expect "rsa-padding = pss: openssl cms -verify agrees" cms_ok "$D/qd.txt" "$T/pss.p7s"
expect_match "rsa-padding = pss: openssl sees RSASSA-PSS" "rsassaPss" \
        "$(openssl cms -cmsout -print -inform DER -in "$T/pss.p7s")"
rm -f "$(dirname "$KYSO_POLICY")/policy.d/50-pss.conf"
script "confirm yes" "pin 1111"
expect "rsa-padding back to pkcs1: approve" kysoctl sign --role approve --cert "$LEADER" "$D/qd.txt" -o "$T/pkcs1.p7s"
script "confirm yes" "pin 1111"
expect "the same policy again: approve" kysoctl sign --role approve --cert "$LEADER" "$D/qd.txt" -o "$T/pkcs1b.p7s"
expect_eq "the policy is recorded again when it changed back, not at every request" $((loads + 2)) \
        "$(audit_count policy-load)"
expect_eq "the record after the drop-in went has no drop-in" "null" \
        "$(kysoctl audit show --json | jq -r '[.[] | select(.event == "policy-load")] | last | .data.dropin_1')"
expect_match "rsa-padding pkcs1 (default): the signature is PKCS#1 v1.5" '"scheme":"rsa-pkcs1"' \
        "$(kysoctl verify --json "$D/qd.txt" "$T/pkcs1.p7s" 2>&1)"

# 6. a bounded queue, a batch (two tokens in parallel: with the fault module, below)
before=$(kysoctl audit show --json | jq length)
# One approval and PIN per request: give enough answers for every request that gets past the queue.
lines=()
for ((i = 0; i < 100; i++)); do lines+=("confirm yes" "pin 1111"); done
script "${lines[@]}"
mkdir -p "$T/q"
out=$(CLIENT --cert "$LEADER" --role approve --count 100 -o "$T/q" "$D/qd.txt" 2>&1)
summary=$(grep '^summary' <<<"$out")
busy=$(sed -E 's/.*busy=([0-9]+).*/\1/' <<<"$summary")
done_=$(sed -E 's/.*done=([0-9]+).*/\1/' <<<"$summary")
expect_match "100 concurrent requests: some Busy, the rest done, none failed" \
        "done=[0-9]+ busy=[1-9][0-9]* cancelled=0 failed=0" "$summary"
expect_eq "100 concurrent requests: done + busy = 100" 100 $((busy + done_))
expect_eq "100 concurrent requests: every one audited" $((before + 100)) "$(kysoctl audit show --json | jq length)"

script "confirm yes" "pin 1111"
g0=$(grep -c '^GETPIN' "$KYSO_TEST_PINENTRY_LOG")
c0=$(grep -c '^CONFIRM' "$KYSO_TEST_PINENTRY_LOG")
for ((i = 0; i < 50; i++)); do echo "văn bản số $i" >"$D/b$i.txt"; done
mkdir -p "$T/b"
AUDIT_LOG=$XDG_STATE_HOME/kyso/audit.jsonl
out=$(CLIENT --cert "$LEADER" --role approve --batch --count 50 --check-audit "$AUDIT_LOG" -o "$T/b" "$D"/b{0..49}.txt 2>&1)
expect_match "a batch of 50: one Response, success" "response 0 0 -" "$out"
# The records of a batch are written in groups (one fdatasync for several documents); the app hears of a
# document only once its record is written.
expect_eq "a batch of 50: each document's Progress comes after its sign-done record is written" "50 0" \
        "$(grep -c '^progress [0-9]* done audited' <<<"$out") $(grep -c 'UNAUDITED' <<<"$out")"
expect_eq "a batch of 50: one sign-done record per document, in document order" \
        "$(printf 'b%d.txt ' {0..49})" \
        "$(jq -r 'select(.event == "sign-done" and (.document.name | test("^b[0-9]+[.]txt$"))) | .document.name' \
                "$AUDIT_LOG" | tr '\n' ' ')"
okc=0
for ((i = 0; i < 50; i++)); do cms_ok "$D/b$i.txt" "$T/b/out-$i.p7s" 2>/dev/null && okc=$((okc + 1)); done
expect_eq "a batch of 50: every output verifies with openssl against its own document" 50 "$okc"
expect_eq "a batch of 50: one approval prompt and one PIN prompt" "$((c0 + 1)) $((g0 + 1))" \
        "$(grep -c '^CONFIRM' "$KYSO_TEST_PINENTRY_LOG") $(grep -c '^GETPIN' "$KYSO_TEST_PINENTRY_LOG")"

script "confirm yes" "pin 1111"
mkdir -p "$T/kb"
out=$(kysoctl sign --batch --role approve --cert "$LEADER" -o "$T/kb" "$D"/b{0..11}.txt 2>&1)
expect_eq "kysoctl sign --batch of 12 (in parts): exit 0" 0 "$?"
expect_match "kysoctl sign --batch shows progress per document" "\[12/12\] b11.txt: signed" "$out"
expect "kysoctl sign --batch: an output verifies" cms_ok "$D/b11.txt" "$T/kb/b11.txt.p7s"

# 7. a 1 GiB (sparse) document, in bounded memory
truncate -s 1G "$T/big.bin"
script "confirm yes" "pin 1111"
expect "a 1 GiB document is signed" kysoctl sign --role approve --cert "$LEADER" "$T/big.bin" -o "$T/big.p7s"
hwm=$(awk '/VmHWM/ { print $2 }' "/proc/$KYSO_KYSOD_PID/status")
((sanitized || hwm < 32768)) && ok "kysod's peak memory stays under 32 MiB (VmHWM ${hwm} kB; not judged under ASan)" ||
        not_ok "kysod's peak memory stays under 32 MiB (VmHWM ${hwm} kB)"
expect "the 1 GiB signature verifies with openssl" cms_ok "$T/big.bin" "$T/big.p7s"
rm -f "$T/big.bin"
# While a big document is hashed (on a worker thread), the agent still answers other calls at once.
truncate -s 4G "$T/huge.bin"
script "confirm yes" "pin 1111"
kysoctl sign --role approve --cert "$LEADER" "$T/huge.bin" -o "$T/huge.p7s" >/dev/null 2>&1 &
pid=$!
sleep 0.3
t0=$(date +%s%N)
kysoctl tokens >/dev/null
t1=$(date +%s%N)
if kill -0 $pid 2>/dev/null; then
        ms=$(((t1 - t0) / 1000000))
        ((ms < 1500)) && ok "kysod answers while it hashes a 4 GiB document (${ms} ms)" ||
                not_ok "kysod answers while it hashes a 4 GiB document (${ms} ms)"
else
        ok "kysod answers while it hashes a 4 GiB document # SKIP the document was hashed before the call"
fi
wait $pid
expect_eq "the 4 GiB document is signed too" 0 "$?"
rm -f "$T/huge.bin"

# 8. the audit log
expect "kysoctl audit verify: the chain is intact" kysoctl audit verify
for ev in sign-done sign-denied sign-cancelled sign-failed; do
        expect_match "audit log has $ev records" "^[1-9]" "$(audit_count $ev)"
done
stop_kysod

tap_done
