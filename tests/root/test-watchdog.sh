#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# A decide step that hangs (the test knob makes each packet take 1 s) must
# not stall the queue silently. watchdog = accept: within watchdog_ms the
# stuck queue is accepted, and keeps being accepted while the worker is
# stuck, so traffic flows. watchdog = stop: nfqe stops, says why, exits 1.
source "$(dirname "$0")/../lib.sh"
require_root
N=1000

lab 8
"$NFQE" rules --queues 0:0 | ip netns exec "$LAB_RTR" iptables-restore --noflush

cat >"$T/accept.conf" <<CONF
[engine]
queues = 0:0
stats_json = $T/accept.json
[control]
socket = $T/accept.sock
[queue]
watchdog_ms = 200
watchdog = accept
[test]
decide_delay_us = 1000000
CONF
start_nfqe accept "$T/accept.conf"
wait_for 10 queues_bound "$LAB_RTR" 0 0 || fail "queue not bound: $(cat "$T/accept.err")"
# 1000 packets in 2 s. A worker taking 1 s per packet would pass 2 of them
# in that time; the sink must get them all within 2 s + 1 s.
start_sink sink --expect $N --timeout 3
t0=$SECONDS
run_gen gen --flows 32 --sport 8000-8003 --count $N --rate 500
wait "$SINK_PID" || fail "traffic stalled: sink got $(jget "$T/sink.json" .received) of $N"
ok "all $N delivered in $((SECONDS - t0)) s while the worker was stuck"
stop_pid "$NFQE_PID"; [ "$STOP_RC" = 0 ] || fail "nfqe exit status $STOP_RC"
S=$T/accept.json
ev=$(jget "$S" .total.wd_events)
acc=$(jget "$S" .total.wd_accepted)
[ "$ev" -gt 0 ] || fail "no watchdog event counted"
[ "$acc" -gt 0 ] || fail "no packet counted as accepted by the watchdog"
grep -q "worker stuck for 200 ms: accepting" "$T/accept.err" || fail "watchdog not logged"
ok "watchdog fired $ev times, accepted $acc packets"

cat >"$T/stop.conf" <<CONF
[engine]
queues = 0:0
[control]
socket = $T/stop.sock
[queue]
watchdog_ms = 200
watchdog = stop
[test]
decide_delay_us = 1000000
CONF
start_nfqe stop "$T/stop.conf"
wait_for 10 queues_bound "$LAB_RTR" 0 0 || fail "queue not bound"
run_gen gen2 --flows 4 --sport 8100-8103 --count 50 --rate 500
# nfqe stops by itself: wait for the queue to be unbound, bounded
queue_gone() { [ -z "$(kqueue_row "$LAB_RTR" 0)" ]; }
wait_for 10 queue_gone || fail "nfqe did not stop: $(cat "$T/stop.err")"
rc=0; wait "$NFQE_PID" || rc=$?
[ "$rc" = 1 ] || fail "exit status $rc, expected 1"
grep -q "worker stuck for 200 ms (watchdog = stop): stopping" "$T/stop.err" ||
	fail "no reason logged: $(cat "$T/stop.err")"
ok "watchdog = stop: nfqe stopped with status 1 and said why"
