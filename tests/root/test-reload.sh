#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Rules reload under traffic. Two configs written in turn to the same path,
#   A: drop 10.200.1.10/31      B: drop 10.200.1.12/31
# 20 SIGHUPs, each waited for ("reloaded:" in the log), while 16 sources
# send. Checks:
#  - the 12 sources neither config drops (10.200.1.14-25) lose nothing: the
#    sink's per-source iptables counters show every packet they sent;
#  - nothing is lost anywhere: delivered + dropped by nfqe == sent, and the
#    kernel dropped nothing (queues stay bound throughout);
#  - a broken config is refused with file:line in the log and the rules in
#    force stay (A);
#  - a burst sent after the last reload follows A exactly (sink per_src),
#    although the same flows had decisions cached under B: a reload flushes
#    them;
#  - with seccomp = yes, a reload resolves iif/oif names (if_nametoindex)
#    without the filter killing nfqe.
source "$(dirname "$0")/../lib.sh"
require_root

RELOADS=20
N1=80000	# storm: 16 sources, 64 flows, 5000 per source, 4 s at 20 kpps
N2=3200		# final burst: 200 per source
PER1=$((N1 / 16))
PER2=$((N2 / 16))

lab 16
"$NFQE" rules --queues 0:1 --mode forward --no-fanout |
	ip netns exec "$LAB_RTR" iptables-restore --noflush
SINK_IPT="ip netns exec $LAB_SINK iptables"
for i in $(seq 10 25); do
	$SINK_IPT -A INPUT -s "10.200.1.$i" -p udp --dport 9 -j ACCEPT
done
# src_in ADDR: packets from ADDR that reached the sink (kernel counter)
src_in() {
	$SINK_IPT -L INPUT -v -x -n | awk -v a="$1" '$3 == "ACCEPT" && $8 == a { print $1; exit }'
}
sink_total() {
	$SINK_IPT -L INPUT -v -x -n | awk '$3 == "ACCEPT" && $8 ~ /^10\.200\.1\./ { s += $1 } END { print s + 0 }'
}

CONF=$T/nfqe.conf
SOCK=$T/ctl-$$-$RANDOM.sock
# write_conf A|B|BAD: replace the config at $CONF (rename: never half-written)
write_conf() {
	local rules
	case $1 in
	A) rules="rule = src 10.200.1.10/31 drop" ;;
	B) rules="rule = src 10.200.1.12/31 drop" ;;
	BAD) rules=$'rule = src 10.200.1.10/31 drop\nrule = src 10.200.1.300 drop\nrule = dport 9-1 accept' ;;
	esac
	cat >"$CONF.tmp" <<CONF
[engine]
queues = 0:1
stats_json = $T/stats.json
[control]
socket = $SOCK
[rules]
$rules
default = accept
CONF
	mv "$CONF.tmp" "$CONF"
}
log_count() { grep -c "$1" "$T/nfqe.err" || true; }
reloads_are() { [ "$(log_count 'reloaded:')" = "$1" ]; }

write_conf A
start_nfqe nfqe "$CONF"
wait_for 10 test -S "$SOCK" || fail "nfqe did not start: $(cat "$T/nfqe.err")"

# -- the storm
start_sink storm-sink --timeout 120
run_gen storm-gen --flows 64 --sport 5000-5003 --count $N1 --rate 20000 &
GEN_PID=$!
PIDS+=("$GEN_PID")
for k in $(seq 1 $RELOADS); do
	if ((k % 2)); then write_conf B; else write_conf A; fi
	kill -HUP "$NFQE_PID"
	wait_for 10 reloads_are "$k" || fail "reload $k not applied: $(tail -3 "$T/nfqe.err")"
done
kill -0 "$GEN_PID" 2>/dev/null || fail "the generator ended before the $RELOADS reloads: nothing was tested under traffic"
ok "$RELOADS reloads applied while the generator was sending"
wait "$GEN_PID" || fail "generator: $(cat "$T/storm-gen.err")"
[ "$(jget "$T/storm-gen.json" .sent)" = $N1 ] || fail "generator sent $(jget "$T/storm-gen.json" .sent) of $N1"

stats() { "$NFQE_BUILD_ROOT/engine/nfqectl" -s "$SOCK" stats --json >"$T/live.json" && jget "$T/live.json" "$1"; }
packets_are() { [ "$(stats .total.packets)" = "$1" ]; }
wait_for 10 packets_are $N1 || fail "nfqe saw $(stats .total.packets) of $N1 packets"
accepted=$(stats .total.accept)
dropped=$(stats .total.drop)
[ $((accepted + dropped)) = $N1 ] || fail "accepted $accepted + dropped $dropped != $N1"
delivered_all() { [ "$(sink_total)" = "$accepted" ]; }
wait_for 10 delivered_all || fail "sink counted $(sink_total) packets, nfqe accepted $accepted"
for i in $(seq 14 25); do
	got=$(src_in "10.200.1.$i")
	[ "$got" = $PER1 ] || fail "10.200.1.$i: $got of $PER1 delivered during the reloads"
done
[ "$dropped" -gt 0 ] || fail "no packet dropped: the rules were not in force"
for f in queue_dropped user_dropped; do
	[ "$(jget "$T/live.json" .total.kernel.$f)" = 0 ] || fail "kernel $f: $(jget "$T/live.json" .total.kernel.$f)"
done
ok "storm: 12 untouched sources delivered all $((12 * PER1)), $accepted delivered + $dropped dropped = $N1, kernel lost none"
kill -TERM "$SINK_PID"
wait "$SINK_PID" || true

# -- a broken config keeps the running rules (A, from the 20th reload)
write_conf BAD
kill -HUP "$NFQE_PID"
wait_for 10 grep -q "reload failed" "$T/nfqe.err" || fail "bad config: no 'reload failed' logged"
grep -qF "$CONF:8: rule: src: '10.200.1.300' is not an address or CIDR" "$T/nfqe.err" ||
	fail "bad config: no file:line for line 8: $(tail -4 "$T/nfqe.err")"
grep -qF "$CONF:9: rule: dport: range '9-1' is empty (9 > 1)" "$T/nfqe.err" ||
	fail "bad config: no file:line for line 9: $(tail -4 "$T/nfqe.err")"
reloads_are $RELOADS || fail "a bad config was applied"
ok "bad config refused, both errors logged with file:line"

# -- the burst after the last reload follows A, on flows cached under B
start_sink burst-sink --expect $((N2 - 2 * PER2)) --timeout 30
run_gen burst-gen --flows 64 --sport 5000-5003 --count $N2 --rate 20000
wait "$SINK_PID" || fail "burst: sink got $(jget "$T/burst-sink.json" .received) of $((N2 - 2 * PER2))"
wait_for 10 packets_are $((N1 + N2)) || fail "nfqe saw $(stats .total.packets) of $((N1 + N2))"
for i in $(seq 10 25); do
	got=$(jq -r --arg a "10.200.1.$i" '.per_src[$a] // 0' "$T/burst-sink.json")
	want=$PER2
	[ "$i" -le 11 ] && want=0
	[ "$got" = "$want" ] || fail "burst: 10.200.1.$i delivered $got, want $want (rules A)"
done
[ "$(stats .total.drop)" = $((dropped + 2 * PER2)) ] || fail "burst: nfqe dropped $(( $(stats .total.drop) - dropped )), want $((2 * PER2))"
ok "burst after the last reload: 10.200.1.10/31 dropped, all else delivered (per_src)"

stop_pid "$NFQE_PID"
[ "$STOP_RC" = 0 ] || fail "nfqe exit status $STOP_RC: $(tail -5 "$T/nfqe.err")"

# -- iif/oif names resolved by a reload under the seccomp filter
cat >"$T/sc.conf" <<CONF
[engine]
queues = 5
seccomp = yes
[control]
socket = $T/sc-$$.sock
[rules]
rule = iif $LAB_RTR_IN oif $LAB_RTR_OUT accept
CONF
if ! ip netns exec "$LAB_RTR" "$NFQE" --check -c "$T/sc.conf" >"$T/sc.check" 2>&1; then
	grep -q "seccomp" "$T/sc.check" || fail "seccomp config refused: $(cat "$T/sc.check")"
	ok "no seccomp in this build: $(head -1 "$T/sc.check")"
	exit 0
fi
ip netns exec "$LAB_RTR" "$NFQE" -c "$T/sc.conf" >"$T/sc.out" 2>"$T/sc.err" &
SC_PID=$!
PIDS+=("$SC_PID")
wait_for 10 test -S "$T/sc-$$.sock" || fail "seccomp nfqe did not start: $(cat "$T/sc.err")"
kill -HUP "$SC_PID"
sc_reloaded() { grep -q "reloaded:" "$T/sc.err" || ! kill -0 "$SC_PID" 2>/dev/null; }
wait_for 10 sc_reloaded || fail "seccomp nfqe: no reload logged"
kill -0 "$SC_PID" 2>/dev/null || fail "seccomp nfqe died in a reload with iif/oif: $(tail -3 "$T/sc.err")"
stop_pid "$SC_PID"
[ "$STOP_RC" = 0 ] || fail "seccomp nfqe exit status $STOP_RC"
ok "seccomp = yes: a reload resolved iif/oif and nfqe lives"
