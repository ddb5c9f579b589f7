#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The worker watchdog against a real plug-in (plugins/test-hang.so) that
# misbehaves inside the decide step, on one queue behind rules with
# --queue-bypass:
#  1. hang (spin, then sleep; forever) after 10 packets, watchdog = accept:
#     1000 packets at 500 pps all reach the sink within the 2 s of traffic
#     + 1 s; the stats JSON counts watchdog events and accepted packets;
#     the log names the queue; the inspector counters show the 10 packets
#     passed and the 11th stuck. Then SIGTERM: the worker never comes back,
#     nfqe gives up on it after 3 s and leaves with _exit() (status 1)
#     within 4.5 s. The account is exact: the kernel queued N packets, the
#     worker sent verdicts for (at most) the 10 the plug-in passed, and the
#     watchdog's batches covered all the others: sent + wd_accepted = N.
#     Once more with the first 11 packets in one receive burst, batch_max 4
#     and max_hold_us 1 s: the plug-in decides 10, the worker sends 8 of
#     them (two full batches) and still holds 2 when it hangs on the 11th;
#     the watchdog's batch covers those 2 as well, and they count once.
#     SIGTERM while the plug-in is stuck and 2000 packets keep coming:
#     nfqe waits 3 s, the watchdog accepting meanwhile, accepts what is
#     queued when it gives up (and closes the queue: fail-open), exits 1;
#     the sink gets all 2000, and sent + accepted = queued, exactly.
#  2. crash (SIGSEGV, a stack overflow, abort(), a system call outside
#     the seccomp allowlist, or a SIGABRT from outside, as systemd's
#     watchdog sends) on the 11th packet, while 40 packets (that one
#     included) wait in the queue: nfqe dies, and before it does its
#     fatal-signal handler closes the queue and accepts the 40
#     (fail_open = yes): all 50 delivered, and its line on stderr names
#     the cause (the system call's number) and the 40. With fail_open = no the handler
#     is not armed and the kernel drops the 40 at the unbind: only the 10
#     and a marker sent afterwards arrive. Two queues holding packets at
#     a SIGABRT: both accepted. A plug-in's flow_free that faults in
#     liburcu's call_rcu thread while 40 wait: accepted too. Then the
#     rules' --queue-bypass
#     passes everything: 1000 more packets, all delivered within 2 s + 1 s
#     without any nfqe.
# This is what a crashing plug-in costs: nothing it held (fail-open), then
# no inspection at all until nfqe is restarted (fail-open by
# --queue-bypass; without it the traffic would be dropped instead).
source "$(dirname "$0")/../lib.sh"
require_root
PLUGIN=$NFQE_BUILD_ROOT/plugins/test-hang.so
[ -e "$PLUGIN" ] || skip "plugins/test-hang.so not built"
N=1000
RATE=500
AFTER=10
# a crash must not leave a core file behind
ulimit -c 0

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

lab 8
"$NFQE" rules --queues 0:0 >"$T/rules"
grep -q -- '--queue-bypass' "$T/rules" || fail "the rules lack --queue-bypass: $(cat "$T/rules")"
ip netns exec "$LAB_RTR" iptables-restore --noflush <"$T/rules"
queue_gone() { [ -z "$(kqueue_row "$LAB_RTR" 0)" ]; }

# conf NAME KEY=VALUE...: one queue, every UDP packet through [inspector
# hang] with the given plug-in keys; SECTION.KEY=VALUE (engine, queue,
# flows) goes to [SECTION]
conf() {
	local name=$1
	shift
	# keys SECTION ARGS...: the args for [SECTION] as "key = value" lines
	# (SECTION "": those without a section prefix)
	keys() {
		local sec=$1 kv
		shift
		for kv in "$@"; do
			case $kv in
			engine.* | queue.* | flows.*)
				[ "${kv%%.*}" = "$sec" ] || continue
				kv=${kv#*.} ;;
			*)	[ -z "$sec" ] || continue ;;
			esac
			echo "${kv%%=*} = ${kv#*=}"
		done
	}
	{
		cat <<CONF
[engine]
queues = 0:0
stats_json = $T/$name.json
$(keys engine "$@")
[control]
socket = $T/$name-$$.sock
[queue]
watchdog_ms = 200
watchdog = accept
$(keys queue "$@")
[flows]
$(keys flows "$@")
[rules]
rule = proto udp inspect hang
default = accept
[inspector hang]
path = $PLUGIN
after = $AFTER
$(keys "" "$@")
CONF
	} >"$T/$name.conf"
}

# check_account NAME: from NAME's stats JSON, every one of the N packets
# queued (the kernel's id sequence, none passed or dropped unqueued) got
# exactly one verdict: the worker's (counted when sent) or the watchdog's
# (wd_accepted: what its batches covered). The worker sent at most the
# AFTER the plug-in passed; the packet stuck in the plug-in and everything
# behind it are the watchdog's. Sets SENT and ACC.
check_account() {
	local name=$1 S=$T/$1.json kid klost kerr
	kid=$(jget "$S" .total.kernel.id_sequence)
	klost=$(jget "$S" '.total.kernel | .queue_dropped + .user_dropped')
	kerr=$(jget "$S" '.total | .kernel_errors + .send_errors')
	SENT=$(jget "$S" '.total | .accept + .drop + .repeat + .queue_verdicts')
	ACC=$(jget "$S" .total.wd_accepted)
	[ "$kid" = $N ] && [ "$klost" = 0 ] ||
		fail "$name: kernel queued $kid of $N packets, dropped $klost"
	[ "$kerr" = 0 ] || fail "$name: $kerr verdicts refused or not sent"
	[ $((SENT + ACC)) = "$kid" ] ||
		fail "$name: worker sent $SENT verdicts + watchdog accepted $ACC != $kid queued"
	[ "$SENT" -le $AFTER ] && [ "$ACC" -ge $((N - AFTER)) ] ||
		fail "$name: worker sent $SENT verdicts, more than the $AFTER the plug-in passed"
}

# check_inspector NAME: the plug-in passed AFTER packets, the next one
# never came back
check_inspector() {
	local name=$1 S=$T/$1.json p a
	p=$(jget "$S" '.inspectors[] | select(.name == "hang") | .packets')
	a=$(jget "$S" '.inspectors[] | select(.name == "hang") | .verdicts.accept')
	[ "$p" = $((AFTER + 1)) ] && [ "$a" = $AFTER ] ||
		fail "$name: inspector counted $p packets, $a accepted; want $((AFTER + 1)), $AFTER"
}

# -- 1. a plug-in that hangs forever: the watchdog keeps the queue moving
for how in spin sleep; do
	name=hang-$how
	conf "$name" action=hang hang=$how hang_ms=0
	"$NFQE" --check -c "$T/$name.conf" >"$T/$name.check" 2>&1 ||
		fail "$name: nfqe --check: $(cat "$T/$name.check")"
	start_nfqe "$name" "$T/$name.conf"
	wait_for 10 queues_bound "$LAB_RTR" 0 0 || fail "$name: queue not bound: $(cat "$T/$name.err")"
	# 1000 packets in 2 s; the sink must have them all within 2 s + 1 s
	start_sink "$name-sink" --expect $N --timeout 3
	t0=$(now_ms)
	run_gen "$name-gen" --flows 32 --sport 8000-8003 --count $N --rate $RATE
	wait "$SINK_PID" ||
		fail "$name: traffic stalled: sink got $(jget "$T/$name-sink.json" .received) of $N: $(cat "$T/$name.err")"
	ok "$name: all $N delivered in $(( $(now_ms) - t0 )) ms with the plug-in stuck"

	# SIGTERM: the stuck worker never stops; nfqe must leave anyway
	t0=$(now_ms)
	stop_pid "$NFQE_PID"
	dt=$(( $(now_ms) - t0 ))
	[ "$STOP_RC" = 1 ] || fail "$name: exit status $STOP_RC after SIGTERM, expected 1: $(cat "$T/$name.err")"
	[ "$dt" -le 4500 ] || fail "$name: nfqe took $dt ms to exit with a stuck worker"
	grep -q "queue 0: worker did not stop within 3000 ms" "$T/$name.err" ||
		fail "$name: no stuck-worker line at exit: $(cat "$T/$name.err")"
	wait_for 5 queue_gone || fail "$name: queue still bound after exit"
	ok "$name: SIGTERM with the worker stuck: status 1 after $dt ms, queue released"

	S=$T/$name.json
	ev=$(jget "$S" .total.wd_events)
	acc=$(jget "$S" .total.wd_accepted)
	[ "$ev" -gt 0 ] || fail "$name: no watchdog event counted"
	[ "$acc" -gt 0 ] || fail "$name: no packet counted as accepted by the watchdog"
	grep -q "queue 0: worker stuck for 200 ms: accepting" "$T/$name.err" ||
		fail "$name: the watchdog did not log the queue: $(cat "$T/$name.err")"
	check_inspector "$name"
	ok "$name: watchdog fired $ev times; inspector: $AFTER accepted, 1 stuck"
	check_account "$name"
	ok "$name: exact: $SENT verdicts sent by the worker + $ACC accepted by the watchdog = $N queued"
	PIDS=()
done

# -- the same, with verdicts decided but not all sent when the plug-in hangs
name=hang-held
conf "$name" action=hang hang=sleep hang_ms=0 queue.batch_max=4 \
	queue.max_hold_us=1000000
start_nfqe "$name" "$T/$name.conf"
wait_for 10 queues_bound "$LAB_RTR" 0 0 || fail "$name: queue not bound: $(cat "$T/$name.err")"
start_sink "$name-sink" --expect $N --timeout 3
# the first AFTER + 1 in one sendmmsg: normally one receive burst
run_gen "$name-gen1" --flows 1 --sport 7000 --count $((AFTER + 1)) --burst $((AFTER + 1)) --rate 0
run_gen "$name-gen2" --flows 32 --sport 8000-8003 --count $((N - AFTER - 1)) --rate $RATE
wait "$SINK_PID" ||
	fail "$name: traffic stalled: sink got $(jget "$T/$name-sink.json" .received) of $N: $(cat "$T/$name.err")"
stop_pid "$NFQE_PID"
[ "$STOP_RC" = 1 ] || fail "$name: exit status $STOP_RC after SIGTERM, expected 1: $(cat "$T/$name.err")"
wait_for 5 queue_gone || fail "$name: queue still bound after exit"
PIDS=()
check_inspector "$name"
check_account "$name"
full=$(jget "$T/$name.json" .total.flush_batch_full)
ok "$name: exact: $SENT of the $AFTER decided verdicts sent ($full full batches)" \
	"+ $ACC accepted by the watchdog = $N queued"

# -- SIGTERM while the plug-in is stuck and traffic keeps coming: nfqe
# waits 3 s for the worker, the watchdog keeps accepting meanwhile, and
# what is still queued when nfqe gives up is accepted before it exits
# (exiting unbinds the queue, which would drop it); after the exit the
# rules' --queue-bypass passes the rest. Nothing may be lost.
name=hang-term
conf "$name" action=hang hang=sleep hang_ms=0
start_nfqe "$name" "$T/$name.conf"
wait_for 10 queues_bound "$LAB_RTR" 0 0 || fail "$name: queue not bound: $(cat "$T/$name.err")"
sink_count_init
start_sink "$name-sink" --expect $((2 * N)) --timeout 10
# 2000 packets in 4 s; SIGTERM once 300 have arrived (the plug-in has
# been stuck since the 11th)
run_gen "$name-gen" --flows 32 --sport 8300-8303 --count $((2 * N)) --rate $RATE &
gen_pid=$!
PIDS+=("$gen_pid")
wait_for 10 sink_count_ge 300 || fail "$name: traffic did not start: $(sink_count) packets"
t0=$(now_ms)
stop_pid "$NFQE_PID"
dt=$(( $(now_ms) - t0 ))
[ "$STOP_RC" = 1 ] || fail "$name: exit status $STOP_RC after SIGTERM, expected 1: $(cat "$T/$name.err")"
grep -q "queue 0: worker did not stop within 3000 ms; exiting, [0-9]* queued packets accepted, the queue closed" \
	"$T/$name.err" || fail "$name: no release line at exit: $(cat "$T/$name.err")"
wait "$gen_pid" || fail "$name: generator failed: $(cat "$T/$name-gen.err")"
wait "$SINK_PID" ||
	fail "$name: lost packets: sink got $(jget "$T/$name-sink.json" .received) of $((2 * N)): $(cat "$T/$name.err")"
S=$T/$name.json
kid=$(jget "$S" .total.kernel.id_sequence)
SENT=$(jget "$S" '.total | .accept + .drop + .repeat + .queue_verdicts')
ACC=$(jget "$S" .total.wd_accepted)
[ $((SENT + ACC)) = "$kid" ] ||
	fail "$name: worker sent $SENT verdicts + watchdog accepted $ACC != $kid queued"
[ "$kid" -gt 300 ] || fail "$name: only $kid packets were queued before the exit"
ok "$name: SIGTERM with the plug-in stuck under traffic: exit after $dt ms, all" \
	"$((2 * N)) delivered; $kid queued = $SENT sent + $ACC accepted by the watchdog and at exit"
PIDS=()

# -- 2. a plug-in that crashes nfqe: the kernel unbinds, --queue-bypass
# crash_case NAME CRASH FAIL_OPEN: the plug-in passes the first AFTER
# packets, then waits for the test's word (a file) on the next one while
# HELD more are sent (the watchdog off): when the kernel shows all HELD
# in the queue, the word, and the plug-in crashes (SIGSEGV, abort(), or
# a stack overflow: the handler runs on the worker's alternate stack).
# CRASH "kill": the plug-in hangs instead and the test sends SIGABRT, as
# systemd's watchdog does (WatchdogSignal's default) when nfqe stops
# sending WATCHDOG=1.
# With fail_open = yes, nfqe's fatal-signal handler closes the queue and
# accepts those HELD before the process dies: the sink gets them all.
# With fail_open = no it is not armed: the kernel drops them at the unbind,
# and a marker packet sent after the unbind (through --queue-bypass)
# arrives alone.
HELD=40
held() { [ "$(kqueue_total "$LAB_RTR" 0)" = $HELD ]; }	# queue 0 holds them
# crash_start NAME LAST: nfqe on NAME's config, queues 0..LAST bound, the
# AFTER packets the plug-in passes sent and delivered; C0: the sink's
# count before
crash_start() {
	C0=$(sink_count)
	start_nfqe "$1" "$T/$1.conf"
	wait_for 10 queues_bound "$LAB_RTR" 0 "$2" || fail "$1: queues not bound: $(cat "$T/$1.err")"
	run_gen "$1-gen1" --flows 1 --sport 8100 --count $AFTER --rate $RATE
	wait_for 5 sink_count_ge $((C0 + AFTER)) ||
		fail "$1: $(( $(sink_count) - C0 )) of the first $AFTER packets arrived"
}
# crash_wait NAME STATUSES: nfqe NAME dies with one of STATUSES (139
# SIGSEGV, 134 SIGABRT, also an ASan build's report on SIGSEGV, 159
# SIGSYS; under TSan its report's 66 too: ./run sets NFQE_SANITIZER), and
# the kernel unbinds queue 0. Sets RC.
crash_wait() {
	local s
	RC=0
	wait "$NFQE_PID" || RC=$?
	PIDS=()
	for s in $2 $([ "${NFQE_SANITIZER:-}" = thread ] && echo 66); do
		[ "$RC" = "$s" ] && break
	done
	[ "$RC" = "$s" ] || fail "$1: nfqe exit status $RC, want one of $2: $(cat "$T/$1.err")"
	wait_for 5 queue_gone || fail "$1: the kernel did not unbind queue 0"
}
# crash_accepted NAME C0 LINE: the sink got exactly the AFTER before the
# crash and the HELD the handler accepted (C0: its count before), and the
# handler's line on stderr is LINE
crash_accepted() {
	wait_for 5 sink_count_ge $(($2 + AFTER + HELD)) ||
		fail "$1: $(( $(sink_count) - $2 )) packets arrived, want $AFTER + the $HELD held"
	[ "$(sink_count)" = $(($2 + AFTER + HELD)) ] ||
		fail "$1: the sink got $(( $(sink_count) - $2 )) packets, want $((AFTER + HELD))"
	grep -qxF "$3" "$T/$1.err" ||
		fail "$1: the handler's line: '$(grep '^nfqe: \(fatal\|seccomp\)' "$T/$1.err")', want '$3'"
}
SYS_SYSLOG=103	# x86_64
crash_case() {
	local name=$1 crash=$2 fo=$3 c0 got want how=$2 sig=11 statuses="139 134"
	local cause
	if [ "$crash" = kill ]; then
		conf "$name" action=hang hang=sleep hang_ms=0 \
			queue.watchdog_ms=0 queue.fail_open="$fo"
	else
		# syscall: one the seccomp allowlist lacks, with the filter on
		conf "$name" action=crash crash="$crash" wait_file="$T/$name.go" \
			queue.watchdog_ms=0 queue.fail_open="$fo" \
			$([ "$crash" = syscall ] && echo engine.seccomp=yes)
	fi
	case $crash in
	abort | kill) sig=6 statuses=134 ;;
	syscall) statuses="159 134" ;;
	esac
	cause="fatal signal $sig"
	[ "$crash" = syscall ] && cause="seccomp: system call $SYS_SYSLOG is not in the allowlist"
	crash_start "$name" 0
	c0=$C0
	run_gen "$name-gen2" --flows 1 --sport 8100 --count $HELD --rate 2000
	wait_for 5 held || fail "$name: the queue holds $(kqueue_total "$LAB_RTR" 0), want $HELD"
	if [ "$crash" = kill ]; then
		how="SIGABRT from outside"
		kill -ABRT "$NFQE_PID"
	else
		: >"$T/$name.go"
	fi
	crash_wait "$name" "$statuses"
	if [ "$fo" = yes ]; then
		crash_accepted "$name" "$c0" \
			"nfqe: $cause; closed 1 queue and accepted the $HELD packets they held"
		ok "$name: nfqe died of $how (status $RC) with $HELD packets queued; its handler" \
			"accepted them all: $AFTER + $HELD delivered; it said '$cause'"
		return
	fi
	run_gen "$name-marker" --flows 1 --sport 8300 --count 1 --rate $RATE
	want=$((c0 + AFTER + 1))
	wait_for 5 sink_count_ge $want || fail "$name: the marker did not arrive"
	got=$(sink_count)
	[ "$got" = $want ] || fail "$name: the sink got $((got - c0)) packets, want $((want - c0))"
	ok "$name: nfqe died of $how (status $RC), fail_open = no: the kernel dropped" \
		"the $HELD held; $AFTER before and the marker after delivered"
}
sink_count_init
crash_case crash segv yes
crash_case crash-abort abort yes
crash_case crash-stack stack yes
[ "$(uname -m)" = x86_64 ] && crash_case crash-seccomp syscall yes
crash_case crash-sigabrt kill yes
crash_case crash-closed segv no

# Two queues, both holding packets: the handler reads each one's line of
# the kernel's table and accepts each on its own socket. Source
# LAB_SRC_FIRST goes to queue 0, the other 7 to queue 1; the plug-in's
# count is shared, so after the first AFTER both workers hang on their
# next packet, and SIGABRT arrives with both queues holding some of HELD.
name=crash-2q
lab_rules_flush
ip netns exec "$LAB_RTR" iptables -A FORWARD -p udp -s "$LAB_SRC_FIRST" \
	-j NFQUEUE --queue-num 0 --queue-bypass
ip netns exec "$LAB_RTR" iptables -A FORWARD -p udp -j NFQUEUE --queue-num 1 --queue-bypass
conf "$name" action=hang hang=sleep hang_ms=0 queue.watchdog_ms=0
sed -i 's/^queues = 0:0$/queues = 0:1/' "$T/$name.conf"
crash_start "$name" 1
c0=$C0
# 8 flows, one per source: 5 of the 40 from LAB_SRC_FIRST (queue 0)
run_gen "$name-gen2" --flows 8 --sport 8100 --count $HELD --rate 2000
held2() {
	[ "$(kqueue_total "$LAB_RTR" 0)" = 5 ] && [ "$(kqueue_total "$LAB_RTR" 1)" = $((HELD - 5)) ]
}
wait_for 5 held2 || fail "$name: the queues hold $(kqueue_total "$LAB_RTR" 0) and" \
	"$(kqueue_total "$LAB_RTR" 1), want 5 and $((HELD - 5))"
kill -ABRT "$NFQE_PID"
crash_wait "$name" 134
crash_accepted "$name" "$c0" \
	"nfqe: fatal signal 6; closed 2 queues and accepted the $HELD packets they held"
ok "$name: SIGABRT with 5 packets held in queue 0 and $((HELD - 5)) in queue 1: all accepted," \
	"$AFTER + $HELD delivered"

# A plug-in's flow_free crashes: it runs in liburcu's call_rcu thread,
# which liburcu starts with every signal blocked (a fault there would kill
# the process without running the handler, had nfqe not unblocked them).
# The first AFTER packets make flow A (with a slot); it expires after 1 s
# and its flow_free waits for the word; then HELD packets of flow B wait
# in the queue (the plug-in, waiting too, on B's first); the word: the
# call_rcu thread faults, and the handler accepts the HELD.
name=crash-free
lab_rules_flush
ip netns exec "$LAB_RTR" iptables-restore --noflush <"$T/rules"
conf "$name" action=hang hang=sleep hang_ms=0 slot=yes free_crash=yes \
	wait_file="$T/$name.go" trace="$T/$name.trace" queue.watchdog_ms=0 \
	flows.udp_new_timeout=1
crash_start "$name" 0
c0=$C0
freeing() { grep -qx flow_free "$T/$name.trace"; }
wait_for 10 freeing || fail "$name: flow A was not freed: $(cat "$T/$name.trace")"
run_gen "$name-gen2" --flows 1 --sport 8101 --count $HELD --rate 2000
wait_for 5 held || fail "$name: the queue holds $(kqueue_total "$LAB_RTR" 0), want $HELD"
: >"$T/$name.go"
crash_wait "$name" "139 134"
crash_accepted "$name" "$c0" \
	"nfqe: fatal signal 11; closed 1 queue and accepted the $HELD packets they held"
ok "$name: a plug-in's flow_free faulted in the call_rcu thread (status $RC) with $HELD" \
	"packets queued: all accepted, $AFTER + $HELD delivered"

# after a crash: no nfqe, the rules' --queue-bypass passes everything
c0=$(sink_count)
start_sink crash-sink --expect $N --timeout 3
t0=$(now_ms)
run_gen crash-gen3 --flows 32 --sport 8200-8203 --count $N --rate $RATE
wait "$SINK_PID" ||
	fail "crash: traffic after the crash stalled: sink got $(jget "$T/crash-sink.json" .received) of $N"
got=$(( $(sink_count) - c0 ))
[ "$got" = $N ] || fail "crash: $got packets reached the sink after the crash, want $N"
ok "crash: all $N packets sent after the crash delivered in $(( $(now_ms) - t0 )) ms (--queue-bypass)"
