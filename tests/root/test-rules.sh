#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# One check per rule action, end to end through the lab's router:
#   accept   every packet delivered, nfqe accepted them all
#   drop     a source CIDR dropped: the sink saw none of those sources,
#            nfqe's drop counter equals their packets, the rest delivered
#   mark     mark 0x2a/0xff over a queued mark 0x100 (set in PREROUTING):
#            a mark-match counter in the router's POSTROUTING sees exactly
#            the marked sources' packets with mark 0x12a
#   repeat   repeat mark 0x10, with the router's NFQE chain skipping marked
#            packets: each packet is queued exactly once, all delivered
#   queue    queue 3 hands everything from queue 0 to a second nfqe on
#            queue 3, which sees them all; all delivered
# Inspect and offload are tested with their own work.
source "$(dirname "$0")/../lib.sh"
require_root
NFQECTL=$NFQE_BUILD_ROOT/engine/nfqectl
[ -x "$NFQECTL" ] || skip "nfqectl not built"

# 16 sources 10.200.1.10-25, 64 flows (4 per source), 50 packets a flow
FLOWS=64
N=3200
PER_SRC=$((N / 16))

lab 16
"$NFQE" rules --queues 0:0 --mode forward | ip netns exec "$LAB_RTR" iptables-restore --noflush
RTR_IPT="ip netns exec $LAB_RTR iptables"

# conf NAME QUEUES RULES...: a config with [rules] lines; RULES are
# "key = value" lines
conf() {
	local name=$1 queues=$2 line
	shift 2
	{
		printf '[engine]\nqueues = %s\nstats_json = %s\n' "$queues" "$T/$name.json"
		printf '[control]\nsocket = %s\n[rules]\n' "$T/$name.sock"
		for line in "$@"; do
			printf '%s\n' "$line"
		done
	} >"$T/$name.conf"
}

# run_nfqe NAME: start nfqe with $T/NAME.conf, wait until its queues are
# bound (the control socket appears last)
run_nfqe() {
	start_nfqe "$1" "$T/$1.conf"
	wait_for 10 test -S "$T/$1.sock" || fail "$1: nfqe did not start: $(cat "$T/$1.err")"
}

# nq_stat NAME JQ: a live counter of nfqe NAME
nq_stat() { "$NFQECTL" -s "$T/$1.sock" stats --json | jq -r "$2"; }
packets_are() { [ "$(nq_stat "$1" .total.packets)" = "$2" ]; }

# send NAME EXPECT: sink expecting EXPECT packets, N packets sent; waits
# for the sink (EXPECT reached or 30 s)
send() {
	local name=$1 expect=$2
	start_sink "$name-sink" --expect "$expect" --timeout 30
	run_gen "$name-gen" --flows $FLOWS --sport 4000-4003 --count $N --rate 20000
	[ "$(jget "$T/$name-gen.json" .sent)" = $N ] || fail "$name: generator sent $(jget "$T/$name-gen.json" .sent) of $N"
	wait "$SINK_PID" || fail "$name: sink got $(jget "$T/$name-sink.json" .received) of $expect"
}

# finish NAME: wait until nfqe NAME decided all N packets, stop it
finish() {
	wait_for 10 packets_are "$1" $N || fail "$1: nfqe saw $(nq_stat "$1" .total.packets) of $N packets"
	stop_pid "$NFQE_PID"
	[ "$STOP_RC" = 0 ] || fail "$1: nfqe exit status $STOP_RC: $(cat "$T/$1.err")"
}

src_count() { jq -r --arg a "$2" '.per_src[$a] // 0' "$1"; }

# -- accept
conf accept 0:0 "rule = proto udp dport 9 accept" "default = drop"
run_nfqe accept
send accept $N
finish accept
[ "$(jget "$T/accept-sink.json" .received)" = $N ] || fail "accept: sink got $(jget "$T/accept-sink.json" .received)"
[ "$(jget "$T/accept.json" .total.accept)" = $N ] || fail "accept: nfqe accepted $(jget "$T/accept.json" .total.accept)"
ok "accept: $N of $N delivered and accepted"

# -- drop: 10.200.1.16/30 = 4 sources
conf drop 0:0 "rule = src 10.200.1.16/30 drop log" "default = accept"
run_nfqe drop
send drop $((N - 4 * PER_SRC))
wait_for 10 packets_are drop $N || fail "drop: nfqe saw $(nq_stat drop .total.packets) of $N packets"
"$NFQECTL" -s "$T/drop.sock" rules >"$T/drop.rules" || fail "drop: nfqectl rules"
printf '%7s %14s  %s\n' rule packets text 1 16 "src 10.200.1.16/30 drop log" default 48 accept \
	cached $((N - FLOWS)) "(the flow's cached decision)" | diff - "$T/drop.rules" >&2 ||
	fail "drop: nfqectl rules differs (above)"
finish drop
for i in $(seq 10 25); do
	got=$(src_count "$T/drop-sink.json" "10.200.1.$i")
	want=$PER_SRC
	[ "$i" -ge 16 ] && [ "$i" -le 19 ] && want=0
	[ "$got" = "$want" ] || fail "drop: sink got $got from 10.200.1.$i, want $want"
done
[ "$(jget "$T/drop.json" .total.drop)" = $((4 * PER_SRC)) ] ||
	fail "drop: nfqe dropped $(jget "$T/drop.json" .total.drop), want $((4 * PER_SRC))"
ok "drop: 10.200.1.16/30 dropped ($((4 * PER_SRC)) packets), the other 12 sources delivered"
# what decided them: each flow's first packet the rule list (the rule for
# the 4 sources' 16 flows, the default for the other 48), every later one
# the flow's cached decision
rules=$(jget "$T/drop.json" '.rules | "\(.list | length) \(.list[0].rule) \(.list[0].text)|\(.list[0].packets) \(.default.text) \(.default.packets) \(.cached)"')
[ "$rules" = "1 1 src 10.200.1.16/30 drop log|16 accept 48 $((N - FLOWS))" ] ||
	fail "drop: rule counters '$rules', want '1 1 src 10.200.1.16/30 drop log|16 accept 48 $((N - FLOWS))'"
ok "drop: rule 1 decided 16 flows, the default 48, the cache the other $((N - FLOWS)) packets (stats JSON, nfqectl rules)"
# "log": one line per dropped flow (its first packet; the cache decides
# the rest), each of the 16 flows once
grep -o 'rule 1 (drop): udp 10\.200\.1\.1[6-9]:400[0-3] -> 10\.200\.2\.2:9 on queue 0$' \
	"$T/drop.err" | sort -u >"$T/drop.logged"
[ "$(grep -c 'rule 1 (drop)' "$T/drop.err")" = 16 ] && [ "$(wc -l <"$T/drop.logged")" = 16 ] ||
	fail "drop: $(grep -c 'rule 1 (drop)' "$T/drop.err") log lines, $(wc -l <"$T/drop.logged") distinct flows; want 16 and 16: $(grep 'rule 1' "$T/drop.err" | head -3)"
[ "$(jget "$T/drop.json" '"\(.rules.log_written) \(.rules.log_suppressed)"')" = "16 0" ] ||
	fail "drop: log counters $(jget "$T/drop.json" '"\(.rules.log_written) \(.rules.log_suppressed)"'), want 16 0"
ok "drop: 'log' wrote one line for each of the 16 dropped flows"

# -- mark N/MASK over a queued mark: 0x100 | 0x2a for 10.200.1.10/31
$RTR_IPT -t mangle -A PREROUTING -p udp --dport 9 -j MARK --set-mark 0x100
$RTR_IPT -t mangle -A POSTROUTING -m mark --mark 0x12a -j ACCEPT
$RTR_IPT -t mangle -A POSTROUTING -m mark --mark 0x100 -j ACCEPT
conf mark 0:0 "rule = src 10.200.1.10/31 mark 0x2a/0xff" "default = accept"
run_nfqe mark
send mark $N
finish mark
mangle_count() {
	$RTR_IPT -t mangle -L POSTROUTING -v -x -n |
		awk -v m="$1" '$3 == "ACCEPT" && $0 ~ "mark match " m "$" { print $1; exit }'
}
got=$(mangle_count 0x12a)
[ "$got" = $((2 * PER_SRC)) ] || fail "mark: $got packets left the router with mark 0x12a, want $((2 * PER_SRC))"
got=$(mangle_count 0x100)
[ "$got" = $((14 * PER_SRC)) ] || fail "mark: $got packets kept mark 0x100, want $((14 * PER_SRC))"
[ "$(jget "$T/mark-sink.json" .received)" = $N ] || fail "mark: not all delivered"
ok "mark: $((2 * PER_SRC)) packets marked 0x12a (0x2a/0xff over 0x100), $((14 * PER_SRC)) kept 0x100"
$RTR_IPT -t mangle -F PREROUTING
$RTR_IPT -t mangle -F POSTROUTING

# -- repeat mark: marked packets skip the queue when they come back
$RTR_IPT -I NFQE 1 -m mark --mark 0x10 -j ACCEPT
conf repeat 0:0 "rule = proto udp repeat mark 0x10"
run_nfqe repeat
send repeat $N
finish repeat
[ "$(jget "$T/repeat.json" .total.packets)" = $N ] || fail "repeat: nfqe saw $(jget "$T/repeat.json" .total.packets) packets, want each of $N once"
[ "$(jget "$T/repeat.json" .total.repeat)" = $N ] || fail "repeat: $(jget "$T/repeat.json" .total.repeat) repeat verdicts"
[ "$(jget "$T/repeat.json" '.queues[0].kernel.id_sequence')" = $N ] || fail "repeat: the kernel queued $(jget "$T/repeat.json" '.queues[0].kernel.id_sequence') packets"
skipped=$($RTR_IPT -L NFQE 1 -v -x -n | awk '{ print $1 }')
[ "$skipped" = $N ] || fail "repeat: the mark rule skipped $skipped packets, want $N"
[ "$(jget "$T/repeat-sink.json" .received)" = $N ] || fail "repeat: not all delivered"
ok "repeat mark 0x10: each of $N packets queued once, then skipped by its mark, all delivered"
$RTR_IPT -D NFQE 1

# -- queue 3: a second nfqe takes what the first hands over
conf q3 3:3 "default = accept"
run_nfqe q3
Q3_PID=$NFQE_PID
conf q0 0:0 "rule = proto udp queue 3"
run_nfqe q0
send q0 $N
finish q0
wait_for 10 packets_are q3 $N || fail "queue: the queue-3 nfqe saw $(nq_stat q3 .total.packets) of $N"
NFQE_PID=$Q3_PID
finish q3
[ "$(jget "$T/q0.json" .total.queue_verdicts)" = $N ] || fail "queue: $(jget "$T/q0.json" .total.queue_verdicts) queue verdicts, want $N"
[ "$(jget "$T/q3.json" .total.accept)" = $N ] || fail "queue: queue 3 accepted $(jget "$T/q3.json" .total.accept)"
[ "$(jget "$T/q0-sink.json" .received)" = $N ] || fail "queue: not all delivered"
ok "queue 3: $N packets handed from queue 0 to the nfqe on queue 3, all delivered"
