#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# A second nfqe on queues that are taken fails with a clear error naming
# the queue, and leaves the first one running undisturbed.
source "$(dirname "$0")/../lib.sh"
require_root

lab 4
"$NFQE" rules --queues 0:1 | ip netns exec "$LAB_RTR" iptables-restore --noflush
printf '[engine]\nqueues = 0:1\nstats_json = %s\n[control]\nsocket = %s\n' "$T/stats.json" "$T/nfqe.sock" >"$T/nfqe.conf"
start_nfqe first "$T/nfqe.conf"
wait_for 10 queues_bound "$LAB_RTR" 0 1 || fail "queues not bound"
portid=$(kqueue_row "$LAB_RTR" 0 | awk '{print $2}')

rc=0
ip netns exec "$LAB_RTR" "$NFQE" -q 1:2 2>"$T/second.err" || rc=$?
[ "$rc" = 1 ] || fail "second nfqe exit status $rc, expected 1"
grep -q "queue 1 is already bound by another process" "$T/second.err" ||
	fail "unclear error: $(cat "$T/second.err")"
ok "second nfqe: $(grep -m1 'queue 1' "$T/second.err")"
[ -z "$(kqueue_row "$LAB_RTR" 2)" ] || fail "second nfqe left queue 2 bound"
[ "$(kqueue_row "$LAB_RTR" 0 | awk '{print $2}')" = "$portid" ] || fail "queue 0 changed owner"

# the first one still passes and counts traffic
start_sink sink --expect 2000 --timeout 30
run_gen gen --flows 32 --sport 4000-4007 --count 2000 --rate 20000
wait "$SINK_PID" || fail "traffic lost after the failed start"
stop_pid "$NFQE_PID"; [ "$STOP_RC" = 0 ] || fail "first nfqe exit status"
[ "$(jget "$T/stats.json" .total.packets)" = 2000 ] || fail "first nfqe did not see the traffic"
ok "first nfqe kept working"
