#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# A decide step that hangs (the test knob makes each packet take 1 s) must
# not stall the queue silently. watchdog = accept: within watchdog_ms the
# stuck queue is accepted, and keeps being accepted while the worker is
# stuck, so traffic flows. Every packet is verdicted once, by the worker or
# by the watchdog, and counted once: the packet in the decide step when the
# watchdog takes it comes back later and its verdict is dropped, and the
# packets still in the socket at stop are skipped, not verdicted again.
# watchdog = stop: nfqe stops, says why, exits 1.
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

# The exact account. The kernel queued each of the N packets once (its id
# sequence; nothing passed or dropped unqueued), and each got one verdict:
# from the worker (accept + drop + ..., counted when sent) or from the
# watchdog's batches (wd_accepted, what they covered). A packet counted by
# both (the one in the decide step) or verdicted twice (a kernel error)
# breaks it.
pk=$(jget "$S" .total.packets)
skip=$(jget "$S" .total.wd_skipped)
sent=$(jget "$S" '.total | .accept + .drop + .repeat + .queue_verdicts')
kid=$(jget "$S" .total.kernel.id_sequence)
klost=$(jget "$S" '.total.kernel | .queue_dropped + .user_dropped')
kerr=$(jget "$S" '.total | .kernel_errors + .send_errors')
[ "$kid" = $N ] && [ "$klost" = 0 ] ||
	fail "kernel queued $kid of $N packets, dropped $klost"
[ "$kerr" = 0 ] || fail "$kerr verdicts refused or not sent (verdicted twice?)"
[ $((sent + acc)) = "$kid" ] ||
	fail "worker sent $sent verdicts + watchdog accepted $acc != $kid queued"
# the worker read every packet in the end (drain): decided and sent, or
# left to the watchdog
[ "$pk" = $N ] && [ $((sent + skip)) = "$pk" ] ||
	fail "worker read $pk packets: $sent verdicts sent + $skip skipped"
ok "exact: $sent sent by the worker + $acc accepted by the watchdog = $kid queued;" \
	"$pk read = $sent + $skip skipped"

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
