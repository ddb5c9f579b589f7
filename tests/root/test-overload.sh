#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# A tiny queue and a slowed decide step: with fail-open the kernel passes
# what does not fit and nothing is lost; with fail_open = no the overflow
# is dropped and every drop is counted.
source "$(dirname "$0")/../lib.sh"
require_root
N=6000

lab 8
"$NFQE" rules --queues 0:0 | ip netns exec "$LAB_RTR" iptables-restore --noflush
sink_count_init

run_case() {	# run_case NAME FAIL_OPEN
	local name=$1 fo=$2
	cat >"$T/$name.conf" <<CONF
[engine]
queues = 0:0
stats_json = $T/$name-stats.json
[control]
socket = $T/$name.sock
[queue]
queue_maxlen = 16
fail_open = $fo
[test]
decide_delay_us = 200
CONF
	start_nfqe "$name" "$T/$name.conf"
	wait_for 10 queues_bound "$LAB_RTR" 0 0 || fail "$name: queue not bound: $(cat "$T/$name.err")"
	start_sink "$name-sink" --duration 120
	local base
	base=$(sink_count)
	run_gen "$name-gen" --flows 64 --sport 5000-5007 --count $N --rate 20000
	# everything sent is now queued, delivered or dropped: wait for the
	# queue to empty, then for the sink to get what nfqe accepted plus
	# (fail-open) what the kernel passed
	wait_for 30 kqueue_empty "$LAB_RTR" 0 || fail "$name: queue never emptied"
	stop_pid "$NFQE_PID"; [ "$STOP_RC" = 0 ] || fail "$name: nfqe exit status"
	local S=$T/$name-stats.json expect
	expect=$(jget "$S" .total.accept)
	[ "$fo" = yes ] && expect=$N
	wait_for 30 sink_count_ge $((base + expect)) || true
	stop_pid "$SINK_PID"; [ "$STOP_RC" = 0 ] || fail "$name: sink exit status"
}

# packets that reached the NFQUEUE rule (its counter in the router)
rule_pkts() {
	ip netns exec "$LAB_RTR" iptables -t filter -L NFQE -v -x -n |
		awk '/NFQUEUE/ { print $1; exit }'
}

r0=$(rule_pkts)
run_case open yes
S=$T/open-stats.json
got=$(jget "$T/open-sink.json" .received)
seen=$(jget "$S" .total.packets)
[ "$got" = $N ] || fail "fail-open: sink received $got of $N"
[ "$seen" -lt $N ] || fail "fail-open: the queue never overflowed (nfqe saw $seen)"
[ "$(jget "$S" .total.kernel.queue_dropped)" = 0 ] || fail "fail-open: kernel dropped"
# the kernel counts no fail-open pass: it is the packets that reached the
# rule minus the ones it queued (id_sequence)
uninspected=$(( $(rule_pkts) - r0 - $(jget "$S" .total.kernel.id_sequence) ))
[ "$uninspected" = $((N - seen)) ] ||
	fail "fail-open: rule counter says $uninspected uninspected, nfqe saw $((N - seen)) missing"
ok "fail-open: all $N delivered; nfqe inspected $seen, $uninspected passed uninspected (rule counter - id_sequence)"

run_case closed no
S=$T/closed-stats.json
got=$(jget "$T/closed-sink.json" .received)
seen=$(jget "$S" .total.packets)
dropped=$(jget "$S" .total.kernel.queue_dropped)
udropped=$(jget "$S" .total.kernel.user_dropped)
[ "$dropped" -gt 0 ] || fail "fail-closed: no drops counted"
[ "$got" -lt $N ] || fail "fail-closed: nothing was dropped"
[ $((got + dropped + udropped)) = $N ] ||
	fail "fail-closed: delivered $got + dropped $dropped + user_dropped $udropped != $N"
[ "$seen" = "$got" ] || fail "fail-closed: nfqe verdicted $seen, sink got $got"
ok "fail-closed: $got delivered, $dropped dropped and counted by the kernel"
