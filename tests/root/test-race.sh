#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The seed's conntrack race, end to end: `nfqe-bench race` sends 500 new
# flows of K = 2 and K = 5 back-to-back packets through a MASQUERADE router
# for UDP, UDP under --random-fully, duplicate TCP SYNs and ICMP echo
# requests with one id per flow. Asserted:
#  - nfqe in raw mode on 2 queues (raw PREROUTING, address hash): no
#    conntrack clash at all (clashres, insert_failed, drop, early_drop all
#    0), nothing lost, no flow split over two source ports, nothing
#    reordered, both queues used;
#  - the naive reader in filter FORWARD, in the same run, shows the race
#    (clashres for UDP, insert_failed for TCP and ICMP), so the test can
#    see what it asserts is absent.
# nfqe in conntrack mode is measured too and printed, not asserted: it can
# only shorten the hold, not remove the race.
source "$(dirname "$0")/../lib.sh"
require_root
NAIVE=$NFQE_BUILD_ROOT/bench/nfqe-naive
BENCH=$NFQE_SOURCE_ROOT/bench/nfqe-bench
FLOWS=500
[ -x "$NFQE" ] || skip "nfqe not built"
[ -x "$NAIVE" ] || skip "nfqe-naive not built"

# MASQUERADE needs the nat table: try it in a namespace of our own
chk=nqrc$$
ip netns add "$chk" || skip "cannot create a network namespace"
if ! ip netns exec "$chk" iptables -t nat -A POSTROUTING -j MASQUERADE --random-fully \
	2>"$T/nat.err"; then
	ip netns del "$chk"
	skip "no MASQUERADE --random-fully: $(cat "$T/nat.err")"
fi
ip netns del "$chk"

bash "$BENCH" race --build "$NFQE_BUILD_ROOT" --flows $FLOWS --k 2,5 \
	--protos udp,udp-random-fully,tcp-syn,icmp-echo --readers naive,nfqe-ct,nfqe-raw \
	--json "$T/race.json" >"$T/race.out" 2>"$T/race.err" ||
	fail "nfqe-bench race: $(tail -5 "$T/race.err")"
cat "$T/race.out"
J=$T/race.json

# run PROTO K READER: that run's JSON object (fails when it is missing)
run() {
	jq -ec --arg p "$1" --argjson k "$2" --arg r "$3" \
		'.runs[] | select(.proto == $p and .k == $k and .reader == $r)' "$J" ||
		fail "no run for $1 K=$2 $3"
}

for p in udp udp-random-fully tcp-syn icmp-echo; do
	for k in 2 5; do
		# every run: the whole load was sent and the capture missed nothing
		for r in naive nfqe-ct nfqe-raw; do
			run "$p" "$k" "$r" | jq -e --argjson n $((FLOWS * k)) \
				'.sent == $n and .failed == 0 and .capture_drops == 0 and
				 .foreign == 0' >/dev/null ||
				fail "$p K=$k $r: bad run: $(run "$p" "$k" "$r")"
		done

		raw=$(run "$p" "$k" nfqe-raw)
		jq -e --argjson flows $FLOWS '
			.clashres == 0 and .insert_failed == 0 and .drop == 0 and
			.early_drop == 0 and .lost == 0 and .split == 0 and
			.reordered == 0 and .gaps == 0 and .flows_seen == $flows and
			.queue_dropped == 0 and .user_dropped == 0 and
			.reader_stats.drop == 0 and
			(.reader_stats.queue_packets | length == 2 and all(. > 0))' \
			<<<"$raw" >/dev/null ||
			fail "$p K=$k nfqe-raw is not race-free: $raw"
		ok "$p K=$k nfqe-raw: $(jq -r '"\(.delivered)/\(.sent) delivered, clashres \(.clashres), insert_failed \(.insert_failed), split \(.split), reordered \(.reordered), queues \(.reader_stats.queue_packets | map(tostring) | join("/"))"' <<<"$raw")"

		naive=$(run "$p" "$k" naive)
		case $p in
		udp) want='.clashres > 0' ;;
		udp-random-fully) want='.clashres > 0 or .insert_failed > 0' ;;
		*) want='.insert_failed > 0 and .lost > 0' ;;
		esac
		jq -e "$want" <<<"$naive" >/dev/null ||
			fail "$p K=$k: the naive reader shows no race ($want): $naive"
		ok "$p K=$k naive shows the race: $(jq -r '"clashres \(.clashres), insert_failed \(.insert_failed), lost \(.lost), split \(.split)"' <<<"$naive")"

		# conntrack mode cannot avoid the race, it measures it:
		# ct_race_held sees some of it and never more than the kernel
		# counted (a lower bound)
		ct=$(run "$p" "$k" nfqe-ct)
		jq -e '.reader_stats.ct_race_held > 0 and
		       .reader_stats.ct_race_held <= .clashres + .insert_failed' \
			<<<"$ct" >/dev/null ||
			fail "$p K=$k nfqe-ct: ct_race_held is not a lower bound of the race: $ct"
		ok "$p K=$k nfqe-ct: ct_race_held $(jq -r '"\(.reader_stats.ct_race_held) of clashres \(.clashres) + insert_failed \(.insert_failed)"' <<<"$ct")"
	done
done
