#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# --queue-balance 0:1 with 2 workers: 20k UDP packets from 16 source
# addresses are all delivered, both queues are used, and nfqe's counts equal
# the kernel's. The stats JSON's hold buckets give nfqe's own quantiles
# through bench/hist.jq (how nfqe-bench measures a run's hold time).
source "$(dirname "$0")/../lib.sh"
require_root
N=20000

lab 16
# hash by address (no cpu fanout): the 16 sources spread over both queues
"$NFQE" rules --queues 0:1 --mode forward --no-fanout | ip netns exec "$LAB_RTR" iptables-restore --noflush
cat >"$T/nfqe.conf" <<CONF
[engine]
queues = 0:1
stats_json = $T/stats.json
[control]
socket = $T/ctl-$$-$RANDOM.sock
CONF
start_nfqe nfqe "$T/nfqe.conf"
wait_for 10 queues_bound "$LAB_RTR" 0 1 || fail "queues not bound: $(cat "$T/nfqe.err")"

start_sink sink --expect $N --timeout 60
run_gen gen --flows 256 --sport 2000-2015 --count $N --rate 40000
wait "$SINK_PID" || fail "sink did not get $N packets: $(cat "$T/sink.json" "$T/sink.err")"
stop_pid "$NFQE_PID"; [ "$STOP_RC" = 0 ] || fail "nfqe exit status: $(cat "$T/nfqe.err")"

S=$T/stats.json
got=$(jget "$T/sink.json" .received)
[ "$got" = $N ] || fail "sink received $got of $N"
ok "sink received all $N"
total=$(jget "$S" .total.packets)
[ "$total" = $N ] || fail "nfqe saw $total packets, expected $N"
[ "$(jget "$S" .total.accept)" = $N ] || fail "not every packet accepted"
for q in 0 1; do
	p=$(jget "$S" ".queues[$q].packets")
	k=$(jget "$S" ".queues[$q].kernel.id_sequence")
	[ "$p" -gt 0 ] || fail "queue $q unused"
	[ "$p" = "$k" ] || fail "queue $q: nfqe $p != kernel id_sequence $k"
	ok "queue $q: $p packets, kernel agrees"
done
for f in queue_dropped user_dropped; do
	[ "$(jget "$S" .total.kernel.$f)" = 0 ] || fail "kernel $f not 0"
done
# the hold histogram's buckets (what nfqe-bench takes a run's quantiles
# from, bench/hist.jq) hold every sample and give nfqe's own quantiles
for h in .total ".queues[0]" ".queues[1]"; do
	got=$(jq -c -L "$NFQE_SOURCE_ROOT/bench" "include \"hist\";
		$h.hold_ns | [window_hold(null; .) | .p50, .p99, .p999, .count]" "$S")
	want=$(jq -c "$h.hold_ns | [.p50, .p99, .p999, .count]" "$S")
	[ "$got" = "$want" ] || fail "$h: hold from the buckets $got, nfqe's own $want"
done
ok "hold buckets give nfqe's own p50, p99, p999 and count, in total and per queue"
mb=$(jget "$S" .total.mean_batch)
ok "mean batch $mb, hold p99 $(jget "$S" .total.hold_ns.p99) ns"
