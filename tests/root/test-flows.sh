#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Every packet is attributed to its flow in the shared flow table: 64 flows
# over 2 queues give exactly 64 flow records of 100 packets each, shown by
# the stats, `nfqectl flows` and the SIGUSR2 dump. Then a table capped at
# 1024 flows takes 4096 new flows: all packets are still delivered, the
# table never holds more than its cap, and the overflow is counted.
source "$(dirname "$0")/../lib.sh"
require_root
NFQECTL=$NFQE_BUILD_ROOT/engine/nfqectl

lab 16
"$NFQE" rules --queues 0:1 | ip netns exec "$LAB_RTR" iptables-restore --noflush

# -- 64 flows, 100 packets each
cat >"$T/a.conf" <<CONF
[engine]
queues = 0:1
stats_json = $T/a.json
[control]
socket = $T/a.sock
CONF
start_nfqe a "$T/a.conf"
wait_for 10 test -S "$T/a.sock" || fail "nfqe did not start: $(cat "$T/a.err")"
start_sink a-sink --expect 6400 --timeout 60
run_gen a-gen --flows 64 --sport 6000-6003 --count 6400 --rate 20000
wait "$SINK_PID" || fail "sink did not get 6400 packets"

"$NFQECTL" -s "$T/a.sock" flows --top 100 >"$T/flows.txt" || fail "nfqectl flows failed"
rows=$(grep -c '^17 ' "$T/flows.txt" || true)
[ "$rows" = 64 ] || fail "nfqectl flows lists $rows UDP flows, expected 64: $(head -5 "$T/flows.txt")"
bad=$(awk '$1 == 17 && ($5 != 100 || $6 != 0)' "$T/flows.txt" | wc -l)
[ "$bad" = 0 ] || fail "flows without exactly 100 original packets: $(awk '$1 == 17 && $5 != 100' "$T/flows.txt" | head -3)"
grep -q "10.200.2.2:9" "$T/flows.txt" || fail "flow destinations missing"
ok "nfqectl flows: 64 flows of 100 packets"

kill -USR2 "$NFQE_PID"
wait_for 5 grep -q "10.200.2.2:9" "$T/a.err" || fail "SIGUSR2 printed no flows"
ok "SIGUSR2 dumps the top flows"

stop_pid "$NFQE_PID"; [ "$STOP_RC" = 0 ] || fail "nfqe exit status $STOP_RC"
S=$T/a.json
[ "$(jget "$S" .flows.created)" = 64 ] || fail "flows created $(jget "$S" .flows.created), expected 64"
[ "$(jget "$S" .flows.live)" = 64 ] || fail "flows live $(jget "$S" .flows.live)"
[ "$(jget "$S" .total.flow_untracked)" = 0 ] || fail "untracked packets"
[ "$(jget "$S" .total.packets)" = 6400 ] || fail "packets"
ok "stats: 64 flows created, 0 untracked"

# -- the cap: 4096 new flows into a table of 1024
cat >"$T/b.conf" <<CONF
[engine]
queues = 0:1
stats_json = $T/b.json
[control]
socket = $T/b.sock
[flows]
flow_max = 1024
CONF
start_nfqe b "$T/b.conf"
wait_for 10 test -S "$T/b.sock" || fail "nfqe did not start: $(cat "$T/b.err")"
start_sink b-sink --expect 8192 --timeout 60
run_gen b-gen --flows 4096 --sport 7000-7255 --count 8192 --rate 20000
wait "$SINK_PID" || fail "at the cap packets were lost: sink got $(jget "$T/b-sink.json" .received)"
stop_pid "$NFQE_PID"; [ "$STOP_RC" = 0 ] || fail "nfqe exit status $STOP_RC"
S=$T/b.json
live=$(jget "$S" .flows.live)
full=$(jget "$S" .flows.full)
untracked=$(jget "$S" .total.flow_untracked)
[ "$live" -le 1024 ] || fail "live flows $live above the cap"
[ "$full" -gt 0 ] || fail "no 'full' events counted"
[ "$untracked" -gt 0 ] || fail "no untracked packets counted"
[ "$(jget "$S" .total.accept)" = 8192 ] || fail "not every packet decided"
ok "cap 1024: $live live, $full not stored, $untracked packets untracked, all 8192 delivered"
