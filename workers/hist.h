/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * hist.h - a log-linear latency histogram (16 buckets per power of two,
 * so any quantile is within 6.25% of the true value).
 *
 * One thread writes (hist_add), any thread may read a copy (hist_snapshot)
 * at any time: every field is read and written with relaxed atomics, so a
 * snapshot is a consistent-enough view for monitoring, never torn words.
 */
#ifndef NFQE_HIST_H
#define NFQE_HIST_H

#include <stdint.h>

#define HIST_SUB_BITS	4
#define HIST_SUB	(1u << HIST_SUB_BITS)
#define HIST_MAX_EXP	40			/* values up to ~2^41 ns (36 min) */
#define HIST_BUCKETS	((HIST_MAX_EXP - HIST_SUB_BITS + 2) * HIST_SUB)

struct hist {
	uint64_t	count;
	uint64_t	sum;
	uint64_t	max;
	uint64_t	bucket[HIST_BUCKETS];
};

/* Bucket index of @v. */
unsigned hist_index(uint64_t v);
/* Smallest value that falls in bucket @idx. */
uint64_t hist_bucket_low(unsigned idx);
/* Largest value that falls in bucket @idx (UINT64_MAX for the last). */
uint64_t hist_bucket_high(unsigned idx);

/* Add @n samples of value @v. Single writer. */
void hist_add(struct hist *h, uint64_t v, uint64_t n);
/* Copy @h into @ret with relaxed loads. Any thread. */
void hist_snapshot(const struct hist *h, struct hist *ret);
/* Add snapshot @src into @dst (both private copies). */
void hist_merge(struct hist *dst, const struct hist *src);
/* Value at quantile @q (0..1) of a snapshot, 0 when empty; never above max. */
uint64_t hist_quantile(const struct hist *h, double q);
/* Samples in the buckets whose upper bound is <= @v, in a snapshot (for
 * Prometheus le= buckets; the overflow bucket is left to +Inf = count). */
uint64_t hist_count_le(const struct hist *h, uint64_t v);

#endif
