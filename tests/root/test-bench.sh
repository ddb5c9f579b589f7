#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# nfqe-bench throughput, end to end, as a smoke test of the driver (the
# figures themselves are a benchmark's business, not a test's): a short
# run of the split layout with the ceiling, nfqe on 1 and 2 queues and
# raw-mode offload (and its bypass rules alone, ceiling-ipset). Asserted,
# from its JSON:
#  - the layout it says it used (RPS off, sink and readers on CPU 0), and
#    the generator "auto" chose (pktgen when the kernel has it);
#  - every lost packet is accounted for (unaccounted == 0 in every run);
#  - nfqe is fail-closed: the sink never got more than nfqe verdicted;
#  - nfqe-2q used both queues and reports each worker's CPU per packet;
#  - offload-raw: the warmed-up flows bypass the queue (nfqe sees under
#    1 % of what the sink gets in the measured runs);
#  - hold time per run: samples of the run's own packets only (not the
#    offload warm-up's), with quantiles exactly when there are samples;
#  - the ratios and every target line are there, met or not;
#  - then a short shared-layout run (RPS to CPU 0, sink unpinned): the
#    forwarding CPU's busy share in every run, the CPU-projected targets,
#    no unaccounted loss, and nfqe-2q's fanout filling queue 0 only.
source "$(dirname "$0")/../lib.sh"
require_root
BENCH=$NFQE_SOURCE_ROOT/bench/nfqe-bench
[ -x "$NFQE" ] || skip "nfqe not built"
command -v ipset >/dev/null || skip "ipset not installed (offload-raw)"
[ "$(nproc)" -ge 2 ] || skip "needs 2 CPUs (generator and readers apart)"

bash "$BENCH" throughput --build "$NFQE_BUILD_ROOT" --reps 1 --search-steps 3 \
	--search-duration 0.5 --duration 0.5 --rates 50% \
	--readers ceiling,ceiling-ipset,nfqe-1q,nfqe-2q,offload-raw \
	--json "$T/bench.json" >"$T/bench.out" 2>"$T/bench.err" ||
	fail "nfqe-bench throughput: $(tail -5 "$T/bench.err")"
cat "$T/bench.out"
J=$T/bench.json

jq -e '.meta.layout == "split" and .meta.rps_mask == "0" and
	.meta.sink_cpu == "0" and .meta.reader_cpu == "0" and .meta.generator_cpu == 1' \
	"$J" >/dev/null || fail "layout: $(jq -c .meta "$J")"
ok "split layout: RPS off, generator on CPU 1, readers and sink on CPU 0"
# --generator auto: pktgen when the kernel has it (and its module loads)
jq -e '.meta.generator_choice == "auto" and
	.meta.generator == (if .meta.pktgen and (.meta.generator_why |
		test("did not load") | not) then "pktgen" else "nfqe-gen" end)' \
	"$J" >/dev/null || fail "generator: $(jq -c .meta "$J")"
ok "generator: $(jq -r '"\(.meta.generator) (\(.meta.generator_why))"' "$J")"

# every reader ran its flood, its search step and (but the ceiling) 50 %
for r in ceiling ceiling-ipset nfqe-1q nfqe-2q offload-raw; do
	n=$(jq --arg r "$r" '[.runs[] | select(.reader == $r)] | length' "$J")
	[ "$n" -ge 2 ] || fail "$r: $n runs"
done
jq -e '(.runs | length) as $n | [.runs[] | select(.sent > 0)] | length == $n' "$J" >/dev/null ||
	fail "a run sent nothing"

bad=$(jq -c '[.runs[] | select(.unaccounted != 0) |
	{reader, rate, sent, received, lost, unaccounted}]' "$J")
[ "$bad" = "[]" ] || fail "unaccounted loss: $bad"
ok "every lost packet accounted for ($(jq '[.runs[].lost] | add' "$J") lost in $(jq '.runs | length' "$J") runs)"

bad=$(jq -c '[.runs[] | select(.reader | startswith("nfqe")) |
	select(.received > .reader_packets) | {reader, rate, received, reader_packets}]' "$J")
[ "$bad" = "[]" ] || fail "the sink got packets nfqe never verdicted: $bad"
ok "nfqe fail-closed: delivered <= verdicted in every run"

bad=$(jq -c '[.runs[] | select(.reader == "nfqe-2q") |
	select((.split | length) != 2 or any(.split[]; . == 0) or
	       (.queue_cpu_us_per_pkt | length) != 2 or
	       any(.queue_cpu_us_per_pkt[]; . == null or . <= 0)) |
	{rate, split, queue_cpu_us_per_pkt}]' "$J")
[ "$bad" = "[]" ] || fail "nfqe-2q: a queue unused or without CPU figures: $bad"
ok "nfqe-2q: $(jq -r '[.runs[] | select(.reader == "nfqe-2q")][0] |
	"split \(.split | map(tostring) | join("/")), CPU/pkt per queue \(.queue_cpu_us_per_pkt |
	map(. * 100 | round / 100 | tostring) | join("/")) us"' "$J")"

bad=$(jq -c '[.runs[] | select(.reader == "offload-raw") |
	select(.received == 0 or .reader_packets * 100 >= .received) |
	{rate, received, reader_packets}]' "$J")
[ "$bad" = "[]" ] || fail "offload-raw: the flows did not bypass the queue: $bad"
ok "offload-raw: $(jq -r '[.runs[] | select(.reader == "offload-raw")][0] |
	"nfqe saw \(.reader_packets) of \(.received) packets"' "$J")"

# nfqe's counts are the window's: each packet the kernel queued in the
# run was verdicted by nfqe in it, or lost to a full socket (user_dropped)
bad=$(jq -c '[.runs[] | select(.reader | test("^(nfqe|offload)")) |
	select(.reader_packets + .user_dropped != .queued) |
	{reader, rate, queued, reader_packets, user_dropped}]' "$J")
[ "$bad" = "[]" ] || fail "nfqe's packets in a run are not what the kernel queued: $bad"
ok "nfqe's packets per run == the kernel's id sequence delta - user_dropped"

# hold time of the run's own packets (the histogram's gain over the
# window, bench/hist.jq): never more samples than the run queued (the
# offload warm-up's ~1000 packets left out), quantiles when there are any
bad=$(jq -c '[.runs[] | select(.reader | test("^(nfqe|offload)")) |
	select(.hold_samples == null or .hold_samples > .reader_packets or
	       (.reader_packets > 0 and .hold_samples == 0) or
	       ((.hold_samples > 0) != (.hold_p99_us != null))) |
	{reader, rate, reader_packets, hold_samples, hold_p99_us}]' "$J")
[ "$bad" = "[]" ] || fail "hold samples do not match the run's packets: $bad"
ok "hold quantiles of each run's own packets: $(jq -r '[.runs[] | select(.reader == "offload-raw")][0] |
	"offload-raw \(.hold_samples) samples for \(.reader_packets) queued"' "$J")"

jq -e '.ratios.nfqe_1q_over_ceiling > 0 and .ratios.offload_raw_over_ceiling > 0 and
	.ratios.offload_raw_over_ceiling_ipset > 0 and .ratios.ceiling_ipset_over_ceiling > 0 and
	(.ratios.targets | length) == 7 and
	all(.ratios.targets[]; .met == true or .met == false or .value == null)' \
	"$J" >/dev/null || fail "ratios: $(jq -c .ratios "$J")"
ok "ratios: nfqe-1q/ceiling $(jq '.ratios.nfqe_1q_over_ceiling * 100 | round / 100' "$J"), offload-raw/ceiling $(jq '.ratios.offload_raw_over_ceiling * 100 | round / 100' "$J")"

# The shared layout: RPS moves the router's forwarding to the readers' CPU,
# the sink is left unpinned, the forwarding CPU's busy share is measured,
# the CPU-projected ratios join the targets, and nfqe-2q uses fanout (all
# packets in queue 0, forwarded by CPU 0).
bash "$BENCH" throughput --build "$NFQE_BUILD_ROOT" --layout shared --reps 1 \
	--search-steps 3 --search-duration 0.5 --duration 0.5 --rates 50% \
	--readers ceiling,nfqe-1q,nfqe-2q \
	--json "$T/shared.json" >"$T/shared.out" 2>"$T/shared.err" ||
	fail "nfqe-bench throughput --layout shared: $(tail -5 "$T/shared.err")"
S=$T/shared.json
jq -e '.meta.layout == "shared" and .meta.rps_mask == "1" and .meta.sink_cpu == "none" and
	([.runs[] | select(.fwd_cpu_busy_pct == null)] | length) == 0 and
	([.runs[] | select(.unaccounted != 0)] | length) == 0 and
	(.ratios.targets | length) == 9 and .ratios.fwd_cpu_capacity_pps.ceiling > 0' \
	"$S" >/dev/null || fail "shared layout: $(jq -c '{meta, ratios}' "$S")"
bad=$(jq -c '[.runs[] | select(.reader == "nfqe-2q") |
	select((.split | length) != 2 or .split[0] == 0 or .split[1] != 0) | {rate, split}]' "$S")
[ "$bad" = "[]" ] || fail "shared layout: nfqe-2q with fanout should fill queue 0 only: $bad"
ok "shared layout: RPS on CPU 0, forwarding CPU measured, nfqe-2q all in queue 0 (fanout)"
