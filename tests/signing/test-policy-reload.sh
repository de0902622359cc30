#!/usr/bin/env bash
# test-policy-reload.sh (TAP): kysod keeps the signing policy between requests (agent/policy-cache.h) once its
# files are 3 s old, and a request after any change sees it: the main file, a drop-in added, rewritten in
# place and removed, a root removed from and put back in the trust folder. Each change comes after two
# requests that reused the kept policy (kysod's debug log says when it reads it again, and why), and the
# next request decides by the changed policy: [algorithms] min-rsa-bits = 4096 refuses the leader's
# RSA-2048 certificate, a trust folder without the fixtures' root its chain.
set -uo pipefail

. "${KYSO_SOURCE_ROOT:?run through meson test}/tests/fixtures/tap.sh"

export KYSO_LOG_LEVEL=debug
sandbox_test policy-reload
# ---- inside the sandbox
LEADER="pkcs11:token=leader;object=leader;type=cert"
DROPINS=$(dirname "$KYSO_POLICY")/policy.d

echo "Quyết định số 16/QĐ-UBND" >"$T/qd.txt"
sign() {
        printf '%s\n' "confirm yes" "pin 1111" >"$KYSO_TEST_PINENTRY_SCRIPT"
        kysoctl sign --role approve --cert "$LEADER" "$T/qd.txt" -o "$T/qd.p7s" >/dev/null 2>&1
}
rereads() { grep -c "The signing policy is read again" "$KYSO_KYSOD_LOG"; }
# settled WHAT: the files were written long enough ago; two requests sign with the policy kept after the first.
settled() {
        sleep 4
        sign
        local n
        n=$(rereads)
        sign
        expect_eq "$1: signed" 0 "$?"
        expect_eq "$1: the second request reuses the kept policy" "$n" "$(rereads)"
}
# changed WHAT EXIT PATH: after a change to a kept policy, the next request reads it again because PATH
# changed, and exits EXIT.
changed() {
        sign
        expect_eq "$1: the next request decides by it (exit $2)" "$2" "$?"
        expect_match "$1: kysod saw the change" "read again: $3 changed" "$(grep "read again" "$KYSO_KYSOD_LOG" | tail -n 2)"
}

settled "the sandbox's policy"
printf '[algorithms]\nmin-rsa-bits = 4096\n' >>"$KYSO_POLICY"
changed "min-rsa-bits = 4096 added to the main file" 1 "$KYSO_POLICY"
sed -i '/^\[algorithms\]$/,$d' "$KYSO_POLICY"
sign
expect_eq "and taken out again: signed" 0 "$?"

mkdir -p "$DROPINS"
settled "with an empty policy.d"
printf '[algorithms]\nmin-rsa-bits = 4096\n' >"$DROPINS/50-strict.conf"
changed "a drop-in added" 1 "$DROPINS"
sleep 4
sign
expect_eq "the drop-in, kept: still refused" 1 "$?"
# In place: the same inode and size, only the bytes differ.
printf '[algorithms]\nmin-rsa-bits = 2048\n' >"$DROPINS/50-strict.conf"
changed "the drop-in rewritten" 0 "$DROPINS/50-strict.conf"
settled "with the drop-in at 2048"
rm "$DROPINS/50-strict.conf"
changed "the drop-in removed" 0 "$DROPINS"

mkdir -p "$T/roots"
cp "$KYSO_PKI/root.pem" "$KYSO_PKI/other-root.pem" "$T/roots/"
sed -i "s|^root = .*|root = $T/roots|" "$KYSO_POLICY"
settled "roots read from a folder"
mv "$T/roots/root.pem" "$T/root.pem"
changed "the root taken out of the folder" 1 "$T/roots"
mv "$T/root.pem" "$T/roots/root.pem"
sign
expect_eq "and put back: signed" 0 "$?"
tap_done
