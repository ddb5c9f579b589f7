# SPDX-License-Identifier: GPL-2.0-or-later
# Shared by the root tests: skip rules, the netns lab, nfqe start/stop,
# bounded waits on conditions (never a bare sleep as synchronisation).
set -euo pipefail

: "${NFQE_BUILD_ROOT:?run through meson test}"
: "${NFQE_SOURCE_ROOT:?run through meson test}"
NFQE=$NFQE_BUILD_ROOT/engine/nfqe
GEN=$NFQE_BUILD_ROOT/bench/nfqe-gen
SINK=$NFQE_BUILD_ROOT/bench/nfqe-sink

skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }

require_root() {
	[ "$(id -u)" = 0 ] || skip "needs root (network namespaces and NFQUEUE)"
	ip netns list >/dev/null 2>&1 || skip "no network namespace support"
	command -v iptables-restore >/dev/null || skip "iptables not installed"
	command -v jq >/dev/null || skip "jq not installed"
	[ -x "$GEN" ] && [ -x "$SINK" ] || skip "bench tools not built"
}

T=$(mktemp -d /tmp/nfqe-test.XXXXXX)
# nfqe runs as this user once started (nfqe.conf(5) [engine] user): it
# writes stats files and removes its control socket in $T
NFQE_USER=$(id -un nfqe 2>/dev/null || echo nobody)
chown "$NFQE_USER" "$T" 2>/dev/null || true
PIDS=()

cleanup() {
	local p
	for p in "${PIDS[@]}"; do
		kill -TERM "$p" 2>/dev/null || true
	done
	for p in "${PIDS[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	declare -F lab_down >/dev/null && lab_down
	rm -rf "$T"
}
trap cleanup EXIT
# a test killed by meson's timeout (TERM) or by hand (INT) still cleans up
trap 'exit 143' TERM
trap 'exit 130' INT

# wait_for SECONDS CMD...: poll a condition every 20 ms, fail on timeout.
wait_for() {
	local limit=$1; shift
	local end=$((SECONDS + limit))
	until "$@"; do
		[ $SECONDS -lt $end ] || return 1
		sleep 0.02
	done
}

# The kernel's /proc row of queue $2 in namespace $1 (nothing if unbound).
kqueue_row() {
	ip netns exec "$1" awk -v q="$2" '$1 == q' /proc/net/netfilter/nfnetlink_queue
}

queues_bound() {
	local ns=$1 first=$2 last=$3 q
	for q in $(seq "$first" "$last"); do
		[ -n "$(kqueue_row "$ns" "$q")" ] || return 1
	done
}

# lab: sender -> router -> sink, from bench/lab.sh
lab() {
	source "$NFQE_SOURCE_ROOT/bench/lab.sh"
	lab_up "nq$$" "${1:-16}" >/dev/null
}

# start_nfqe NAME CONF: nfqe in the router namespace; sets NFQE_PID.
declare -A ERR_OF=()	# PID -> the stderr file of an nfqe start_nfqe started
start_nfqe() {
	local name=$1 conf=$2
	ip netns exec "$LAB_RTR" "$NFQE" -c "$conf" >"$T/$name.out" 2>"$T/$name.err" &
	NFQE_PID=$!
	PIDS+=("$NFQE_PID")
	ERR_OF[$NFQE_PID]=$T/$name.err
}

# stop_pid PID: SIGTERM and wait; the exit status is left in STOP_RC. Not 0
# (a sanitizer's report, a crash): the end of the nfqe's stderr goes to the
# test log, whatever the test makes of the status.
stop_pid() {
	STOP_RC=0
	kill -TERM "$1"
	wait "$1" || STOP_RC=$?
	if [ "$STOP_RC" != 0 ] && [ -n "${ERR_OF[$1]:-}" ]; then
		echo "pid $1 exited $STOP_RC; the end of ${ERR_OF[$1]}:" >&2
		tail -n 60 "${ERR_OF[$1]}" >&2
	fi
}

start_sink() {
	local name=$1; shift
	ip netns exec "$LAB_SINK" "$SINK" --ready-file "$T/$name.ready" --json "$@" \
		>"$T/$name.json" 2>"$T/$name.err" &
	SINK_PID=$!
	PIDS+=("$SINK_PID")
	wait_for 10 test -e "$T/$name.ready" || fail "sink did not start: $(cat "$T/$name.err")"
}

# run_gen NAME ARGS...: UDP from the sender's source addresses to the sink.
run_gen() {
	local name=$1; shift
	ip netns exec "$LAB_SND" "$GEN" --ifname "$LAB_SND_IF" --dst-mac "$LAB_RTR_IN_MAC" \
		--src-ip "$LAB_SRC_FIRST-$LAB_SRC_LAST" --dst-ip "$LAB_SINK_ADDR" \
		--dport 9 --json "$@" >"$T/$name.json" 2>"$T/$name.err"
}

jget() { jq -r "$2" "$1"; }

# Count UDP/9 packets reaching the sink namespace with an iptables counter
# inside that namespace (the sink's own firewall, never the host's).
sink_count_init() {
	ip netns exec "$LAB_SINK" iptables -I INPUT -p udp --dport 9 -j ACCEPT
}
sink_count() {
	ip netns exec "$LAB_SINK" iptables -L INPUT -v -x -n |
		awk '$3 == "ACCEPT" && /dpt:9$/ { print $1; exit }'
}
sink_count_ge() { [ "$(sink_count)" -ge "$1" ]; }
# kqueue_total NS QUEUE: packets the kernel holds in the queue (waiting
# for a verdict)
kqueue_total() { kqueue_row "$1" "$2" | awk '{print $3}'; }
# kqueues_sum NS COLUMN: a column of the kernel's table summed over every
# queue of namespace NS (3: packets waiting for a verdict; 8: the id
# sequence, packets queued so far)
kqueues_sum() {
	ip netns exec "$1" awk -v c="$2" '{ s += $c } END { print s + 0 }' \
		/proc/net/netfilter/nfnetlink_queue
}
kqueue_empty() { [ "$(kqueue_total "$1" "$2")" = 0 ]; }

# metric NAME FILE: a Prometheus sample's value (nothing if absent)
metric() { awk -v s="$1" '$1 == s { print $2 }' "$2"; }
# sum_metric NAME LABEL-REGEX FILE: the sum of a family's samples whose
# name and labels match LABEL-REGEX ('' for all); fails if there are none
sum_metric() {
	awk -v name="$1" -v re="$2" '
		$1 ~ "^" name "({|$)" && $1 ~ re { s += $2; n++ }
		END { if (!n) exit 1; printf "%d\n", s }' "$3"
}

# offload_check_counters MODE STATS METRICS FLOWS DEPTH MIN MAX: the
# offload counters of an nfqe that offloaded FLOWS flows after DEPTH packets
# each, in its stats JSON (STATS) and in nfqectl metrics (METRICS): every
# flow counted once, DEPTH - 1 packets of each below the depth, MIN..MAX
# bypasses and every other packet nfqe saw one of them, sent as repeat
# verdicts (forward) or as two set additions each, none refused (raw).
offload_check_counters() {
	local mode=$1 stats=$2 m=$3 nflows=$4 depth=$5 min=$6 max=$7
	local total repeat flows bypasses below want

	o() { jget "$stats" ".offload.$1"; }
	total=$(jget "$stats" .total.packets)
	repeat=$(jget "$stats" .total.repeat)
	[ "$(o mode)" = "$mode" ] || fail "$mode: stats JSON offload mode '$(o mode)'"
	flows=$(o flows)
	bypasses=$(o bypasses)
	below=$(o below_depth)
	[ "$below" = $((nflows * (depth - 1))) ] ||
		fail "$mode: $below packets below depth, want $nflows x $((depth - 1))"
	[ "$flows" = "$nflows" ] || fail "$mode: $flows flows offloaded, want $nflows (once each)"
	[ "$bypasses" -ge "$min" ] && [ "$bypasses" -le "$max" ] ||
		fail "$mode: $bypasses bypasses, want $min..$max"
	[ $((bypasses + below)) = "$total" ] ||
		fail "$mode: $bypasses bypasses + $below below depth != $total packets seen"
	[ "$(o unsupported)" = 0 ] && [ "$(o loops)" = 0 ] ||
		fail "$mode: unsupported $(o unsupported), loops $(o loops)"
	if [ "$mode" = forward ]; then
		[ "$(o repeat_verdicts)" = "$bypasses" ] && [ "$repeat" = "$bypasses" ] ||
			fail "forward: $(o repeat_verdicts) offload repeat verdicts, $repeat repeat verdicts sent, $bypasses bypasses"
		[ "$(o set_adds)" = 0 ] || fail "forward: $(o set_adds) set additions"
	else
		[ "$(o set_adds)" = $((2 * bypasses)) ] ||
			fail "raw: $(o set_adds) set additions, want 2 x $bypasses"
		[ "$(o set_add_errors)" = 0 ] && [ "$(o set_send_errors)" = 0 ] ||
			fail "raw: set additions refused $(o set_add_errors), not sent $(o set_send_errors)"
		[ "$(o repeat_verdicts)" = 0 ] && [ "$repeat" = 0 ] ||
			fail "raw: $(o repeat_verdicts) offload repeat verdicts, $repeat sent"
	fi
	ok "$mode: stats JSON: $flows flows offloaded, $bypasses bypasses, $below packets below depth"

	# the same numbers through the control socket's exposition
	[ "$(metric nfqe_offload_flows_total "$m")" = "$flows" ] ||
		fail "$mode: nfqe_offload_flows_total $(metric nfqe_offload_flows_total "$m"), JSON $flows"
	[ "$(metric nfqe_offload_bypasses_total "$m")" = "$bypasses" ] ||
		fail "$mode: nfqe_offload_bypasses_total $(metric nfqe_offload_bypasses_total "$m"), JSON $bypasses"
	[ "$(metric nfqe_offload_below_depth_total "$m")" = "$below" ] ||
		fail "$mode: nfqe_offload_below_depth_total $(metric nfqe_offload_below_depth_total "$m")"
	want=$bypasses; [ "$mode" = raw ] && want=0
	[ "$(metric nfqe_offload_repeat_verdicts_total "$m")" = "$want" ] ||
		fail "$mode: nfqe_offload_repeat_verdicts_total $(metric nfqe_offload_repeat_verdicts_total "$m"), want $want"
	want=0; [ "$mode" = raw ] && want=$((2 * bypasses))
	[ "$(metric 'nfqe_offload_set_adds_total{result="ok"}' "$m")" = "$want" ] &&
		[ "$(metric 'nfqe_offload_set_adds_total{result="refused"}' "$m")" = 0 ] &&
		[ "$(metric 'nfqe_offload_set_adds_total{result="unsent"}' "$m")" = 0 ] ||
		fail "$mode: set additions: $(grep '^nfqe_offload_set_adds_total' "$m" | tr '\n' ' ')"
	grep -q '^# TYPE nfqe_offload_flows_total counter$' "$m" || fail "$mode: no TYPE line"
	ok "$mode: nfqectl metrics: nfqe_offload_flows_total $flows, bypasses $bypasses, set additions ok $want"
}

# nfqe's offload sets in the router (raw mode); the test defines rtr()
# (a command in the router's namespace) and SET (the set_name prefix)
set_exists() { rtr ipset list -n 2>/dev/null | grep -qx "$1"; }
set_entries() { rtr ipset list "$1" | awk -F': ' '/^Number of entries/ { print $2 }'; }
no_sets() { ! rtr ipset list -n 2>/dev/null | grep -q "^$SET-"; }

# offload_conf FILE MODE STATS SOCKET DEPTH SET: nfqe's configuration of the
# offload tests: queues 0:1 in MODE, every flow offloaded after DEPTH
# packets into sets named SET (raw mode), stats in STATS, control on SOCKET.
offload_conf() {
	cat >"$1" <<CONF
[engine]
queues = 0:1
mode = $2
stats_json = $3
[control]
socket = $4
[offload]
enable = yes
depth = $5
set_name = $6
set_timeout = 120
[rules]
default = offload
CONF
}
