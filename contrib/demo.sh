#!/usr/bin/env bash
# Installs what is missing, builds, and shows kyso on two SoftHSM demo tokens.
set -euo pipefail
cd "$(dirname "$0")/.."
contrib/install-deps.sh
if [[ -d build/meson-private ]]; then meson setup --reconfigure build >/dev/null; else meson setup build >/dev/null; fi
meson compile -C build >/dev/null
echo "kyso: the agent and the demo tokens are not built yet."
exit 1
