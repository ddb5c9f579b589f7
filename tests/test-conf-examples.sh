#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Every example in conf/, and the rule set in README.md, pass nfqe --check,
# the plug-ins they name taken from this build (the examples name their
# installed path, /usr/lib/nfqe; the README their file name).
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
# the README's rule set (its plug-ins named by file name)
readme=$CONF_DIR/../README.md
awk '/^```ini$/ { f = 1; next } /^```$/ { if (f) exit } f' "$readme" |
	sed "s|^path = \([a-z-]*\.so\)$|path = $PLUGINS/\1|" >"$T/readme.conf"
grep -q '^\[rules\]' "$T/readme.conf" || { echo "FAIL: no [rules] block in $readme" >&2; exit 1; }
if ! "$NFQE" --check -c "$T/readme.conf" >"$T/out" 2>&1; then
	echo "FAIL: README.md's rule set: $(cat "$T/out")" >&2
	exit 1
fi
echo "ok: README.md's rule set"
