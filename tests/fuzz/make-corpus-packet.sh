#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Regenerate the packet parser's seed corpus (corpus/packet/) from the
# packets of the unit tests: test-packet.c writes every packet it parses
# through parse() when NFQE_PACKET_CORPUS names a directory. Run it after
# adding tests; commit the result. Crashers found by the fuzzer are kept
# as corpus/packet/crash-* and survive a regeneration.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
out="$here/corpus/packet"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

${CC:-cc} -std=gnu11 -D_GNU_SOURCE -O1 -I"$top/workers" \
	"$top/tests/test-packet.c" "$top/workers/packet.c" \
	-lcmocka -o "$tmp/test-packet"
mkdir -p "$out"
find "$out" -type f ! -name 'crash-*' -delete
NFQE_PACKET_CORPUS="$out" "$tmp/test-packet" >/dev/null
echo "$(ls "$out" | wc -l) files in $out"
