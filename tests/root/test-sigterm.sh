#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# SIGTERM in the middle of traffic loses no queued packet: nfqe verdicts
# what it holds, closes the queue (fail-open passes new packets), drains,
# unbinds (--queue-bypass passes the rest); the sink gets every packet.
source "$(dirname "$0")/../lib.sh"
require_root
N=60000

lab 16
"$NFQE" rules --queues 0:1 | ip netns exec "$LAB_RTR" iptables-restore --noflush
cat >"$T/nfqe.conf" <<CONF
[engine]
queues = 0:1
stats_json = $T/stats.json
[control]
socket = $T/ctl-$$-$RANDOM.sock
CONF
start_nfqe nfqe "$T/nfqe.conf"
wait_for 10 queues_bound "$LAB_RTR" 0 1 || fail "queues not bound"

start_sink sink --expect $N --timeout 90
run_gen gen --flows 256 --sport 3000-3015 --count $N --rate 20000 &
GEN_PID=$!
PIDS+=("$GEN_PID")

# stop nfqe once the kernel has queued 10000 packets: mid-traffic
queued() {
	local a b
	a=$(kqueue_row "$LAB_RTR" 0 | awk '{print $8}')
	b=$(kqueue_row "$LAB_RTR" 1 | awk '{print $8}')
	[ $(( ${a:-0} + ${b:-0} )) -ge 10000 ]
}
wait_for 30 queued || fail "traffic did not reach the queues"
stop_pid "$NFQE_PID"
[ "$STOP_RC" = 0 ] || fail "nfqe exit status $STOP_RC: $(cat "$T/nfqe.err")"
ok "nfqe stopped with status 0 mid-traffic"
[ -z "$(kqueue_row "$LAB_RTR" 0)$(kqueue_row "$LAB_RTR" 1)" ] || fail "queues still bound"

wait "$GEN_PID" || fail "generator failed: $(cat "$T/gen.err")"
sent=$(jget "$T/gen.json" .sent)
[ "$sent" = $N ] || fail "generator sent $sent of $N"
wait "$SINK_PID" || fail "sink got $(jget "$T/sink.json" .received) of $N"
ok "all $N packets delivered across the stop"

S=$T/stats.json
p=$(jget "$S" .total.packets)
a=$(jget "$S" .total.accept)
[ "$p" = "$a" ] || fail "nfqe received $p but verdicted $a"
[ "$p" -ge 10000 ] && [ "$p" -lt $N ] || fail "nfqe saw $p packets: not a mid-traffic stop"
[ "$(jget "$S" .total.kernel.queue_dropped)" = 0 ] || fail "kernel dropped packets"
[ "$(jget "$S" .total.kernel.user_dropped)" = 0 ] || fail "kernel user-dropped packets"
[ "$(jget "$S" .total.kernel.queue_total)" = 0 ] || fail "packets left in the kernel queue"
ok "nfqe verdicted all $p packets it received; $((N - p)) passed after the stop"
