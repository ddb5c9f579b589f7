#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# A socket buffer that overflows: with no_enobufs = no the kernel reports
# ENOBUFS; nfqe counts each report, keeps receiving, and every lost packet
# is accounted (the kernel's user_dropped). Afterwards the queue works:
# a second burst is delivered whole.
source "$(dirname "$0")/../lib.sh"
require_root
N=4000

lab 8
"$NFQE" rules --queues 0:0 | ip netns exec "$LAB_RTR" iptables-restore --noflush
cat >"$T/nfqe.conf" <<CONF
[engine]
queues = 0:0
stats_json = $T/stats.json
[control]
socket = $T/ctl.sock
[queue]
rcvbuf = 65536
no_enobufs = no
fail_open = no
[test]
decide_delay_us = 300
CONF
start_nfqe nfqe "$T/nfqe.conf"
wait_for 10 queues_bound "$LAB_RTR" 0 0 || fail "queue not bound: $(cat "$T/nfqe.err")"
sink_count_init

start_sink sink --duration 120
base=$(sink_count)
run_gen gen --flows 32 --sport 9500-9507 --count $N --rate 40000
wait_for 30 kqueue_empty "$LAB_RTR" 0 || fail "queue never emptied"

# the overflow is over: a slow second burst must get through whole
kill -USR1 "$NFQE_PID"
wait_for 5 test -s "$T/stats.json" || fail "no stats"
seen1=$(jget "$T/stats.json" .total.accept)
wait_for 20 sink_count_ge $((base + seen1)) || fail "accepted packets did not arrive"
run_gen gen2 --flows 8 --sport 9600-9607 --count 200 --rate 1000
wait_for 30 kqueue_empty "$LAB_RTR" 0 || fail "queue never emptied after the second burst"
stop_pid "$NFQE_PID"; [ "$STOP_RC" = 0 ] || fail "nfqe exit status $STOP_RC"
S=$T/stats.json
accepted=$(jget "$S" .total.accept)
wait_for 20 sink_count_ge $((base + accepted)) || fail "second burst lost"
stop_pid "$SINK_PID"

enobufs=$(jget "$S" .total.enobufs)
udropped=$(jget "$S" .total.kernel.user_dropped)
qdropped=$(jget "$S" .total.kernel.queue_dropped)
got=$(jget "$T/sink.json" .received)
[ "$enobufs" -gt 0 ] || fail "no ENOBUFS counted"
[ "$udropped" -gt 0 ] || fail "the socket never overflowed"
[ $((got + udropped + qdropped)) = $((N + 200)) ] ||
	fail "delivered $got + user_dropped $udropped + queue_dropped $qdropped != $((N + 200))"
[ $((accepted - seen1)) = 200 ] || fail "second burst: $((accepted - seen1)) of 200 verdicted"
ok "ENOBUFS reported $enobufs times; $udropped lost and counted; the second burst got through whole"
