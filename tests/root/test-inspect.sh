#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Inspector plug-ins in the data path (rules "inspect NAME"):
#  - content: the string "nfqe" (every generated packet) drops every flow;
#    a string and a regex naming flow indexes 1 and 5 drop only those two
#    flows, the other 14 arrive whole (per source address in the sink JSON);
#  - dns: queries for blocked names (exact, subdomain, other case) and a
#    malformed query never reach the sink, the others all do, also when a
#    blocked query shares its 5-tuple with fine ones (verdicts per packet).
# The per-instance counters (stats JSON "inspectors", nfqectl metrics) match
# the traffic: the plug-in decides a flow once, later packets come from the
# cached decision; dns counts one verdict per query.
# Exits 77 when nfqe --check does not know the [rules] section yet.
source "$(dirname "$0")/../lib.sh"
require_root
PLUGINS=$NFQE_BUILD_ROOT/plugins
DNSQ=$NFQE_BUILD_ROOT/tests/dns-query
NFQECTL=$NFQE_BUILD_ROOT/engine/nfqectl
[ -e "$PLUGINS/content.so" ] && [ -e "$PLUGINS/dns.so" ] || skip "plug-ins not built"
[ -x "$DNSQ" ] || skip "tests/dns-query not built"

# -- is the policy ([rules], inspect NAME) in this nfqe?
cat >"$T/check.conf" <<CONF
[rules]
rule = proto udp dport 9 inspect c
default = accept
[inspector c]
path = $PLUGINS/content.so
string = nfqe
CONF
if ! "$NFQE" --check -c "$T/check.conf" >"$T/check.out" 2>&1; then
	grep -q 'unknown section \[rules\]' "$T/check.out" &&
		skip "policy not built: nfqe --check rejects [rules]: $(head -1 "$T/check.out")"
	fail "nfqe --check refused the config: $(cat "$T/check.out")"
fi
ok "nfqe --check accepts [rules] with inspect and [inspector]"

# the ABI check reaches the user with file:line
if [ -e "$NFQE_BUILD_ROOT/tests/plugin-badabi.so" ]; then
	cat >"$T/bad.conf" <<CONF
[rules]
rule = proto udp dport 9 inspect bad
[inspector bad]
path = $NFQE_BUILD_ROOT/tests/plugin-badabi.so
CONF
	"$NFQE" --check -c "$T/bad.conf" >"$T/bad.out" 2>&1 &&
		fail "nfqe --check took a plug-in with the wrong ABI"
	grep -q "bad.conf:4: path: .*ABI version" "$T/bad.out" ||
		fail "no file:line ABI error: $(cat "$T/bad.out")"
	ok "ABI mismatch refused at bad.conf:4"
fi

lab 16
"$NFQE" rules --queues 0:1 --mode forward --no-fanout |
	ip netns exec "$LAB_RTR" iptables-restore --noflush

# source address of generator flow $1 (--flows 16 over 16 addresses, one
# source port: flow i comes from LAB_SRC_FIRST + i)
src_of() {
	local a b c d
	IFS=. read -r a b c d <<<"$LAB_SRC_FIRST"
	echo "$a.$b.$c.$((d + $1))"
}

# every packet queued so far ($1 in all) has got its verdict
all_verdicted() {
	[ "$(kqueues_sum "$LAB_RTR" 8)" -ge "$1" ] && [ "$(kqueues_sum "$LAB_RTR" 3)" = 0 ]
}

# insp STATS NAME JQ: a counter of inspector NAME in the stats JSON
insp() { jq -r --arg n "$2" ".inspectors[] | select(.name == \$n) | $3" "$1"; }

# insp_want STATS NAME JQ=VALUE...: each counter has its value
insp_want() {
	local stats=$1 name=$2 kv got
	shift 2
	for kv in "$@"; do
		got=$(insp "$stats" "$name" "${kv%%=*}")
		[ "$got" = "${kv#*=}" ] || fail "inspector $name: ${kv%%=*} is $got, want ${kv#*=}"
	done
}

start_run() {
	start_nfqe "$1" "$T/$1.conf"
	wait_for 10 queues_bound "$LAB_RTR" 0 1 || fail "queues not bound: $(cat "$T/$1.err")"
}

# -- 1. content "nfqe": every flow dropped
FLOWS=16 PER=50
N=$((FLOWS * PER))
cat >"$T/all.conf" <<CONF
[engine]
queues = 0:1
stats_json = $T/all-stats.json
[control]
socket = $T/all-$$-$RANDOM.sock
[rules]
rule = proto udp dport 9 inspect all
default = accept
[inspector all]
path = $PLUGINS/content.so
string = nfqe
CONF
start_run all
start_sink all-sink --timeout 60
run_gen all-gen --flows $FLOWS --sport 2000 --count $N --rate 20000
wait_for 20 all_verdicted $N || fail "nfqe did not verdict $N packets"
kill -TERM "$SINK_PID"; wait "$SINK_PID" || true
got=$(jget "$T/all-sink.json" .received)
[ "$got" = 0 ] || fail "content 'nfqe': $got packets reached the sink"
stop_pid "$NFQE_PID"; [ "$STOP_RC" = 0 ] || fail "nfqe exit status: $(cat "$T/all.err")"
[ "$(jget "$T/all-stats.json" .total.drop)" = $N ] ||
	fail "nfqe dropped $(jget "$T/all-stats.json" .total.drop) of $N"
ok "content 'nfqe': all $N packets of $FLOWS flows dropped"
# each flow's first packet: the plug-in's final drop, cached on the flow;
# the engine decides the rest without asking the inspector again
S=$T/all-stats.json
insp_want "$S" all .plugin=content .packets=$FLOWS .verdicts.flow_drop=$FLOWS \
	.verdicts.accept=0 .verdicts.more=0 .errors=0 .cached=0
[ "$(jq '.inspectors | length' "$S")" = 1 ] || fail "stats JSON: $(jq -c .inspectors "$S")"
ok "content 'nfqe': stats JSON counts $FLOWS inspected packets, $FLOWS flow drops"

# -- 2. content on flow indexes 1 (string) and 5 (regex): only those
cat >"$T/some.conf" <<CONF
[engine]
queues = 0:1
stats_json = $T/some-stats.json
[control]
socket = $T/some.sock
[rules]
rule = proto udp dport 9 inspect some log
rule = proto udp dport 53 inspect dns
default = accept
[inspector some]
path = $PLUGINS/content.so
string = nfqe\x00\x00\x00\x01
regex = ^nfqe\x00{3}\x05
depth = 2
[inspector dns]
path = $PLUGINS/dns.so
block = example.com
block = blocked.test
malformed = drop
CONF
start_run some
EXPECT=$(((FLOWS - 2) * PER))
start_sink some-sink --expect $EXPECT --timeout 60
run_gen some-gen --flows $FLOWS --sport 2000 --count $N --rate 20000
wait "$SINK_PID" || fail "sink did not get $EXPECT packets: $(cat "$T/some-sink.json")"
wait_for 20 all_verdicted $N || fail "nfqe did not verdict $N packets"
S=$T/some-sink.json
for i in $(seq 0 $((FLOWS - 1))); do
	want=$PER
	[ "$i" = 1 ] || [ "$i" = 5 ] && want=null
	got=$(jq -r --arg a "$(src_of "$i")" '.per_src[$a]' "$S")
	[ "$got" = "$want" ] || fail "flow $i from $(src_of "$i"): $got packets, expected $want"
done
[ "$(jget "$S" .received)" = $EXPECT ] || fail "sink received $(jget "$S" .received), expected $EXPECT"
ok "content string/regex: flows 1 and 5 dropped, the other 14 got all $PER packets"
# "log" on an inspect rule: a line for each flow the inspector dropped,
# none for what it passed (on either queue)
grep -o 'rule 1 (.*' "$T/some.err" | sed 's/ on queue [01]$/ on queue Q/' | sort >"$T/some.logged"
printf 'rule 1 (inspect some: flow_drop): udp %s:2000 -> %s:9 on queue Q\n' \
	"$(src_of 1)" "$LAB_SINK_ADDR" "$(src_of 5)" "$LAB_SINK_ADDR" | sort >"$T/some.want"
diff "$T/some.want" "$T/some.logged" >&2 || fail "log lines differ (above)"
ok "inspect ... log: one line for each of the 2 flows the inspector dropped"

# -- 3. dns: blocked names never arrive, the others do (same nfqe)
start_sink dns-sink --port 53 --timeout 60 --expect 25
q() { ip netns exec "$LAB_SND" "$DNSQ" --dst "$LAB_SINK_ADDR" --count 5 "$@"; }
# blocked: addresses 0..3, in order: exact, subdomain, case, malformed
q --src "$(src_of 0)" example.com
q --src "$(src_of 1)" www.example.com
q --src "$(src_of 2)" WWW.Example.COM
q --src "$(src_of 3)" --raw 1234010000010000000000000178c00c00010001
# allowed: addresses 4..6
q --src "$(src_of 4)" notexample.com
q --src "$(src_of 5)" example.org
q --src "$(src_of 6)" example.com.other.net
# per packet, not per flow: one socket asks fine, blocked, fine again
q --src "$(src_of 7)" example.net blocked.test example.net
wait "$SINK_PID" || fail "dns sink did not get 25 queries: $(cat "$T/dns-sink.json")"
wait_for 20 all_verdicted $((N + 50)) || fail "nfqe did not verdict every query"
S=$T/dns-sink.json
for i in 0 1 2 3; do
	got=$(jq -r --arg a "$(src_of "$i")" '.per_src[$a]' "$S")
	[ "$got" = null ] || fail "blocked query $i: $got arrived"
done
for i in 4 5 6; do
	got=$(jq -r --arg a "$(src_of "$i")" '.per_src[$a]' "$S")
	[ "$got" = 5 ] || fail "allowed query $i: $got of 5 arrived"
done
got=$(jq -r --arg a "$(src_of 7)" '.per_src[$a]' "$S")
[ "$got" = 10 ] || fail "one 5-tuple, 10 fine and 5 blocked queries: $got arrived"
[ "$(jget "$S" .received)" = 25 ] || fail "dns sink received $(jget "$S" .received), expected 25"
ok "dns: blocked (exact, subdomain, case, malformed) dropped, 3 other names passed, verdicts per packet"

# the live exposition: 25 queries dropped, 25 passed, one verdict each
"$NFQECTL" -s "$T/some.sock" metrics >"$T/some.prom" || fail "nfqectl metrics"
for kv in 'nfqe_inspector_packets_total{inspector="dns"}=50' \
	'nfqe_inspector_verdicts_total{inspector="dns",verdict="drop"}=25' \
	'nfqe_inspector_verdicts_total{inspector="dns",verdict="accept"}=25' \
	'nfqe_inspector_errors_total{inspector="dns"}=0' \
	'nfqe_inspector_verdicts_total{inspector="some",verdict="flow_drop"}=2'; do
	[ "$(metric "${kv%=*}" "$T/some.prom")" = "${kv##*=}" ] ||
		fail "nfqectl metrics: ${kv%=*} is $(metric "${kv%=*}" "$T/some.prom"), want ${kv##*=}"
done
ok "nfqectl metrics: dns 50 queries inspected, 25 dropped, 25 accepted"

stop_pid "$NFQE_PID"; [ "$STOP_RC" = 0 ] || fail "nfqe exit status: $(cat "$T/some.err")"
# some: 14 flows need a second packet (depth 2) and are then accepted
# whole; flows 1 and 5 are dropped at their first
S=$T/some-stats.json
insp_want "$S" some .packets=$(( (FLOWS - 2) * 2 + 2 )) .verdicts.more=$((FLOWS - 2)) \
	.verdicts.flow_accept=$((FLOWS - 2)) .verdicts.flow_drop=2 .errors=0
insp_want "$S" dns .plugin=dns .packets=50 .verdicts.drop=25 .verdicts.accept=25 .errors=0
ok "stats JSON: some inspected $(insp "$S" some .packets) packets of $FLOWS flows, dns 50 queries"
# log lines only (the exit report's counters say "errors" too)
said=$(grep '^nfqe: ' "$T/some.err" | grep -i 'error\|warn' | head -3 || true)
[ -z "$said" ] || echo "note: nfqe said: $said"
ok "nfqe stopped cleanly"
