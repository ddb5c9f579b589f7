#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# nfqe-bench throughput --generator, on a kernel without pktgen (the
# development machines have none). Asserted:
#  - "--generator pktgen" is refused before anything is built: exit 77 (a
#    missing prerequisite, as a missing program is), a message naming the
#    option and the missing module, no JSON written, no lab namespace;
#  - a bad --generator value is an error (exit 1) that names the choices.
# On a kernel with pktgen this test skips: there is nothing to refuse, and
# a pktgen run is a benchmark's business (bench/README.md).
source "$(dirname "$0")/../lib.sh"
require_root
BENCH=$NFQE_SOURCE_ROOT/bench/nfqe-bench
source "$NFQE_SOURCE_ROOT/bench/lab.sh"
if lab_have_pktgen; then
	skip "this kernel has pktgen (/proc/net/pktgen or a module): nothing to refuse"
fi

# bench NAME ARGS...: nfqe-bench throughput in the background (its pid names
# its lab), exit status in RC, output in $T/NAME.out and $T/NAME.err
bench() {
	local name=$1 pid
	shift
	RC=0
	bash "$BENCH" throughput --build "$NFQE_BUILD_ROOT" --readers ceiling --reps 1 \
		--search-steps 1 --search-duration 0.5 --duration 0.5 \
		--json "$T/$name.json" "$@" >"$T/$name.out" 2>"$T/$name.err" &
	pid=$!
	wait "$pid" || RC=$?
	BENCH_PID=$pid
}

bench refuse --generator pktgen
[ "$RC" = 77 ] || fail "--generator pktgen: exit $RC, want 77: $(cat "$T/refuse.err")"
grep -q -- '--generator pktgen: pktgen is not in this kernel' "$T/refuse.err" ||
	fail "--generator pktgen: unclear message: $(cat "$T/refuse.err")"
[ ! -e "$T/refuse.json" ] || fail "--generator pktgen: a JSON was written"
for ns in snd rtr sink; do
	[ ! -e "/run/netns/nfqb$BENCH_PID-$ns" ] || fail "--generator pktgen: lab namespace left"
done
ok "--generator pktgen refused: $(cat "$T/refuse.err")"

bench bad --generator trafgen
[ "$RC" = 1 ] || fail "--generator trafgen: exit $RC, want 1: $(cat "$T/bad.err")"
grep -q "bad --generator 'trafgen' (auto, pktgen or nfqe-gen)" "$T/bad.err" ||
	fail "--generator trafgen: unclear message: $(cat "$T/bad.err")"
ok "--generator trafgen refused: $(cat "$T/bad.err")"
