#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Operating nfqe: the control socket and every nfqectl command against a
# known amount of traffic, who may use the socket, the metrics textfile,
# and the sd_notify messages (READY, WATCHDOG, RELOADING, STOPPING) as a
# service manager would receive them.
source "$(dirname "$0")/lib.sh"
require_root
command -v setpriv >/dev/null || skip "setpriv not installed (util-linux)"
id nobody >/dev/null 2>&1 && getent group nogroup >/dev/null ||
	skip "no user nobody or group nogroup"
LISTEN=$NFQE_BUILD_ROOT/tests/notify-listen
[ -x "$NFQE_BUILD_ROOT/engine/nfqectl" ] && [ -x "$LISTEN" ] ||
	skip "nfqectl or notify-listen not built"
N=2000

# nobody must reach the client binary and the socket's directory
chmod 755 "$T"
cp "$NFQE_BUILD_ROOT/engine/nfqectl" "$T/nfqectl"
CTL=$T/nfqectl
SOCK=$T/run/nfqe.sock
ctl() { "$CTL" -s "$SOCK" "$@"; }
as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }

# expect_fail STATUS PATTERN CMD...: CMD exits STATUS, stderr has PATTERN.
expect_fail() {
	local want=$1 pattern=$2 rc=0
	shift 2
	"$@" >"$T/fail.out" 2>"$T/fail.err" || rc=$?
	[ "$rc" = "$want" ] || fail "$*: exit $rc, not $want: $(cat "$T/fail.err")"
	grep -q -- "$pattern" "$T/fail.err" ||
		fail "$*: stderr '$(cat "$T/fail.err")' lacks '$pattern'"
}


status_field() { ctl status | awk -v k="$1" '$1 == k { print $2 }'; }
packets_are() { [ "$(status_field packets)" = "$1" ]; }
# stop PID: SIGTERM, wait, fail unless it exits 0 (in this shell: a
# command substitution cannot wait for this shell's children)
stop() {
	local rc=0
	kill -TERM "$1"
	wait "$1" || rc=$?
	[ "$rc" = 0 ] || fail "nfqe exit status $rc: $(cat "$T"/nfqe*.err)"
}
notified() { grep -qx -- "$1" "$T/notify.log"; }
notified_n() { [ "$(grep -cx -- "$1" "$T/notify.log")" -ge "$2" ]; }

expect_fail 1 "nfqe is not running (no socket at $SOCK)" ctl status
ok "no nfqe: 'nfqe is not running', exit 1"
expect_fail 2 "unknown command" ctl bogus

lab 16
"$NFQE" rules --queues 0:1 | ip netns exec "$LAB_RTR" iptables-restore --noflush
cat >"$T/nfqe.conf" <<CONF
[engine]
queues = 0:1
[control]
socket = $SOCK
metrics_textfile = $T/nfqe.prom
metrics_interval = 1
CONF

# the service manager: a notify socket, and a watchdog of 1 s
"$LISTEN" "$T/notify.sock" >"$T/notify.log" 2>"$T/notify.err" &
PIDS+=($!)
wait_for 10 test -S "$T/notify.sock" || fail "notify-listen did not start"
# nfqe sends as its unprivileged user; systemd's socket is mode 0666 too
chmod 666 "$T/notify.sock"
# and removes its socket at exit as that user: the directory must let it
install -d -m 755 -o "$NFQE_USER" "$T/run"
NOTIFY_SOCKET=$T/notify.sock WATCHDOG_USEC=1000000 \
	ip netns exec "$LAB_RTR" "$NFQE" -c "$T/nfqe.conf" >"$T/nfqe.out" 2>"$T/nfqe.err" &
NFQE_PID=$!
PIDS+=("$NFQE_PID")
wait_for 10 test -S "$SOCK" || fail "no control socket: $(cat "$T/nfqe.err")"
queues_bound "$LAB_RTR" 0 1 || fail "socket before the queues were bound"
[ "$(stat -c %a "$SOCK")" = 660 ] || fail "socket mode $(stat -c %a "$SOCK")"
wait_for 10 notified READY=1 || fail "no READY=1: $(cat "$T/notify.log")"
wait_for 10 notified WATCHDOG=1 || fail "no WATCHDOG=1: $(cat "$T/notify.log")"
ok "control socket up after the queues were bound; READY=1, WATCHDOG=1"

[ "$(status_field queues)" = 0:1 ] || fail "status: $(ctl status)"
[ "$(status_field workers)" = 2 ] || fail "status: $(ctl status)"
packets_are 0 || fail "status before traffic: $(ctl status)"

# a second nfqe on the same socket is refused before it touches anything
expect_fail 1 "another nfqe is listening" \
	ip netns exec "$LAB_RTR" "$NFQE" -q 5:5 -c "$T/nfqe.conf"
ok "a second nfqe on the same socket refuses to start"

# $N one-way UDP packets through the router: $N queued packets
sink_count_init
start_sink sink --expect $N --timeout 60
run_gen gen --flows 16 --sport 3000-3015 --count $N --rate 20000 ||
	fail "generator: $(cat "$T/gen.err")"
wait "$SINK_PID" || fail "sink got $(jget "$T/sink.json" .received) of $N"
wait_for 10 packets_are $N || fail "status packets $(status_field packets), not $N"
ok "status: packets $N"

ctl stats >"$T/stats.txt" || fail "stats"
awk -v n=$N '$1 == "all" && $3 == n && $4 == n { f = 1 } END { exit !f }' \
	"$T/stats.txt" || fail "stats table: $(cat "$T/stats.txt")"
ctl stats --json >"$T/stats.json" || fail "stats --json"
[ "$(jget "$T/stats.json" .total.packets)" = $N ] &&
	[ "$(jget "$T/stats.json" .total.accept)" = $N ] &&
	[ "$(jget "$T/stats.json" .total.kernel.id_sequence)" = $N ] ||
	fail "stats --json: $(cat "$T/stats.json")"
ok "stats and stats --json: $N received, $N accepted"

ctl queues >"$T/queues.txt" || fail "queues"
awk -v n=$N 'NR > 1 { p += $3; k += $4; if ($3 != $4 || $5 != 0) bad = 1 }
	END { exit !(p == n && k == n && !bad && NR == 3) }' "$T/queues.txt" ||
	fail "queues: $(cat "$T/queues.txt")"
for q in 0 1; do
	want=$(kqueue_row "$LAB_RTR" $q | awk '{ print $8 }')
	got=$(awk -v q=$q 'NR > 1 && $1 == q { print $4 }' "$T/queues.txt")
	[ "$got" = "$want" ] || fail "queue $q: k_queued $got, /proc says $want"
done
ok "queues: nfqe's packets equal the kernel's id_sequence per queue"

ctl metrics >"$T/metrics.txt" || fail "metrics"
M=$T/metrics.txt
[ "$(sum_metric nfqe_packets_total '' "$M")" = $N ] || fail "nfqe_packets_total"
[ "$(sum_metric nfqe_verdicts_total 'verdict="accept"' "$M")" = $N ] ||
	fail "nfqe_verdicts_total accept"
[ "$(sum_metric nfqe_kernel_packets_total '' "$M")" = $N ] ||
	fail "nfqe_kernel_packets_total"
[ "$(sum_metric nfqe_hold_seconds_count '' "$M")" = $N ] ||
	fail "nfqe_hold_seconds_count"
[ "$(sum_metric nfqe_hold_seconds_bucket 'le="\+Inf"' "$M")" = $N ] ||
	fail "nfqe_hold_seconds_bucket +Inf"
grep -q '^nfqe_conntrack_insert_failed_total ' "$M" ||
	fail "no conntrack counters in the metrics"
if command -v promtool >/dev/null; then
	promtool check metrics <"$M" || fail "promtool check metrics"
	ok "metrics: sums match $N; promtool check metrics passes"
else
	ok "metrics: sums match $N (promtool not installed, not linted)"
fi
wait_for 10 grep -qs "^nfqe_packets_total{queue=\"1\"}" "$T/nfqe.prom" ||
	fail "no metrics textfile"
textfile_done() { [ "$(sum_metric nfqe_packets_total '' "$T/nfqe.prom")" = $N ]; }
wait_for 10 textfile_done || fail "textfile: $(grep packets_total "$T/nfqe.prom")"
ok "metrics textfile $T/nfqe.prom carries the same counts"

ctl top --count 2 >"$T/top.txt" || fail "top"
[ "$(grep -c '^nfqe top: 2 queues' "$T/top.txt")" = 2 ] &&
	grep -q '^  all ' "$T/top.txt" && grep -q '^conntrack: clashres' "$T/top.txt" ||
	fail "top: $(cat "$T/top.txt")"
ok "top --count 2: two frames"

rc=0
ctl flows --top 5 >"$T/flows.out" 2>"$T/flows.err" || rc=$?
if [ $rc = 1 ]; then
	grep -q "flows: no flow table in this build" "$T/flows.err" ||
		fail "flows: $(cat "$T/flows.err")"
	ok "flows: no flow table in this build"
else
	[ $rc = 0 ] || fail "flows: exit $rc: $(cat "$T/flows.err")"
	ok "flows --top 5: $(wc -l <"$T/flows.out") lines"
fi

ctl reload >"$T/reload.out" || fail "reload"
grep -qx reloaded "$T/reload.out" || fail "reload: $(cat "$T/reload.out")"
wait_for 10 notified_n READY=1 2 || fail "no READY=1 after the reload"
grep -q '^RELOADING=1$' "$T/notify.log" || fail "no RELOADING=1"
ok "reload: ok; RELOADING=1 then READY=1"

# who may ask: the socket file shuts nobody out ...
expect_fail 1 "permission denied" as_nobody "$CTL" -s "$SOCK" status
# ... and with the file opened up, nfqe itself refuses and counts it
chmod 755 "$T/run"
chmod 666 "$SOCK"
expect_fail 1 "permission denied" as_nobody "$CTL" -s "$SOCK" status
[ "$(ctl metrics | sum_metric nfqe_control_refused_total '' -)" = 1 ] ||
	fail "refusal not counted"
ok "nobody: refused by the file mode, then by nfqe (counted)"

stop "$NFQE_PID"
[ ! -e "$SOCK" ] || fail "socket left behind"
wait_for 10 notified STOPPING=1 || fail "no STOPPING=1"	# the listener may not have written it yet
expect_fail 1 "nfqe is not running" ctl status
ok "stopped: STOPPING=1, socket removed, nfqectl says nfqe is not running"
! grep -q "withholding the watchdog ping" "$T/nfqe.err" ||
	fail "watchdog withheld from a healthy nfqe: $(cat "$T/nfqe.err")"

# a control group: nobody (primary group nogroup) may ask
SOCK=$T/run2/nfqe.sock
sed -i "s|^socket = .*|socket = $SOCK\ngroup = nogroup|" "$T/nfqe.conf"
start_nfqe nfqe2 "$T/nfqe.conf"
wait_for 10 test -S "$SOCK" || fail "no control socket: $(cat "$T/nfqe2.err")"
[ "$(stat -c %G:%a "$SOCK")" = nogroup:660 ] &&
	[ "$(stat -c %G:%a "$T/run2")" = nogroup:750 ] ||
	fail "socket $(stat -c %G:%a "$SOCK"), directory $(stat -c %G:%a "$T/run2")"
as_nobody "$CTL" -s "$SOCK" status >"$T/nobody.out" ||
	fail "nobody refused despite group nogroup"
ok "group nogroup: nobody may ask"

# a socket whose nfqe died is stale: nfqectl says so, the next nfqe takes it
kill -KILL "$NFQE_PID"
wait "$NFQE_PID" 2>/dev/null || true
expect_fail 1 "nfqe is not running (stale socket" ctl status
start_nfqe nfqe3 "$T/nfqe.conf"
wait_for 10 ctl status >/dev/null 2>&1 || fail "no nfqe after a stale socket: $(cat "$T/nfqe3.err")"
stop "$NFQE_PID"
ok "stale socket: reported, then replaced by the next nfqe"

# the watchdog ping stops while a worker is stuck: packets wait in its
# kernel queue and it reads none for a whole watchdog period
cat >"$T/slow.conf" <<CONF
[engine]
queues = 0:1
[control]
socket =
[test]
decide_delay_us = 400000
CONF
if ! "$NFQE" --check -c "$T/slow.conf" >/dev/null 2>&1; then
	echo "note: no test knobs in this build; stuck-worker watchdog not tested"
	exit 0
fi
: >"$T/notify.log"
NOTIFY_SOCKET=$T/notify.sock WATCHDOG_USEC=200000 \
	ip netns exec "$LAB_RTR" "$NFQE" -c "$T/slow.conf" >"$T/nfqe4.out" 2>"$T/nfqe4.err" &
NFQE_PID=$!
PIDS+=("$NFQE_PID")
wait_for 10 notified WATCHDOG=1 || fail "no WATCHDOG=1 from an idle nfqe"
run_gen slow --flows 1 --sport 3000 --count 6 --rate 1000 ||
	fail "generator: $(cat "$T/slow.err")"
wait_for 10 grep -q "withholding the watchdog ping" "$T/nfqe4.err" ||
	fail "a stuck worker did not stop the watchdog: $(cat "$T/nfqe4.err")"
stop "$NFQE_PID"
ok "a worker stuck for a watchdog period withholds WATCHDOG=1"
