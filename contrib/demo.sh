#!/usr/bin/env bash
# Installs what is missing, builds, and shows kyso on two SoftHSM demo eTokens: the tokens and their
# certificates as a person at the desk sees them, then a decision approved, sealed, verified, the expiry
# warning for the certificate that expires soon, the certificate register exported, and the audit log.
# Exits non-zero, naming the step, when any step goes wrong.
set -euo pipefail
cd "$(dirname "$0")/.."

contrib/install-deps.sh
if [[ -d build/meson-private ]]; then meson setup --reconfigure build >/dev/null; else meson setup build >/dev/null; fi
meson compile -C build >/dev/null

# The story, contrib/demo-story.sh, runs inside contrib/sandbox: a throw-away PKI, two SoftHSM eTokens
# ("leader", PIN 1111, and "seal", PIN 2222), a private D-Bus session bus and kysod on it, OCSP/CRL/TSA
# test servers on 127.0.0.1 and a signing policy for them; all removed at the end. The approval and PIN prompts are
# answered by a scripted pinentry (tests/agent/scripted-pinentry), so the demo runs unattended; the demo
# says so at each signature. Without it, kysod shows real pinentry prompts.
demo_tmp=$(mktemp -d "${TMPDIR:-/tmp}/kyso-demo.XXXXXX")
trap 'rm -rf -- "$demo_tmp"' EXIT
export KYSO_SANDBOX_PINENTRY=$PWD/tests/agent/scripted-pinentry
export KYSO_TEST_PINENTRY_SCRIPT=$demo_tmp/pinentry.script KYSO_TEST_PINENTRY_LOG=$demo_tmp/pinentry.log
export KYSO_DEMO_DIR=$demo_tmp
# The expiry warnings kysod asks the desktop to show, recorded by a stand-in notification service for the
# story to print; and the register's HTML export, kept after the demo for a browser.
export KYSO_SANDBOX_NOTIFICATIONS=$demo_tmp/notifications.jsonl
export KYSO_DEMO_REGISTER_HTML=${TMPDIR:-/tmp}/kyso-demo-register.html
export KYSO_DEMO_PDF_DIR=${TMPDIR:-/tmp}/kyso-demo-pdf
: >"$KYSO_TEST_PINENTRY_SCRIPT"
if ! contrib/sandbox --build build contrib/demo-story.sh; then
        echo "demo: the demo did not run to its end (the reason is above)." >&2
        exit 1
fi
