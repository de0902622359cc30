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

# Vietnamese messages need a Vietnamese locale (tests check them with LANG=vi_VN.UTF-8).
need_locale=0
locale -a 2>/dev/null | grep -qix 'vi_VN.utf8' || need_locale=1

((${#missing[@]} == 0 && need_locale == 0)) && exit 0

if ((EUID != 0)); then
        ((${#missing[@]})) && echo "kyso: these Debian packages are missing: ${missing[*]}" >&2
        ((need_locale)) && echo "kyso: the vi_VN.UTF-8 locale is missing (locale-gen, as root)" >&2
        echo "kyso: run this script as root, or: sudo apt-get install ${missing[*]}" >&2
        exit 1
fi
if ((${#missing[@]})); then
        echo "kyso: installing ${missing[*]}" >&2
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >/dev/null
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if ((need_locale)) || ! locale -a 2>/dev/null | grep -qix 'vi_VN.utf8'; then
        echo "kyso: generating the vi_VN.UTF-8 locale" >&2
        sed -i 's/^# *\(vi_VN.UTF-8 UTF-8\)/\1/' /etc/locale.gen
        grep -q '^vi_VN.UTF-8 UTF-8' /etc/locale.gen || echo 'vi_VN.UTF-8 UTF-8' >>/etc/locale.gen
        locale-gen >/dev/null
fi
