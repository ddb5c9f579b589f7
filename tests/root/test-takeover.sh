#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Ten upgrades under steady traffic: each new nfqe takes the bound queues
# over from the running one (nfqe --takeover: the netlink sockets pass over
# the control socket with SCM_RIGHTS). Nothing is lost, nothing passes
# uninspected: the kernel queued every packet sent, and the nfqe processes
# together verdicted each of them once.
source "$(dirname "$0")/../lib.sh"
require_root
UPGRADES=10
RATE=20000
N=$((RATE * 7))

lab 16
"$NFQE" rules --queues 0:1 --no-fanout | ip netns exec "$LAB_RTR" iptables-restore --noflush

conf() {	# conf GENERATION
	cat >"$T/nfqe-$1.conf" <<CONF
[engine]
queues = 0:1
stats_json = $T/stats-$1.json
[control]
socket = $T/ctl.sock
[queue]
# a worker starved of CPU on a loaded machine must not be mistaken for a
# stuck one: the watchdog would pass packets uninspected
watchdog_ms = 0
CONF
}
queued_ge() { [ "$(kqueues_sum "$LAB_RTR" 8)" -ge "$1" ]; }

conf 0
start_nfqe nfqe-0 "$T/nfqe-0.conf"
wait_for 10 test -S "$T/ctl.sock" || fail "nfqe did not start: $(cat "$T/nfqe-0.err")"
portids=$(kqueue_row "$LAB_RTR" 0 | awk '{print $2}')-$(kqueue_row "$LAB_RTR" 1 | awk '{print $2}')

start_sink sink --expect $N --timeout 60
run_gen gen --flows 256 --sport 9000-9015 --count $N --rate $RATE &
GEN_PID=$!
PIDS+=("$GEN_PID")

prev=$NFQE_PID
for i in $(seq 1 $UPGRADES); do
	# upgrade every ~8000 queued packets, well inside the traffic
	wait_for 20 queued_ge $((i * 8000)) || fail "traffic stopped before upgrade $i"
	conf "$i"
	ip netns exec "$LAB_RTR" "$NFQE" --takeover -c "$T/nfqe-$i.conf" \
		>"$T/nfqe-$i.out" 2>"$T/nfqe-$i.err" &
	next=$!
	PIDS+=("$next")
	rc=0; wait "$prev" || rc=$?
	[ "$rc" = 0 ] || fail "upgrade $i: the old nfqe exited $rc: $(cat "$T/nfqe-$((i - 1)).err")"
	grep -q "handed queues 0:1 over" "$T/nfqe-$((i - 1)).err" ||
		fail "upgrade $i: no handover logged"
	wait_for 10 test -S "$T/ctl.sock" || fail "upgrade $i: new nfqe has no control socket: $(cat "$T/nfqe-$i.err")"
	# the control socket is up before the workers start and the line is logged
	wait_for 10 grep -q "took over queues 0:1" "$T/nfqe-$i.err" ||
		fail "upgrade $i: not a takeover: $(cat "$T/nfqe-$i.err")"
	prev=$next
done
NFQE_PID=$prev
now=$(kqueue_row "$LAB_RTR" 0 | awk '{print $2}')-$(kqueue_row "$LAB_RTR" 1 | awk '{print $2}')
[ "$now" = "$portids" ] || fail "the queues changed sockets ($portids -> $now): they were rebound"
ok "$UPGRADES takeovers, the queues kept their sockets ($portids)"

wait "$GEN_PID" || fail "generator failed"
[ "$(jget "$T/gen.json" .sent)" = $N ] || fail "generator sent $(jget "$T/gen.json" .sent) of $N"
wait "$SINK_PID" || fail "lost packets: sink got $(jget "$T/sink.json" .received) of $N"
ok "all $N packets delivered across $UPGRADES upgrades"
stop_pid "$NFQE_PID"; [ "$STOP_RC" = 0 ] || fail "last nfqe exit status $STOP_RC"

last=$T/stats-$UPGRADES.json
kseq_total=$(jget "$last" .total.kernel.id_sequence)
[ "$kseq_total" = $N ] || fail "the kernel queued $kseq_total of $N: some passed uninspected"
[ "$(jget "$last" .total.kernel.queue_dropped)" = 0 ] || fail "kernel queue drops"
[ "$(jget "$last" .total.kernel.user_dropped)" = 0 ] || fail "kernel socket drops"
verdicted=0 gap_max=0
for i in $(seq 0 $UPGRADES); do
	S=$T/stats-$i.json
	a=$(jget "$S" .total.accept)
	verdicted=$((verdicted + a))
	g=$(jget "$S" .takeover_gap_ns)
	[ "$g" -gt "$gap_max" ] && gap_max=$g
done
[ "$verdicted" = $N ] || fail "the nfqe processes verdicted $verdicted packets, expected $N"
ok "every packet verdicted exactly once; longest pause $((gap_max / 1000)) us"
