# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash
#
# The nfqe netns lab: three network namespaces joined by two veth pairs.
#
#   ${PREFIX}-snd               ${PREFIX}-rtr                ${PREFIX}-sink
#   snd0 10.200.1.2  ---------  rtr-in 10.200.1.1
#        10.200.1.10..          rtr-out 10.200.2.1 --------  sink0 10.200.2.2
#
# Source this file from bash, then:
#   lab_up PREFIX [NSRC]       build the lab; NSRC extra sender addresses
#                              10.200.1.10 .. (default 16, at most 200)
#   lab_down                   remove the namespaces (idempotent, trap-safe)
#   lab_nfqueue_rules SPEC [TABLE/CHAIN]
#                              NFQUEUE rule in the router (SPEC: N or A:B)
#   lab_rules_flush            remove every iptables rule from the router
#                              (filter, raw, mangle: the NAT rule stays)
#   lab_nat MODE               source NAT in the router: none, masq or
#                              masq-random-fully (MASQUERADE on rtr-out)
#   lab_sink_blackhole [PROTO...]
#                              drop udp/tcp/icmp (default all three) in the
#                              sink's raw PREROUTING: nothing is answered
#   lab_sink_rx                rx_packets of the sink's interface
#   lab_rtr_rx                 rx_packets of the router's ingress interface
#   lab_ct_stats NS            summed /proc/net/stat/nf_conntrack columns
#   lab_kqueue_rows            /proc/net/netfilter/nfnetlink_queue of the router
#   lab_queues_bound A B       true when queues A..B are bound in the router
#   lab_have_pktgen            true when the kernel has pktgen
#   lab_sysctl NS KEY=VALUE... write sysctls (net/ipv4/ip_forward=1) inside NS only
# Environment: LAB_RPS=CPUMASK sets RPS on the router's ingress rx queue;
# LAB_NAT=MODE runs lab_nat MODE at the end of lab_up;
# NFQE=path makes lab_nfqueue_rules load the rules that "nfqe rules" prints.
#
# Every command that changes a firewall or a sysctl runs inside one of the
# lab's namespaces, never in the caller's. Run "bash lab.sh selftest" to
# check the lab: it builds it, pings the sink from the sender, removes it.
#
# Static neighbour entries mean no ARP is ever needed, and rp_filter is off
# everywhere because the generator's sources are many addresses. IPv6 is
# disabled in the lab so that no stray packet (DAD, MLD, RS) reaches the
# sink's counters. Frames built by nfqe-gen carry a valid IPv4 header
# checksum and a zero (absent) UDP checksum, so no offload setting matters.

LAB_NET_SND=10.200.1
LAB_NET_SINK=10.200.2
LAB_MAC_SND=02:6e:66:01:00:02
LAB_MAC_RTR_IN=02:6e:66:01:00:01
LAB_MAC_RTR_OUT=02:6e:66:02:00:01
LAB_MAC_SINK=02:6e:66:02:00:02

_lab_err() { echo "lab: $*" >&2; return 1; }

# lab_sysctl NS KEY=VALUE...: write sysctls inside namespace NS only.
lab_sysctl() {
	local ns=$1 kv script=
	shift
	for kv in "$@"; do
		script+="echo ${kv#*=} > /proc/sys/${kv%%=*}; "
	done
	ip netns exec "$ns" sh -c "$script"
}

# _lab_wait_up NS IF: poll (bounded, 5 s) until the link has its carrier.
_lab_wait_up() {
	local i
	for ((i = 0; i < 250; i++)); do
		ip -n "$1" -o link show dev "$2" 2>/dev/null | grep -q LOWER_UP && return 0
		sleep 0.02
	done
	_lab_err "$2 in $1 did not come up"
}

lab_up() {
	local prefix=${1:?lab_up PREFIX [NSRC]} nsrc=${2:-16} ns i batch

	[[ $nsrc =~ ^[0-9]+$ ]] && ((nsrc >= 1 && nsrc <= 200)) ||
		{ _lab_err "NSRC must be 1..200"; return 1; }
	# someone else's namespaces: refuse, and leave LAB_PREFIX unset so
	# that a trap's lab_down cannot remove them
	for ns in "$prefix-snd" "$prefix-rtr" "$prefix-sink"; do
		if [ -e "/run/netns/$ns" ]; then
			_lab_err "namespace $ns already exists"
			return 1
		fi
	done
	LAB_PREFIX=$prefix
	LAB_SND=$prefix-snd
	LAB_RTR=$prefix-rtr
	LAB_SINK=$prefix-sink
	LAB_SND_IF=snd0
	LAB_RTR_IN=rtr-in
	LAB_RTR_OUT=rtr-out
	LAB_SINK_IF=sink0
	LAB_RTR_IN_MAC=$LAB_MAC_RTR_IN
	LAB_SND_ADDR=$LAB_NET_SND.2
	LAB_SINK_ADDR=$LAB_NET_SINK.2
	LAB_SRC_FIRST=$LAB_NET_SND.10
	LAB_SRC_LAST=$LAB_NET_SND.$((10 + nsrc - 1))
	LAB_NSRC=$nsrc
	export LAB_PREFIX LAB_SND LAB_RTR LAB_SINK LAB_SND_IF LAB_RTR_IN \
		LAB_RTR_OUT LAB_SINK_IF LAB_RTR_IN_MAC LAB_SND_ADDR \
		LAB_SINK_ADDR LAB_SRC_FIRST LAB_SRC_LAST LAB_NSRC

	for ns in "$LAB_SND" "$LAB_RTR" "$LAB_SINK"; do
		ip netns add "$ns" || { lab_down; return 1; }
		lab_sysctl "$ns" \
			net/ipv6/conf/all/disable_ipv6=1 \
			net/ipv6/conf/default/disable_ipv6=1 \
			net/ipv4/conf/all/rp_filter=0 \
			net/ipv4/conf/default/rp_filter=0 || { lab_down; return 1; }
		ip -n "$ns" link set lo up
	done
	lab_sysctl "$LAB_RTR" net/ipv4/ip_forward=1 || { lab_down; return 1; }

	# Both ends are created inside the namespaces: no name ever exists
	# in the caller's namespace, so parallel labs cannot collide.
	if ! ip -n "$LAB_SND" link add "$LAB_SND_IF" address $LAB_MAC_SND type veth \
		peer name "$LAB_RTR_IN" address $LAB_MAC_RTR_IN netns "$LAB_RTR" ||
	   ! ip -n "$LAB_RTR" link add "$LAB_RTR_OUT" address $LAB_MAC_RTR_OUT type veth \
		peer name "$LAB_SINK_IF" address $LAB_MAC_SINK netns "$LAB_SINK"; then
		lab_down
		return 1
	fi

	batch="addr add $LAB_NET_SND.2/24 dev $LAB_SND_IF"$'\n'
	for ((i = 10; i < 10 + nsrc; i++)); do
		batch+="addr add $LAB_NET_SND.$i/24 dev $LAB_SND_IF"$'\n'
	done
	batch+="link set $LAB_SND_IF up"$'\n'
	batch+="route add default via $LAB_NET_SND.1"$'\n'
	batch+="neigh replace $LAB_NET_SND.1 lladdr $LAB_MAC_RTR_IN nud permanent dev $LAB_SND_IF"$'\n'
	ip -n "$LAB_SND" -batch - <<<"$batch" || { lab_down; return 1; }

	batch="addr add $LAB_NET_SND.1/24 dev $LAB_RTR_IN"$'\n'
	batch+="addr add $LAB_NET_SINK.1/24 dev $LAB_RTR_OUT"$'\n'
	batch+="link set $LAB_RTR_IN up"$'\n'
	batch+="link set $LAB_RTR_OUT up"$'\n'
	batch+="neigh replace $LAB_NET_SND.2 lladdr $LAB_MAC_SND nud permanent dev $LAB_RTR_IN"$'\n'
	for ((i = 10; i < 10 + nsrc; i++)); do
		batch+="neigh replace $LAB_NET_SND.$i lladdr $LAB_MAC_SND nud permanent dev $LAB_RTR_IN"$'\n'
	done
	batch+="neigh replace $LAB_NET_SINK.2 lladdr $LAB_MAC_SINK nud permanent dev $LAB_RTR_OUT"$'\n'
	ip -n "$LAB_RTR" -batch - <<<"$batch" || { lab_down; return 1; }

	batch="addr add $LAB_NET_SINK.2/24 dev $LAB_SINK_IF"$'\n'
	batch+="link set $LAB_SINK_IF up"$'\n'
	batch+="route add default via $LAB_NET_SINK.1"$'\n'
	batch+="neigh replace $LAB_NET_SINK.1 lladdr $LAB_MAC_RTR_OUT nud permanent dev $LAB_SINK_IF"$'\n'
	ip -n "$LAB_SINK" -batch - <<<"$batch" || { lab_down; return 1; }

	_lab_wait_up "$LAB_SND" "$LAB_SND_IF" &&
		_lab_wait_up "$LAB_RTR" "$LAB_RTR_IN" &&
		_lab_wait_up "$LAB_RTR" "$LAB_RTR_OUT" &&
		_lab_wait_up "$LAB_SINK" "$LAB_SINK_IF" || { lab_down; return 1; }

	if [ -n "${LAB_RPS:-}" ]; then
		ip netns exec "$LAB_RTR" sh -c \
			"echo $LAB_RPS > /sys/class/net/$LAB_RTR_IN/queues/rx-0/rps_cpus" ||
			{ lab_down; return 1; }
	fi
	if [ -n "${LAB_NAT:-}" ]; then
		lab_nat "$LAB_NAT" || { lab_down; return 1; }
	fi
	echo "lab: $LAB_SND ($LAB_SRC_FIRST-$LAB_SRC_LAST) -> $LAB_RTR -> $LAB_SINK ($LAB_SINK_ADDR)"
}

lab_down() {
	local ns
	[ -n "${LAB_PREFIX:-}" ] || return 0
	for ns in "$LAB_PREFIX-snd" "$LAB_PREFIX-rtr" "$LAB_PREFIX-sink"; do
		if [ -e "/run/netns/$ns" ]; then
			ip netns del "$ns" 2>/dev/null || true
		fi
	done
	return 0
}

# lab_nfqueue_rules SPEC [TABLE/CHAIN]: SPEC is one queue N or a range A:B.
lab_nfqueue_rules() {
	local spec=${1:?lab_nfqueue_rules N|A:B [TABLE/CHAIN]} where=${2:-filter/FORWARD}
	local table=${where%%/*} chain=${where#*/} first last mode target

	if [[ $spec =~ ^([0-9]+):([0-9]+)$ ]]; then
		first=${BASH_REMATCH[1]}
		last=${BASH_REMATCH[2]}
	elif [[ $spec =~ ^[0-9]+$ ]]; then
		first=$spec
		last=$spec
	else
		_lab_err "bad queue spec '$spec'"
		return 1
	fi
	mode=forward
	[ "$table" = raw ] && mode=raw
	if [ -n "${NFQE:-}" ] && [[ $where = filter/FORWARD || $where = raw/PREROUTING ]] &&
	   "$NFQE" rules --help >/dev/null 2>&1; then
		"$NFQE" rules --queues "$first:$last" --mode "$mode" |
			ip netns exec "$LAB_RTR" iptables-restore --noflush
		return
	fi
	if [ "$first" = "$last" ]; then
		target="--queue-num $first --queue-bypass"
	else
		target="--queue-balance $first:$last --queue-bypass --queue-cpu-fanout"
	fi
	# shellcheck disable=SC2086
	ip netns exec "$LAB_RTR" iptables -t "$table" -A "$chain" -j NFQUEUE $target
}

# lab_nat MODE: the router's nat POSTROUTING holds nothing (none) or one
# MASQUERADE rule on rtr-out (masq), with --random-fully (masq-random-fully:
# every new flow gets a random source port, even when its own is free).
# Replaces what an earlier call set; lab_rules_flush leaves it alone.
lab_nat() {
	local mode=${1:?lab_nat none|masq|masq-random-fully} extra=''

	case $mode in
	none|masq) ;;
	masq-random-fully) extra=--random-fully ;;
	*) _lab_err "bad NAT mode '$mode' (none, masq, masq-random-fully)"; return 1 ;;
	esac
	ip netns exec "$LAB_RTR" iptables -t nat -F POSTROUTING || return 1
	[ "$mode" = none ] && return 0
	# shellcheck disable=SC2086
	ip netns exec "$LAB_RTR" iptables -t nat -A POSTROUTING -o "$LAB_RTR_OUT" \
		-j MASQUERADE $extra
}

# lab_sink_blackhole [PROTO...]: the sink's raw PREROUTING drops these
# protocols (default udp tcp icmp). An AF_PACKET capture (nfqe-sink
# --capture) still sees every packet: packet taps run before netfilter.
# Without it the sink's stack answers a SYN with a RST and an echo request
# with a reply, and the answers travel back through the router's conntrack.
lab_sink_blackhole() {
	local p

	[ $# -gt 0 ] || set -- udp tcp icmp
	for p in "$@"; do
		ip netns exec "$LAB_SINK" iptables -t raw -A PREROUTING -i "$LAB_SINK_IF" \
			-p "$p" -j DROP || return 1
	done
}

lab_rules_flush() {
	local t
	for t in filter raw mangle; do
		ip netns exec "$LAB_RTR" iptables -t "$t" -F 2>/dev/null || true
		ip netns exec "$LAB_RTR" iptables -t "$t" -X 2>/dev/null || true
	done
}

lab_sink_rx() {
	ip netns exec "$LAB_SINK" cat "/sys/class/net/$LAB_SINK_IF/statistics/rx_packets"
}

lab_rtr_rx() {
	ip netns exec "$LAB_RTR" cat "/sys/class/net/$LAB_RTR_IN/statistics/rx_packets"
}

# lab_ct_stats NS: "clashres=N insert_failed=N drop=N early_drop=N", every
# per-CPU row summed; a column this kernel lacks (or no conntrack) reads 0.
lab_ct_stats() {
	local ns=${1:?lab_ct_stats NS} header i key out=''
	local -a names cols
	local -A sum=()

	{
		read -r header || true
		read -ra names <<<"$header"
		while read -ra cols; do
			for i in "${!names[@]}"; do
				[ -n "${cols[i]:-}" ] || continue
				sum[${names[i]}]=$(( ${sum[${names[i]}]:-0} + 16#${cols[i]} ))
			done
		done
	} < <(ip netns exec "$ns" cat /proc/net/stat/nf_conntrack 2>/dev/null)
	for key in clashres insert_failed drop early_drop; do
		out+="$key=${sum[$key]:-0} "
	done
	echo "${out% }"
}

lab_kqueue_rows() {
	ip netns exec "$LAB_RTR" cat /proc/net/netfilter/nfnetlink_queue 2>/dev/null || true
}

# lab_queues_bound A B: every queue A..B has a row (a bound reader).
lab_queues_bound() {
	local rows q
	rows=$(lab_kqueue_rows)
	for ((q = $1; q <= $2; q++)); do
		awk -v q="$q" '$1 == q { f = 1 } END { exit !f }' <<<"$rows" || return 1
	done
}

lab_have_pktgen() {
	[ -d /proc/net/pktgen ] && return 0
	command -v modprobe >/dev/null 2>&1 && modprobe -n pktgen >/dev/null 2>&1 &&
		return 0
	return 1
}

_lab_selftest() {
	local rc=0
	[ "$(id -u)" = 0 ] || { echo "lab selftest: needs root" >&2; return 77; }
	trap lab_down EXIT
	lab_up "labst$$" 4 || return 1
	if ip netns exec "$LAB_SND" ping -c 3 -W 1 -i 0.2 -q "$LAB_SINK_ADDR" >/dev/null &&
	   ip netns exec "$LAB_SND" ping -c 1 -W 1 -q -I "$LAB_SRC_LAST" \
		"$LAB_SINK_ADDR" >/dev/null; then
		echo "lab selftest: ok (sink rx_packets $(lab_sink_rx))"
	else
		echo "lab selftest: ping $LAB_SINK_ADDR failed" >&2
		rc=1
	fi
	lab_down
	for ns in "$LAB_SND" "$LAB_RTR" "$LAB_SINK"; do
		[ ! -e "/run/netns/$ns" ] || { echo "lab selftest: $ns left" >&2; rc=1; }
	done
	return $rc
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	case "${1:-}" in
	selftest) _lab_selftest; exit $? ;;
	*) echo "usage: bash lab.sh selftest   (or source it from bash)" >&2; exit 2 ;;
	esac
fi
