#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# bench/hist.jq: the quantiles of what a hold histogram gained between two
# of nfqe's reports (nfqe-bench's per-run hold time). Hand-computed cases:
#  - the window's buckets are the end's minus the start's, a bucket the
#    start lacks counts in full, the start's only bucket drops out;
#  - rank floor(q * n), the first bucket whose running count exceeds it,
#    reported as its upper bound, capped at the end's max;
#  - no start (null): the whole end histogram; an empty window: null
#    quantiles and count 0; a window of one sample: its bucket for every q.
# root-queue-balance checks it against nfqe's own quantiles of a real run.
set -uo pipefail
command -v jq >/dev/null || { echo "SKIP: jq not installed"; exit 77; }

SRC=${NFQE_SOURCE_ROOT:-$(cd "$(dirname "$0")/.." && pwd)}
nfail=0
fail() { echo "FAIL: $*" >&2; nfail=$((nfail + 1)); }

# check NAME FROM TO WANT: window_hold(FROM; TO) must print WANT (jq -c)
check() {
	local got
	got=$(jq -nc -L "$SRC/bench" --argjson a "$2" --argjson b "$3" \
		'include "hist"; window_hold($a; $b)') || { fail "$1: jq failed"; return; }
	if [ "$got" = "$4" ]; then
		echo "ok: $1: $got"
	else
		fail "$1: got $got, want $4"
	fi
}

END='{"max":5200,"buckets":[[1000,1062,50],[2000,2124,40],[5000,5311,10]]}'
# the window: 40 in 2000..2124, 10 in 5000..5311; n 50: p50 rank 25 -> 2124,
# p99 rank 49 -> 5311 capped at max 5200, p999 the same
check "window" '{"max":1050,"buckets":[[1000,1062,50]]}' "$END" \
	'{"p50":2124,"p99":5200,"p999":5200,"count":50}'
# the start had 10 of 2000..2124 too: 30 + 10 left; p50 rank 20 -> 2124,
# p99 rank 39 -> 5200
check "partial bucket" '{"max":2100,"buckets":[[1000,1062,50],[2000,2124,10]]}' "$END" \
	'{"p50":2124,"p99":5200,"p999":5200,"count":40}'
# no start: n 100; p50 rank 50: 50 is not above it -> the next bucket, 2124;
# p99 rank 99 -> 5200
check "no start" null "$END" '{"p50":2124,"p99":5200,"p999":5200,"count":100}'
# start == end: nothing happened in the window
check "empty window" "$END" "$END" '{"p50":null,"p99":null,"p999":null,"count":0}'
# buckets out of order in the input are sorted by their upper bound
check "order" null '{"max":9000,"buckets":[[8000,8499,1],[1000,1062,3]]}' \
	'{"p50":1062,"p99":8499,"p999":8499,"count":4}'
check "one sample" null '{"max":700,"buckets":[[640,703,1]]}' \
	'{"p50":700,"p99":700,"p999":700,"count":1}'
# a report of an older nfqe (no buckets): an empty window, not an error
check "no buckets" null '{"max":700,"p99":700}' '{"p50":null,"p99":null,"p999":null,"count":0}'

[ $nfail = 0 ] || exit 1
