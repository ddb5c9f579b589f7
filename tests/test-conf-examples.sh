#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Every example in conf/ passes nfqe --check, the plug-ins it names taken
# from this build (the examples name their installed path, /usr/lib/nfqe).
set -euo pipefail
NFQE=$1 CONF_DIR=$2 PLUGINS=$3
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
n=0
for f in "$CONF_DIR"/*.conf; do
	sed "s|^path = /usr/lib/nfqe/|path = $PLUGINS/|" "$f" >"$T/$(basename "$f")"
	if ! "$NFQE" --check -c "$T/$(basename "$f")" >"$T/out" 2>&1; then
		echo "FAIL: $(basename "$f"): $(cat "$T/out")" >&2
		exit 1
	fi
	echo "ok: $(basename "$f")"
	n=$((n + 1))
done
[ "$n" -ge 4 ] || { echo "FAIL: only $n examples found in $CONF_DIR" >&2; exit 1; }
