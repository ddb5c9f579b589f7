#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Regenerate the NFQUEUE message seed corpus (corpus/nfqmsg/) with
# make-corpus-nfqmsg.c, which also prints what the worker does with each
# file (the netlink table of tests/README.md). Commit the result. Crashers
# found by the fuzzer are kept as corpus/nfqmsg/crash-* and survive a
# regeneration.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
out="$here/corpus/nfqmsg"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

${CC:-cc} -std=gnu11 -D_GNU_SOURCE -O1 -Wall -I"$top/workers" \
	"$here/make-corpus-nfqmsg.c" "$top/workers/nfqmsg.c" \
	"$top/workers/packet.c" -lnetfilter_queue -lmnl \
	-o "$tmp/make-corpus-nfqmsg"
mkdir -p "$out"
find "$out" -type f ! -name 'crash-*' -delete
"$tmp/make-corpus-nfqmsg" "$out"
echo "$(ls "$out" | wc -l) files in $out"
