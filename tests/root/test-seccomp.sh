#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# seccomp = yes: the allowlist is on every thread, and nfqe survives what
# it is there to do: traffic with the flow table, stats and metrics files,
# sd_notify with a watchdog, SIGUSR1, SIGHUP reloads, every control
# request (from root and from a group member looked up in the user
# database), then SIGTERM: it drains, unbinds and exits 0. A call outside
# the list would end it (SIGSYS, exit status 159; nfqe's line on stderr
# names the call).
source "$(dirname "$0")/../lib.sh"
require_root
command -v setpriv >/dev/null || skip "setpriv not installed (util-linux)"
id nobody >/dev/null 2>&1 && getent group nogroup >/dev/null ||
	skip "no user nobody or group nogroup"
LISTEN=$NFQE_BUILD_ROOT/tests/notify-listen
CTL=$NFQE_BUILD_ROOT/engine/nfqectl
[ -x "$CTL" ] && [ -x "$LISTEN" ] || skip "nfqectl or notify-listen not built"
N=20000

if id -u nfqe >/dev/null 2>&1; then USER_NAME=nfqe; else USER_NAME=nobody; fi
chmod 755 "$T"
install -d -m 755 -o "$USER_NAME" "$T/w"
cp "$CTL" "$T/nfqectl"
CTL=$T/nfqectl
SOCK=$T/w/nfqe.sock

lab 16
"$NFQE" rules --queues 0:1 | ip netns exec "$LAB_RTR" iptables-restore --noflush
cat >"$T/nfqe.conf" <<CONF
[engine]
queues = 0:1
seccomp = yes
stats_interval = 1
stats_json = $T/w/stats.json
[control]
socket = $SOCK
group = nogroup
metrics_textfile = $T/w/nfqe.prom
metrics_interval = 1
[flows]
enable = yes
udp_new_timeout = 1
udp_established_timeout = 1
CONF

# a service manager's notify socket, writable by the user as systemd's is
"$LISTEN" "$T/notify.sock" >"$T/notify.log" 2>"$T/notify.err" &
PIDS+=("$!")
wait_for 10 test -S "$T/notify.sock" || fail "notify-listen did not start"
chmod 666 "$T/notify.sock"
NOTIFY_SOCKET=$T/notify.sock WATCHDOG_USEC=1000000 \
	ip netns exec "$LAB_RTR" "$NFQE" -c "$T/nfqe.conf" >"$T/nfqe.out" 2>"$T/nfqe.err" &
NFQE_PID=$!
PIDS+=("$NFQE_PID")

alive() {
	kill -0 "$NFQE_PID" 2>/dev/null && return 0
	local rc=0
	wait "$NFQE_PID" || rc=$?
	fail "nfqe died ($1), exit status $rc$([ $rc = 159 ] && echo ' (SIGSYS: a call outside the allowlist, named on stderr)'): $(tail -5 "$T/nfqe.err")"
}
logged() { grep -q -- "$1" "$T/nfqe.err"; }
notified() { grep -qx -- "$1" "$T/notify.log"; }
ctl() { "$CTL" -s "$SOCK" "$@"; }

wait_for 10 notified READY=1 || { alive start; fail "no READY=1: $(cat "$T/nfqe.err")"; }
logged "seccomp: system call allowlist installed" || fail "no seccomp line in the log"
for tid in $(ls "/proc/$NFQE_PID/task"); do
	s=/proc/$NFQE_PID/task/$tid/status
	[ "$(awk '$1 == "Seccomp:" { print $2 }' "$s")" = 2 ] || fail "thread $tid: not in seccomp filter mode"
	[ "$(awk '$1 == "NoNewPrivs:" { print $2 }' "$s")" = 1 ] || fail "thread $tid: NoNewPrivs not set"
done
ok "seccomp filter mode on all $(ls "/proc/$NFQE_PID/task" | wc -l) threads"

start_sink sink --expect $N --timeout 60
run_gen gen --flows 256 --sport 7000-7015 --count $N --rate 20000 &
GEN_PID=$!
PIDS+=("$GEN_PID")
# everything below happens while the generator runs
for round in 1 2 3; do
	kill -USR1 "$NFQE_PID"
	kill -HUP "$NFQE_PID"
	for req in status stats "stats --json" queues metrics "flows --top 5" "top --count 1" reload; do
		# shellcheck disable=SC2086
		ctl $req >"$T/ctl.out" 2>"$T/ctl.err" || { alive "nfqectl $req"; fail "nfqectl $req: $(cat "$T/ctl.err")"; }
	done
	# a peer that is not root: SO_PEERCRED and a user database lookup
	setpriv --reuid=nobody --regid=daemon --groups=nogroup \
		"$CTL" -s "$SOCK" status >"$T/peer.out" 2>&1 || true
	alive "round $round"
	grep -q '^version' "$T/peer.out" || fail "group member refused: $(cat "$T/peer.out")"
done
wait "$GEN_PID" || fail "generator failed: $(cat "$T/gen.err")"
wait "$SINK_PID" || { alive traffic; fail "sink got $(jget "$T/sink.json" .received) of $N"; }
ok "traffic delivered under SIGUSR1, SIGHUP and control requests"

# let the flows expire (the call_rcu thread frees them), the periodic
# stats and metrics files and the watchdog run a few times
wait_for 10 test -s "$T/w/nfqe.prom" || { alive metrics; fail "no metrics textfile"; }
wait_for 10 notified WATCHDOG=1 || { alive watchdog; fail "no WATCHDOG=1"; }
wait_for 10 notified RELOADING=1 || fail "no RELOADING=1"
expired() { ctl metrics | grep -q '^nfqe_flows_removed_total{reason="expired"} [1-9]'; }
wait_for 15 expired || { alive expiry; fail "no flow expired: $(ctl metrics | grep flows_removed)"; }
alive "expiry"
logged "reloaded" || fail "no reload in the log"
ok "flows expired, files written, watchdog pinged, reloads done"

kill -TERM "$NFQE_PID"
rc=0
wait "$NFQE_PID" || rc=$?
[ "$rc" = 0 ] || fail "exit status $rc$([ $rc = 159 ] && echo ' (SIGSYS)'): $(tail -5 "$T/nfqe.err")"
[ -z "$(kqueue_row "$LAB_RTR" 0)$(kqueue_row "$LAB_RTR" 1)" ] || fail "queues still bound after exit"
wait_for 10 notified STOPPING=1 || fail "no STOPPING=1"	# the listener may not have written it yet
S=$T/w/stats.json
[ "$(jget "$S" .total.packets)" = $N ] || fail "nfqe counted $(jget "$S" .total.packets) of $N"
ok "SIGTERM under seccomp: drained, unbound, exit 0; all $N packets counted"
