#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Least privilege, checked from outside: once started, every thread of nfqe
# runs as the unprivileged user (nfqe if it exists, else nobody) with
# CAP_NET_ADMIN alone, empty bounding and ambient sets, no supplementary
# groups and no_new_privs, while traffic still flows and is counted, and
# SIGTERM still drains, unbinds and exits 0. `user = root` keeps uid 0 and
# says so. Files the user cannot reach are warned about at start.
source "$(dirname "$0")/../lib.sh"
require_root
N=5000

if id -u nfqe >/dev/null 2>&1; then USER_NAME=nfqe; else USER_NAME=nobody; fi
id -u "$USER_NAME" >/dev/null 2>&1 || skip "no user nfqe nor nobody"
USER_UID=$(id -u "$USER_NAME")
USER_GID=$(id -g "$USER_NAME")

# the user must reach the config (reload) and write the stats file
chmod 711 "$T"
install -d -m 755 -o "$USER_NAME" "$T/w"

lab 8
"$NFQE" rules --queues 0:1 | ip netns exec "$LAB_RTR" iptables-restore --noflush

# status_field PID TID FIELD: a field of one thread's /proc status.
status_field() {
	awk -v f="$3:" '$1 == f { $1 = ""; sub(/^ /, ""); print; exit }' \
		"/proc/$1/task/$2/status"
}

# check_threads PID UID GID CAPEFF: every thread has these credentials.
check_threads() {
	local pid=$1 uid=$2 gid=$3 capeff=$4 tid n=0 v
	for tid in $(ls "/proc/$pid/task"); do
		n=$((n + 1))
		v=$(status_field "$pid" "$tid" Uid | tr -s '\t ' ' ')
		[ "$v" = "$uid $uid $uid $uid" ] || fail "thread $tid: Uid $v, not $uid"
		v=$(status_field "$pid" "$tid" Gid | tr -s '\t ' ' ')
		[ "$v" = "$gid $gid $gid $gid" ] || fail "thread $tid: Gid $v, not $gid"
		v=$(status_field "$pid" "$tid" CapEff)
		[ "$v" = "$capeff" ] || fail "thread $tid: CapEff $v, not $capeff"
		v=$(status_field "$pid" "$tid" NoNewPrivs)
		[ "$v" = 1 ] || fail "thread $tid: NoNewPrivs $v"
		[ "$uid" = 0 ] && continue
		v=$(status_field "$pid" "$tid" CapPrm)
		[ "$v" = "$capeff" ] || fail "thread $tid: CapPrm $v, not $capeff"
		for f in CapInh CapBnd CapAmb; do
			v=$(status_field "$pid" "$tid" $f)
			[ "$v" = 0000000000000000 ] || fail "thread $tid: $f $v, not empty"
		done
		v=$(status_field "$pid" "$tid" Groups)
		[ -z "$v" ] || fail "thread $tid: supplementary groups '$v'"
	done
	# the main thread and one worker per queue at least
	[ "$n" -ge 3 ] || fail "only $n threads"
	THREADS=$n
}

logged() { grep -q -- "$2" "$T/$1.err"; }

# --- the default: the unprivileged user, CAP_NET_ADMIN only ---
cat >"$T/drop.conf" <<CONF
[engine]
queues = 0:1
stats_json = $T/w/stats.json
[control]
socket = $T/w/nfqe.sock
CONF
start_nfqe drop "$T/drop.conf"
wait_for 10 queues_bound "$LAB_RTR" 0 1 || fail "queues not bound: $(cat "$T/drop.err")"
wait_for 10 logged drop "bound queues" || fail "nfqe did not start: $(cat "$T/drop.err")"
logged drop "running as $USER_NAME (uid $USER_UID" || fail "no 'running as $USER_NAME': $(cat "$T/drop.err")"
! logged drop "not readable\|not writable" || fail "spurious access warning: $(cat "$T/drop.err")"
check_threads "$NFQE_PID" "$USER_UID" "$USER_GID" 0000000000001000
ok "$THREADS threads: uid/gid $USER_UID/$USER_GID, CapEff=CapPrm=CAP_NET_ADMIN, no bounding/ambient/groups, NoNewPrivs 1"

start_sink sink --expect $N --timeout 60
run_gen gen --flows 64 --sport 6000-6007 --count $N --rate 20000
wait "$SINK_PID" || fail "sink did not get $N packets: $(cat "$T/sink.json" "$T/sink.err")"
ok "traffic delivered through the unprivileged nfqe"
# still so after traffic (and whatever threads it started)
check_threads "$NFQE_PID" "$USER_UID" "$USER_GID" 0000000000001000
ok "still $USER_NAME with CAP_NET_ADMIN only after traffic ($THREADS threads)"

stop_pid "$NFQE_PID"; [ "$STOP_RC" = 0 ] || fail "nfqe exit status $STOP_RC: $(cat "$T/drop.err")"
[ -z "$(kqueue_row "$LAB_RTR" 0)$(kqueue_row "$LAB_RTR" 1)" ] || fail "queues still bound after exit"
! logged drop "unbind:\|closing the queue\|sending .* verdicts failed" ||
	fail "netlink failed without root: $(cat "$T/drop.err")"
S=$T/w/stats.json
[ "$(jget "$S" .total.packets)" = $N ] || fail "nfqe counted $(jget "$S" .total.packets) of $N"
[ "$(jget "$S" .total.accept)" = $N ] || fail "not every packet accepted"
[ "$(stat -c %u "$S")" = "$USER_UID" ] || fail "stats_json not written by $USER_NAME"
# the kernel's queue table is mode 0440 root: read through the descriptor
# opened before the drop
k=$(( $(jget "$S" '.queues[0].kernel.id_sequence') + $(jget "$S" '.queues[1].kernel.id_sequence') ))
[ "$k" = $N ] || fail "kernel counters after the drop: id_sequence $k, not $N"
ok "SIGTERM: drained, unbound, exit 0; $N packets counted, stats written as $USER_NAME"

# --- user = root: asked for, kept, and said ---
cat >"$T/root.conf" <<CONF
[engine]
queues = 0:1
user = root
stats_json = $T/root-stats.json
[control]
socket = $T/root.sock
CONF
start_nfqe root "$T/root.conf"
wait_for 10 logged root "bound queues" || fail "nfqe did not start: $(cat "$T/root.err")"
logged root "running as root" || fail "no 'running as root' in the log: $(cat "$T/root.err")"
v=$(status_field "$NFQE_PID" "$NFQE_PID" Uid | tr -s '\t ' ' ')
[ "$v" = "0 0 0 0" ] || fail "user = root: Uid $v"
for tid in $(ls "/proc/$NFQE_PID/task"); do
	[ "$(status_field "$NFQE_PID" "$tid" Uid | tr -s '\t ' ' ')" = "0 0 0 0" ] ||
		fail "user = root: thread $tid is not root"
done
stop_pid "$NFQE_PID"; [ "$STOP_RC" = 0 ] || fail "user = root: exit status $STOP_RC"
ok "user = root: uid 0 kept, 'running as root' logged, exit 0"

# --- what the user cannot reach is said at start, and is not fatal ---
install -d -m 755 "$T/rootonly"
cat >"$T/rootonly/warn.conf" <<CONF
[engine]
queues = 0:1
stats_json = $T/rootonly/stats.json
[control]
socket = $T/w/warn.sock
metrics_textfile = $T/rootonly/nfqe.prom
CONF
chmod 600 "$T/rootonly/warn.conf"
start_nfqe warn "$T/rootonly/warn.conf"
wait_for 10 logged warn "bound queues" || fail "nfqe did not start: $(cat "$T/warn.err")"
logged warn "warn.conf: not readable by uid $USER_UID" || fail "no warning for the config: $(cat "$T/warn.err")"
logged warn "stats.json: its directory is not writable" || fail "no warning for stats_json: $(cat "$T/warn.err")"
logged warn "nfqe.prom: its directory is not writable" || fail "no warning for metrics_textfile: $(cat "$T/warn.err")"
kill -HUP "$NFQE_PID"
wait_for 10 logged warn "reload failed" || fail "the reload did not report its failure: $(cat "$T/warn.err")"
stop_pid "$NFQE_PID"; [ "$STOP_RC" = 0 ] || fail "exit status $STOP_RC: $(cat "$T/warn.err")"
ok "unreadable config and unwritable stats paths: warned at start, reload fails softly, exit 0"

# --- a user that does not exist is a start-up error ---
printf '[engine]\nqueues = 0:1\nuser = nfqe-no-such-user\n[control]\nsocket =\n' >"$T/nouser.conf"
rc=0
ip netns exec "$LAB_RTR" "$NFQE" -c "$T/nouser.conf" 2>"$T/nouser.err" || rc=$?
[ "$rc" = 1 ] || fail "unknown user: exit status $rc"
grep -q "user 'nfqe-no-such-user': no such user" "$T/nouser.err" || fail "unclear error: $(cat "$T/nouser.err")"
[ -z "$(kqueue_row "$LAB_RTR" 0)$(kqueue_row "$LAB_RTR" 1)" ] || fail "queues left bound"
ok "unknown user: exit 1, queues released"
