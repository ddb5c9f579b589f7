/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * metrics.h - the report in the Prometheus text exposition format 0.0.4,
 * for `nfqectl metrics` and for node_exporter's textfile collector.
 *
 * Every family carries HELP and TYPE lines and all its samples together.
 * Counters are per queue (label queue="N"); sum them in PromQL. The hold
 * time is a real histogram (nfqe_hold_seconds) with fixed buckets from
 * 1 us to 10 ms, cumulative, +Inf equal to _count. The offload families
 * (with offload) are process-wide; the inspector families (with
 * inspectors) carry the label inspector="NAME".
 *
 * Nothing here logs or keeps state; any thread may call these functions
 * with a report it owns.
 */
#ifndef NFQE_METRICS_H
#define NFQE_METRICS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "engine.h"

/* Conntrack's per-CPU statistics, summed over CPUs. */


/* Writes more families after nfqe's own (e.g. the flow table's gauges).
 * It must write complete families with HELP and TYPE lines. */
typedef void (*metrics_hook_fn)(void *ctx, FILE *out);

/* What the exposition carries besides the report; every field may be 0. */
struct metrics_extra {
	const struct ct_stats	*ct;		/* NULL: no conntrack */
	uint64_t		control_refused; /* control peers refused */
	metrics_hook_fn		hook;
	void			*hook_ctx;
};

/* The hold histogram's upper bucket bounds in ns, ascending (+Inf apart). */
extern const uint64_t metrics_hold_le_ns[];
extern const unsigned metrics_hold_le_count;

/*
 * metrics_write - write the exposition of @r to @f. @x may be NULL.
 * Returns 0 or -EIO when @f reports an error.
 */
int metrics_write(FILE *f, const struct report *r,
		  const struct metrics_extra *x);

/*
 * metrics_write_textfile - write the exposition, without the process_*
 * families (node_exporter exports its own), to @path atomically: a
 * temp file "@path.tmp.PID" in the same directory (node_exporter reads
 * only *.prom, so it never sees it), then rename(). 0 or -errno; on error
 * @path is left as it was.
 */
int metrics_write_textfile(const char *path, const struct report *r,
			   const struct metrics_extra *x);

#endif
