#!/usr/bin/env bash
# test-completion.sh: shell/kysoctl.bash-completion, sourced in bash and called as readline would call it:
# commands, options from each command's --help, roles, and the certificate URIs of `kysoctl certs --json`
# (a stand-in kysoctl answers certs; everything else is the real one). Output is TAP.
set -uo pipefail

: "${KYSO_SOURCE_ROOT:?run through meson test}" "${KYSOCTL:?run through meson test}"
. "$KYSO_SOURCE_ROOT/tests/fixtures/tap.sh"
export LC_ALL=C.UTF-8

T=$(mktemp -d "${TMPDIR:-/tmp}/kyso-completion.XXXXXX") || bail_out "mktemp failed"
trap 'rm -rf -- "$T"' EXIT
mkdir "$T/bin" "$T/files"
cat >"$T/bin/kysoctl" <<EOS
#!/usr/bin/env bash
if [[ \$1 == certs && \$2 == --json ]]; then
        printf '%s\n' '[' '  {' '    "uri": "pkcs11:token=leader;object=leader;type=cert",' \
                '    "token_uri": "pkcs11:token=leader",' '    "label": "leader"' '  },' '  {' \
                '    "uri": "pkcs11:token=seal;object=seal;type=cert",' '    "token_uri": "pkcs11:token=seal"' '  }' ']'
        exit 0
fi
if [[ \$1 == trust && \$2 == list && \$3 == --json ]]; then
        printf '%s\n' '[' '  { "kind": "root", "sha256": "abcd0001", "file": "/etc/kyso/roots/a.pem" },' \
                '  { "kind": "root", "sha256": "abef0002", "file": "/etc/kyso/roots/b.pem" }' ']'
        exit 0
fi
exec "$KYSOCTL" "\$@"
EOS
chmod +x "$T/bin/kysoctl"
: >"$T/files/qd.txt"
PATH=$T/bin:$PATH
. "$KYSO_SOURCE_ROOT/shell/kysoctl.bash-completion"

# complete LINE: what _kysoctl offers at the end of LINE, split into words as readline does (':' and '='
# break words, as in bash's default COMP_WORDBREAKS), one per line, sorted.
complete_line() {
        local line=$1
        COMP_LINE=$line
        COMP_POINT=${#line}
        # readline's split: spaces separate words; ':' and '=' are words of their own.
        read -r -a COMP_WORDS <<<"$(sed -E 's/([:=])/ \1 /g' <<<"$line")"
        [[ $line == *[[:space:]] || $line == *[:=] ]] && COMP_WORDS+=("")
        COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
        COMPREPLY=()
        _kysoctl kysoctl "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
        printf '%s\n' "${COMPREPLY[@]}" | sort
}

expect_eq "commands" "$(printf '%s\n' audit certs policy sign tokens trust verify | sort)" \
        "$(complete_line "kysoctl " | grep -v '^-')"
expect_eq "a command by its start" "sign" "$(complete_line "kysoctl si")"
expect_eq "roles" "$(printf '%s\n' appendix approve copy issue personal | sort)" \
        "$(complete_line "kysoctl sign --role ")"
opts=$(complete_line "kysoctl sign --")
missing=""
for o in $("$KYSOCTL" sign --help | grep -oE -- '--[a-z][a-z-]+' | sort -u); do
        grep -qx -- "$o" <<<"$opts" || missing+=" $o"
done
expect_eq "sign options: every option of 'sign --help'" "" "$missing"
expect_eq "an option by its start" "--doc-date
--doc-date-at
--doc-number
--doc-number-at" "$(complete_line "kysoctl sign --doc-")"
expect_eq "certificate URIs, quoted for the shell" \
        'pkcs11:token=leader\;object=leader\;type=cert
pkcs11:token=seal\;object=seal\;type=cert' "$(complete_line "kysoctl sign --role approve --cert ")"
expect_eq "a URI after readline split it at ':' and '='" 'seal\;object=seal\;type=cert' \
        "$(complete_line "kysoctl sign --cert pkcs11:token=s")"
expect_eq "files after -o" "$T/files/qd.txt" "$(complete_line "kysoctl sign -o $T/files/q")"
expect_eq "files to verify" "$T/files/qd.txt" "$(complete_line "kysoctl verify $T/files/q")"
expect_eq "audit sub-commands" "$(printf '%s\n' --help report show verify | sort)" "$(complete_line "kysoctl audit ")"
expect_match "audit report options" "--month" "$(complete_line "kysoctl audit report --")"
expect_eq "report formats" "$(printf '%s\n' csv html text)" "$(complete_line "kysoctl audit report --format ")"
expect_eq "certs options, the register's among them" "$(printf '%s\n' --all --export --help --json --log \
        --organization --register | sort)" "$(complete_line "kysoctl certs --")"
expect_eq "register export formats" "$(printf '%s\n' csv html json)" "$(complete_line "kysoctl certs --export ")"
expect_eq "trust sub-commands" "$(printf '%s\n' --help add list remove | sort)" "$(complete_line "kysoctl trust ")"
expect_eq "trust remove: the fingerprints of the trust store" "abcd0001
abef0002" "$(complete_line "kysoctl trust remove ")"
expect_eq "trust add: files" "$T/files/qd.txt" "$(complete_line "kysoctl trust add $T/files/q")"
expect_eq "policy check" "check" "$(complete_line "kysoctl policy c")"
tap_done
