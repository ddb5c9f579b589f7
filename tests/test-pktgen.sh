# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash
# bench/pktgen.sh, the kernel's pktgen as nfqe-bench's traffic source, on a
# kernel without pktgen (the development machines have none):
#  - dry run (PKTGEN_DRY_RUN): the exact command sequence, file by file,
#    for nfqe-bench's configuration (16 sources, 64 ports at random, a
#    rate) and for a flood on one port; clone_skb 0 and burst 1 on veth,
#    refused otherwise before anything is written; a NIC's burst is
#    written and scales ratep; bad arguments write nothing;
#  - the Result text of Documentation/networking/pktgen.rst parsed into
#    nfqe-gen's JSON fields;
#  - the real path (no dry run) against an emulation of the /proc files
#    ("ip" replaced by a shell function): the same sequence as the dry
#    run, start in the background until "stop" after the duration,
#    bounded, the result parsed; a refused write (ENOTSUPP) and a device
#    that does not start fail with a message and still end with
#    rem_device_all.
# The emulation encodes how net/core/pktgen.c answers; it tests this
# file's control flow, not the kernel.
# usage: test-pktgen.sh (NFQE_SOURCE_ROOT from meson, or the tree it is in)
set -uo pipefail
command -v jq >/dev/null || { echo "SKIP: jq not installed"; exit 77; }

SRC=${NFQE_SOURCE_ROOT:-$(cd "$(dirname "$0")/.." && pwd)}
T=$(mktemp -d /tmp/nfqe-test-pktgen.XXXXXX)
trap 'rm -rf "$T"' EXIT
nfail=0

fail() { echo "FAIL: $*" >&2; nfail=$((nfail + 1)); }
ok() { echo "ok: $*"; }

# shellcheck source=../bench/pktgen.sh
source "$SRC/bench/pktgen.sh"

MAC=02:6e:66:01:00:01
# the lab's arguments as nfqe-bench passes them, then RATE DURATION CPU
LAB=(nfqb1-snd snd0 "$MAC" 10.200.1.10 10.200.1.25 10.200.2.2 10000 10063 9 60)

# dry NAME WANT_RC ARGS...: pktgen_run in a dry run; the commands in
# $T/NAME.cmds, stdout in $T/NAME.json, stderr in $T/NAME.err
dry() {
	local name=$1 want=$2 rc=0
	shift 2
	rm -f "$T/$name.cmds"
	PKTGEN_DRY_RUN=$T/$name.cmds pktgen_run "$@" >"$T/$name.json" 2>"$T/$name.err" || rc=$?
	if [ "$rc" != "$want" ]; then
		fail "$name: pktgen_run exited $rc, want $want: $(cat "$T/$name.err")"
		return 1
	fi
	ok "$name: exit $rc"
}

# same NAME FILE: FILE holds the commands of $T/NAME.want
same() {
	if diff -u "$T/$1.want" "$2" >"$T/$1.diff"; then
		ok "$1: the command sequence"
	else
		fail "$1: command sequence differs:"
		sed 's/^/    /' "$T/$1.diff" >&2
	fi
}

jcheck() {	# jcheck NAME FILE JQ-EXPR
	if jq -e "$3" "$2" >/dev/null 2>&1; then
		ok "$1: $3"
	else
		fail "$1: not $3 in $(cat "$2")"
	fi
}

P=/proc/net/pktgen

# --- nfqe-bench's configuration: 1024 flows, 100000 pps for 1.5 s on CPU 1
dry lab 0 "${LAB[@]}" 100000 1.5 1
cat >"$T/lab.want" <<EOF
$P/kpktgend_1 <- rem_device_all
$P/kpktgend_1 <- add_device snd0
$P/snd0 <- count 150000
$P/snd0 <- clone_skb 0
$P/snd0 <- burst 1
$P/snd0 <- pkt_size 60
$P/snd0 <- ratep 100000
$P/snd0 <- flag NO_TIMESTAMP
$P/snd0 <- dst_mac $MAC
$P/snd0 <- dst 10.200.2.2
$P/snd0 <- udp_dst_min 9
$P/snd0 <- udp_dst_max 9
$P/snd0 <- src_min 10.200.1.10
$P/snd0 <- src_max 10.200.1.25
$P/snd0 <- flag UDPSRC_RND
$P/snd0 <- udp_src_min 10000
$P/snd0 <- udp_src_max 10064
$P/pgctrl <- start
$P/pgctrl <- stop
$P/kpktgend_1 <- rem_device_all
EOF
same lab "$T/lab.cmds"
jcheck lab "$T/lab.json" '.generator == "pktgen" and .sent == 150000 and .failed == 0 and
	.eagain == 0 and .seconds == 1.5 and .flows == 1024 and .size == 60 and
	.burst == 1 and .clone_skb == 0'

# --- flat out, one source port, one source, 2 s on CPU 0: delay 0, the
# count is the 20 Mpps backstop, the port is constant (no UDPSRC_RND)
dry flood 0 ns0 snd0 "$MAC" 10.200.1.10 10.200.1.10 10.200.2.2 10000 10000 9 60 0 2 0
cat >"$T/flood.want" <<EOF
$P/kpktgend_0 <- rem_device_all
$P/kpktgend_0 <- add_device snd0
$P/snd0 <- count 40000000
$P/snd0 <- clone_skb 0
$P/snd0 <- burst 1
$P/snd0 <- pkt_size 60
$P/snd0 <- delay 0
$P/snd0 <- flag NO_TIMESTAMP
$P/snd0 <- dst_mac $MAC
$P/snd0 <- dst 10.200.2.2
$P/snd0 <- udp_dst_min 9
$P/snd0 <- udp_dst_max 9
$P/snd0 <- src_min 10.200.1.10
$P/snd0 <- src_max 10.200.1.10
$P/snd0 <- udp_src_min 10000
$P/snd0 <- udp_src_max 10000
$P/pgctrl <- start
$P/pgctrl <- stop
$P/kpktgend_0 <- rem_device_all
EOF
same flood "$T/flood.cmds"
jcheck flood "$T/flood.json" '.flows == 1'

# --- veth: clone_skb > 0 or burst > 1 refused before anything is written
veth_refuses() {	# veth_refuses NAME (PKTGEN_* set by the caller)
	if dry "$1" 1 "${LAB[@]}" 100000 1 1 && [ ! -s "$T/$1.cmds" ] &&
	   grep -q IFF_TX_SKB_SHARING "$T/$1.err"; then
		ok "$1: refused, nothing written ($(cat "$T/$1.err"))"
	else
		fail "$1: not refused cleanly"
	fi
}
PKTGEN_CLONE_SKB=1 veth_refuses veth-clone
PKTGEN_BURST=8 veth_refuses veth-burst

# --- a NIC: burst 32 and clone_skb 0 are written; ratep counts calls of
# 32 frames (1 Mpps = 31250 calls/s)
PKTGEN_DEV_KIND=ixgbe PKTGEN_BURST=32 dry nic 0 ns0 eth1 "$MAC" 198.18.0.1 198.18.0.254 \
	198.18.1.1 1024 2047 9 64 1000000 1 2
if grep -qx "$P/eth1 <- burst 32" "$T/nic.cmds" && grep -qx "$P/eth1 <- ratep 31250" "$T/nic.cmds" &&
   grep -qx "$P/eth1 <- count 1000000" "$T/nic.cmds" && grep -qx "$P/eth1 <- pkt_size 64" "$T/nic.cmds"; then
	ok "nic: burst 32, ratep 31250, count 1000000, pkt_size 64"
else
	fail "nic: $(tr '\n' ';' <"$T/nic.cmds")"
fi
jcheck nic "$T/nic.json" '.burst == 32 and .flows == 254 * 1024'

# --- bad arguments: refused, nothing written
bad() {
	local name=$1
	shift
	if dry "bad-$name" 1 "$@" && [ ! -s "$T/bad-$name.cmds" ]; then
		ok "bad $name: refused: $(cat "$T/bad-$name.err")"
	else
		fail "bad $name: accepted or wrote something"
	fi
}
bad range ns0 snd0 "$MAC" 10.200.1.25 10.200.1.10 10.200.2.2 10000 10063 9 60 1000 1 1
bad port ns0 snd0 "$MAC" 10.200.1.10 10.200.1.25 10.200.2.2 10000 65535 9 60 1000 1 1
bad size ns0 snd0 "$MAC" 10.200.1.10 10.200.1.25 10.200.2.2 10000 10063 9 59 1000 1 1
bad rate ns0 snd0 "$MAC" 10.200.1.10 10.200.1.25 10.200.2.2 10000 10063 9 60 1e5 1 1
bad duration ns0 snd0 "$MAC" 10.200.1.10 10.200.1.25 10.200.2.2 10000 10063 9 60 1000 601 1
bad mac ns0 snd0 02:6e:66:01:00 10.200.1.10 10.200.1.25 10.200.2.2 10000 10063 9 60 1000 1 1
bad addr ns0 snd0 "$MAC" 10.200.1.10 10.200.1.256 10.200.2.2 10000 10063 9 60 1000 1 1
bad args ns0 snd0 "$MAC" 10.200.1.10 10.200.1.25 10.200.2.2 10000 10063 9 60 1000 1

# --- the Result text of Documentation/networking/pktgen.rst, parsed
cat >"$T/doc-dev" <<'EOF'
Params: count 100000  min_pkt_size: 60  max_pkt_size: 60
     frags: 0  delay: 0  clone_skb: 64  ifname: eth4@0
     flows: 0 flowlen: 0
     queue_map_min: 0  queue_map_max: 0
     dst_min: 192.168.81.2  dst_max:
     src_min:   src_max:
     src_mac: 90:e2:ba:0a:56:b4 dst_mac: 00:1b:21:3c:9d:f8
     udp_src_min: 9  udp_src_max: 109  udp_dst_min: 9  udp_dst_max: 9
     src_mac_count: 0  dst_mac_count: 0
     Flags: UDPSRC_RND  NO_TIMESTAMP  QUEUE_MAP_CPU
Current:
     pkts-sofar: 100000  errors: 0
     started: 623913381008us  stopped: 623913396439us idle: 25us
     seq_num: 100001  cur_dst_mac_offset: 0  cur_src_mac_offset: 0
     cur_saddr: 192.168.8.3  cur_daddr: 192.168.81.2
     cur_udp_dst: 9  cur_udp_src: 42
     cur_queue_map: 0
     flows: 0
Result: OK: 15430(c15405+d25) usec, 100000 (60byte,0frags)
  6480562pps 3110Mb/sec (3110669760bps) errors: 0
EOF
# _pg_result reads through "ip netns exec NS cat FILE"
ip() { shift 3; "$@"; }
# shellcheck disable=SC2034 # pktgen.sh's globals
PG_DIR=$T PG_NS=x
if _pg_result doc-dev >"$T/doc.json" 2>"$T/doc.err"; then
	echo "}" >>"$T/doc.json"
	jcheck doc "$T/doc.json" '.sent == 100000 and .failed == 0 and .eagain == 0 and
		.seconds == 0.01543 and .pps == 6480562'
else
	fail "doc: the documented result not parsed: $(cat "$T/doc.err")"
fi
unset -f ip

# --- the real path against an emulation of /proc/net/pktgen ---------------
#
# State in $F: the /proc files in $F/proc (PG_DIR), devices as d-IF.cpu,
# d-IF.conf (key value), d-IF.result; every write logged in $F/log as the
# dry run does. Knobs: FAKE_SHARING (no: clone_skb > 0 and burst > 1 fail
# with ENOTSUPP, "Unknown error 524"), FAKE_NOSTART (the device does not
# start: "Error starting"), FAKE_KIND (ip -d link's kind), FAKE_ERRORS.
F=$T/fake

fake_reset() {	# fake_reset NCPUS
	local c
	rm -rf "$F"
	mkdir -p "$F/proc"
	: >"$F/log"
	echo "Packet Generator for packet performance testing. Version: 2.75" >"$F/proc/pgctrl"
	for ((c = 0; c < $1; c++)); do
		echo "NA" >"$F/t$c.result"
		fake_thread_show "$c"
	done
	FAKE_SHARING=no FAKE_NOSTART=no FAKE_KIND=veth FAKE_ERRORS=2
}

fake_conf() { awk -v k="$2" '$1 == k { v = $2 } END { print v }' "$F/d-$1.conf"; }

fake_thread_show() {
	local cpu=$1 run='' stop='' f d
	for f in "$F"/d-*.cpu; do
		[ -e "$f" ] && [ "$(<"$f")" = "$cpu" ] || continue
		d=${f##*/d-}
		d=${d%.cpu}
		if [ -e "$F/run-$d" ]; then run+="$d "; else stop+="$d "; fi
	done
	printf 'Running: %s\nStopped: %s\nResult: %s\n' "$run" "$stop" "$(<"$F/t$cpu.result")" \
		>"$F/proc/kpktgend_$cpu"
}

fake_dev_show() {
	local d=$1
	{
		printf 'Params: count %s  min_pkt_size: %s  max_pkt_size: %s\n' \
			"$(fake_conf "$d" count)" "$(fake_conf "$d" pkt_size)" "$(fake_conf "$d" pkt_size)"
		printf 'Current:\n     pkts-sofar: %s  errors: %s\n' \
			"$(<"$F/d-$d.sofar")" "$(<"$F/d-$d.errors")"
		printf 'Result: %s\n' "$(<"$F/d-$d.result")"
	} >"$F/proc/$d"
}

# fake_write FILE CMD: what "bash -c 'echo CMD >FILE; grep ^Result: FILE'"
# prints and returns against pktgen_if_write / pktgen_thread_write
fake_write() {
	local file=$1 cmd=$2 name=${1##*/} key val cpu f d
	echo "$file <- $cmd" >>"$F/log"
	read -r key val <<<"$cmd"
	[ -e "$file" ] || { echo "no writable $file (device not added, or not root)"; return 3; }
	case $name in
	pgctrl)
		[ "$key" = stop ] && touch "$F/stop"
		return 0
		;;
	kpktgend_*)
		cpu=${name#kpktgend_}
		case $key in
		add_device)
			if [ -e "$F/d-$val.cpu" ]; then
				echo "ERROR: can not add device $val" >"$F/t$cpu.result"
				echo "bash: line 3: echo: write error: Device or resource busy"
				return 4
			fi
			echo "$cpu" >"$F/d-$val.cpu"
			: >"$F/d-$val.conf"
			echo 0 >"$F/d-$val.sofar"
			echo 0 >"$F/d-$val.errors"
			echo Idle >"$F/d-$val.result"
			fake_dev_show "$val"
			echo "OK: add_device=$val" >"$F/t$cpu.result"
			;;
		rem_device_all)
			for f in "$F"/d-*.cpu; do
				[ -e "$f" ] && [ "$(<"$f")" = "$cpu" ] || continue
				d=${f##*/d-}
				d=${d%.cpu}
				rm -f "$F/d-$d".* "$F/proc/$d" "$F/run-$d"
			done
			echo "OK: rem_device_all" >"$F/t$cpu.result"
			;;
		*)
			echo "bash: line 3: echo: write error: Invalid argument"
			return 4
			;;
		esac
		fake_thread_show "$cpu"
		grep "^Result:" "$file"
		;;
	*)
		if [ "$FAKE_SHARING" = no ] &&
		   { { [ "$key" = clone_skb ] && ((val > 0)); } ||
		     { [ "$key" = burst ] && ((val > 1)); }; }; then
			echo "bash: line 3: echo: write error: Unknown error 524"
			return 4
		fi
		echo "$key $val" >>"$F/d-$name.conf"
		echo "OK: $key=$val" >"$F/d-$name.result"
		fake_dev_show "$name"
		grep "^Result:" "$file"
		;;
	esac
}

# fake_start FILE: "echo start >pgctrl", which returns when every device
# has stopped: at its count (at ratep, or 1 Mpps flat out) or at "stop"
fake_start() {
	local f d cpu rate count size t0 t1 sent usec pps
	echo "$1 <- start" >>"$F/log"
	rm -f "$F/stop"
	for f in "$F"/d-*.cpu; do
		[ -e "$f" ] || return 0
		d=${f##*/d-}
		d=${d%.cpu}
	done
	cpu=$(<"$F/d-$d.cpu")
	if [ "$FAKE_NOSTART" = yes ]; then
		echo "Error starting" >"$F/d-$d.result"
		fake_dev_show "$d"
		return 0
	fi
	rate=$(fake_conf "$d" ratep)
	rate=${rate:-1000000}
	count=$(fake_conf "$d" count)
	size=$(fake_conf "$d" pkt_size)
	echo Starting >"$F/d-$d.result"
	touch "$F/run-$d"
	fake_thread_show "$cpu"
	fake_dev_show "$d"
	t0=$(date +%s%N)
	while :; do
		t1=$(date +%s%N)
		sent=$(( (t1 - t0) * rate / 1000000000 ))
		if ((count > 0 && sent >= count)); then
			sent=$count
			break
		fi
		[ -e "$F/stop" ] && break
		sleep 0.01
	done
	usec=$(( (t1 - t0) / 1000 ))
	pps=$(( sent * 1000000 / usec ))
	echo "$sent" >"$F/d-$d.sofar"
	echo "$FAKE_ERRORS" >"$F/d-$d.errors"
	printf 'OK: %d(c%d+d0) usec, %d (%dbyte,0frags)\n  %dpps %dMb/sec (%dbps) errors: %d\n' \
		"$usec" "$usec" "$sent" "$size" "$pps" $((pps * 8 * size / 1000000)) \
		$((pps * 8 * size)) "$FAKE_ERRORS" >"$F/d-$d.result"
	rm -f "$F/run-$d"
	fake_thread_show "$cpu"
	fake_dev_show "$d"
}

# the commands pktgen.sh runs through ip: bash -c writes, cat, test, and
# ip -d link (the device's kind)
ip() {
	if [ "$1" = -n ]; then
		echo "2: $8@if3: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500\\    link/ether" \
			"02:6e:66:01:00:02 \\    $FAKE_KIND addrgenmode eui64"
		return 0
	fi
	[ "$1 $2" = "netns exec" ] || { echo "fake ip: $*" >&2; return 1; }
	shift 3
	case $1 in
	bash)
		case $3 in
		*'echo start'*) fake_start "$5" ;;
		*) fake_write "$5" "$6" ;;
		esac
		;;
	cat|test) "$@" ;;
	*) echo "fake ip: netns exec $*" >&2; return 1 ;;
	esac
}

# shellcheck disable=SC2034 # pktgen.sh's global
PG_DIR=$F/proc
fake_reset 2

# real REPLAY: the emulated run of nfqe-bench's configuration, 200000 pps
# for 0.4 s on CPU 1; its writes are the dry run's for the same arguments
s0=$SECONDS
if pktgen_run "${LAB[@]}" 200000 0.4 1 >"$T/real.json" 2>"$T/real.err"; then
	ok "emulated: exit 0 in $((SECONDS - s0)) s"
else
	fail "emulated: pktgen_run failed: $(cat "$T/real.err")"
fi
((SECONDS - s0 <= 4)) || fail "emulated: took $((SECONDS - s0)) s for a 0.4 s run"
cp "$F/log" "$T/real.cmds"
dry real-dry 0 "${LAB[@]}" 200000 0.4 1
cp "$T/real-dry.cmds" "$T/real.want"
same real "$T/real.cmds"
jcheck real "$T/real.json" '.generator == "pktgen" and .sent == 80000 and .failed == 2 and
	.errors == 2 and .eagain == 0 and .seconds > 0.3 and .seconds < 1.5 and .pps > 0 and
	.flows == 1024'
[ ! -e "$F/proc/snd0" ] && ok "emulated: the device was removed" ||
	fail "emulated: snd0 left on the thread"

# flat out, ended by stop after 0.3 s
fake_reset 2
s0=$SECONDS
if pktgen_run "${LAB[@]}" 0 0.3 0 >"$T/realflood.json" 2>"$T/realflood.err" &&
   grep -qx "$F/proc/pgctrl <- stop" "$F/log"; then
	ok "emulated flood: ended by stop in $((SECONDS - s0)) s"
else
	fail "emulated flood: $(cat "$T/realflood.err")"
fi
jcheck realflood "$T/realflood.json" '.sent > 0 and .sent < 20000000 * 0.3 and .seconds > 0.2'

# a refused write (a device without IFF_TX_SKB_SHARING that is no veth)
fake_reset 2
if PKTGEN_DEV_KIND=tap PKTGEN_BURST=8 pktgen_run "${LAB[@]}" 100000 0.3 1 \
	>"$T/enotsupp.json" 2>"$T/enotsupp.err"; then
	fail "enotsupp: burst 8 accepted"
elif grep -q 'burst 8: write failed:.*524.*ENOTSUPP' "$T/enotsupp.err" &&
     [ "$(tail -1 "$F/log")" = "$F/proc/kpktgend_1 <- rem_device_all" ] &&
     [ ! -e "$F/proc/snd0" ] && ! grep -q 'pgctrl <- start' "$F/log"; then
	ok "enotsupp: refused, not started, device removed: $(cat "$T/enotsupp.err")"
else
	fail "enotsupp: $(cat "$T/enotsupp.err"); log: $(tr '\n' ';' <"$F/log")"
fi

# a device that does not start
fake_reset 2
FAKE_NOSTART=yes
if pktgen_run "${LAB[@]}" 100000 0.3 1 >"$T/nostart.json" 2>"$T/nostart.err"; then
	fail "nostart: succeeded"
elif grep -q 'Error starting' "$T/nostart.err" &&
     [ "$(tail -1 "$F/log")" = "$F/proc/kpktgend_1 <- rem_device_all" ]; then
	ok "nostart: failed with the device's result, device removed: $(cat "$T/nostart.err")"
else
	fail "nostart: $(cat "$T/nostart.err"); log: $(tr '\n' ';' <"$F/log")"
fi

# the kind from ip -d link: a veth refuses clone_skb before any write
fake_reset 2
if PKTGEN_CLONE_SKB=4 pktgen_run "${LAB[@]}" 100000 0.3 1 >/dev/null 2>"$T/kind.err"; then
	fail "kind: clone_skb 4 accepted on a veth"
elif [ ! -s "$F/log" ] && grep -q 'snd0 is a veth' "$T/kind.err"; then
	ok "kind: ip -d link says veth: clone_skb 4 refused, nothing written"
else
	fail "kind: $(cat "$T/kind.err"); log: $(tr '\n' ';' <"$F/log")"
fi

# no thread for the CPU (offline, or pktgen not loaded)
fake_reset 1
if pktgen_run "${LAB[@]}" 100000 0.3 1 >/dev/null 2>"$T/nocpu.err"; then
	fail "nocpu: kpktgend_1 missing, accepted"
elif [ ! -s "$F/log" ] && grep -q 'no .*kpktgend_1' "$T/nocpu.err"; then
	ok "nocpu: $(cat "$T/nocpu.err")"
else
	fail "nocpu: $(cat "$T/nocpu.err")"
fi

if [ "$nfail" -gt 0 ]; then
	echo "$nfail check(s) failed" >&2
	exit 1
fi
echo "all pktgen.sh checks passed"
