#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# --queue-balance 0:1 with 2 workers: 20k UDP packets from 16 source
# addresses are all delivered, both queues are used, and nfqe's counts equal
# the kernel's.
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
mb=$(jget "$S" .total.mean_batch)
ok "mean batch $mb, hold p99 $(jget "$S" .total.hold_ns.p99) ns"
