#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# One whole Sign through the real pinentry-tty, driven through tmux as a person would: kysod (in
# contrib/sandbox) opens pinentry-tty on a tmux pane's terminal ($GPG_TTY); we read the approval text on the
# pane, answer "Sign", type the PIN, and check the signature with openssl. Skips (77) without tmux or
# pinentry-tty.
set -euo pipefail

if [[ -z ${KYSO_SANDBOX:-} ]]; then
        pinentry=${KYSO_TEST_PINENTRY_TTY:-/usr/bin/pinentry-tty}
        command -v tmux >/dev/null || { echo "tmux is not installed: skipping"; exit 77; }
        [[ -x $pinentry ]] || { echo "$pinentry is not installed: skipping"; exit 77; }
        tmp=$(mktemp -d "${TMPDIR:-/tmp}/kyso-sign-tty.XXXXXX")
        export KYSO_TTY_SOCK=$tmp/tmux.sock KYSO_TTY_DIR=$tmp
        trap 'tmux -S "$KYSO_TTY_SOCK" kill-server 2>/dev/null || true; rm -rf -- "$tmp"' EXIT
        sock=$KYSO_TTY_SOCK
        . "${KYSO_SOURCE_ROOT:?run through meson test}/tests/agent/tmux-pane.sh"
        GPG_TTY=$(pane_start)
        export GPG_TTY TERM=${TERM:-xterm} KYSO_SANDBOX_PINENTRY=$pinentry LC_ALL=C.UTF-8
        unset KYSO_POLICY
        "${KYSO_SOURCE_ROOT:?run through meson test}/contrib/sandbox" --build "${KYSO_BUILD_ROOT:?}" -- "$0"
        exit $?
fi

sock=$KYSO_TTY_SOCK
. "$KYSO_SOURCE_ROOT/tests/agent/tmux-pane.sh"
wait_for() { pane_wait 150 "$1"; }
echo "Quyết định số 7" >"$KYSO_TTY_DIR/qd7.txt"
kysoctl sign --role approve --cert "pkcs11:token=leader;object=leader;type=cert" "$KYSO_TTY_DIR/qd7.txt" \
        -o "$KYSO_TTY_DIR/qd7.txt.p7s" >"$KYSO_TTY_DIR/out" 2>&1 &
pid=$!
wait_for "asks to sign a document."
wait_for "qd7.txt"
wait_for "Nguyễn Văn An"
wait_for "[sc]?"
tmux -S "$sock" send-keys s
wait_for "PIN:"
tmux -S "$sock" send-keys 1111 Enter
status=0
wait $pid || status=$?
cat "$KYSO_TTY_DIR/out"
[[ $status == 0 ]] || { echo "kysoctl sign exited with $status"; exit 1; }
if screen | grep -qF 1111; then
        echo "the PIN was echoed on the terminal"
        exit 1
fi
openssl cms -verify -binary -inform DER -in "$KYSO_TTY_DIR/qd7.txt.p7s" -content "$KYSO_TTY_DIR/qd7.txt" \
        -CAfile "$KYSO_PKI/root+ca.pem" -purpose any -out /dev/null
echo "signed through pinentry-tty"
