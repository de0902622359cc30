#!/bin/sh
# embed-string.sh IN OUT: writes IN as a C string literal (one quoted line per input line) to OUT.
set -eu
sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/"/' -e 's/$/\\n"/' "$1" >"$2"
