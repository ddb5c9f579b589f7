# SPDX-License-Identifier: GPL-2.0-or-later
# Quantiles of what an nfqe hold histogram gained between two reports.
#
# nfqe's stats JSON has, in every "hold_ns" object, "buckets": the
# non-empty buckets of its log-linear histogram as [low, high, count] (ns).
# nfqe-bench keeps the report of the start of a run's measured window and
# the one nfqe writes at exit; the difference is the window's packets, the
# warm-up's left out. Same rule as nfqe's own hist_quantile(): the bucket
# that holds rank floor(q * n), reported as its upper bound (never
# understated), capped at the end report's max.

# window_hold(FROM; TO): FROM and TO are "hold_ns" objects (FROM may
# be null: nothing before). {p50, p99, p999, count} in ns; the quantiles
# are null when the window holds no sample.
def window_hold($from; $to):
	(reduce (($from.buckets // [])[]) as $b ({}; .[$b[0] | tostring] = $b[2])) as $before
	| [($to.buckets // [])[] | [.[1], .[2] - ($before[.[0] | tostring] // 0)]
	   | select(.[1] > 0)] | sort_by(.[0]) as $d
	| ($d | map(.[1]) | add // 0) as $n
	| def q($q):
		if $n == 0 then null
		else ((($q * $n) | floor) as $r | if $r >= $n then $n - 1 else $r end) as $rank
		| first(foreach $d[] as $b (0; . + $b[1]; if . > $rank then $b[0] else empty end))
		| if . > $to.max then $to.max else . end
		end;
	  {p50: q(0.50), p99: q(0.99), p999: q(0.999), count: $n};
