# shellcheck shell=bash disable=SC2154 # sock is set by the test that sources this
# tmux-pane.sh: a tmux pane whose terminal pinentry-tty opens, read and typed into as a person would, for the
# pinentry-tty tests. Source it and set sock to the tmux server's socket; type with tmux -S "$sock" send-keys.

# pane_start: a detached session of 200x50 whose pane runs a program that never reads the terminal, so only
# pinentry-tty reads the keys sent; prints the pane's terminal.
pane_start() {
        tmux -S "$sock" -f /dev/null new-session -d -x 200 -y 50 "sleep 600" || return
        tmux -S "$sock" display-message -p '#{pane_tty}'
}

# screen: what the pane shows, wrapped lines joined.
screen() { tmux -S "$sock" capture-pane -p -J; }

# pane_wait TENTHS TEXT: until the pane shows TEXT, at most TENTHS tenths of a second; 1 and the pane shown
# if it never does.
pane_wait() {
        for _ in $(seq "$1"); do
                screen | grep -qF -- "$2" && return 0
                sleep 0.1
        done
        echo "the pane never showed: $2"
        echo "--- pane:"
        screen
        return 1
}
