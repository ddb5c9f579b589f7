#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# [control] metrics_listen: Prometheus scrapes GET /metrics over HTTP.
#  1. After N packets (seccomp on): 200, the exposition's content type, the
#     same families as `nfqectl metrics`, N packets counted, the process
#     families (start time within the test, resident memory, CPU);
#     promtool accepts it. 404 for another path, 405 (Allow: GET, HEAD) for POST,
#     HEAD gives the headers only.
#  2. Connections that send nothing hold neither the main loop nor the
#     control socket: scrapes and nfqectl answer meanwhile, and nfqe
#     closes the silent ones after its connection timeout (10 s).
#  3. A reload that changes metrics_listen keeps the running listener and
#     says a restart is needed.
#  4. A second nfqe on the same address: a clear error, exit 1. A bad
#     address: --check names file:line.
#  5. nfqe --takeover: the old one lets the address go, the new one serves
#     it (its own counters); after SIGTERM nothing listens.
#  6. A takeover whose address another process holds: the new nfqe takes
#     the queues over anyway (the same sockets), without the listener, and
#     says so.
#  7. IPv6: [::1]:PORT.
source "$(dirname "$0")/../lib.sh"
require_root
command -v curl >/dev/null || skip "curl is not installed"
NFQECTL=$NFQE_BUILD_ROOT/engine/nfqectl
N=2000
PORT=9477

lab 16
"$NFQE" rules --queues 0:1 | ip netns exec "$LAB_RTR" iptables-restore --noflush
SOCK=$T/ctl.sock
cat >"$T/nfqe.conf" <<CONF
[engine]
queues = 0:1
seccomp = yes
[control]
socket = $SOCK
metrics_listen = 127.0.0.1:$PORT
CONF

# scrape PATH OUT [curl args]: the status code; body in OUT, headers in
# OUT.hdr
scrape() {
	local path=$1 out=$2; shift 2
	ip netns exec "$LAB_RTR" curl -sS --max-time 5 -o "$out" -D "$out.hdr" \
		-w '%{http_code}' "$@" "http://127.0.0.1:$PORT$path" 2>"$out.err" || true
}
header() { tr -d '\r' <"$1.hdr" | awk -v h="$2" 'tolower($0) ~ "^" tolower(h) ": " { sub(/^[^:]*: /, ""); print }'; }
families() { awk '$1 == "#" && $2 == "TYPE" { print $3 }' "$1" | sort; }
ctl() { ip netns exec "$LAB_RTR" "$NFQECTL" -s "$SOCK" "$@"; }

# -- 1
t_start=$(date +%s)
start_nfqe nfqe "$T/nfqe.conf"
wait_for 10 test -S "$SOCK" || fail "nfqe did not start: $(cat "$T/nfqe.err")"
grep -q "metrics at http://127.0.0.1:$PORT/metrics" "$T/nfqe.err" ||
	fail "no listener logged: $(cat "$T/nfqe.err")"
start_sink sink --expect $N --timeout 30
run_gen gen --flows 16 --sport 4000-4003 --count $N --rate 20000
wait "$SINK_PID" || fail "sink got $(jget "$T/sink.json" .received) of $N"

code=$(scrape /metrics "$T/m.prom")
[ "$code" = 200 ] || fail "GET /metrics: $code $(cat "$T/m.prom.err")"
[ "$(header "$T/m.prom" Content-Type)" = "text/plain; version=0.0.4; charset=utf-8" ] ||
	fail "content type '$(header "$T/m.prom" Content-Type)'"
[ "$(sum_metric nfqe_packets_total '' "$T/m.prom")" = $N ] ||
	fail "nfqe_packets_total $(sum_metric nfqe_packets_total '' "$T/m.prom"), want $N"
ctl metrics >"$T/ctl.prom"
[ "$(families "$T/m.prom")" = "$(families "$T/ctl.prom")" ] ||
	fail "families differ from nfqectl metrics: $(diff <(families "$T/m.prom") <(families "$T/ctl.prom"))"
[ "$(families "$T/m.prom" | wc -l)" -gt 20 ] || fail "only $(families "$T/m.prom" | wc -l) families"
if command -v promtool >/dev/null; then
	promtool check metrics <"$T/m.prom" || fail "promtool check metrics"
	how="promtool: ok"
else
	how="promtool not installed"
fi
# the process families: started in this test, resident, some CPU
start1=$(metric process_start_time_seconds "$T/m.prom")
awk -v s="${start1:-0}" -v a="$t_start" -v b="$(date +%s)" 'BEGIN { exit !(s >= a - 1 && s <= b + 1) }' ||
	fail "process_start_time_seconds '$start1' not within $t_start..now"
awk -v m="$(metric process_resident_memory_bytes "$T/m.prom")" 'BEGIN { exit !(m > 1048576) }' ||
	fail "process_resident_memory_bytes '$(metric process_resident_memory_bytes "$T/m.prom")'"
[ -n "$(metric process_cpu_seconds_total "$T/m.prom")" ] || fail "no process_cpu_seconds_total"
ok "GET /metrics: 200, $(families "$T/m.prom" | wc -l) families as nfqectl's, $N packets; $how;" \
	"started $start1"

code=$(scrape /nope "$T/nope")
[ "$code" = 404 ] || fail "GET /nope: $code"
code=$(scrape /metrics "$T/post" -X POST --data x=1)
[ "$code" = 405 ] || fail "POST /metrics: $code"
[ "$(header "$T/post" Allow)" = "GET, HEAD" ] || fail "405 without Allow: GET, HEAD"
code=$(scrape /metrics "$T/head" -I)
[ "$code" = 200 ] && [ "$(header "$T/head" Content-Length)" -gt 0 ] &&
	grep -q '^HTTP/1.1 200' "$T/head" ||
	fail "HEAD /metrics: $code, $(cat "$T/head.hdr")"
ok "404 for /nope, 405 with Allow for POST, HEAD 200 without a body"

# -- 2: four connections that send nothing; each holder waits up to 30 s
# for the server to close (read's status 1: end of file; > 128: timed out)
SILENT=()
for i in 1 2 3 4; do
	ip netns exec "$LAB_RTR" bash -c "exec 3<>/dev/tcp/127.0.0.1/$PORT && echo open >'$T/silent-$i' && read -t 30 -u 3" &
	SILENT+=($!)
	PIDS+=($!)
done
t0=$SECONDS
opened() { for i in 1 2 3 4; do [ -s "$T/silent-$i" ] || return 1; done; }
wait_for 10 opened || fail "the silent connections did not open"
code=$(scrape /metrics "$T/m2.prom")
[ "$code" = 200 ] || fail "a scrape beside 4 silent connections: $code"
ctl status >/dev/null || fail "control socket stuck beside silent connections"
for p in "${SILENT[@]}"; do
	rc=0; wait "$p" || rc=$?
	[ "$rc" = 1 ] || fail "a silent connection was not closed by nfqe (status $rc)"
done
dt=$((SECONDS - t0))
[ "$dt" -ge 8 ] && [ "$dt" -le 20 ] || fail "silent connections closed after $dt s, want about 10"
ok "4 silent connections: scrapes and nfqectl answered meanwhile; nfqe closed them after $dt s"

# -- 3
sed -i "s/^metrics_listen = .*/metrics_listen = 127.0.0.1:$((PORT + 1))/" "$T/nfqe.conf"
ctl reload >"$T/reload.out" || fail "reload: $(cat "$T/reload.out")"
grep -q "reload: metrics_listen changed; these need a restart" "$T/nfqe.err" ||
	fail "reload did not say metrics_listen needs a restart: $(tail -3 "$T/nfqe.err")"
code=$(scrape /metrics "$T/m3.prom")
[ "$code" = 200 ] || fail "after the reload the listener is gone: $code"
sed -i "s/^metrics_listen = .*/metrics_listen = 127.0.0.1:$PORT/" "$T/nfqe.conf"
ok "reload: metrics_listen needs a restart (said), the listener kept"

# -- 4
sed -e "s/^queues = .*/queues = 2:2/" -e "s|^socket = .*|socket = $T/ctl2.sock|" \
	"$T/nfqe.conf" >"$T/second.conf"
rc=0
ip netns exec "$LAB_RTR" "$NFQE" -c "$T/second.conf" >/dev/null 2>"$T/second.err" || rc=$?
[ "$rc" = 1 ] || fail "a second nfqe on the same address: exit $rc"
grep -q "metrics_listen 127.0.0.1:$PORT: .*in use" "$T/second.err" ||
	fail "unclear error: $(cat "$T/second.err")"
[ -z "$(kqueue_row "$LAB_RTR" 2)" ] || fail "the second nfqe left queue 2 bound"
printf '[control]\nsocket =\n\nmetrics_listen = localhost:%s\n' $PORT >"$T/bad.conf"
rc=0
"$NFQE" --check -c "$T/bad.conf" >"$T/bad.out" 2>&1 || rc=$?
[ "$rc" != 0 ] || fail "--check accepted metrics_listen = localhost:$PORT"
grep -q "bad.conf:4: metrics_listen: 'localhost:$PORT' is not ADDRESS:PORT" "$T/bad.out" ||
	fail "unclear error: $(cat "$T/bad.out")"
ok "address in use: '$(grep -o "metrics_listen 127.*" "$T/second.err" | head -1)'; bad address: file:line"

# -- 5
ip netns exec "$LAB_RTR" "$NFQE" --takeover -c "$T/nfqe.conf" >"$T/new.out" 2>"$T/new.err" &
NEW=$!
PIDS+=("$NEW")
rc=0; wait "$NFQE_PID" || rc=$?
[ "$rc" = 0 ] || fail "the old nfqe exited $rc: $(tail -5 "$T/nfqe.err")"
wait_for 10 grep -q "took over queues 0:1" "$T/new.err" ||
	fail "no takeover: $(cat "$T/new.err")"
grep -q "metrics at http://127.0.0.1:$PORT/metrics" "$T/new.err" ||
	fail "the new nfqe does not listen: $(cat "$T/new.err")"
code=$(scrape /metrics "$T/m5.prom")
[ "$code" = 200 ] || fail "no scrape after the takeover: $code"
[ "$(sum_metric nfqe_packets_total '' "$T/m5.prom")" = 0 ] ||
	fail "after the takeover: packets $(sum_metric nfqe_packets_total '' "$T/m5.prom"), want the new nfqe's 0"
start5=$(metric process_start_time_seconds "$T/m5.prom")
awk -v a="$start1" -v b="${start5:-0}" 'BEGIN { exit !(b > a) }' ||
	fail "after the takeover: start time $start5, not after the old one's $start1"
ERR_OF[$NEW]=$T/new.err
stop_pid "$NEW"
[ "$STOP_RC" = 0 ] || fail "the new nfqe exited $STOP_RC"
code=$(scrape /metrics "$T/m6.prom")
[ "$code" = 000 ] || fail "something still answers after the stop: $code"
ok "takeover: the new nfqe serves the address (its own counters, start time $start5); nothing after SIGTERM"

# -- 6: the squatter is another nfqe (queue 2) on the address
sed -e "s/^queues = .*/queues = 2:2/" -e "s|^socket = .*|socket = $T/ctl3.sock|" \
	"$T/nfqe.conf" >"$T/squat.conf"
start_nfqe squat "$T/squat.conf"
SQUAT=$NFQE_PID
wait_for 10 test -S "$T/ctl3.sock" || fail "squatter did not start: $(cat "$T/squat.err")"
sed "s/^metrics_listen = .*/metrics_listen =/" "$T/nfqe.conf" >"$T/plain.conf"
start_nfqe plain "$T/plain.conf"
wait_for 10 test -S "$SOCK" || fail "nfqe did not start: $(cat "$T/plain.err")"
portids=$(kqueue_row "$LAB_RTR" 0 | awk '{print $2}')-$(kqueue_row "$LAB_RTR" 1 | awk '{print $2}')
ip netns exec "$LAB_RTR" "$NFQE" --takeover -c "$T/nfqe.conf" >"$T/new2.out" 2>"$T/new2.err" &
NEW=$!
PIDS+=("$NEW")
ERR_OF[$NEW]=$T/new2.err
rc=0; wait "$NFQE_PID" || rc=$?
[ "$rc" = 0 ] || fail "the old nfqe exited $rc: $(tail -5 "$T/plain.err")"
wait_for 10 grep -q "took over queues 0:1" "$T/new2.err" ||
	fail "no takeover: $(cat "$T/new2.err")"
grep -q "metrics_listen 127.0.0.1:$PORT: Address already in use; taking the queues over without it" \
	"$T/new2.err" || fail "not said: $(cat "$T/new2.err")"
wait_for 10 test -S "$SOCK" || fail "the new nfqe has no control socket"
ctl status >/dev/null || fail "the new nfqe does not answer"
now=$(kqueue_row "$LAB_RTR" 0 | awk '{print $2}')-$(kqueue_row "$LAB_RTR" 1 | awk '{print $2}')
[ "$now" = "$portids" ] || fail "the queues changed sockets ($portids -> $now)"
stop_pid "$NEW"
[ "$STOP_RC" = 0 ] || fail "the new nfqe exited $STOP_RC"
stop_pid "$SQUAT"
[ "$STOP_RC" = 0 ] || fail "the squatter exited $STOP_RC"
ok "takeover with the address taken: queues taken over (sockets $now), no listener, said so"

# -- 7: the lab turns IPv6 off; the router's loopback gets ::1 back
ip netns exec "$LAB_RTR" sysctl -qw net.ipv6.conf.lo.disable_ipv6=0
wait_for 5 ip netns exec "$LAB_RTR" ip -6 addr show dev lo scope host | grep -q '::1/128' ||
	fail "no ::1 on the router's loopback"
printf '[engine]\nqueues = 4:4\n[control]\nsocket =\nmetrics_listen = [::1]:%s\n' $PORT >"$T/v6.conf"
start_nfqe v6 "$T/v6.conf"
wait_for 10 grep -q "metrics at http://\[::1\]:$PORT/metrics" "$T/v6.err" ||
	fail "no IPv6 listener: $(cat "$T/v6.err")"
code=$(ip netns exec "$LAB_RTR" curl -sS -g --max-time 5 -o "$T/v6.prom" -w '%{http_code}' \
	"http://[::1]:$PORT/metrics" 2>"$T/v6.curl" || true)
[ "$code" = 200 ] || fail "GET http://[::1]:$PORT/metrics: $code $(cat "$T/v6.curl")"
grep -q '^nfqe_queue_bound{queue="4"} 1$' "$T/v6.prom" || fail "not this nfqe's exposition"
code=$(scrape /metrics "$T/v4.prom")
[ "$code" = 000 ] || fail "an IPv6 listener answers on 127.0.0.1 too: $code"
stop_pid "$NFQE_PID"
[ "$STOP_RC" = 0 ] || fail "nfqe exited $STOP_RC"
ok "IPv6: [::1]:$PORT serves /metrics (and only there)"
