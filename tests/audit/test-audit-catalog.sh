#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Every MESSAGE_ID of audit/audit-events.h has exactly one catalog entry in systemd/kyso.catalog and vice
# versa, and journalctl accepts the catalog (when journalctl is installed).
set -euo pipefail
src=${KYSO_SOURCE_ROOT:?run through meson test}
ids=$(sed -n 's/^#define AUDIT_MESSAGE_ID_[A-Z_]* "\([0-9a-f]\{32\}\)"$/\1/p' "$src/audit/audit-events.h" | sort)
cat_ids=$(sed -n 's/^-- \([0-9a-f]\{32\}\)$/\1/p' "$src/systemd/kyso.catalog" | sort)
[ "$(echo "$ids" | wc -l)" -eq 23 ] || { echo "expected 23 message IDs in audit-events.h"; exit 1; }
[ "$ids" = "$cat_ids" ] || { echo "catalog and audit-events.h disagree:"; diff <(echo "$ids") <(echo "$cat_ids"); exit 1; }
[ "$(echo "$ids" | uniq -d)" = "" ] || { echo "duplicate IDs"; exit 1; }
if command -v journalctl >/dev/null; then
        root=$(mktemp -d)
        trap 'rm -rf "$root"' EXIT
        mkdir -p "$root/usr/lib/systemd/catalog" "$root/var/lib/systemd/catalog"
        cp "$src/systemd/kyso.catalog" "$root/usr/lib/systemd/catalog/"
        journalctl --root="$root" --update-catalog
        n=$(journalctl --root="$root" --dump-catalog | grep -c '^-- ' || true)
        [ "$n" -eq 23 ] || { echo "journalctl parsed $n entries, expected 23"; exit 1; }
fi
echo "catalog ok"
