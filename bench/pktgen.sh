# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash
# SC2015: "A && B || { error; return 1; }" is meant: the error when any fails.
# SC2016: the bash -c scripts expand their own positional parameters.
# shellcheck disable=SC2015,SC2016
#
# The kernel's packet generator (net/core/pktgen.c) as a traffic source for
# nfqe-bench, in the style of the kernel's samples/pktgen: pg_ctrl,
# pg_thread and pg_set write one command to a /proc/net/pktgen file and
# check its "Result: OK:" line (samples/pktgen/functions.sh).
#
# Source this file from bash, then:
#   pktgen_have            true when /proc/net/pktgen exists (module loaded
#                          or built in; every network namespace has its own)
#   pktgen_run NS IF DST_MAC SRC_FIRST SRC_LAST DST_IP SPORT_FIRST SPORT_LAST \
#              DPORT SIZE RATE DURATION CPU
#       UDP frames of SIZE bytes (without FCS) out of IF in namespace NS to
#       DST_MAC / DST_IP:DPORT, from every address SRC_FIRST..SRC_LAST and
#       port SPORT_FIRST..SPORT_LAST (inclusive, as nfqe-gen's --src-ip A-B
#       and --sport P-Q), at RATE frames/s (0: as fast as the thread goes)
#       for DURATION seconds (at most 600), sent by the kernel thread
#       kpktgend_CPU. Prints one JSON line, read like nfqe-gen --json:
#       {"sent":N,"failed":N,"eagain":0,"seconds":x,"pps":x,"errors":N,
#        "flows":N,"size":N,"burst":N,"clone_skb":N,"generator":"pktgen"}
#       Returns 0, or 1 with a message on stderr. Bounded: DURATION plus
#       at most about 10 s; the device is always removed from the thread
#       (rem_device_all) before it returns, error paths included.
#   pg_ctrl CMD / pg_thread CPU CMD / pg_set IF CMD
#       one command to pgctrl, kpktgend_CPU or IF, in namespace $PG_NS
# Environment:
#   PKTGEN_CLONE_SKB=N (default 0) and PKTGEN_BURST=N (default 1): see
#   "clone_skb and burst" below; refused on veth.
#   PKTGEN_DRY_RUN=FILE: append every "path <- command" to FILE instead of
#   writing it (no namespace, no /proc, no root needed) and print a JSON
#   line whose "sent" is the count written: the command sequence can be
#   checked on a kernel without pktgen (tests/test-pktgen.sh does).
#   PKTGEN_DEV_KIND=KIND: the device's link kind; default what "ip -d link"
#   says (in a dry run: veth, the lab's).
#
# What pktgen_run writes, in order (the samples' order, device commands as
# named in pktgen_if_write()):
#   kpktgend_CPU  rem_device_all; add_device IF
#   IF            count: RATE x DURATION rounded up, so that a paced run ends
#                   by itself; flat out a backstop of 20 Mpps x DURATION (a
#                   killed caller cannot leave it running for long); either
#                   way "stop" ends the run after DURATION
#                 clone_skb 0, burst 1 (below)
#                 pkt_size SIZE: the frame without FCS, as nfqe-gen's --size
#                 ratep RATE/burst (frames per transmit call: delay = 1e9 /
#                   value ns), or "delay 0" flat out ("ratep 0" sets nothing)
#                 flag NO_TIMESTAMP: no clock read per frame
#                 dst_mac, dst, udp_dst_min = udp_dst_max = DPORT
#                 src_min SRC_FIRST, src_max SRC_LAST: without IPSRC_RND the
#                   address walks the range in order and wraps after
#                   src_max (inclusive), as nfqe-gen's flows walk addresses
#                 flag UDPSRC_RND, udp_src_min SPORT_FIRST, udp_src_max
#                   SPORT_LAST + 1: the port range is exclusive of its max
#                   in both of pktgen's walks; random, because two
#                   sequential walks of 16 addresses and 64 ports repeat
#                   after lcm(16, 64) = 64 tuples, while a random port
#                   under the address walk reaches all 16 x 64 (nfqe-gen's
#                   tuple set). One port: constant, no flag.
#                 (flows and flowlen are not used: a pktgen flow holds only
#                 a destination address and an IPsec SA, not a source.)
#   pgctrl        start (blocks until every device stops: run in the
#                 background), stop after DURATION
#   IF            read back: "pkts-sofar: N  errors: M" and
#                 "Result: OK: USEC(cC+dD) usec, N (SIZEbyte,Ffrags)" /
#                 "  PPSpps MMb/sec (Bbps) errors: M"
#   kpktgend_CPU  rem_device_all
# JSON: sent = pkts-sofar, the frames the driver took; failed = pktgen's
# errors, frames the driver refused (NET_XMIT_DROP: on veth the peer's
# backlog was full), dropped and never sent again; eagain = 0 (a busy queue,
# NETDEV_TX_BUSY, is retried without being counted); seconds and pps from
# the Result line (pktgen's own clock, start to stop).
#
# clone_skb and burst: clone_skb N (N > 1) sends each skb N times before
# building the next (0 and 1: once), burst N hands the same skb N times to
# the driver per call (xmit_more). Both need the device to allow a shared
# skb: pktgen_if_write() returns -ENOTSUPP
# (write error "Unknown error 524") for clone_skb > 0 without
# IFF_TX_SKB_SHARING (or in xmit_mode netif_receive) and for burst > 1
# without it in xmit_mode start_xmit (always in queue_xmit). veth_setup()
# clears IFF_TX_SKB_SHARING (veth hands the skb itself to the peer's receive
# path), so on veth this file writes clone_skb 0 and burst 1 and refuses
# other values before writing anything. On a NIC whose driver keeps the
# flag (ether_setup() sets it) PKTGEN_CLONE_SKB and PKTGEN_BURST are
# written as given; then a source address and port only change every
# clone_skb (or burst) frames, and ratep counts calls of burst frames.
#
# Written against net/core/pktgen.c (2.75), Documentation/networking/
# pktgen.rst and samples/pktgen; the development kernel has no pktgen, so
# only the dry run and an emulation of the /proc files (tests/
# test-pktgen.sh) have exercised it, never a kernel.

PG_DIR=/proc/net/pktgen
PG_NS=
PKTGEN_FLOOD_PPS_MAX=20000000

_pg_err() { echo "pktgen: $*" >&2; return 1; }

pktgen_have() { [ -d "$PG_DIR" ]; }

# _pg_cmd FILE CMD: write CMD and a newline (pgctrl drops the last byte) to
# $PG_DIR/FILE in $PG_NS, then check FILE's "Result:" line (pgctrl has
# none). A refused write leaves the previous "Result: OK:" in place, so
# the write's own status is checked first, as the samples do.
_pg_cmd() {
	local file=$PG_DIR/$1 cmd=$2 out rc=0

	if [ -n "${PKTGEN_DRY_RUN:-}" ]; then
		echo "$file <- $cmd" >>"$PKTGEN_DRY_RUN"
		return 0
	fi
	# bash, not sh: its echo names the write's errno (dash only says
	# "I/O error"), and the kernel's -ENOTSUPP reads "Unknown error 524"
	out=$(ip netns exec "$PG_NS" bash -c '
		[ -w "$1" ] || { echo "no writable $1 (device not added, or not root)"; exit 3; }
		echo "$2" >"$1" || exit 4
		[ "${1##*/}" = pgctrl ] || grep "^Result:" "$1"' bash "$file" "$cmd" 2>&1) || rc=$?
	if [ "$rc" != 0 ]; then
		case $out in
		*524*) out+=" (ENOTSUPP: the device does not allow a shared skb: clone_skb 0 and burst 1 only)" ;;
		esac
		_pg_err "$file <- $cmd: write failed: ${out//$'\n'/ }"
		return 1
	fi
	case $out in
	''|'Result: OK:'*) return 0 ;;
	esac
	_pg_err "$file <- $cmd: ${out//$'\n'/ }"
}

pg_ctrl() { _pg_cmd pgctrl "$*"; }
pg_thread() { local t=$1; shift; _pg_cmd "kpktgend_$t" "$*"; }
pg_set() { local dev=$1; shift; _pg_cmd "$dev" "$*"; }

# _pg_ip4 A: the address as a number (fails on anything but a dotted quad).
_pg_ip4() {
	local a b c d
	[[ $1 =~ ^([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})$ ]] || return 1
	a=${BASH_REMATCH[1]} b=${BASH_REMATCH[2]} c=${BASH_REMATCH[3]} d=${BASH_REMATCH[4]}
	((10#$a < 256 && 10#$b < 256 && 10#$c < 256 && 10#$d < 256)) || return 1
	echo $(( (10#$a << 24) + (10#$b << 16) + (10#$c << 8) + 10#$d ))
}

_pg_uint() { [[ $1 =~ ^[0-9]{1,10}$ ]]; }

_pg_dev_kind() {
	if [ -n "${PKTGEN_DEV_KIND:-}" ]; then
		echo "$PKTGEN_DEV_KIND"
	elif [ -n "${PKTGEN_DRY_RUN:-}" ]; then
		echo veth
	else
		# no pipe into grep -q: under the caller's pipefail, ip's SIGPIPE
		# would fail the test
		local link
		link=$(ip -n "$PG_NS" -d -o link show dev "$1" 2>/dev/null) || true
		[[ $link =~ [[:space:]]veth[[:space:]] ]] && echo veth || echo other
	fi
}

# _pg_wait_exit PID TENTHS: true once PID has exited (polled, bounded).
_pg_wait_exit() {
	local i
	for ((i = 0; i < $2; i++)); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.1
	done
	! kill -0 "$1" 2>/dev/null
}

# _pg_running CPU IF: IF is listed as running by the thread.
_pg_running() {
	local t
	t=$(ip netns exec "$PG_NS" cat "$PG_DIR/kpktgend_$1" 2>/dev/null) || return 1
	[[ $'\n'$t =~ $'\n'"Running: "([^$'\n']* )?"$2 " ]]
}

# _pg_start IF CPU DURATION: start, wait (bounded) until the device runs,
# let it run DURATION s (less when its count ends it first), stop, and
# wait for the start write to return (5 s, then it is interrupted: the
# kernel's wait loop gives up on a signal and stops every thread).
_pg_start() {
	local ifname=$1 cpu=$2 duration=$3 pid i end errf wrc=0 rc=0

	if [ -n "${PKTGEN_DRY_RUN:-}" ]; then
		pg_ctrl start
		pg_ctrl stop
		return
	fi
	errf=$(mktemp /tmp/nfqe-pktgen.XXXXXX) || return 1
	ip netns exec "$PG_NS" bash -c 'echo start >"$1"' bash "$PG_DIR/pgctrl" 2>"$errf" &
	pid=$!
	# T_RUN reaches the thread within 125 ms; a tiny count may already
	# have ended the run when the first poll looks
	for ((i = 0; i < 150; i++)); do
		_pg_running "$cpu" "$ifname" && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.02
	done
	if [ "$i" = 150 ]; then
		_pg_err "$ifname did not start in 3 s"
		rc=1
	else
		end=$(( $(date +%s%N) + $(awk -v d="$duration" 'BEGIN { printf "%d", d * 1e9 }') ))
		while kill -0 "$pid" 2>/dev/null && [ "$(date +%s%N)" -lt "$end" ]; do
			sleep 0.05
		done
	fi
	pg_ctrl stop || rc=1
	if ! _pg_wait_exit "$pid" 50; then
		_pg_err "the start write did not return 5 s after stop: interrupting it"
		kill -TERM "$pid" 2>/dev/null || true
		_pg_wait_exit "$pid" 20 || kill -KILL "$pid" 2>/dev/null || true
		rc=1
	fi
	wait "$pid" 2>/dev/null || wrc=$?
	if [ "$rc" = 0 ] && [ "$wrc" != 0 ]; then
		_pg_err "$PG_DIR/pgctrl <- start: write failed: $(tr '\n' ' ' <"$errf")"
		rc=1
	fi
	rm -f "$errf"
	return $rc
}

# _pg_result IF: the JSON line (without the configuration fields) from the
# device's file after a run.
_pg_result() {
	local res usec sent sofar errors pps i
	local re_res='Result: OK: ([0-9]+)\(c[0-9]+\+d[0-9]+\) usec, ([0-9]+) \('
	local re_cur='pkts-sofar: ([0-9]+) +errors: ([0-9]+)'
	local re_pps='[[:space:]]([0-9]+)pps '

	# pktgen_stop_device() clears "running" just before it writes the
	# result: give it a moment (bounded) should the read fall in between
	for ((i = 0; i < 10; i++)); do
		res=$(ip netns exec "$PG_NS" cat "$PG_DIR/$1" 2>&1) ||
			{ _pg_err "cannot read $PG_DIR/$1: $res"; return 1; }
		[[ $res == *'Result: Starting'* ]] || break
		sleep 0.1
	done
	if ! [[ $res =~ $re_res ]]; then
		_pg_err "$1: no result: $(grep -A1 '^Result:' <<<"$res" | tr '\n' ' ')"
		return 1
	fi
	usec=${BASH_REMATCH[1]}
	sent=${BASH_REMATCH[2]}
	[[ $res =~ $re_cur ]] || { _pg_err "$1: no pkts-sofar line"; return 1; }
	sofar=${BASH_REMATCH[1]}
	errors=${BASH_REMATCH[2]}
	[ "$sofar" = "$sent" ] || { _pg_err "$1: pkts-sofar $sofar, result $sent"; return 1; }
	[ "$usec" -gt 0 ] || { _pg_err "$1: a run of 0 us"; return 1; }
	pps=0
	[[ $res =~ $re_pps ]] && pps=${BASH_REMATCH[1]}
	awk -v n="$sent" -v e="$errors" -v us="$usec" -v pps="$pps" 'BEGIN {
		printf "{\"sent\":%d,\"failed\":%d,\"eagain\":0,\"seconds\":%.6f,\"pps\":%d,\"errors\":%d",
			n, e, us / 1e6, pps, e }'
}

pktgen_run() {
	# first: under the caller's "set -u" a missing ${13} would end the shell
	[ $# = 13 ] || { _pg_err "pktgen_run: 13 arguments, got $#"; return 1; }
	local ns=$1 ifname=$2 dst_mac=$3 src_first=$4 src_last=$5 dst_ip=$6
	local sport_first=$7 sport_last=$8 dport=$9 size=${10} rate=${11} duration=${12}
	local cpu=${13} clone=${PKTGEN_CLONE_SKB:-0} burst=${PKTGEN_BURST:-1}
	local a b nsrc nport count json rc=0

	[[ $ns =~ ^[A-Za-z0-9_.-]+$ ]] || { _pg_err "bad namespace '$ns'"; return 1; }
	[[ $ifname =~ ^[A-Za-z0-9_.-]{1,15}$ ]] || { _pg_err "bad interface '$ifname'"; return 1; }
	[[ $dst_mac =~ ^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$ ]] ||
		{ _pg_err "bad MAC '$dst_mac'"; return 1; }
	a=$(_pg_ip4 "$src_first") && b=$(_pg_ip4 "$src_last") && [ "$a" -le "$b" ] ||
		{ _pg_err "bad source range $src_first-$src_last"; return 1; }
	nsrc=$((b - a + 1))
	_pg_ip4 "$dst_ip" >/dev/null || { _pg_err "bad destination '$dst_ip'"; return 1; }
	_pg_uint "$sport_first" && _pg_uint "$sport_last" && _pg_uint "$dport" &&
		((sport_first >= 1 && sport_first <= sport_last && sport_last <= 65534 &&
		  dport >= 1 && dport <= 65535)) ||
		{ _pg_err "bad ports $sport_first-$sport_last -> $dport (source at most 65534)"; return 1; }
	nport=$((sport_last - sport_first + 1))
	_pg_uint "$size" && ((size >= 60 && size <= 1514)) ||
		{ _pg_err "bad size '$size' (60..1514)"; return 1; }
	_pg_uint "$rate" || { _pg_err "bad rate '$rate'"; return 1; }
	[[ $duration =~ ^[0-9]+(\.[0-9]+)?$ ]] &&
		awk -v d="$duration" 'BEGIN { exit !(d > 0 && d <= 600) }' ||
		{ _pg_err "bad duration '$duration' (0..600 s)"; return 1; }
	_pg_uint "$cpu" || { _pg_err "bad CPU '$cpu'"; return 1; }
	_pg_uint "$clone" && _pg_uint "$burst" && ((burst >= 1)) ||
		{ _pg_err "bad PKTGEN_CLONE_SKB '$clone' or PKTGEN_BURST '$burst'"; return 1; }
	PG_NS=$ns
	if ((clone > 0 || burst > 1)) && [ "$(_pg_dev_kind "$ifname")" = veth ]; then
		_pg_err "$ifname is a veth (no IFF_TX_SKB_SHARING): pktgen refuses clone_skb > 0" \
			"and burst > 1 there (ENOTSUPP); asked clone_skb $clone, burst $burst"
		return 1
	fi
	((rate == 0 || rate >= burst)) || { _pg_err "rate $rate below one burst of $burst per s"; return 1; }
	count=$(awk -v r="$rate" -v d="$duration" -v m="$PKTGEN_FLOOD_PPS_MAX" 'BEGIN {
		c = (r > 0 ? r : m) * d; n = int(c); if (n < c) n++; printf "%d", n }')
	((count >= 1 && count <= 9999999999)) ||
		{ _pg_err "count $count out of range (pktgen reads 10 digits)"; return 1; }
	if [ -z "${PKTGEN_DRY_RUN:-}" ] &&
	   ! ip netns exec "$ns" test -w "$PG_DIR/kpktgend_$cpu" 2>/dev/null; then
		_pg_err "no $PG_DIR/kpktgend_$cpu in namespace $ns (pktgen not loaded, CPU $cpu offline, or not root)"
		return 1
	fi

	if pg_thread "$cpu" rem_device_all && pg_thread "$cpu" add_device "$ifname"; then
		{
			pg_set "$ifname" "count $count" &&
			pg_set "$ifname" "clone_skb $clone" &&
			pg_set "$ifname" "burst $burst" &&
			pg_set "$ifname" "pkt_size $size" &&
			if ((rate > 0)); then
				pg_set "$ifname" "ratep $((rate / burst))"
			else
				pg_set "$ifname" "delay 0"
			fi &&
			pg_set "$ifname" "flag NO_TIMESTAMP" &&
			pg_set "$ifname" "dst_mac $dst_mac" &&
			pg_set "$ifname" "dst $dst_ip" &&
			pg_set "$ifname" "udp_dst_min $dport" &&
			pg_set "$ifname" "udp_dst_max $dport" &&
			pg_set "$ifname" "src_min $src_first" &&
			pg_set "$ifname" "src_max $src_last" &&
			if ((nport > 1)); then
				pg_set "$ifname" "flag UDPSRC_RND" &&
				pg_set "$ifname" "udp_src_min $sport_first" &&
				pg_set "$ifname" "udp_src_max $((sport_last + 1))"
			else
				pg_set "$ifname" "udp_src_min $sport_first" &&
				pg_set "$ifname" "udp_src_max $sport_first"
			fi &&
			_pg_start "$ifname" "$cpu" "$duration" &&
			if [ -n "${PKTGEN_DRY_RUN:-}" ]; then
				json=$(awk -v n="$count" -v d="$duration" 'BEGIN {
					printf "{\"sent\":%d,\"failed\":0,\"eagain\":0,\"seconds\":%.6f,\"pps\":%d,\"errors\":0",
						n, d, n / d }')
			else
				json=$(_pg_result "$ifname")
			fi
		} || rc=1
	else
		rc=1
	fi
	# always: no device may stay on the thread (a later add_device of the
	# same name, on any thread of the namespace, would be refused)
	pg_thread "$cpu" rem_device_all || rc=1
	[ "$rc" = 0 ] || return 1
	printf '%s,"flows":%d,"size":%d,"burst":%d,"clone_skb":%d,"generator":"pktgen"}\n' \
		"$json" $((nsrc * nport)) "$size" "$burst" "$clone"
}
