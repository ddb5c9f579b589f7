#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The quick-start demo (./run demo): a throw-away netns lab
# sender -> router -> sink, nfqe on queues 0:1 with the default config,
# ~20 s of UDP over many flows from 16 source addresses, a live stats line
# each second, a final report, and everything removed at the end.
set -euo pipefail
build=${1:?usage: demo.sh BUILD_DIR [SECONDS] [PPS]}
seconds=${2:-20}
rate=${3:-50000}
top=$(cd "$(dirname "$0")/.." && pwd)
NFQE=$build/engine/nfqe
GEN=$build/bench/nfqe-gen
SINK=$build/bench/nfqe-sink
T=$(mktemp -d /tmp/nfqe-demo.XXXXXX)
# nfqe drops to its own user (nfqe, else nobody) once bound: its stats go here
chown "$(id -un nfqe 2>/dev/null || echo nobody)" "$T"
pids=()

source "$top/bench/lab.sh"
cleanup() {
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	lab_down
	rm -rf "$T"
	echo "demo: lab removed"
}
trap cleanup EXIT

wait_for() {
	local end=$((SECONDS + $1)); shift
	until "$@"; do [ $SECONDS -lt $end ] || return 1; sleep 0.05; done
}
bound() {
	[ "$(ip netns exec "$LAB_RTR" awk '$1 == 0 || $1 == 1' \
		/proc/net/netfilter/nfnetlink_queue | wc -l)" = 2 ]
}

echo "demo: building the lab (sender -> router -> sink, 16 source addresses)"
lab_up "nfqedemo$$" 16 >/dev/null
echo "demo: router rules (nfqe rules --queues 0:1 --mode forward):"
"$NFQE" rules --queues 0:1 --mode forward | tee "$T/rules" | grep '^-A' | sed 's/^/    /'
ip netns exec "$LAB_RTR" iptables-restore --noflush <"$T/rules"

# its own control socket: another nfqe may run on this machine
printf '[engine]\nqueues = 0:1\nstats_interval = 1\nstats_json = %s\n[control]\nsocket = %s\n' \
	"$T/stats.json" "$T/nfqe.sock" >"$T/nfqe.conf"
ip netns exec "$LAB_RTR" "$NFQE" -c "$T/nfqe.conf" &
nfqe_pid=$!
pids+=("$nfqe_pid")
wait_for 10 bound || { echo "demo: nfqe did not bind its queues" >&2; exit 1; }

ip netns exec "$LAB_SINK" "$SINK" --ready-file "$T/sink.ready" --json \
	--duration $((seconds + 30)) >"$T/sink.json" 2>"$T/sink.err" &
sink_pid=$!
pids+=("$sink_pid")
wait_for 10 test -e "$T/sink.ready"

echo "demo: sending 64-byte UDP for ${seconds}s at ${rate} pps over 1024 flows"
ip netns exec "$LAB_SND" "$GEN" --ifname "$LAB_SND_IF" --dst-mac "$LAB_RTR_IN_MAC" \
	--src-ip "$LAB_SRC_FIRST-$LAB_SRC_LAST" --dst-ip "$LAB_SINK_ADDR" \
	--sport 10000-10063 --dport 9 --flows 1024 --duration "$seconds" \
	--rate "$rate" --json >"$T/gen.json"

# wait until every packet nfqe verdicted has reached the sink
kq_empty() {
	[ -z "$(ip netns exec "$LAB_RTR" awk '($1 == 0 || $1 == 1) && $3 != 0' \
		/proc/net/netfilter/nfnetlink_queue)" ]
}
wait_for 10 kq_empty || true
kill -TERM "$nfqe_pid"; wait "$nfqe_pid" || true
kill -TERM "$sink_pid"; wait "$sink_pid" || true
pids=()

sent=$(jq .sent "$T/gen.json")
got=$(jq .received "$T/sink.json")
echo
echo "== nfqe demo report =="
jq -r --argjson sent "$sent" --argjson got "$got" --argjson secs "$seconds" '
	"offered      \($sent) packets, \(($sent / $secs) | floor) pps",
	"delivered    \($got) packets, loss \((($sent - $got) * 10000 / (if $sent > 0 then $sent else 1 end) | floor) / 100) %",
	"nfqe         \(.total.packets) packets, mean batch \(.total.mean_batch * 10 | floor / 10), mean burst \(.total.mean_burst * 10 | floor / 10)",
	"hold time    p50 \(.total.hold_ns.p50 / 1000) us, p99 \(.total.hold_ns.p99 / 1000) us, p999 \(.total.hold_ns.p999 / 1000) us",
	"kernel       queued \(.total.kernel.id_sequence), queue dropped \(.total.kernel.queue_dropped), user dropped \(.total.kernel.user_dropped)",
	(.queues[] | "queue \(.queue)      \(.packets) packets (\(if $got > 0 then (.packets * 1000 / $got | floor) / 10 else 0 end) %), cpu \(.cpu), hold p99 \(.hold_ns.p99 / 1000) us")
' "$T/stats.json"
