#!/usr/bin/env bash
# test-kysoctl-cli.sh: kysoctl's command line without an agent: the same exit code for the same problem in
# every verb (2 for usage: a missing input file, an unknown role, an unknown option), found before any bus
# call, and every message starting with "kysoctl VERB:". Output is TAP.
set -uo pipefail

: "${KYSO_SOURCE_ROOT:?run through meson test}" "${KYSOCTL:?run through meson test}"
. "$KYSO_SOURCE_ROOT/tests/fixtures/tap.sh"
export LC_ALL=C.UTF-8
unset LANGUAGE

temp_dir cli
echo "văn bản" >"$T/qd.txt"
# A bus that is not there: a check that needed the agent would fail with "session bus", exit 3.
export DBUS_SESSION_BUS_ADDRESS="unix:path=$T/no-bus"

kysoctl_stderr() { "$KYSOCTL" "$@" 2>&1 >/dev/null; }
check() { # DESC EXIT REGEX ARGS...: kysoctl ARGS exits with EXIT, its stderr matching REGEX
        expect_exit "$1" "$2" "$3" kysoctl_stderr "${@:4}"
}

check "sign: a missing input is a usage error" 2 "^kysoctl sign: cannot open $T/none.txt" \
        sign --role approve --cert pkcs11:x "$T/none.txt" -o "$T/out.p7s"
check "sign --batch: a missing input is a usage error" 2 "^kysoctl sign: cannot open $T/none.txt" \
        sign --batch --role approve --cert pkcs11:x "$T/qd.txt" "$T/none.txt"
check "sign: a missing leader's signature file is a usage error" 2 "^kysoctl sign: cannot open $T/none.p7s" \
        sign --role issue --cert pkcs11:x --existing-signature "$T/none.p7s" "$T/qd.txt" -o "$T/out.p7s"
check "verify: a missing input is a usage error" 2 "^kysoctl verify: Cannot open $T/none.txt" verify "$T/none.txt"
echo "not a signature" >"$T/qd.txt.p7s"
check "verify of a signature alone: says to name the document first" 2 \
        "^kysoctl verify: $T/qd\.txt\.p7s looks like a signature: name the signed document first \(kysoctl verify DOCUMENT $T/qd\.txt\.p7s\)" \
        verify "$T/qd.txt.p7s"
rm "$T/qd.txt.p7s"
check "verify: a missing signature file is a usage error" 2 "^kysoctl verify: Cannot open the signature" \
        verify "$T/qd.txt" "$T/none.p7s"
printf '%%PDF-1.4\n%%EOF\n' >"$T/doc.pdf"
# PDFs are signed by the agent since issue 10: kysoctl hands one over like any document (no bus here).
check "sign: a PDF goes to the agent like any document: 3 without a bus" 3 "^kysoctl sign: cannot reach the session bus" \
        sign --role approve --cert pkcs11:x "$T/doc.pdf" -o "$T/out.pdf"
check "verify: a PDF (not supported yet) is refused alike: 1" 1 "^kysoctl verify: .*PDF" verify "$T/doc.pdf"
# An output that cannot be made is the command line's mistake, found before the agent is asked: a folder
# would be found only once the document is signed (its signature then lost), a missing folder is said with
# what to do.
mkdir "$T/adir"
check "sign: an output that is a folder is a usage error, found before any bus call" 2 \
        "^kysoctl sign: the output $T/adir is a folder; nothing was signed\. Give the signature's file name" \
        sign --role approve --cert pkcs11:x "$T/qd.txt" -o "$T/adir"
expect_eq "  ... and nothing is written beside it" "" "$(find "$T" -maxdepth 1 -name 'adir.*' -printf '%f ')"
# An output that is not a regular file is never replaced: as root, /dev/null itself was renamed over with the
# signature (a regular file, for everybody), and a FIFO or a socket the same.
mkfifo "$T/fifo"
check "sign: an output that is a FIFO is a usage error, found before any bus call" 2 \
        "^kysoctl sign: the output $T/fifo is not a regular file; nothing was signed\." \
        sign --role approve --cert pkcs11:x "$T/qd.txt" -o "$T/fifo"
check "sign: /dev/null as the output: the same" 2 "^kysoctl sign: the output /dev/null is not a regular file" \
        sign --role approve --cert pkcs11:x "$T/qd.txt" -o /dev/null
expect "  ... /dev/null is still the device" test -c /dev/null
# /dev/stdout on a pipe names no file realpath() can resolve (pipe:[N]): the symbolic link itself was renamed
# over.
expect_exit "sign: /dev/stdout on a pipe as the output: the same" 2 \
        "^kysoctl sign: the output /dev/stdout is not a regular file" \
        "$KYSOCTL" sign --role approve --cert pkcs11:x "$T/qd.txt" -o /dev/stdout
# The image drawn is read to sign, as the document is: an output that is it would replace the person's
# signature image with the signature.
echo "ảnh" >"$T/chu-ky.png"
check "sign: an output that is the --image is refused before any bus call" 2 \
        "^kysoctl sign: the output $T/chu-ky\.png is the same file as $T/chu-ky\.png, which is read to sign; nothing was signed" \
        sign --role approve --cert pkcs11:x --image "$T/chu-ky.png" "$T/doc.pdf" -o "$T/chu-ky.png"
check "sign: an output in a missing folder is a usage error that says what to do" 2 \
        "^kysoctl sign: cannot create $T/none/out\.p7s: No such file or directory; nothing was signed\. Check" \
        sign --role approve --cert pkcs11:x "$T/qd.txt" -o "$T/none/out.p7s"
# A folder named as a document or a signature cannot be opened as one: a usage error, as a missing file is.
check "sign: a folder as the document is a usage error, found before any bus call" 2 \
        "^kysoctl sign: cannot open $T/adir: Is a directory" sign --role approve --cert pkcs11:x "$T/adir" -o "$T/out.p7s"
check "sign: a folder as the leader's signature is a usage error" 2 "^kysoctl sign: cannot open $T/adir: Is a directory" \
        sign --role issue --cert pkcs11:x --existing-signature "$T/adir" "$T/qd.txt" -o "$T/out.p7s"
check "verify: a folder as the document is a usage error" 2 "^kysoctl verify: Cannot open $T/adir: Is a directory" \
        verify "$T/adir" "$T/qd.txt"
check "verify: a folder as the signature is a usage error" 2 \
        "^kysoctl verify: Cannot open the signature $T/adir: Is a directory" verify "$T/qd.txt" "$T/adir"
check "certs --all --register naming a missing file: a usage error" 2 \
        "^kysoctl certs: cannot read the certificate register $T/none\.json: No such file or directory" \
        certs --all --register "$T/none.json"
check "certs --export --log naming a missing file: a usage error" 2 \
        "^kysoctl certs: cannot read the audit log $T/none\.jsonl: No such file or directory" \
        certs --export csv --log "$T/none.jsonl"
check "certs --export --log naming a file that is not an audit log: said, not an empty register" 3 \
        "^kysoctl certs: cannot read the audit log $T/qd\.txt: not an audit log" certs --export csv --log "$T/qd.txt"
# Two outputs asked for at once: neither is silently dropped.
echo '{"version": 1, "certificates": []}' >"$T/register.json"
check "certs --export csv --json: a usage error naming both" 2 "^kysoctl certs: --export csv and --json exclude each other" \
        certs --export csv --json --register "$T/register.json"
check "certs --json --export html: the same" 2 "^kysoctl certs: --export html and --json exclude each other" \
        certs --json --export html --register "$T/register.json"
check "certs --export csv --export html: a usage error naming both" 2 \
        "^kysoctl certs: --export csv and --export html exclude each other" \
        certs --export csv --export html --register "$T/register.json"
# A detached signature (any document but a PDF, or a PDF issued over the leader's detached signature) is not
# a PDF: an output named .pdf would look like the signed document to the clerk.
check "sign: a detached signature of a PDF issued over a .p7s named .pdf: a usage error" 2 \
        "^kysoctl sign: the output $T/out\.pdf would be a detached signature, not a PDF; nothing was signed\. Name it \.p7s" \
        sign --role issue --cert pkcs11:x --existing-signature "$T/qd.txt" "$T/doc.pdf" -o "$T/out.pdf"
check "sign: a detached signature of a text named .PDF: the same" 2 \
        "^kysoctl sign: the output $T/qd\.PDF would be a detached signature, not a PDF" \
        sign --role approve --cert pkcs11:x "$T/qd.txt" -o "$T/qd.PDF"
expect "  ... and nothing written" test ! -e "$T/out.pdf" -a ! -e "$T/qd.PDF"
# A full disk is no mistake of the command line: exit 3, and the message says to free space (root only: a
# tmpfs whose inodes are all used, where the temporary output cannot be made).
mkdir "$T/full"
if mount -t tmpfs -o size=64k,nr_inodes=2 tmpfs "$T/full" 2>/dev/null; then
        trap 'umount "$T/full" 2>/dev/null; rm -rf -- "$T"' EXIT
        touch "$T/full/a" "$T/full/b" 2>/dev/null
        check "sign: an output on a full disk: exit 3, with what to do" 3 \
                "^kysoctl sign: cannot create $T/full/out\.p7s: No space left on device; nothing was signed\. Free some space" \
                sign --role approve --cert pkcs11:x "$T/qd.txt" -o "$T/full/out.p7s"
        umount "$T/full"
else
        ok "sign: an output on a full disk: exit 3, with what to do # SKIP cannot mount a tmpfs (not root)"
fi
check "sign: an unknown --level is a usage error, found before any bus call" 2 \
        "^kysoctl sign: --level is B-B, B-T or B-LT, not 'B-X'\.$" \
        sign --role approve --cert pkcs11:x --level B-X "$T/qd.txt" -o "$T/out.p7s"
check "sign: an unknown role is found by kysoctl, before any bus call" 2 \
        "^kysoctl sign: unknown role 'boss'\. The roles are approve, issue, copy, appendix and personal\.$" \
        sign --role boss --cert pkcs11:x "$T/qd.txt" -o "$T/out.p7s"
for verb in tokens certs sign verify "audit show" "audit report" policy; do
        # shellcheck disable=SC2086
        check "$verb: an unknown option is a usage error named after the command" 2 \
                "^kysoctl $verb: unrecognized option '--frob'" $verb --frob
done
# An audit command's own messages name it too (a missing log stays exit 1, as test-kysoctl-audit checks).
for args in "audit show" "audit verify" "audit report --month 2026-11"; do
        # shellcheck disable=SC2086
        check "${args% --*}: a missing audit log, the message named after the command" 1 \
                "^kysoctl ${args% --*}: there is no audit log at $T/none\.jsonl" $args --log "$T/none.jsonl"
done
# A policy named with --policy that cannot be loaded: a usage error in every verb that takes one, its
# problems said as the verb's.
check "verify --policy naming a missing file: a usage error, the problem named after the command" 2 \
        "^kysoctl verify: $T/none\.conf: no policy file here" verify --policy "$T/none.conf" "$T/qd.txt" "$T/qd.txt"
check "audit report --policy naming a missing file: the same" 2 \
        "^kysoctl audit report: $T/none\.conf: no policy file here" \
        audit report --month 2026-11 --policy "$T/none.conf" --log "$T/none.jsonl"
KYSO_POLICY=$T/none.conf check "trust list with a missing policy: its problem named after the command" 1 \
        "^kysoctl trust: $T/none\.conf: no policy file here" trust list
# The default policy missing: said as missing, not as "invalid" (the file is not there to be checked).
KYSO_POLICY=$T/none.conf check "verify with the default policy missing: said to be missing" 3 \
        "^kysoctl verify: Cannot verify: the policy $T/none\.conf cannot be used \(there is no such file\)\." \
        verify "$T/qd.txt" "$T/qd.txt"
# A command line that is wrong is said on stderr, what was wrong, not only the help shown.
check "verify without FILE: said" 2 "^kysoctl verify: give the FILE to verify" verify
check "verify with three files: said" 2 "^kysoctl verify: unexpected argument '$T/c'" verify "$T/a" "$T/b" "$T/c"
check "trust without a command: said" 2 "^kysoctl trust: give a command: list, add FILE or remove FINGERPRINT" trust
check "trust with an unknown command: said" 2 "^kysoctl trust: unknown command 'show'" trust show
check "trust add without FILE: said" 2 "^kysoctl trust: wrong arguments for 'add'" trust add
check "policy without a command: said" 2 "^kysoctl policy: give the command: check" policy
check "policy with an unknown command: said" 2 "^kysoctl policy: unknown command 'frob'" policy frob
check "policy check with two files: said" 2 "^kysoctl policy: unexpected argument '$T/b'" policy check "$T/a" "$T/b"
check "an unknown command is a usage error" 2 "^kysoctl: unknown command 'frob'" frob
check "tokens without a bus: an internal error, named after the command" 3 "^kysoctl tokens: " tokens
check "certs without a bus: an internal error, named after the command" 3 "^kysoctl certs: " certs
check "sign without a bus (inputs fine): an internal error" 3 "^kysoctl sign: cannot reach the session bus" \
        sign --role approve --cert pkcs11:x "$T/qd.txt" -o "$T/out.p7s"
# Places are PDF points with a '.' whatever the locale: in vi_VN the decimal separator is ',', which would
# read "1,300,150" as 1 and 300.150.
for l in C.UTF-8 vi_VN.UTF-8; do
        LC_ALL=$l check "sign --visible and --doc-number-at with fractions under $l: read, then no bus" 3 \
                "^kysoctl sign: (cannot reach the session bus|không kết nối được bus phiên)" \
                sign --role issue --cert pkcs11:x --doc-number 7/QĐ-UBND --doc-number-at 1,72.5,770,200,20.5 \
                --visible 1,300,150.25,240,80 "$T/doc.pdf" -o "$T/out.pdf"
done
expect "sign --help lists --verbose" bash -c '"$KYSOCTL" sign --help | grep -q -- "--verbose"'

# kysoctl(1): every option of `sign --help` in the synopsis, the commands listed, no warning at 80 columns.
MAN=$KYSO_SOURCE_ROOT/man/kysoctl.1
synopsis=$(sed -n '/^\.SH SYNOPSIS/,/^\.SH /p' "$MAN" | sed 's/\\-/-/g')
missing=""
for o in $("$KYSOCTL" sign --help | grep -oE -- '--[a-z][a-z-]+' | sort -u); do
        grep -qF -- "$o" <<<"$synopsis" || missing+=" $o"
done
expect_eq "kysoctl(1): the synopsis lists every option of 'sign --help'" "" "$missing"
for o in reason doc-number doc-date; do
        expect "kysoctl(1) explains --$o" grep -q "^\.BI \\\\-\\\\-${o//-/\\\\-} " "$MAN"
done
for c in verify audit policy; do
        expect "kysoctl(1) lists $c under COMMANDS" \
                bash -c "sed -n '/^\.SH COMMANDS/,/^\.SH /p' '$MAN' | grep -q '^\.B[IR]\? *\"\?$c'"
done
if command -v groff >/dev/null; then
        expect_eq "kysoctl(1) renders without warnings at 80 columns" "" \
                "$(groff -t -man -Tutf8 -ww -rLL=80n "$MAN" 2>&1 >/dev/null)"
else
        ok "kysoctl(1) renders without warnings # SKIP groff not installed"
fi
expect_eq "kysod.conf(5)'s example module path is the README's" \
        "$(grep -o 'module = /[^ `]*' "$KYSO_SOURCE_ROOT/README.md" | head -1)" \
        "$(grep -o '^module = /.*' "$KYSO_SOURCE_ROOT/man/kysod.conf.5" | head -1)"
tap_done
