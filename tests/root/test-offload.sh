#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Offload, both modes: 16 long UDP flows (500 packets each) under
# "default = offload" with [offload] depth = 8. Every packet is delivered,
# and only about flows x depth packets reach nfqe:
#   forward: NF_REPEAT with the offload mark, the generated rules save it
#            into the connmark and accept connmark'd flows before the queue;
#   raw:     nfqe's ipsets (created at start, destroyed at exit), matched
#            before the queue in raw PREROUTING.
# Bound on the packets nfqe sees: per flow, the depth, plus the packets of
# the flow that were already queued when the bypass took effect. The bypass
# is in place at the latest when the depth-th packet's verdict is sent,
# hold_ns.max after it was received; allow 20 ms more for the kernel's
# delivery to the socket (on a loaded machine the router's softirq work
# can wait that long in ksoftirqd, the packets behind it queued before
# the bypass), and one generator burst (32 frames over 16 flows: 2 packets
# of the flow back to back):
#   extra per flow <= 2 + ceil((hold_max + 20 ms) * rate / flows)
# i.e. about 21 of a flow's 500 packets; a bypass that does not work
# shows as all 500. (test-offload6 makes the counts exact instead.)
# The offload counters (stats JSON "offload", nfqectl metrics) agree with
# that: 16 flows offloaded, each counted once; every packet nfqe sees is
# below the depth (7 of each flow) or a bypass of its flow, once at the
# depth-th packet and again for each extra one; forward mode sends the
# bypasses as repeat verdicts, raw mode as two set additions each, none
# refused.
source "$(dirname "$0")/../lib.sh"
require_root
NFQECTL=$NFQE_BUILD_ROOT/engine/nfqectl
[ -x "$NFQECTL" ] || skip "nfqectl not built"
command -v ipset >/dev/null || skip "ipset not installed (Debian: ipset)"
command -v conntrack >/dev/null || skip "conntrack not installed (Debian: conntrack)"

FLOWS=16
PER_FLOW=500
N=$((FLOWS * PER_FLOW))
DEPTH=8
RATE=8000
BURST=32
SET=nfqeoff$$

lab 16
rtr() { ip netns exec "$LAB_RTR" "$@"; }
# the lab's namespaces go with lab_down, their sets with them (set_exists,
# set_entries, no_sets: lib.sh)

run_mode() {
	local mode=$1 conf=$T/nfqe-$1.conf stats=$T/stats-$1.json
	local total repeat hold extra bound k got per sock=$T/ctl-$$-$1.sock

	offload_conf "$conf" "$mode" "$stats" "$sock" "$DEPTH" "$SET"
	start_nfqe "nfqe-$mode" "$conf"
	wait_for 10 queues_bound "$LAB_RTR" 0 1 ||
		fail "$mode: queues not bound: $(cat "$T/nfqe-$mode.err")"
	if [ "$mode" = raw ]; then
		for s in 4s 4d 6s 6d; do
			wait_for 5 set_exists "$SET-$s" ||
				fail "raw: set $SET-$s not created: $(cat "$T/nfqe-$mode.err")"
		done
		ok "raw: nfqe created $SET-4s $SET-4d $SET-6s $SET-6d in the router"
	fi
	# hash by address, no fanout: a flow stays on one queue
	"$NFQE" rules -c "$conf" --no-fanout >"$T/rules-$mode"
	rtr iptables-restore --noflush <"$T/rules-$mode" ||
		fail "$mode: iptables-restore refused: $(cat "$T/rules-$mode")"

	start_sink "sink-$mode" --expect $N --timeout 60
	run_gen "gen-$mode" --flows $FLOWS --sport 2000 --count $N --rate $RATE --burst $BURST
	wait "$SINK_PID" || fail "$mode: sink did not get $N packets: $(cat "$T/sink-$mode.json" "$T/sink-$mode.err")"
	got=$(jget "$T/sink-$mode.json" .received)
	[ "$got" = $N ] || fail "$mode: sink received $got of $N"
	ok "$mode: all $N packets delivered"

	# the counters as a scraper sees them, before the stop
	"$NFQECTL" -s "$sock" metrics >"$T/metrics-$mode" || fail "$mode: nfqectl metrics"
	"$NFQECTL" -s "$sock" top --count 1 >"$T/top-$mode" || fail "$mode: nfqectl top"
	grep -q "^offloaded: .* ($mode: " "$T/top-$mode" ||
		fail "$mode: top has no offload line: $(cat "$T/top-$mode")"
	cat "$T/top-$mode"
	if [ "$mode" = raw ]; then
		for s in 4s 4d; do
			k=$(set_entries "$SET-$s")
			[ "$k" = $FLOWS ] || fail "raw: $SET-$s holds $k entries, want $FLOWS"
		done
		ok "raw: both IPv4 sets hold the $FLOWS flows"
		# the rules refer to the sets: take them out so nfqe can destroy
		lab_rules_flush
	else
		k=$(rtr conntrack -L -p udp --mark 0x40000000/0x40000000 2>/dev/null | grep -c 'dport=9 ' || true)
		[ "$k" = $FLOWS ] || fail "forward: $k conntrack entries carry the offload bit, want $FLOWS"
		ok "forward: the $FLOWS flows' connmarks carry the offload bit"
	fi
	stop_pid "$NFQE_PID"; [ "$STOP_RC" = 0 ] || fail "$mode: nfqe exit status $STOP_RC: $(cat "$T/nfqe-$mode.err")"
	[ "$mode" = raw ] && {
		no_sets || fail "raw: sets left after exit: $(rtr ipset list -n)"
		ok "raw: nfqe destroyed its sets at exit"
	}

	total=$(jget "$stats" .total.packets)
	repeat=$(jget "$stats" .total.repeat)
	hold=$(jget "$stats" .total.hold_ns.max)
	extra=$(( 2 + ((hold + 20000000) * RATE / FLOWS + 999999999) / 1000000000 ))
	bound=$(( FLOWS * (DEPTH + extra) ))
	per=$(awk -v t="$total" -v f=$FLOWS 'BEGIN { printf "%.2f", t / f }')
	echo "$mode: $total packets reached nfqe ($per per flow; depth $DEPTH," \
		"bound $bound with hold max $hold ns), repeat verdicts $repeat"
	[ "$total" -ge $((FLOWS * DEPTH)) ] || fail "$mode: only $total packets reached nfqe, want >= $((FLOWS * DEPTH))"
	[ "$total" -le "$bound" ] || fail "$mode: $total packets reached nfqe, bound $bound"
	[ "$(jget "$stats" .total.kernel.id_sequence)" = "$total" ] ||
		fail "$mode: kernel queued $(jget "$stats" .total.kernel.id_sequence), nfqe saw $total"
	if [ "$mode" = forward ]; then
		[ "$repeat" -ge $FLOWS ] || fail "forward: $repeat repeat verdicts, want >= $FLOWS"
	else
		[ "$repeat" = 0 ] || fail "raw: $repeat repeat verdicts"
	fi
	grep -q "kernel lacks CONFIG_NETFILTER_NETLINK_GLUE_CT\|kernel has CONFIG_NETFILTER_NETLINK_GLUE_CT" \
		"$T/nfqe-$mode.err" || fail "$mode: no conntrack glue probe line in the log"
	ok "$mode: $per packets per flow reached user space (depth $DEPTH, bound $((bound / FLOWS)))"
	offload_check_counters "$mode" "$stats" "$T/metrics-$mode" $FLOWS $DEPTH \
		$FLOWS $((bound - FLOWS * (DEPTH - 1)))
}

run_mode forward
lab_rules_flush
rtr conntrack -F >/dev/null 2>&1 || true
run_mode raw
