#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Drives the real pinentry-tty through tmux, as a person would: the prompter opens pinentry-tty on a tmux
# pane's terminal; we read the pane, check the prompt shows the request in Vietnamese (then in English),
# and type the answers with send-keys. Usage: test-pinentry-tty.sh DRIVER. Skips (77) without tmux or
# pinentry-tty.
set -euo pipefail

driver=${1:?usage: $0 DRIVER}
pinentry=${KYSO_TEST_PINENTRY_TTY:-/usr/bin/pinentry-tty}
command -v tmux >/dev/null || { echo "tmux is not installed: skipping"; exit 77; }
[[ -x $pinentry ]] || { echo "$pinentry is not installed: skipping"; exit 77; }

tmp=$(mktemp -d /tmp/kyso-test-pinentry-tty.XXXXXX)
sock=$tmp/tmux.sock
driver_pid=
cleanup() {
        [[ -n $driver_pid ]] && kill "$driver_pid" 2>/dev/null || true
        tmux -S "$sock" kill-server 2>/dev/null || true
        rm -rf "$tmp"
}
trap cleanup EXIT

. "$(dirname -- "${BASH_SOURCE[0]}")/tmux-pane.sh"
tty=$(pane_start)
[[ -c $tty ]] || { echo "no pane terminal ($tty)"; exit 1; }

# wait_for TEXT: until the pane shows TEXT (10 s); if it never does, the driver's output too.
wait_for() {
        pane_wait 100 "$1" && return 0
        echo "--- driver:"
        cat "$tmp/out" || true
        return 1
}

# wait_driver: until the driver exits; its status in $driver_status.
wait_driver() {
        driver_status=0
        wait "$driver_pid" || driver_status=$?
        driver_pid=
}

clear_pane() {
        tmux -S "$sock" clear-history
        printf '\033[H\033[2J' >"$tty"
}

echo "# Vietnamese: approve, then type the PIN"
LC_ALL=vi_VN.UTF-8 KYSO_TEST_EXPECTED_PIN=2468 "$driver" "$pinentry" "$tty" >"$tmp/out" 2>&1 &
driver_pid=$!
wait_for "Ứng dụng “Quản lý văn bản” (/usr/bin/qlvb, PID 4242) yêu cầu ký số"
wait_for "Văn bản: to-trinh-ngan-sach-2026.pdf"
wait_for "Chứng thư số: Nguyễn Văn An, UBND phường Uông Bí (chứng thư số cá nhân"
wait_for "Hình thức ký: ký phê duyệt"
wait_for "[kh]?"
tmux -S "$sock" send-keys k
wait_for "của thiết bị “Token Lãnh đạo” để ký."
wait_for "Mã PIN:"
tmux -S "$sock" send-keys 2468 Enter
wait_driver
cat "$tmp/out"
grep -qx "confirm: yes 0" "$tmp/out"
grep -qx "pin matches (4 bytes)" "$tmp/out"
[[ $driver_status == 0 ]]
if screen | grep -qF 2468; then
        echo "the PIN was echoed on the terminal"
        exit 1
fi

echo "# English: a PIN with a space and a percent sign"
clear_pane
LC_ALL=C.UTF-8 KYSO_TEST_EXPECTED_PIN='12 %34' "$driver" "$pinentry" "$tty" >"$tmp/out" 2>&1 &
driver_pid=$!
wait_for "The application “Quản lý văn bản” (/usr/bin/qlvb, PID 4242) asks to sign a document."
wait_for "Role: approve (the leader's signature)"
wait_for "[sc]?"
tmux -S "$sock" send-keys s
wait_for "PIN:"
tmux -S "$sock" send-keys -l '12 %34'
tmux -S "$sock" send-keys Enter
wait_driver
cat "$tmp/out"
grep -qx "pin matches (6 bytes)" "$tmp/out"
[[ $driver_status == 0 ]]

echo "# English: the person cancels"
clear_pane
LC_ALL=C.UTF-8 "$driver" "$pinentry" "$tty" >"$tmp/out" 2>&1 &
driver_pid=$!
wait_for "[sc]?"
tmux -S "$sock" send-keys c
wait_driver
cat "$tmp/out"
grep -qx "confirm: cancelled 0" "$tmp/out"

echo "# Nobody answers: the prompt times out, pinentry-tty is stopped and the terminal echoes again"
clear_pane
stty -F "$tty" -a | tr " " "\n" | grep -qx echo
LC_ALL=C.UTF-8 KYSO_TEST_TIMEOUT_MS=1500 "$driver" "$pinentry" "$tty" >"$tmp/out" 2>&1 &
driver_pid=$!
wait_for "[sc]?"
wait_driver
cat "$tmp/out"
grep -qx "confirm: error -110" "$tmp/out" # -ETIMEDOUT
if pgrep -t "${tty#/dev/}" -x pinentry-tty >/dev/null; then
        echo "pinentry-tty is still running on $tty"
        exit 1
fi
stty -F "$tty" -a | tr " " "\n" | grep -qx echo
echo "# PIN pad: the message is shown until the login returns, then closed by the agent"
clear_pane
LC_ALL=vi_VN.UTF-8 KYSO_TEST_PINPAD_MS=1500 "$driver" "$pinentry" "$tty" pinpad >"$tmp/out" 2>&1 &
driver_pid=$!
wait_for "Hãy nhập mã PIN trên đầu đọc"
wait_driver
cat "$tmp/out"
grep -qx "pinpad closed by the agent" "$tmp/out"
[[ $driver_status == 0 ]]
if pgrep -t "${tty#/dev/}" -x pinentry-tty >/dev/null; then
        echo "pinentry-tty is still running on $tty"
        exit 1
fi
stty -F "$tty" -a | tr " " "\n" | grep -qx echo

echo "pinentry-tty: all good"
