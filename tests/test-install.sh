#!/usr/bin/env bash
# test-install.sh: `meson install --destdir` of this build puts every file where README.md's "What gets
# installed" says (with this build's prefix for /usr), nothing outside the prefix, and what it installs
# works: the programs run, the unit and the activation file start the installed kysod, the interface XML is
# the contract in dbus/ (TAP).
set -uo pipefail

. "${KYSO_SOURCE_ROOT:?run through meson test}/tests/fixtures/tap.sh"
B=${KYSO_BUILD_ROOT:?}
command -v meson >/dev/null || bail_out "meson is missing"
T=$(mktemp -d "${TMPDIR:-/tmp}/kyso-install-test.XXXXXX") || bail_out "mktemp failed"
trap 'rm -rf -- "$T"' EXIT

prefix=$(meson introspect "$B" --buildoptions | jq -r '.[] | select(.name == "prefix") | .value')
[[ $prefix == /* ]] || bail_out "cannot read the build's prefix"
D=$T/dest
meson install -C "$B" --destdir "$D" --no-rebuild --quiet >"$T/install.log" 2>&1 ||
        { sed 's/^/# /' "$T/install.log"; bail_out "meson install failed"; }

# The README's list, /usr replaced by this build's prefix.
mapfile -t listed < <(sed -n '/^## What gets installed/,/^## /p' "$KYSO_SOURCE_ROOT/README.md" |
        sed -n 's/^| `\(\/usr\/[^`]*\)` |.*/\1/p')
expect "README.md lists at least 15 installed files" test "${#listed[@]}" -ge 15
for path in "${listed[@]}"; do
        p=$prefix${path#/usr}
        expect "installed: $p" test -f "$D$p"
done
# And nothing else: every installed file is in the README's list (a new file must be documented there).
want=$(for path in "${listed[@]}"; do echo "$prefix${path#/usr}"; done | sort)
got=$(cd "$D" && find . -type f | sed 's/^\.//' | sort)
expect_eq "every installed file is in README.md's list, and nothing is outside the prefix" "$want" "$got"

# What is installed works.
expect_match "installed kysoctl runs" "^kysoctl" "$("$D$prefix/bin/kysoctl" --version 2>&1)"
expect_match "installed kysod runs" "^kysod [0-9]" "$("$D$prefix/libexec/kyso/kysod" --version 2>&1)"
expect_match "installed kyso-p11-helper runs" "^kyso-p11-helper [0-9]" \
        "$("$D$prefix/libexec/kyso/kyso-p11-helper" --version 2>&1)"
unit=$(find "$D" -name kysod.service)
activation=$(find "$D" -name org.kyso.Agent1.service)
expect_eq "the unit starts the installed kysod" "ExecStart=$prefix/libexec/kyso/kysod" "$(grep '^ExecStart=' "$unit")"
expect_eq "the activation file starts the same kysod" "Exec=$prefix/libexec/kyso/kysod" "$(grep '^Exec=' "$activation")"
expect_match "the activation file hands over to the unit" "^SystemdService=kysod.service$" "$(cat "$activation")"
expect "the interface XML is dbus/org.kyso.Agent1.xml" \
        cmp "$KYSO_SOURCE_ROOT/dbus/org.kyso.Agent1.xml" "$D$prefix/share/dbus-1/interfaces/org.kyso.Agent1.xml"
for page in "$D$prefix"/share/man/man*/*; do
        expect_match "man page $(basename "$page") is a manual page" "^\.TH " "$(head -n 20 "$page")"
done
# Bash completion where bash-completion looks for it (its pkg-config completionsdir, under this prefix), and
# working: sourced in bash, it completes kysoctl's commands.
bcdir=$(pkg-config --define-variable=prefix="$prefix" --variable=completionsdir bash-completion 2>/dev/null)
bcdir=${bcdir:-$prefix/share/bash-completion/completions}
expect "bash completion installed in $bcdir" test -f "$D$bcdir/kysoctl"
expect_eq "the installed bash completion completes kysoctl's commands" "sign" \
        "$(bash -c '. "$1" && COMP_WORDS=(kysoctl si) COMP_CWORD=1 COMP_LINE="kysoctl si" COMP_POINT=10 &&
                _kysoctl kysoctl si kysoctl && echo "${COMPREPLY[*]}"' _ "$D$bcdir/kysoctl" 2>&1)"
expect_match "the example policy names a trusted root" "^\[trust\]" "$(cat "$D$prefix/share/doc/kyso/policy.conf.example")"

tap_done
