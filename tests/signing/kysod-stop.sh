# shellcheck shell=bash
# kysod-stop.sh: stop_kysod for the signing tests run inside contrib/sandbox (source it after tap.sh): kysod
# stops on SIGTERM within 10 s, and (in a sanitizer build) its log has neither errors nor leaks.
stop_kysod() {
        local i
        kill -TERM "$KYSO_KYSOD_PID"
        for ((i = 0; i < 100; i++)); do
                kill -0 "$KYSO_KYSOD_PID" 2>/dev/null || break
                sleep 0.1
        done
        expect "kysod stops on SIGTERM" bash -c "! kill -0 $KYSO_KYSOD_PID 2>/dev/null"
        expect_no_sanitizer_report "kysod's log has no sanitizer report" "$KYSO_KYSOD_LOG"
}
