#!/usr/bin/env bash
# Installs the Debian packages of contrib/packages.txt that are missing. Quiet and quick when all are there.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

mapfile -t wanted < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' -e '/^$/d' "$here/packages.txt")
missing=()
for p in "${wanted[@]}"; do
        status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
        [[ $status == "install ok installed" ]] || missing+=("$p")
done
((${#missing[@]} == 0)) && exit 0

if ((EUID != 0)); then
        echo "kyso: these Debian packages are missing: ${missing[*]}" >&2
        echo "kyso: run this script as root, or: sudo apt-get install ${missing[*]}" >&2
        exit 1
fi
echo "kyso: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
