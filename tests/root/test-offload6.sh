#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Offload over IPv6, both modes. The bench lab turns IPv6 off and nfqe-gen
# speaks IPv4 only, so this test builds its own three namespaces:
#
#   NS-snd fd00:6:1::2, ::10, ::11 --- fd00:6:1::1 NS-rtr fd00:6:2::1 --- NS-sink fd00:6:2::2
#
# (addresses only inside them, no DAD, no link-local addresses, static
# neighbours, forwarding on in the router). tests/udp-flows sends 8 UDP
# flows (2 sources x 4 ports) of 250 datagrams each to [sink]:9 under
# "default = offload" with [offload] depth = 4, in two parts: 4 rounds,
# each verdicted before the next, then (once the kernel shows all 8
# bypasses: set elements or connmarks) the other 246. No packet can be
# queued before its flow's bypass is in place, so the counts are exact,
# whatever the machine's timing.
# For forward mode (NF_REPEAT + connmark) and raw mode (nfqe's -6s/-6d
# ipsets in raw PREROUTING), it asserts:
#  - the sink gets every datagram of every flow;
#  - nfqe sees each flow's first 4 packets and no more (its flow table per
#    flow; stats JSON in total);
#  - raw: nfqe created NAME-6s/-6d as hash:ip,port,ip of family inet6, the
#    rules of "nfqe rules --ipv6" name them, -6s holds the 8 flows and -6d
#    the 2 (source, port 9, sink) elements, each flow tested in both;
#    forward: the 8 conntrack entries carry the offload bit;
#  - one flow's bypass taken away (its -6s element deleted, or its connmark
#    cleared) brings its next packet back to nfqe, which programs the
#    bypass again (element back, bit back); once it is back, the flow's
#    2 later packets are delivered and only that one reached nfqe;
#  - the counters: 8 flows offloaded (each counted once, also the renewed
#    one), 3 x 8 packets below the depth, one bypass per other packet nfqe
#    saw (8 + the renewal), in the stats JSON and nfqectl metrics.
# In raw mode ICMPv6 (the router's MLD reports) is accepted ahead of the
# queue, by rules in place before the queue's: nfqe must see the test's 8
# flows and nothing else.
source "$(dirname "$0")/../lib.sh"
# lab_sysctl (the lab itself is IPv4-only: this test builds its own)
source "$NFQE_SOURCE_ROOT/bench/lab.sh"
require_root
NFQECTL=$NFQE_BUILD_ROOT/engine/nfqectl
UDPF=$NFQE_BUILD_ROOT/tests/udp-flows
[ -x "$NFQECTL" ] || skip "nfqectl not built"
[ -x "$UDPF" ] || skip "tests/udp-flows not built"
[ -d /proc/sys/net/ipv6 ] || skip "no IPv6 in this kernel (ipv6.disable=1?)"
command -v ip6tables-restore >/dev/null || skip "ip6tables not installed"
command -v ipset >/dev/null || skip "ipset not installed (Debian: ipset)"
command -v conntrack >/dev/null || skip "conntrack not installed (Debian: conntrack)"

SOURCES=(fd00:6:1::10 fd00:6:1::11)
PORTS=4
SPORT=3000
FLOWS=$((${#SOURCES[@]} * PORTS))
PER_FLOW=250
N=$((FLOWS * PER_FLOW))
DEPTH=4
SET=nfqeoff6$$
SINK6=fd00:6:2::2
RENEW_SRC=${SOURCES[0]}	# the flow whose bypass the test takes away
RENEW_PORT=$SPORT
RENEW=3

P=nq6o$$
NS_SND=$P-snd
NS_RTR=$P-rtr
NS_SINK=$P-sink
# shellcheck disable=SC2034  # start_nfqe runs nfqe there
LAB_RTR=$NS_RTR
MAC_SND=02:6e:66:61:00:02
MAC_RTR_IN=02:6e:66:61:00:01
MAC_RTR_OUT=02:6e:66:62:00:01
MAC_SINK=02:6e:66:62:00:02

# lib.sh's cleanup calls lab_down: the namespaces this test made
NS_MADE=()
lab_down() {
	local ns
	for ns in "${NS_MADE[@]}"; do
		ip netns del "$ns" 2>/dev/null || true
	done
	NS_MADE=()
}
rtr() { ip netns exec "$NS_RTR" "$@"; }


link_up() { ip -n "$1" -o link show dev "$2" 2>/dev/null | grep -q LOWER_UP; }

topology_up() {
	local ns
	for ns in "$NS_SND" "$NS_RTR" "$NS_SINK"; do
		[ ! -e "/run/netns/$ns" ] || fail "namespace $ns already exists"
	done
	for ns in "$NS_SND" "$NS_RTR" "$NS_SINK"; do
		ip netns add "$ns" || fail "ip netns add $ns"
		NS_MADE+=("$ns")
		# before the links exist, so that they inherit "default": no
		# DAD, no router solicitations, no link-local address
		lab_sysctl "$ns" \
			net/ipv6/conf/all/disable_ipv6=0 \
			net/ipv6/conf/default/disable_ipv6=0 \
			net/ipv6/conf/all/accept_dad=0 \
			net/ipv6/conf/default/accept_dad=0 \
			net/ipv6/conf/default/dad_transmits=0 \
			net/ipv6/conf/all/accept_ra=0 \
			net/ipv6/conf/default/accept_ra=0 \
			net/ipv6/conf/default/router_solicitations=0 \
			net/ipv6/conf/default/addr_gen_mode=1 ||
			fail "IPv6 sysctls in $ns"
		ip -n "$ns" link set lo up
	done
	lab_sysctl "$NS_RTR" net/ipv6/conf/all/forwarding=1 || fail "forwarding"
	ip -n "$NS_SND" link add snd0 address $MAC_SND type veth \
		peer name rtr-in address $MAC_RTR_IN netns "$NS_RTR" || fail "veth"
	ip -n "$NS_RTR" link add rtr-out address $MAC_RTR_OUT type veth \
		peer name sink0 address $MAC_SINK netns "$NS_SINK" || fail "veth"

	ip -n "$NS_SND" -batch - <<EOF || fail "sender addresses"
addr add fd00:6:1::2/64 dev snd0 nodad
addr add ${SOURCES[0]}/64 dev snd0 nodad
addr add ${SOURCES[1]}/64 dev snd0 nodad
link set snd0 up
route add default via fd00:6:1::1 dev snd0
neigh replace fd00:6:1::1 lladdr $MAC_RTR_IN nud permanent dev snd0
EOF
	ip -n "$NS_RTR" -batch - <<EOF || fail "router addresses"
addr add fd00:6:1::1/64 dev rtr-in nodad
addr add fd00:6:2::1/64 dev rtr-out nodad
link set rtr-in up
link set rtr-out up
neigh replace fd00:6:1::2 lladdr $MAC_SND nud permanent dev rtr-in
neigh replace ${SOURCES[0]} lladdr $MAC_SND nud permanent dev rtr-in
neigh replace ${SOURCES[1]} lladdr $MAC_SND nud permanent dev rtr-in
neigh replace $SINK6 lladdr $MAC_SINK nud permanent dev rtr-out
EOF
	ip -n "$NS_SINK" -batch - <<EOF || fail "sink addresses"
addr add $SINK6/64 dev sink0 nodad
link set sink0 up
route add default via fd00:6:2::1 dev sink0
neigh replace fd00:6:2::1 lladdr $MAC_RTR_OUT nud permanent dev sink0
EOF
	wait_for 5 link_up "$NS_SND" snd0 && wait_for 5 link_up "$NS_RTR" rtr-in &&
		wait_for 5 link_up "$NS_RTR" rtr-out && wait_for 5 link_up "$NS_SINK" sink0 ||
		fail "links did not come up"
	ip netns exec "$NS_SND" ping -6 -c 1 -W 2 -I "${SOURCES[1]}" "$SINK6" >/dev/null ||
		fail "the topology does not forward IPv6: ping $SINK6 from ${SOURCES[1]}"
}

# recv NAME EXPECT: a receiver in the sink; sets RECV_PID
recv_start() {
	ip netns exec "$NS_SINK" "$UDPF" recv --bind "$SINK6" --port 9 --expect "$2" \
		--timeout 30 --ready-file "$T/$1.ready" >"$T/$1.out" 2>"$T/$1.err" &
	RECV_PID=$!
	PIDS+=("$RECV_PID")
	wait_for 10 test -e "$T/$1.ready" || fail "receiver $1 did not start: $(cat "$T/$1.err")"
}

# send NAME ARGS...: udp-flows send from the sender, rounds 100 us apart
send() {
	local name=$1
	shift
	ip netns exec "$NS_SND" "$UDPF" send --dst "$SINK6" --dport 9 --sport $SPORT \
		--pace-us 100 --timeout 60 "$@" \
		>"$T/$name.out" 2>"$T/$name.err" ||
		fail "sender $name: $(cat "$T/$name.out" "$T/$name.err")"
}

ct_marked() {
	rtr conntrack -L -f ipv6 -p udp --mark 0x40000000/0x40000000 2>/dev/null |
		grep -c "dst=$SINK6 .*dport=9 " || true
}

# bypasses MODE: how many flows the kernel bypasses now (raw: elements of
# -6s, forward: conntrack entries with the offload bit)
bypasses() {
	if [ "$1" = raw ]; then set_entries "$SET-6s"; else ct_marked; fi
}
bypasses_are() { [ "$(bypasses "$1")" = "$2" ]; }
# the router's queues queued exactly $1 packets and hold none
verdicted() { [ "$(kqueues_sum "$NS_RTR" 8)" = "$1" ] && [ "$(kqueues_sum "$NS_RTR" 3)" = 0 ]; }

rules6_flush() {
	local t
	for t in filter raw; do
		rtr ip6tables -t "$t" -F 2>/dev/null || true
		rtr ip6tables -t "$t" -X 2>/dev/null || true
	done
}

run_mode() {
	local mode=$1 conf=$T/nfqe-$1.conf stats=$T/stats-$1.json sock=$T/ctl-$$-$1.sock
	local s k got total src port line want r
	local rules=$T/rules6-$mode recv=$T/recv-$mode.out

	offload_conf "$conf" "$mode" "$stats" "$sock" "$DEPTH" "$SET"
	start_nfqe "nfqe-$mode" "$conf"
	wait_for 10 queues_bound "$NS_RTR" 0 1 ||
		fail "$mode: queues not bound: $(cat "$T/nfqe-$mode.err")"
	# hash by address, no fanout: a flow stays on one queue
	"$NFQE" rules -c "$conf" --no-fanout --ipv6 >"$rules" || fail "$mode: nfqe rules --ipv6"
	if [ "$mode" = raw ]; then
		for s in 6s 6d 4s 4d; do
			wait_for 5 set_exists "$SET-$s" ||
				fail "raw: set $SET-$s not created: $(cat "$T/nfqe-$mode.err")"
		done
		for s in 6s 6d; do
			rtr ipset list -t "$SET-$s" >"$T/head-$s"
			grep -qx 'Type: hash:ip,port,ip' "$T/head-$s" &&
				grep -q '^Header: family inet6 ' "$T/head-$s" ||
				fail "raw: $SET-$s is not an inet6 hash:ip,port,ip: $(cat "$T/head-$s")"
		done
		ok "raw: nfqe created $SET-6s and $SET-6d (hash:ip,port,ip, family inet6)"
		grep -qxF -- "-A NFQE -m set --match-set $SET-6s src,src,dst -m set --match-set $SET-6d src,dst,dst -j ACCEPT" "$rules" &&
			grep -qxF -- "-A NFQE -m set --match-set $SET-6s dst,dst,src -m set --match-set $SET-6d dst,src,src -j ACCEPT" "$rules" &&
			! grep -q -- "$SET-4" "$rules" ||
			fail "raw: nfqe rules --ipv6 does not name the -6 sets: $(cat "$rules")"
	fi
	if [ "$mode" = raw ]; then
		# before the queue rules (they append their jump): the
		# router's MLD reports must never reach the queue
		rtr ip6tables -t raw -I PREROUTING 1 -p ipv6-icmp -j ACCEPT
		rtr ip6tables -t raw -I OUTPUT 1 -p ipv6-icmp -j ACCEPT
	fi
	rtr ip6tables-restore --noflush <"$rules" ||
		fail "$mode: ip6tables-restore refused: $(cat "$rules")"

	recv_start "recv-$mode" $N
	# One round at a time, each verdicted before the next: no packet of a
	# flow enters conntrack while an earlier one of it is held in user
	# space. (Forward mode is after conntrack: such a packet would clash,
	# and a clashing packet's entry, with the mark its verdict saved, is
	# dropped for the flow's first one. That is the conntrack race raw
	# mode avoids; here it would leave a flow without its bypass until
	# its next packet, which the test only sends once all are in place.)
	for ((r = 1; r <= DEPTH; r++)); do
		send "send-$mode-$r" --src "${SOURCES[0]}" --src "${SOURCES[1]}" \
			--ports $PORTS --count 1
		wait_for 10 verdicted $((FLOWS * r)) ||
			fail "$mode: round $r: the kernel queued $(kqueues_sum "$NS_RTR" 8)" \
				"(want $((FLOWS * r))), $(kqueues_sum "$NS_RTR" 3) wait"
	done
	# the depth-th packet of each flow programs its bypass: wait for all
	# of them before the rest, so that none of the rest reaches the queue
	wait_for 10 bypasses_are "$mode" $FLOWS ||
		fail "$mode: the kernel bypasses $(bypasses "$mode") flows after $DEPTH rounds, want $FLOWS: $(cat "$T/nfqe-$mode.err")"
	send "send2-$mode" --src "${SOURCES[0]}" --src "${SOURCES[1]}" --ports $PORTS \
		--count $((PER_FLOW - DEPTH))
	wait "$RECV_PID" || fail "$mode: the sink did not get $N datagrams: $(cat "$recv" "$T/recv-$mode.err")"
	got=$(awk '$1 == "received" { print $2 }' "$recv")
	[ "$got" = $N ] || fail "$mode: the sink received $got of $N"
	for src in "${SOURCES[@]}"; do
		for ((port = SPORT; port < SPORT + PORTS; port++)); do
			k=$(awk -v a="$src" -v p=$port '$1 == "flow" && $2 == a && $3 == p { print $4 }' "$recv")
			[ "$k" = $PER_FLOW ] || fail "$mode: flow [$src]:$port delivered ${k:-0} of $PER_FLOW: $(cat "$recv")"
		done
	done
	ok "$mode: all $N datagrams delivered, $PER_FLOW in each of the $FLOWS flows"

	# while nfqe runs: the kernel's state
	if [ "$mode" = raw ]; then
		k=$(set_entries "$SET-6s")
		[ "$k" = $FLOWS ] || fail "raw: $SET-6s holds $k entries, want $FLOWS"
		k=$(set_entries "$SET-6d")
		[ "$k" = ${#SOURCES[@]} ] ||
			fail "raw: $SET-6d holds $k entries, want ${#SOURCES[@]} (source, udp:9, sink)"
		for src in "${SOURCES[@]}"; do
			for ((port = SPORT; port < SPORT + PORTS; port++)); do
				rtr ipset -q test "$SET-6s" "$src,udp:$port,$SINK6" ||
					fail "raw: $src,udp:$port,$SINK6 not in $SET-6s: $(rtr ipset list "$SET-6s")"
			done
			rtr ipset -q test "$SET-6d" "$src,udp:9,$SINK6" ||
				fail "raw: $src,udp:9,$SINK6 not in $SET-6d: $(rtr ipset list "$SET-6d")"
		done
		for s in 4s 4d; do
			[ "$(set_entries "$SET-$s")" = 0 ] || fail "raw: $SET-$s is not empty"
		done
		ok "raw: $SET-6s holds the $FLOWS flows, $SET-6d their ${#SOURCES[@]} (source, port 9, sink)"
	else
		k=$(ct_marked)
		[ "$k" = $FLOWS ] || fail "forward: $k IPv6 conntrack entries carry the offload bit, want $FLOWS"
		ok "forward: the $FLOWS flows' connmarks carry the offload bit"
	fi

	# take one flow's bypass away: its next packet reaches nfqe again
	if [ "$mode" = raw ]; then
		rtr ipset del "$SET-6s" "$RENEW_SRC,udp:$RENEW_PORT,$SINK6" ||
			fail "raw: ipset del $SET-6s $RENEW_SRC,udp:$RENEW_PORT,$SINK6"
	else
		rtr conntrack -U -f ipv6 -p udp -s "$RENEW_SRC" --sport $RENEW_PORT -m 0 \
			>/dev/null 2>&1 || fail "forward: conntrack -U: no entry for [$RENEW_SRC]:$RENEW_PORT"
		k=$(ct_marked)
		[ "$k" = $((FLOWS - 1)) ] || fail "forward: $k marked entries after clearing one, want $((FLOWS - 1))"
	fi
	recv_start "renew-$mode" $RENEW
	send "renew-$mode" --src "$RENEW_SRC" --ports 1 --count 1
	wait_for 10 bypasses_are "$mode" $FLOWS ||
		fail "$mode: the kernel bypasses $(bypasses "$mode") flows after the renewal, want $FLOWS"
	send "renew2-$mode" --src "$RENEW_SRC" --ports 1 --count $((RENEW - 1))
	wait "$RECV_PID" || fail "$mode: the sink did not get the $RENEW renewal datagrams: $(cat "$T/renew-$mode.out")"
	if [ "$mode" = raw ]; then
		rtr ipset -q test "$SET-6s" "$RENEW_SRC,udp:$RENEW_PORT,$SINK6" ||
			fail "raw: nfqe did not add [$RENEW_SRC]:$RENEW_PORT back to $SET-6s"
		[ "$(set_entries "$SET-6s")" = $FLOWS ] || fail "raw: $SET-6s holds $(set_entries "$SET-6s") entries after the renewal"
	else
		k=$(ct_marked)
		[ "$k" = $FLOWS ] || fail "forward: $k marked entries after the renewal, want $FLOWS"
	fi
	ok "$mode: a flow whose bypass was taken away came back to nfqe and got it again"

	# nfqe's flow table and metrics before the stop
	"$NFQECTL" -s "$sock" flows --top 64 >"$T/flows-$mode" || fail "$mode: nfqectl flows"
	"$NFQECTL" -s "$sock" metrics >"$T/metrics-$mode" || fail "$mode: nfqectl metrics"
	# the rules refer to the sets: out first, so nfqe can destroy them
	rules6_flush
	stop_pid "$NFQE_PID"; [ "$STOP_RC" = 0 ] || fail "$mode: nfqe exit status $STOP_RC: $(cat "$T/nfqe-$mode.err")"
	if [ "$mode" = raw ]; then
		no_sets || fail "raw: sets left after exit: $(rtr ipset list -n)"
		ok "raw: nfqe destroyed its sets at exit"
	fi

	# every packet after the depth-th was sent once its flow's bypass was
	# in place: the counts are exact
	total=$(jget "$stats" .total.packets)
	echo "$mode: $total packets reached nfqe (depth $DEPTH, $FLOWS flows, hold max $(jget "$stats" .total.hold_ns.max) ns)"
	[ "$(jget "$stats" .total.kernel.id_sequence)" = "$total" ] ||
		fail "$mode: kernel queued $(jget "$stats" .total.kernel.id_sequence), nfqe saw $total"
	# per flow first, so that a failure names the flow
	k=0
	while read -r line; do
		set -- $line
		[ "$1" = proto ] && continue
		[ "$1" = 17 ] || fail "$mode: nfqe saw a packet that is not the test's: $line"
		[[ $2 = \[fd00:6:1::1[01]\]:300[0-3] && $3 = "[$SINK6]:9" ]] ||
			fail "$mode: a flow nfqe should not have seen: $line"
		want=$DEPTH
		[ "$2" = "[$RENEW_SRC]:$RENEW_PORT" ] && want=$((DEPTH + 1))
		[ "$5" = $want ] && [ "$6" = 0 ] ||
			fail "$mode: flow $2 -> $3: nfqe saw $5 + $6 packets, want $want + 0"
		k=$((k + 1))
	done <"$T/flows-$mode"
	[ "$k" = $FLOWS ] || fail "$mode: nfqe's flow table holds $k UDP flows, want $FLOWS: $(cat "$T/flows-$mode")"
	# and the renewal's one packet
	[ "$total" = $((FLOWS * DEPTH + 1)) ] ||
		fail "$mode: $total packets reached nfqe, want $((FLOWS * DEPTH + 1)): $(cat "$T/flows-$mode")"
	ok "$mode: nfqe saw the first $DEPTH packets of each flow (and the renewal), the kernel took the rest"

	# each flow's bypass once, and the renewal's
	offload_check_counters "$mode" "$stats" "$T/metrics-$mode" $FLOWS $DEPTH \
		$((FLOWS + 1)) $((FLOWS + 1))
}

topology_up
ok "IPv6 topology: ${SOURCES[*]} -> $NS_RTR -> $SINK6"
run_mode forward
rtr conntrack -F >/dev/null 2>&1 || true
run_mode raw
