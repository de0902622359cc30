#!/usr/bin/env bash
# Installs what is missing, builds, and shows kyso on two SoftHSM demo eTokens: the agent on a private
# session bus lists the tokens and their certificates, as a person at the desk would see them first.
set -euo pipefail
cd "$(dirname "$0")/.."

contrib/install-deps.sh
if [[ -d build/meson-private ]]; then meson setup --reconfigure build >/dev/null; else meson setup build >/dev/null; fi
meson compile -C build >/dev/null

# Everything below runs inside contrib/sandbox: a throw-away PKI, two SoftHSM eTokens ("leader", PIN 1111,
# and "seal", PIN 2222), a private D-Bus session bus and kysod on it; all removed at the end.
exec contrib/sandbox --build build bash -c '
bold= normal=
if [[ -t 1 ]]; then bold=$(tput bold 2>/dev/null || true) normal=$(tput sgr0 2>/dev/null || true); fi
step() { printf "\n%s== %s%s\n" "$bold" "$*" "$normal"; }

step "The eTokens the agent sees: kysoctl tokens"
cat <<TEXT
Two demo eTokens are plugged in (SoftHSM stands in for real USB eTokens): "leader", the
chairman'"'"'s personal token, and "seal", the organisation'"'"'s token kept by the clerk (văn thư).
PIN shows whether wrong PIN tries have used up the retries (the token locks after too many).
TEXT
echo
kysoctl tokens

step "The certificates on them: kysoctl certs"
cat <<TEXT
Each certificate with its token, status and expiry. "expiring" means at most 60 days are left: renew
it now (the regulation allows renewal while 60 days remain). The demo tokens also hold an expired
and a not-yet-valid certificate on purpose. For now STATUS comes from the validity dates only and KIND
is "unknown": the signing policy (issue 3) adds the chain to the trusted roots, revocation (the
"revoked" certificate) and the kinds personal, organisation and device.
TEXT
echo
kysoctl certs

step "The same for programs: kysoctl certs --json (first entry)"
kysoctl certs --json | jq ".[0]" 2>/dev/null || kysoctl certs --json | head -n 20

step "In Vietnamese: LC_ALL=vi_VN.UTF-8 kysoctl certs"
LC_ALL=vi_VN.UTF-8 kysoctl certs

printf "\nDone. Try it yourself: contrib/sandbox bash (a shell with the agent and both tokens; exit to clean up).\n"
'
